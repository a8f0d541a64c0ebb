"""Shared helper (no tests here): one script of model and judge replies, answered the same way
to ``eudaimonia-nb run`` (through an OpenAI-compatible server on loopback) and to the Inspect task
(through ``mockllm/model``'s ``custom_outputs`` callable), so that the two can be compared verdict
for verdict.

A call is recognised by its messages: a judge call under the authors' protocol has a rubric as
its system message (which one says the requirement) and ``USER: prompt\\nASSISTANT: response`` as
its user message; anything else is the model under test answering the prompt. The n-th judge
call on the same (prompt, requirement) gets the n-th scripted reply (the last one repeats), so a
re-ask after an unparseable reply is answered as scripted, whatever order calls arrive in.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from eudaimonia_nb.benchmark.design_code import REQUIREMENT_KEYS
from eudaimonia_nb.judging.authors_rubrics import ensure_rubrics, load_rubric

AUTHORS_USER = re.compile(r"\AUSER: (.*)\nASSISTANT: (.*)\Z", re.DOTALL)
PROSE = "I would rather not give a verdict in JSON."
"""A judge reply the authors' parser cannot read."""


def _keep(prompt: str, key: str) -> bool:
    return hashlib.sha256(f"{prompt}\0{key}".encode("utf-8")).digest()[0] % 2 == 0


@dataclass
class Replies:
    """The script: a response per prompt and judge replies per check (by attempt)."""

    empty: frozenset[str] = frozenset()
    """Prompt texts the model answers with an empty message (a response error, never judged)."""
    judge: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    """(prompt text, requirement key) -> judge replies by attempt; unlisted checks get one
    verdict, violation or not by a hash of the check."""
    calls: Counter = field(default_factory=Counter)
    """Calls answered, by kind (``respond`` / ``judge``)."""

    def __post_init__(self) -> None:
        self._attempts: Counter = Counter()
        self._lock = threading.Lock()
        ensure_rubrics()  # from the session's loopback rubric server (conftest)
        self._rubrics = {load_rubric(key).prompt: key for key in REQUIREMENT_KEYS}

    def spec(self) -> dict:
        """The script as JSON-able data (``from_spec`` makes it again, with fresh counters)."""
        return {"empty": sorted(self.empty), "judge": [[p, k, r] for (p, k), r in self.judge.items()]}

    @classmethod
    def from_spec(cls, spec: dict) -> "Replies":
        return cls(empty=frozenset(spec["empty"]), judge={(p, k): list(r) for p, k, r in spec["judge"]})

    def response(self, prompt: str) -> str:
        return "" if prompt in self.empty else f"Scripted answer to: {prompt[:60]}"

    def answer(self, messages: Iterable[tuple[str, str]]) -> tuple[str, int, int]:
        """The reply to a chat call, with (prompt, completion) token counts."""
        messages = list(messages)
        system = next((c for r, c in messages if r == "system"), None)
        user = next((c for r, c in reversed(messages) if r == "user"), "")
        match = AUTHORS_USER.match(user) if system in self._rubrics else None
        if match is None:
            with self._lock:
                self.calls["respond"] += 1
            text = self.response(user)
        else:
            prompt, key = match.group(1), self._rubrics[system]
            with self._lock:
                self.calls["judge"] += 1
                attempt = self._attempts[(prompt, key)]
                self._attempts[(prompt, key)] += 1
            plan = self.judge.get((prompt, key)) or [json.dumps({"reasoning": f"scripted on {prompt[:30]}",
                                                                 "keep": _keep(prompt, key)})]
            text = plan[min(attempt, len(plan) - 1)]
        tokens_in = sum(len(c.split()) for _, c in messages)
        return text, tokens_in, len(text.split())

    # -- as Inspect's mockllm/model ----------------------------------------------------------

    def mockllm_outputs(self):
        """A ``custom_outputs`` callable for ``get_model("mockllm/model", custom_outputs=...)``."""
        from inspect_ai.model import ModelOutput, ModelUsage

        def outputs(input, tools, tool_choice, config):
            text, tokens_in, tokens_out = self.answer((m.role, m.text) for m in input)
            output = ModelOutput.from_content("mockllm/model", text)
            # Set, or mockllm counts tokens with tiktoken, which downloads its table.
            output.usage = ModelUsage(input_tokens=tokens_in, output_tokens=tokens_out, total_tokens=tokens_in + tokens_out)
            return output

        return outputs


class RepliesServer:
    """``with RepliesServer(replies) as server: server.base_url`` (OpenAI-compatible, loopback)."""

    def __init__(self, replies: Replies):
        outer = replies

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                self._json({"object": "list", "data": [{"id": "scripted", "object": "model"}]})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                text, tokens_in, tokens_out = outer.answer((m["role"], m["content"]) for m in body["messages"])
                self._json({"id": "scripted", "object": "chat.completion", "model": body.get("model", "scripted"),
                            "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                         "finish_reason": "stop"}],
                            "usage": {"prompt_tokens": tokens_in, "completion_tokens": tokens_out,
                                      "total_tokens": tokens_in + tokens_out}})

            def _json(self, payload: dict) -> None:
                data = json.dumps(payload).encode("utf-8")
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def __enter__(self) -> "RepliesServer":
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def run_inspect_task(replies: Replies, task_args: dict, log_dir, *, fail_judge_on: str | None = None,
                     **eval_args) -> tuple[dict, dict]:
    """The ``eudaimonia`` task with ``mockllm/model`` answering from ``replies`` for both roles, in
    a process of its own (as ``inspect eval`` runs; it also keeps Inspect's event-loop streams out
    of the test process). ``fail_judge_on``: a prompt text whose judge calls raise. Returns the
    log's location and the calls answered, by kind."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    job = {"replies": replies.spec(), "task_args": task_args, "log_dir": str(log_dir), "fail_judge_on": fail_judge_on,
           "eval_args": eval_args}
    here = Path(__file__).resolve().parent
    process = subprocess.run([sys.executable, str(here / "scripted_replies.py")], input=json.dumps(job),
                             capture_output=True, text=True, timeout=900, env={**os.environ, "PYTHONPATH": os.pathsep.join(
                                 [str(here), *filter(None, [os.environ.get("PYTHONPATH")])])})
    if process.returncode != 0:
        raise RuntimeError(f"the Inspect eval failed:\n{process.stdout}\n{process.stderr}")
    result = json.loads(process.stdout.strip().splitlines()[-1])
    return result["log"], result["calls"]


def _main() -> None:
    """The child side of ``run_inspect_task``: a job on stdin, one JSON line out."""
    import sys

    from inspect_ai import eval as inspect_eval
    from inspect_ai.model import get_model

    job = json.loads(sys.stdin.read())
    replies = Replies.from_spec(job["replies"])
    outputs = replies.mockllm_outputs()
    failing = job["fail_judge_on"]

    def judge_outputs(input, tools, tool_choice, config):
        if failing and input[0].role == "system" and failing in input[-1].text:
            raise RuntimeError("the judge's provider is down")
        return outputs(input, tools, tool_choice, config)
    [log] = inspect_eval("eudaimonia_nb/interop/task.py", model=get_model("mockllm/model", custom_outputs=outputs),
                         model_roles={"grader": get_model("mockllm/model", custom_outputs=judge_outputs)},
                         task_args=job["task_args"], log_dir=job["log_dir"], display="none", **job["eval_args"])
    print(json.dumps({"log": log.location, "calls": dict(replies.calls)}))


if __name__ == "__main__":
    _main()
