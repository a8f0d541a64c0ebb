"""What a batch dialect offers the executor, and the records they exchange.

A dialect speaks one provider's batch API through its official SDK; it knows nothing of runs,
ledgers or stores. The executor hands it ``BatchLine``s (a custom id and the live run's
``ChatRequest``), and gets back ``RemoteBatch`` snapshots and, once a batch ended, one
``LineOutcome`` per line it returned. Every completion body a dialect receives is read by
``client._parse_completion``, the live path's own reader, so both paths share its checks.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ...credentials import Redactor
from ...store.batch_ledger import LineOutcome
from ..client import CallFailure, ChatRequest, _is_retryable_status, _parse_completion, _short

DIALECTS = ("openai", "anthropic", "openrouter")
"""The batch dialects, by the name ``--batch`` takes."""
LIVE = "live"
"""The mode of calls made one by one (the default)."""
CUSTOM_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
"""The strictest provider rule on custom ids (Anthropic's); every id ``custom_id`` makes obeys it."""
TERMINAL = "ended"
"""``RemoteBatch.state`` of a batch that will change no more."""


def custom_id(key: Sequence[str | int], attempt: int) -> str:
    """The id of the ``attempt``-th line sent for ``key`` (run id, role, prompt id, requirement,
    and whatever a check key grows to hold: epochs, judge repeats). Deterministic, so a rerun
    after a crash sends the same ids; distinct keys and attempts give distinct ids."""
    if attempt < 1:
        raise ValueError(f"attempt must be >= 1, got {attempt}")
    blob = json.dumps([str(part) for part in key], ensure_ascii=False, separators=(",", ":"))
    return f"eu-{hashlib.sha256(blob.encode('utf-8')).hexdigest()[:40]}-{attempt}"


def ids_sha256(custom_ids: Iterable[str]) -> str:
    """SHA-256 of a batch's custom ids (sorted), sent as metadata where a dialect allows it."""
    return hashlib.sha256("\n".join(sorted(custom_ids)).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class BatchLine:
    """One request of a batch."""

    custom_id: str
    """``custom_id`` of its key and attempt."""
    request: ChatRequest
    """Exactly the request a live run makes for the same call."""


@dataclass(frozen=True)
class BatchTag:
    """What identifies a batch as ours at the provider (as metadata, where the dialect has it)."""

    tag: str
    """Random, recorded in the ledger with the intent."""
    run_id: str
    """The run."""
    phase: str
    """``respond`` or ``judge``."""
    ids_sha256: str
    """``ids_sha256`` of its lines."""

    def metadata(self) -> dict[str, str]:
        """At most 16 pairs, keys up to 64 characters and values up to 512 (OpenAI's limits)."""
        return {"eudaimonia_tag": self.tag, "eudaimonia_run": self.run_id[:512], "eudaimonia_phase": self.phase,
                "eudaimonia_ids_sha256": self.ids_sha256}


@dataclass(frozen=True)
class RemoteBatch:
    """A batch as the provider reported it."""

    batch_id: str
    """The provider's id."""
    status: str
    """The provider's own word (``in_progress``, ``ended``, ``completed``, ``expired``...)."""
    state: str
    """``open`` or ``ended`` (``TERMINAL``): will it change again?"""
    counts: dict[str, int] = field(default_factory=dict)
    """The provider's request counts, under its own names."""
    created_at: float | None = None
    """Unix time of creation, as the provider reports it."""
    n_requests: int | None = None
    """Lines in the batch, when the provider says."""
    model: str | None = None
    """Batch-level model, where the dialect has one."""
    tag: str | None = None
    """Our tag read back from the batch's metadata; None where the dialect keeps no metadata."""
    raw: dict = field(default_factory=dict, repr=False)
    """What the dialect needs later (file ids, inline results)."""

    @property
    def ended(self) -> bool:
        return self.state == TERMINAL


class BatchAPIError(RuntimeError):
    """A batch API call failed (secrets removed); ``retryable`` says whether trying later can help."""

    def __init__(self, reason: str, *, retryable: bool):
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable


class Dialect(Protocol):
    """One provider's batch API."""

    name: str
    """``openai``, ``anthropic`` or ``openrouter``."""
    endpoint: str
    """The endpoint, without credentials or query (for the ledger and messages)."""
    max_requests: int
    """Most lines one batch may hold."""
    max_bytes: int
    """Largest batch, in bytes of its lines as sent."""
    has_metadata: bool
    """Whether a batch carries our ``BatchTag`` (else reconciliation goes by size and time)."""

    def line_bytes(self, line: BatchLine) -> int:
        """Size of the line as it would be sent."""
        ...

    async def submit(self, lines: Sequence[BatchLine], tag: BatchTag) -> RemoteBatch: ...

    async def retrieve(self, batch_id: str) -> RemoteBatch: ...

    async def results(self, batch: RemoteBatch) -> dict[str, LineOutcome]:
        """custom_id -> outcome of every line the ended batch returned."""
        ...

    async def recent(self, since: float) -> list[RemoteBatch]:
        """The account's batches created at or after ``since`` (newest first), for reconciliation."""
        ...

    async def cancel(self, batch_id: str) -> RemoteBatch: ...

    async def aclose(self) -> None: ...


def completion_outcome(custom_id: str, body: object, redact: Redactor) -> LineOutcome:
    """A chat-completion body that came back in a batch, read by the live path's reader."""
    try:
        reply = _parse_completion(body if isinstance(body, str) else json.dumps(body), 0.0)
    except CallFailure as failure:
        return LineOutcome(custom_id, "errored", error=redact(failure.reason), retryable=failure.retryable)
    text = None if reply.text is None else redact.known(reply.text)
    reasoning = None if reply.reasoning is None else redact.known(reply.reasoning)
    return LineOutcome(custom_id, "succeeded", text=text, finish_reason=reply.finish_reason,
                       prompt_tokens=reply.usage.prompt_tokens, completion_tokens=reply.usage.completion_tokens,
                       reasoning=reasoning)


def status_outcome(custom_id: str, status: int, body: object, redact: Redactor) -> LineOutcome:
    """A line the provider answered with a non-200 status (as a live call would have been)."""
    detail = body if isinstance(body, str) else json.dumps(body)  # the body's text, as a live call reports it
    return LineOutcome(custom_id, "errored", error=redact(f"HTTP {status}: {_short(detail)}"),
                       retryable=_is_retryable_status(status))


def missing_outcome(custom_id: str, why: str, *, outcome: str = "missing", retryable: bool = True) -> LineOutcome:
    """A line the ended batch returned nothing for (expired, cancelled, a failed batch)."""
    return LineOutcome(custom_id, outcome, error=why, retryable=retryable)
