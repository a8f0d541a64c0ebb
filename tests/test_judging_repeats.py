"""Epochs and judge repeats in live runs: every sample a real call, stored once, resumed without
repeating a call; run ids, cache keys and stores of runs with the defaults unchanged."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from dataclasses import replace

import pytest
from fault_server import FaultServer, Script

from eudaimonia_nb.judging.client import ChatRequest, RequestCache
from eudaimonia_nb.judging.config import RunConfig
from eudaimonia_nb.judging.dry_run import dry_run
from eudaimonia_nb.judging.plan import run_id_for
from eudaimonia_nb.judging.runner import run
from eudaimonia_nb.store.results import list_runs, load_judgments, response_texts

CLI = [sys.executable, "-m", "eudaimonia_nb"]


def _config(server: FaultServer, store, benchmark, **changes) -> RunConfig:
    prompts = tuple(benchmark.prompts["prompt_id"].iloc[[0, 1, 2, 400, 401]])
    base = RunConfig(model="sampled-model", base_url=server.base_url, judge_model="scripted-judge",
                     judge_base_url=server.base_url, api_key_env=None, judge_api_key_env=None, prompt_ids=prompts,
                     store_path=str(store), max_retries=0, timeout_s=10.0, concurrency=8)
    return replace(base, **changes)


def test_defaults_keep_the_run_ids_and_cache_keys_of_before_epochs(benchmark):
    """Computed with main's code without epochs (40a7f75, after issue 19 changed the authors protocol's
    ids; the suite protocol's and the cache key are still those of f2b7db4) on the same inputs."""
    cases = [({}, "gpt-4o-mini-856bdb7a192a"), ({"protocol": "suite", "limit": 5}, "gpt-4o-mini-a8b7dfc3991a")]
    for changes, expected in cases:
        config = RunConfig(model="gpt-4o-mini", base_url="https://api.openai.com/v1", judge_model="gpt-4o",
                           judge_base_url="https://api.openai.com/v1", **changes)
        assert run_id_for(config, benchmark) == expected
        assert "epochs" not in config.identity() and "judge_repeats" not in config.identity()
        assert run_id_for(replace(config, epochs=3), benchmark) != expected
        assert run_id_for(replace(config, judge_repeats=2), benchmark) != expected
    request = ChatRequest(model="m", messages=(("user", "hi"),))
    assert RequestCache.key("https://api.openai.com/v1", request) == \
        "f9b4d41926fa1b58b7def4f8fe964c4063739ed309f1bc0e677ad7277ab7977c"
    assert RequestCache.key("e", replace(request, sample="epoch 2")) != RequestCache.key("e", request)
    assert "sample" not in request.payload() and "sample" not in replace(request, sample="epoch 2").payload()


def test_epochs_and_judge_repeats_are_stored_once_each_and_a_rerun_calls_nothing(benchmark, tmp_path):
    store = tmp_path / "s.sqlite"
    with FaultServer(Script(response_variants=6, judge_flip=0.3, seed=1)) as server:
        config = _config(server, store, benchmark, epochs=3, judge_repeats=2)
        summary = run(config, benchmark=benchmark, progress=False)
        n_checks = summary.n_checks
        assert server.requests["respond"] == 5 * 3
        assert server.requests["judge"] == n_checks * 3 * 2
        assert summary.verdicts + summary.errors == n_checks * 6 and summary.errors == 0
        before = dict(server.requests)
        again = run(config, benchmark=benchmark, progress=False)
        assert dict(server.requests) == before and again.checks_judged == 0
    frame = load_judgments(store, [summary.run_id], texts=True)
    assert len(frame) == n_checks * 6 and frame["violation"].notna().all()
    assert not frame.duplicated(["prompt_id", "requirement", "epoch", "judge_repeat"]).any()
    assert sorted(frame["epoch"].unique()) == [1, 2, 3] and sorted(frame["judge_repeat"].unique()) == [1, 2]
    # Each epoch's verdicts were made on that epoch's response (the store checks its hash).
    texts = response_texts(store, summary.run_id)
    assert len(texts) == 15 and texts.groupby("prompt_id")["epoch"].nunique().eq(3).all()
    joined = frame.merge(texts[["prompt_id", "epoch", "text"]], on=["prompt_id", "epoch"])
    assert (joined["response"] == joined["text"]).all()
    assert texts.groupby("prompt_id")["text"].nunique().max() > 1, "the epochs are samples, not one cached answer"
    runs = list_runs(store).set_index("run_id")
    assert runs.loc[summary.run_id, "epochs"] == 3 and runs.loc[summary.run_id, "judge_repeats"] == 2
    assert pd_notna(runs.loc[summary.run_id, "ended_at"])


def pd_notna(value: object) -> bool:
    import pandas as pd

    return bool(pd.notna(value))


def test_an_interrupted_run_resumes_with_exactly_the_missing_calls(benchmark, tmp_path):
    store = tmp_path / "s.sqlite"
    with FaultServer(Script(response_variants=6, seed=2)) as server:
        config = _config(server, store, benchmark, epochs=3, judge_repeats=2, use_cache=False)
        first = run(config, benchmark=benchmark, progress=False)
        frame = load_judgments(store, [first.run_id])
        p, q = frame["prompt_id"].iloc[0], frame["prompt_id"].iloc[-1]
        reqs_p = frame.loc[(frame["prompt_id"] == p) & (frame["epoch"] == 1) & (frame["judge_repeat"] == 1), "requirement"]
        # As a kill would leave it: epoch 3 of p not answered yet, and the second judge calls of q's epoch 2.
        db = sqlite3.connect(store)
        db.execute("DELETE FROM verdicts WHERE run_id = ? AND prompt_id = ? AND epoch = 3", (first.run_id, p))
        db.execute("DELETE FROM responses WHERE run_id = ? AND prompt_id = ? AND epoch = 3", (first.run_id, p))
        gone = db.execute("DELETE FROM verdicts WHERE run_id = ? AND prompt_id = ? AND epoch = 2 AND judge_repeat = 2",
                          (first.run_id, q)).rowcount
        db.commit()
        db.close()
        estimate = dry_run(config, benchmark=benchmark, prices={})
        assert estimate.response_calls == 1 and estimate.judge_calls == 2 * len(reqs_p) + gone
        before = dict(server.requests)
        resumed = run(config, benchmark=benchmark, progress=False)
        assert server.requests["respond"] - before["respond"] == 1
        assert server.requests["judge"] - before["judge"] == 2 * len(reqs_p) + gone
    assert resumed.verdicts == first.verdicts
    after = load_judgments(store, [first.run_id])
    assert len(after) == len(frame) and after["violation"].notna().all()


def test_more_epochs_after_one_add_only_the_new_epochs(benchmark, tmp_path):
    store = tmp_path / "s.sqlite"
    with FaultServer(Script(response_variants=6, seed=3)) as server:
        one = run(_config(server, store, benchmark), benchmark=benchmark, progress=False)
        n_checks = one.n_checks
        assert dict(server.requests) == {"respond": 5, "judge": n_checks}
        three = run(_config(server, store, benchmark, epochs=3), benchmark=benchmark, progress=False)
        # Epoch 1's response and verdicts come from the cache (the key of a run without epochs).
        assert server.requests["respond"] == 5 + 5 * 2
        assert server.requests["judge"] == n_checks + n_checks * 2
        repeats = run(_config(server, store, benchmark, epochs=3, judge_repeats=2), benchmark=benchmark, progress=False)
        # A second judge call is never a cache hit: all epochs' repeat 2 are new calls.
        assert server.requests["respond"] == 15 and server.requests["judge"] == 3 * n_checks + 3 * n_checks
    assert len({one.run_id, three.run_id, repeats.run_id}) == 3
    old = load_judgments(store, [one.run_id])
    new = load_judgments(store, [three.run_id])
    first_epoch = new[new["epoch"] == 1].reset_index(drop=True)
    assert first_epoch["violation"].tolist() == old["violation"].tolist()
    texts = response_texts(store, three.run_id)
    assert texts.loc[texts["epoch"] == 1, "cached"].all() and not texts.loc[texts["epoch"] > 1, "cached"].any()


def test_cli_flags_are_checked_and_multiply_the_dry_run(benchmark, dataset_path, tmp_path):
    args = ["run", "--model", "m", "--base-url", "http://127.0.0.1:9/v1", "--judge-model", "j", "--judge-base-url",
            "http://127.0.0.1:9/v1", "--store", str(tmp_path / "s.sqlite"), "--dataset", str(dataset_path),
            "--limit", "4", "--protocol", "suite", "--no-progress"]
    too_many = subprocess.run([*CLI, *args, "--epochs", "101"], capture_output=True, text=True, timeout=120)
    assert too_many.returncode == 1 and "--epochs: expected a whole number from 1 to 100" in too_many.stderr
    zero = subprocess.run([*CLI, *args, "--judge-repeats", "0"], capture_output=True, text=True, timeout=120)
    assert zero.returncode == 2 and "--judge-repeats" in zero.stderr
    plain = subprocess.run([*CLI, *args, "--dry-run"], capture_output=True, text=True, timeout=120)
    repeated = subprocess.run([*CLI, *args, "--dry-run", "--epochs", "3", "--judge-repeats", "2"], capture_output=True,
                              text=True, timeout=120)
    assert plain.returncode == 0 and repeated.returncode == 0, repeated.stderr

    def calls(text: str) -> tuple[int, int]:
        line = next(line for line in text.splitlines() if line.startswith("to send:"))
        words = line.split()
        return int(words[2]), int(words[6])

    (responses, judges), (responses3, judges3) = calls(plain.stdout), calls(repeated.stdout)
    assert responses3 == 3 * responses and judges3 == 6 * judges
    assert "x 3 epochs x 2 judge repeats" in repeated.stdout
    assert not (tmp_path / "s.sqlite").exists()
    with pytest.raises(ValueError, match="RunConfig.epochs"):
        RunConfig(model="m", base_url="http://x/v1", judge_model="j", judge_base_url="http://x/v1", epochs=0)


def test_rejudge_with_repeats_judges_every_epoch_and_never_calls_the_model(benchmark, dataset_path, tmp_path):
    store = tmp_path / "s.sqlite"
    with FaultServer(Script(response_variants=6, seed=4)) as server:
        source = run(_config(server, store, benchmark, epochs=2), benchmark=benchmark, progress=False)
    with FaultServer(Script(judge_flip=0.5, seed=5)) as second:
        result = subprocess.run(
            [*CLI, "rejudge", source.run_id, "--judge-model", "other-judge", "--judge-base-url", second.base_url,
             "--judge-repeats", "3", "--store", str(store), "--dataset", str(dataset_path), "--no-progress"],
            capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
        assert second.requests["respond"] == 0
        assert second.requests["judge"] == source.n_checks * 2 * 3
    assert "x 2 epochs x 3 judge repeats" in result.stdout
    new_id = result.stdout.strip().splitlines()[-1]
    rejudged = load_judgments(store, [new_id], texts=True)
    original = load_judgments(store, [source.run_id], texts=True)
    assert len(rejudged) == len(original) * 3 and rejudged["violation"].notna().all()
    pairs = rejudged.merge(original[["prompt_id", "requirement", "epoch", "response"]],
                           on=["prompt_id", "requirement", "epoch"], suffixes=("", "_source"))
    assert (pairs["response"] == pairs["response_source"]).all()


def test_sigkill_mid_run_with_epochs_and_judge_repeats_then_rerun_repeats_no_finished_call(dataset_path, tmp_path):
    """The console script killed mid-run (3 epochs x 2 judge calls), then run again: one result
    per check, epoch and judge call, and only calls in flight at the kill sent twice."""
    import os
    import signal
    import time

    store = tmp_path / "s.sqlite"

    def count(sql: str) -> int:
        db = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
        try:
            return db.execute(sql).fetchone()[0]
        finally:
            db.close()

    concurrency = 2
    with FaultServer(Script(latency_s=0.1, response_variants=6, judge_flip=0.2, seed=9)) as server:
        args = [*CLI, "run", "--model", "m", "--base-url", server.base_url, "--judge-model", "j", "--judge-base-url",
                server.base_url, "--store", str(store), "--dataset", str(dataset_path), "--limit", "6", "--no-progress",
                "--concurrency", str(concurrency), "--epochs", "3", "--judge-repeats", "2"]
        process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                if store.is_file() and count("SELECT COUNT(*) FROM verdicts") >= 20:
                    break
            except sqlite3.OperationalError:
                pass  # the file exists but its tables are not created yet
            time.sleep(0.05)
        os.kill(process.pid, signal.SIGKILL)
        process.communicate()
        assert process.returncode == -signal.SIGKILL
        n_results = count("SELECT COUNT(*) FROM run_checks") * 3 * 2
        done, responded = count("SELECT COUNT(*) FROM verdicts"), count("SELECT COUNT(*) FROM responses")
        assert 20 <= done < n_results  # really killed mid-way
        before = dict(server.requests)
        rerun = subprocess.run(args, capture_output=True, text=True, timeout=600)
        assert rerun.returncode == 0, rerun.stderr
        # Only calls in flight at the kill (at most `concurrency` per endpoint) can be sent again.
        assert server.requests["judge"] - before["judge"] <= n_results - done + concurrency
        assert server.requests["respond"] - before["respond"] <= 6 * 3 - responded + concurrency
        total = server.total_requests()
        again = subprocess.run(args, capture_output=True, text=True, timeout=600)
        assert again.returncode == 0 and server.total_requests() == total  # a complete run sends nothing
    assert count("SELECT COUNT(*) FROM verdicts") == n_results
    assert count("SELECT COUNT(*) FROM (SELECT DISTINCT prompt_id, requirement, epoch, judge_repeat FROM verdicts)") == n_results
    assert count("SELECT COUNT(*) FROM responses") == 6 * 3
    assert count("SELECT COUNT(*) FROM runs WHERE ended_at IS NOT NULL") == 1
