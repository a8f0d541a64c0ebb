"""Anthropic Message Batches through the ``anthropic`` SDK (the optional extra ``batch``):
``POST {base}/v1/messages/batches`` with ``requests: [{custom_id, params}]``, polled until
``processing_status`` is ``ended``, results streamed from the batch's ``results_url``.

``params`` is the live request in the Messages API's terms: the same model, messages,
temperature and token limit, every system message joined into ``system``, the run's extra body
fields merged as they are. A result is ``succeeded`` (a Message), ``errored`` (an error object),
``canceled`` or ``expired``; a Message is read back as a chat completion by the live path's
reader. The live OpenAI-compatible base URL (``https://api.anthropic.com/v1``) is accepted: its
``/v1`` is the SDK's own. Message Batches carry no metadata, so a batch lost between submission and
the ledger write is found again by its size and time (see ``executor``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ...credentials import Redactor, public_url, split_base_url, url_secrets
from ...store.batch_ledger import LineOutcome
from ..client import ChatRequest, _is_retryable_status, _short, api_key_from_env
from .protocol import TERMINAL, BatchAPIError, BatchLine, BatchTag, RemoteBatch, completion_outcome, missing_outcome

RETRYABLE_ERRORS = frozenset({"api_error", "overloaded_error", "rate_limit_error", "timeout_error"})
"""Error types of an errored line that sending it again can mend."""
FINISH_REASONS = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length", "tool_use": "tool_calls"}
"""Anthropic ``stop_reason`` -> the chat-completion ``finish_reason`` a live call reports."""


class AnthropicUnavailable(ImportError):
    """The ``anthropic`` SDK is not installed."""


def message_params(request: ChatRequest) -> dict[str, Any]:
    """The live request as Messages API parameters (same fields; system messages as ``system``)."""
    if request.response_format is not None:
        raise ValueError("the Anthropic Message Batches API has no response_format: judge with --protocol authors, "
                         "or --no-structured-output")
    if request.seed is not None:
        raise ValueError("the Anthropic Messages API has no seed: a seeded request cannot be batched there")
    system = [content for role, content in request.messages if role == "system"]
    params: dict[str, Any] = {
        "model": request.model, "max_tokens": request.max_tokens,
        "messages": [{"role": role, "content": content} for role, content in request.messages if role != "system"],
        "temperature": request.temperature,
    }
    if system:
        params["system"] = "\n\n".join(system)
    if request.extra_body is not None:
        params.update(json.loads(request.extra_body))
    return params


def completion_body(message: dict[str, Any]) -> dict[str, Any]:
    """A Message (as a dict) in chat-completion form, for ``client._parse_completion``."""
    blocks = message.get("content")
    text = "".join(b.get("text") or "" for b in blocks if isinstance(b, dict) and b.get("type") == "text") \
        if isinstance(blocks, list) else blocks
    usage = message.get("usage") or {}
    stop = message.get("stop_reason")
    return {"choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                         "finish_reason": FINISH_REASONS.get(stop, stop)}],
            "usage": {"prompt_tokens": usage.get("input_tokens") or 0, "completion_tokens": usage.get("output_tokens") or 0}}


def sdk_base_url(base_url: str) -> str:
    """The SDK's base (it adds ``/v1/...`` itself): a trailing ``/v1`` of the live base is dropped."""
    base, _ = split_base_url(base_url)
    base = base.rstrip("/")
    return base[: -len("/v1")] if base.endswith("/v1") else base


class AnthropicBatches:
    """The Anthropic Message Batches dialect."""

    name = "anthropic"
    max_requests = 100_000
    max_bytes = 256 * 1024 * 1024
    has_metadata = False

    def __init__(self, base_url: str, api_key_env: str | None):
        try:
            import anthropic
        except ImportError:
            raise AnthropicUnavailable("--batch anthropic needs the anthropic SDK: pip install 'eudaimonia-nb[batch]'") from None
        key = api_key_from_env(api_key_env)
        self.endpoint = public_url(base_url)
        self.redact = Redactor([key, *url_secrets(base_url)])
        self._client = anthropic.AsyncAnthropic(api_key=key, base_url=sdk_base_url(base_url), max_retries=2, timeout=300.0)

    def line_bytes(self, line: BatchLine) -> int:
        return len(json.dumps(self._request(line), ensure_ascii=False).encode("utf-8")) + 1

    @staticmethod
    def _request(line: BatchLine) -> dict[str, Any]:
        return {"custom_id": line.custom_id, "params": message_params(line.request)}

    async def submit(self, lines: Sequence[BatchLine], tag: BatchTag) -> RemoteBatch:
        requests = [self._request(line) for line in lines]
        return self._remote(await self._call(self._client.messages.batches.create(requests=requests), "submitting a batch"))

    async def retrieve(self, batch_id: str) -> RemoteBatch:
        return self._remote(await self._call(self._client.messages.batches.retrieve(batch_id), f"polling batch {batch_id}"))

    async def results(self, batch: RemoteBatch) -> dict[str, LineOutcome]:
        import anthropic

        outcomes: dict[str, LineOutcome] = {}
        try:
            async for entry in await self._client.messages.batches.results(batch.batch_id):
                row = entry.model_dump()
                outcomes[row["custom_id"]] = self._outcome(row["custom_id"], row.get("result") or {})
        except anthropic.AnthropicError as exc:
            raise self._error(exc, f"downloading the results of {batch.batch_id}") from None
        return outcomes

    def _outcome(self, custom_id: str, result: dict[str, Any]) -> LineOutcome:
        kind = result.get("type")
        if kind == "succeeded":
            return completion_outcome(custom_id, completion_body(result.get("message") or {}), self.redact)
        if kind == "errored":
            error = (result.get("error") or {}).get("error") or {}
            kind_of_error = str(error.get("type") or "error")
            return LineOutcome(custom_id, "errored", error=self.redact(f"{kind_of_error}: {_short(str(error.get('message') or ''))}"),
                               retryable=kind_of_error in RETRYABLE_ERRORS)
        if kind == "canceled":
            return missing_outcome(custom_id, "the batch was canceled before this request ran", outcome="canceled")
        if kind == "expired":
            return missing_outcome(custom_id, "the batch expired before this request ran", outcome="expired")
        return missing_outcome(custom_id, f"unknown result type {kind!r}")

    async def recent(self, since: float) -> list[RemoteBatch]:
        import anthropic

        found: list[RemoteBatch] = []
        try:
            async for batch in self._client.messages.batches.list(limit=100):
                if batch.created_at.timestamp() < since:
                    break  # newest first
                found.append(self._remote(batch))
        except anthropic.AnthropicError as exc:
            raise self._error(exc, "listing batches") from None
        return found

    async def cancel(self, batch_id: str) -> RemoteBatch:
        return self._remote(await self._call(self._client.messages.batches.cancel(batch_id), f"cancelling batch {batch_id}"))

    async def aclose(self) -> None:
        await self._client.close()

    async def _call(self, awaitable: Any, what: str) -> Any:
        import anthropic

        try:
            return await awaitable
        except anthropic.AnthropicError as exc:
            raise self._error(exc, what) from None

    def _error(self, exc: Exception, what: str) -> BatchAPIError:
        import anthropic

        if isinstance(exc, anthropic.APIStatusError):
            status = exc.status_code
            return BatchAPIError(self.redact(f"{what}: HTTP {status}: {_short(exc.response.text)}"),
                                 retryable=_is_retryable_status(status))
        if isinstance(exc, (anthropic.APITimeoutError, anthropic.APIConnectionError)):
            cause = exc.__cause__ or exc
            return BatchAPIError(self.redact(f"{what}: connection error: {type(cause).__name__}: {cause}"), retryable=True)
        return BatchAPIError(self.redact(f"{what}: {type(exc).__name__}: {_short(str(exc))}"), retryable=False)

    @staticmethod
    def _remote(batch: Any) -> RemoteBatch:
        counts = batch.request_counts.model_dump()
        return RemoteBatch(
            batch_id=batch.id, status=batch.processing_status, state=TERMINAL if batch.processing_status == "ended" else "open",
            counts=counts, created_at=batch.created_at.timestamp(), n_requests=sum(int(v or 0) for v in counts.values()),
        )
