"""One check as an Inspect ``Score`` and back: the contract the task, the export and the import share.

A check's score is keyed by its requirement key. Its ``value`` is 1 for a violation and 0 for
none; a check without a verdict (an unparseable judge reply, a failed judge call, no response to
judge) is Inspect's *unscored* (NaN, left out of Inspect's metrics) unless the errors convention
in force counts it (the authors' convention counts an unparseable reply as 0): the convention is
applied by ``analysis.conventions``, the same function the suite's rates use. Whatever the value,
``metadata["eudaimonia"]`` keeps the verdict record as the suite stored it (its error text, the
judge's raw reply, attempts, tokens and every other field of ``VerdictRecord`` but the few a
sample holds elsewhere), so an imported log holds the error itself and every convention can
still be applied to it in the analysis. A response's fields that an Inspect sample has no place
for (attempts, cached) travel the same way, in its output's ``metadata["eudaimonia"]``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import pandas as pd
from inspect_ai.scorer import Score

from eudaimonia_nb.analysis.conventions import ERRORS_APART, apply_convention, check_convention
from eudaimonia_nb.store.results import ResponseRecord, VerdictRecord

SCORE_METADATA = "eudaimonia"
"""Key of a score's metadata that holds the suite's verdict record."""
NO_RESPONSE_PREFIX = "no response to judge: "
"""Start of the error of a check that had no response to judge (``judging.recording``)."""
HELD_ELSEWHERE = frozenset({"prompt_id", "requirement", "reasoning", "response_sha256", "epoch", "judge_repeat"})
"""Verdict fields the score's record leaves out: the sample and the score's key say the check
(the sample's ``epoch`` its epoch; a sample holds one judge call per check), the explanation holds
the reasoning, and the import recomputes the response's hash. Every other field of
``VerdictRecord`` goes into the record, so a field the store gains travels too."""
RESPONSE_RECORDED = tuple(f.name for f in fields(ResponseRecord) if f.name not in
                          ("prompt_id", "text", "prompt_tokens", "completion_tokens", "latency_s", "finish_reason", "error",
                           "epoch"))
"""Response fields with no place of their own in an Inspect sample (attempts, cached, and any the
store gains): the export keeps them in the output's ``metadata["eudaimonia"]``, the import reads them back."""
_READ = ("violation", "error", "raw", "attempts", "prompt_tokens", "completion_tokens", "latency_s", "cached",
         "rubric_version")
"""The record's fields ``CheckResult`` names; any other is kept in ``CheckResult.recorded``."""


def convention_value(error: str, convention: str) -> float:
    """What a check without a verdict counts as under ``convention``: 0.0 or NaN (not counted)."""
    frame = pd.DataFrame({"violation": [math.nan], "error": [error]})
    return float(apply_convention(frame, check_convention(convention))["violation"].iloc[0])


def _reason(error: str) -> str:
    if error.startswith(NO_RESPONSE_PREFIX):
        return "no_response"
    return "grader_failed"  # an unparseable reply or a failed judge call: the instrument failed


def verdict_score(verdict: VerdictRecord, convention: str = ERRORS_APART) -> Score:
    """The Inspect score of one check result."""
    record = {f.name: getattr(verdict, f.name) for f in fields(VerdictRecord) if f.name not in HELD_ELSEWHERE}
    metadata = {SCORE_METADATA: record}
    if verdict.error is None:
        return Score(value=int(bool(verdict.violation)), explanation=verdict.reasoning, metadata=metadata)
    counted = convention_value(verdict.error, convention)
    if math.isnan(counted):
        return Score.unscored(reason=_reason(verdict.error), explanation=verdict.error, metadata=metadata)
    return Score(value=int(counted), reason=_reason(verdict.error), explanation=verdict.error, metadata=metadata)


class ScoreError(ValueError):
    """A score that is not a violation verdict (1, 0, true, false or unscored)."""


@dataclass(frozen=True)
class CheckResult:
    """What a score says about one check, read back for the store."""

    violation: bool | None
    """The verdict; None when the check has none (``error`` says why)."""
    error: str | None
    """Why there is no verdict."""
    reasoning: str | None
    """The judge's reasoning (the score's explanation)."""
    raw: str | None
    """The judge's raw reply, when the score kept it."""
    attempts: int
    """Judge calls made (1 when the score does not say)."""
    prompt_tokens: int
    """Judge input tokens (0 when the score does not say)."""
    completion_tokens: int
    """Judge output tokens (0 when the score does not say)."""
    latency_s: float
    """Wall time of the judge calls (0 when the score does not say)."""
    cached: bool
    """Answered from a cache."""
    rubric_version: str | None
    """Version of the rubric the judge saw, when the score says."""
    recorded: Mapping[str, Any] = field(default_factory=dict)
    """Any other field of the suite's verdict record the score holds (one a later version of the
    store records); the import keeps those its own ``VerdictRecord`` has."""


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _violation(value: Any) -> bool | None:
    """1/0 (int, float or bool) -> True/False; NaN or None -> None; anything else is refused."""
    if _is_missing(value):
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    raise ScoreError(f"value {value!r}: expected 1 (violation), 0 (no violation) or unscored (NaN)")


def check_result(score: Score) -> CheckResult:
    """Read one requirement's score: the suite's own record when the score carries it, else its
    value (1, 0, true, false) and explanation; an unscored value is an error that says so."""
    record = (score.metadata or {}).get(SCORE_METADATA)
    if isinstance(record, dict) and ("error" in record):
        error = record.get("error")
        violation = None if error is not None else _violation(record.get("violation", score.value))
        if error is None and violation is None:
            raise ScoreError(f"value {score.value!r} with no verdict and no error in metadata.{SCORE_METADATA}")
        return CheckResult(
            violation=violation, error=error, reasoning=None if error is not None else score.explanation,
            raw=record.get("raw"), attempts=int(record.get("attempts") or 0),
            prompt_tokens=int(record.get("prompt_tokens") or 0), completion_tokens=int(record.get("completion_tokens") or 0),
            latency_s=float(record.get("latency_s") or 0.0), cached=bool(record.get("cached")),
            rubric_version=record.get("rubric_version"),
            recorded={name: value for name, value in record.items() if name not in _READ},
        )
    violation = _violation(score.value)
    error = None
    if violation is None:
        why = score.explanation or score.reason or "no reason given"
        error = f"unscored in the Inspect log: {why}"
    return CheckResult(violation=violation, error=error, reasoning=score.explanation if error is None else None, raw=None,
                       attempts=1, prompt_tokens=0, completion_tokens=0, latency_s=0.0, cached=False, rubric_version=None)
