"""Requirement co-violation: do failures on different requirements go together?

For every (model, prompt) the verdicts on the requirements that prompt carries form one
observation; the correlation between two requirements uses the (model, prompt) pairs where
both were judged (phi coefficient of the two 0/1 verdicts). Pairs of requirements that never
share a prompt, or where one verdict never varies, get NaN.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..design_code import REQUIREMENT_KEYS
from .frames import judged


def _verdicts(frame: pd.DataFrame) -> pd.DataFrame:
    # Several runs of the same model may judge one check; their mean is the observation.
    wide = judged(frame).pivot_table(index=["model", "prompt_id"], columns="requirement",
                                     values="violation", aggfunc="mean")
    return wide.reindex(columns=list(REQUIREMENT_KEYS))


def coviolation_counts(frame: pd.DataFrame) -> pd.DataFrame:
    """9 x 9 number of (model, prompt) pairs judged on both requirements."""
    present = _verdicts(frame).notna().to_numpy(dtype=float)
    return pd.DataFrame(present.T @ present, index=list(REQUIREMENT_KEYS),
                        columns=list(REQUIREMENT_KEYS)).astype(int)


def coviolation(frame: pd.DataFrame, min_pairs: int = 10) -> pd.DataFrame:
    """9 x 9 correlation of violations between requirements (keys as index and columns), NaN
    where fewer than ``min_pairs`` (model, prompt) pairs overlap. The pair counts are in
    ``result.attrs["pair_counts"]`` (and from ``coviolation_counts``)."""
    wide = _verdicts(frame)
    corr = wide.corr(min_periods=min_pairs)
    corr.index.name = corr.columns.name = None
    counts = coviolation_counts(frame)
    corr = corr.where(counts >= min_pairs, np.nan)
    corr.attrs["pair_counts"] = counts
    corr.attrs["simulated"] = bool(frame.attrs.get("simulated", False))
    return corr
