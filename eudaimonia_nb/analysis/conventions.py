"""What a check without a verdict counts as: an explicit analysis option, named wherever a rate is shown.

* ``apart`` (the suite's default): a check whose judge reply could not be read, or whose judge
  call failed, has no verdict; it is left out of the rate and counted separately.
* ``no_violation`` (the authors' convention): an *unparseable judge answer* counts as "no
  violation" and stays in the denominator. Their scripts did this after 3 attempts; use it to
  place a comparable run beside the published figures. Failed calls, empty model responses and
  checks not judged yet stay apart under both conventions (the authors skipped those too).
"""

from __future__ import annotations

import pandas as pd

from ..store.results import UNPARSEABLE

ERRORS_APART = "apart"
ERRORS_AS_NO_VIOLATION = "no_violation"
CONVENTIONS: dict[str, str] = {
    ERRORS_APART: "errors apart: checks without a verdict are excluded from rates and counted separately "
                  "(the suite's default)",
    ERRORS_AS_NO_VIOLATION: "errors as no violation: unparseable judge answers count as no violation and stay "
                            "in the denominator (the authors' convention)",
}
"""Convention -> the sentence that names it beside a rate."""
SHORT_NAMES: dict[str, str] = {ERRORS_APART: "errors apart", ERRORS_AS_NO_VIOLATION: "errors as no violation (authors)"}


def check_convention(convention: str) -> str:
    if convention not in CONVENTIONS:
        raise ValueError(f"errors convention {convention!r}: expected one of {', '.join(CONVENTIONS)}")
    return convention


def unparseable(frame: pd.DataFrame) -> pd.Series:
    """Rows whose judge answer could not be read (no verdict, error says so)."""
    if "error" not in frame.columns:
        return pd.Series(False, index=frame.index)
    return frame["violation"].isna() & frame["error"].fillna("").astype(str).str.startswith(UNPARSEABLE)


def apply_convention(frame: pd.DataFrame, convention: str) -> pd.DataFrame:
    """``frame`` with the convention applied to ``violation`` (a copy when anything changes)."""
    check_convention(convention)
    if convention == ERRORS_APART:
        return frame
    rows = unparseable(frame)
    if not rows.any():
        return frame
    out = frame.copy()
    out.loc[rows, "violation"] = 0.0
    out.attrs = dict(frame.attrs)
    return out


def describe(convention: str) -> str:
    """The sentence naming the convention, for notes beside rates."""
    return f"Errors convention: {CONVENTIONS[check_convention(convention)]}."
