"""Offline verdicts: the judge's JSON-schema request in the form llama.cpp's server accepts.

llama-cpp-python's server takes ``response_format`` ``{"type": "json_object", "schema": ...}``
(compiled to a grammar) and refuses OpenAI's ``json_schema`` type. The client falls back from
``json_schema`` to that form, then to free text; a scripted loopback server checks the ladder,
and the real llama.cpp server with SmolLM2 (a smoke-test model) checks that a run of a few
prompts now gets verdicts for most checks.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import threading
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from eudaimonia_nb.cli.main import main
from eudaimonia_nb.judging.client import ChatRequest, open_client
from eudaimonia_nb.judging.config import RunConfig
from eudaimonia_nb.judging.judge import VERDICT_SCHEMA, judge_request, parse_verdict
from eudaimonia_nb.judging.local_server import SMOKE_TEST_MODEL
from eudaimonia_nb.judging.runner import run
from eudaimonia_nb.store.results import load_judgments, verdict_details


class _FormatServer:
    """Refuses every response_format type not in ``accepted`` with a 422 naming the field, records
    each body's response_format, and answers a verdict."""

    def __init__(self, accepted: set[str]):
        self.seen: list[dict | None] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                form = body.get("response_format")
                server.seen.append(form)
                if form is not None and form.get("type") not in accepted:
                    status, payload = 422, {"detail": [{"loc": ["body", "response_format", "type"],
                                                        "msg": "Input should be 'text' or 'json_object'"}]}
                else:
                    content = json.dumps({"reasoning": "ok", "violation": True})
                    status, payload = 200, {"choices": [{"message": {"content": content}, "finish_reason": "stop"}],
                                            "usage": {"prompt_tokens": 1, "completion_tokens": 1}}
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


async def _two_calls(base_url: str) -> list[str | None]:
    client = open_client(base_url, None, concurrency=1, timeout_s=10)
    request = judge_request("2C_deference", "p", "r", model="m")
    try:
        return [(await client.complete(request)).text for _ in range(2)]
    finally:
        await client.provider.aclose()


@pytest.mark.parametrize("accepted, expected", [
    ({"json_object"}, ["json_schema", "json_object", "json_object"]),
    (set(), ["json_schema", "json_object", None, None]),
    ({"json_schema"}, ["json_schema", "json_schema"]),
], ids=["llama.cpp", "no-structured-output", "openai"])
def test_response_format_falls_back_to_llama_cpp_form_then_free_text(accepted, expected):
    server = _FormatServer(accepted)
    try:
        texts = asyncio.run(_two_calls(server.base_url))
    finally:
        server.close()
    assert all(parse_verdict(t).violation for t in texts)
    assert [f and f["type"] for f in server.seen] == expected
    for form in server.seen:
        if form is not None and form["type"] == "json_object":
            # The same schema, so the grammar constrains the reply to a verdict.
            assert form["schema"] == VERDICT_SCHEMA["json_schema"]["schema"]


def test_calls_refused_together_do_not_skip_the_llama_cpp_form():
    server = _FormatServer({"json_object"})

    async def together() -> list[str | None]:
        client = open_client(server.base_url, None, concurrency=4, timeout_s=10)
        requests = [judge_request("2C_deference", f"p{i}", "r", model="m") for i in range(4)]
        try:
            return [r.text for r in await asyncio.gather(*(client.complete(q) for q in requests))]
        finally:
            await client.provider.aclose()

    try:
        texts = asyncio.run(together())
    finally:
        server.close()
    assert all(parse_verdict(t).violation for t in texts)
    kinds = [f and f["type"] for f in server.seen]
    assert None not in kinds and kinds.count("json_object") == 4


def test_a_request_without_response_format_is_never_given_one():
    server = _FormatServer(set())
    try:
        client = open_client(server.base_url, None, concurrency=1, timeout_s=10)

        async def call() -> None:
            await client.complete(ChatRequest(model="m", messages=(("user", "hi"),)))
            await client.provider.aclose()

        asyncio.run(call())
    finally:
        server.close()
    assert server.seen == [None]


def test_smollm2_study_gets_verdicts_for_most_checks_end_to_end(llama_server, benchmark, tmp_path):
    """Two conditions with the local model, then `eudaimonia-nb study`: real (smoke-test)
    verdicts all the way, labelled as such."""
    store = tmp_path / "store.sqlite"
    prompt_file = tmp_path / "design_code.txt"
    prompt_file.write_text("Never claim to be human.", encoding="utf-8")
    base = RunConfig(
        model=SMOKE_TEST_MODEL, base_url=llama_server.base_url, judge_model=SMOKE_TEST_MODEL,
        judge_base_url=llama_server.base_url, api_key_env=None, judge_api_key_env=None, limit=2,
        max_tokens=48, judge_max_tokens=256, concurrency=2, timeout_s=300, max_retries=1, store_path=str(store),
        condition="baseline", protocol="suite",  # the issue: suite-protocol runs get verdicts offline
    )
    summaries = [run(base, benchmark=benchmark, progress=False),
                 run(replace(base, condition="design-code", system_prompt_file=str(prompt_file)),
                     benchmark=benchmark, progress=False)]
    frame = load_judgments(store)
    verdicts, checks = sum(s.verdicts for s in summaries), sum(s.n_checks for s in summaries)
    print(f"SmolLM2 suite runs: {verdicts} verdicts of {checks} checks")
    assert all(s.smoke_test and s.verdicts + s.errors == s.n_checks for s in summaries)
    assert verdicts >= 0.75 * checks, frame.loc[frame["violation"].isna(), "error"].tolist()
    for summary in summaries:
        details = verdict_details(store, summary.run_id)
        for raw in details.loc[details["error"].isna(), "raw"]:
            # Grammar-constrained: the whole reply is the schema's object, not JSON found in prose.
            assert set(json.loads(raw)) == {"reasoning", "violation"}
    log = llama_server.log_path.read_text(encoding="utf-8", errors="replace")
    # The json_schema form was refused (llama.cpp: HTTP 500 with a validation error), then
    # json_object with the schema was used for every later call.
    assert "Input should be 'text' or 'json_object'" in log

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["study", "--store", str(store), "--n-boot", "200"]) == 0
    text = out.getvalue()
    assert text.startswith("[SMOKE TEST") and "baseline" in text and "design-code" in text
