"""The live hot path (issue 20): calls posted through the SDK's httpx client carry exactly the URL,
headers and body bytes the SDK sends; results are committed in groups and reported only once
committed; the request cache groups its writes; the open-file limit is checked."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import sqlite3
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from eudaimonia_nb.judging.client import ChatRequest, ChatResponse, OpenAIProvider, RequestCache, Usage
from eudaimonia_nb.judging.preflight import check_open_files
from eudaimonia_nb.judging.recording import ResultWriter
from eudaimonia_nb.store.results import ResponseRecord, ResultsStore, StoreError, VerdictRecord


class _Recorder:
    """A loopback server that records each request's path, raw headers and body."""

    def __init__(self, status: int = 200):
        self.seen: list[tuple[str, list[tuple[str, str]], bytes]] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                recorder.seen.append((self.path, list(self.headers.items()), raw))
                body = json.dumps({"choices": [{"message": {"content": "hi"}, "finish_reason": "stop"}],
                                   "usage": {"prompt_tokens": 3, "completion_tokens": 1}} if status == 200
                                  else {"error": {"message": "nope"}}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True

    def __enter__(self) -> _Recorder:
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]


def test_the_direct_path_sends_what_the_sdk_sends(monkeypatch):
    key = "-".join(("sk", "hot-path", secrets.token_hex(8)))  # built at run time: no key-like text in the tree
    monkeypatch.setenv("HOT_PATH_KEY", key)
    with _Recorder() as server:
        async def calls() -> list[ChatResponse]:
            provider = OpenAIProvider(f"http://127.0.0.1:{server.port}/v1?api-version=2024-10", "HOT_PATH_KEY",
                                      max_connections=70)
            try:
                replies = [await provider.attempt(ChatRequest(model="m", messages=(("user", "é ünïcode"),)), 10.0)
                           for _ in range(3)]
                assert provider._template and len(provider._pools) == 3  # the direct path is on, over 3 pools
                return replies
            finally:
                await provider.aclose()

        replies = asyncio.run(calls())
    assert all(r.text == "hi" and r.usage == Usage(3, 1) and r.finish_reason == "stop" for r in replies)
    (path0, headers0, body0), *rest = server.seen
    assert path0 == "/v1/chat/completions?api-version=2024-10"
    assert ("Authorization", f"Bearer {key}") in [(k.title(), v) for k, v in headers0]
    for path, headers, body in rest:  # through the SDK first, then direct: the same bytes on the wire
        assert (path, headers, body) == (path0, headers0, body0)


def test_the_direct_path_reports_errors_as_the_sdk_path_does(monkeypatch):
    from eudaimonia_nb.judging.client import CallFailure

    with _Recorder(status=503) as server:
        async def failures() -> list[CallFailure]:
            provider = OpenAIProvider(f"http://127.0.0.1:{server.port}/v1", None)
            caught = []
            try:
                for _ in range(2):
                    with pytest.raises(CallFailure) as failure:
                        await provider.attempt(ChatRequest(model="m", messages=(("user", "x"),)), 10.0)
                    caught.append(failure.value)
                assert provider._template  # learnt from the first (failed) call
            finally:
                await provider.aclose()
            return caught

        sdk, direct = asyncio.run(failures())
    assert (sdk.reason, sdk.status, sdk.retryable) == (direct.reason, direct.status, direct.retryable)
    assert direct.reason.startswith("HTTP 503") and direct.retryable


def _verdict(pid: str, sha: str | None = None) -> VerdictRecord:
    return VerdictRecord(pid, "2B_emotion_expression", True, "r", "{}", 1, 1, 0.0, 1, False, None, "v", sha)


def test_results_are_reported_only_once_their_group_is_committed(tmp_path):
    path = tmp_path / "store.sqlite"
    store = ResultsStore(path)
    reader = sqlite3.connect(path)
    reported: list[str] = []

    async def write() -> None:
        writer = ResultWriter(store, max_items=3, max_delay_s=10)
        for pid in ("p1", "p2"):
            writer.add(lambda pid=pid: store.put_response("run", ResponseRecord(pid, "t", 0, 0, 0.0, "stop", 1, False, None)),
                       lambda pid=pid: reported.append(pid))
        assert reported == [] and reader.execute("SELECT COUNT(*) FROM responses").fetchone()[0] == 0
        # A write the store refuses does not take the group down with it; it is raised afterwards.
        writer.add(lambda: store.put_verdict("run", _verdict("p1", sha="not-the-stored-response")), lambda: reported.append("bad"))
        assert reported == ["p1", "p2"] and reader.execute("SELECT COUNT(*) FROM responses").fetchone()[0] == 2
        with pytest.raises(StoreError):
            writer.add(lambda: None)
        writer.add(lambda: store.put_response("run", ResponseRecord("p3", "t", 0, 0, 0.0, "stop", 1, False, None)),
                   lambda: reported.append("p3"))
        writer.close()

    try:
        asyncio.run(write())
        assert reported == ["p1", "p2", "p3"]
        assert reader.execute("SELECT COUNT(*) FROM responses").fetchone()[0] == 3
        assert reader.execute("SELECT COUNT(*) FROM verdicts").fetchone()[0] == 0
    finally:
        reader.close()
        store.close()


def test_the_writer_commits_after_its_delay(tmp_path):
    store = ResultsStore(tmp_path / "store.sqlite")
    reported: list[int] = []

    async def write() -> None:
        writer = ResultWriter(store, max_items=1000, max_delay_s=0.05)
        writer.add(lambda: store.put_response("run", ResponseRecord("p", "t", 0, 0, 0.0, "stop", 1, False, None)),
                   lambda: reported.append(1))
        await asyncio.sleep(0.3)
        assert reported == [1]
        writer.close()

    try:
        asyncio.run(write())
    finally:
        store.close()


def test_the_request_cache_groups_its_writes_and_still_answers_from_them(tmp_path):
    path = tmp_path / "cache.sqlite"
    cache = RequestCache(path)
    reader = sqlite3.connect(path)
    try:
        cache.put("k1", ChatResponse(text="one", usage=Usage(1, 2), finish_reason="stop"))
        assert cache.get("k1").text == "one" and cache.get("k1").cached
        assert reader.execute("SELECT COUNT(*) FROM cache").fetchone()[0] == 0  # not committed yet
        for n in range(RequestCache.GROUP_ITEMS):
            cache.put(f"n{n}", ChatResponse(text=str(n)))
        assert reader.execute("SELECT COUNT(*) FROM cache").fetchone()[0] == RequestCache.GROUP_ITEMS  # one group
        cache.put("last", ChatResponse(text="last"))
        cache.close()
        assert reader.execute("SELECT COUNT(*) FROM cache").fetchone()[0] == RequestCache.GROUP_ITEMS + 2
    finally:
        reader.close()


def test_the_open_file_limit_is_raised_or_named(monkeypatch, caplog):
    import resource

    calls = []
    monkeypatch.setattr(resource, "getrlimit", lambda which: (256, 1024))
    monkeypatch.setattr(resource, "setrlimit", lambda which, limits: calls.append(limits))
    assert check_open_files(64) == 256 and not calls  # 2 x 64 + 64 fits
    assert check_open_files(300) == 664 and calls[-1] == (664, 1024)  # raised within the hard limit
    with caplog.at_level(logging.WARNING):
        assert check_open_files(600) == 1024
    assert "ulimit -n 1264" in caplog.text and "--concurrency" in caplog.text
