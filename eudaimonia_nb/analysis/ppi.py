"""Prediction-powered inference (PPI++) for a violation rate: judge verdicts on every check,
corrected by human labels on a stratified sample.

Angelopoulos, Bates, Fannjiang, Jordan, Zrnic (Science 2023) and, for the power-tuned
``lambda``, Angelopoulos, Duchi, Zrnic (2023, "PPI++"). With f_i the judge's verdict on each of
the N judged checks, y_i the human label on the labelled ones (R_i = 1) and w_i = 1 / pi_i their
inverse inclusion probabilities:

    theta_hat = ( lambda * sum_i f_i  +  sum_i R_i w_i (y_i - lambda f_i) ) / N

The second sum is a Horvitz-Thompson estimate of the judge's total error, so theta_hat is
unbiased for the human rate for any fixed lambda: lambda = 0 uses the labels alone, lambda = 1 is
plain PPI, and the tuned lambda minimises the estimated variance (clipped to [0, 1]).

Variance: checks of one prompt are correlated (in the judge verdicts and in the labels), so the
estimator is written as a ratio of prompt totals and given the cluster-robust (linearisation)
variance over prompts. This treats prompts as drawn from a population of prompts like these,
the same target as the raw rates' prompt bootstrap, and it also carries the sampling of the
labels (R_i w_i is random). It assumes labels are drawn independently of the human answers
given the design (true of a seeded stratified sample), that an ``unsure`` label is missing at
random within its stratum, and enough labelled prompts for a normal interval.

Why not the ``ppi-python`` package: its ``ppi_mean_ci`` takes the labelled and unlabelled data as
two independent i.i.d. samples (here the labelled checks are a subset of the judged ones), has no
cluster-robust variance, and pulls in numba, scikit-learn and gdown; see docs/validation.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .rates import Z95

FEW_LABELS = 30
"""Below this many labels in a cell, the interval's normal approximation is rough: say so."""


@dataclass(frozen=True)
class CorrectedRate:
    """A violation rate corrected by human labels (PPI++), with the raw judge rate beside it."""

    rate: float
    """Estimated rate a human would give (PPI++ point estimate, clipped to [0, 1] like its interval,
    so it never lies outside [0, 1] or outside its own interval)."""
    ci_low: float
    """Lower end of the 95% interval (clipped to [0, 1])."""
    ci_high: float
    """Upper end of the 95% interval (clipped to [0, 1])."""
    se: float
    """Standard error, prompt-clustered."""
    lam: float
    """The power-tuning weight on the judge (0: labels only, 1: classical PPI)."""
    raw_rate: float
    """The judge's rate over every judged check."""
    raw_se: float
    """Prompt-clustered standard error of the raw rate (the floor no number of labels removes)."""
    n_checks: int
    """Judged checks (the population the rate is about)."""
    n_labels: int
    """Checks with a usable (violation / no violation) human label."""
    n_prompts: int
    """Prompts (clusters) among the judged checks."""


def _cluster_totals(values: np.ndarray, index: np.ndarray, n_clusters: int) -> np.ndarray:
    return np.bincount(index, weights=values, minlength=n_clusters)


def ppi_mean(judge: np.ndarray, human: np.ndarray, weight: np.ndarray, cluster: np.ndarray,
             *, lam: float | None = None) -> CorrectedRate:
    """PPI++ estimate of the mean human label over the judged checks.

    ``judge``: the judge's 0/1 verdict on every check of the population. ``human``: the human
    0/1 label (fractional for an average of several people), NaN where there is none.
    ``weight``: 1 / inclusion probability of each labelled check (ignored where ``human`` is
    NaN). ``cluster``: the prompt of each check. ``lam``: fix the weight on the judge instead
    of tuning it.
    """
    f = np.asarray(judge, dtype=float)
    y = np.asarray(human, dtype=float)
    w = np.asarray(weight, dtype=float)
    if not (len(f) == len(y) == len(w) == len(cluster)):
        raise ValueError("judge, human, weight and cluster must have one entry per check")
    if not np.isfinite(f).all():
        raise ValueError("every check in the population needs a judge verdict (leave judge errors out)")
    labelled = np.isfinite(y)
    if (labelled & ~(np.isfinite(w) & (w >= 1 - 1e-9))).any():
        raise ValueError("a labelled check needs a weight >= 1 (1 / inclusion probability)")
    _, index = np.unique(np.asarray(cluster), return_inverse=True)
    n_clusters = int(index.max()) + 1 if len(index) else 0
    n = len(f)
    rw = np.where(labelled, w, 0.0)
    a = _cluster_totals(rw * np.nan_to_num(y), index, n_clusters)
    b = _cluster_totals(f * (1.0 - rw), index, n_clusters)
    sizes = np.bincount(index, minlength=n_clusters).astype(float)
    raw_total = _cluster_totals(f, index, n_clusters)
    raw = raw_total.sum() / n if n else np.nan
    scale = n_clusters / (n_clusters - 1) if n_clusters > 1 else np.nan
    raw_se = float(np.sqrt(scale * np.sum((raw_total - raw * sizes) ** 2)) / n) if n else np.nan
    n_labels = int(labelled.sum())
    if n_labels == 0:
        return CorrectedRate(np.nan, np.nan, np.nan, np.nan, np.nan, float(raw), raw_se, n, 0, n_clusters)
    ea = a - a.sum() / n * sizes
    eb = b - b.sum() / n * sizes
    if lam is None:
        denominator = float(np.sum(eb**2))
        lam = float(np.clip(-np.sum(ea * eb) / denominator, 0.0, 1.0)) if denominator > 0 else 1.0
    theta = (a.sum() + lam * b.sum()) / n
    se = float(np.sqrt(scale * np.sum((ea + lam * eb) ** 2)) / n)
    low, high = theta - Z95 * se, theta + Z95 * se
    return CorrectedRate(float(np.clip(theta, 0, 1)), float(np.clip(low, 0, 1)), float(np.clip(high, 0, 1)), se, float(lam),
                         float(raw), raw_se, n, n_labels, n_clusters)


def corrected_rates(frame: pd.DataFrame, by: str | Sequence[str]) -> pd.DataFrame:
    """``ppi_mean`` per group of ``by`` over a frame of judged checks.

    ``frame``: one row per judged check with ``prompt_id``, ``judge`` (0/1), ``human`` (0/1,
    fractional or NaN) and ``weight`` (1 / inclusion probability where labelled). Columns of the
    result: the group columns and every field of ``CorrectedRate``, plus ``few_labels`` (fewer
    than ``FEW_LABELS`` labels: read the interval with care).
    """
    by = [by] if isinstance(by, str) else list(by)
    rows = []
    groups = frame.groupby(by, sort=True, observed=True) if by else [((), frame)]
    for key, part in groups:
        key = key if isinstance(key, tuple) else (key,)
        estimate = ppi_mean(part["judge"].to_numpy(), part["human"].to_numpy(), part["weight"].to_numpy(),
                            part["prompt_id"].to_numpy())
        rows.append({**dict(zip(by, key)), **estimate.__dict__})
    out = pd.DataFrame(rows)
    if not out.empty:
        out["few_labels"] = out["n_labels"] < FEW_LABELS
    return out


def labels_needed(estimate: CorrectedRate, target_half_width: float) -> int | None:
    """How many more labels (spread like the current ones) bring the 95% half-width to the target.

    Uses the analytic variance: the current variance is split into the prompt-sampling floor
    (the raw rate's variance, which labels cannot remove) and a part from the labels, which
    shrinks as 1 / n. 0 when the target is met; None when it is below the floor or there are
    no labels to extrapolate from.
    """
    if estimate.n_labels == 0 or not np.isfinite(estimate.se):
        return None
    target_var = (target_half_width / Z95) ** 2
    total = estimate.se**2
    if total <= target_var:
        return 0
    floor = min(estimate.raw_se**2, total)
    if target_var <= floor:
        return None
    label_part = total - floor
    factor = label_part / (target_var - floor)
    return int(np.ceil(estimate.n_labels * (factor - 1)))
