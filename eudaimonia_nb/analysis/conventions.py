"""What a check without a verdict counts as: an explicit analysis option, named wherever a rate is shown.

| convention | unparseable judge answer | failed judge call | failed or empty model response, not judged yet |
|---|---|---|---|
| ``apart`` (the suite's default) | left out, counted | left out, counted | left out, counted |
| ``no_violation`` | no violation | left out, counted | left out, counted |
| ``authors`` (default under the authors' protocol) | no violation | no violation | left out, counted |

* ``apart``: a check whose judge reply could not be read, or whose judge call failed, has no
  verdict; it is left out of the rate and counted separately.
* ``no_violation``: an *unparseable judge answer* counts as "no violation" and stays in the
  denominator; failed judge calls stay apart.
* ``authors``: what the authors' pipeline did (their ``analyze_results`` counted a judge output
  without ``keep`` as no violation): unparseable answers **and failed judge calls** count as no
  violation. Failed or empty model responses were never judged and are left out, as they were.

Checks not judged yet (an interrupted run) are left out under every convention.
"""

from __future__ import annotations

import pandas as pd

from ..store.results import JUDGE_FAILED, UNPARSEABLE

ERRORS_APART = "apart"
ERRORS_AS_NO_VIOLATION = "no_violation"
ERRORS_AUTHORS = "authors"
CONVENTIONS: dict[str, str] = {
    ERRORS_APART: "errors apart: checks without a verdict are excluded from rates and counted separately "
                  "(the suite's default)",
    ERRORS_AS_NO_VIOLATION: "unparseable as no violation: unparseable judge answers count as no violation and stay "
                            "in the denominator; failed judge calls and missing responses are excluded",
    ERRORS_AUTHORS: "the authors' convention: unparseable judge answers and failed judge calls count as no "
                    "violation and stay in the denominator; failed or empty model responses are excluded",
}
"""Convention -> the sentence that names it beside a rate."""
SHORT_NAMES: dict[str, str] = {ERRORS_APART: "errors apart", ERRORS_AS_NO_VIOLATION: "unparseable as no violation",
                               ERRORS_AUTHORS: "authors' convention (judge errors as no violation)"}


def check_convention(convention: str) -> str:
    if convention not in CONVENTIONS:
        raise ValueError(f"errors convention {convention!r}: expected one of {', '.join(CONVENTIONS)}")
    return convention


def _errors(frame: pd.DataFrame) -> pd.Series:
    if "error" not in frame.columns:
        return pd.Series("", index=frame.index)
    return frame["error"].fillna("").astype(str)


def unparseable(frame: pd.DataFrame) -> pd.Series:
    """Rows whose judge answer could not be read (no verdict, error says so)."""
    return frame["violation"].isna() & _errors(frame).str.startswith(UNPARSEABLE)


def judge_errors(frame: pd.DataFrame) -> pd.Series:
    """Rows without a verdict because of the judge: unparseable answers and failed judge calls."""
    errors = _errors(frame)
    return frame["violation"].isna() & (errors.str.startswith(UNPARSEABLE) | errors.str.startswith(JUDGE_FAILED))


def apply_convention(frame: pd.DataFrame, convention: str) -> pd.DataFrame:
    """``frame`` with the convention applied to ``violation`` (a copy when anything changes)."""
    check_convention(convention)
    if convention == ERRORS_APART:
        return frame
    rows = unparseable(frame) if convention == ERRORS_AS_NO_VIOLATION else judge_errors(frame)
    if not rows.any():
        return frame
    out = frame.copy()
    out.loc[rows, "violation"] = 0.0
    out.attrs = dict(frame.attrs)
    return out


def describe(convention: str) -> str:
    """The sentence naming the convention, for notes beside rates."""
    return f"Errors convention: {CONVENTIONS[check_convention(convention)]}."
