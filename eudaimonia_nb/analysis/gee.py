"""Population-averaged cross-check: GEE logistic regression clustered by prompt.

Binomial family, exchangeable working correlation within prompt, robust (sandwich) standard
errors, the same fixed-effect terms as ``fit_mixed``. Its source effect is a marginal
log-odds ratio, averaged over prompts; the mixed model's is conditional on the prompt, and
is larger in size by about sqrt(1 + 0.346 sd^2). Different sizes are therefore expected;
``compare`` reports disagreement only in sign or significance.

Estimation is statsmodels' ``GEE.fit`` algorithm written out on the mixed model's blocked design
(``solve_exchangeable``): the same numbers as statsmodels (to 1e-12 on the 22-model benchmark,
``tests/test_analysis_many_models.py``) at a cost linear in rows and models.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .cache import FitCache
from .frames import (check_analysis_frame, frame_key, is_simulated, judged, model_data, reference_levels,
                     set_aside_separated, unjudged_models)
from .laplace import Problem, logistic_parts
from .mixed import SOURCE_TERM, MixedResult, blocked_design, coefficient_table, read_source_effect

log = logging.getLogger(__name__)

_cache: FitCache["GEEResult"] = FitCache(32, disk="gee")

ASSUMPTIONS = (
    "GEE: logit of the population-averaged violation probability is linear in source, "
    "requirement and model{inter}; checks on the same prompt are correlated (exchangeable "
    "working correlation), prompts are independent. Robust sandwich standard errors are valid "
    "even if the working correlation is wrong, given enough prompts (hundreds here); Wald 95% "
    "intervals. The source effect is marginal (averaged over prompt difficulty)."
)


@dataclass(frozen=True)
class GEEResult:
    """A fitted GEE logistic regression."""

    params: pd.DataFrame
    """Same layout as ``MixedResult.params`` (robust standard errors)."""
    working_correlation: float
    """Estimated exchangeable within-prompt correlation."""
    converged: bool
    """Whether the GEE iterations converged."""
    n_obs: int
    """Judged rows used."""
    n_groups: int
    """Prompts (clusters)."""
    method: str
    """Estimation method, in words."""
    assumptions: str
    """What the model assumes."""
    formula: str
    """The fitted formula."""
    simulated: bool
    """True when fitted to simulated judgments."""
    references: dict[str, str]
    """Reference level of each factor (as ``MixedResult.references``)."""
    message: str
    """Model warnings raised during the fit (iteration limit, singular updates, overflow), or
    a note that there were none."""
    failure: str = ""
    """Why the fit failed ("" when it did not): no estimate, or non-finite coefficients. A
    failed GEE is no evidence either way; ``reading`` and ``compare`` say it failed."""

    @property
    def source_effect(self) -> pd.Series:
        """The ``source[T.modified]`` row."""
        return self.params.loc[SOURCE_TERM]

    def reading(self) -> str:
        """A plain-language sentence about the population-averaged source effect."""
        if self.failure:
            prefix = "[SIMULATED DATA] " if self.simulated else ""
            return f"{prefix}GEE failed: {self.failure}. It says nothing about the source effect for this selection."
        return read_source_effect(self.source_effect, "on average over prompts, for the same requirement "
                                  "and model", self.simulated, formula=self.formula, references=self.references,
                                  converged=self.converged)


def fit_gee(frame: pd.DataFrame, *, interaction: bool = False, maxiter: int = 100,
            use_cache: bool = True) -> GEEResult:
    """GEE of ``violation ~ source + requirement + model`` clustered by prompt (cached).

    ``maxiter`` caps the GEE iterations; a fit that stops at the cap is returned with
    ``converged=False`` and a logged warning, never silently. A fit whose iterations diverge
    (coefficients not finite) is returned with ``failure`` saying why (and NaN params), so
    callers report a failure instead of reading NaN as an estimate.
    """
    check_analysis_frame(frame)
    key = frame_key(frame, "gee", interaction, maxiter)
    return _cache.get_or_fit(key, lambda: _fit(frame, interaction, maxiter), use_cache=use_cache)


def _fit(frame: pd.DataFrame, interaction: bool, maxiter: int) -> GEEResult:
    kept, separated = set_aside_separated(judged(frame))
    data, rhs = model_data(kept, interaction=interaction)
    X, names, blocks, block_names = blocked_design(data, rhs)
    names += block_names
    group, prompts = pd.factorize(data["prompt_id"])
    prob = Problem(data["violation"].to_numpy(float), X, group, len(prompts), blocks)
    fit = solve_exchangeable(prob, maxiter)
    notes = list(fit.notes)
    std_error = np.sqrt(np.diag(fit.cov)) if np.all(np.isfinite(fit.cov)) else np.full(len(names), np.nan)
    failure = ""
    if not (np.all(np.isfinite(fit.params)) and np.isfinite(std_error[names.index(SOURCE_TERM)])):
        detail = "; ".join(notes)
        failure = "the estimates are not finite (the iterations diverged" + (f": {detail}" if detail else "") + ")"
    estimate = fit.params if not failure else np.full(len(names), np.nan)
    std_error = std_error if not failure else np.full(len(names), np.nan)
    converged = bool(not failure and fit.converged)
    if not np.all(np.isfinite(std_error)) and not failure:
        notes.append("non-finite robust standard errors")
    if failure or not converged or notes:
        log.warning("GEE %s: %s", "failed" if failure else "did not converge" if not converged else "warnings",
                    failure or "; ".join(notes))
    params = coefficient_table(names, estimate, std_error)
    if separated:
        notes.append("separation, set aside as in the mixed model: " + "; ".join(separated))
    notes += unjudged_models(frame)
    return GEEResult(
        params=params, working_correlation=float(fit.alpha) if not failure else float("nan"), converged=converged,
        n_obs=len(data), n_groups=len(prompts),
        method="GEE, binomial/logit, exchangeable within prompt, robust (sandwich) standard errors",
        assumptions=ASSUMPTIONS.format(inter=" and source x model" if "source:model" in rhs else ""),
        formula=f"violation ~ {rhs}, clusters = prompt_id", simulated=is_simulated(frame),
        references=reference_levels(data, rhs),
        message="; ".join(notes) or f"converged within {maxiter} iterations, no warnings", failure=failure)


@dataclass(frozen=True)
class ExchangeableFit:
    """The result of ``solve_exchangeable``."""

    params: np.ndarray
    """Coefficients, in the problem's column order."""
    cov: np.ndarray
    """Robust (sandwich) covariance of ``params``."""
    alpha: float
    """Exchangeable working correlation at the last update."""
    converged: bool
    """Whether the score norm fell below the tolerance after at least one correlation update."""
    iterations: int
    """Scoring iterations used."""
    notes: tuple[str, ...]
    """What went wrong on the way (iteration limit, singular matrices, non-finite values)."""


def _glm_start(prob: Problem, maxiter: int = 100) -> np.ndarray:
    """The independence logistic fit (statsmodels' GEE starts from its GLM): Newton steps
    until the deviance settles to 1e-8 relative, as GLM's IRLS."""
    beta, deviance = np.zeros(prob.P), np.inf
    for _ in range(maxiter):
        mu, w, _ = logistic_parts(prob.xmul(beta))
        beta = beta + np.linalg.solve(prob.weighted_blocks(w)[0], prob.xtmul(prob.y - mu))
        eta = prob.xmul(beta)
        new = -2.0 * float(prob.y @ eta - np.maximum(eta, 0.0).sum() - np.log1p(np.exp(-np.abs(eta))).sum())
        if not np.isfinite(new) or abs(new - deviance) <= 1e-8 * (abs(new) + 0.1):
            break
        deviance = new
    return beta


def solve_exchangeable(prob: Problem, maxiter: int = 100, ctol: float = 1e-6) -> ExchangeableFit:
    """Logistic GEE with an exchangeable working correlation within each prompt and robust
    standard errors: statsmodels' ``GEE.fit`` algorithm (Fisher scoring from the GLM fit, the
    moment estimate of the correlation with ddof = coefficients, stop when the score norm is
    below ``ctol`` after at least one correlation update; pseudo-inverse where a matrix is
    singular), computed on the blocked design.

    With correlation a and c_i = a / (1 - a) / (1 + a (n_i - 1)) for a prompt of n_i rows, the
    inverse working covariance reduces every per-prompt product to sums: the bread is
    X'WX / (1 - a) - sum_i c_i b_i b_i' (b_i the prompt's sqrt(w)-weighted column sums) and the
    prompt's score U_i = X_i'(y_i - mu_i) / (1 - a) - c_i R_i b_i (R_i its summed Pearson
    residuals); the sandwich is bread^-1 (sum U_i U_i') bread^-1. statsmodels loops over the
    969 prompts with dense per-prompt blocks: at 110 models that took 130 s and 4.3 GB."""
    sizes = np.bincount(prob.group, minlength=prob.q).astype(float)
    n_pairs = float(np.sum(sizes * (sizes - 1.0) / 2.0))
    nobs, ddof = len(prob.y), prob.P
    notes: list[str] = []

    def inverse(matrix: np.ndarray, what: str) -> np.ndarray:
        try:
            return np.linalg.inv(matrix)
        except np.linalg.LinAlgError:
            notes.append(f"singular {what}: pseudo-inverse used")
            return np.linalg.pinv(matrix)

    def equations(beta: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
        mu, w, _ = logistic_parts(prob.xmul(beta))
        sd, resid = np.sqrt(w), prob.y - mu
        c = alpha / (1.0 - alpha) / (1.0 + alpha * (sizes - 1.0))
        b = prob.ztwx(sd)
        bread = prob.weighted_blocks(w)[0] / (1.0 - alpha) - b.T @ (c[:, None] * b)
        scores = prob.ztwx(resid) / (1.0 - alpha) - (c * prob.gsum(resid / sd))[:, None] * b
        return bread, scores

    def correlation(beta: np.ndarray) -> float:
        mu, w, _ = logistic_parts(prob.xmul(beta))
        pearson = (prob.y - mu) / np.sqrt(w)
        squares, sums = prob.gsum(pearson * pearson), prob.gsum(pearson)
        scale = squares.sum() / (nobs - ddof)
        return float(np.sum((sums**2 - squares) / 2.0) / scale / (n_pairs - ddof))

    with np.errstate(all="ignore"):  # divergence shows as non-finite values, reported below
        beta, alpha, norm, updates, iterations = _glm_start(prob), 0.0, np.inf, 0, 0
        for iterations in range(1, maxiter + 1):
            bread, scores = equations(beta, alpha)
            score = scores.sum(axis=0)
            try:
                step = np.linalg.solve(bread, score)
            except np.linalg.LinAlgError:
                notes.append("singular matrix in a GEE update: pseudo-inverse used")
                step = np.linalg.pinv(bread) @ score
            beta = beta + step
            norm = float(np.sqrt(np.sum(score**2)))
            if not np.all(np.isfinite(beta)):
                notes.append(f"non-finite estimates at iteration {iterations}")
                break
            if norm < ctol and updates > 0:
                break
            alpha = correlation(beta)
            updates += 1
        converged = bool(norm < ctol and np.all(np.isfinite(beta)))
        if not converged and np.all(np.isfinite(beta)):
            notes.append(f"Iteration limit reached prior to convergence (score norm {norm:.2g} after {iterations} "
                         "iterations)")
        bread, scores = equations(beta, alpha)
        bread_inverse = inverse(bread, "bread matrix of the sandwich")
        cov = bread_inverse @ (scores.T @ scores) @ bread_inverse
    return ExchangeableFit(params=beta, cov=cov, alpha=alpha, converged=converged, iterations=iterations,
                           notes=tuple(dict.fromkeys(notes)))


def compare(mixed_result: MixedResult, gee_result: GEEResult) -> str:
    """Whether the conditional (mixed) and marginal (GEE) source effects agree in sign and in
    significance at 5%. Their sizes differ by design and are not compared."""
    if gee_result.failure:
        return (f"GEE failed: {gee_result.failure}. There is no cross-check for this selection; the mixed "
                "model stands alone (this is not a disagreement).")
    m, g = mixed_result.source_effect, gee_result.source_effect
    if not (np.isfinite(m["estimate"]) and np.isfinite(m["std_error"])):
        return ("The mixed model gave no finite source effect for this selection, so there is nothing to "
                "cross-check (see its message).")
    sig_m = m["ci_low"] > 0 or m["ci_high"] < 0
    sig_g = g["ci_low"] > 0 or g["ci_high"] < 0
    same_sign = np.sign(m["estimate"]) == np.sign(g["estimate"])
    detail = (f"mixed (conditional) log-OR {m['estimate']:.3f} [{m['ci_low']:.3f}, {m['ci_high']:.3f}]; "
              f"GEE (marginal) log-OR {g['estimate']:.3f} [{g['ci_low']:.3f}, {g['ci_high']:.3f}]")
    unconverged = [name for name, fit in (("mixed model", mixed_result), ("GEE", gee_result)) if not fit.converged]
    caveat = (f" Caution: the {' and the '.join(unconverged)} did not converge, so this comparison is not "
              "reliable." if unconverged else "")
    if same_sign and sig_m == sig_g:
        state = "significant" if sig_m else "not significant"
        return (f"The two models agree: same sign, both {state} at 5% ({detail}). The marginal effect is "
                f"expected to be smaller in size; that is not disagreement.{caveat}")
    problems = []
    if not same_sign:
        problems.append("opposite signs")
    if sig_m != sig_g:
        problems.append(f"only the {'mixed model' if sig_m else 'GEE'} finds a significant effect")
    return (f"The two models DISAGREE ({'; '.join(problems)}): {detail}. Treat the source effect as "
            f"uncertain.{caveat}")
