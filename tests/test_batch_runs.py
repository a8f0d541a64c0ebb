"""Batched runs against the fake batch servers: the same verdicts as the same run made live, the
same request bodies, expired lines sent again, re-asks of unparseable answers as follow-up
batches, the 5,000-request cap of OpenRouter, rejudging through a batch, and the ledger."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections import Counter
from dataclasses import replace

import pandas as pd
import pytest
from batch_server import FakeBatchServer
from fault_server import FaultServer, Script

from eudaimonia_nb.judging.batch import openrouter as openrouter_dialect
from eudaimonia_nb.judging.batch.executor import BatchRun, Modes, logical_replies
from eudaimonia_nb.judging.batch.protocol import (CUSTOM_ID_PATTERN, DIALECTS, BatchAPIError, BatchLine, BatchTag,
                                                  custom_id)
from eudaimonia_nb.judging.batch.dialects import open_dialect
from eudaimonia_nb.judging.client import ChatRequest
from eudaimonia_nb.judging.config import RunConfig
from eudaimonia_nb.judging.execution import execute
from eudaimonia_nb.judging.runner import run
from eudaimonia_nb.store.batch_ledger import Request, list_batches
from eudaimonia_nb.store.results import load_judgments, response_texts

N_PROMPTS = 6


def _prompts(benchmark) -> list[str]:
    return list(benchmark.prompts[benchmark.prompts["source"] == "real"]["text"].head(N_PROMPTS))


def _script(benchmark) -> Script:
    """Answers that exercise every path: a re-asked unparseable answer, a failed response that a
    retry mends, judge calls refused for good, an empty response."""
    texts = _prompts(benchmark)
    return Script(canonical=True, quote_prompt=True, rules={
        texts[0]: {"judge": ["prose", "ok"]},
        texts[1]: {"respond": ["500", "ok"]},
        texts[2]: {"judge": ["400"]},
        texts[3]: {"respond": ["empty"]},
    })


def _config(base_url: str, store, dataset_path, **extra) -> RunConfig:
    return RunConfig(model="scripted-model", base_url=base_url, judge_model="scripted-judge", judge_base_url=base_url,
                     api_key_env=None, judge_api_key_env=None, limit=N_PROMPTS, source="real", store_path=str(store),
                     dataset_path=str(dataset_path), timeout_s=10.0, max_retries=2, retry_base_delay_s=0.01, **extra)


def _table(store, run_id: str) -> pd.DataFrame:
    frame = load_judgments(store, [run_id], texts=True).set_index(["prompt_id", "requirement"]).sort_index()
    return frame[["violation", "error", "response"]]


def _live(benchmark, dataset_path, tmp_path) -> tuple[pd.DataFrame, list[dict]]:
    store = tmp_path / "live.sqlite"
    with FaultServer(_script(benchmark)) as server:
        summary = run(_config(server.base_url, store, dataset_path), benchmark=benchmark, progress=False)
        bodies = [body for _, body in server.bodies]
    return _table(store, summary.run_id), bodies


def _canonical(body: dict) -> str:
    return json.dumps({**body, "model": body["model"].removesuffix(":batch")}, sort_keys=True)


def _batched(dialect: str, benchmark, dataset_path, store, **server_options) -> tuple[FakeBatchServer, object]:
    with FakeBatchServer(dialect, _script(benchmark), duration_s=0.3, **server_options) as server:
        config = _config(server.base_url, store, dataset_path)
        outcome = asyncio.run(BatchRun(config, Modes(dialect, dialect), benchmark=benchmark, poll_interval_s=0.1).run())
    return server, outcome


@pytest.fixture(scope="module")
def live_reference(benchmark, dataset_path, tmp_path_factory):
    return _live(benchmark, dataset_path, tmp_path_factory.mktemp("live"))


@pytest.mark.parametrize("dialect", DIALECTS)
def test_a_batched_run_stores_the_same_verdicts_and_sends_the_same_bodies_as_live(dialect, benchmark, dataset_path,
                                                                                  tmp_path, live_reference):
    live, live_bodies = live_reference
    store = tmp_path / "batch.sqlite"
    server, outcome = _batched(dialect, benchmark, dataset_path, store)
    batched = _table(store, outcome.summary.run_id)

    assert outcome.open_batches == 0 and outcome.summary.verdicts + outcome.summary.errors == len(live)
    pd.testing.assert_series_equal(batched["violation"], live["violation"])
    pd.testing.assert_series_equal(batched["response"], live["response"])
    assert batched["violation"].notna().sum() >= 5 and batched["violation"].isna().sum() >= 5  # both kinds exercised
    assert set(batched["violation"].dropna()) == {0.0, 1.0}
    assert (batched["error"] != "").tolist() == (live["error"] != "").tolist()
    if dialect != "anthropic":  # Anthropic reports a failed line by its error type, not an HTTP status
        assert batched["error"].tolist() == live["error"].tolist()
    # Exactly the live requests, the retried and re-asked ones included, body for body.
    assert Counter(_canonical(b) for _, b in server.lines) == Counter(_canonical(b) for b in live_bodies)
    assert all(CUSTOM_ID_PATTERN.match(cid) for cid in server.submitted)
    assert max(server.submitted.values()) == 1
    # The re-ask of an unparseable answer and the retried response went out in follow-up batches.
    assert len(server.batches) >= 3
    runs = list_batches(store)
    assert set(runs["phase"]) == {"respond", "judge"} and (runs["pending"] == 0).all()
    assert runs["collected_at"].notna().all()
    db = sqlite3.connect(store)
    try:
        modes = {row[0] for row in db.execute("SELECT mode FROM run_spend")}
        ended = db.execute("SELECT ended_at FROM runs").fetchone()[0]
    finally:
        db.close()
    assert modes == {dialect} and ended is not None


@pytest.mark.parametrize("dialect", DIALECTS)
def test_an_expired_batchs_unfinished_lines_are_sent_again(dialect, benchmark, dataset_path, tmp_path, live_reference):
    live, _ = live_reference
    store = tmp_path / "batch.sqlite"
    server, outcome = _batched(dialect, benchmark, dataset_path, store, expire_batches=1)
    first = server.batches[min(server.batches)]
    expired = [cid for number, (cid, _) in enumerate(first.lines) if number % 2 == 1]
    assert expired, "the first batch had lines left unfinished"
    # Each unfinished line went out again as attempt 2 of the same key, and only once.
    again = {cid.rsplit("-", 1)[0] + "-2" for cid in expired}
    assert again <= set(server.submitted)
    assert max(server.submitted.values()) == 1
    batched = _table(store, outcome.summary.run_id)
    pd.testing.assert_series_equal(batched["violation"], live["violation"])
    assert outcome.summary.verdicts + outcome.summary.errors == len(live)


def test_openrouter_batches_are_split_at_the_request_cap(benchmark, dataset_path, tmp_path, monkeypatch):
    assert openrouter_dialect.OpenRouterBatches.max_requests == 5_000
    monkeypatch.setattr(openrouter_dialect.OpenRouterBatches, "max_requests", 4)
    store = tmp_path / "batch.sqlite"
    server, outcome = _batched("openrouter", benchmark, dataset_path, store, max_requests=4)
    assert not server.refused and all(len(b.lines) <= 4 for b in server.batches.values())
    assert sum(len(b.lines) for b in server.batches.values()) == sum(server.submitted.values())
    assert outcome.summary.verdicts + outcome.summary.errors == outcome.summary.n_checks


def test_openrouter_refuses_a_batch_over_5000_requests_and_nothing_is_retried():
    async def submit(url: str) -> None:
        dialect = open_dialect("openrouter", url, None)
        try:
            lines = [BatchLine(custom_id(("r", "respond", str(i)), 1), ChatRequest(model="m", messages=(("user", "x"),)))
                     for i in range(5_001)]
            await dialect.submit(lines, BatchTag("t", "r", "respond", "h"))
        finally:
            await dialect.aclose()

    with FakeBatchServer("openrouter") as server:
        with pytest.raises(BatchAPIError) as caught:
            asyncio.run(submit(server.base_url))
    assert "HTTP 400" in caught.value.reason and not caught.value.retryable and not server.batches


def test_judge_batch_live_and_a_rejudge_through_a_batch(benchmark, dataset_path, tmp_path, live_reference):
    live, _ = live_reference
    store = tmp_path / "mixed.sqlite"
    with FakeBatchServer("openai", _script(benchmark), duration_s=0.3) as batch, FaultServer(_script(benchmark)) as judge:
        config = replace(_config(batch.base_url, store, dataset_path), judge_base_url=judge.base_url)
        outcome = execute(config, Modes("openai", "live"), poll_interval_s=0.1, progress=False)
        assert judge.requests["respond"] == 0 and judge.requests["judge"] > 0
        assert {kind for kind, _ in (("judge" if "ASSISTANT" in str(b) else "respond", b) for _, b in batch.lines)} == {"respond"}
    pd.testing.assert_series_equal(_table(store, outcome.summary.run_id)["violation"], live["violation"])

    from eudaimonia_nb.judging.rejudge import rejudge_config

    with FakeBatchServer("anthropic", Script(canonical=True), duration_s=0.3) as second:
        config = rejudge_config(store, outcome.summary.run_id, judge_model="other-judge", judge_base_url=second.base_url,
                                dataset_path=str(dataset_path), timeout_s=10.0, max_retries=1)
        rejudged = execute(config, Modes("live", "anthropic"), poll_interval_s=0.1, progress=False)
        kinds = {"respond" if len(body["messages"]) == 1 else "judge" for _, body in second.lines}
    assert kinds == {"judge"}, "a rejudge never calls the model under test"
    assert rejudged.summary.verdicts + rejudged.summary.errors == rejudged.summary.n_checks
    copied = response_texts(store, rejudged.summary.run_id)
    assert len(copied) == N_PROMPTS


def test_the_anthropic_dialect_refuses_structured_output_before_anything_is_recorded(benchmark, dataset_path, tmp_path):
    store = tmp_path / "batch.sqlite"
    with FakeBatchServer("anthropic") as server:
        config = _config(server.base_url, store, dataset_path, protocol="suite")
        with pytest.raises(ValueError, match="response_format"):
            asyncio.run(BatchRun(config, Modes("anthropic", "anthropic"), benchmark=benchmark, poll_interval_s=0.1).run())
        assert not server.batches
    from eudaimonia_nb.store.results import list_runs

    assert list_runs(store).empty


def test_custom_ids_are_deterministic_distinct_and_take_a_growing_key():
    base = ("run-1", "judge", "p1", "2B_emotion")
    assert custom_id(base, 1) == custom_id(list(base), 1)
    ids = {custom_id(base, 1), custom_id(base, 2), custom_id((*base, "epoch-2"), 1), custom_id(base[:3], 1)}
    assert len(ids) == 4 and all(CUSTOM_ID_PATTERN.match(i) for i in ids)
    with pytest.raises(ValueError):
        custom_id(base, 0)


def _line(outcome: str, *, retryable: bool = True, text: str | None = None, attempt: int = 1) -> Request:
    return Request(f"c{attempt}", 1, "judge", "p", "r", "[]", attempt, None, outcome, text, "stop" if text else None,
                   None if text else f"{outcome} error", retryable, 1, 1, False)


def test_failed_lines_become_the_replies_a_live_client_returns():
    replies, retrying = logical_replies([_line("errored"), _line("expired", attempt=2)], max_retries=2)
    assert replies == [] and retrying  # still within the retry budget: send it again
    replies, retrying = logical_replies([_line("errored"), _line("expired", attempt=2), _line("errored", attempt=3)], 2)
    assert not retrying and replies[0].error == "errored error (gave up after 3 attempts)" and replies[0].attempts == 3
    replies, retrying = logical_replies([_line("errored", retryable=False)], 5)
    assert not retrying and replies[0].error == "errored error"
    replies, retrying = logical_replies([_line("errored"), _line("succeeded", text="{}", attempt=2)], 5)
    assert not retrying and replies[0].text == "{}" and replies[0].attempts == 2


def test_the_cli_names_the_same_dialects():
    from eudaimonia_nb.cli.execution import DIALECT_NAMES

    assert DIALECT_NAMES == DIALECTS
