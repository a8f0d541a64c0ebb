"""The typed contract of a chat-completion call, shared by models under test and judges: what
is asked (``ChatRequest``), what comes back (``ChatResponse``, ``Usage``), how one attempt fails
(``CallFailure``), and the two protocols a transport (``Provider``) and a client (``ChatClient``)
follow. A judge is just another client. Imports only the shared ground (``credentials``)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..credentials import NO_KEY


class CredentialError(RuntimeError):
    """The configured API-key environment variable is not set."""


@dataclass(frozen=True)
class ChatRequest:
    """Everything that determines a chat completion (and so its cache key)."""

    model: str
    """Model name as the endpoint knows it."""
    messages: tuple[tuple[str, str], ...]
    """(role, content) pairs in order."""
    temperature: float = 0.7
    """Sampling temperature."""
    max_tokens: int = 2048
    """Upper bound on completion tokens."""
    response_format: str | None = None
    """JSON-encoded ``response_format`` (structured outputs), or None for free text. Kept as a
    string so the request stays hashable."""
    seed: int | None = None
    """Sample index or seed; part of the cache key so distinct samples are distinct calls."""
    extra_body: str | None = None
    """JSON object of provider fields (reasoning effort, thinking budgets...) merged into the
    request body; a string so the request stays hashable (and part of the cache key)."""
    sample: str | None = None
    """Which repeated sample of the same call this is (``epoch 2``, see ``repeats``): part of the
    cache key only, never sent. None for a first sample, whose key is what it always was."""

    def payload(self) -> dict[str, Any]:
        """Keyword arguments for ``chat.completions.create``."""
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": r, "content": c} for r, c in self.messages],
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
        }
        if self.response_format is not None:
            body["response_format"] = json.loads(self.response_format)
        if self.seed is not None:
            body["seed"] = self.seed
        if self.extra_body is not None:
            body.update(json.loads(self.extra_body))
        return body


@dataclass(frozen=True)
class Usage:
    """Token counts the endpoint reported (0 when it reported none)."""

    prompt_tokens: int = 0
    """Input tokens."""
    completion_tokens: int = 0
    """Output tokens."""


@dataclass(frozen=True)
class ChatResponse:
    """The outcome of one logical call (after retries): text or an error, never both missing."""

    text: str | None
    """The assistant message content; None when the call failed, or when the message had null
    content but reasoning text (``reasoning``)."""
    usage: Usage = field(default_factory=Usage)
    """Token usage summed over the attempt that succeeded."""
    latency_s: float = 0.0
    """Wall time of the whole call including retries and waits (0 for a cache hit)."""
    finish_reason: str | None = None
    """``stop``, ``length``, ... as reported; None on failure."""
    error: str | None = None
    """Why the call failed, secrets removed; None on success."""
    attempts: int = 0
    """HTTP attempts made (0 for a cache hit)."""
    cached: bool = False
    """True when answered from the request cache without a call."""
    reasoning: str | None = None
    """The message's reasoning text (``reasoning_content`` or ``reasoning``), when it had any."""

    @property
    def ok(self) -> bool:
        """True when the call produced text (``error`` is None)."""
        return self.error is None


class CallFailure(Exception):
    """One failed attempt, classified."""

    def __init__(self, reason: str, *, retryable: bool, retry_after: float | None = None, status: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.retry_after = retry_after
        self.status = status


class Provider(Protocol):
    """Makes one attempt; raises ``CallFailure`` on any failure."""

    endpoint: str
    """Endpoint for records and logs (no credentials, no query)."""
    cache_scope: str
    """Endpoint identity for cache keys: ``endpoint`` plus a digest of the URL's query, so
    endpoints that differ only there (Azure's ``api-version``) never share cached answers."""

    async def attempt(self, request: ChatRequest, timeout_s: float) -> ChatResponse: ...


class ChatClient(Protocol):
    """What runs and widgets call: never raises for a failed call."""

    endpoint: str

    async def complete(self, request: ChatRequest, *, use_cache: bool = True) -> ChatResponse:
        """``use_cache=False`` forces a fresh call (e.g. retrying a failed item); its result
        still refreshes the cache."""
        ...


def api_key_from_env(var: str | None) -> str:
    """The key held by environment variable ``var``; a placeholder when ``var`` is None.

    Surrounding whitespace is dropped: keys pasted from files often end in a newline, which the
    HTTP layer rejects with an error that quotes the whole header (key included)."""
    if not var:
        return NO_KEY
    value = (os.environ.get(var) or "").strip()
    if not value:
        raise CredentialError(f"environment variable {var} is not set (it should hold the API key)")
    if not value.isascii() or not value.isprintable() or any(c.isspace() for c in value):
        # Never echo the value: it is the secret.
        raise CredentialError(f"environment variable {var} holds whitespace or non-ASCII characters; an API key has none")
    return value
