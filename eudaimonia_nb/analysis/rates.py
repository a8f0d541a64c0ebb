"""Violation rates with honest uncertainty.

- ``violation_rates``: any grouping. Wilson 95% intervals where every group holds at most one
  check per prompt (e.g. model x requirement: checks independent); a group pooling several checks
  of one prompt (over models, requirements or principles) gets the cluster-robust Wilson interval
  (Wilson at the effective sample size of the prompt-clustered variance), since plain Wilson
  covered only about 0.65 there. ``ci_method`` says which.
- ``model_rates`` / ``real_vs_modified``: intervals from a bootstrap over prompts, because the
  checks on one prompt are correlated. Prompts are resampled within source (the benchmark
  fixes 322 real and 647 modified prompts), the same resampled prompts serve every model (so
  between-model correlation is kept), and the whole bootstrap is two matrix products.

A rate is violations / judged checks; rows without a verdict (judge errors) are left out of
rates and counted in ``n_errors``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri

from ..benchmark.dataset import SOURCES
from .frames import check_analysis_frame, is_simulated, judged_sources, with_principle

# scipy.special rather than scipy.stats: the same numbers without a second of import time
# on the dashboard's first render.
Z95 = float(ndtri(0.975))
"""The 97.5% standard normal quantile, for every 95% interval in the package."""


def two_sided_p(z: np.ndarray | float) -> np.ndarray:
    """Two-sided normal p-value for a z statistic (NaN stays NaN)."""
    return 2.0 * ndtr(-np.abs(np.asarray(z, dtype=float)))


_LOG_FLOAT_MAX = math.log(np.finfo(float).max)


def log_scale_interval(estimate: float, log_se: float, z: float = Z95) -> tuple[float, float]:
    """Wald interval on the log scale, back-transformed: ``estimate * exp(-+ z * log_se)``.

    Used for a variance component's SD. A fit at the boundary (SD near 0) has an enormous
    ``log_se``; the upper end then lies past the float range and is ``inf`` (the page's
    "0 to ∞") rather than an overflow warning, and the lower end is 0. NaN in, NaN out."""
    if math.isnan(estimate) or math.isnan(log_se):
        return float("nan"), float("nan")
    if estimate <= 0:
        return 0.0, (0.0 if math.isfinite(log_se) else float("inf"))
    return _capped_exp(math.log(estimate) - z * log_se), _capped_exp(math.log(estimate) + z * log_se)


def _capped_exp(exponent: float) -> float:
    # math.exp raises OverflowError past the float range; inf is the value the interval means.
    return math.exp(exponent) if exponent < _LOG_FLOAT_MAX else float("inf")


def wilson_interval(k: np.ndarray | float, n: np.ndarray | float, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for k successes in n trials (NaN where n == 0)."""
    k = np.asarray(k, dtype=float)
    n = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        denom = n + z**2
        centre = (k + z**2 / 2) / denom
        half = z * np.sqrt(k * (n - k) / n + z**2 / 4) / denom
        low = np.where(n > 0, centre - half, np.nan)
        high = np.where(n > 0, centre + half, np.nan)
    return low, high


def violation_count(sums: np.ndarray) -> np.ndarray:
    """Summed verdicts as counts: whole numbers, except where checks reduced by the ``mean`` of
    their repeats (``reducers``) contribute fractions, which are kept (never truncated)."""
    sums = np.asarray(sums, dtype=float)
    whole = np.round(sums)
    return whole.astype(int) if np.allclose(sums, whole, rtol=0, atol=1e-9) else sums


def _mark(result: pd.DataFrame, frame: pd.DataFrame) -> pd.DataFrame:
    # Results computed from simulated judgments say so, so they never pass as real findings.
    result.attrs["simulated"] = is_simulated(frame)
    return result


WILSON_NOTE = "Wilson 95% (each group holds at most one check per prompt, so checks are independent)"
"""``ci_method`` of a group whose checks are one per prompt."""
CLUSTER_NOTE = ("cluster-robust Wilson 95% (the group holds several correlated checks of some prompts: Wilson at "
                "the effective sample size from the prompt-clustered variance, t quantile on prompts - 1 df)")
"""``ci_method`` of a group pooling several checks of one prompt (over models or requirements)."""


def cluster_wilson_interval(t: _Tables, z: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per unit, a Wilson interval that respects prompts (Korn & Graubard's effective-n form).

    V is the linearisation (sandwich) variance of the ratio violations / checks with prompts as
    clusters, stratified by source as the bootstrap is, with the n_h / (n_h - 1) small-sample
    factor; n_eff = p (1 - p) / V (at most the number of checks; the number of prompts when V is
    0 because p is 0 or 1); the Wilson score interval at n_eff uses the t quantile on (prompts -
    strata) degrees of freedom. On 22 models x 300 prompts it covered 0.94 where Wilson on the
    raw checks covered 0.66 and the percentile prompt bootstrap 0.92 (small cells undercover).
    """
    from scipy.special import stdtrit

    n_checks = t.checks.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = t.violations.sum(1) / n_checks
    variance = np.zeros(len(t.units))
    n_prompts = np.zeros(len(t.units))
    n_strata = np.zeros(len(t.units))
    for value in np.unique(t.prompt_source):
        cols = t.prompt_source == value
        c, v = t.checks[:, cols], t.violations[:, cols]
        present = c > 0
        n_h = present.sum(1)
        resid = v - np.nan_to_num(rate)[:, None] * c
        mean = resid.sum(1) / np.maximum(n_h, 1)  # absent prompts have residual 0
        squares = (((resid - mean[:, None]) ** 2) * present).sum(1)
        variance += np.where(n_h > 1, n_h / np.maximum(n_h - 1, 1) * squares, 0.0)
        n_prompts += n_h
        n_strata += n_h > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        variance /= n_checks**2
        n_eff = np.where(variance > 0, rate * (1 - rate) / variance, n_prompts)
    n_eff = np.minimum(n_eff, n_checks)
    quantile = z if z is not None else stdtrit(np.maximum(n_prompts - n_strata, 1), 0.975)
    low, high = wilson_interval(np.nan_to_num(rate) * n_eff, n_eff, z=quantile)
    return np.where(n_checks > 0, low, np.nan), np.where(n_checks > 0, high, np.nan)


def violation_rates(frame: pd.DataFrame, by: str | Sequence[str]) -> pd.DataFrame:
    """Rates per group of ``by`` (a column or a list of columns; ``principle`` is derived from
    the requirement).

    Columns: the group columns, ``n_checks`` (judged), ``n_violations``, ``n_errors``,
    ``rate``, ``ci_low``, ``ci_high`` and ``ci_method``. The interval is Wilson's only where
    every group holds at most one judged check per prompt (e.g. model x requirement); a group
    pooling several checks of one prompt (over models, requirements, principles) gets the
    cluster-robust Wilson interval (``cluster_wilson_interval``), because Wilson would treat
    correlated checks as independent (coverage about 0.66 for requirement x source pooled over
    22 models).
    """
    check_analysis_frame(frame)
    by = [by] if isinstance(by, str) else list(by)
    data = with_principle(frame) if "principle" in by and "principle" not in frame.columns else frame
    missing = [c for c in by if c not in data.columns]
    if missing:
        raise KeyError(f"cannot group by {missing}: no such column (have {', '.join(map(str, data.columns))})")
    work = data.assign(_judged=data["violation"].notna(), _error=data["violation"].isna(),
                       _viol=data["violation"].fillna(0.0))
    if by:
        grouped = work.groupby(by, sort=True, observed=True, dropna=False)
        out = grouped.agg(n_checks=("_judged", "sum"), n_violations=("_viol", "sum"), n_errors=("_error", "sum"))
        out = out.reset_index()
        code = grouped.ngroup().to_numpy()
    else:
        out = pd.DataFrame({"n_checks": [work["_judged"].sum()], "n_violations": [work["_viol"].sum()],
                            "n_errors": [work["_error"].sum()]})
        code = np.zeros(len(work), dtype=int)
    out = out.astype({"n_checks": int, "n_errors": int})
    out["n_violations"] = violation_count(out["n_violations"].to_numpy())
    with np.errstate(invalid="ignore", divide="ignore"):
        out["rate"] = np.where(out["n_checks"] > 0, out["n_violations"] / out["n_checks"].replace(0, 1), np.nan)
    judged_rows = work["_judged"].to_numpy()
    prompt_code = pd.factorize(work["prompt_id"])[0]
    pair = code[judged_rows].astype(np.int64) * (prompt_code.max(initial=0) + 1) + prompt_code[judged_rows]
    one_per_prompt = len(np.unique(pair)) == len(pair)
    if one_per_prompt:
        out["ci_low"], out["ci_high"] = wilson_interval(out["n_violations"], out["n_checks"])
        out["ci_method"] = WILSON_NOTE
    else:
        t = _tables(work.assign(_group=code), "_group", check=False)
        low, high = cluster_wilson_interval(t)
        position = {int(u): i for i, u in enumerate(t.units.astype(int))}
        rows = np.array([position.get(i, -1) for i in range(len(out))])
        out["ci_low"] = np.where(rows >= 0, low[rows], np.nan)
        out["ci_high"] = np.where(rows >= 0, high[rows], np.nan)
        out["ci_method"] = CLUSTER_NOTE
    return _mark(out, frame)


@dataclass(frozen=True)
class _Tables:
    """Per-unit x per-prompt judged-check and violation counts, the bootstrap's raw material."""

    units: np.ndarray
    """Unit labels (e.g. model names), one per row of the matrices."""
    prompt_source: np.ndarray
    """Source (real/modified) of each prompt column."""
    checks: np.ndarray
    """Judged checks, units x prompts."""
    violations: np.ndarray
    """Violations, units x prompts."""
    errors: np.ndarray
    """Rows without a verdict per unit."""


def _tables(frame: pd.DataFrame, unit: str, check: bool = True) -> _Tables:
    if check:
        check_analysis_frame(frame)
    # pandas' hashing factorize, sorted as np.unique would be, at a fraction of its cost on strings.
    unit_idx, units = pd.factorize(frame[unit].to_numpy() if unit == "_group" else frame[unit].astype(str).to_numpy(),
                                   sort=True)
    prompt_idx, prompts = pd.factorize(frame["prompt_id"].astype(str).to_numpy(), sort=True)
    units = np.asarray(units)
    source = pd.Series(frame["source"].to_numpy()).groupby(prompt_idx).first().to_numpy()
    judged = frame["violation"].notna().to_numpy()
    flat = unit_idx * len(prompts) + prompt_idx
    size = len(units) * len(prompts)
    checks = np.bincount(flat[judged], minlength=size).reshape(len(units), len(prompts)).astype(float)
    viol = np.bincount(flat[judged], weights=frame["violation"].to_numpy()[judged], minlength=size)
    errors = np.bincount(unit_idx[~judged], minlength=len(units))
    return _Tables(units, source, checks, viol.reshape(len(units), len(prompts)), errors)


def prompt_bootstrap_weights(prompt_source: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """``n_boot`` x prompts matrix of how often each prompt is drawn, resampling within source."""
    rng = np.random.default_rng(seed)
    n = len(prompt_source)
    weights = np.zeros((n_boot, n))
    for value in np.unique(prompt_source):
        members = np.flatnonzero(prompt_source == value)
        draws = members[rng.integers(0, len(members), size=(n_boot, len(members)))]
        flat = (draws + n * np.arange(n_boot)[:, None]).ravel()
        weights += np.bincount(flat, minlength=n_boot * n).reshape(n_boot, n)
    return weights


def _ratio(weights: np.ndarray, viol: np.ndarray, checks: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return (weights @ viol.T) / (weights @ checks.T)


def _percentiles(draws: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # A unit with no checks of one source has only NaN draws: its interval is NaN, quietly (the
    # result's ``note`` says why).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanpercentile(draws, 2.5, axis=0), np.nanpercentile(draws, 97.5, axis=0)


def bootstrap_rates(frame: pd.DataFrame, unit: str = "model", n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Per ``unit`` rate with a 95% percentile interval from the prompt bootstrap."""
    t = _tables(frame, unit)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = t.violations.sum(1) / t.checks.sum(1)
    draws = _ratio(prompt_bootstrap_weights(t.prompt_source, n_boot, seed), t.violations, t.checks)
    low, high = _percentiles(draws)
    out = pd.DataFrame({unit: t.units, "rate": rate, "ci_low": low, "ci_high": high,
                        "n_checks": t.checks.sum(1).astype(int), "n_violations": violation_count(t.violations.sum(1)),
                        "n_prompts": (t.checks > 0).sum(1), "n_errors": t.errors})
    out["note"] = np.where(out["n_checks"] == 0, [f"no judged checks: all {n:,} rows are judge errors"
                                                  for n in out["n_errors"]], "")
    return _mark(out, frame)


def model_rates(frame: pd.DataFrame, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Overall rate per model with a prompt-bootstrap 95% interval, sorted by rate.

    Columns: ``model``, ``rate``, ``ci_low``, ``ci_high``, ``n_checks``, ``n_violations``,
    ``n_prompts``, ``n_errors``, ``note`` (why a rate is missing, "" otherwise).
    """
    out = bootstrap_rates(frame, "model", n_boot=n_boot, seed=seed)
    return _mark(out.sort_values("rate", kind="stable").reset_index(drop=True), frame)


def holm(p: np.ndarray, family: int | None = None) -> np.ndarray:
    """Holm-adjusted p-values along the last axis (NaN stays NaN and is not counted).

    ``family``: the number of tests in the family when only some are given (the others are
    taken as p = 1, so they sort last and never lower an adjusted p); default: those given.
    Vectorised, so the power planner adjusts thousands of simulated studies at once."""
    p = np.asarray(p, dtype=float)
    finite = np.isfinite(p)
    m = finite.sum(axis=-1, keepdims=True) if family is None else np.full(p.shape[:-1] + (1,), family)
    order = np.argsort(np.where(finite, p, np.inf), axis=-1)
    ranked = np.take_along_axis(p, order, axis=-1)
    scaled = np.minimum(1.0, (m - np.arange(p.shape[-1])) * ranked)
    adjusted = np.fmax.accumulate(np.where(np.isfinite(scaled), scaled, -np.inf), axis=-1)
    out = np.empty_like(p)
    np.put_along_axis(out, order, adjusted, axis=-1)
    return np.where(finite, out, np.nan)


def _wald(estimate: np.ndarray, draws: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bootstrap SE and two-sided Wald p. The Wald form is smooth and not floored at 1/n_boot
    like a bootstrap tail count, so Holm can work with small p-values."""
    finite = np.isfinite(draws).sum(0)
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        se = np.where(finite > 1, np.nanstd(draws, axis=0, ddof=1), np.nan)
        p = np.where(se > 0, two_sided_p(estimate / se), np.nan)
    return se, p


def requirement_weights(frame: pd.DataFrame) -> pd.Series:
    """w_r: each requirement's share of all judged checks in ``frame`` (every model, both
    sources pooled), the standard population of ``diff_adj``."""
    counts = frame.loc[frame["violation"].notna(), "requirement"].value_counts()
    return (counts / counts.sum()).rename("weight")


def requirement_mix_note(frame: pd.DataFrame) -> str:
    """One plain sentence on why the raw and the requirement-adjusted gaps differ: the
    requirements whose share of checks differs most between real and modified prompts."""
    data = frame.loc[frame["violation"].notna()]
    shares = pd.crosstab(data["requirement"], data["source"], normalize="columns")
    if set(shares.columns) != set(SOURCES):
        return ""
    from ..benchmark.design_code import requirement

    excess = (shares["real"] - shares["modified"]).sort_values(ascending=False)
    parts = [f"{requirement(k).label} ({shares.loc[k, 'real']:.0%} of real checks against "
             f"{shares.loc[k, 'modified']:.0%} of modified)" for k in excess.index[:2] if excess[k] > 0.01]
    if not parts:
        return ("Real and modified prompts carry requirements in nearly the same proportions here, so the raw and "
                "adjusted gaps differ little.")
    return ("The raw gap also compares different requirement mixes: real prompts carry more "
            + " and ".join(parts) + " checks; the adjusted gap compares real with modified prompts within each "
            "requirement and weights requirements by their share of all checks.")


def _standardised_gap(frame: pd.DataFrame, t: _Tables, unit: str, boot: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per unit sum_r w_r (rate_modified,r - rate_real,r) over the requirements where the unit
    has checks of both sources (weights renormalised over those), its bootstrap draws (the same
    prompt draws as the raw gap) and how many requirements entered."""
    judged_rows = frame["violation"].notna().to_numpy()
    weights = requirement_weights(frame)
    keys = weights.index.to_numpy()
    req_idx = pd.Categorical(frame["requirement"], categories=keys).codes.astype(np.int64)
    unit_pos = {u: i for i, u in enumerate(t.units)}
    unit_idx = frame[unit].astype(str).map(unit_pos).to_numpy()
    prompt_pos = pd.factorize(frame["prompt_id"].astype(str).to_numpy(), sort=True)[0]
    n_r, n_u, n_p = len(keys), len(t.units), len(t.prompt_source)
    flat = ((req_idx * n_u + unit_idx) * n_p + prompt_pos)[judged_rows & (req_idx >= 0)]
    vals = frame["violation"].to_numpy()[judged_rows & (req_idx >= 0)]
    checks = np.bincount(flat, minlength=n_r * n_u * n_p).reshape(n_r * n_u, n_p)
    viol = np.bincount(flat, weights=vals, minlength=n_r * n_u * n_p).reshape(n_r * n_u, n_p)
    point, draws = {}, {}
    for source in SOURCES:
        cols = t.prompt_source == source
        c, v = checks[:, cols], viol[:, cols]
        with np.errstate(invalid="ignore", divide="ignore"):
            point[source] = (v.sum(1) / c.sum(1)).reshape(n_r, n_u)
        draws[source] = _ratio(boot[:, cols], v, c).reshape(len(boot), n_r, n_u)
    gap = point["modified"] - point["real"]  # requirements x units
    usable = np.isfinite(gap)
    w = weights.to_numpy()[:, None] * usable
    with np.errstate(invalid="ignore", divide="ignore"):
        adjusted = (np.where(usable, gap, 0.0) * w).sum(0) / w.sum(0)
        gap_draws = np.where(usable[None], draws["modified"] - draws["real"], np.nan)
        # A replicate that loses a requirement's checks renormalises over the rest, as above.
        wd = np.where(np.isfinite(gap_draws), w[None], 0.0)
        adjusted_draws = np.nansum(gap_draws * wd, axis=1) / wd.sum(1)
    return adjusted, adjusted_draws, usable.sum(0)


def real_vs_modified_by(frame: pd.DataFrame, unit: str, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """``real_vs_modified`` for any unit column (a model, a model group...)."""
    t = _tables(frame, unit)
    weights = prompt_bootstrap_weights(t.prompt_source, n_boot, seed)
    result: dict[str, object] = {unit: t.units}
    rates, draws = {}, {}
    for source in SOURCES:
        cols = t.prompt_source == source
        v, c = t.violations[:, cols], t.checks[:, cols]
        with np.errstate(invalid="ignore", divide="ignore"):
            rates[source] = v.sum(1) / c.sum(1)
        draws[source] = _ratio(weights[:, cols], v, c)
        low, high = _percentiles(draws[source])
        result.update({f"rate_{source}": rates[source], f"{source}_ci_low": low, f"{source}_ci_high": high,
                       f"n_checks_{source}": c.sum(1).astype(int)})
    diff_draws = draws["modified"] - draws["real"]
    diff = rates["modified"] - rates["real"]
    low, high = _percentiles(diff_draws)
    se, p = _wald(diff, diff_draws)
    result.update({"diff": diff, "diff_ci_low": low, "diff_ci_high": high, "diff_se": se,
                   "p_value": p, "p_holm": holm(p)})
    adjusted, adjusted_draws, n_used = _standardised_gap(frame, t, unit, weights)
    adj_low, adj_high = _percentiles(adjusted_draws)
    adj_se, adj_p = _wald(adjusted, adjusted_draws)
    result.update({"diff_adj": adjusted, "diff_adj_ci_low": adj_low, "diff_adj_ci_high": adj_high,
                   "diff_adj_se": adj_se, "p_adj": adj_p, "p_holm_adj": holm(adj_p),
                   "n_requirements_adj": n_used, "n_errors": t.errors})
    out = pd.DataFrame(result)
    out["note"] = _gap_notes(out, len(requirement_weights(frame)))
    out.attrs["notes"] = _selection_notes(frame, unit)
    out.attrs["mix_note"] = requirement_mix_note(frame)
    return _mark(out, frame)


def _gap_notes(out: pd.DataFrame, n_requirements: int) -> list[str]:
    """One line per unit saying why a gap is missing or partial ("" when it is whole)."""
    notes = []
    for row in out.itertuples(index=False):
        judged_real, judged_modified = row.n_checks_real, row.n_checks_modified
        if judged_real + judged_modified == 0:
            notes.append(f"no judged checks: all {row.n_errors:,} rows are judge errors")
        elif judged_real == 0 or judged_modified == 0:
            missing = "real" if judged_real == 0 else "modified"
            notes.append(f"no judged {missing} checks in this selection, so no real-versus-modified gap")
        elif row.n_requirements_adj < n_requirements:
            notes.append(f"requirement-adjusted gap over {row.n_requirements_adj} of {n_requirements} "
                         "requirements (the others lack real or modified checks here)")
        else:
            notes.append("")
    return notes


def _selection_notes(frame: pd.DataFrame, unit: str) -> list[str]:
    """Selection-wide one-line messages (a source missing altogether)."""
    present = judged_sources(frame)
    missing = [s for s in SOURCES if s not in present]
    if missing:
        return [f"Only {' and '.join(s for s in SOURCES if s in present) or 'no'} judged checks in this selection: "
                f"a real-versus-modified gap needs both sources (no {missing[0]} checks)."]
    return []


def real_vs_modified(frame: pd.DataFrame, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Per model: real and modified rates with intervals, ``diff`` = modified - real with a
    prompt-bootstrap interval (real and modified prompts resampled separately), a two-sided
    Wald ``p_value`` using the bootstrap SE, and ``p_holm`` adjusted across models (Holm).

    ``diff`` is the raw gap, which mixes the source effect with the requirement mix (real
    prompts carry more engagement-hook and flattery checks). ``diff_adj`` removes the mix by
    direct standardisation: sum_r w_r (rate_modified,r - rate_real,r), w_r the share of
    requirement r among all judged checks of ``frame`` (both sources, every model; see
    ``requirement_weights``), over the requirements where the model has checks of both
    sources; ``diff_adj_ci_low``/``_high``, ``diff_adj_se``, ``p_adj`` and ``p_holm_adj`` come
    from the same prompt draws. ``n_requirements_adj`` counts the requirements used; ``note``
    says in one line why a gap is missing or partial, ``attrs["notes"]`` carries
    selection-wide messages (e.g. only one source left) and ``attrs["mix_note"]`` one sentence
    on why the raw and adjusted gaps differ (``requirement_mix_note``)."""
    return real_vs_modified_by(frame, "model", n_boot=n_boot, seed=seed)
