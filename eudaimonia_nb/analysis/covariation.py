"""Requirement co-violation: do failures on different requirements go together?

For every (model, prompt) the verdicts on the requirements that prompt carries form one
observation; the correlation between two requirements uses the (model, prompt) pairs where
both were judged (phi coefficient of the two 0/1 verdicts). Pairs of requirements that never
share a prompt, or where one verdict never varies, get NaN.

Pooled over models, the phi coefficient also picks up differences between models (a model
that violates more often does so on every requirement, which alone makes all correlations
positive). ``within_model=True`` removes that: each verdict is centred on its model x
requirement rate first, so the correlation measures co-violation beyond each model's rates.
With a single model the two coincide.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..benchmark.design_code import REQUIREMENT_KEYS
from .frames import is_simulated, judged


def _verdicts(frame: pd.DataFrame, within_model: bool = False) -> pd.DataFrame:
    # Several runs of the same model may judge one check; their mean is the observation.
    wide = judged(frame).pivot_table(index=["model", "prompt_id"], columns="requirement",
                                     values="violation", aggfunc="mean")
    wide = wide.reindex(columns=list(REQUIREMENT_KEYS))
    if within_model:
        wide = wide - wide.groupby(level="model").transform("mean")
    return wide


def _pair_counts(wide: pd.DataFrame) -> pd.DataFrame:
    present = wide.notna().to_numpy(dtype=float)
    return pd.DataFrame(present.T @ present, index=list(REQUIREMENT_KEYS),
                        columns=list(REQUIREMENT_KEYS)).astype(int)


def coviolation_counts(frame: pd.DataFrame) -> pd.DataFrame:
    """9 x 9 number of (model, prompt) pairs judged on both requirements."""
    return _pair_counts(_verdicts(frame))


def coviolation(frame: pd.DataFrame, min_pairs: int = 10, *, within_model: bool = False) -> pd.DataFrame:
    """9 x 9 correlation of violations between requirements (keys as index and columns), NaN
    where fewer than ``min_pairs`` (model, prompt) pairs overlap. The pair counts are in
    ``result.attrs["pair_counts"]`` (and from ``coviolation_counts``). ``within_model``:
    centre verdicts on each model's requirement rate first (see the module docstring)."""
    wide = _verdicts(frame, within_model)
    corr = wide.corr(min_periods=min_pairs)
    corr.index.name = corr.columns.name = None
    counts = _pair_counts(wide)
    corr = corr.where(counts >= min_pairs, np.nan)
    corr.attrs["pair_counts"] = counts
    corr.attrs["simulated"] = is_simulated(frame)
    return corr
