"""OpenRouter's batch API, through the ``openai`` SDK's request layer (the same headers, key
handling and error types as the live calls; OpenRouter's own SDK is not needed for five routes).

Following OpenRouter's current documentation (the Batch API guide and API reference), which
differs from the earlier quickstart in its path: a batch is ``POST {base_url}/batches`` on the
live base URL ``https://openrouter.ai/api/v1`` (the quickstart's ``/api/beta/batches`` is the
older form). The body is ``{endpoint: "/v1/chat/completions", model, completion_window: "24h",
requests: [{custom_id, body}]}``, with ``endpoint`` and ``model`` before ``requests`` (the API
stream-parses it and refuses the other order); ``model`` is the model's ``:batch`` variant and
applies to every request, so each ``body`` is the live payload without its ``model``. At most
5,000 requests (and 200 MB) per batch, one model and one endpoint. ``GET {base_url}/batches/{id}``
reports ``validating``, ``in_progress``, ``finalizing``, then ``completed``, ``failed``,
``expired`` or ``cancelled``; a batch in a terminal status carries its ``results`` inline, each
with ``custom_id`` and exactly one of ``response`` (``status_code``, ``body``: a chat completion)
or ``error``. A batch carries no metadata, so reconciliation goes by model, size and time.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ...credentials import public_url
from ...store.batch_ledger import LineOutcome
from ..client import _short, _transport_module
from .openai import api_error, sdk_client
from .protocol import TERMINAL, BatchLine, BatchTag, RemoteBatch, completion_outcome, missing_outcome, status_outcome

ENDPOINT = "/v1/chat/completions"
ENDED = frozenset({"completed", "failed", "expired", "cancelled"})
"""OpenRouter batch statuses that will not change again."""
BATCH_SUFFIX = ":batch"


def batch_model(model: str) -> str:
    """The ``:batch`` variant of a model id (kept when already given)."""
    return model if model.endswith(BATCH_SUFFIX) else model + BATCH_SUFFIX


def request_body(line: BatchLine) -> dict[str, Any]:
    """The live payload without ``model`` (it inherits the batch's ``:batch`` model)."""
    body = line.request.payload()
    body.pop("model", None)
    return body


class OpenRouterBatches:
    """The OpenRouter batch dialect."""

    name = "openrouter"
    max_requests = 5_000
    max_bytes = 200 * 1024 * 1024
    has_metadata = False

    def __init__(self, base_url: str, api_key_env: str | None):
        self.endpoint = public_url(base_url)
        self._client, self.redact = sdk_client(base_url, api_key_env)
        self._httpx = _transport_module()

    def line_bytes(self, line: BatchLine) -> int:
        return len(json.dumps({"custom_id": line.custom_id, "body": request_body(line)}, ensure_ascii=False).encode("utf-8")) + 1

    async def submit(self, lines: Sequence[BatchLine], tag: BatchTag) -> RemoteBatch:
        models = {line.request.model for line in lines}
        if len(models) != 1:
            raise ValueError(f"an OpenRouter batch holds one model; got {sorted(models)}")
        # Insertion order is the wire order: endpoint and model before requests.
        body = {"endpoint": ENDPOINT, "model": batch_model(models.pop()), "completion_window": "24h",
                "requests": [{"custom_id": line.custom_id, "body": request_body(line)} for line in lines]}
        return self._remote(await self._request("post", "/batches", "submitting a batch", body=body))

    async def retrieve(self, batch_id: str) -> RemoteBatch:
        return self._remote(await self._request("get", f"/batches/{batch_id}", f"polling batch {batch_id}"))

    async def results(self, batch: RemoteBatch) -> dict[str, LineOutcome]:
        outcomes: dict[str, LineOutcome] = {}
        for row in batch.raw.get("results") or []:
            if not isinstance(row, dict) or not isinstance(row.get("custom_id"), str):
                continue
            custom_id, response, error = row["custom_id"], row.get("response"), row.get("error")
            if isinstance(response, dict) and response.get("status_code") == 200:
                outcomes[custom_id] = completion_outcome(custom_id, response.get("body"), self.redact)
            elif isinstance(response, dict) and isinstance(response.get("status_code"), int):
                outcomes[custom_id] = status_outcome(custom_id, response["status_code"], response.get("body"), self.redact)
            elif isinstance(error, dict):
                kind = str(error.get("type") or "error")
                outcomes[custom_id] = missing_outcome(
                    custom_id, self.redact(f"{kind}: {_short(str(error.get('message') or ''))}"), outcome="errored")
            else:
                outcomes[custom_id] = missing_outcome(custom_id, "a result with neither a response nor an error")
        return outcomes

    async def recent(self, since: float) -> list[RemoteBatch]:
        found: list[RemoteBatch] = []
        after: str | None = None
        while True:
            query = {"limit": 100, **({"after": after} if after else {})}
            page = await self._request("get", "/batches", "listing batches", query=query)
            items = page.get("data") or []
            for item in items:
                remote = self._remote(item)
                if remote.created_at is not None and remote.created_at < since:
                    return found  # newest first
                found.append(remote)
            if not page.get("has_more") or not items:
                return found
            after = page.get("last_id") or items[-1].get("id")

    async def cancel(self, batch_id: str) -> RemoteBatch:
        return self._remote(await self._request("post", f"/batches/{batch_id}/cancel", f"cancelling batch {batch_id}"))

    async def aclose(self) -> None:
        await self._client.close()

    async def _request(self, method: str, path: str, what: str, *, body: dict | None = None,
                       query: dict | None = None) -> dict[str, Any]:
        import openai

        options: dict[str, Any] = {"params": query} if query else {}
        try:
            if method == "post":
                raw = await self._client.post(path, cast_to=self._httpx.Response, body=body or {}, options=options)
            else:
                raw = await self._client.get(path, cast_to=self._httpx.Response, options=options)
            data = json.loads(raw.text)
        except openai.OpenAIError as exc:
            raise api_error(exc, self.redact, what) from None
        except ValueError:
            raise api_error(ValueError("the answer is not JSON"), self.redact, what) from None
        if not isinstance(data, dict):
            raise api_error(ValueError("the answer is not a JSON object"), self.redact, what)
        return data

    def _remote(self, data: dict[str, Any]) -> RemoteBatch:
        status = str(data.get("status") or "")
        counts = data.get("request_counts") if isinstance(data.get("request_counts"), dict) else {}
        error = data.get("error")
        errors = [self.redact(str(error.get("message")))] if isinstance(error, dict) and error.get("message") else []
        created = data.get("created_at")
        return RemoteBatch(
            batch_id=str(data.get("id")), status=status, state=TERMINAL if status in ENDED else "open", counts=counts,
            created_at=float(created) if isinstance(created, (int, float)) else None, n_requests=counts.get("total"),
            model=data.get("model"), raw={"results": data.get("results"), "errors": errors, "usage": data.get("usage")},
        )
