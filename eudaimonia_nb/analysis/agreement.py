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


def sensitivity_specificity(both: np.ndarray | float, only_a: np.ndarray | float, only_b: np.ndarray | float,
                            neither: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """Sensitivity and specificity of rater A against rater B taken as the reference (a person).

    Sensitivity = P(A says violation | B says violation) = both / (both + only_b); specificity =
    P(A says no violation | B says none) = neither / (neither + only_a). NaN where the reference
    has no item of that kind. Vectorised like ``kappa_from_counts``; counts may be weighted.
    """
    both, only_a, only_b, neither = (np.asarray(x, dtype=float) for x in (both, only_a, only_b, neither))
    with np.errstate(invalid="ignore", divide="ignore"):
        positives, negatives = both + only_b, neither + only_a
        return (np.where(positives > 0, both / positives, np.nan),
                np.where(negatives > 0, neither / negatives, np.nan))


# ---------------------------------------------------------------- Krippendorff's alpha

def _unit_coincidences(data: np.ndarray) -> tuple[np.ndarray, int]:
    """Per unit, its contribution to the nominal coincidence matrix (flattened), and the number
    of categories. ``data`` is units x raters with NaN for a missing value; units with fewer
    than two values are not pairable and contribute nothing (Krippendorff 2011, step 2)."""
    data = np.asarray(data, dtype=float)
    if data.ndim != 2:
        raise ValueError(f"reliability data must be units x raters, got shape {data.shape}")
    values = np.unique(data[np.isfinite(data)])
    counts = np.stack([(data == v).sum(1) for v in values], axis=1).astype(float)  # units x categories
    m = counts.sum(1)
    pairable = m >= 2
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.where(pairable, 1.0 / (m - 1), 0.0)
    # o_ck from unit u: (n_uc n_uk - [c == k] n_uc) / (m_u - 1)
    outer = counts[:, :, None] * counts[:, None, :]
    outer -= counts[:, :, None] * np.eye(len(values))[None, :, :]
    return (outer * scale[:, None, None]).reshape(len(data), -1), len(values)


def _alpha_from_coincidences(coincidences: np.ndarray, n_categories: int) -> np.ndarray:
    """Nominal alpha from (possibly replicate-wise) coincidence matrices, ``... x k*k``."""
    o = np.asarray(coincidences, dtype=float).reshape(*np.shape(coincidences)[:-1], n_categories, n_categories)
    n_c = o.sum(-1)
    n = n_c.sum(-1)
    off = ~np.eye(n_categories, dtype=bool)
    observed = o[..., off].sum(-1)
    expected = (n_c[..., :, None] * n_c[..., None, :])[..., off].sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((n > 1) & (expected > 0), 1.0 - (n - 1) * observed / expected, np.nan)


def krippendorff_alpha(data: np.ndarray) -> float:
    """Krippendorff's alpha for nominal data with missing values.

    ``data``: units (rows) x raters (columns), any numeric category codes, NaN where a rater
    did not rate a unit. NaN when there is no pairable unit or only one category occurs.
    """
    per_unit, k = _unit_coincidences(data)
    if k == 0:
        return float("nan")
    return float(_alpha_from_coincidences(per_unit.sum(0), k))


# ---------------------------------------------------------------- prompt-clustered bootstrap

@dataclass(frozen=True)
class AgreementEstimate:
    """Agreement of rater A with rater B on paired binary labels, with 95% intervals from a
    bootstrap over prompts (checks of one prompt are resampled together)."""

    counts: Confusion
    """Unweighted confusion counts (how many items are behind the numbers)."""
    kappa: float
    """Cohen's kappa (design-weighted when weights were given)."""
    kappa_ci: tuple[float, float]
    """95% percentile interval of kappa."""
    sensitivity: float
    """Of B's violations, the share A also calls violations (B is the reference)."""
    sensitivity_ci: tuple[float, float]
    """95% percentile interval of the sensitivity."""
    specificity: float
    """Of B's non-violations, the share A also calls non-violations."""
    specificity_ci: tuple[float, float]
    """95% percentile interval of the specificity."""
    n_prompts: int
    """Distinct prompts (bootstrap clusters) behind the pairs."""


def _cells(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Items x 4 indicators of (both, only_a, only_b, neither)."""
    return np.stack([(a == 1) & (b == 1), (a == 1) & (b == 0), (a == 0) & (b == 1), (a == 0) & (b == 0)], 1).astype(float)


def _interval(draws: np.ndarray) -> tuple[float, float]:
    draws = draws[np.isfinite(draws)]
    if len(draws) == 0:
        return (float("nan"), float("nan"))
    return float(np.percentile(draws, 2.5)), float(np.percentile(draws, 97.5))


def bootstrap_agreement(a: np.ndarray, b: np.ndarray, prompt_id: np.ndarray, *, weights: np.ndarray | None = None,
                        n_boot: int = 1000, seed: int = 0) -> AgreementEstimate:
    """Kappa, sensitivity and specificity of A against B with prompt-bootstrap intervals.

    Pairs with a NaN are left out. ``weights`` (e.g. inverse inclusion probabilities of a
    stratified labelling sample) make the statistics estimate their values over the population
    the sample was drawn from rather than over the sample; counts stay unweighted.
    """
    from .rates import prompt_bootstrap_weights

    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    prompt_id = np.asarray(prompt_id)
    w = np.ones(len(a)) if weights is None else np.asarray(weights, dtype=float)
    ok = np.isfinite(a) & np.isfinite(b)
    counts = confusion(a[ok], b[ok])
    prompts, index = np.unique(prompt_id[ok], return_inverse=True)
    cells = _cells(a[ok], b[ok]) * w[ok, None]
    per_prompt = np.zeros((len(prompts), 4))
    np.add.at(per_prompt, index, cells)
    total = per_prompt.sum(0)
    kappa = float(kappa_from_counts(*total))
    sens, spec = (float(x) for x in sensitivity_specificity(*total))
    if len(prompts) == 0:
        nan2 = (float("nan"), float("nan"))
        return AgreementEstimate(counts, kappa, nan2, sens, nan2, spec, nan2, 0)
    draws = prompt_bootstrap_weights(np.zeros(len(prompts)), n_boot, seed) @ per_prompt  # n_boot x 4
    k_draws = kappa_from_counts(*draws.T)
    s_draws, p_draws = sensitivity_specificity(*draws.T)
    return AgreementEstimate(counts, kappa, _interval(k_draws), sens, _interval(s_draws), spec, _interval(p_draws),
                             len(prompts))


def bootstrap_alpha(data: np.ndarray, prompt_id: np.ndarray, *, n_boot: int = 1000,
                    seed: int = 0) -> tuple[float, tuple[float, float]]:
    """Krippendorff's alpha (nominal) of units x raters ``data`` with a 95% prompt-bootstrap
    interval (``prompt_id`` names each unit's prompt; units of a prompt are resampled together)."""
    from .rates import prompt_bootstrap_weights

    per_unit, k = _unit_coincidences(data)
    if k == 0 or len(per_unit) == 0:
        return float("nan"), (float("nan"), float("nan"))
    prompts, index = np.unique(np.asarray(prompt_id), return_inverse=True)
    per_prompt = np.zeros((len(prompts), per_unit.shape[1]))
    np.add.at(per_prompt, index, per_unit)
    alpha = float(_alpha_from_coincidences(per_prompt.sum(0), k))
    draws = _alpha_from_coincidences(prompt_bootstrap_weights(np.zeros(len(prompts)), n_boot, seed) @ per_prompt, k)
    return alpha, _interval(draws)


def majority_vote(data: np.ndarray) -> np.ndarray:
    """Per unit (row) of 0/1/NaN ``data``: 1 or 0 when more raters say so, NaN on a tie or no rating."""
    data = np.asarray(data, dtype=float)
    ones = (data == 1).sum(1)
    zeros = (data == 0).sum(1)
    return np.where(ones > zeros, 1.0, np.where(zeros > ones, 0.0, np.nan))
