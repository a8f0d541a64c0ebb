"""Typed chat-completion calls for models under test and judges alike.

Layers, from the wire up:

* ``OpenAIProvider`` makes ONE attempt through ``openai.AsyncOpenAI`` (its own retries off) and
  turns every failure into a ``CallFailure`` that says whether retrying can help.
* ``ReliableClient`` sits above any provider and owns the policy: concurrency limit,
  per-request timeout (a deadline for the whole attempt, not per socket read), retries with
  exponential backoff and full jitter honouring ``Retry-After``, and the request cache. It never raises for a failed call: the
  ``ChatResponse`` carries the error text instead, so a run always finishes.

API keys are read from an environment variable when the provider is built; every text a
call returns (error or answer) passes ``credentials.Redactor``, so a key never reaches a
``ChatResponse``, a log line or the cache.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import logging
import os
import random
import sqlite3
import time
from dataclasses import asdict, dataclass, field, fields, replace
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger(__name__)

from ..credentials import NO_KEY, Redactor, cache_scope, public_url, split_base_url, url_secrets


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


def _retry_after_seconds(headers: Any) -> float | None:
    if headers is None:
        return None
    millis = headers.get("retry-after-ms")  # OpenAI's finer-grained variant
    if millis is not None:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _is_retryable_status(status: int) -> bool:
    return status in (408, 409, 425, 429) or status >= 500


POOL_SIZE = 32
"""Connections per HTTP pool: a provider with more concurrency spreads its calls over several pools
(httpcore scans every connection of a pool on each request, so one big pool costs more per call)."""


def _dumps(body: dict[str, Any]) -> bytes:
    """A request body as the openai SDK serialises it (compact, UTF-8, no NaN)."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


class OpenAIProvider:
    """One attempt through ``openai.AsyncOpenAI``; the body is parsed here so a truncated or
    malformed body is a retryable failure rather than a crash or a half-read answer.

    Hot path (issue 20): the first chat call goes through the SDK's request layer, and the exact
    URL and headers it sent (key, user agent, SDK telemetry, the query) are kept; later calls post
    the same bytes with the same headers through the SDK's own httpx client (and, past
    ``POOL_SIZE`` connections, clients built the same way), skipping the request layer's per-call
    work. Errors, retries (``ReliableClient``) and redaction are the same on both paths, and
    ``_parse_completion`` reads every body. Where the SDK serialised the body differently from
    ``_dumps``, every call stays on the SDK path."""

    def __init__(self, base_url: str, api_key_env: str | None = None, *, max_connections: int = 64):
        import openai

        self.endpoint = public_url(base_url)
        self.cache_scope = cache_scope(base_url)
        key = api_key_from_env(api_key_env)
        self.redact = Redactor([key, *url_secrets(base_url)])
        n_pools = max(1, -(-max_connections // POOL_SIZE))
        per_pool = -(-max_connections // n_pools)
        http_client = openai.DefaultAsyncHttpxClient(limits=_limits(per_pool), verify=_ssl_context())
        self._openai = openai
        self._httpx = _transport_module()
        # The query (Azure's ?api-version=) goes with every request: left in base_url, the
        # client would append the path after it.
        base, query = split_base_url(base_url)
        self._client = openai.AsyncOpenAI(api_key=key, base_url=base, default_query=query or None, max_retries=0,
                                          http_client=http_client)
        self._pools = [http_client] + [openai.DefaultAsyncHttpxClient(limits=_limits(per_pool), verify=_ssl_context())
                                       for _ in range(n_pools - 1)]
        self._in_flight = [0] * n_pools
        self._template: tuple[str, list[tuple[str, str]]] | None | bool = None  # (url, headers); False: SDK path only
        self._captured: tuple[str, list[tuple[str, str]], bytes] | None = None
        http_client.event_hooks = {**http_client.event_hooks,
                                   "request": [*http_client.event_hooks["request"], self._capture]}

    async def _capture(self, request: Any) -> None:
        if self._template is None and self._captured is None and request.url.path.endswith("/chat/completions"):
            headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw
                       if k.lower() != b"content-length"]
            self._captured = (str(request.url), headers, request.content)

    def _learn(self) -> None:
        """After the first call through the SDK: take its URL and headers for the direct path (when
        ``_dumps`` writes a body byte for byte as the SDK did)."""
        captured, self._captured = self._captured, None
        if captured is None or self._template is not None:
            return
        url, headers, content = captured
        try:
            same = _dumps(json.loads(content)) == content
        except ValueError:
            same = False
        self._template = (self._httpx.URL(url), headers) if same else False
        hooks = self._pools[0].event_hooks
        self._pools[0].event_hooks = {**hooks, "request": [h for h in hooks["request"] if h != self._capture]}

    async def attempt(self, request: ChatRequest, timeout_s: float) -> ChatResponse:
        try:
            # ``timeout_s`` bounds the whole attempt: the HTTP layer's timeout bounds each socket
            # read only, so a server trickling bytes would keep a call alive indefinitely.
            async with asyncio.timeout(timeout_s):
                return await self._attempt(request, timeout_s)
        except TimeoutError:
            raise CallFailure(f"timed out after {timeout_s:g} s", retryable=True) from None
        except CallFailure as failure:
            failure.reason = self.redact(failure.reason)
            failure.args = (failure.reason,)
            raise

    async def _attempt(self, request: ChatRequest, timeout_s: float) -> ChatResponse:
        if self._template:
            return await self._post_direct(request, timeout_s)
        openai = self._openai
        started = time.perf_counter()
        payload = request.payload()
        try:
            # The generic ``post`` skips the typed-parameter transform of ``chat.completions.create``
            # (a fifth of the runner's CPU per call); the body is the same OpenAI JSON.
            try:
                raw = await self._client.post(
                    "/chat/completions", cast_to=self._httpx.Response, body=payload, options={"timeout": timeout_s}
                )
            finally:
                self._learn()
            body = raw.text
        except openai.APITimeoutError:
            raise CallFailure(f"timed out after {timeout_s:g} s", retryable=True) from None
        except openai.APIConnectionError as exc:
            raise CallFailure(self.redact(f"connection error: {_cause(exc)}"), retryable=True) from None
        except openai.APIStatusError as exc:
            status = exc.status_code
            detail = self.redact(_short(exc.response.text))
            raise CallFailure(
                f"HTTP {status}: {detail}",
                retryable=_is_retryable_status(status),
                retry_after=_retry_after_seconds(exc.response.headers),
                status=status,
            ) from None
        except openai.APIResponseValidationError as exc:
            raise CallFailure(self.redact(f"malformed response: {_short(str(exc))}"), retryable=True) from None
        response = _parse_completion(body, time.perf_counter() - started)
        # A server may echo the request's key even in a 200 answer.
        return replace(response, text=None if response.text is None else self.redact.known(response.text),
                       reasoning=None if response.reasoning is None else self.redact.known(response.reasoning))

    async def _post_direct(self, request: ChatRequest, timeout_s: float) -> ChatResponse:
        """One attempt on the direct path: the SDK's URL and headers, its httpx client, our errors."""
        httpx = self._httpx
        url, headers = self._template  # type: ignore[misc]
        pool = min(range(len(self._pools)), key=self._in_flight.__getitem__)
        self._in_flight[pool] += 1
        started = time.perf_counter()
        try:
            raw = await self._pools[pool].post(url, content=_dumps(request.payload()), headers=headers, timeout=timeout_s)
        except httpx.TimeoutException:
            raise CallFailure(f"timed out after {timeout_s:g} s", retryable=True) from None
        except httpx.HTTPError as exc:
            raise CallFailure(self.redact(f"connection error: {type(exc).__name__}: {exc}"), retryable=True) from None
        finally:
            self._in_flight[pool] -= 1
        if not raw.is_success:
            status = raw.status_code
            raise CallFailure(f"HTTP {status}: {self.redact(_short(raw.text))}", retryable=_is_retryable_status(status),
                              retry_after=_retry_after_seconds(raw.headers), status=status)
        response = _parse_completion(raw.text, time.perf_counter() - started)
        return replace(response, text=None if response.text is None else self.redact.known(response.text),
                       reasoning=None if response.reasoning is None else self.redact.known(response.reasoning))

    async def probe(self, timeout_s: float) -> None:
        """One ``GET /models`` (cheap, sends no prompt); raises ``CallFailure`` (redacted) when it fails."""
        openai = self._openai
        try:
            async with asyncio.timeout(timeout_s):
                await self._client.get("/models", cast_to=self._httpx.Response, options={"timeout": timeout_s})
        except (TimeoutError, openai.APITimeoutError):
            raise CallFailure(f"timed out after {timeout_s:g} s", retryable=True) from None
        except openai.APIConnectionError as exc:
            raise CallFailure(self.redact(f"connection error: {_cause(exc)}"), retryable=True) from None
        except openai.APIStatusError as exc:
            detail = self.redact(_short(exc.response.text, 200))
            raise CallFailure(f"HTTP {exc.status_code}: {detail}", retryable=False, status=exc.status_code) from None

    async def aclose(self) -> None:
        await self._client.close()
        for pool in self._pools[1:]:
            await pool.aclose()


def _transport_module() -> Any:
    """The HTTP library the installed ``openai`` is built on (``httpx2`` in 3.x, ``httpx`` before)."""
    import openai._base_client as base

    return getattr(base, "httpx2", None) or base.httpx


@functools.cache
def _ssl_context() -> Any:
    """One TLS context for every pool of the process (each loads the CA bundle, ~0.1-0.2 s), built
    as the HTTP library builds its default (``verify=True``, the environment trusted)."""
    return _transport_module().create_ssl_context()


def _limits(max_connections: int) -> Any:
    return _transport_module().Limits(max_connections=max_connections, max_keepalive_connections=max_connections)


def _cause(exc: BaseException) -> str:
    cause = exc.__cause__ or exc.__context__
    return f"{type(cause).__name__}: {cause}" if cause is not None else str(exc)


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."


class MalformedBody(ValueError):
    """A 200 reply whose JSON has a field of the wrong type or shape (``_parse_completion``)."""


MAX_FINISH_REASON_CHARS = 64
"""Longer ``finish_reason`` strings are not OpenAI's (``stop``, ``length``, ...); they are cut."""


def _mapping(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MalformedBody(f"{where} is {type(value).__name__}, not an object")
    return value


def _content_text(value: object) -> str | None:
    """``message.content``: a string, None, or a list of content parts (``{"type": "text", "text": ...}``)
    joined; anything else is malformed."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(p, dict) and isinstance(p.get("text"), str) for p in value):
        return "".join(p["text"] for p in value if p.get("type", "text") == "text")
    raise MalformedBody(f"message content is {type(value).__name__}, not a string")


def _optional_text(value: object, where: str, limit: int | None = None) -> str | None:
    """A field that must be a string or absent (``finish_reason``, ``refusal``)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise MalformedBody(f"{where} is {type(value).__name__}, not a string")
    return value[:limit] if limit is not None else value


MAX_TOKEN_COUNT = 2**53
"""Larger usage counts are not counts (and would overflow SQLite's INTEGER)."""


def _token_count(value: object) -> int:
    """A usage count: a non-negative integer (also as an integral float or a digit string);
    anything else counts as unreported (0): usage is bookkeeping, never a reason to lose an answer."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and 0 <= value <= MAX_TOKEN_COUNT:
        return value
    return 0


def _usage(value: object) -> Usage:
    if not isinstance(value, dict):
        return Usage()
    return Usage(_token_count(value.get("prompt_tokens")), _token_count(value.get("completion_tokens")))


def _parse_completion(body: str, latency_s: float) -> ChatResponse:
    """The one reader of a completion body (every transport calls it): each field is coerced to
    its type or the reply is refused as a retryable ``CallFailure`` (``malformed response body``),
    so no field of a 200 reply can reach the store with a type it cannot hold."""
    try:
        data = _mapping(json.loads(body), "the body")
        choices = data.get("choices")
        if not isinstance(choices, list) or not choices:
            raise MalformedBody(f"choices is {type(choices).__name__ if choices is not None else 'missing'}, "
                                "not a non-empty list")
        choice = _mapping(choices[0], "choices[0]")
        message = _mapping(choice.get("message"), "choices[0].message")
        text = _content_text(message.get("content"))
        refusal = _optional_text(message.get("refusal"), "message refusal")
        # A thinking model's reasoning text (the protocol decides what an answer made only of it means).
        reasoning = _optional_text(message.get("reasoning_content"), "message reasoning_content") \
            or _optional_text(message.get("reasoning"), "message reasoning") or None
        finish_reason = _optional_text(choice.get("finish_reason"), "finish_reason", MAX_FINISH_REASON_CHARS)
        tokens = _usage(data.get("usage"))
    except (ValueError, RecursionError) as exc:  # json.JSONDecodeError and MalformedBody are ValueErrors
        raise CallFailure(f"malformed response body ({type(exc).__name__}: {_short(str(exc), 120)}): "
                          f"{_short(body, 120)!r}", retryable=True) from None
    if text is None and refusal is not None:
        # A structured-output refusal is the model's answer, not a transport fault: retrying
        # would only repeat it.
        raise CallFailure(f"the model refused (no content): {_short(refusal, 200)!r}", retryable=False)
    if text is None and reasoning is None:
        raise CallFailure(f"malformed response body (message content is missing): {_short(body, 120)!r}",
                          retryable=True)
    return ChatResponse(text=text, usage=tokens, latency_s=latency_s, finish_reason=finish_reason, reasoning=reasoning)


@dataclass(frozen=True)
class RetryPolicy:
    """How failed attempts are retried."""

    max_retries: int = 5
    """Retries after the first attempt (so at most ``max_retries + 1`` attempts)."""
    base_delay_s: float = 1.0
    """Backoff cap for the first retry; doubles each retry."""
    max_delay_s: float = 60.0
    """Largest wait between attempts, also for ``Retry-After``."""
    max_rate_limited: int = 40
    """Separate budget for HTTP 429 answers: a rate limit slows the run down (see
    ``AdaptiveLimit``) long before it turns a call into an error."""

    def delay(self, retry: int, retry_after: float | None, rng: random.Random) -> float:
        # Full jitter (AWS architecture blog): spreads retrying clients out instead of in lockstep.
        backoff = rng.uniform(0, min(self.max_delay_s, self.base_delay_s * 2**retry))
        if retry_after is not None:
            return min(self.max_delay_s, max(retry_after, backoff))
        return backoff


_REQUEST_FIELDS = tuple(f.name for f in fields(ChatRequest))


class RequestCache:
    """Successful responses keyed on everything that determines them, in SQLite (shared by runs)."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS cache (key TEXT PRIMARY KEY, response TEXT NOT NULL, created_at REAL NOT NULL)")
        # Writes are grouped (issue 20): one commit per GROUP_ITEMS answers or GROUP_DELAY_S, at the
        # next put or at close. An answer lost to a kill is only a cache miss later.
        self._pending: dict[str, tuple[str, float]] = {}
        self._since = 0.0

    @staticmethod
    def key(endpoint: str, request: ChatRequest) -> str:
        # ``sample`` only when set, so the keys of calls made before epochs existed still match.
        fields = {"endpoint": endpoint, **{f: getattr(request, f) for f in _REQUEST_FIELDS
                                           if f != "sample" or request.sample is not None}}
        blob = json.dumps(fields, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    GROUP_ITEMS = 256
    GROUP_DELAY_S = 0.05

    def get(self, key: str) -> ChatResponse | None:
        pending = self._pending.get(key)
        row = (pending[0],) if pending is not None else self._db.execute("SELECT response FROM cache WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        try:
            data = _mapping(json.loads(row[0]), "cache entry")
            text = _optional_text(data.get("text"), "cached text")
            finish_reason = _optional_text(data.get("finish_reason"), "cached finish_reason", MAX_FINISH_REASON_CHARS)
            reasoning = _optional_text(data.get("reasoning"), "cached reasoning")
        except ValueError:
            return None  # written before replies were checked field by field: ask again
        if text is None and reasoning is None:
            return None
        return ChatResponse(text=text, usage=_usage(data.get("usage")), finish_reason=finish_reason, cached=True,
                            reasoning=reasoning)

    def put(self, key: str, response: ChatResponse) -> None:
        data = {"text": response.text, "usage": asdict(response.usage), "finish_reason": response.finish_reason,
                "reasoning": response.reasoning}
        if not self._pending:
            self._since = time.monotonic()
        self._pending[key] = (json.dumps(data, ensure_ascii=False), time.time())
        if len(self._pending) >= self.GROUP_ITEMS or time.monotonic() - self._since >= self.GROUP_DELAY_S:
            self.flush()

    def flush(self) -> None:
        """Commit the answers put since the last commit, in one transaction."""
        if not self._pending:
            return
        rows = [(key, text, created) for key, (text, created) in self._pending.items()]
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.executemany("INSERT OR REPLACE INTO cache VALUES (?, ?, ?)", rows)
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._pending.clear()

    def close(self) -> None:
        self.flush()
        self._db.close()


@dataclass
class CallStats:
    """Counters a progress bar or a benchmark reads."""

    attempts: int = 0
    """HTTP attempts made."""
    retries: int = 0
    """Attempts that were retries."""
    cache_hits: int = 0
    """Calls answered from the cache."""
    failures: int = 0
    """Calls that ended in an error."""


class AdaptiveLimit:
    """Concurrency limit that backs off on rate limits: additive increase, multiplicative decrease.

    A 429 halves the number of calls allowed in flight (at most once per cool-down) and makes
    every caller wait out its ``Retry-After``; each success adds back about one slot per
    "window" of calls, up to ``maximum``. A fixed semaphore would keep hammering a provider
    that is already refusing, and the retries would burn through their budget together.
    """

    def __init__(self, maximum: int):
        self.maximum = maximum
        """The configured concurrency, never exceeded."""
        self.current = float(maximum)
        """Calls allowed in flight now (fractional so that increases are gradual)."""
        self.in_flight = 0
        """Calls holding a slot."""
        self.peak_after_cut = 0
        """Most calls seen in flight since the last cut (for tests and diagnostics)."""
        self._resume_at = 0.0
        self._last_cut = float("-inf")
        self._cond = asyncio.Condition()

    async def acquire(self) -> None:
        async with self._cond:
            while self.in_flight >= max(1, int(self.current)):
                await self._cond.wait()
            self.in_flight += 1
            self.peak_after_cut = max(self.peak_after_cut, self.in_flight)
        delay = self._resume_at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)

    async def release(self, *, rate_limited: bool = False, retry_after: float | None = None) -> None:
        async with self._cond:
            self.in_flight -= 1
            now = time.monotonic()
            if rate_limited:
                pause = retry_after if retry_after is not None else 1.0
                self._resume_at = max(self._resume_at, now + pause)
                # Many calls in flight see the same 429 wave; cut once per wave, not once each.
                if now - self._last_cut >= max(pause, 0.05):
                    self.current = max(1.0, self.current / 2)
                    self._last_cut = now
                    self.peak_after_cut = self.in_flight
            else:
                self.current = min(float(self.maximum), self.current + 1.0 / max(self.current, 1.0))
            # Wake only as many waiters as there are free slots: waking all of them on every
            # release costs O(waiters) per call, quadratic over a 3,147-call run.
            free = max(1, int(self.current)) - self.in_flight
            if free > 0:
                self._cond.notify(free)


class ReliableClient:
    """Concurrency limit, timeout, retries and cache above one provider."""

    def __init__(
        self,
        provider: Provider,
        *,
        concurrency: int = 16,
        timeout_s: float = 120.0,
        retry: RetryPolicy | None = None,
        cache: RequestCache | None = None,
        seed: int | None = None,
    ):
        self.provider = provider
        self.endpoint = provider.endpoint
        self.timeout_s = timeout_s
        self.retry = retry or RetryPolicy()
        self.cache = cache
        self.stats = CallStats()
        self.limit = AdaptiveLimit(concurrency)
        self._rng = random.Random(seed)
        self._format_fallback = 0  # index into RESPONSE_FORMAT_FALLBACKS
        # Every error text leaves through this one redaction, whatever the provider did.
        self._redact: Redactor = getattr(provider, "redact", None) or Redactor()

    async def complete(self, request: ChatRequest, *, use_cache: bool = True) -> ChatResponse:
        key = RequestCache.key(self.provider.cache_scope, request) if self.cache is not None else ""
        if use_cache and self.cache is not None and (hit := self.cache.get(key)) is not None:
            self.stats.cache_hits += 1
            return hit
        started = time.perf_counter()
        response = await self._with_retries(request)
        response = replace(response, latency_s=time.perf_counter() - started)
        if response.ok and self.cache is not None:
            self.cache.put(key, response)
        if not response.ok:
            self.stats.failures += 1
        return response

    async def _with_retries(self, request: ChatRequest) -> ChatResponse:
        attempts = 0
        failed = 0  # retryable failures other than rate limits
        rate_limited = 0
        while True:
            level = self._format_fallback
            sent = _fallback_request(request, level)
            attempts += 1
            self.stats.attempts += 1
            outcome: ChatResponse | CallFailure | None = None
            await self.limit.acquire()
            try:
                outcome = await self.provider.attempt(sent, self.timeout_s)
            except CallFailure as failure:
                outcome = failure
            finally:
                # Also on cancellation, so an interrupted run never leaks a slot.
                throttled = isinstance(outcome, CallFailure) and outcome.status == 429
                await self.limit.release(rate_limited=throttled, retry_after=outcome.retry_after if throttled else None)
            assert outcome is not None
            if isinstance(outcome, CallFailure):
                failure = outcome
                is_429 = failure.status == 429
                if _rejects_response_format(failure, sent):
                    # Endpoint without this form of structured output: try the next form (llama.cpp's
                    # schema-constrained json_object), then free text + tolerant parsing.
                    # From the level this request was sent at: calls in flight together are all refused
                    # at once and must not skip llama.cpp's form between them.
                    self._format_fallback = max(self._format_fallback, min(level + 1, len(RESPONSE_FORMAT_FALLBACKS) - 1))
                    log.info("%s rejected response_format; asking with %s from now on", self.endpoint,
                             RESPONSE_FORMAT_FALLBACKS[self._format_fallback])
                    continue
                if is_429:
                    rate_limited += 1
                    exhausted = rate_limited > self.retry.max_rate_limited
                else:
                    failed += 1
                    exhausted = failed > self.retry.max_retries
                if not failure.retryable or exhausted:
                    note = "" if not failure.retryable else f" (gave up after {attempts} attempts)"
                    return ChatResponse(text=None, error=self._redact(failure.reason + note), attempts=attempts)
                retry = (rate_limited if is_429 else failed) - 1
                wait = self.retry.delay(retry, failure.retry_after, self._rng)
                self.stats.retries += 1
                log.debug("%s: %s; retrying in %.2f s", self.endpoint, self._redact(failure.reason), wait)
                # Sleeping without a slot lets other calls proceed while this one waits.
                await asyncio.sleep(wait)
            else:
                return replace(outcome, attempts=attempts)


RESPONSE_FORMAT_FALLBACKS = ("the requested response_format", "a schema-constrained json_object (llama.cpp's form)",
                             "free-text JSON")
"""What a client sends as ``response_format`` after 0, 1 or 2 rejections of it."""


def _fallback_request(request: ChatRequest, level: int) -> ChatRequest:
    """``request`` with its response_format in the form of fallback ``level``.

    llama.cpp's server (llama-cpp-python) accepts only ``text`` and ``json_object``, the latter
    with an optional ``schema`` that it compiles to a grammar: the OpenAI ``json_schema`` form
    rewritten that way still constrains the reply to the schema."""
    if request.response_format is None or level == 0:
        return request
    form = json.loads(request.response_format)
    if level == 1 and form.get("type") == "json_schema" and isinstance(form.get("json_schema"), dict):
        schema = form["json_schema"].get("schema")
        if isinstance(schema, dict):
            return replace(request, response_format=json.dumps({"type": "json_object", "schema": schema}, sort_keys=True))
    return replace(request, response_format=None)


def _rejects_response_format(failure: CallFailure, request: ChatRequest) -> bool:
    # llama.cpp's server answers an unknown response_format type with a 500, others with 400/422.
    return request.response_format is not None and failure.status in (400, 422, 500) and "response_format" in failure.reason


def open_client(
    base_url: str,
    api_key_env: str | None,
    *,
    concurrency: int = 16,
    timeout_s: float = 120.0,
    retry: RetryPolicy | None = None,
    cache: RequestCache | None = None,
) -> ReliableClient:
    """The usual stack: OpenAI-compatible provider under a ``ReliableClient``."""
    provider = OpenAIProvider(base_url, api_key_env, max_connections=max(concurrency, 1))
    return ReliableClient(provider, concurrency=concurrency, timeout_s=timeout_s, retry=retry, cache=cache)
