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
import json
import logging
import random
import time
from dataclasses import dataclass, replace
from email.utils import parsedate_to_datetime
from typing import Any

from ..credentials import Redactor, cache_scope, public_url, split_base_url, url_secrets
# The contract, the body reader and the cache live in their own modules; their names are
# importable from here too, where every caller has always found them.
from .cache import RequestCache
from .chat import CallFailure, ChatClient, ChatRequest, ChatResponse, CredentialError, Provider, Usage, api_key_from_env
from .completion_body import _parse_completion, _short

log = logging.getLogger(__name__)

__all__ = ["AdaptiveLimit", "CallFailure", "CallStats", "ChatClient", "ChatRequest", "ChatResponse", "CredentialError",
           "OpenAIProvider", "Provider", "ReliableClient", "RequestCache", "RetryPolicy", "Usage", "api_key_from_env",
           "cache_scope", "open_client", "public_url"]


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
