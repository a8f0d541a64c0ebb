"""`eudaimonia-nb fetch` end to end against a real HTTP server on loopback."""

from __future__ import annotations

import hashlib
import http.server
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from eudaimonia_nb.benchmark.fetch import FetchError, fetch_benchmark

SHA = "7d84c0fbb3d1ca7483a9afdab9bdf2216e1858ce2393311363e916958606fd6f"


@pytest.fixture(scope="module")
def server(dataset_path):
    good = dataset_path.read_bytes()
    corrupted = bytearray(good)
    corrupted[1000] ^= 0x01

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's naming
            if self.path == "/good.jsonl":
                self._send(200, good)
            elif self.path == "/corrupt.jsonl":
                self._send(200, bytes(corrupted))
            elif self.path == "/truncated.jsonl":
                # promise the whole file, send a tenth, then hang up
                self.send_response(200)
                self.send_header("Content-Length", str(len(good)))
                self.end_headers()
                self.wfile.write(good[: len(good) // 10])
                self.wfile.flush()
                self.close_connection = True
            else:
                self._send(500, b"boom")

        def _send(self, code, body):
            self.send_response(code)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()  # the listening socket; shutdown() only stops the loop


def test_download_verifies_and_saves(server, tmp_path):
    dest = tmp_path / "data" / "final_dataset.jsonl"
    path = fetch_benchmark(url=f"{server}/good.jsonl", dest=dest)
    assert path == dest
    assert hashlib.sha256(dest.read_bytes()).hexdigest() == SHA
    assert sorted(p.name for p in dest.parent.iterdir()) == ["final_dataset.jsonl"]


@pytest.mark.parametrize(
    ("name", "fragment"),
    [("corrupt.jsonl", "SHA-256 mismatch"), ("missing.jsonl", "HTTP 500"), ("truncated.jsonl", "cut short|failed after")],
)
def test_failed_download_leaves_nothing(server, tmp_path, name, fragment):
    dest = tmp_path / "final_dataset.jsonl"
    with pytest.raises(FetchError, match=fragment):
        fetch_benchmark(url=f"{server}/{name}", dest=dest)
    assert list(tmp_path.iterdir()) == []


def test_failed_download_keeps_a_previous_good_file(server, tmp_path, dataset_path):
    dest = tmp_path / "final_dataset.jsonl"
    dest.write_bytes(b"old contents")
    with pytest.raises(FetchError):
        fetch_benchmark(url=f"{server}/corrupt.jsonl", dest=dest)
    assert dest.read_bytes() == b"old contents"
    assert [p.name for p in tmp_path.iterdir()] == ["final_dataset.jsonl"]


def test_cli_fetch_and_error_exit(server, tmp_path):
    exe = [sys.executable, "-m", "eudaimonia_nb"]
    ok = subprocess.run([*exe, "fetch", "--url", f"{server}/good.jsonl", "--dest", str(tmp_path)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert Path(ok.stdout.strip()) == tmp_path / "final_dataset.jsonl"
    bad = subprocess.run(
        [*exe, "fetch", "--url", f"{server}/good.jsonl", "--sha256", "0" * 64, "--dest", str(tmp_path / "x.jsonl")],
        capture_output=True, text=True,
    )
    assert bad.returncode == 1
    assert "SHA-256 mismatch" in bad.stderr and not (tmp_path / "x.jsonl").exists()


def test_dest_with_a_trailing_slash_is_a_folder_even_before_it_exists(server, tmp_path):
    folder = tmp_path / "fresh"
    path = fetch_benchmark(url=f"{server}/good.jsonl", dest=f"{folder}/")
    assert path == folder / "final_dataset.jsonl" and path.is_file()
    assert path.stat().st_mode & 0o777 == 0o644  # readable by others: public data


def test_cli_fetch_from_a_file_url_fills_the_cache_offline(dataset_path, tmp_path):
    # The README's offline route: a copy someone gave you, into the default cache, hash-checked.
    env = {**os.environ, "EUDAIMONIA_DATA_DIR": str(tmp_path / "cache")}
    env.pop("EUDAIMONIA_DATASET", None)
    exe = [sys.executable, "-m", "eudaimonia_nb", "fetch", "--url"]
    ok = subprocess.run([*exe, dataset_path.resolve().as_uri()], capture_output=True, text=True, env=env)
    assert ok.returncode == 0, ok.stderr
    saved = tmp_path / "cache" / "final_dataset.jsonl"
    assert Path(ok.stdout.strip()) == saved and hashlib.sha256(saved.read_bytes()).hexdigest() == SHA

    edited = tmp_path / "edited.jsonl"
    edited.write_bytes(dataset_path.read_bytes()[:-10])
    bad = subprocess.run([*exe, edited.as_uri(), "--dest", str(tmp_path / "x.jsonl")], capture_output=True, text=True, env=env)
    assert bad.returncode == 1 and "SHA-256 mismatch" in bad.stderr and not (tmp_path / "x.jsonl").exists()
    missing = subprocess.run([*exe, (tmp_path / "nowhere.jsonl").as_uri(), "--dest", str(tmp_path / "y.jsonl")],
                             capture_output=True, text=True, env=env)
    assert missing.returncode == 1 and "nowhere.jsonl" in missing.stderr and "No such file" in missing.stderr
    assert not (tmp_path / "y.jsonl").exists()


def test_a_file_url_on_another_host_is_refused(tmp_path):
    with pytest.raises(FetchError, match="expected an http.s. URL .* or file:///path"):
        fetch_benchmark(url="file://fileserver/share/final_dataset.jsonl", dest=tmp_path / "x.jsonl")
    assert list(tmp_path.iterdir()) == []
