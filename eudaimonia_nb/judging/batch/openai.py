"""OpenAI Batch through the ``openai`` SDK: a JSONL file uploaded with purpose ``batch`` to
``{base_url}/files``, a batch created at ``{base_url}/batches`` over it (completion window 24 h,
our tag as metadata), results read from its output and error files.

Each input line is ``{custom_id, method: "POST", url: "/v1/chat/completions", body}`` where
``body`` is the live request's payload, unchanged. An output line is ``{id, custom_id,
response: {status_code, request_id, body}, error}``; an error-file line carries either a non-200
``response`` or ``error: {code, message}`` (``batch_expired``, ``batch_cancelled``...). Gateways
that implement the same endpoints (OpenAI-compatible batch APIs) work the same way.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ...credentials import Redactor, public_url, split_base_url, url_secrets
from ...store.batch_ledger import LineOutcome
from ..client import _is_retryable_status, _short, api_key_from_env
from .protocol import (TERMINAL, BatchAPIError, BatchLine, BatchTag, RemoteBatch, completion_outcome, missing_outcome,
                       status_outcome)

ENDPOINT = "/v1/chat/completions"
ENDED = frozenset({"completed", "failed", "expired", "cancelled"})
"""OpenAI batch statuses that will not change again."""
_LINE_ERRORS = {"batch_expired": "expired", "batch_cancelled": "canceled"}


def sdk_client(base_url: str, api_key_env: str | None) -> tuple[Any, Redactor]:
    """An ``openai.AsyncOpenAI`` for ``base_url`` (query kept apart, as the live client does) and
    the redactor of its key."""
    import openai

    key = api_key_from_env(api_key_env)
    base, query = split_base_url(base_url)
    client = openai.AsyncOpenAI(api_key=key, base_url=base, default_query=query or None, max_retries=2, timeout=300.0)
    return client, Redactor([key, *url_secrets(base_url)])


def api_error(exc: Exception, redact: Redactor, what: str) -> BatchAPIError:
    """An SDK failure as a ``BatchAPIError`` (redacted, retryable when trying later can help)."""
    import openai

    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        return BatchAPIError(redact(f"{what}: HTTP {status}: {_short(exc.response.text)}"), retryable=_is_retryable_status(status))
    if isinstance(exc, (openai.APITimeoutError, openai.APIConnectionError)):
        cause = exc.__cause__ or exc
        return BatchAPIError(redact(f"{what}: connection error: {type(cause).__name__}: {cause}"), retryable=True)
    return BatchAPIError(redact(f"{what}: {type(exc).__name__}: {_short(str(exc))}"), retryable=False)


def input_line(line: BatchLine) -> dict[str, Any]:
    """The JSONL line of one request (the live payload as ``body``)."""
    return {"custom_id": line.custom_id, "method": "POST", "url": ENDPOINT, "body": line.request.payload()}


class OpenAIBatches:
    """The OpenAI Batch dialect."""

    name = "openai"
    max_requests = 50_000
    max_bytes = 200 * 1024 * 1024
    has_metadata = True

    def __init__(self, base_url: str, api_key_env: str | None):
        self.endpoint = public_url(base_url)
        self._client, self.redact = sdk_client(base_url, api_key_env)

    def line_bytes(self, line: BatchLine) -> int:
        return len(json.dumps(input_line(line), ensure_ascii=False).encode("utf-8")) + 1

    async def submit(self, lines: Sequence[BatchLine], tag: BatchTag) -> RemoteBatch:
        import openai

        data = "".join(json.dumps(input_line(line), ensure_ascii=False) + "\n" for line in lines).encode("utf-8")
        try:
            upload = await self._client.files.create(file=(f"{tag.tag}.jsonl", data, "application/jsonl"), purpose="batch")
            batch = await self._client.batches.create(input_file_id=upload.id, endpoint=ENDPOINT, completion_window="24h",
                                                      metadata=tag.metadata())
        except openai.OpenAIError as exc:
            raise api_error(exc, self.redact, "submitting a batch") from None
        return self._remote(batch)

    async def retrieve(self, batch_id: str) -> RemoteBatch:
        import openai

        try:
            return self._remote(await self._client.batches.retrieve(batch_id))
        except openai.OpenAIError as exc:
            raise api_error(exc, self.redact, f"polling batch {batch_id}") from None

    async def results(self, batch: RemoteBatch) -> dict[str, LineOutcome]:
        import openai

        outcomes: dict[str, LineOutcome] = {}
        for key in ("output_file_id", "error_file_id"):
            file_id = batch.raw.get(key)
            if not file_id:
                continue
            try:
                content = await self._client.files.content(file_id)
            except openai.OpenAIError as exc:
                raise api_error(exc, self.redact, f"downloading {key.removesuffix('_id')} {file_id}") from None
            for number, text in enumerate(content.text.splitlines(), start=1):
                if text.strip():
                    outcome = self._line(text, f"{key.removesuffix('_id')} {file_id}, line {number}")
                    if outcome is not None:
                        outcomes[outcome.custom_id] = outcome
        return outcomes

    def _line(self, text: str, where: str) -> LineOutcome | None:
        try:
            row = json.loads(text)
            custom_id = row["custom_id"]
        except (ValueError, KeyError, TypeError):
            return None  # not a line of ours; the line it stood for is reported missing
        response, error = row.get("response"), row.get("error")
        if isinstance(response, dict) and response.get("status_code") == 200:
            return completion_outcome(custom_id, response.get("body"), self.redact)
        if isinstance(response, dict) and isinstance(response.get("status_code"), int):
            return status_outcome(custom_id, response["status_code"], response.get("body"), self.redact)
        if isinstance(error, dict):
            code = str(error.get("code") or "error")
            message = self.redact(_short(str(error.get("message") or code)))
            return missing_outcome(custom_id, f"{code}: {message}", outcome=_LINE_ERRORS.get(code, "errored"))
        return missing_outcome(custom_id, f"{where}: neither a response nor an error")

    async def recent(self, since: float) -> list[RemoteBatch]:
        import openai

        found: list[RemoteBatch] = []
        try:
            async for batch in self._client.batches.list(limit=100):
                if batch.created_at < since:
                    break  # newest first
                found.append(self._remote(batch))
        except openai.OpenAIError as exc:
            raise api_error(exc, self.redact, "listing batches") from None
        return found

    async def cancel(self, batch_id: str) -> RemoteBatch:
        import openai

        try:
            return self._remote(await self._client.batches.cancel(batch_id))
        except openai.OpenAIError as exc:
            raise api_error(exc, self.redact, f"cancelling batch {batch_id}") from None

    async def aclose(self) -> None:
        await self._client.close()

    def _remote(self, batch: Any) -> RemoteBatch:
        counts = batch.request_counts.model_dump() if batch.request_counts is not None else {}
        errors = [self.redact(f"{e.code}: {e.message}") for e in (batch.errors.data or [])] if batch.errors else []
        return RemoteBatch(
            batch_id=batch.id, status=batch.status, state=TERMINAL if batch.status in ENDED else "open", counts=counts,
            created_at=float(batch.created_at), n_requests=counts.get("total"), model=getattr(batch, "model", None),
            tag=(batch.metadata or {}).get("eudaimonia_tag"),
            raw={"output_file_id": batch.output_file_id, "error_file_id": batch.error_file_id, "errors": errors},
        )
