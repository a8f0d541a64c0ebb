"""A batched run killed with SIGKILL and run again, through the console script: every custom id is
submitted exactly once and every result stored once, including a kill between the provider's
answer to a submission and the ledger write; `batches` lists and cancels a run's batches."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from batch_server import FakeBatchServer
from fault_server import Script

from eudaimonia_nb.judging.batch.protocol import DIALECTS

CLI = [sys.executable, "-m", "eudaimonia_nb"]


def _args(server: FakeBatchServer, store: Path, dataset: Path, dialect: str, *extra: str) -> list[str]:
    return ["run", "--model", "scripted-model", "--base-url", server.base_url, "--judge-model", "scripted-judge",
            "--judge-base-url", server.base_url, "--store", str(store), "--dataset", str(dataset), "--no-progress",
            "--limit", "4", "--source", "real", "--batch", dialect, "--poll-interval", "0.2", *extra]


def _cli(args: list[str], timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout)


def _rows(store: Path, sql: str) -> list[tuple]:
    db = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def _wait_for(predicate, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except sqlite3.OperationalError:
            pass  # the store's tables are not created yet
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


def _kill(process: subprocess.Popen) -> None:
    os.kill(process.pid, signal.SIGKILL)
    process.communicate()
    assert process.returncode == -signal.SIGKILL


def _assert_complete_once(server: FakeBatchServer, store: Path) -> None:
    assert server.submitted and max(server.submitted.values()) == 1, "a custom id was submitted twice"
    n_checks = _rows(store, "SELECT COUNT(*) FROM run_checks")[0][0]
    assert _rows(store, "SELECT COUNT(*) FROM verdicts")[0][0] == n_checks
    assert _rows(store, "SELECT COUNT(*) FROM responses")[0][0] == 4
    # Every line sent has exactly one outcome, and every line the server accepted is in the ledger.
    ledger = dict(_rows(store, "SELECT custom_id, outcome FROM batch_requests"))
    assert set(server.submitted) <= set(ledger) and all(outcome is not None for outcome in ledger.values())
    assert _rows(store, "SELECT COUNT(*) FROM runs WHERE ended_at IS NOT NULL")[0][0] == 1


def test_sigkill_while_batches_run_then_rerun_collects_without_resubmitting(tmp_path, dataset_path):
    store = tmp_path / "store.sqlite"
    with FakeBatchServer("openai", Script(canonical=True), duration_s=3.0) as server:
        args = _args(server, store, dataset_path, "openai")
        process = subprocess.Popen([*CLI, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        _wait_for(lambda: store.is_file() and _rows(store, "SELECT COUNT(*) FROM batch_jobs WHERE batch_id IS NOT NULL")[0][0] >= 1)
        _kill(process)
        assert _rows(store, "SELECT COUNT(*) FROM verdicts")[0][0] == 0  # killed while the first batch was running
        submitted_before = sum(server.submitted.values())

        rerun = _cli(args)
        assert rerun.returncode == 0, rerun.stderr
        assert len(server.batches) >= 2 and sum(server.submitted.values()) > submitted_before
        _assert_complete_once(server, store)
        total = sum(server.submitted.values())
        again = _cli(args)
        assert again.returncode == 0, again.stderr
        assert sum(server.submitted.values()) == total  # a completed run submits nothing


@pytest.mark.parametrize("dialect", DIALECTS)
def test_sigkill_between_the_providers_answer_and_the_ledger_write(dialect, tmp_path, dataset_path):
    """The provider has the batch but the process dies before it learns its id: the rerun finds
    it in the provider's list (by its metadata tag, or by model, size and time) and submits nothing twice."""
    store = tmp_path / "store.sqlite"
    with FakeBatchServer(dialect, Script(canonical=True), duration_s=0.5, hold_create_s=30) as server:
        args = _args(server, store, dataset_path, dialect)
        process = subprocess.Popen([*CLI, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert server.create_seen.wait(120), process.stderr
        _wait_for(lambda: len(server.batches) == 1)  # the provider holds the batch; its answer is being held back
        _kill(process)
        assert _rows(store, "SELECT status, batch_id FROM batch_jobs") == [("intent", None)]
        server.hold_create_s = 0

        rerun = _cli(args)
        assert rerun.returncode == 0, rerun.stderr
        first = min(server.batches)
        assert _rows(store, "SELECT batch_id FROM batch_jobs ORDER BY job_id LIMIT 1") == [(first,)]
        _assert_complete_once(server, store)


def test_batches_lists_as_json_and_cancels_a_runs_open_batches(tmp_path, dataset_path):
    store = tmp_path / "store.sqlite"
    with FakeBatchServer("anthropic", Script(canonical=True), duration_s=600) as server:
        args = _args(server, store, dataset_path, "anthropic", "--no-wait")
        submitted = _cli(args)
        assert submitted.returncode == 0, submitted.stderr
        assert "still running at the provider" in submitted.stderr
        run_id = submitted.stdout.strip().splitlines()[-1]

        listed = _cli(["batches", "--store", str(store), "--json"])
        assert listed.returncode == 0, listed.stderr
        rows = [json.loads(line) for line in listed.stdout.splitlines()]
        assert len(rows) == 1 and rows[0]["run_id"] == run_id and rows[0]["provider"] == "anthropic"
        assert rows[0]["phase"] == "respond" and rows[0]["n_requests"] == 4 and rows[0]["pending"] == 4
        assert rows[0]["batch_id"] in server.batches and rows[0]["submitted_at"].endswith("+00:00")

        cancelled = _cli(["batches", "cancel", run_id, "--store", str(store)])
        assert cancelled.returncode == 0, cancelled.stderr
        assert all(b.cancelled for b in server.batches.values())
        server.duration_s = 0.3
        # Resumed, the cancelled lines go out again (attempt 2) and the run completes.
        resumed = _cli(args[:-1])
        assert resumed.returncode == 0, resumed.stderr
        assert any(cid.endswith("-2") for cid in server.submitted) and max(server.submitted.values()) == 1
        assert _rows(store, "SELECT COUNT(*) FROM verdicts")[0][0] == _rows(store, "SELECT COUNT(*) FROM run_checks")[0][0]
        table = _cli(["batches", "--store", str(store)])
        assert table.returncode == 0 and "anthropic" in table.stdout and "ended" in table.stdout


def test_the_judging_widget_shows_a_runs_batches(tmp_path, dataset_path, benchmark):
    from eudaimonia_nb.widgets.batch_status import BatchStatus
    from eudaimonia_nb.widgets.judging import LiveJudgingUI

    store = tmp_path / "store.sqlite"
    with FakeBatchServer("openrouter", Script(canonical=True), duration_s=600) as server:
        submitted = _cli(_args(server, store, dataset_path, "openrouter", "--no-wait"))
        assert submitted.returncode == 0, submitted.stderr
    run_id = submitted.stdout.strip().splitlines()[-1]
    status = BatchStatus()
    status.refresh(store, run_id)
    assert "1 of 1 batches still running at the provider" in status.value
    assert "openrouter" in status.value and min(server.batches) in status.value and "<td>4</td>" in status.value
    status.refresh(store, "another-run")
    assert status.value == ""
    ui = LiveJudgingUI(benchmark, store_path=store)
    ui.refresh_results(str(store), run_id)
    assert "1 of 1 batches still running at the provider" in ui.batch_status.value
