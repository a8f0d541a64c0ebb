"""A recording OpenAI-compatible server on 127.0.0.1 for reproductions (stdlib only).

Every chat request body is kept. A judge call (a system message, then ``USER: ...\\nASSISTANT:
...``) is answered with one of ``JUDGE_REPLIES``, chosen by a hash of the request body, so the
attempts of one check get the same reply and a test knows which reply each check got. A model
call is answered by ``respond``: padded text (to show the judge sees it stripped), for the
reasoning models named in ``reasoning_only`` a message with empty or null content and reasoning
text, and for a few prompts an empty message or an HTTP 400 (a failed model call).

``JUDGE_REPLIES`` pairs each reply with what the authors' pipeline made of it (model_recipes.md
section 4 and their reading order): True / False, or None for a reply their parser could not
read (asked 3 times, then counted as no violation). ``FAILED_JUDGE`` is answered with HTTP 400.
"""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

JUDGE_REPLIES: list[tuple[str, bool | None]] = [
    ('{"reasoning": "It claims feelings.", "keep": true}', True),
    ('{"reasoning": "Plain help.", "keep": false}', False),
    ('Sure.\n```json\n{"reasoning": "Flattering.", "keep": "yes"}\n```', True),
    ('My assessment: {"reasoning": {"summary": "warm", "score": 3}, "keep": true}', False),
    ('{"reasoning": "Counted.", "keep": 2}', True),
    ('{"reasoning": "Listed.", "keep": [true]}', True),
    ('{"reasoning": "Unsure.", "keep": null}', False),
    ('{"reasoning": "Wrong key.", "violation": true}', False),
    ("I cannot decide between the two readings.", None),
    ('{"reasoning": "Bare word.", "keep": yes}', None),
    ('{"reasoning": "broken, "keep": "true"', None),
    ('{"reasoning": "cut off, "keep": true', True),
    ("FAILED_JUDGE", None),
]
"""(judge reply, the authors' verdict: True/False, None when they could not read it)."""
FAILED_JUDGE = "FAILED_JUDGE"


def reply_index(raw: bytes) -> int:
    return hashlib.sha256(raw).digest()[0] % len(JUDGE_REPLIES)


def authors_verdict(index: int) -> bool:
    """What the authors counted: their verdict, or no violation when there was none."""
    return bool(JUDGE_REPLIES[index][1])


class RecipeServer:
    """``with RecipeServer(...) as server: server.base_url``; ``judged`` and ``bodies`` record the calls."""

    def __init__(self, *, reasoning_only: dict[str, str | None] | None = None, empty: set[str] | None = None,
                 failing: set[str] | None = None):
        self.reasoning_only = reasoning_only or {}
        """Model id -> content to send ('' or None) with reasoning text and no answer."""
        self.empty = empty or set()
        """Prompts answered with an empty message (no reasoning)."""
        self.failing = failing or set()
        """Prompts whose model call fails with HTTP 400."""
        self.bodies: list[tuple[str, dict]] = []
        """(kind, body) of every chat request: ``respond`` or ``judge``."""
        self.sent: dict[tuple[str, str], dict] = {}
        """(model id, prompt text) -> the message answered (``content``, ``reasoning_content``)."""
        self.judged: dict[str, int] = {}
        """Judge user message + system message hash -> index of the reply given."""
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def __enter__(self) -> RecipeServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def answer(self, raw: bytes, body: dict) -> tuple[int, dict]:
        messages = body.get("messages") or []
        is_judge = len(messages) == 2 and messages[0]["role"] == "system" and messages[1]["content"].startswith("USER: ")
        with self._lock:
            self.bodies.append(("judge" if is_judge else "respond", body))
        if is_judge:
            index = reply_index(raw)
            key = hashlib.sha256((messages[0]["content"] + "\0" + messages[1]["content"]).encode()).hexdigest()
            with self._lock:
                self.judged[key] = index
            text = JUDGE_REPLIES[index][0]
            if text == FAILED_JUDGE:
                return 400, {"error": {"message": "the judge refuses this request"}}
            return 200, _completion(body["model"], {"role": "assistant", "content": text})
        prompt = messages[-1]["content"]
        if prompt in self.failing:
            return 400, {"error": {"message": "the model refuses this request"}}
        if prompt in self.empty:
            message = {"role": "assistant", "content": ""}
        elif body["model"] in self.reasoning_only and hashlib.sha256(prompt.encode()).digest()[0] % 2 == 0:
            message = {"role": "assistant", "content": self.reasoning_only[body["model"]],
                       "reasoning_content": f"Thinking about '{prompt[:12]}'... it is \"tricky\""}
        else:
            message = {"role": "assistant", "content": f"\n  {body['model']} answers: {prompt[:20]}  \n\n"}
        with self._lock:
            self.sent[(body["model"], prompt)] = message
        return 200, _completion(body["model"], message)


def _completion(model: str, message: dict) -> dict:
    return {"id": "c", "object": "chat.completion", "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}


def _handler(server: RecipeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            self._send(200, {"object": "list", "data": [{"id": "recipes", "object": "model"}]})

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            status, payload = server.answer(raw, json.loads(raw))
            self._send(status, payload)

        def _send(self, status: int, payload: dict) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler
