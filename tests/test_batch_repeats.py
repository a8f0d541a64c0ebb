"""Batched runs with epochs and judge repeats (issue 21): one line per sample, the same stored rows
and the same request bodies as the same run made live, in every dialect and in mixed modes; a
rejudge and ``retry_failed`` with repeats; a SIGKILL with repeated lines in flight; the cost cap
reserving every repeat; the judge flip rate of a flipping batch judge recovered by ``noise``; the
ledger's schema 8 and the custom ids of first samples unchanged."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
from collections import Counter
from dataclasses import replace

import pandas as pd
import pytest
from batch_server import FakeBatchServer
from fault_server import FaultServer, Script
from test_batch_restart import _kill, _rows, _wait_for
from test_batch_runs import N_PROMPTS, _script  # the same paths, once per prompt: re-ask, retry, refusal, empty

from eudaimonia_nb.judging.batch.executor import BatchRun, Modes
from eudaimonia_nb.judging.batch.lines import check_key
from eudaimonia_nb.judging.batch.protocol import CUSTOM_ID_PATTERN, DIALECTS, custom_id
from eudaimonia_nb.judging.config import RunConfig
from eudaimonia_nb.judging.execution import execute
from eudaimonia_nb.judging.pricing import Price
from eudaimonia_nb.judging.runner import run
from eudaimonia_nb.store.batch_ledger import BatchLedger
from eudaimonia_nb.store.results import ResultsStore, load_judgments, response_texts

EPOCHS, REPEATS = 2, 3
CLI = [sys.executable, "-m", "eudaimonia_nb"]


def _config(base_url: str, store, dataset_path, **extra) -> RunConfig:
    options = dict(epochs=EPOCHS, judge_repeats=REPEATS, max_retries=2) | extra
    return RunConfig(model="scripted-model", base_url=base_url, judge_model="scripted-judge", judge_base_url=base_url,
                     api_key_env=None, judge_api_key_env=None, limit=N_PROMPTS, source="real", store_path=str(store),
                     dataset_path=str(dataset_path), timeout_s=10.0, retry_base_delay_s=0.01, **options)


def _table(store, run_id: str) -> pd.DataFrame:
    frame = load_judgments(store, [run_id], texts=True)
    frame = frame.set_index(["prompt_id", "requirement", "epoch", "judge_repeat"]).sort_index()
    return frame[["violation", "error", "response"]]


def _canonical(body: dict) -> str:
    return json.dumps({**body, "model": body["model"].removesuffix(":batch")}, sort_keys=True)


@pytest.fixture(scope="module")
def live_reference(benchmark, dataset_path, tmp_path_factory):
    store = tmp_path_factory.mktemp("live") / "live.sqlite"
    with FaultServer(_script(benchmark)) as server:
        summary = run(_config(server.base_url, store, dataset_path), benchmark=benchmark, progress=False)
        bodies = [body for _, body in server.bodies]
    return _table(store, summary.run_id), bodies, summary


@pytest.mark.parametrize("dialect", DIALECTS)
def test_a_batch_with_epochs_and_judge_repeats_stores_what_the_live_run_stores(dialect, benchmark, dataset_path, tmp_path,
                                                                              live_reference):
    live, live_bodies, _ = live_reference
    store = tmp_path / "batch.sqlite"
    with FakeBatchServer(dialect, _script(benchmark), duration_s=0.3) as server:
        config = _config(server.base_url, store, dataset_path)
        outcome = asyncio.run(BatchRun(config, Modes(dialect, dialect), benchmark=benchmark, poll_interval_s=0.1).run())
    batched = _table(store, outcome.summary.run_id)

    n_checks = outcome.summary.n_checks
    assert len(batched) == len(live) == n_checks * EPOCHS * REPEATS
    assert outcome.summary.verdicts + outcome.summary.errors == len(live) and outcome.open_batches == 0
    assert (outcome.summary.epochs, outcome.summary.judge_repeats) == (EPOCHS, REPEATS)
    pd.testing.assert_series_equal(batched["violation"], live["violation"])
    pd.testing.assert_series_equal(batched["response"], live["response"])
    assert (batched["error"] != "").tolist() == (live["error"] != "").tolist()
    assert batched["violation"].notna().sum() >= 10 and batched["violation"].isna().sum() >= 10
    # Exactly the live requests, every epoch and judge repeat, retried and re-asked ones included.
    assert Counter(_canonical(b) for _, b in server.lines) == Counter(_canonical(b) for b in live_bodies)
    assert all(CUSTOM_ID_PATTERN.match(cid) for cid in server.submitted) and max(server.submitted.values()) == 1
    responses = response_texts(store, outcome.summary.run_id)
    assert sorted(Counter(responses["epoch"]).items()) == [(1, N_PROMPTS), (2, N_PROMPTS)]
    # The ledger knows each line's sample; every (epoch, judge repeat) was sent as its own line.
    db = sqlite3.connect(store)
    try:
        samples = set(db.execute("SELECT role, epoch, judge_repeat FROM batch_requests"))
        ended = db.execute("SELECT ended_at FROM runs").fetchone()[0]
    finally:
        db.close()
    assert samples == {("respond", e, 1) for e in (1, 2)} | {("judge", e, j) for e in (1, 2) for j in (1, 2, 3)}
    assert ended is not None


@pytest.mark.parametrize("modes", [Modes("openai", "live"), Modes("live", "anthropic")], ids=["respond-batch", "judge-batch"])
def test_mixed_modes_carry_the_repeats(modes, benchmark, dataset_path, tmp_path, live_reference):
    live, _, _ = live_reference
    store = tmp_path / "mixed.sqlite"
    dialect = modes.respond if modes.respond != "live" else modes.judge
    with FakeBatchServer(dialect, _script(benchmark), duration_s=0.3) as batch, FaultServer(_script(benchmark)) as direct:
        batch_url, direct_url = batch.base_url, direct.base_url
        respond_url, judge_url = (batch_url, direct_url) if modes.respond != "live" else (direct_url, batch_url)
        config = replace(_config(respond_url, store, dataset_path), judge_base_url=judge_url)
        outcome = execute(config, modes, poll_interval_s=0.1, progress=False)
        kinds = Counter("respond" if len(body["messages"]) == 1 else "judge" for _, body in batch.lines)
        direct_kinds = dict(direct.requests)
    batched = _table(store, outcome.summary.run_id)
    pd.testing.assert_series_equal(batched["violation"], live["violation"])
    pd.testing.assert_series_equal(batched["response"], live["response"])
    if modes.respond != "live":
        # Every epoch's response went through the batch (one retried), every judge call live.
        assert set(kinds) == {"respond"} and kinds["respond"] == N_PROMPTS * EPOCHS + 1
        assert direct_kinds.get("respond", 0) == 0 and direct_kinds["judge"] > 0
    else:
        assert set(kinds) == {"judge"} and direct_kinds.get("judge", 0) == 0
        assert direct_kinds["respond"] == N_PROMPTS * EPOCHS + 1


def test_a_rejudge_through_a_batch_judges_every_epoch_j_times_and_never_calls_the_model(benchmark, dataset_path,
                                                                                       tmp_path):
    from eudaimonia_nb.judging.rejudge import rejudge_config

    store = tmp_path / "s.sqlite"
    with FaultServer(Script(response_variants=6, seed=4)) as server:
        source = run(_config(server.base_url, store, dataset_path, judge_repeats=1), benchmark=benchmark, progress=False)
    with FakeBatchServer("openrouter", Script(canonical=True), duration_s=0.2) as second:
        config = rejudge_config(store, source.run_id, judge_model="other-judge", judge_base_url=second.base_url,
                                dataset_path=str(dataset_path), timeout_s=10.0, max_retries=1, judge_repeats=2)
        rejudged = execute(config, Modes("live", "openrouter"), poll_interval_s=0.1, progress=False)
        kinds = {"respond" if len(body["messages"]) == 1 else "judge" for _, body in second.lines}
        n_lines = len(second.lines)
    assert kinds == {"judge"}
    assert rejudged.summary.verdicts + rejudged.summary.errors == rejudged.summary.n_checks * EPOCHS * 2 == n_lines
    frame = load_judgments(store, [rejudged.summary.run_id], texts=True)
    source_frame = load_judgments(store, [source.run_id], texts=True)
    # Each epoch was judged on its own response: the texts are the source's, epoch for epoch.
    judged = frame.groupby(["prompt_id", "epoch"])["response"].first()
    pd.testing.assert_series_equal(judged, source_frame.groupby(["prompt_id", "epoch"])["response"].first())
    assert sorted(frame["judge_repeat"].unique()) == [1, 2]


def test_retry_failed_redoes_each_failed_sample_once_and_nothing_else(benchmark, dataset_path, tmp_path):
    store = tmp_path / "s.sqlite"
    with FakeBatchServer("openai", _script(benchmark), duration_s=0.2) as server:
        config = _config(server.base_url, store, dataset_path)
        first = asyncio.run(BatchRun(config, Modes("openai", "openai"), benchmark=benchmark, poll_interval_s=0.1).run())
        failed = _table(store, first.summary.run_id)
        failed = failed[failed["error"] != ""]
        assert len(failed) >= 2 * EPOCHS * REPEATS  # the refused judge calls and the empty response's checks
        sent_before = len(server.lines)
        server.script = Script(canonical=True, quote_prompt=True)  # the provider mends
        second = asyncio.run(BatchRun(config, Modes("openai", "openai"), benchmark=benchmark, poll_interval_s=0.1,
                                      retry_failed=True).run())
        new_lines = server.lines[sent_before:]
        again = asyncio.run(BatchRun(config, Modes("openai", "openai"), benchmark=benchmark, poll_interval_s=0.1,
                                     retry_failed=True).run())
        after_again = len(server.lines)
    redone = _table(store, second.summary.run_id)
    assert (redone["error"] == "").all() and second.summary.errors == 0
    # The empty responses (one per epoch) were asked again; every failed judge sample once, no other.
    respond_lines = [b for _, b in new_lines if len(b["messages"]) == 1]
    judge_lines = [b for _, b in new_lines if len(b["messages"]) != 1]
    assert len(respond_lines) == EPOCHS and len(judge_lines) == len(failed)
    assert max(server.submitted.values()) == 1
    assert again.summary.errors == 0 and after_again == sent_before + len(new_lines)  # nothing failed: nothing redone


def test_a_response_redone_without_waiting_is_judged_on_a_plain_resume(benchmark, dataset_path, tmp_path):
    """A response that failed gives its samples no-response records; ``--retry-failed --no-wait``
    sends it again and returns; while that line is in flight nothing is planned for its samples,
    and the plain resume that collects it judges them instead of leaving the old records."""
    from eudaimonia_nb.judging.batch.lines import JUDGE, RESPOND, plan_lines
    from eudaimonia_nb.judging.plan import RunPlan

    store = tmp_path / "s.sqlite"
    failing = _script(benchmark).rules  # reuse its prompt texts: make the second prompt's response fail for good
    text = [t for t, rule in failing.items() if rule.get("respond") == ["500", "ok"]][0]
    with FakeBatchServer("openai", Script(canonical=True, quote_prompt=True, rules={text: {"respond": ["400"]}}),
                         duration_s=1.0) as server:
        config = _config(server.base_url, store, dataset_path)
        first = asyncio.run(BatchRun(config, Modes("openai", "openai"), benchmark=benchmark, poll_interval_s=0.1).run())
        pid = benchmark.prompts.set_index("text").loc[text, "prompt_id"]
        before = _table(store, first.summary.run_id).loc[pid]
        assert before["error"].str.startswith("no response to judge").all() and len(before) > 0

        server.script = Script(canonical=True, quote_prompt=True)  # the provider mends
        sent = asyncio.run(BatchRun(config, Modes("openai", "openai"), benchmark=benchmark, poll_interval_s=0.1,
                                    retry_failed=True, wait=False).run())
        assert sent.open_batches == 1
        plan = RunPlan.build(config, benchmark)
        db = ResultsStore(store)
        try:
            work = plan_lines(plan, phases=[RESPOND, JUDGE], batched_phases={RESPOND, JUDGE},
                              responses=db.response_samples(plan.run_id), results=db.verdict_samples(plan.run_id),
                              requests=BatchLedger(db).run_requests(plan.run_id), retry_failed=False, done_now=set())
        finally:
            db.close()
        assert not work.no_response and not [x for x in work.batched + work.live if x.prompt_id == pid]

        resumed = asyncio.run(BatchRun(config, Modes("openai", "openai"), benchmark=benchmark, poll_interval_s=0.1).run())
    after = _table(store, resumed.summary.run_id).loc[pid]
    assert (after["error"] == "").all() and after["violation"].notna().all() and len(after) == len(before)
    assert set(after["response"]) == {f"Scripted response to: {text[:40]}"}
    assert max(server.submitted.values()) == 1


def test_a_resume_in_another_mode_with_batches_open_is_refused_naming_the_flag(benchmark, dataset_path, tmp_path):
    """Only a phase's own dialect polls its open batches: resumed live, the run would wait forever."""
    store = tmp_path / "s.sqlite"
    with FakeBatchServer("openai", Script(canonical=True), duration_s=2.0) as server:
        config = _config(server.base_url, store, dataset_path)
        sent = asyncio.run(BatchRun(config, Modes("openai", "openai"), benchmark=benchmark, poll_interval_s=0.1,
                                    wait=False).run())
        assert sent.open_batches == 1
        with pytest.raises(ValueError, match="open respond batches at openai .* resume it with --batch openai"):
            execute(config, Modes("live", "openai"), benchmark=benchmark, poll_interval_s=0.1)
        done = execute(config, Modes("openai", "live"), benchmark=benchmark, poll_interval_s=0.1, progress=False)
    assert done.open_batches == 0 and done.summary.verdicts + done.summary.errors == done.summary.n_checks * 6


def test_sigkill_with_repeated_lines_in_flight_then_rerun_stores_each_sample_once(tmp_path, dataset_path):
    store = tmp_path / "store.sqlite"
    with FakeBatchServer("anthropic", Script(canonical=True, response_variants=4, judge_flip=0.2, seed=3),
                         duration_s=2.0) as server:
        args = ["run", "--model", "scripted-model", "--base-url", server.base_url, "--judge-model", "scripted-judge",
                "--judge-base-url", server.base_url, "--store", str(store), "--dataset", str(dataset_path),
                "--no-progress", "--limit", "4", "--source", "real", "--batch", "anthropic", "--poll-interval", "0.2",
                "--epochs", "2", "--judge-repeats", "2"]
        process = subprocess.Popen([*CLI, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # Killed once the judge batch (every epoch's and repeat's lines) is at the provider.
        _wait_for(lambda: store.is_file() and _rows(
            store, "SELECT COUNT(*) FROM batch_jobs WHERE phase = 'judge' AND batch_id IS NOT NULL")[0][0] >= 1)
        _kill(process)
        assert _rows(store, "SELECT COUNT(*) FROM verdicts")[0][0] == 0
        rerun = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=300)
        assert rerun.returncode == 0, rerun.stderr
        again = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=300)
        total = sum(server.submitted.values())
    assert again.returncode == 0 and "x 2 epochs x 2 judge repeats" in rerun.stdout + rerun.stderr
    assert max(server.submitted.values()) == 1, "a custom id was submitted twice"
    n_checks = _rows(store, "SELECT COUNT(*) FROM run_checks")[0][0]
    assert _rows(store, "SELECT COUNT(*) FROM responses")[0][0] == 4 * 2
    assert _rows(store, "SELECT COUNT(*) FROM verdicts")[0][0] == n_checks * 4 == total - 4 * 2
    assert _rows(store, "SELECT COUNT(DISTINCT epoch || '/' || judge_repeat) FROM verdicts")[0][0] == 4
    assert _rows(store, "SELECT COUNT(*) FROM batch_requests WHERE outcome IS NULL")[0][0] == 0
    assert _rows(store, "SELECT COUNT(*) FROM runs WHERE ended_at IS NOT NULL")[0][0] == 1


PRICES = {"scripted-model": Price(1000.0, 1000.0), "scripted-judge": Price(1000.0, 1000.0)}


def test_the_cost_cap_reserves_every_epoch_and_judge_repeat(benchmark, dataset_path, tmp_path):
    """The worst-case reservation of a batch grows with its lines: 2 epochs make the response batch
    2x, 2 epochs x 3 judge repeats make the judge batch 6x, and a cap that fits one run's judge
    batch stops the repeated run before its judge batch is sent."""
    estimates = {}
    for repeats in ((1, 1), (EPOCHS, REPEATS)):
        store = tmp_path / f"s{repeats[0]}.sqlite"
        with FakeBatchServer("openai", Script(canonical=True), duration_s=0.1) as server:
            config = _config(server.base_url, store, dataset_path, epochs=repeats[0], judge_repeats=repeats[1],
                             max_tokens=100, judge_max_tokens=100, max_retries=0)
            outcome = asyncio.run(BatchRun(config, Modes("openai", "openai"), benchmark=benchmark, prices=PRICES,
                                           poll_interval_s=0.05, max_cost_usd=1e6).run())
        assert outcome.stopped is None
        ledger_store = ResultsStore(store)
        try:
            estimates[repeats] = {j.phase: j.estimated_cost_usd for j in BatchLedger(ledger_store).jobs()}
        finally:
            ledger_store.close()
    single, repeated = estimates[(1, 1)], estimates[(EPOCHS, REPEATS)]
    assert repeated["respond"] == pytest.approx(EPOCHS * single["respond"])
    # The empty response's checks are never judged, in either run: the judge lines scale exactly.
    assert repeated["judge"] == pytest.approx(EPOCHS * REPEATS * single["judge"])

    store = tmp_path / "capped.sqlite"
    cap = single["respond"] * EPOCHS + single["judge"] * 2  # room for the responses, not for 6x the judge lines
    with FakeBatchServer("openai", Script(canonical=True), duration_s=0.1) as server:
        config = _config(server.base_url, store, dataset_path, max_tokens=100, judge_max_tokens=100, max_retries=0)
        stopped = asyncio.run(BatchRun(config, Modes("openai", "openai"), benchmark=benchmark, prices=PRICES,
                                       poll_interval_s=0.05, max_cost_usd=cap).run())
        phases = [b.lines[0][1]["messages"] for b in server.batches.values()]
    assert stopped.stopped and "--max-cost" in stopped.stopped
    assert len(phases) == 1 and len(phases[0]) == 1  # only the response batch went out


FLIP = 0.15


def test_noise_recovers_the_flip_rate_of_a_batch_judge(benchmark, dataset_path, tmp_path):
    """A batch judge that flips each verdict with probability 0.15: two calls on one response
    disagree with probability 2 f (1 - f) = 0.255, which ``noise --json`` recovers from the batch."""
    store = tmp_path / "s.sqlite"
    prompts = benchmark.prompts.groupby("source").head(40)["prompt_id"]
    with FakeBatchServer("openai", Script(canonical=True, response_variants=5, judge_flip=FLIP, seed=11),
                         duration_s=0.1) as server:
        config = RunConfig(model="sampled-model", base_url=server.base_url, judge_model="flipping-judge",
                           judge_base_url=server.base_url, api_key_env=None, judge_api_key_env=None,
                           prompt_ids=tuple(prompts), store_path=str(store), epochs=2, judge_repeats=4, max_retries=0)
        outcome = asyncio.run(BatchRun(config, Modes("openai", "openai"), benchmark=benchmark, poll_interval_s=0.05).run())
    assert outcome.summary.errors == 0
    result = subprocess.run([*CLI, "noise", "--store", str(store), "--json", "--n-boot", "200"], capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    (record,) = json.loads(result.stdout)["runs"]
    truth = 2 * FLIP * (1 - FLIP)
    print(f"batch judge flip rate {record['judge_flip_rate']:.4f} [{record['judge_flip_rate_ci_low']:.4f}, "
          f"{record['judge_flip_rate_ci_high']:.4f}], truth {truth:.4f}")
    assert abs(record["judge_flip_rate"] - truth) < 0.04
    assert record["judge_flip_rate_ci_low"] <= truth <= record["judge_flip_rate_ci_high"]
    assert record["n_verdicts"] == outcome.summary.n_checks * 8 and record["response_flip_rate"] > 0


def test_first_samples_keep_their_check_keys_and_custom_ids():
    """A ledger written before repeats existed resumes under the same ids: epoch 1 and judge repeat
    1 have the keys (and so the ids) the executor used then; later samples get new ones."""
    first = check_key("run-1", "judge", "p1", "2B_emotion", epoch=1, judge_repeat=1)
    assert first == ("run-1", "judge", "p1", "2B_emotion")
    assert check_key("run-1", "respond", "p1") == ("run-1", "respond", "p1")
    # Pinned: the ids the executor derived before repeats existed (main at f60c6f3, check_key of (run, role, prompt[, requirement])).
    assert custom_id(first, 1) == "eu-9478de4088597f2eb153917835058bd912d1efa4-1"
    assert custom_id(check_key("run-1", "respond", "p1"), 2) == "eu-476446f7cb7ada54b163b5b7bcd8c6d9834c4481-2"
    later = {check_key("run-1", "judge", "p1", "2B_emotion", epoch=e, judge_repeat=j) for e in (1, 2) for j in (1, 2, 3)}
    assert len(later) == 6 and len({custom_id(k, 1) for k in later}) == 6
    assert check_key("run-1", "respond", "p1", epoch=2) == ("run-1", "respond", "p1", "epoch 2")


def test_a_schema_7_ledger_is_migrated_and_its_lines_read_as_first_samples(tmp_path):
    """A store whose ledger was written before schema 8 (no epoch, judge_repeat in
    ``batch_requests``) is backed up and migrated; its lines are epoch 1, judge repeat 1."""
    path = tmp_path / "s.sqlite"
    store = ResultsStore(path)
    try:
        key = ("run-1", "judge", "p1", "2B_emotion")
        BatchLedger(store).record_intent(tag="t", run_id="run-1", phase="judge", provider="openai", base_url="http://x/v1",
                                         model="m", ids_sha256="h", estimated_cost_usd=None,
                                         lines=[(custom_id(key, 1), "judge", "p1", "2B_emotion", json.dumps(list(key)),
                                                 1, "sha", 2, 3)])
    finally:
        store.close()
    db = sqlite3.connect(path)
    db.execute("ALTER TABLE batch_requests DROP COLUMN epoch")
    db.execute("ALTER TABLE batch_requests DROP COLUMN judge_repeat")
    db.execute("PRAGMA user_version = 7")
    db.commit()
    db.close()

    store = ResultsStore(path)
    try:
        (line,) = BatchLedger(store).run_requests("run-1")
        version = store._db.execute("PRAGMA user_version").fetchone()[0]
    finally:
        store.close()
    assert version == 8 and (tmp_path / "s.sqlite.v7-backup").is_file()
    assert (line.epoch, line.judge_repeat, line.custom_id) == (1, 1, custom_id(key, 1))
