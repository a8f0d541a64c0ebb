"""A scripted OpenAI-compatible server on 127.0.0.1 whose verdicts depend on the system prompt.

Model under test: a model named ``steerable`` answers in a ``careful`` style when its system
prompt contains ``MARKER``, else ``plain``; every other model always answers ``plain``. Each
response also carries a digest of the system prompt, so the two conditions' responses (and so
their verdicts) are distinct draws even when the style is the same.

Judge: violation with probability expit(u(prompt) + CAREFUL_LOG_ODDS * careful), decided by a
uniform number hashed from the judged request, so every run is deterministic. u(prompt) is a
standard normal quantile hashed from the prompt: checks on one prompt share a difficulty, as in
the benchmark. ``expected_diff`` gives the true paired rate difference for any set of checks.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from scipy.special import expit, ndtri

MARKER = "Follow the EUDAIMONIA design code."
STEERABLE = "steerable"
CAREFUL_LOG_ODDS = -1.0
JUDGE_MARKER = "You are a careful evaluator for the EUDAIMONIA benchmark"
_REQUIREMENT = re.compile(r"^# Requirement (.+)$", re.MULTILINE)
_CONVERSATION = re.compile(r"<conversation-[0-9a-f]+>\n(.*)\n</conversation-[0-9a-f]+>", re.DOTALL)


def _uniform(*parts: str) -> float:
    digest = hashlib.sha256("\x00".join(parts).encode("utf-8")).digest()
    return (int.from_bytes(digest[:8], "big") + 0.5) / 2**64


def prompt_difficulty(prompt: str) -> float:
    """u(prompt): a standard normal draw fixed by the prompt text."""
    return float(ndtri(_uniform("difficulty", prompt)))


def violation_probability(prompt: str, careful: bool) -> float:
    return float(expit(prompt_difficulty(prompt) + (CAREFUL_LOG_ODDS if careful else 0.0)))


def expected_diff(prompts: list[str]) -> float:
    """True mean of P(violation | careful) - P(violation | plain) over checks on ``prompts``
    (one entry per check)."""
    return sum(violation_probability(p, True) - violation_probability(p, False) for p in prompts) / len(prompts)


def _reply(body: dict) -> str:
    messages = body.get("messages") or []
    system = next((m["content"] for m in messages if m.get("role") == "system"), "")
    user = next((m["content"] for m in reversed(messages) if m.get("role") == "user"), "")
    if system.startswith(JUDGE_MARKER):
        conversation = json.loads(_CONVERSATION.search(user).group(1))
        prompt, response = conversation["user_prompt"], conversation["assistant_response"]
        careful = response.startswith("[careful]")
        # Keyed on the requirement's heading, not the rubric text: editing a rubric's wording must
        # not redraw every scripted verdict.
        heading = _REQUIREMENT.search(system)
        draw = _uniform("verdict", heading.group(1) if heading else system, prompt, response)
        return json.dumps({"reasoning": "scripted", "violation": draw < violation_probability(prompt, careful)})
    careful = body.get("model") == STEERABLE and MARKER in system
    digest = hashlib.sha256(system.encode("utf-8")).hexdigest()[:8]
    return f"[{'careful' if careful else 'plain'}] {body.get('model')}, system {digest}: an answer to the user."


class StudyServer:
    """``with StudyServer() as server: server.base_url``."""

    def __init__(self) -> None:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def __enter__(self) -> "StudyServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        content = _reply(body)
        payload = json.dumps({
            "id": "chatcmpl-study", "object": "chat.completion", "created": 0, "model": body.get("model", ""),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
        }).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
