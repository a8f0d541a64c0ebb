"""The console script end to end against the scripted server: SIGKILL mid-run then resume,
exports, and a fake API key that must leave no trace anywhere."""

from __future__ import annotations

import json
import os
import secrets
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
from fault_server import FaultServer, Script

from eudaimonia_nb.store.results import list_runs

CLI = [sys.executable, "-m", "eudaimonia_nb"]


def _cli(args: list[str], env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})})


def _run_args(server: FaultServer, store: Path, dataset: Path, *extra: str) -> list[str]:
    return [
        "run", "--model", "scripted-model", "--base-url", server.base_url, "--judge-model", "scripted-judge",
        "--judge-base-url", server.base_url, "--store", str(store), "--dataset", str(dataset), "--no-progress", *extra,
    ]


def _count(store: Path, sql: str) -> int:
    db = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    try:
        return db.execute(sql).fetchone()[0]
    finally:
        db.close()


def test_sigkill_mid_run_then_rerun_gives_exactly_one_result_per_check(tmp_path, dataset_path):
    store = tmp_path / "store.sqlite"
    concurrency = 2
    with FaultServer(Script(latency_s=0.15)) as server:
        args = _run_args(server, store, dataset_path, "--limit", "12", "--concurrency", str(concurrency))
        process = subprocess.Popen([*CLI, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if store.is_file() and _count(store, "SELECT COUNT(*) FROM verdicts") >= 4:
                    break
            except sqlite3.OperationalError:
                pass  # the file exists but its tables are not created yet
            time.sleep(0.05)
        os.kill(process.pid, signal.SIGKILL)
        process.communicate()  # waits and closes both pipes (wait() would leave them open)
        assert process.returncode == -signal.SIGKILL
        n_checks = _count(store, "SELECT COUNT(*) FROM run_checks")
        done_before = _count(store, "SELECT COUNT(*) FROM verdicts")
        assert 4 <= done_before < n_checks  # really killed mid-way
        judge_requests_before = server.requests["judge"]

        rerun = _cli(args)
        assert rerun.returncode == 0, rerun.stderr
        run_id = rerun.stdout.strip().splitlines()[-1]
        assert list(list_runs(store)["run_id"]) == [run_id]
        # Only calls in flight at the kill can be repeated.
        assert server.requests["judge"] - judge_requests_before <= n_checks - done_before + concurrency

        total = server.total_requests()
        ended = _count(store, "SELECT ended_at FROM runs")
        again = _cli(args)
        assert again.stdout.strip().splitlines()[-1] == run_id
        assert server.total_requests() == total  # a completed run sends nothing
        assert _count(store, "SELECT ended_at FROM runs") == ended  # and keeps its end time

    assert _count(store, "SELECT COUNT(*) FROM verdicts") == n_checks
    assert _count(store, "SELECT COUNT(*) FROM (SELECT DISTINCT prompt_id, requirement FROM verdicts)") == n_checks
    assert _count(store, "SELECT COUNT(*) FROM responses") == 12
    assert _count(store, "SELECT COUNT(*) FROM runs WHERE ended_at IS NOT NULL") == 1


def test_export_writes_one_row_per_check_in_every_format(tmp_path, dataset_path, benchmark):
    store = tmp_path / "store.sqlite"
    first = benchmark.prompts["text"].iloc[0]
    with FaultServer(Script(rules={first: {"judge": ["prose"]}})) as server:
        # One source: --limit then takes the file's first prompts (both sources: a stratified sample).
        result = _cli(_run_args(server, store, dataset_path, "--limit", "4", "--source", "real"))
    assert result.returncode == 0, result.stderr
    run_id = result.stdout.strip().splitlines()[-1]
    n_checks = int(benchmark.prompts.head(4)["n_requirements"].sum())
    frames = {}
    for fmt, reader in (("csv", pd.read_csv), ("jsonl", lambda p: pd.read_json(p, lines=True)), ("parquet", pd.read_parquet)):
        out = tmp_path / f"export.{fmt}"
        done = _cli(["export", run_id, "--store", str(store), "--format", fmt, "--out", str(out)])
        assert done.returncode == 0, done.stderr
        frames[fmt] = reader(out)
    for fmt, frame in frames.items():
        assert len(frame) == n_checks, fmt
        assert {"model", "prompt_id", "requirement", "source", "violation", "error"} <= set(frame.columns)
        errors = frame[frame["prompt_id"] == benchmark.prompts["prompt_id"].iloc[0]]
        assert errors["violation"].isna().all() and errors["error"].str.startswith("unparseable judge reply").all()
        assert set(frame["violation"].dropna().astype(int)) <= {0, 1}
    assert "violation" in (tmp_path / "export.csv").read_text().splitlines()[0]
    missing = _cli(["export", "no-such-run", "--store", str(store), "--format", "csv", "--out", str(tmp_path / "x.csv")])
    assert missing.returncode == 1 and "no-such-run" in missing.stderr and not (tmp_path / "x.csv").exists()


def test_fake_key_leaves_no_trace(tmp_path, dataset_path, benchmark):
    key = "sk-test-LEAKCANARY" + secrets.token_hex(16)  # built at runtime: never a literal in the repo
    fragments = [key, key[:12], key[-8:], key[len("sk-test-"):]]
    env = {"EUDAIMONIA_FAKE_KEY": key + "\n"}  # pasted from a file: the newline must not reach a header
    store = tmp_path / "store.sqlite"
    texts = list(benchmark.prompts["text"].head(3))
    # Careless servers echo the Authorization header in error bodies: one on respond, one on judge.
    script = Script(rules={texts[0]: {"respond": ["echo_auth"]}, texts[1]: {"judge": ["echo_auth"]}})
    with FaultServer(script) as server:
        args = _run_args(server, store, dataset_path, "--limit", "3", "--source", "real", "--api-key-env", "EUDAIMONIA_FAKE_KEY")
        result = _cli(["-v", *args], env=env)
        dry = _cli([*args, "--dry-run"], env=env)
        assert f"Bearer {key}" in server.authorization  # the key really was used
    assert result.returncode == 0, result.stderr
    run_id = result.stdout.strip().splitlines()[-1]
    outputs = [result.stdout, result.stderr, dry.stdout, dry.stderr]
    runs = _cli(["runs", "--store", str(store)])
    outputs += [runs.stdout, runs.stderr]
    for fmt in ("csv", "jsonl", "parquet"):
        out = tmp_path / f"export.{fmt}"
        exported = _cli(["export", run_id, "--store", str(store), "--format", fmt, "--out", str(out)])
        outputs += [exported.stdout, exported.stderr, out.read_bytes().decode("latin-1")]
    for path in tmp_path.glob("store.sqlite*"):  # database, WAL and shared-memory files
        outputs.append(path.read_bytes().decode("latin-1"))
    errors = json.dumps([r for r in outputs if "HTTP 401" in r])
    assert "HTTP 401" in errors  # the echoed error itself was recorded, redacted
    for text in outputs:
        for fragment in fragments:
            assert fragment not in text

    fresh = [tmp_path / "fresh.sqlite" if a == str(store) else a for a in args]
    missing = _cli([str(a) for a in fresh], env={"EUDAIMONIA_FAKE_KEY": ""})
    assert missing.returncode == 1 and "EUDAIMONIA_FAKE_KEY is not set" in missing.stderr
    garbled = _cli([str(a) for a in fresh], env={"EUDAIMONIA_FAKE_KEY": key[:20] + " " + key[20:]})
    assert garbled.returncode == 1 and "EUDAIMONIA_FAKE_KEY holds whitespace" in garbled.stderr
    for fragment in fragments:
        assert fragment not in garbled.stdout + garbled.stderr


def test_bad_input_gets_a_clear_error_and_no_traceback(tmp_path, dataset_path):
    store = tmp_path / "store.sqlite"
    dead = "http://127.0.0.1:9/v1"  # nothing listens there, and nothing may be sent anyway
    base = ["run", "--model", "m", "--base-url", dead, "--judge-model", "j", "--judge-base-url", dead,
            "--store", str(store), "--dataset", str(dataset_path), "--no-progress"]
    zero = _cli([*base, "--concurrency", "0"])
    assert zero.returncode == 2 and "--concurrency: expected an integer >= 1, got '0'" in zero.stderr
    bad_url = _cli([*base, "--judge-base-url", "127.0.0.1:8080/v1"])
    assert bad_url.returncode == 1 and "--judge-base-url: expected an http(s) URL" in bad_url.stderr
    unknown = _cli([*base, "--requirements", "9Z_nothing"])
    assert unknown.returncode == 1 and "unknown requirement '9Z_nothing'; expected one of" in unknown.stderr
    not_a_store = tmp_path / "notes.sqlite"
    not_a_store.write_text("just text\n")
    for args in (["runs", "--store", str(not_a_store)],
                 ["export", "r", "--store", str(not_a_store), "--format", "csv", "--out", str(tmp_path / "o.csv")]):
        result = _cli(args)
        assert result.returncode == 1 and str(not_a_store) in result.stderr and "Traceback" not in result.stderr
    assert not store.exists() and not (tmp_path / "o.csv").exists()


def test_model_key_is_not_sent_to_a_judge_on_another_host(tmp_path, dataset_path):
    key = "sk-test-LEAKCANARY" + secrets.token_hex(16)
    with FaultServer() as model_server, FaultServer() as judge_server:
        args = _run_args(model_server, tmp_path / "s.sqlite", dataset_path, "--limit", "1", "--api-key-env", "EUDAIMONIA_FAKE_KEY")
        args[args.index("--judge-base-url") + 1] = judge_server.base_url  # same machine, another port
        result = _cli(args, env={"EUDAIMONIA_FAKE_KEY": key})
        assert result.returncode == 0, result.stderr
        assert model_server.authorization == {f"Bearer {key}"}
        assert judge_server.requests["judge"] > 0 and not any(key in header for header in judge_server.authorization)
