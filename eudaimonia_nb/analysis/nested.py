"""The mixed model on UNREDUCED verdicts, with a response-level random effect nested in the prompt.

    logit P(verdict) = source + requirement + model + u[prompt] + v[prompt:model:epoch]
    u ~ N(0, sd_prompt^2),  v ~ N(0, sd_response^2)

which in lme4 is ``glmer(cbind(k, n - k) ~ source + requirement + model + (1 | prompt_id) +
(1 | prompt_id:model:epoch), family = binomial, nAGQ = 0)``: every judge call is a Bernoulli
draw given the response, so judge repeats enter as binomial counts per (response,
requirement), and a response's requirements share its v. The fixed effects are conditional on
both the prompt and the response (odds ratios for the same prompt and the same kind of answer).

Fitted as lme4 does with ``nAGQ = 0``: for given SDs, penalised IRLS finds the joint mode of the
fixed effects and both sets of random effects (the nesting makes the random-effects block an
arrowhead: responses are eliminated first, each a scalar, then prompts, each a scalar, leaving a
fixed-effects x fixed-effects system); the SDs minimise the Laplace deviance of that mode
(Nelder-Mead on log SD). Fixed-effect SEs come from the joint curvature at the optimum, SD
intervals from the curvature of the deviance in log SD (Wald, on the log scale). This is its own
fit, beside ``mixed.fit_mixed`` (which fits one verdict per check); ``tests/test_analysis_nested.py``
checks it against lme4.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize
from scipy.special import expit

from ..benchmark.dataset import SOURCES
from ..benchmark.design_code import REQUIREMENT_KEYS
from .frames import is_simulated
from .rates import Z95, log_scale_interval, two_sided_p

FORMULA = ("cbind(k, n - k) ~ source + requirement + model + (1 | prompt_id) + (1 | prompt_id:model:epoch)")
_LOG_SD_BOUNDS = (-6.0, 2.5)


@dataclass
class NestedResult:
    """A fit of the nested model on unreduced verdicts."""

    params: pd.DataFrame
    """Fixed effects (patsy's names): ``estimate``, ``std_error``, ``z``, ``p_value``, ``ci_low``,
    ``ci_high``, ``odds_ratio``."""
    variance_components: pd.DataFrame
    """``name`` (``prompt_id``, ``prompt_id:model:epoch``), ``sd``, ``sd_ci_low``, ``sd_ci_high``."""
    deviance: float
    """The Laplace deviance at the optimum (lme4's nAGQ = 0 criterion)."""
    n_verdicts: int
    """Judge calls with a verdict."""
    n_responses: int
    """Responses (prompt x model x epoch)."""
    n_prompts: int
    """Prompts."""
    converged: bool
    """Whether the SD search and the last IRLS converged."""
    formula: str = FORMULA
    """The model, in lme4's notation."""
    simulated: bool = False
    """Fitted on simulated data."""
    notes: list[str] = field(default_factory=list)
    """What to read with care."""


class _Data:
    def __init__(self, frame: pd.DataFrame):
        judged = frame.loc[frame["violation"].notna()]
        if judged.empty:
            raise ValueError("no judged verdicts to fit")
        epoch = judged["epoch"] if "epoch" in judged.columns else pd.Series(1, index=judged.index)
        keys = ["prompt_id", "model", "requirement"]
        cells = judged.assign(_epoch=epoch).groupby([*keys, "_epoch"], sort=True, observed=True).agg(
            k=("violation", "sum"), n=("violation", "size"), source=("source", "first")).reset_index()
        self.k, self.n = cells["k"].to_numpy(dtype=float), cells["n"].to_numpy(dtype=float)
        self.prompt, prompts = pd.factorize(cells["prompt_id"])
        self.response, _ = pd.factorize(pd.MultiIndex.from_arrays([cells["prompt_id"], cells["model"], cells["_epoch"]]))
        self.n_prompts, self.n_responses = len(prompts), int(self.response.max()) + 1
        self.response_prompt = np.zeros(self.n_responses, dtype=int)
        self.response_prompt[self.response] = self.prompt
        columns, names = [np.ones(len(cells))], ["Intercept"]
        sources = [s for s in SOURCES if s in set(cells["source"])]
        if len(sources) < 2:
            raise ValueError("both real and modified prompts are needed to estimate the source effect")
        columns.append((cells["source"] == "modified").to_numpy(dtype=float))
        names.append("source[T.modified]")
        for key in [k for k in REQUIREMENT_KEYS if k in set(cells["requirement"])][1:]:
            columns.append((cells["requirement"] == key).to_numpy(dtype=float))
            names.append(f"requirement[T.{key}]")
        for model in sorted(set(cells["model"]))[1:]:
            columns.append((cells["model"] == model).to_numpy(dtype=float))
            names.append(f"model[T.{model}]")
        self.X, self.names = np.column_stack(columns), names
        self.n_verdicts = int(self.n.sum())

    def by_response(self, values: np.ndarray) -> np.ndarray:
        return np.bincount(self.response, weights=values, minlength=self.n_responses)

    def by_prompt(self, values: np.ndarray) -> np.ndarray:
        return np.bincount(self.prompt, weights=values, minlength=self.n_prompts)


@dataclass
class _Mode:
    beta: np.ndarray
    u: np.ndarray
    v: np.ndarray
    deviance: float
    cov_beta: np.ndarray
    converged: bool


def _mode(data: _Data, sd_u: float, sd_v: float, start: _Mode | None) -> _Mode:
    """PIRLS for the joint mode of (beta, u, v) at given SDs, and the Laplace deviance there."""
    X, k, n = data.X, data.k, data.n
    p = X.shape[1]
    beta = start.beta.copy() if start is not None else np.zeros(p)
    u = start.u.copy() if start is not None else np.zeros(data.n_prompts)
    v = start.v.copy() if start is not None else np.zeros(data.n_responses)
    iu, iv = 1.0 / sd_u**2, 1.0 / sd_v**2

    def penalised(beta: np.ndarray, u: np.ndarray, v: np.ndarray) -> float:
        eta = X @ beta + u[data.prompt] + v[data.response]
        return float(np.sum(k * eta - n * np.logaddexp(0.0, eta))) - 0.5 * iu * float(u @ u) - 0.5 * iv * float(v @ v)

    value = penalised(beta, u, v)
    converged = False
    for _ in range(100):
        eta = X @ beta + u[data.prompt] + v[data.response]
        mu = expit(eta)
        w = n * mu * (1 - mu) + 1e-12
        r = k - n * mu
        g_b, g_u, g_v = X.T @ r, data.by_prompt(r) - iu * u, data.by_response(r) - iv * v
        # Arrowhead Hessian: eliminate each response (scalar d_v), then each prompt (scalar).
        d_v = data.by_response(w) + iv
        Xw = X * w[:, None]
        B_v = np.zeros((data.n_responses, p))
        np.add.at(B_v, data.response, Xw)
        c_v = d_v - iv  # u-v coupling of each response: sum of its weights
        d_u = data.by_prompt(w) + iu - np.bincount(data.response_prompt, weights=c_v**2 / d_v, minlength=data.n_prompts)
        B_u = np.zeros((data.n_prompts, p))
        np.add.at(B_u, data.prompt, Xw)
        B_u -= _sum_rows(B_v * (c_v / d_v)[:, None], data.response_prompt, data.n_prompts)
        A = X.T @ Xw - (B_v / d_v[:, None]).T @ B_v - (B_u / d_u[:, None]).T @ B_u
        h_u = g_u - np.bincount(data.response_prompt, weights=c_v * g_v / d_v, minlength=data.n_prompts)
        h_b = g_b - B_v.T @ (g_v / d_v) - B_u.T @ (h_u / d_u)
        step_b = np.linalg.solve(A, h_b)
        step_u = (h_u - B_u @ step_b) / d_u
        step_v = (g_v - B_v @ step_b - c_v * step_u[data.response_prompt]) / d_v
        scale = 1.0
        for _ in range(30):
            new = (beta + scale * step_b, u + scale * step_u, v + scale * step_v)
            new_value = penalised(*new)
            if new_value >= value - 1e-10 * abs(value):
                break
            scale /= 2
        beta, u, v = new
        change, value = new_value - value, new_value
        if scale * max(np.max(np.abs(step_b)), np.max(np.abs(step_u)), np.max(np.abs(step_v))) < 1e-8 or abs(change) < 1e-10:
            converged = True
            break
    # Laplace deviance (nAGQ = 0): -2 (penalised log-likelihood) + log det of the random-effects
    # block in spherical form, the arrowhead's determinant: prod over responses (1 + sd_v^2 d_j),
    # times per prompt 1 + sd_u^2 sum_j d_j / (1 + sd_v^2 d_j).
    eta = X @ beta + u[data.prompt] + v[data.response]
    w = n * expit(eta) * expit(-eta)
    d_j = data.by_response(w)
    logdet = float(np.sum(np.log1p(sd_v**2 * d_j)))
    logdet += float(np.sum(np.log1p(sd_u**2 * np.bincount(data.response_prompt, weights=d_j / (1 + sd_v**2 * d_j),
                                                             minlength=data.n_prompts))))
    deviance = -2 * value + logdet
    return _Mode(beta, u, v, deviance, np.linalg.inv(A), converged)


def _sum_rows(values: np.ndarray, index: np.ndarray, size: int) -> np.ndarray:
    out = np.zeros((size, values.shape[1]))
    np.add.at(out, index, values)
    return out


def fit_nested_mixed(frame: pd.DataFrame) -> NestedResult:
    """Fit the model of the module docstring to the unreduced judgments (``epoch`` column; judge
    repeats are pooled per response and requirement). Needs both sources."""
    data = _Data(frame)
    cache: dict[tuple[float, float], _Mode] = {}
    last: list[_Mode | None] = [None]

    def deviance(log_sd: np.ndarray) -> float:
        log_sd = np.clip(log_sd, *_LOG_SD_BOUNDS)
        key = (round(float(log_sd[0]), 10), round(float(log_sd[1]), 10))
        if key not in cache:
            cache[key] = _mode(data, math.exp(log_sd[0]), math.exp(log_sd[1]), last[0])
            last[0] = cache[key]
        return cache[key].deviance

    search = optimize.minimize(deviance, np.array([0.0, -0.5]), method="Nelder-Mead",
                               options={"xatol": 1e-5, "fatol": 1e-7, "maxiter": 400})
    best = np.clip(search.x, *_LOG_SD_BOUNDS)
    mode = _mode(data, math.exp(best[0]), math.exp(best[1]), last[0])
    hessian = _hessian_2d(deviance, best)
    notes = []
    try:
        cov = 2 * np.linalg.inv(hessian)  # deviance = -2 log L
        log_se = np.sqrt(np.clip(np.diag(cov), 0, None))
    except np.linalg.LinAlgError:
        log_se = np.array([math.nan, math.nan])
    at_bound = [i for i in (0, 1) if best[i] <= _LOG_SD_BOUNDS[0] + 1e-3]
    if at_bound:
        notes.append("a random-effect SD is at 0 (its interval is not informative)")
    se = np.sqrt(np.diag(mode.cov_beta))
    z = mode.beta / se
    params = pd.DataFrame({"estimate": mode.beta, "std_error": se, "z": z, "p_value": two_sided_p(z),
                           "ci_low": mode.beta - Z95 * se, "ci_high": mode.beta + Z95 * se,
                           "odds_ratio": np.exp(mode.beta)}, index=pd.Index(data.names, name="term"))
    components = []
    for name, log_sd, s in (("prompt_id", best[0], log_se[0]), ("prompt_id:model:epoch", best[1], log_se[1])):
        low, high = log_scale_interval(math.exp(log_sd), float(s))
        components.append({"name": name, "sd": math.exp(log_sd), "sd_ci_low": low, "sd_ci_high": high})
    return NestedResult(params=params, variance_components=pd.DataFrame(components), deviance=mode.deviance,
                        n_verdicts=data.n_verdicts, n_responses=data.n_responses, n_prompts=data.n_prompts,
                        converged=bool(search.success) and mode.converged, simulated=is_simulated(frame), notes=notes)


def _hessian_2d(f, x: np.ndarray, step: float = 1e-3) -> np.ndarray:
    """Central-difference Hessian of a function of two variables."""
    out = np.zeros((2, 2))
    f0 = f(x)
    for i in range(2):
        e_i = np.eye(2)[i] * step
        out[i, i] = (f(x + e_i) - 2 * f0 + f(x - e_i)) / step**2
    e0, e1 = np.eye(2)[0] * step, np.eye(2)[1] * step
    out[0, 1] = out[1, 0] = (f(x + e0 + e1) - f(x + e0 - e1) - f(x - e0 + e1) + f(x - e0 - e1)) / (4 * step**2)
    return out
