"""The authors' rubrics served from 127.0.0.1, laid out as in their repository.

The shared reference copies are named ``<key>.filter2.json``; the server answers
``/<key>/filter2.json`` with them, as raw.githubusercontent.com answers the pinned commit.
``overrides`` replaces a file's bytes (to test a changed byte); ``requests`` counts paths asked for
(without the query, which ``queries`` keeps per path); ``delay_s`` waits before every answer.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

SHARED_RUBRICS = Path(__file__).resolve().parent.parent.parent / "shared" / "datasets" / "eudaimonia" / "authors_rubrics"


def shared_rubric(key: str) -> Path:
    path = SHARED_RUBRICS / f"{key}.filter2.json"
    if not path.is_file():
        raise RuntimeError(f"the authors' rubric copies are required for the tests and {path} is missing")
    return path


class RubricServer:
    """``with RubricServer() as server: server.base_url``."""

    def __init__(self, overrides: dict[str, bytes] | None = None, delay_s: float = 0.0):
        self.overrides = dict(overrides or {})
        self.requests: Counter[str] = Counter()
        self.queries: dict[str, str] = {}
        self.delay_s = delay_s
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                path, _, query = self.path.partition("?")
                outer.requests[path] += 1
                outer.queries[path] = query
                if outer.delay_s:
                    time.sleep(outer.delay_s)
                parts = path.strip("/").split("/")
                body = None
                if len(parts) >= 2 and parts[-1] == "filter2.json":
                    key = parts[-2]
                    if key in outer.overrides:
                        body = outer.overrides[key]
                    elif (SHARED_RUBRICS / f"{key}.filter2.json").is_file():
                        body = shared_rubric(key).read_bytes()
                if body is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/src/filter/measure"

    def __enter__(self) -> "RubricServer":
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
