"""Label-corrected violation rates from a stratified labelling sample, with intervals that hold
from a few dozen labels per cell.

The labelling sample is stratified by run x requirement x judge verdict (``store.sampling``), so
within a stratum h the judge's verdict f_h is constant and the PPI++ estimator

    theta_hat = ( lambda * sum_i f_i + sum_i R_i w_i (y_i - lambda f_i) ) / N

equals the stratified estimator sum_h (N_h / N) ybar_h for every lambda (the lambda terms cancel
within each stratum): the judge's verdict calibrated by the labels of its own stratum. This
module computes that estimator directly, for any cell (a run, a run x requirement, a run x
source...), as a post-stratified mean:

    theta_hat_c = sum_g (N_g / N_c) * ybar_g

over the cell's post-strata g = sampling stratum x the cell's own columns (e.g. x source), with
ybar_g the weighted (Hajek) mean of the certain human labels in g. A post-stratum without labels
borrows the mean of the next coarser level (the sampling stratum, then run x verdict, then the
run): the judge's error rate within a stratum is taken to be the same on both sides of the cell's
split. lambda is not used, so no tuned weight can bias a cell with few labels.

Interval (``CorrectedRate.ci_low`` / ``ci_high``): MOVER (Zou and Donner 2008; Newcombe's hybrid
score interval for a difference is its two-group case) with a Wilson score interval for each
post-stratum's mean at its (Kish effective) number of labels, plus the prompt-sampling part V1
as a symmetric normal component:

    low  = theta - sqrt( sum_g W_g^2 (ybar_g - l_g)^2 + z^2 V1 )
    high = theta + sqrt( sum_g W_g^2 (u_g - ybar_g)^2 + z^2 V1 )

The Wilson ends move away from 0 and 1 when a stratum shows no (or only) violations, which is
where the Wald interval of PPI++ undercovered (a judge's pass stratum with a few per cent of
misses, labelled 25 times, shows no miss at all about a quarter of the time). The binomial part
carries no finite-population correction; that stands in for the within-stratum part of the
prompt-sampling variance (they are equal in expectation). V1 is the prompt-clustered
(linearisation) variance of the cell's imputed check values ybar_g(i), plus the within-prompt
covariance of the residuals: a correlation rho estimated from the labelled pairs that share a
prompt (Horvitz-Thompson weighted, clipped to [0, 1]) times the binomial SDs of every pair of the
cell's checks within one prompt. Simulated coverage: docs/validation.md.

Planning (``label_se``): the labelling part of the variance evaluated at the Wilson centre
(k + z^2/2) / (n + z^2) of each post-stratum, so a pilot whose strata show no miss yet does not
plan for a variance of 0.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .ppi import FEW_LABELS, CorrectedRate, ppi_mean
from .rates import Z95

PLANNING_PSEUDO = 0.5
"""Pseudo-labels added to each side of a stratum's count when planning (Jeffreys' prior)."""
MIN_LABELS_POSTSTRATUM = 1
"""A post-stratum with fewer certain labels than this borrows its coarser level's mean."""


def _codes(frame: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    """One integer per row for the combination of ``columns`` (all rows one code when empty)."""
    if not columns:
        return np.zeros(len(frame), dtype=np.int64)
    return pd.MultiIndex.from_frame(frame[list(columns)].astype(str)).factorize()[0].astype(np.int64)


def _jeffreys(k: np.ndarray, n: np.ndarray, z: float) -> tuple[np.ndarray, np.ndarray]:
    """Jeffreys interval for k successes of n (beta(k + 1/2, n - k + 1/2) quantiles; 0 and 1
    at the edges, as Brown, Cai and DasGupta 2001 recommend), at the level ``z`` stands for."""
    from scipy.special import betaincinv, ndtr

    tail = float(ndtr(-z))
    a, b = k + 0.5, np.maximum(n - k, 0.0) + 0.5
    low = np.where(k <= 1e-9, 0.0, betaincinv(a, b, tail))
    high = np.where(k >= n - 1e-9, 1.0, betaincinv(a, b, 1 - tail))
    return low, high


class LevelStats:
    """Label sums per code of each level (finest first), over every check of the frame."""

    def __init__(self, codes: list[np.ndarray], human: np.ndarray, weight: np.ndarray):
        labelled = np.isfinite(human)
        w = np.where(labelled, np.nan_to_num(weight, nan=0.0), 0.0)
        wy = w * np.nan_to_num(human)
        self.stacked = np.stack(codes)
        self.n_codes = 1 + int(self.stacked.max()) if self.stacked.size else 1
        self.n = [np.bincount(c, weights=labelled.astype(float)) for c in codes]
        self.sw = [np.bincount(c, weights=w) for c in codes]
        self.swy = [np.bincount(c, weights=wy) for c in codes]
        self.sw2 = [np.bincount(c, weights=w**2) for c in codes]


def stratified_rate(judge: np.ndarray, human: np.ndarray, weight: np.ndarray, cluster: np.ndarray,
                    levels: list[np.ndarray], *, cell: np.ndarray | None = None, stats: LevelStats | None = None,
                    n_min: int = MIN_LABELS_POSTSTRATUM, z: float = Z95) -> CorrectedRate:
    """The post-stratified corrected rate of one cell (module docstring).

    Arrays have one entry per judged check of the whole population: ``judge`` (0/1), ``human``
    (0/1, fractional for several people's mean, NaN where unlabelled or unsure), ``weight`` (1 /
    inclusion probability where labelled), ``cluster`` (the prompt). ``levels``: integer codes of
    the post-strata, finest first (e.g. run x requirement x verdict x source, then run x
    requirement x verdict, run x verdict, run). ``cell``: boolean mask of the cell's checks
    (default all). ``stats``: ``LevelStats`` of the same arrays, to share between cells.
    """
    f = np.asarray(judge, dtype=float)
    y = np.asarray(human, dtype=float)
    w = np.asarray(weight, dtype=float)
    if not (len(f) == len(y) == len(w) == len(cluster)) or any(len(c) != len(f) for c in levels):
        raise ValueError("judge, human, weight, cluster and every level need one entry per check")
    labelled = np.isfinite(y)
    if (labelled & ~(np.isfinite(w) & (w >= 1 - 1e-9))).any():
        raise ValueError("a labelled check needs a weight >= 1 (1 / inclusion probability)")
    stats = stats or LevelStats(levels, y, w)
    rows = np.flatnonzero(cell) if cell is not None else np.arange(len(f))
    _, prompt = np.unique(np.asarray(cluster, dtype=object)[rows], return_inverse=True)
    n_prompts = int(prompt.max()) + 1 if len(rows) else 0
    n = len(rows)
    fc = f[rows]
    raw = fc.mean() if n else np.nan
    scale = n_prompts / (n_prompts - 1) if n_prompts > 1 else np.nan
    sizes = np.bincount(prompt, minlength=n_prompts).astype(float)
    raw_se = float(np.sqrt(scale * np.sum((np.bincount(prompt, weights=fc, minlength=n_prompts) - raw * sizes) ** 2)) / n
                   ) if n else np.nan
    n_labels = int(labelled[rows].sum())
    if n == 0 or n_labels == 0:
        return CorrectedRate(np.nan, np.nan, np.nan, np.nan, np.nan, float(raw), raw_se, n, n_labels, n_prompts)

    # Each check's estimation unit: the finest level whose code holds enough labels.
    unit_level = np.full(n, -1)
    for level in range(len(levels)):
        free = unit_level < 0
        if not free.any():
            break
        enough = stats.n[level][levels[level][rows]] >= n_min
        unit_level[free & enough] = level
    if (unit_level < 0).any():
        return CorrectedRate(np.nan, np.nan, np.nan, np.nan, np.nan, float(raw), raw_se, n, n_labels, n_prompts)
    code = stats.stacked[unit_level, rows]
    unit_key = unit_level.astype(np.int64) * stats.n_codes + code
    units, unit_of = np.unique(unit_key, return_inverse=True)
    first = np.zeros(len(units), dtype=int)
    first[unit_of[::-1]] = np.arange(n)[::-1]
    lv, cd = unit_level[first], code[first]
    sw = np.array([stats.sw[a][b] for a, b in zip(lv, cd)])
    mean = np.array([stats.swy[a][b] for a, b in zip(lv, cd)]) / sw
    n_eff = sw**2 / np.array([stats.sw2[a][b] for a, b in zip(lv, cd)])
    share = np.bincount(unit_of, minlength=len(units)) / n
    theta = float(share @ mean)
    low_u, high_u = _jeffreys(mean * n_eff, n_eff, z)

    # Prompt sampling: imputed values, clustered, plus the residual covariance within prompts.
    yhat = mean[unit_of]
    totals = np.bincount(prompt, weights=yhat - theta, minlength=n_prompts)
    v1 = scale * float(np.sum(totals**2)) / n**2 if n_prompts > 1 else 0.0
    lab = labelled[rows]
    wl = np.where(lab, w[rows], 0.0)
    resid = np.where(lab, np.nan_to_num(y[rows]) - yhat, 0.0) * wl
    sd = np.sqrt(yhat * (1 - yhat))
    sdl = sd * wl

    def pair_sum(values: np.ndarray) -> float:
        return float(np.sum(np.bincount(prompt, weights=values, minlength=n_prompts) ** 2
                            - np.bincount(prompt, weights=values**2, minlength=n_prompts)))

    pairs = pair_sum(sdl)
    rho = float(np.clip(pair_sum(resid) / pairs, 0.0, 1.0)) if pairs > 0 else 0.0
    if rho > 0:
        v1 += rho * pair_sum(sd) / n**2
    down = np.sqrt(np.sum((share * (mean - low_u)) ** 2) + z**2 * v1)
    up = np.sqrt(np.sum((share * (high_u - mean)) ** 2) + z**2 * v1)
    label_var = float(np.sum(share**2 * mean * (1 - mean) / n_eff))
    smooth = (mean * n_eff + PLANNING_PSEUDO) / (n_eff + 2 * PLANNING_PSEUDO)
    label_se = float(np.sqrt(np.sum(share**2 * smooth * (1 - smooth) / n_eff)))
    return CorrectedRate(theta, float(np.clip(theta - down, 0, 1)), float(np.clip(theta + up, 0, 1)),
                         float(np.sqrt(label_var + v1)), np.nan, float(raw), raw_se, n, n_labels, n_prompts,
                         floor_se=float(np.sqrt(v1)), label_se=label_se)


def corrected_rates(frame: pd.DataFrame, by: str | Sequence[str], *, strata: Sequence[str] | None = None,
                    coarser: Sequence[Sequence[str]] = ()) -> pd.DataFrame:
    """A corrected rate per group of ``by`` over a frame of judged checks.

    ``frame``: one row per judged check with ``prompt_id``, ``judge`` (0/1), ``human`` (0/1,
    fractional or NaN) and ``weight`` (1 / inclusion probability where labelled). With
    ``strata`` (the labelling sample's strata, e.g. run x requirement x ``judge``), the
    post-stratified estimator of ``analysis.stratified`` with its MOVER-Wilson interval: each
    group is post-stratified by ``strata`` plus its own ``by`` columns, and a post-stratum
    without labels borrows from ``strata``, then from each of ``coarser`` in turn. Without
    ``strata``: ``ppi_mean`` (PPI++ with the tuned lambda) per group. Columns of the result: the
    group columns and every field of ``CorrectedRate``, plus ``few_labels`` (fewer than
    ``FEW_LABELS`` labels: read the interval with care).
    """
    by = [by] if isinstance(by, str) else list(by)
    rows = []
    groups = frame.groupby(by, sort=True, observed=True) if by else [((), frame)]
    if by:
        positions = frame.groupby(by, sort=True, observed=True).indices
    if strata is not None:
        finest = list(dict.fromkeys([*strata, *by]))
        levels = [_codes(frame, finest), _codes(frame, strata), *(_codes(frame, c) for c in coarser)]
        human, weight = frame["human"].to_numpy(float), frame["weight"].to_numpy(float)
        stats = LevelStats(levels, human, weight)
        judge, prompts = frame["judge"].to_numpy(float), frame["prompt_id"].to_numpy()
    for key, part in groups:
        key = key if isinstance(key, tuple) else (key,)
        if strata is None:
            estimate = ppi_mean(part["judge"].to_numpy(), part["human"].to_numpy(), part["weight"].to_numpy(),
                                part["prompt_id"].to_numpy())
        else:
            cell = np.zeros(len(frame), dtype=bool)
            cell[positions[key if len(key) > 1 else key[0]] if by else slice(None)] = True
            estimate = stratified_rate(judge, human, weight, prompts, levels, cell=cell, stats=stats)
        rows.append({**dict(zip(by, key)), **estimate.__dict__})
    out = pd.DataFrame(rows)
    if not out.empty:
        out["few_labels"] = out["n_labels"] < FEW_LABELS
    return out
