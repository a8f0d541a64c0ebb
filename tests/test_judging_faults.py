"""Runs against the scripted fault-injecting server on 127.0.0.1: retries, errors with reasons,
nothing recorded as a verdict that was not one, retry-on-demand and the cross-run cache."""

from __future__ import annotations

import sqlite3
from dataclasses import replace

import pytest
from fault_server import FaultServer, Script

from eudaimonia_nb.judging.config import RunConfig
from eudaimonia_nb.judging.judge import parse_verdict
from eudaimonia_nb.judging.runner import run
from eudaimonia_nb.store.results import load_judgments

PLAN = {
    # index into the benchmark's prompts -> behaviours by attempt, per call kind
    0: {"respond": ["429", "500", "503", "truncated", "malformed", "ok"]},
    1: {"respond": ["500"]},
    2: {"respond": ["timeout", "ok"]},
    3: {"judge": ["prose"]},
    4: {"judge": ["fenced"]},
    5: {"judge": ["400"]},
    6: {"judge": ["malformed"]},
    7: {"judge": ["429", "503", "truncated", "ok"]},
}
MAX_RETRIES = 6


@pytest.fixture()
def scripted(benchmark):
    prompts = benchmark.prompts.head(len(PLAN) + 2)
    texts = list(prompts["text"])
    script = Script(rules={texts[i]: plan for i, plan in PLAN.items()}, retry_after_s=0.1, timeout_sleep_s=2.5)
    with FaultServer(script) as server:
        yield server, prompts


def _config(server, prompts, store, **overrides) -> RunConfig:
    base = RunConfig(
        model="scripted-model", base_url=server.base_url, judge_model="scripted-judge", judge_base_url=server.base_url,
        api_key_env=None, judge_api_key_env=None, prompt_ids=tuple(prompts["prompt_id"]), store_path=str(store),
        timeout_s=1.0, max_retries=MAX_RETRIES, retry_base_delay_s=0.02, concurrency=8,
    )
    return replace(base, **overrides)


def _rows(store, table: str, run_id: str) -> list[sqlite3.Row]:
    db = sqlite3.connect(store)
    db.row_factory = sqlite3.Row
    try:
        return db.execute(f"SELECT * FROM {table} WHERE run_id = ?", (run_id,)).fetchall()
    finally:
        db.close()


def test_faults_become_retries_or_errors_never_fake_verdicts(scripted, benchmark, tmp_path):
    server, prompts = scripted
    store = tmp_path / "store.sqlite"
    summary = run(_config(server, prompts, store), benchmark=benchmark, progress=False)
    ids = list(prompts["prompt_id"])
    texts = list(prompts["text"])
    checks = benchmark.checks[benchmark.checks["prompt_id"].isin(ids)]
    assert summary.verdicts + summary.errors == len(checks)

    responses = {r["prompt_id"]: r for r in _rows(store, "responses", summary.run_id)}
    assert set(responses) == set(ids)
    assert responses[ids[0]]["error"] is None and responses[ids[0]]["attempts"] == 6
    assert server.by_prompt[("respond", texts[0])] == 6
    assert responses[ids[2]]["error"] is None and responses[ids[2]]["attempts"] == 2
    failed = responses[ids[1]]
    assert failed["text"] is None and "HTTP 500" in failed["error"] and f"after {MAX_RETRIES + 1} attempts" in failed["error"]

    frame = load_judgments(store, [summary.run_id]).set_index("prompt_id")
    verdicts = {(r["prompt_id"], r["requirement"]): r for r in _rows(store, "verdicts", summary.run_id)}
    assert len(verdicts) == len(checks)
    expected_error = {
        ids[1]: "no response to judge: HTTP 500",
        ids[3]: "unparseable judge reply",
        ids[5]: "judge call failed: HTTP 400",
        ids[6]: "judge call failed: malformed response body",
    }
    for (pid, req), row in verdicts.items():
        if pid in expected_error:
            assert row["violation"] is None and row["error"].startswith(expected_error[pid]), row["error"]
        else:
            # A verdict is stored only when the judge's own reply says so.
            assert row["error"] is None
            assert parse_verdict(row["raw"]).violation is bool(row["violation"])
    assert all(v["raw"].startswith("I think") for (pid, _), v in verdicts.items() if pid == ids[3])
    assert all(v["attempts"] == 1 for (pid, _), v in verdicts.items() if pid == ids[5])  # 400 is not retried
    assert all(v["attempts"] == MAX_RETRIES + 1 for (pid, _), v in verdicts.items() if pid == ids[6])
    errors = frame.loc[list(expected_error)]
    assert errors["violation"].isna().all() and (errors["error"] != "").all()
    good = frame.drop(index=list(expected_error))
    assert good["violation"].isin([0.0, 1.0]).all() and (good["error"] == "").all()


def test_retry_failed_redoes_only_failed_items(scripted, benchmark, tmp_path):
    server, prompts = scripted
    store = tmp_path / "store.sqlite"
    config = _config(server, prompts, store)
    first = run(config, benchmark=benchmark, progress=False)
    texts = list(prompts["text"])
    before = server.by_prompt.copy()
    server.script.rules[texts[3]] = {"judge": ["ok"]}  # the judge now answers properly
    second = run(config, retry_failed=True, benchmark=benchmark, progress=False)
    assert second.run_id == first.run_id
    n_fixed = len(benchmark.prompt(prompts["prompt_id"].iloc[3])["requirements"])
    assert second.verdicts == first.verdicts + n_fixed
    for i in (0, 2, 4, 7, 8, 9):  # nothing that had succeeded was requested again
        assert server.by_prompt[("respond", texts[i])] == before[("respond", texts[i])]
        assert server.by_prompt[("judge", texts[i])] == before[("judge", texts[i])]
    # a plain resume after that sends nothing
    total = server.total_requests()
    third = run(config, benchmark=benchmark, progress=False)
    assert server.total_requests() == total and third.checks_judged == 0


def test_identical_calls_are_answered_from_the_cache_across_runs(benchmark, tmp_path):
    store = tmp_path / "store.sqlite"
    with FaultServer(Script()) as server:
        prompts = benchmark.prompts.head(3)
        config = _config(server, prompts, store)
        first = run(config, benchmark=benchmark, progress=False)
        sent = server.total_requests()
        assert sent == len(prompts) + first.n_checks
        # Naming every requirement explicitly is a different run (its id covers the subset
        # spelling) that makes exactly the same calls: all of them must be free.
        keys = tuple(sorted(set(benchmark.checks["requirement"])))
        other = run(replace(config, requirements=keys), benchmark=benchmark, progress=False)
    assert other.run_id != first.run_id
    assert server.total_requests() == sent and other.http_attempts == 0
    a = load_judgments(store, [first.run_id]).set_index(["prompt_id", "requirement"])["violation"]
    b = load_judgments(store, [other.run_id]).set_index(["prompt_id", "requirement"])["violation"]
    assert a.sort_index().equals(b.sort_index())


def test_backoff_honours_retry_after_and_caps():
    import random

    from eudaimonia_nb.judging.client import RetryPolicy

    policy = RetryPolicy(max_retries=5, base_delay_s=1.0, max_delay_s=30.0)
    rng = random.Random(0)
    assert all(policy.delay(0, 7.5, rng) >= 7.5 for _ in range(50))
    assert all(policy.delay(3, None, rng) <= 8.0 for _ in range(50))
    assert policy.delay(0, 3600.0, rng) == 30.0
    spread = {round(policy.delay(4, None, rng), 3) for _ in range(50)}
    assert len(spread) > 40  # jitter: retries do not move in lockstep
