"""Issue 11, items 4, 10 and 12: one process per run, verdicts bound to the response they
judged, schema versions (newer refused, older backed up then migrated), read-only stores,
and JSONL exports that load back whatever the text holds."""

from __future__ import annotations

import json
import logging
import os
import socket
import sqlite3
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
from fault_server import FaultServer, Script

from eudaimonia_nb.benchmark.design_code import rubric_versions
from eudaimonia_nb.store.run_lock import RunLockedError
from eudaimonia_nb.judging.config import RunConfig
from eudaimonia_nb.judging.runner import Runner
from eudaimonia_nb.store.results import (_SCHEMA, ResponseRecord, ResultsStore, StoreError, VerdictRecord, export_run, list_runs,
                                 load_judgments, response_sha256)
from eudaimonia_nb.store.schema import SCHEMA_VERSION

CLI = [sys.executable, "-m", "eudaimonia_nb"]
CONFIG = RunConfig(model="m", base_url="http://127.0.0.1:9/v1", judge_model="j", judge_base_url="http://127.0.0.1:9/v1",
                   api_key_env=None, judge_api_key_env=None, limit=3)


def _response(pid: str, text: str | None) -> ResponseRecord:
    return ResponseRecord(pid, text, 1, 1, 0.1, "stop", 1, False, None if text is not None else "HTTP 500")


def _verdict(pid: str, req: str, violation: bool | None, error: str | None = None, sha: str | None = None) -> VerdictRecord:
    return VerdictRecord(pid, req, violation, "because", "{}", 10, 5, 0.1, 1, False, error, rubric_versions()[req], sha)


def _started(benchmark, path: Path) -> tuple[Runner, ResultsStore]:
    runner = Runner(replace(CONFIG, store_path=str(path)), benchmark=benchmark, prices={})
    store = ResultsStore(path)
    store.begin_run(runner.record(), runner.checks)
    return runner, store


# --- item 4: one process per run; verdicts name the response they judged -------------------

def _run_args(server: FaultServer, store: Path, dataset: Path) -> list[str]:
    return ["run", "--model", "scripted-model", "--base-url", server.base_url, "--judge-model", "scripted-judge",
            "--judge-base-url", server.base_url, "--store", str(store), "--dataset", str(dataset), "--no-progress",
            "--limit", "6", "--source", "real", "--concurrency", "1"]


def test_a_second_process_on_the_same_run_stops_and_names_the_first(tmp_path, dataset_path, benchmark):
    store = tmp_path / "store.sqlite"
    with FaultServer(Script(latency_s=0.1)) as server:
        args = _run_args(server, store, dataset_path)
        first = subprocess.Popen([*CLI, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                db = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
                try:
                    held = db.execute("SELECT pid FROM run_locks").fetchall()
                finally:
                    db.close()  # also when the table does not exist yet
                if held:
                    break
            except sqlite3.Error:
                pass  # the file or its tables do not exist yet
            time.sleep(0.05)
        second = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120)
        out, err = first.communicate(timeout=300)
        assert first.returncode == 0, err
        sent = server.by_prompt.copy()
    assert second.returncode == 1
    assert f"already running in process {first.pid} on host {socket.gethostname()}" in second.stderr
    assert "Traceback" not in second.stderr
    n_checks = int(benchmark.prompts.head(6)["n_requirements"].sum())
    # every call was made once, by the first process only
    assert sum(n for (kind, _), n in sent.items() if kind == "respond") == 6
    assert sum(n for (kind, _), n in sent.items() if kind == "judge") == n_checks
    db = sqlite3.connect(store)
    try:
        assert db.execute("SELECT COUNT(*) FROM run_locks").fetchone()[0] == 0  # released at the end
        pairs = db.execute("SELECT v.response_sha256, s.text FROM verdicts v JOIN responses s "
                           "ON s.run_id = v.run_id AND s.prompt_id = v.prompt_id").fetchall()
    finally:
        db.close()
    assert len(pairs) == n_checks and all(sha == response_sha256(text) for sha, text in pairs)


def test_a_lock_left_by_a_dead_process_is_taken_over(benchmark, tmp_path):
    runner, store = _started(benchmark, tmp_path / "s.sqlite")
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a pid that no longer runs
    now = time.time()
    db = sqlite3.connect(runner.store_path, isolation_level=None)
    db.execute("INSERT INTO run_locks VALUES (?, ?, ?, 'old', ?, ?)", (runner.run_id, gone.pid, socket.gethostname(), now, now))
    lock = store.lock_run(runner.run_id)  # no error: the holder is dead
    lock.release()
    # a holder on another host with a fresh heartbeat is alive; with an old one it is not
    db.execute("INSERT INTO run_locks VALUES (?, 4242, 'elsewhere.example', 'x', ?, ?)", (runner.run_id, now, now))
    with pytest.raises(RunLockedError, match="process 4242 on host elsewhere.example"):
        store.lock_run(runner.run_id)
    db.execute("UPDATE run_locks SET heartbeat_at = ? WHERE run_id = ?", (now - 3600, runner.run_id))
    store.lock_run(runner.run_id).release()
    db.close()
    store.close()


def test_the_store_refuses_a_verdict_on_a_response_it_does_not_hold(benchmark, tmp_path):
    runner, store = _started(benchmark, tmp_path / "s.sqlite")
    pid, req = runner.checks["prompt_id"].iloc[0], runner.checks["requirement"].iloc[0]
    store.put_response(runner.run_id, _response(pid, "the response that is stored"))
    with pytest.raises(StoreError, match="not the stored one"):
        store.put_verdict(runner.run_id, _verdict(pid, req, True, sha=response_sha256("another response")))
    assert store.verdict_errors(runner.run_id) == {}  # nothing was written
    store.put_verdict(runner.run_id, _verdict(pid, req, True, sha=response_sha256("the response that is stored")))
    assert store.verdict_errors(runner.run_id) == {(pid, req): None}
    store.close()


# --- item 12: schema versions --------------------------------------------------------------

def _dump(path: Path) -> list[str]:
    db = sqlite3.connect(path)
    try:
        return list(db.iterdump())
    finally:
        db.close()


def test_a_store_from_a_newer_version_is_refused_naming_the_version(benchmark, tmp_path):
    path = tmp_path / "s.sqlite"
    _, store = _started(benchmark, path)
    store.close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 7}")
    db.commit()
    db.close()
    before = path.read_bytes()
    for open_it in (lambda: ResultsStore(path), lambda: list_runs(path)):
        with pytest.raises(StoreError, match=f"schema version {SCHEMA_VERSION + 7}.*knows up to {SCHEMA_VERSION}"):
            open_it()
    assert path.read_bytes() == before
    cli = subprocess.run([*CLI, "runs", "--store", str(path)], capture_output=True, text=True, timeout=120)
    assert cli.returncode == 1 and f"schema version {SCHEMA_VERSION + 7}" in cli.stderr and "Traceback" not in cli.stderr


def test_an_older_store_is_backed_up_then_migrated(benchmark, tmp_path, caplog):
    path = tmp_path / "s.sqlite"
    db = sqlite3.connect(path)
    db.executescript(_SCHEMA)  # the version-1 tables, as stores were written before versioning
    runner = Runner(replace(CONFIG, store_path=str(path)), benchmark=benchmark, prices={})
    pid, req = runner.checks["prompt_id"].iloc[0], runner.checks["requirement"].iloc[0]
    record = runner.record()
    db.execute("INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,?,?,?,NULL)",
               (record.run_id, record.model, record.base_url, record.judge_model, record.judge_base_url,
                record.parameters, record.rubric_versions, record.dataset_sha256, record.package_version, 0, 1.0))
    db.execute("INSERT INTO run_checks VALUES (?,?,?,?,?,?)", (record.run_id, pid, req, "real", None, None))
    db.execute("INSERT INTO verdicts VALUES (?,?,?,1,'r','{}',1,1,0.1,1,0,NULL,?,2.0)",
               (record.run_id, pid, req, rubric_versions()[req]))
    db.commit()
    db.close()
    original = _dump(path)

    with caplog.at_level(logging.WARNING, logger="eudaimonia_nb"):
        store = ResultsStore(path)
    store.close()
    backup = tmp_path / "s.sqlite.v1-backup"
    assert backup.is_file() and _dump(backup) == original  # the untouched copy
    assert any(str(backup) in r.getMessage() and "version 1 to" in r.getMessage() for r in caplog.records)
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        columns = {row[1] for row in db.execute("PRAGMA table_info(verdicts)")}
    finally:
        db.close()
    assert "response_sha256" in columns
    frame = load_judgments(path)
    assert len(frame) == 1 and frame["violation"].iloc[0] == 1.0  # the data came through
    ResultsStore(path).close()  # a current store is opened as it is: no second backup
    assert sorted(p.name for p in tmp_path.glob("s.sqlite.v*")) == ["s.sqlite.v1-backup"]


@pytest.fixture()
def read_only_dir(tmp_path):
    """A folder to fill, and a function that makes it read-only and returns where to find it:
    permissions for an ordinary user, a read-only bind mount for root (who ignores
    permissions), as a store on a read-only medium."""
    source = tmp_path / "medium"
    source.mkdir()
    mounted = tmp_path / "mounted"

    def protect() -> Path:
        if os.geteuid() != 0:
            for path in source.iterdir():
                path.chmod(0o444)
            source.chmod(0o555)
            return source
        mounted.mkdir()
        subprocess.run(["mount", "--bind", str(source), str(mounted)], check=True)
        subprocess.run(["mount", "-o", "remount,ro,bind", str(mounted)], check=True)
        return mounted

    yield source, protect
    if mounted.is_dir():
        subprocess.run(["umount", str(mounted)], check=False)
    source.chmod(0o755)


def test_a_store_on_a_read_only_medium_is_read_and_refused_for_writing(benchmark, read_only_dir, dataset_path):
    folder, protect = read_only_dir
    runner, store = _started(benchmark, folder / "results.sqlite")
    store.close()
    path = protect() / "results.sqlite"
    assert len(list_runs(path)) == 1  # reading works
    with pytest.raises(StoreError, match="read-only"):
        ResultsStore(path)
    args = ["run", "--model", "m", "--base-url", "http://127.0.0.1:9/v1", "--judge-model", "j", "--judge-base-url",
            "http://127.0.0.1:9/v1", "--store", str(path), "--dataset", str(dataset_path), "--limit", "3", "--no-progress"]
    cli = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120)
    assert cli.returncode == 1 and "read-only" in cli.stderr and str(path) in cli.stderr and "Traceback" not in cli.stderr


# --- item 10: JSONL exports load back whatever the text holds ------------------------------

def test_jsonl_export_round_trips_unicode_line_separators(benchmark, tmp_path):
    from eudaimonia_nb.analysis.frames import load_judgments as load_file

    runner, store = _started(benchmark, tmp_path / "s.sqlite")
    checks = list(zip(runner.checks["prompt_id"], runner.checks["requirement"]))
    odd = "unparseable judge reply: 'one\u2028two\u0085three\u2029four'"
    store.put_verdict(runner.run_id, _verdict(*checks[0], True))
    store.put_verdict(runner.run_id, _verdict(*checks[1], None, odd))
    store.close()
    out = export_run(runner.store_path, runner.run_id, "jsonl", tmp_path / "run.jsonl")
    raw = out.read_text(encoding="utf-8")
    assert "\u2028" not in raw and "\u0085" not in raw and len(raw.strip().split("\n")) == len(checks)
    loaded = load_file(out)
    assert len(loaded) == len(checks) and loaded["error"].iloc[1] == odd


def test_a_dry_run_reads_progress_without_writing_or_migrating(benchmark, tmp_path):
    from eudaimonia_nb.judging.dry_run import dry_run

    path = tmp_path / "s.sqlite"
    runner, store = _started(benchmark, path)
    pid = runner.checks["prompt_id"].iloc[0]
    reqs = list(runner.checks.loc[runner.checks["prompt_id"] == pid, "requirement"])
    store.put_response(runner.run_id, _response(pid, "a stored response"))
    for req in reqs:
        store.put_verdict(runner.run_id, _verdict(pid, req, False, sha=response_sha256("a stored response")))
    store.close()
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 1")  # as if written by the previous schema version
    db.commit()
    db.close()
    before = _dump(path)
    estimate = dry_run(replace(CONFIG, store_path=str(path)), benchmark=benchmark, prices={})
    assert estimate.judge_calls == len(runner.checks) - len(reqs)
    assert estimate.response_calls == len(runner.prompts) - 1
    assert _dump(path) == before and not list(tmp_path.glob("*backup*"))


def test_a_benchmark_file_with_unicode_line_separators_in_a_prompt_loads(tmp_path, dataset_path):
    from eudaimonia_nb.benchmark.dataset import load_benchmark

    lines = dataset_path.read_text(encoding="utf-8").split("\n")[:3]
    record = json.loads(lines[0])
    record["user_input"] = "first\u2028second\u0085third"
    path = tmp_path / "odd.jsonl"
    path.write_text("\n".join([json.dumps(record, ensure_ascii=False), *lines[1:]]) + "\n", encoding="utf-8")
    assert "\u2028" in path.read_text(encoding="utf-8")  # raw, as ensure_ascii=False writes it
    bench = load_benchmark(path)
    assert len(bench.prompts) == 3 and bench.prompts["text"].iloc[0] == "first\u2028second\u0085third"


def test_a_running_process_keeps_its_lock_fresh(benchmark, tmp_path):
    import asyncio

    from eudaimonia_nb.store.run_lock import keep_alive

    runner, store = _started(benchmark, tmp_path / "s.sqlite")
    lock = store.lock_run(runner.run_id)
    db = sqlite3.connect(runner.store_path, isolation_level=None)
    db.execute("UPDATE run_locks SET heartbeat_at = 0, host = 'elsewhere.example'")  # looks abandoned

    async def beat() -> None:
        task = asyncio.ensure_future(keep_alive(lock, every_s=0.01))
        await asyncio.sleep(0.2)
        task.cancel()

    asyncio.run(beat())
    assert time.time() - db.execute("SELECT heartbeat_at FROM run_locks").fetchone()[0] < 60
    with pytest.raises(RunLockedError):  # so another host's process sees it alive
        store.lock_run(runner.run_id)
    lock.release()
    assert db.execute("SELECT COUNT(*) FROM run_locks").fetchone()[0] == 0
    db.close()
    store.close()
