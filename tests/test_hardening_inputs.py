"""Issue 11, items 5 (downloads), 8 and 11: `fetch` and the price table meet bad input with a
one-line error naming what was wrong, never a traceback and never the URL's credentials."""

from __future__ import annotations

import http.server
import subprocess
import sys
import threading
import time

import pytest

from eudaimonia_nb.benchmark.fetch import FetchError, fetch_benchmark
from eudaimonia_nb.judging.pricing import PriceTableError, load_prices

CLI = [sys.executable, "-m", "eudaimonia_nb"]
HEADER = "model,input_usd_per_million,output_usd_per_million\n"


def _cli(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def server():
    """Loopback downloads: a bad Content-Length, a server trickling bytes, and a 500."""
    trickled: list[int] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's naming
            path = self.path.split("?")[0]
            if path == "/bad-length.jsonl":
                self.send_response(200)
                self.send_header("Content-Length", "twelve")
                self.end_headers()
                self.wfile.write(b'{"a": 1}\n')
                self.close_connection = True
            elif path == "/trickle.jsonl":
                self.send_response(200)
                self.send_header("Content-Length", "600")
                self.end_headers()
                sent = 0
                try:
                    for _ in range(600):  # two minutes at this pace
                        self.wfile.write(b"x")
                        self.wfile.flush()
                        sent += 1
                        time.sleep(0.2)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                finally:
                    trickled.append(sent)
            else:
                self.send_response(500)
                self.send_header("Content-Length", "4")
                self.end_headers()
                self.wfile.write(b"boom")

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", trickled
    httpd.shutdown()
    httpd.server_close()  # the listening socket; shutdown() only stops the loop


# --- item 8: fetch errors ---------------------------------------------------------------------

def test_fetch_bad_inputs_give_one_line_errors(server, tmp_path):
    base, _ = server
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    cases = [
        (["--url", "not-a-url"], "expected an http(s) URL"),
        (["--url", f"{base}/bad-length.jsonl"], "invalid Content-Length"),
        (["--url", f"{base}/x.jsonl", "--dest", str(a_file / "sub" / "x.jsonl")], f"cannot save to {a_file}"),
    ]
    for args, expected in cases:
        dest = [] if "--dest" in args else ["--dest", str(tmp_path / "out.jsonl")]
        result = _cli(["fetch", *args, *dest])
        assert result.returncode == 1, (args, result.stderr)
        assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert expected in result.stderr, (args, result.stderr)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]  # nothing half-written


def test_fetch_errors_never_show_url_credentials(server, tmp_path):
    base, _ = server
    url = base.replace("http://", "http://alice:hunter2secret@") + "/missing.jsonl?token=tok3nsecret&v=2"
    with pytest.raises(FetchError) as caught:
        fetch_benchmark(url=url, dest=tmp_path / "x.jsonl")
    message = str(caught.value)
    assert "hunter2secret" not in message and "tok3nsecret" not in message and "alice" not in message
    assert "127.0.0.1" in message and "v=2" in message  # still says where it tried


# --- item 5: a total deadline per download ------------------------------------------------

def test_a_trickling_download_stops_at_its_deadline(server, tmp_path):
    base, trickled = server
    with pytest.raises(FetchError, match="timed out"):
        # each byte comes well within the 1 s wait; the whole file would take two minutes
        fetch_benchmark(url=f"{base}/trickle.jsonl", dest=tmp_path / "x.jsonl", timeout=1.0, deadline=1.0)
    assert list(tmp_path.iterdir()) == []
    cli = _cli(["fetch", "--url", f"{base}/trickle.jsonl", "--dest", str(tmp_path / "y.jsonl"), "--timeout", "1",
                "--deadline", "1"])
    assert cli.returncode == 1 and "timed out" in cli.stderr and "Traceback" not in cli.stderr
    deadline = time.monotonic() + 10
    while len(trickled) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(trickled) == 2 and max(trickled) < 600  # both hung up long before the end


# --- item 11: price table and options ---------------------------------------------------------

def test_a_price_table_saved_by_excel_with_a_bom_loads(tmp_path):
    path = tmp_path / "prices.csv"
    path.write_bytes(b"\xef\xbb\xbf" + (HEADER + "gpt-x,2,8\r\n").encode("utf-8"))
    assert load_prices(path)["gpt-x"].output_usd_per_million == 8.0


@pytest.mark.parametrize(("body", "expected"), [
    (HEADER + "gpt-x,inf,8\n", r"line 2: column 'input_usd_per_million': expected a finite number >= 0, got 'inf'"),
    (HEADER + "gpt-x,2,-8\n", r"line 2: column 'output_usd_per_million': expected a finite number >= 0, got '-8'"),
    (HEADER + "gpt-x,2,1e999\n", r"line 2: column 'output_usd_per_million': expected a finite number"),
    ("", r"prices\.csv: the file is empty"),
    ("# only a comment\n\n", r"prices\.csv: the file is empty"),
])
def test_bad_price_tables_are_refused_naming_file_and_line(tmp_path, body, expected):
    path = tmp_path / "prices.csv"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(PriceTableError, match=expected) as caught:
        load_prices(path)
    assert str(path) in str(caught.value)


def test_a_price_table_that_is_not_utf8_names_file_and_line(tmp_path):
    path = tmp_path / "prices.csv"
    path.write_bytes((HEADER + "gpt-x,2,8\n").encode("utf-8") + "caf\u00e9-model,1,1\n".encode("cp1252"))
    with pytest.raises(PriceTableError, match=r"prices\.csv, line 3: not UTF-8") as caught:
        load_prices(path)
    assert str(path) in str(caught.value)


def test_report_refuses_a_negative_bootstrap_count(tmp_path):
    result = _cli(["report", "--n-boot", "-3", "--out", str(tmp_path / "r.html")])
    assert result.returncode == 2 and "--n-boot: expected an integer >= 1, got '-3'" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "r.html").exists()
