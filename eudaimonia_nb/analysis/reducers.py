"""Reducers: the verdicts of a check's epochs and judge repeats made into one verdict.

A run with ``--epochs K --judge-repeats J`` holds K x J verdicts per check (``epoch`` and
``judge_repeat`` columns of the judgments table); every rate, interval, test and model of the
suite works on one row per model x prompt x requirement, so the repeats are reduced first, by a
named reducer (as Inspect's epoch reducers), which is recorded beside the numbers:

- ``mean`` (default): the share of violations, averaged first over a response's judge calls,
  then over the responses (epochs), so every response weighs the same. A fraction between 0 and
  1: a rate is then the mean over checks of each check's expected verdict, and its interval,
  still clustered by prompt, is narrower than one verdict per check allows (the point of
  repeats). The mixed model reads a fraction as a quasi-binomial response.
- ``majority``: a violation when more than half of the check's verdicts say so (a tie, possible
  with an even number of verdicts, is no violation); 0 or 1.
- ``any``: a violation when any verdict says so (``pass@k``-like for harm: the worst draw).
- ``all``: a violation only when every verdict says so.

Verdicts missing (judge errors, not judged yet) are left out of the reduction; a check with no
verdict at all keeps the first reason it has none. A table without repeats is returned as it is
(same rows, same numbers), so runs made with the defaults analyse exactly as before.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

REDUCERS = ("mean", "majority", "any", "all")
"""Reducer names; the first is the default."""
DEFAULT_REDUCER = REDUCERS[0]
REPEAT_COLUMNS = ("epoch", "judge_repeat")
"""Columns that number a check's repeated verdicts."""
REDUCER_ATTR = "reducer"
"""``frame.attrs`` key (and column) naming the reducer a reduced table was made with."""
REPEATS_ATTR = "repeats"
"""``frame.attrs`` key of ``{"epochs": K, "judge_repeats": J}``: the most of each a check had."""
CHECK_KEY = ("model", "prompt_id", "requirement")
"""What identifies one check of one model; ``run_id`` and ``condition`` join it when present (a
study's runs share the model's name across conditions)."""


def _check_key(frame: pd.DataFrame) -> list[str]:
    return [*CHECK_KEY, *(c for c in ("run_id", "condition") if c in frame.columns)]


def check_reducer(name: str) -> str:
    """``name`` if it is a reducer, else ``ValueError`` listing them."""
    if name not in REDUCERS:
        raise ValueError(f"unknown reducer {name!r}; expected one of {', '.join(REDUCERS)}")
    return name


def repeat_counts(frame: pd.DataFrame) -> dict[str, int]:
    """``{"epochs": K, "judge_repeats": J}``: the largest epoch and judge repeat in ``frame`` (1 when
    it has no such columns)."""
    counts = {}
    for column, name in zip(REPEAT_COLUMNS, ("epochs", "judge_repeats")):
        counts[name] = int(frame[column].max()) if column in frame.columns and len(frame) else 1
    return counts


def has_repeats(frame: pd.DataFrame) -> bool:
    """Whether any check of ``frame`` has more than one epoch or judge repeat."""
    return any(value > 1 for value in repeat_counts(frame).values())


def describe_reduction(frame: pd.DataFrame) -> str:
    """One sentence on how a reduced table's verdicts were made ("" for a table without repeats)."""
    name = frame.attrs.get(REDUCER_ATTR)
    counts = frame.attrs.get(REPEATS_ATTR) or {}
    if not name:
        return ""
    parts = [f"{counts.get('epochs', 1)} epoch{'s' if counts.get('epochs', 1) != 1 else ''}",
             f"{counts.get('judge_repeats', 1)} judge call{'s' if counts.get('judge_repeats', 1) != 1 else ''} per response"]
    what = {"mean": "the mean of its verdicts (the share of violations, a fraction)",
            "majority": "the majority of its verdicts (a tie is no violation)",
            "any": "any of its verdicts (a violation if one says so)",
            "all": "all of its verdicts (a violation only if every one says so)"}[name]
    return (f"Repeated verdicts: up to {parts[0]} and {parts[1]}; each check counts once, as {what}: "
            f"reducer <code>{name}</code>.")


def reduce_repeats(frame: pd.DataFrame, reducer: str = DEFAULT_REDUCER) -> pd.DataFrame:
    """One row per model x prompt x requirement: ``violation`` reduced over the check's epochs and
    judge repeats by ``reducer`` (see the module docstring), ``n_verdicts`` the verdicts it was
    made of, the ``reducer`` named in a column and in ``attrs``. Other columns are those of the
    check's first row (epoch 1, repeat 1: its response text, for instance). A table without
    repeats comes back unchanged."""
    check_reducer(reducer)
    if not has_repeats(frame):
        return frame
    counts = repeat_counts(frame)
    work = frame.reset_index(drop=True)
    # Each check's first row is then its epoch 1, repeat 1 (the store's order already).
    work = work.sort_values([c for c in REPEAT_COLUMNS if c in work.columns], kind="stable")
    check = work.groupby(_check_key(work), sort=False, observed=True, dropna=False).ngroup().to_numpy()
    y = work["violation"].to_numpy(dtype=float)
    judged = ~np.isnan(y)
    n_checks = int(check.max()) + 1 if len(check) else 0
    n = np.bincount(check, weights=judged, minlength=n_checks)
    k = np.bincount(check, weights=np.where(judged, y, 0.0), minlength=n_checks)
    with np.errstate(invalid="ignore", divide="ignore"):
        if reducer == "mean":
            value = _mean_of_means(work, check, y, judged, n_checks)
        elif reducer == "majority":
            value = (k > n / 2).astype(float)
        elif reducer == "any":
            value = (k > 0).astype(float)
        else:
            value = (k == n).astype(float)
    value = np.where(n > 0, value, np.nan)
    first = work.groupby(check, sort=True).head(1)
    # A check with a verdict has no error; one without keeps the reason of its first row.
    first_error = work["error"].where(~judged).groupby(check).first() if "error" in work.columns else None
    out = first.drop(columns=[c for c in REPEAT_COLUMNS if c in first.columns]).reset_index(drop=True)
    out["violation"] = value
    out["n_verdicts"] = n.astype(int)
    if first_error is not None:
        out["error"] = np.where(n > 0, "", first_error.reindex(range(n_checks)).fillna("").to_numpy())
    out[REDUCER_ATTR] = reducer
    # Back in the table's own order (run by run, check by check), as a table without repeats.
    out = out.iloc[np.argsort(first.index.to_numpy(), kind="stable")].reset_index(drop=True)
    out.attrs = {**frame.attrs, REDUCER_ATTR: reducer, REPEATS_ATTR: counts}
    return out


def _mean_of_means(work: pd.DataFrame, check: np.ndarray, y: np.ndarray, judged: np.ndarray, n_checks: int) -> np.ndarray:
    """Per check, the mean over its responses of the mean over each response's judge calls."""
    epoch = work["epoch"].to_numpy(dtype=np.int64) if "epoch" in work.columns else np.ones(len(work), dtype=np.int64)
    response = pd.factorize(check.astype(np.int64) * (int(epoch.max()) + 1) + epoch)[0]
    n_r = np.bincount(response, weights=judged)
    k_r = np.bincount(response, weights=np.where(judged, y, 0.0))
    check_of = np.zeros(len(n_r), dtype=int)
    check_of[response] = check
    share = np.divide(k_r, n_r, out=np.zeros_like(k_r), where=n_r > 0)
    responses = np.bincount(check_of, weights=n_r > 0, minlength=n_checks)
    total = np.bincount(check_of, weights=np.where(n_r > 0, share, 0.0), minlength=n_checks)
    return np.divide(total, responses, out=np.full(n_checks, np.nan), where=responses > 0)


def allows_fractions(frame: pd.DataFrame) -> np.ndarray:
    """Rows whose ``violation`` may be a fraction: those reduced by ``mean``."""
    if REDUCER_ATTR not in frame.columns:
        return np.zeros(len(frame), dtype=bool)
    return frame[REDUCER_ATTR].to_numpy() == "mean"
