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


def test_the_documented_offline_example_gets_verdicts_from_smollm2(tmp_path, dataset_path):
    """`make local-server` (= `serve-local --port 8080`, default context), then the run command it
    prints, which docs/judging.md gives word for word: three prompts answered and judged by SmolLM2
    with verdicts for most checks (the authors' protocol got none: every check an error)."""
    import shlex

    from eudaimonia_nb.judging.local_server import example_run_command
    from eudaimonia_nb.store.results import load_judgments

    docs = (Path(__file__).resolve().parent.parent / "docs" / "judging.md").read_text(encoding="utf-8")
    assert example_run_command(8080) in docs.splitlines()
    port = free_port()
    log = tmp_path / "serve-local.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "eudaimonia_nb", "serve-local", "--port", str(port)],
                                   stdout=subprocess.DEVNULL, stderr=out)
    try:
        _wait_for_models(f"http://127.0.0.1:{port}/v1", process, log)
        printed = [line.strip() for line in log.read_text(errors="replace").splitlines()
                   if line.strip().startswith("eudaimonia-nb run ")]
        assert printed == [example_run_command(port)]
        assert "--protocol suite" in printed[0] and "capable judge" in log.read_text(errors="replace")
        store = tmp_path / "results.sqlite"
        command = [sys.executable, "-m", "eudaimonia_nb", *shlex.split(printed[0])[1:], "--store", str(store),
                   "--dataset", str(dataset_path), "--no-progress"]
        done = subprocess.run(command, capture_output=True, text=True, timeout=1800)
        assert done.returncode == 0, done.stderr[-2000:]
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    frame = load_judgments(store)
    print(f"documented offline example: {int(frame['violation'].notna().sum())} verdicts of {len(frame)} checks; "
          f"{done.stdout.strip().splitlines()[-2]}")
    assert frame["prompt_id"].nunique() == 3 and frame.attrs.get("smoke_test")
    assert frame["violation"].notna().mean() >= 0.75, frame["error"].dropna().tolist()
