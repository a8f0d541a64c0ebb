"""Checks whose verdict was read doubtfully, set apart beside the authors' reading.

The authors' parser takes the first object it finds, so a response under test can choose its
own verdict and a cut-off or odd reply is still read (``judging.authors_parser``). Every
verdict carries its ``verdict_flags`` (``store.verdict_flags``); the authors' reading is kept for
the rate that reproduces their numbers, and this module gives the rate with the flagged checks
set apart (left out of numerator and denominator, counted), to show beside it.
"""

from __future__ import annotations

import pandas as pd

from ..store.verdict_flags import FLAGS, split_flags

FLAGGED = "flagged: a doubtful reading of the judge's reply"
"""Start of the ``error`` of a verdict set apart by ``set_flagged_apart``."""


def flagged(frame: pd.DataFrame) -> pd.Series:
    """Rows with a verdict whose reading is flagged (False where the frame records no flags)."""
    if "verdict_flags" not in frame.columns:
        return pd.Series(False, index=frame.index)
    return frame["violation"].notna() & frame["verdict_flags"].fillna("").astype(str).ne("")


def set_flagged_apart(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with flagged verdicts turned into checks without a verdict (error ``FLAGGED``
    and the flags), so every rate leaves them out and counts them; a copy when any is flagged."""
    rows = flagged(frame)
    if not rows.any():
        return frame
    out = frame.copy()
    out.loc[rows, "error"] = FLAGGED + " (" + out.loc[rows, "verdict_flags"].astype(str) + ")"
    out.loc[rows, "violation"] = float("nan")
    out.attrs = dict(frame.attrs)
    return out


def flag_counts(frame: pd.DataFrame) -> dict[str, int]:
    """Flag -> number of verdicts carrying it (every flag listed, 0 when absent)."""
    counts = dict.fromkeys(FLAGS, 0)
    if "verdict_flags" in frame.columns:
        for text in frame.loc[flagged(frame), "verdict_flags"]:
            for name in split_flags(text):
                counts[name] = counts.get(name, 0) + 1
    return counts


def flagged_note(model: str, n_flagged: int, authors_rate: float, apart_rate: float) -> str:
    """The sentence beside a rate with flagged checks."""
    checks = "check" if n_flagged == 1 else "checks"
    return (f"{model}: {n_flagged:,} {checks} read doubtfully by the authors' parser (see verdict_flags); "
            f"{100 * apart_rate:.1f}% with them set apart, {100 * authors_rate:.1f}% as the authors read them")
