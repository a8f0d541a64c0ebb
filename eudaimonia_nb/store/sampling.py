"""Stratified, seeded samples of checks for human labelling, with inclusion probabilities.

Strata are usually requirement x judge verdict (within a run): judges' violations are rarer than
their passes, so a simple random sample would hold few of them, and sensitivity (how many true
violations the judge finds) could not be estimated. Allocation is equal across strata, capped at
a stratum's size (the spare labels go to the strata that still have items); within a stratum the
items are a simple random sample, so an item's inclusion probability is n_h / N_h. Estimates
weight each label by 1 / inclusion probability (Horvitz-Thompson).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def equal_allocation(sizes: Sequence[int], total: int) -> np.ndarray:
    """Labels per stratum: as equal as possible, never more than the stratum holds."""
    sizes = np.asarray(sizes, dtype=int)
    take = np.zeros(len(sizes), dtype=int)
    remaining = min(int(total), int(sizes.sum()))
    while remaining > 0:
        open_ = np.flatnonzero(take < sizes)
        share = max(remaining // len(open_), 1)
        for i in open_:
            add = min(share, sizes[i] - take[i], remaining)
            take[i] += add
            remaining -= add
            if remaining == 0:
                break
    return take


def sample_rows(keys: np.ndarray, size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row positions of a stratified sample of ``size`` (strata given by ``keys``, equal
    allocation), with each drawn row's stratum size N_h and stratum sample size n_h."""
    strata, index = np.unique(keys, return_inverse=True)
    members = [np.flatnonzero(index == h) for h in range(len(strata))]
    take = equal_allocation([len(m) for m in members], size)
    rows = [rng.choice(m, size=n_h, replace=False) for m, n_h in zip(members, take) if n_h]
    sizes = np.concatenate([np.full(n_h, len(m)) for m, n_h in zip(members, take) if n_h])
    taken = np.concatenate([np.full(n_h, n_h) for n_h in take if n_h])
    return np.concatenate(rows), sizes.astype(float), taken.astype(float)


def stratified_sample(frame: pd.DataFrame, strata: Sequence[str], size: int, seed: int = 0) -> pd.DataFrame:
    """A seeded stratified sample of ``frame``'s rows.

    Returns the sampled rows in a random (seeded) labelling order with ``stratum`` (the strata
    values joined by ``|``), ``stratum_size`` (N_h), ``stratum_sample`` (n_h) and
    ``inclusion_probability`` (n_h / N_h).
    """
    if size < 1:
        raise ValueError(f"sample size must be at least 1, got {size}")
    if frame.empty:
        raise ValueError("nothing to sample: no judged checks in the selection")
    rng = np.random.default_rng(seed)
    keys = frame[strata[0]].astype(str).to_numpy(dtype=object)
    for column in strata[1:]:
        keys = keys + "|" + frame[column].astype(str).to_numpy(dtype=object)
    rows, sizes, taken = sample_rows(keys, size, rng)
    sample = frame.iloc[rows].reset_index(drop=True).assign(
        stratum=keys[rows], stratum_size=sizes, stratum_sample=taken, inclusion_probability=taken / sizes)
    # Interleaved order: a labeller who stops early still leaves a sample spread over strata.
    return sample.iloc[rng.permutation(len(sample))].reset_index(drop=True)
