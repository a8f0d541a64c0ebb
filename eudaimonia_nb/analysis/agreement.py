"""Agreement between two raters of the same binary checks (a judge, another judge, a person).

One definition of the chance-corrected agreement statistics, used by the judge comparison
(two runs over the same responses) and by judge validity (judge versus human labels).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Confusion:
    """Counts of paired binary labels (1 = violation) from rater A and rater B."""

    both: int
    """A = 1 and B = 1."""
    only_a: int
    """A = 1, B = 0."""
    only_b: int
    """A = 0, B = 1."""
    neither: int
    """A = 0 and B = 0."""

    @property
    def n(self) -> int:
        return self.both + self.only_a + self.only_b + self.neither


def confusion(a: np.ndarray, b: np.ndarray) -> Confusion:
    """Confusion counts of two equally long 0/1 arrays (pairs with a NaN are left out)."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"rater arrays differ in length: {a.shape} vs {b.shape}")
    ok = np.isfinite(a) & np.isfinite(b)
    a, b = a[ok], b[ok]
    if not np.isin(a, (0.0, 1.0)).all() or not np.isin(b, (0.0, 1.0)).all():
        raise ValueError("labels must be 0, 1 or NaN")
    return Confusion(both=int(((a == 1) & (b == 1)).sum()), only_a=int(((a == 1) & (b == 0)).sum()),
                     only_b=int(((a == 0) & (b == 1)).sum()), neither=int(((a == 0) & (b == 0)).sum()))


def kappa_from_counts(both: np.ndarray | float, only_a: np.ndarray | float, only_b: np.ndarray | float,
                      neither: np.ndarray | float) -> np.ndarray:
    """Cohen's kappa from confusion counts; vectorised so bootstrap replicates are one call.

    NaN where it is undefined: no pairs, or both raters constant on the same label (expected
    agreement 1), where kappa is 0/0 rather than perfect or absent agreement.
    """
    both, only_a, only_b, neither = (np.asarray(x, dtype=float) for x in (both, only_a, only_b, neither))
    n = both + only_a + only_b + neither
    with np.errstate(invalid="ignore", divide="ignore"):
        observed = (both + neither) / n
        pa, pb = (both + only_a) / n, (both + only_b) / n
        expected = pa * pb + (1 - pa) * (1 - pb)
        return np.where((n > 0) & (expected < 1), (observed - expected) / (1 - expected), np.nan)


def cohen_kappa(a: np.ndarray, b: np.ndarray) -> float:
    """Cohen's kappa of two 0/1 label arrays (NaN pairs left out)."""
    c = confusion(a, b)
    return float(kappa_from_counts(c.both, c.only_a, c.only_b, c.neither))
