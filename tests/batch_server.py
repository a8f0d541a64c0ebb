"""Loopback fakes of the three batch APIs, following each provider's documented wire format.

``FakeBatchServer(dialect, script)`` serves one dialect on 127.0.0.1:

* ``openai``: ``POST /v1/files`` (multipart, purpose ``batch``), ``POST /v1/batches``
  (``input_file_id``, ``endpoint``, ``completion_window: 24h``, ``metadata``), ``GET /v1/batches``
  (newest first, ``after`` cursor), ``GET /v1/batches/{id}``, ``POST /v1/batches/{id}/cancel``,
  ``GET /v1/files/{id}/content``; output lines ``{id, custom_id, response: {status_code,
  request_id, body}, error}``, error-file lines with a non-200 ``response`` or ``error: {code:
  batch_expired | batch_cancelled, message}``; a file with duplicate custom ids, another url or
  several models fails validation (status ``failed``, ``errors.data``).
* ``anthropic``: ``POST /v1/messages/batches`` (``requests: [{custom_id, params}]``, custom ids
  ``^[a-zA-Z0-9_-]{1,64}$`` and unique; a key, as ``x-api-key`` or, as the current SDK sends it, a
  Bearer token, and ``anthropic-version``), ``GET``
  one or the list (``after_id``), ``POST .../cancel``, ``GET .../results`` (JSONL at
  ``results_url`` once ``processing_status`` is ``ended``) with result types ``succeeded``,
  ``errored``, ``canceled`` and ``expired``.
* ``openrouter``: ``POST /api/v1/batches`` (``endpoint`` and ``model`` before ``requests`` in the
  body, the model's ``:batch`` variant, at most ``max_requests`` = 5,000 requests, a request's own
  ``model`` must match), answered ``202`` with status ``validating``; ``GET /api/v1/batches/{id}``
  (``results`` inline once terminal, each with ``response`` or ``error``), the list (``after``),
  ``POST .../cancel``.

Each line is answered as ``fault_server`` answers the same chat request under the same
``Script`` (rules per prompt and attempt, canonical pseudo-verdicts), so a batched run and a live
run against ``FaultServer`` get the same answers. A batch ends ``duration_s`` after it was
created; the first ``expire_batches`` batches expire instead, with every other line unfinished.
``hold_create_s`` delays the answer to a submission after the batch exists (``create_seen`` is
set then), to kill a client between the provider's acceptance and its ledger write.
"""

from __future__ import annotations

import email.parser
import email.policy
import hashlib
import json
import random
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from fault_server import Script, canonical_bytes, request_kind_and_prompt, scripted_completion, varied_content

_ANTHROPIC_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_LINE_ERRORS = {"429": 429, "500": 500, "503": 503, "400": 400}
_ANTHROPIC_ERROR_TYPES = {429: "rate_limit_error", 500: "api_error", 503: "overloaded_error", 400: "invalid_request_error"}
MAX_REQUESTS = {"openai": 50_000, "anthropic": 100_000, "openrouter": 5_000}


@dataclass
class FakeBatch:
    """One batch the fake holds."""

    batch_id: str
    index: int
    created_at: float
    ends_at: float
    lines: list[tuple[str, dict]]
    metadata: dict
    model: str | None
    expires: bool = False
    cancelled: bool = False
    failed_errors: list[dict] = field(default_factory=list)
    results: dict[str, tuple] = field(default_factory=dict)
    """custom_id -> ("ok", completion) | ("status", code, body) | ("expired",) | ("canceled",)."""
    files: dict[str, str] = field(default_factory=dict)

    def ended(self, now: float) -> bool:
        return bool(self.failed_errors) or now >= self.ends_at


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class FakeBatchServer:
    """``with FakeBatchServer("openai", script) as server: server.base_url``."""

    def __init__(self, dialect: str, script: Script | None = None, *, duration_s: float = 1.0, expire_batches: int = 0,
                 max_requests: int | None = None, hold_create_s: float = 0.0, port: int = 0):
        assert dialect in MAX_REQUESTS, dialect
        self.dialect = dialect
        self.script = script or Script(canonical=True)
        self.duration_s = duration_s
        self.expire_batches = expire_batches
        self.max_requests = max_requests or MAX_REQUESTS[dialect]
        self.hold_create_s = hold_create_s
        self.submitted: Counter[str] = Counter()
        """Times each custom id was submitted in a batch the fake accepted."""
        self.lines: list[tuple[str, dict]] = []
        """(custom_id, the line as a chat-completions body) of every accepted line, in order."""
        self.batches: dict[str, FakeBatch] = {}
        self.refused: list[tuple[int, str]] = []
        """(status, message) of every submission refused."""
        self.headers_seen: list[dict[str, str]] = []
        self.create_seen = threading.Event()
        """Set when a submission arrives (before ``hold_create_s``)."""
        self._files: dict[str, bytes] = {}
        self._attempts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._rng = random.Random(self.script.seed)  # response variants and judge flips, as fault_server draws them
        self._count = 0
        self._httpd = _Server(("127.0.0.1", port), _handler_for(self))
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        """What a run gives as its base URL for this dialect."""
        return f"http://127.0.0.1:{self.port}" + ("/api/v1" if self.dialect == "openrouter" else "/v1")

    def start(self) -> FakeBatchServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> FakeBatchServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- answering lines ----------------------------------------------------------------------

    def _answer(self, body: dict) -> tuple:
        """What the fault server would answer to this chat request (one attempt of it)."""
        kind, prompt = request_kind_and_prompt(body)
        canon = canonical_bytes(body)
        digest = hashlib.sha256(canon).hexdigest()
        with self._lock:
            attempt = self._attempts[digest]
            self._attempts[digest] += 1
        plan = self.script.rules.get(prompt, {}).get(kind) or [self.script.default]
        behaviour = plan[min(attempt, len(plan) - 1)]
        if behaviour in _LINE_ERRORS:
            code = _LINE_ERRORS[behaviour]
            return ("status", code, {"error": {"message": f"scripted {behaviour}"}})  # fault_server's body
        finish = "length" if behaviour == "length" else "stop"
        quote = prompt[:40] if self.script.quote_prompt else None
        reply = scripted_completion(kind, behaviour, canon, body, quote, finish)
        content = varied_content(self.script, self._draw, kind, behaviour, canon, body)
        if content is not None:
            reply["choices"][0]["message"]["content"] = content
        return ("ok", reply)

    def _draw(self) -> float:
        with self._lock:
            return self._rng.random()

    def _new_batch(self, lines: list[tuple[str, dict]], metadata: dict, model: str | None,
                   failed: list[dict] | None = None) -> FakeBatch:
        now = time.time()
        with self._lock:
            index = self._count
            self._count += 1
        batch_id = {"openai": "batch_", "anthropic": "msgbatch_", "openrouter": "batch_or_"}[self.dialect] + f"{index:06d}"
        batch = FakeBatch(batch_id, index, now, now + self.duration_s, lines, metadata, model,
                          expires=index < self.expire_batches, failed_errors=failed or [])
        if not batch.failed_errors:
            for number, (cid, body) in enumerate(lines):
                if batch.expires and number % 2 == 1:
                    batch.results[cid] = ("expired",)
                else:
                    batch.results[cid] = self._answer(body)
                self.submitted[cid] += 1
            self.lines.extend(lines)
        with self._lock:
            self.batches[batch_id] = batch
        return batch

    def status_of(self, batch: FakeBatch) -> str:
        now = time.time()
        if batch.failed_errors:
            return "failed"
        if batch.cancelled:
            return "cancelled"
        if not batch.ended(now):
            return "validating" if now < batch.created_at + 0.1 * self.duration_s else "in_progress"
        return "expired" if batch.expires else "completed"

    def line_result(self, batch: FakeBatch, cid: str) -> tuple:
        return ("canceled",) if batch.cancelled else batch.results[cid]

    def hold(self) -> None:
        """Called once a submitted batch exists, before the answer goes out."""
        self.create_seen.set()
        if self.hold_create_s:
            time.sleep(self.hold_create_s)


class _Server(ThreadingHTTPServer):
    daemon_threads = True


def _counts_openai(server: FakeBatchServer, batch: FakeBatch) -> dict:
    status = server.status_of(batch)
    if status in ("validating", "in_progress") or batch.failed_errors:
        return {"total": len(batch.lines), "completed": 0, "failed": 0}
    ok = sum(1 for cid, _ in batch.lines if server.line_result(batch, cid)[0] == "ok")
    return {"total": len(batch.lines), "completed": ok, "failed": len(batch.lines) - ok}


def _openai_batch(server: FakeBatchServer, batch: FakeBatch) -> dict:
    status = server.status_of(batch)
    ended = status in ("completed", "expired", "cancelled")
    if ended and not batch.files:
        out, err = [], []
        for number, (cid, _) in enumerate(batch.lines):
            result = server.line_result(batch, cid)
            row = {"id": f"batch_req_{batch.index}_{number}", "custom_id": cid, "response": None, "error": None}
            if result[0] == "ok":
                row["response"] = {"status_code": 200, "request_id": f"req_{number}", "body": result[1]}
                out.append(row)
            elif result[0] == "status":
                row["response"] = {"status_code": result[1], "request_id": f"req_{number}", "body": result[2]}
                err.append(row)
            else:
                code = "batch_expired" if result[0] == "expired" else "batch_cancelled"
                row["error"] = {"code": code, "message": "This request could not be executed before the batch ended."}
                err.append(row)
        for key, rows in (("output_file_id", out), ("error_file_id", err)):
            if rows:
                file_id = f"file-{key[:3]}-{batch.batch_id}"
                server._files[file_id] = "".join(json.dumps(r) + "\n" for r in rows).encode()
                batch.files[key] = file_id
    created = int(batch.created_at)
    return {
        "id": batch.batch_id, "object": "batch", "endpoint": "/v1/chat/completions",
        "errors": {"object": "list", "data": batch.failed_errors} if batch.failed_errors else None,
        "input_file_id": batch.metadata.get("_input_file_id", "file-x"), "completion_window": "24h", "status": status,
        "output_file_id": batch.files.get("output_file_id"), "error_file_id": batch.files.get("error_file_id"),
        "created_at": created, "in_progress_at": created, "expires_at": created + 86400,
        "finalizing_at": int(batch.ends_at) if ended else None, "completed_at": int(batch.ends_at) if status == "completed" else None,
        "failed_at": created if status == "failed" else None, "expired_at": int(batch.ends_at) if status == "expired" else None,
        "cancelling_at": None, "cancelled_at": int(time.time()) if status == "cancelled" else None,
        "request_counts": _counts_openai(server, batch),
        "metadata": {k: v for k, v in batch.metadata.items() if not k.startswith("_")} or None,
    }


def _anthropic_batch(server: FakeBatchServer, batch: FakeBatch) -> dict:
    status = server.status_of(batch)
    ended = status in ("completed", "expired", "cancelled")
    counts = {"processing": len(batch.lines), "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
    if ended:
        counts["processing"] = 0
        for cid, _ in batch.lines:
            kind = server.line_result(batch, cid)[0]
            counts[{"ok": "succeeded", "status": "errored", "expired": "expired", "canceled": "canceled"}[kind]] += 1
    return {
        "id": batch.batch_id, "type": "message_batch",
        "processing_status": "ended" if ended else ("canceling" if batch.cancelled else "in_progress"),
        "request_counts": counts, "created_at": _iso(batch.created_at), "expires_at": _iso(batch.created_at + 86400),
        "ended_at": _iso(batch.ends_at) if ended else None, "archived_at": None,
        "cancel_initiated_at": _iso(batch.created_at) if batch.cancelled else None,
        "results_url": f"http://127.0.0.1:{server.port}/v1/messages/batches/{batch.batch_id}/results" if ended else None,
    }


def _anthropic_result(server: FakeBatchServer, batch: FakeBatch, cid: str, params_model: str) -> dict:
    result = server.line_result(batch, cid)
    if result[0] == "ok":
        completion = result[1]
        choice = completion["choices"][0]
        message = {"id": f"msg_{cid[-12:]}", "type": "message", "role": "assistant", "model": params_model,
                   "content": [{"type": "text", "text": choice["message"]["content"]}],
                   "stop_reason": "max_tokens" if choice["finish_reason"] == "length" else "end_turn", "stop_sequence": None,
                   "usage": {"input_tokens": completion["usage"]["prompt_tokens"],
                             "output_tokens": completion["usage"]["completion_tokens"]}}
        return {"custom_id": cid, "result": {"type": "succeeded", "message": message}}
    if result[0] == "status":
        kind = _ANTHROPIC_ERROR_TYPES.get(result[1], "api_error")
        return {"custom_id": cid, "result": {"type": "errored", "error": {"type": "error", "error": {
            "type": kind, "message": result[2]["error"]["message"]}}}}
    return {"custom_id": cid, "result": {"type": result[0]}}


def _openrouter_batch(server: FakeBatchServer, batch: FakeBatch, *, with_results: bool = True) -> dict:
    status = server.status_of(batch)
    terminal = status in ("completed", "failed", "expired", "cancelled")
    results = None
    usage = None
    counts = {"total": len(batch.lines), "completed": 0, "failed": 0}
    if terminal and not batch.cancelled:
        results = []
        prompt_tokens = completion_tokens = 0
        for number, (cid, _) in enumerate(batch.lines):
            result = server.line_result(batch, cid)
            if result[0] == "ok":
                results.append({"id": f"res_{number}", "custom_id": cid,
                                "response": {"status_code": 200, "request_id": f"req_{number}", "body": result[1]}})
                counts["completed"] += 1
                prompt_tokens += result[1]["usage"]["prompt_tokens"]
                completion_tokens += result[1]["usage"]["completion_tokens"]
            elif result[0] == "status":
                # The provider answered with an error status: a response row with that status_code.
                results.append({"id": f"res_{number}", "custom_id": cid,
                                "response": {"status_code": result[1], "request_id": f"req_{number}", "body": result[2]}})
                counts["failed"] += 1
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                 "total_tokens": prompt_tokens + completion_tokens, "cost": 0.0}
    return {
        "id": batch.batch_id, "object": "batch", "endpoint": "/v1/chat/completions", "model": batch.model, "status": status,
        "completion_window": "24h", "created_at": int(batch.created_at),
        "finalized_at": int(batch.ends_at) if terminal else None,
        "error": {"message": batch.failed_errors[0]["message"]} if batch.failed_errors else None,
        "request_counts": counts, "results": results if with_results else None, "usage": usage,
    }


def _handler_for(server: FakeBatchServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _send(self, status: int, payload: bytes, content_type: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _json(self, status: int, obj: object) -> None:
            self._send(status, json.dumps(obj).encode())

        def _error(self, status: int, message: str) -> None:
            if server.dialect == "anthropic":
                self._json(status, {"type": "error", "error": {"type": "invalid_request_error", "message": message}})
            else:
                self._json(status, {"error": {"message": message, "type": "invalid_request_error"}})

        def _route(self) -> tuple[str, dict[str, str]]:
            path, _, query = self.path.partition("?")
            params = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
            return path.rstrip("/"), params

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length", 0)))

        def _authorised(self) -> bool:
            with server._lock:
                server.headers_seen.append({k.lower(): v for k, v in self.headers.items()})
            if server.dialect == "anthropic":
                # The API reference shows X-Api-Key; the current SDK sends its key as a Bearer token.
                keyed = self.headers.get("x-api-key") or (self.headers.get("Authorization") or "").startswith("Bearer ")
                if not keyed or not self.headers.get("anthropic-version"):
                    self._json(401, {"type": "error", "error": {"type": "authentication_error",
                                                                "message": "a key and anthropic-version are required"}})
                    return False
            elif not (self.headers.get("Authorization") or "").startswith("Bearer "):
                self._json(401, {"error": {"message": "missing bearer key"}})
                return False
            return True

        def _list(self, items: list[dict], params: dict[str, str], cursor: str) -> dict:
            items = sorted(items, key=lambda b: b["_index"], reverse=True)  # newest first
            after = params.get(cursor)
            if after:
                ids = [b["id"] for b in items]
                items = items[ids.index(after) + 1:] if after in ids else []
            limit = int(params.get("limit", 20))
            page, more = items[:limit], len(items) > limit
            page = [{k: v for k, v in b.items() if k != "_index"} for b in page]
            return {"data": page, "has_more": more, "first_id": page[0]["id"] if page else None,
                    "last_id": page[-1]["id"] if page else None, **({"object": "list"} if server.dialect != "anthropic" else {})}

        def do_GET(self) -> None:
            if not self._authorised():
                return
            path, params = self._route()
            getattr(self, f"_get_{server.dialect}")(path, params)

        def do_POST(self) -> None:
            if not self._authorised():
                return
            path, params = self._route()
            getattr(self, f"_post_{server.dialect}")(path, self._body())

        # -- openai ---------------------------------------------------------------------------

        def _post_openai(self, path: str, raw: bytes) -> None:
            if path == "/v1/files":
                parts = _multipart(self.headers.get("Content-Type", ""), raw)
                if parts.get("purpose") != b"batch" or "file" not in parts:
                    self._error(400, "purpose must be batch and a file is required")
                    return
                file_id = f"file-{len(server._files):06d}"
                server._files[file_id] = parts["file"]
                self._json(200, {"id": file_id, "object": "file", "bytes": len(parts["file"]), "created_at": int(time.time()),
                                 "filename": "input.jsonl", "purpose": "batch", "status": "processed"})
                return
            if path == "/v1/batches":
                body = json.loads(raw)
                data = server._files.get(body.get("input_file_id"))
                if data is None or body.get("endpoint") != "/v1/chat/completions" or body.get("completion_window") != "24h":
                    self._error(400, "input_file_id, endpoint /v1/chat/completions and completion_window 24h are required")
                    return
                lines, errors = [], []
                for number, text in enumerate(data.decode().splitlines(), start=1):
                    row = json.loads(text)
                    if row.get("method") != "POST" or row.get("url") != "/v1/chat/completions" or "custom_id" not in row:
                        errors.append({"code": "invalid_request", "message": "bad line", "line": number})
                    lines.append((row.get("custom_id"), row.get("body") or {}))
                ids = [cid for cid, _ in lines]
                if len(set(ids)) != len(ids):
                    errors.append({"code": "duplicate_custom_id", "message": "custom ids must be unique", "line": None})
                if len({b.get("model") for _, b in lines}) > 1:
                    errors.append({"code": "mixed_models", "message": "one model per batch", "line": None})
                if len(lines) > server.max_requests:
                    errors.append({"code": "too_many_requests", "message": f"at most {server.max_requests}", "line": None})
                metadata = {**(body.get("metadata") or {}), "_input_file_id": body["input_file_id"]}
                batch = server._new_batch([] if errors else lines, metadata, None, failed=errors)
                if errors:
                    batch.lines = lines
                server.hold()
                self._json(200, _openai_batch(server, batch))
                return
            match = re.fullmatch(r"/v1/batches/([^/]+)/cancel", path)
            if match and match.group(1) in server.batches:
                batch = server.batches[match.group(1)]
                batch.cancelled = True
                self._json(200, _openai_batch(server, batch))
                return
            self._error(404, f"no route {path}")

        def _get_openai(self, path: str, params: dict[str, str]) -> None:
            if path == "/v1/batches":
                items = [{**_openai_batch(server, b), "_index": b.index} for b in server.batches.values()]
                self._json(200, self._list(items, params, "after"))
                return
            match = re.fullmatch(r"/v1/batches/([^/]+)", path)
            if match and match.group(1) in server.batches:
                self._json(200, _openai_batch(server, server.batches[match.group(1)]))
                return
            match = re.fullmatch(r"/v1/files/([^/]+)/content", path)
            if match and match.group(1) in server._files:
                self._send(200, server._files[match.group(1)], "application/octet-stream")
                return
            self._error(404, f"no route {path}")

        # -- anthropic ------------------------------------------------------------------------

        def _post_anthropic(self, path: str, raw: bytes) -> None:
            if path == "/v1/messages/batches":
                body = json.loads(raw)
                requests = body.get("requests") or []
                ids = [r.get("custom_id") for r in requests]
                bad = [i for i in ids if not isinstance(i, str) or not _ANTHROPIC_ID.match(i)]
                if bad or len(set(ids)) != len(ids) or len(requests) > server.max_requests:
                    self._error(400, f"custom_id must match ^[a-zA-Z0-9_-]{{1,64}}$ and be unique; at most "
                                     f"{server.max_requests} requests")
                    return
                lines = []
                for r in requests:
                    params = r.get("params") or {}
                    if not {"model", "max_tokens", "messages"} <= params.keys():
                        self._error(400, "params need model, max_tokens and messages")
                        return
                    system = [{"role": "system", "content": params["system"]}] if "system" in params else []
                    chat = {"model": params["model"], "messages": system + list(params["messages"]),
                            "temperature": params.get("temperature"), "max_tokens": params["max_tokens"],
                            **{k: v for k, v in params.items() if k not in ("model", "messages", "system", "temperature", "max_tokens")}}
                    lines.append((r["custom_id"], chat))
                batch = server._new_batch(lines, {}, None)
                server.hold()
                self._json(200, _anthropic_batch(server, batch))
                return
            match = re.fullmatch(r"/v1/messages/batches/([^/]+)/cancel", path)
            if match and match.group(1) in server.batches:
                batch = server.batches[match.group(1)]
                batch.cancelled = True
                self._json(200, _anthropic_batch(server, batch))
                return
            self._error(404, f"no route {path}")

        def _get_anthropic(self, path: str, params: dict[str, str]) -> None:
            if path == "/v1/messages/batches":
                items = [{**_anthropic_batch(server, b), "_index": b.index} for b in server.batches.values()]
                self._json(200, self._list(items, params, "after_id"))
                return
            match = re.fullmatch(r"/v1/messages/batches/([^/]+)(/results)?", path)
            if match and match.group(1) in server.batches:
                batch = server.batches[match.group(1)]
                if not match.group(2):
                    self._json(200, _anthropic_batch(server, batch))
                    return
                if _anthropic_batch(server, batch)["processing_status"] != "ended":
                    self._error(400, "the batch has not ended")
                    return
                rows = [_anthropic_result(server, batch, cid, chat["model"]) for cid, chat in batch.lines]
                self._send(200, "".join(json.dumps(r) + "\n" for r in rows).encode(), "application/binary")
                return
            self._error(404, f"no route {path}")

        # -- openrouter -----------------------------------------------------------------------

        def _post_openrouter(self, path: str, raw: bytes) -> None:
            if path == "/api/v1/batches":
                text = raw.decode()
                positions = [text.find(f'"{k}"') for k in ("endpoint", "model", "requests")]
                if min(positions) < 0 or positions[2] < max(positions[:2]):
                    self._error(400, "endpoint and model must come before requests in the body")
                    return
                body = json.loads(raw)
                model = body.get("model") or ""
                requests = body.get("requests") or []
                if body.get("endpoint") != "/v1/chat/completions" or not model.endswith(":batch"):
                    self._error(400, f"model {model!r} has no batch variant on /v1/chat/completions")
                    return
                if len(requests) > server.max_requests:
                    self._error(400, f"a batch holds at most {server.max_requests} requests")
                    return
                ids = [r.get("custom_id") for r in requests]
                if len(set(ids)) != len(ids) or any(r.get("body", {}).get("model", model) != model for r in requests):
                    self._error(400, "custom ids must be unique and a request's model must match the batch's")
                    return
                batch = server._new_batch([(r["custom_id"], {**r["body"], "model": model}) for r in requests], {}, model)
                server.hold()
                self._json(202, _openrouter_batch(server, batch))
                return
            match = re.fullmatch(r"/api/v1/batches/([^/]+)/cancel", path)
            if match and match.group(1) in server.batches:
                batch = server.batches[match.group(1)]
                batch.cancelled = True
                self._json(200, _openrouter_batch(server, batch))
                return
            self._error(404, f"no route {path}")

        def _get_openrouter(self, path: str, params: dict[str, str]) -> None:
            if path == "/api/v1/batches":
                items = [{**_openrouter_batch(server, b, with_results=False), "_index": b.index} for b in server.batches.values()]
                self._json(200, self._list(items, params, "after"))
                return
            match = re.fullmatch(r"/api/v1/batches/([^/]+)", path)
            if match and match.group(1) in server.batches:
                self._json(200, _openrouter_batch(server, server.batches[match.group(1)]))
                return
            self._error(404, f"no route {path}")

    return Handler


def _multipart(content_type: str, raw: bytes) -> dict[str, bytes]:
    """The fields of a multipart/form-data body."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + raw)
    fields: dict[str, bytes] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name:
            fields[name] = part.get_payload(decode=True) or b""
    return fields
