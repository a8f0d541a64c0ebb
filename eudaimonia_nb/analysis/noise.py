"""How much of a model's verdicts is the prompt, the response it happened to give, and the judge.

A run with ``--epochs K --judge-repeats J`` holds, for every check (prompt x requirement), K
responses each judged J times. Three sources of variation are then told apart, per model (and
per model x requirement):

* **prompts** (which checks the benchmark holds; the prompt-clustered intervals cover this),
* **responses** (which of its possible answers the model gave to the prompt: the epochs differ),
* **the judge** (what the judge said about that answer: the repeats on one response differ).

On the **probability scale**, as flip rates and variance shares (moments; no model assumed):

* ``judge_flip_rate``: the chance that two judge calls on one response disagree, the mean over
  responses of 2 k (n - k) / (n (n - 1)) for k violations in n calls (unbiased for 2 p (1 - p));
* ``response_flip_rate``: the chance that calls on two different responses to the same check
  disagree (all pairs of calls from different epochs), judge noise included;
* a verdict's variance r (1 - r) splits into ``var_judge`` = judge_flip / 2 (within a response),
  ``var_response`` = (response_flip - judge_flip) / 2 (between responses to one check) and
  ``var_prompt`` = r (1 - r) - response_flip / 2 (between checks); ``share_*`` are their shares.

On the **log-odds scale**, as the SDs of nested random intercepts of a logistic model fitted to
the unreduced verdicts, ``violation ~ source + requirement + (1 | check) + (1 | check:epoch)``:
``sd_prompt`` (a check's intercept) and ``sd_response`` (a response's, nested in it); the judge
is the Bernoulli draw of each call given the response (``nested_quadrature``).

Every interval is prompt-clustered: a percentile bootstrap over prompts within source (as the
rates' intervals) for the probability-scale values, a sandwich with prompts as clusters for the
SDs. Separating responses from prompts needs K >= 2; separating the judge needs J >= 2, and the
SDs need both; a value that the design cannot identify is NaN, and ``note`` says why.

**Standard error of the rate under other designs.** The rate (the ``mean`` reducer: each check's
mean over its responses of the mean over each response's judge calls) has, with prompts
resampled, variance V(K, J) = V_prompt + V_response / K + V_judge / (K J). V_judge and V_response
are estimated within prompts (the judge calls' and the epochs' spread, the latter with the
judge's share removed and the covariance of a response's checks kept), V_prompt as the
prompt-clustered variance of the observed rate less the two; ``predicted_se`` gives the SE for
any K and J, for the run's prompts or (scaled by checks, assuming the run's prompts are like the
rest) for the whole benchmark, and ``recommendation`` says which extra call narrows the
interval more. ``analysis.power`` takes the same components (``StudyPlan.response_sd``,
``epochs``, ``judge_repeats``).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..benchmark.dataset import SOURCES
from ..benchmark.design_code import REQUIREMENT_KEYS
from .cache import FitCache
from .frames import is_simulated
from .nested_quadrature import fit_nested_binomial
from .rates import Z95, _percentiles, log_scale_interval, prompt_bootstrap_weights

FLIP_COLUMNS = ("response_flip_rate", "judge_flip_rate")
SHARE_COLUMNS = ("share_prompt", "share_response", "share_judge")
SD_COLUMNS = ("sd_prompt", "sd_response")
WITH_INTERVALS = (*FLIP_COLUMNS, *SHARE_COLUMNS, *SD_COLUMNS)
"""Columns of ``decompose`` that come with ``_ci_low`` and ``_ci_high``."""
UNINFORMATIVE_LOG_SE = 2.0
"""A log-SD standard error above this (a 95% interval wider than a factor of e^8) means the SD sits
at its boundary: the interval is reported as [0, unknown] with a note."""


def _design_checks() -> dict[str, int]:
    """Checks per requirement in the whole benchmark (the published design counts)."""
    from .simulate import design_counts

    return {k: int(v["real"]) + int(v["modified"]) for k, v in design_counts()["checks_per_requirement"].items()}


# ---------------------------------------------------------------------------- per group

class _Group:
    """One model's (or model x requirement's) judged verdicts, as cells (check, epoch) of k / n."""

    def __init__(self, rows: pd.DataFrame):
        rows = rows.loc[rows["violation"].notna()]
        epoch = rows["epoch"].to_numpy() if "epoch" in rows.columns else np.ones(len(rows), dtype=int)
        check_index, checks = pd.factorize(pd.MultiIndex.from_arrays([rows["prompt_id"], rows["requirement"]]))
        cell_codes, cells = pd.factorize(check_index.astype(np.int64) * 10_000 + epoch.astype(np.int64))
        y = rows["violation"].to_numpy(dtype=float)
        self.k = np.bincount(cell_codes, weights=y)
        self.n = np.bincount(cell_codes).astype(float)
        self.cell_check = (cells // 10_000).astype(int)
        self.cell_epoch = (cells % 10_000).astype(int)
        self.n_checks = len(checks)
        prompts = checks.get_level_values(0)
        self.prompt_index, prompt_ids = pd.factorize(prompts)
        first = pd.Series(rows["source"].to_numpy()).groupby(check_index).first()
        self.check_source = first.reindex(range(self.n_checks)).to_numpy()
        self.check_requirement = np.asarray(checks.get_level_values(1))
        self.prompt_source = pd.Series(self.check_source).groupby(self.prompt_index).first().to_numpy()
        self.n_prompts = len(prompt_ids)
        self.n_verdicts = int(self.n.sum())
        self.epochs = int(epoch.max()) if len(epoch) else 0
        repeats = rows["judge_repeat"].to_numpy() if "judge_repeat" in rows.columns else np.ones(len(rows), dtype=int)
        self.judge_repeats = int(repeats.max()) if len(repeats) else 0

    # -- per-prompt sums, the bootstrap's raw material ---------------------------------------
    def prompt_sums(self) -> dict[str, np.ndarray]:
        k, n = self.k, self.n
        by_prompt = self.prompt_index[self.cell_check]
        P = self.n_prompts

        def per_prompt(values: np.ndarray, where: np.ndarray | None = None, at: np.ndarray = by_prompt) -> np.ndarray:
            return np.bincount(at if where is None else at[where], weights=values if where is None else values[where],
                               minlength=P)

        # Judge: pairs of calls on one response.
        pairs = n >= 2
        d = np.divide(2 * k * (n - k), n * (n - 1), out=np.zeros_like(k), where=pairs)
        # Responses: pairs of calls from two epochs of one check.
        K_c = np.bincount(self.cell_check, weights=k, minlength=self.n_checks)
        N_c = np.bincount(self.cell_check, weights=n, minlength=self.n_checks)
        within = np.bincount(self.cell_check, weights=k * (n - k), minlength=self.n_checks)
        squares = np.bincount(self.cell_check, weights=n * n, minlength=self.n_checks)
        cross = N_c**2 - squares
        epochs_c = np.bincount(self.cell_check, minlength=self.n_checks)
        across = epochs_c >= 2
        D = np.divide(2 * (K_c * (N_c - K_c) - within), cross, out=np.zeros_like(K_c), where=across & (cross > 0))
        # Rate (the mean reducer): mean over epochs of each response's share.
        share = k / n
        ybar = np.bincount(self.cell_check, weights=share, minlength=self.n_checks) / np.maximum(epochs_c, 1)
        return {
            "judge_sum": per_prompt(d, pairs), "judge_count": per_prompt(pairs.astype(float)),
            "response_sum": per_prompt(D, at=self.prompt_index), "response_count": per_prompt(across.astype(float),
                                                                                              at=self.prompt_index),
            "rate_sum": per_prompt(ybar, at=self.prompt_index), "rate_count": per_prompt(np.ones(self.n_checks),
                                                                                         at=self.prompt_index),
        }

    def rate_variance_parts(self) -> dict[str, float]:
        """V_prompt, V_response (for one epoch), V_judge (for one call) of the mean-reduced rate."""
        k, n, P = self.k, self.n, self.n_prompts
        epochs_c = np.bincount(self.cell_check, minlength=self.n_checks)
        share = k / n
        ybar = np.bincount(self.cell_check, weights=share, minlength=self.n_checks) / np.maximum(epochs_c, 1)
        N = self.n_checks
        rate = ybar.sum() / N
        # Prompt-clustered (linearised, stratified by source) variance of the observed rate.
        T = np.bincount(self.prompt_index, weights=ybar, minlength=P)
        C = np.bincount(self.prompt_index, minlength=P).astype(float)
        resid = T - rate * C
        total = 0.0
        for value in np.unique(self.prompt_source):
            members = self.prompt_source == value
            m = int(members.sum())
            if m > 1:
                total += m / (m - 1) * float(((resid[members] - resid[members].mean()) ** 2).sum())
        total /= N**2
        # Judge: unbiased within-response variance, per check the mean over its responses.
        s2 = np.divide(k * (n - k), n * (n - 1), out=np.full_like(k, np.nan), where=n >= 2)
        has = ~np.isnan(s2)
        judge_c = np.divide(np.bincount(self.cell_check[has], weights=s2[has], minlength=N),
                            np.bincount(self.cell_check[has], minlength=N), out=np.full(N, np.nan),
                            where=np.bincount(self.cell_check[has], minlength=N) > 0)
        inv_n = np.bincount(self.cell_check, weights=1 / n, minlength=N) / np.maximum(epochs_c, 1)
        judged_repeats = self.judge_repeats >= 2 and bool(np.isfinite(judge_c).any())
        B = np.bincount(self.prompt_index, weights=np.nan_to_num(judge_c), minlength=P) if judged_repeats else None
        # Responses: spread over epochs of a prompt's per-epoch totals (a response's checks move
        # together), less the judge noise those totals carry. A check missing an epoch takes its
        # mean there, which adds no spread.
        A = None
        if self.epochs >= 2:
            filled = np.repeat(ybar[:, None], self.epochs, axis=1)
            filled[self.cell_check, self.cell_epoch - 1] = share
            S = np.zeros((P, self.epochs))
            np.add.at(S, self.prompt_index, filled)
            spread = S.var(axis=1, ddof=1)
            if judged_repeats:
                spread = spread - np.bincount(self.prompt_index, weights=np.nan_to_num(judge_c) * inv_n, minlength=P)
            A = spread
        K = max(self.epochs, 1)
        v_response = float(A.sum()) / N**2 if A is not None else math.nan
        v_judge = float(B.sum()) / N**2 if B is not None else math.nan
        # What the observed design carries of each (a check's mean over K responses of n_ce calls),
        # taken out of the total to leave the prompts'. Parts the design cannot separate stay with
        # the level above: the judge with the responses (J = 1), the responses with the prompts (K = 1).
        inner = 0.0
        if A is not None:
            inner += v_response / K
        if B is not None:
            inner += float(np.nansum(judge_c * inv_n)) / (K * N**2)
        return {"rate": float(rate), "rate_var_total": total, "rate_var_prompt": total - inner,
                "rate_var_response": v_response, "rate_var_judge": v_judge}


def _shares(judge: np.ndarray, response: np.ndarray, rate: np.ndarray, *, judge_ok: bool, response_ok: bool
            ) -> dict[str, np.ndarray]:
    """Variance parts and shares of one verdict from the flip rates and the rate (arrays alike)."""
    total = rate * (1 - rate)
    nan = np.full_like(total, np.nan)
    var_judge = judge / 2 if judge_ok else nan
    var_response = (response - judge) / 2 if (judge_ok and response_ok) else nan
    if response_ok:
        var_prompt = total - response / 2
    elif judge_ok:
        var_prompt = nan  # responses and prompts cannot be told apart with one epoch
    else:
        var_prompt = nan
    with np.errstate(invalid="ignore", divide="ignore"):
        return {"var_prompt": var_prompt, "var_response": var_response, "var_judge": var_judge,
                "share_prompt": np.clip(var_prompt, 0, None) / total, "share_response": np.clip(var_response, 0, None) / total,
                "share_judge": np.clip(var_judge, 0, None) / total}


def _ratio(weights: np.ndarray | None, num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        if weights is None:
            return np.asarray(num.sum() / den.sum())
        return (weights @ num) / (weights @ den)


def _decompose_group(rows: pd.DataFrame, *, n_boot: int, seed: int, fit_sds: bool, benchmark_checks: int) -> dict:
    g = _Group(rows)
    out: dict[str, object] = {"epochs": g.epochs, "judge_repeats": g.judge_repeats, "n_prompts": g.n_prompts,
                              "n_checks": g.n_checks, "n_responses": len(g.k), "n_verdicts": g.n_verdicts}
    notes: list[str] = []
    if g.n_checks == 0:
        out["note"] = "no judged checks"
        return out
    sums = g.prompt_sums()
    judge_ok = bool(sums["judge_count"].sum() > 0)
    response_ok = bool(sums["response_count"].sum() > 0)
    if not judge_ok:
        notes.append("one judge call per response: judge noise cannot be told apart from response noise "
                     "(run with --judge-repeats 2 or more)")
    if not response_ok:
        notes.append("one response per prompt: response noise cannot be told apart from prompt differences "
                     "(run with --epochs 2 or more)")
    weights = prompt_bootstrap_weights(g.prompt_source, n_boot, seed)
    point, draws = {}, {}
    for name, (num, den) in {"judge_flip_rate": ("judge_sum", "judge_count"),
                             "response_flip_rate": ("response_sum", "response_count"),
                             "rate": ("rate_sum", "rate_count")}.items():
        point[name] = _ratio(None, sums[num], sums[den])
        draws[name] = _ratio(weights, sums[num], sums[den])
    point.update(_shares(point["judge_flip_rate"], point["response_flip_rate"], point["rate"],
                         judge_ok=judge_ok, response_ok=response_ok))
    draws.update(_shares(draws["judge_flip_rate"], draws["response_flip_rate"], draws["rate"],
                         judge_ok=judge_ok, response_ok=response_ok))
    usable = {"judge_flip_rate": judge_ok, "response_flip_rate": response_ok, "share_prompt": response_ok,
              "share_response": judge_ok and response_ok, "share_judge": judge_ok}
    out["rate"] = float(point["rate"])
    for name in (*FLIP_COLUMNS, *SHARE_COLUMNS):
        ok = usable[name]
        out[name] = float(point[name]) if ok else math.nan
        low, high = _percentiles(draws[name][:, None]) if ok else (np.array([math.nan]), np.array([math.nan]))
        out[f"{name}_ci_low"], out[f"{name}_ci_high"] = float(low[0]), float(high[0])
    for name in ("var_prompt", "var_response", "var_judge"):
        out[name] = float(point[name])
    if judge_ok and response_ok and out["var_response"] < 0:
        notes.append("the responses' own share is estimated below 0: indistinguishable from none (shown as 0)")
    parts = g.rate_variance_parts()
    out.update({key: parts[key] for key in ("rate_var_prompt", "rate_var_response", "rate_var_judge", "rate_var_total")})
    out["benchmark_checks"] = benchmark_checks
    out["se_rate"] = math.sqrt(max(parts["rate_var_total"], 0.0))
    out["se_rate_benchmark"] = out["se_rate"] * math.sqrt(g.n_checks / benchmark_checks) \
        if benchmark_checks >= g.n_checks else math.nan
    for name in SD_COLUMNS:
        out[name] = out[f"{name}_ci_low"] = out[f"{name}_ci_high"] = math.nan
    if fit_sds and judge_ok and response_ok:
        out.update(_fit_sds(g, notes))
    elif fit_sds:
        notes.append("the log-odds SDs need both epochs and judge repeats (K >= 2 and J >= 2)")
    out["note"] = "; ".join(notes)
    return out


def _fit_sds(g: _Group, notes: list[str]) -> dict[str, float]:
    """sd_prompt and sd_response with prompt-clustered intervals, from the nested logistic model."""
    columns = [np.ones(g.n_checks)]
    if len(set(g.check_source)) > 1:
        columns.append((g.check_source == SOURCES[1]).astype(float))
    present = [key for key in REQUIREMENT_KEYS if key in set(g.check_requirement)]
    for key in present[1:]:
        columns.append((g.check_requirement == key).astype(float))
    X_check = np.column_stack(columns)
    fit = fit_nested_binomial(X_check[g.cell_check], g.k, g.n, np.arange(len(g.k)), g.cell_check, g.prompt_index)
    if not fit.converged:
        notes.append(f"the nested logistic model may not have converged ({fit.message})")
    out = {}
    for name, sd, se in (("sd_prompt", fit.sd_outer, fit.log_sd_se[0]), ("sd_response", fit.sd_inner, fit.log_sd_se[1])):
        low, high = log_scale_interval(sd, se, Z95)
        if not math.isfinite(se) or se > UNINFORMATIVE_LOG_SE:
            # At the boundary the log-scale interval spans many orders of magnitude: say so instead.
            low, high = 0.0, math.nan
            notes.append(f"{name} is indistinguishable from 0 here: its upper bound is not estimable")
        out[name], out[f"{name}_ci_low"], out[f"{name}_ci_high"] = sd, low, high
    return out


# ---------------------------------------------------------------------------- public

_cache: FitCache[pd.DataFrame] = FitCache(16)


def decompose(frame: pd.DataFrame, by: str | Sequence[str] = "model", *, n_boot: int = 1000, seed: int = 0,
              fit_sds: bool = True, use_cache: bool = True) -> pd.DataFrame:
    """The noise decomposition of the module docstring, one row per group of ``by`` (``model``, or
    ``["model", "requirement"]``), from the UNREDUCED judgments (``epoch`` and ``judge_repeat``
    columns; a table without them is one epoch and one call). Columns: the group, ``epochs``,
    ``judge_repeats``, ``n_prompts``, ``n_checks``, ``n_responses``, ``n_verdicts``, ``rate``,
    the flip rates, shares and SDs of ``WITH_INTERVALS`` each with ``_ci_low``/``_ci_high``,
    ``var_prompt``/``var_response``/``var_judge`` (one verdict's variance parts), the rate's
    variance parts ``rate_var_*``, ``se_rate`` (this design) and ``se_rate_benchmark`` (the whole
    benchmark's checks of the requirements judged, ``benchmark_checks``), ``recommendation`` and
    ``note``. ``fit_sds=False`` skips the log-odds fit
    (the slow part). Results are cached on the table's content (a dashboard returning to a
    selection gets them back at no cost)."""
    by = [by] if isinstance(by, str) else list(by)
    columns = [c for c in (*by, "prompt_id", "requirement", "source", "violation", "epoch", "judge_repeat")
               if c in frame.columns]
    digest = hashlib.sha256(pd.util.hash_pandas_object(frame[list(dict.fromkeys(columns))], index=False)
                            .to_numpy().tobytes())
    digest.update(repr((tuple(by), n_boot, seed, fit_sds, is_simulated(frame))).encode())
    out = _cache.get_or_fit(digest.hexdigest(), lambda: _decompose(frame, by, n_boot, seed, fit_sds),
                            use_cache=use_cache)
    return out.copy()


def _decompose(frame: pd.DataFrame, by: list[str], n_boot: int, seed: int, fit_sds: bool) -> pd.DataFrame:
    missing = [c for c in (*by, "prompt_id", "requirement", "source", "violation") if c not in frame.columns]
    if missing:
        raise KeyError(f"decompose needs column(s) {', '.join(missing)}")
    design = _design_checks()
    rows = []
    for key, part in frame.groupby(by, sort=True, observed=True):
        key = key if isinstance(key, tuple) else (key,)
        # The whole benchmark's checks of the requirements judged (a run may judge only some).
        benchmark_checks = sum(design.get(r, 0) for r in set(part["requirement"]))
        row = dict(zip(by, key))
        row.update(_decompose_group(part, n_boot=n_boot, seed=seed, fit_sds=fit_sds, benchmark_checks=benchmark_checks))
        row["recommendation"] = recommendation(row, name=" ".join(map(str, key)))
        rows.append(row)
    out = pd.DataFrame(rows)
    out.attrs["simulated"] = is_simulated(frame)
    return out


def predicted_se(row: pd.Series | dict, epochs: int, judge_repeats: int, *, benchmark: bool = False) -> float:
    """The standard error of the rate with ``epochs`` responses per prompt and ``judge_repeats`` calls
    per response (a row of ``decompose``); NaN where the run's design cannot predict it (a judge
    repeat count with one judge call per response, an epoch count with one epoch)."""
    K0, J0 = int(row["epochs"]), int(row["judge_repeats"])
    v_prompt, v_response, v_judge = row["rate_var_prompt"], row["rate_var_response"], row["rate_var_judge"]
    if J0 < 2 and judge_repeats != J0:
        return math.nan
    if K0 < 2 and epochs != K0:
        return math.nan
    variance = float(v_prompt)
    if K0 >= 2:
        variance += float(v_response) / epochs
    if J0 >= 2:
        variance += float(v_judge) / (epochs * judge_repeats)
    variance = max(variance, 0.0)
    if benchmark:
        n, total = int(row["n_checks"]), int(row["benchmark_checks"])
        if total < n:
            return math.nan
        variance *= n / total
    return math.sqrt(variance)


def se_table(decomposition: pd.DataFrame, max_epochs: int = 5, max_repeats: int = 5) -> pd.DataFrame:
    """Predicted SE and 95% interval half-width of each row's rate for 1..``max_epochs`` epochs x
    1..``max_repeats`` judge repeats, on the run's prompts and on the whole benchmark."""
    keys = [c for c in ("run_id", "model", "requirement") if c in decomposition.columns]
    records = []
    for _, row in decomposition.iterrows():
        for k in range(1, max_epochs + 1):
            for j in range(1, max_repeats + 1):
                se = predicted_se(row, k, j)
                bench = predicted_se(row, k, j, benchmark=True)
                records.append({**{c: row[c] for c in keys}, "epochs": k, "judge_repeats": j, "se_rate": se,
                                "ci_half_width": Z95 * se, "se_rate_benchmark": bench,
                                "ci_half_width_benchmark": Z95 * bench,
                                "observed": k == int(row["epochs"]) and j == int(row["judge_repeats"])})
    return pd.DataFrame(records)


def recommendation(row: pd.Series | dict, *, name: str = "this model") -> str:
    """Which buys more precision per extra call: one more epoch (a model call per prompt, and its
    judge calls) or one more judge call per response; in one sentence, with the standard error
    of the rate now and after each, and what each costs in calls."""
    K, J = int(row.get("epochs") or 0), int(row.get("judge_repeats") or 0)
    if not K or "rate_var_prompt" not in row:
        return ""
    now = predicted_se(row, K, J)
    more_epochs, more_judge = predicted_se(row, K + 1, J), predicted_se(row, K, J + 1)
    n_prompts, n_checks = int(row["n_prompts"]), int(row["n_checks"])
    epoch_cost, judge_cost = n_prompts + n_checks * J, n_checks * K
    epoch_calls = f"{epoch_cost:,} calls: {n_prompts:,} to the model, {n_checks * J:,} to the judge"
    judge_calls = f"{judge_cost:,} judge calls"
    epoch_name, judge_name = f"a {K + 1}{_suffix(K + 1)} epoch", f"a {J + 1}{_suffix(J + 1)} judge call per response"

    def pts(value: float) -> str:
        return f"{100 * value:.2f}"

    if math.isnan(more_epochs) and math.isnan(more_judge):
        return (f"For {name}, with one epoch and one judge call per response the design cannot say what repeats "
                f"would buy: run --epochs 2 --judge-repeats 2 to find out.")
    if math.isnan(more_judge):
        return (f"For {name}, {epoch_name} would move the standard error of the rate from {pts(now)} to "
                f"{pts(more_epochs)} points ({epoch_calls}); judge calls cannot be assessed with one per response.")
    if math.isnan(more_epochs):
        return (f"For {name}, {judge_name} would move the standard error of the rate from {pts(now)} to "
                f"{pts(more_judge)} points ({judge_calls}); epochs cannot be assessed with one epoch.")
    options = [(epoch_name, more_epochs, epoch_calls, (now - more_epochs) / epoch_cost),
               (judge_name, more_judge, judge_calls, (now - more_judge) / judge_cost)]
    options.sort(key=lambda option: -option[3])
    (best, best_se, best_calls, _), (other, other_se, other_calls, _) = options
    return (f"For {name}, per extra call, {best} narrows the interval more than {other}: the standard error of the "
            f"rate goes from {pts(now)} to {pts(best_se)} points ({best_calls}), against {pts(other_se)} "
            f"({other_calls}).")


def _suffix(n: int) -> str:
    return "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")


def noise_records(decomposition: pd.DataFrame) -> list[dict]:
    """The rows as plain JSON-ready dicts (NaN as None)."""
    def clean(value: object) -> object:
        if isinstance(value, (float, np.floating)):
            return float(value) if math.isfinite(float(value)) else None
        if isinstance(value, np.integer):
            return int(value)
        if isinstance(value, np.bool_):
            return bool(value)
        return value

    return [{k: clean(v) for k, v in row.items()} for row in decomposition.to_dict("records")]
