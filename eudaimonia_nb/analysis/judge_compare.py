"""Two runs over the same responses (a run and its rejudge): how do their verdicts differ?

For every requirement and overall:

- a flip table: checks both runs call a violation, only run A, only run B, neither (checks
  without a verdict in either run are left out and counted in ``n_unpaired``);
- agreement and Cohen's kappa (``analysis.agreement``) with 95% intervals;
- the paired difference in violation rates, B − A = (only B − only A) / pairs, with a 95%
  interval, McNemar's exact test (which treats checks as independent) and a prompt-clustered
  Wald test.

Intervals and the clustered test come from one bootstrap over prompts
(``rates.prompt_bootstrap_weights``: prompts resampled within source, every check of a drawn
prompt kept), because the checks of one prompt share a response and are correlated.
Assumptions: the two runs judged the same responses (a rejudge copies them); prompts are
independent of each other.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import binomtest

from ..benchmark.design_code import REQUIREMENT_KEYS
from .agreement import kappa_from_counts
from .rates import prompt_bootstrap_weights, two_sided_p

ALL = "all requirements"
"""The ``requirement`` value of the pooled row."""
_CELLS = ("both", "only_a", "only_b", "neither")


@dataclass(frozen=True)
class RunPair:
    """Run A (the source) and run B (its rejudge) as the frame labels them."""

    run_a: str
    """Source run id."""
    run_b: str
    """Rejudging run id."""
    label_a: str
    """Short description of A (protocol and judge)."""
    label_b: str
    """Short description of B."""


def find_pairs(records: list[dict] | None) -> list[RunPair]:
    """(source, rejudge) pairs among comparability records (``comparability.run_comparability``)
    whose two runs are both loaded."""
    if not records:
        return []
    by_id = {str(r["unit"]): r for r in records}
    pairs = []
    for record in records:
        source = record.get("rejudged_from")
        if isinstance(source, str) and source in by_id:
            a, b = by_id[source], record
            pairs.append(RunPair(source, str(record["unit"]), _label(a), _label(b)))
    return pairs


def _label(record: dict) -> str:
    return f"{record.get('protocol') or '?'} protocol, judge {record.get('judge_model') or '?'}"


def paired_verdicts(frame: pd.DataFrame, run_a: str, run_b: str) -> pd.DataFrame:
    """One row per check of either run: ``prompt_id``, ``requirement``, ``source``, ``a``, ``b``
    (1.0/0.0, NaN without a verdict)."""
    keys = ["prompt_id", "requirement", "source"]
    a = frame.loc[frame["run_id"] == run_a, [*keys, "violation"]].rename(columns={"violation": "a"})
    b = frame.loc[frame["run_id"] == run_b, [*keys, "violation"]].rename(columns={"violation": "b"})
    if a.empty or b.empty:
        raise ValueError(f"runs {run_a} and {run_b} must both be in the data to compare them")
    return a.merge(b, on=keys, how="outer")


def compare_runs(frame: pd.DataFrame, run_a: str, run_b: str, *, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Per requirement (and ``ALL``): the flip table, agreement and kappa with intervals, and the
    paired rate difference B − A with its interval and tests. Columns: ``requirement``,
    ``both``, ``only_a``, ``only_b``, ``neither``, ``n_pairs``, ``n_unpaired``, ``rate_a``,
    ``rate_b``, ``diff``, ``diff_ci_low``, ``diff_ci_high``, ``p_mcnemar``, ``p_clustered``,
    ``agreement``, ``agreement_ci_low``, ``agreement_ci_high``, ``kappa``, ``kappa_ci_low``,
    ``kappa_ci_high``."""
    paired = paired_verdicts(frame, run_a, run_b)
    both_judged = paired["a"].notna() & paired["b"].notna()
    prompts, prompt_idx = np.unique(paired["prompt_id"].astype(str), return_inverse=True)
    source = pd.Series(paired["source"].to_numpy()).groupby(prompt_idx).first().to_numpy()
    present = [k for k in REQUIREMENT_KEYS if k in set(paired["requirement"])]
    groups = [*present, ALL]
    # counts[cell] is groups x prompts: the bootstrap is then one matrix product per cell.
    a, b = paired["a"].to_numpy(), paired["b"].to_numpy()
    masks = {"both": (a == 1) & (b == 1), "only_a": (a == 1) & (b == 0), "only_b": (a == 0) & (b == 1),
             "neither": (a == 0) & (b == 0)}
    counts = {}
    for cell, mask in masks.items():
        rows = []
        for group in groups:
            in_group = mask & both_judged.to_numpy() & (True if group == ALL else (paired["requirement"] == group).to_numpy())
            rows.append(np.bincount(prompt_idx[in_group], minlength=len(prompts)))
        counts[cell] = np.asarray(rows, dtype=float)
    weights = prompt_bootstrap_weights(source, n_boot, seed)
    boot = {cell: weights @ counts[cell].T for cell in _CELLS}  # n_boot x groups
    point = {cell: counts[cell].sum(1) for cell in _CELLS}
    out = pd.DataFrame({"requirement": groups, **{c: point[c].astype(int) for c in _CELLS}})
    out["n_pairs"] = sum(point[c] for c in _CELLS).astype(int)
    unpaired = [(~both_judged & (True if g == ALL else paired["requirement"].eq(g))).sum() for g in groups]
    out["n_unpaired"] = np.asarray(unpaired, dtype=int)
    n, n_boot_pairs = out["n_pairs"].to_numpy(float), sum(boot[c] for c in _CELLS)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["rate_a"] = (point["both"] + point["only_a"]) / n
        out["rate_b"] = (point["both"] + point["only_b"]) / n
        diff = (point["only_b"] - point["only_a"]) / n
        diff_draws = (boot["only_b"] - boot["only_a"]) / n_boot_pairs
        agree = (point["both"] + point["neither"]) / n
        agree_draws = (boot["both"] + boot["neither"]) / n_boot_pairs
    kappa = kappa_from_counts(*(point[c] for c in _CELLS))
    kappa_draws = kappa_from_counts(*(boot[c] for c in _CELLS))
    out["diff"] = diff
    out["diff_ci_low"], out["diff_ci_high"] = _interval(diff_draws)
    out["p_mcnemar"] = [_mcnemar(int(x), int(y)) for x, y in zip(point["only_a"], point["only_b"])]
    se = np.nanstd(diff_draws, axis=0, ddof=1) if n_boot > 1 else np.full(len(groups), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["p_clustered"] = np.where(se > 0, two_sided_p(diff / se), np.where(diff == 0, 1.0, np.nan))
    out["agreement"] = agree
    out["agreement_ci_low"], out["agreement_ci_high"] = _interval(agree_draws)
    out["kappa"] = kappa
    out["kappa_ci_low"], out["kappa_ci_high"] = _interval(kappa_draws)
    out.attrs["runs"] = (run_a, run_b)
    return out


def _interval(draws: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """95% percentile interval per column; NaN where every replicate is undefined."""
    if draws.shape[0] == 0:
        nan = np.full(draws.shape[1], np.nan)
        return nan, nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns (kappa undefined) stay NaN
        return np.nanpercentile(draws, 2.5, axis=0), np.nanpercentile(draws, 97.5, axis=0)


def _mcnemar(only_a: int, only_b: int) -> float:
    """Exact McNemar test: discordant checks split as a fair coin under "same rate"."""
    discordant = only_a + only_b
    if discordant == 0:
        return 1.0
    return float(binomtest(only_b, discordant, 0.5).pvalue)
