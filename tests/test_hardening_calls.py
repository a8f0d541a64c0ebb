"""Issue 24, points 3, 4 and the response-size cap of point 8: one bad reply never ends a run, a
refused rejudge or run leaves nothing behind, and non-finite settings are refused everywhere."""

from __future__ import annotations

import asyncio
import json
import math
import os
import socket
import sqlite3
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import pytest
from fault_server import FaultServer, Script

from eudaimonia_nb.judging.calls import judge, respond, response_request
from eudaimonia_nb.judging.client import ChatResponse, RequestCache, cache_scope
from eudaimonia_nb.judging.config import RunConfig
from eudaimonia_nb.store.results import list_runs, load_judgments, response_texts

CLI = [sys.executable, "-m", "eudaimonia_nb"]


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=600, env=dict(os.environ))


_GOOD = {"message": {"role": "assistant", "content": "A fine answer."}, "finish_reason": "stop", "index": 0}
MALFORMED = [
    # finish_reason of every wrong type (the case: an object)
    *[json.dumps({"choices": [{**_GOOD, "finish_reason": v}]}) for v in
      ({"type": "stop"}, [], ["stop"], 1, 2.5, True, {"nested": {"deep": [1]}})],
    # content of every wrong type, and missing
    *[json.dumps({"choices": [{**_GOOD, "message": {"role": "assistant", "content": v}}]}) for v in
      (1, 2.5, True, {"text": "x"}, [1, 2], [{"type": "text"}], [None], None)],
    json.dumps({"choices": [{**_GOOD, "message": {"role": "assistant"}}]}),
    json.dumps({"choices": [{**_GOOD, "message": {"role": "assistant", "content": None, "refusal": {"why": 1}}}]}),
    json.dumps({"choices": [{**_GOOD, "message": {"role": "assistant", "content": None, "refusal": 7}}]}),
    # message and choice of the wrong shape
    *[json.dumps({"choices": [{**_GOOD, "message": v}]}) for v in (None, "text", [], 1, True)],
    *[json.dumps({"choices": [v]}) for v in (None, "text", 1, [], True)],
    *[json.dumps({"choices": v}) for v in (None, {}, "x", [], 1, {"0": _GOOD})],
    json.dumps({"id": "no choices at all"}),
    # bodies that are not an object, or not JSON
    *[json.dumps(v) for v in ([], "a string", 1, None, True, [_GOOD])],
    "", "{", "not json at all", '{"choices": NaN}', '{"choices": [' * 50_000, "\ufeff", "<html>502 Bad Gateway</html>",
    json.dumps({"choices": [{**_GOOD, "finish_reason": {"x": 1}}], "usage": "lots"}),
    json.dumps({"choices": [{**_GOOD, "message": {"role": "assistant", "content": ["a", "b"]}}]}),
]
assert len(MALFORMED) == 50


class BodyServer:
    """OpenAI-compatible loopback server: the response call for prompt i gets ``bodies[i]`` (a 200),
    any other call a well-formed completion (``content``)."""

    def __init__(self, bodies: dict[str, str], content: str = '{"reasoning": "ok", "violation": false}'):
        self.bodies, self.content, self.posts = bodies, content, 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: object) -> None:
                pass

            def _send(self, payload: bytes) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:
                self._send(json.dumps({"object": "list", "data": [{"id": "m"}]}).encode())

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.posts += 1
                user = body["messages"][-1]["content"]
                if len(body["messages"]) == 1 and user in outer.bodies:
                    self._send(outer.bodies[user].encode("utf-8"))
                    return
                content = outer.content if len(body["messages"]) > 1 else "A fine answer."
                self._send(json.dumps({"choices": [{**_GOOD, "message": {"role": "assistant", "content": content}}],
                                       "usage": {"prompt_tokens": 3, "completion_tokens": 4}}).encode())

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> BodyServer:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def _run(server_url: str, store: Path, dataset: Path, prompt_ids: list[str], *extra: str) -> subprocess.CompletedProcess:
    return _cli("run", "--model", "m", "--base-url", server_url, "--judge-model", "j", "--judge-base-url", server_url,
                "--protocol", "suite", "--store", str(store), "--dataset", str(dataset), "--no-progress",
                "--retries", "0", "--concurrency", "8", "--prompt-ids", *prompt_ids, *extra)


# --- point 3: a malformed 200 reply is that check's error --------------------------------------

def test_fifty_malformed_200_bodies_each_become_an_error_and_the_run_finishes(tmp_path, dataset_path, benchmark):
    prompts = benchmark.prompts.head(len(MALFORMED))
    store = tmp_path / "fuzz.sqlite"
    with BodyServer(dict(zip(prompts["text"], MALFORMED))) as server:
        done = _run(server.base_url, store, dataset_path, list(prompts["prompt_id"]))
        assert done.returncode == 0, done.stderr
        run_id = done.stdout.strip().splitlines()[-1]
        responses = response_texts(store, run_id).set_index("prompt_id")
        assert len(responses) == len(MALFORMED) and responses["text"].isna().all()
        errors = responses["error"]
        assert errors.str.startswith(("malformed response body", "the model refused")).all(), errors.tolist()
        frame = load_judgments(store, [run_id])
        assert frame["violation"].isna().all() and frame["error"].str.startswith("no response to judge").all()
        again = _run(server.base_url, store, dataset_path, list(prompts["prompt_id"]), "--retry-failed")
        assert again.returncode == 0, again.stderr  # a resumed run meets them again, and finishes again


def test_usage_fields_are_coerced_and_a_poisoned_cache_entry_is_asked_again(tmp_path, dataset_path, benchmark):
    prompts = benchmark.prompts.head(2)
    texts = list(prompts["text"])
    odd_usage = json.dumps({"choices": [_GOOD], "usage": {"prompt_tokens": "12", "completion_tokens": -3}})
    store = tmp_path / "cache.sqlite"
    with BodyServer({texts[0]: odd_usage}) as server:
        config = RunConfig(model="m", base_url=server.base_url, judge_model="j", judge_base_url=server.base_url,
                           api_key_env=None, judge_api_key_env=None, protocol="suite")
        # A response cached by an earlier version with an object as finish_reason (today's main
        # stored that, then stopped at "Error binding parameter"; every resume stopped again).
        cache = RequestCache(store)
        cache.put(RequestCache.key(cache_scope(server.base_url), response_request(texts[1], config)),
                  ChatResponse(text="cached", finish_reason={"type": "stop"}))  # type: ignore[arg-type]
        cache.close()
        done = _run(server.base_url, store, dataset_path, list(prompts["prompt_id"]))
        assert done.returncode == 0, done.stderr
        run_id = done.stdout.strip().splitlines()[-1]
        responses = response_texts(store, run_id).set_index("prompt_id")
    first, second = prompts["prompt_id"]
    assert responses.loc[first, "text"] == "A fine answer." and responses.loc[first, "prompt_tokens"] == 12
    assert responses.loc[first, "completion_tokens"] == 0  # a negative count is no count
    assert responses.loc[second, "text"] == "A fine answer." and responses.loc[second, "finish_reason"] == "stop"


class _Exploding:
    """A client whose call fails in a way nothing anticipated."""

    endpoint = "http://127.0.0.1:9/v1"

    async def complete(self, request, *, use_cache: bool = True):
        raise RuntimeError("internal state broke; Authorization: Bearer sk-unexpected-secret-0123456789")


def test_an_unexpected_exception_in_one_call_is_that_calls_error():
    from eudaimonia_nb.judging.calls import UNEXPECTED

    config = RunConfig(model="m", base_url="http://127.0.0.1:9/v1", judge_model="j",
                       judge_base_url="http://127.0.0.1:9/v1", api_key_env=None, judge_api_key_env=None,
                       protocol="suite")
    reply = asyncio.run(respond(_Exploding(), "hello", config))
    assert not reply.ok and reply.error.startswith(f"{UNEXPECTED} (RuntimeError: internal state broke")
    assert "sk-unexpected-secret" not in reply.error
    verdict = asyncio.run(judge(_Exploding(), "2C_flattery_tone", "hello", "a response", config))
    assert verdict.violation is None and verdict.error.startswith(UNEXPECTED) and "sk-unexpected" not in verdict.error


def test_a_response_over_the_size_cap_is_an_error_neither_stored_nor_judged(tmp_path, dataset_path, benchmark):
    prompts = benchmark.prompts.head(2)
    huge = json.dumps({"choices": [{**_GOOD, "message": {"role": "assistant", "content": "x" * 250_000}}]})
    store = tmp_path / "cap.sqlite"
    with BodyServer({prompts["text"].iloc[0]: huge}) as server:
        done = _run(server.base_url, store, dataset_path, list(prompts["prompt_id"]))
        assert done.returncode == 0, done.stderr
        judge_posts = server.posts - 2
    run_id = done.stdout.strip().splitlines()[-1]
    responses = response_texts(store, run_id).set_index("prompt_id")
    big, small = prompts["prompt_id"]
    assert pd.isna(responses.loc[big, "text"])
    assert responses.loc[big, "error"] == "response of 250,000 characters is longer than max_response_chars (200,000)"
    frame = load_judgments(store, [run_id])
    assert judge_posts == int((frame["prompt_id"] == small).sum())  # only the other prompt was judged
    assert frame.loc[frame["prompt_id"] == big, "error"].str.startswith("no response to judge: response of").all()


# --- point 4: rejudge records nothing before validation and preflight; non-finite timeouts ------

def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture()
def judged(tmp_path, dataset_path) -> tuple[Path, str]:
    store = tmp_path / "judged.sqlite"
    with FaultServer(Script()) as server:
        done = _cli("run", "--model", "m", "--base-url", server.base_url, "--judge-model", "j", "--judge-base-url",
                    server.base_url, "--store", str(store), "--dataset", str(dataset_path), "--no-progress",
                    "--limit", "3", "--source", "real")
    assert done.returncode == 0, done.stderr
    return store, done.stdout.strip().splitlines()[-1]


def test_rejudge_with_an_unreachable_judge_or_a_nan_timeout_leaves_no_phantom_run(judged, dataset_path):
    store, run_id = judged
    unreachable = f"http://127.0.0.1:{_closed_port()}/v1"
    done = _cli("rejudge", run_id, "--judge-model", "other", "--judge-base-url", unreachable, "--store", str(store),
                "--dataset", str(dataset_path), "--no-progress", "--timeout", "2")
    assert done.returncode == 1 and "connection" in done.stderr.lower(), done.stderr
    assert list(list_runs(store)["run_id"]) == [run_id]
    for bad in ("nan", "inf", "-1", "0"):
        done = _cli("rejudge", run_id, "--judge-model", "other", "--judge-base-url", unreachable, "--store",
                    str(store), "--timeout", bad)
        assert done.returncode == 2 and "--timeout" in done.stderr and "finite number" in done.stderr, done.stderr
    assert list(list_runs(store)["run_id"]) == [run_id]


def test_a_rejudge_stopped_early_keeps_no_copied_responses(judged, dataset_path):
    store, run_id = judged
    with FaultServer(Script(default="echo_auth")) as server:  # /models works, every judge call is refused (401)
        done = _cli("rejudge", run_id, "--judge-model", "other", "--judge-base-url", server.base_url, "--store",
                    str(store), "--dataset", str(dataset_path), "--no-progress")
    assert done.returncode == 1 and "stopped early" in done.stderr, done.stderr
    assert list(list_runs(store)["run_id"]) == [run_id]
    db = sqlite3.connect(store)
    try:
        assert db.execute("SELECT COUNT(DISTINCT run_id) FROM responses").fetchone()[0] == 1
    finally:
        db.close()


def test_a_refused_first_run_leaves_no_store_file(tmp_path, dataset_path):
    store = tmp_path / "new" / "results.sqlite"
    unreachable = f"http://127.0.0.1:{_closed_port()}/v1"
    done = _cli("run", "--model", "m", "--base-url", unreachable, "--judge-model", "j", "--judge-base-url",
                unreachable, "--store", str(store), "--dataset", str(dataset_path), "--no-progress", "--limit", "2",
                "--timeout", "2")
    assert done.returncode == 1, done.stderr
    assert not list(store.parent.glob("results.sqlite*")), list(store.parent.iterdir())


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_settings_are_refused_by_the_run_configuration(value):
    base = dict(model="m", base_url="http://127.0.0.1:9/v1", judge_model="j", judge_base_url="http://127.0.0.1:9/v1")
    for name in ("timeout_s", "retry_base_delay_s", "temperature", "judge_temperature"):
        with pytest.raises(ValueError, match=f"RunConfig.{name}: expected a finite number"):
            RunConfig(**base, **{name: value})
    for args in (["run", "--model", "m", "--base-url", "http://127.0.0.1:9/v1", "--judge-model", "j",
                  "--judge-base-url", "http://127.0.0.1:9/v1", f"--timeout={value}"],
                 ["fetch", f"--timeout={value}"], ["fetch", f"--deadline={value}"],
                 ["fetch-rubrics", f"--timeout={value}"], ["fetch-rubrics", f"--deadline={value}"]):
        done = _cli(*args)
        assert done.returncode == 2 and "finite number" in done.stderr, (args, done.stderr)
