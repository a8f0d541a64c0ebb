"""What the results store holds, one dataclass per row kind (``RunRecord``, ``ResponseRecord``,
``VerdictRecord``), and the error texts that mark a check without a verdict. Plain data: the
store (``results``) writes them, the judging stage makes them."""

from __future__ import annotations

from dataclasses import dataclass

PENDING = "not judged yet"
"""The error text of a planned check that has no result (the run was interrupted)."""
UNPARSEABLE = "unparseable judge reply"
"""Start of the error text of a check whose judge reply held no verdict (the authors counted
these as "no violation"; see ``analysis.conventions``)."""
JUDGE_FAILED = "judge call failed"
"""Start of the error text of a check whose judge call failed (the authors counted these as
"no violation" too)."""
NO_RESPONSE = "no response to judge"
"""Start of the error text of a check never judged because the model gave no response (the
authors left these out)."""


@dataclass(frozen=True)
class RunRecord:
    """What a run is: enough to say how its numbers were made and to rerun it."""

    run_id: str
    """Deterministic id derived from the configuration, data and rubrics."""
    model: str
    """Model under test."""
    base_url: str
    """Its endpoint, without credentials or query string."""
    judge_model: str
    """The judge model."""
    judge_base_url: str
    """The judge endpoint, without credentials or query string."""
    parameters: str
    """JSON of every run parameter (never a key; only key variable names)."""
    rubric_versions: str
    """JSON: requirement key -> rubric version hash."""
    dataset_sha256: str
    """SHA-256 of the benchmark file."""
    package_version: str
    """eudaimonia-nb version that ran it."""
    smoke_test: bool
    """True for the local SmolLM2 smoke-test model: its verdicts are not research results."""


@dataclass(frozen=True)
class ResponseRecord:
    """One model response (or the reason there is none)."""

    prompt_id: str
    """Benchmark prompt id."""
    text: str | None
    """The response, None on error."""
    prompt_tokens: int
    """Input tokens reported."""
    completion_tokens: int
    """Output tokens reported."""
    latency_s: float
    """Wall time including retries."""
    finish_reason: str | None
    """As reported by the endpoint."""
    attempts: int
    """HTTP attempts (0 when cached)."""
    cached: bool
    """Answered from the request cache."""
    error: str | None
    """Why there is no response, secrets removed."""
    epoch: int = 1
    """Which of the run's responses to this prompt it is (1 to the run's ``epochs``)."""
    reasoning_repr: bool = False
    """True when ``text`` is the authors' repr of a reply with empty content and reasoning text
    (``judging.protocols``: what their pipeline stored and judged for such a reply)."""


@dataclass(frozen=True)
class VerdictRecord:
    """One judged check, or the reason it has no verdict."""

    prompt_id: str
    """Benchmark prompt id."""
    requirement: str
    """Requirement key."""
    violation: bool | None
    """The verdict; None exactly when ``error`` is set."""
    reasoning: str | None
    """The judge's reasoning."""
    raw: str | None
    """The judge's raw reply (kept for errors too, to show what could not be parsed)."""
    prompt_tokens: int
    """Judge input tokens."""
    completion_tokens: int
    """Judge output tokens."""
    latency_s: float
    """Wall time including retries."""
    attempts: int
    """HTTP attempts (0 when cached)."""
    cached: bool
    """Answered from the request cache."""
    error: str | None
    """Why there is no verdict."""
    rubric_version: str
    """Hash of the rubric the judge saw."""
    response_sha256: str | None = None
    """SHA-256 of the response text judged (``response_sha256``); the store refuses a verdict
    whose hash differs from the stored response. None when there was no response to judge."""
    epoch: int = 1
    """The epoch of the response judged (1 to the run's ``epochs``)."""
    judge_repeat: int = 1
    """Which of the judge's calls on that response it is (1 to the run's ``judge_repeats``)."""
    parse_path: str | None = None
    """Which reading produced the verdict (``verdict_flags.PARSE_PATHS``); None for an error or
    the suite protocol's strict parser."""
    verdict_flags: str = ""
    """Why the reading is doubtful, ``;``-separated (``verdict_flags.FLAGS``); "" when clean."""
