"""`eudaimonia-nb serve-local`: the documented one-line offline endpoint, run as a user would."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from eudaimonia_nb.judging.local_server import free_port


def _wait_for_models(url: str, process: subprocess.Popen, log: Path, timeout_s: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text(errors="replace")[-2000:]
        try:
            with urllib.request.urlopen(f"{url}/models", timeout=2) as reply:
                return json.load(reply)
        except OSError:
            time.sleep(0.5)
    raise AssertionError("serve-local did not answer /v1/models")


def test_serve_local_answers_chat_completions_on_loopback(tmp_path):
    port = free_port()
    log = tmp_path / "serve-local.log"
    # llama.cpp logs a lot: to a file, since an unread pipe would fill and stall the server
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "eudaimonia_nb", "serve-local", "--port", str(port), "--n-ctx", "1024"],
            stdout=subprocess.DEVNULL, stderr=out,
        )
    try:
        url = f"http://127.0.0.1:{port}/v1"
        models = _wait_for_models(url, process, log)
        assert models["data"] and models["data"][0]["id"].endswith(".gguf")
        body = json.dumps({"model": "smollm2", "max_tokens": 8, "temperature": 0,
                           "messages": [{"role": "user", "content": "Say hello in two words."}]}).encode()
        request = urllib.request.Request(f"{url}/chat/completions", data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as reply:
            answer = json.load(reply)
        assert isinstance(answer["choices"][0]["message"]["content"], str)
        assert answer["usage"]["completion_tokens"] >= 1
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert "smoke-test model" in log.read_text(errors="replace")
