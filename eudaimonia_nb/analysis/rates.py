"""Violation rates with honest uncertainty.

- ``violation_rates``: any grouping, with Wilson 95% intervals (checks treated as independent;
  fine for one requirement or a small group, slightly narrow when many checks share prompts).
- ``model_rates`` / ``real_vs_modified``: intervals from a bootstrap over prompts, because the
  checks on one prompt are correlated. Prompts are resampled within source (the benchmark
  fixes 322 real and 647 modified prompts), the same resampled prompts serve every model (so
  between-model correlation is kept), and the whole bootstrap is two matrix products.

A rate is violations / judged checks; rows without a verdict (judge errors) are left out of
rates and counted in ``n_errors``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri

from ..dataset import SOURCES
from .frames import is_simulated, with_principle

# scipy.special rather than scipy.stats: the same numbers without a second of import time
# on the dashboard's first render.
Z95 = float(ndtri(0.975))
"""The 97.5% standard normal quantile, for every 95% interval in the package."""


def two_sided_p(z: np.ndarray | float) -> np.ndarray:
    """Two-sided normal p-value for a z statistic (NaN stays NaN)."""
    return 2.0 * ndtr(-np.abs(np.asarray(z, dtype=float)))


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


def _mark(result: pd.DataFrame, frame: pd.DataFrame) -> pd.DataFrame:
    # Results computed from simulated judgments say so, so they never pass as real findings.
    result.attrs["simulated"] = is_simulated(frame)
    return result


def violation_rates(frame: pd.DataFrame, by: str | Sequence[str]) -> pd.DataFrame:
    """Rates per group of ``by`` (a column or a list of columns; ``principle`` is derived from
    the requirement).

    Columns: the group columns, ``n_checks`` (judged), ``n_violations``, ``n_errors``,
    ``rate``, ``ci_low``, ``ci_high`` (Wilson 95%).
    """
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
    else:
        out = pd.DataFrame({"n_checks": [work["_judged"].sum()], "n_violations": [work["_viol"].sum()],
                            "n_errors": [work["_error"].sum()]})
    out = out.astype({"n_checks": int, "n_violations": int, "n_errors": int})
    with np.errstate(invalid="ignore", divide="ignore"):
        out["rate"] = np.where(out["n_checks"] > 0, out["n_violations"] / out["n_checks"].replace(0, 1), np.nan)
    out["ci_low"], out["ci_high"] = wilson_interval(out["n_violations"], out["n_checks"])
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


def _tables(frame: pd.DataFrame, unit: str) -> _Tables:
    units, unit_idx = np.unique(frame[unit].astype(str).to_numpy(), return_inverse=True)
    prompts, prompt_idx = np.unique(frame["prompt_id"].astype(str).to_numpy(), return_inverse=True)
    by_prompt = pd.Series(frame["source"].to_numpy()).groupby(prompt_idx)
    if (by_prompt.nunique() > 1).any():
        raise ValueError("a prompt_id appears with both sources; the prompt bootstrap resamples prompts within "
                         "source, so each prompt needs one source (validate_judgments names the row)")
    source = by_prompt.first().to_numpy()
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
    return np.nanpercentile(draws, 2.5, axis=0), np.nanpercentile(draws, 97.5, axis=0)


def bootstrap_rates(frame: pd.DataFrame, unit: str = "model", n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Per ``unit`` rate with a 95% percentile interval from the prompt bootstrap."""
    t = _tables(frame, unit)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = t.violations.sum(1) / t.checks.sum(1)
    draws = _ratio(prompt_bootstrap_weights(t.prompt_source, n_boot, seed), t.violations, t.checks)
    low, high = _percentiles(draws)
    out = pd.DataFrame({unit: t.units, "rate": rate, "ci_low": low, "ci_high": high,
                        "n_checks": t.checks.sum(1).astype(int), "n_violations": t.violations.sum(1).astype(int),
                        "n_prompts": (t.checks > 0).sum(1), "n_errors": t.errors})
    return _mark(out, frame)


def model_rates(frame: pd.DataFrame, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Overall rate per model with a prompt-bootstrap 95% interval, sorted by rate.

    Columns: ``model``, ``rate``, ``ci_low``, ``ci_high``, ``n_checks``, ``n_violations``,
    ``n_prompts``, ``n_errors``.
    """
    out = bootstrap_rates(frame, "model", n_boot=n_boot, seed=seed)
    return _mark(out.sort_values("rate", kind="stable").reset_index(drop=True), frame)


def real_vs_modified_by(frame: pd.DataFrame, unit: str, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """``real_vs_modified`` for any unit column (a model, a model group...)."""
    from statsmodels.stats.multitest import multipletests

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
    se = np.nanstd(diff_draws, axis=0, ddof=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        # Wald test with the bootstrap SE: smooth, and not floored at 1/n_boot like a
        # bootstrap tail count, so Holm can work with small p-values.
        p = np.where(se > 0, two_sided_p(diff / se), np.nan)
    p_holm = np.full_like(p, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        p_holm[ok] = multipletests(p[ok], method="holm")[1]
    result.update({"diff": diff, "diff_ci_low": low, "diff_ci_high": high, "diff_se": se,
                   "p_value": p, "p_holm": p_holm, "n_errors": t.errors})
    return _mark(pd.DataFrame(result), frame)


def real_vs_modified(frame: pd.DataFrame, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Per model: real and modified rates with intervals, ``diff`` = modified - real with a
    prompt-bootstrap interval (real and modified prompts resampled separately), a two-sided
    Wald ``p_value`` using the bootstrap SE, and ``p_holm`` adjusted across models (Holm)."""
    return real_vs_modified_by(frame, "model", n_boot=n_boot, seed=seed)
