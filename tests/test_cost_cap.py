"""`--max-cost`: live and batched runs stop before the cap, an unpriced model is refused naming the
missing price, a stopped run resumes with a higher cap; the dry run shows batch at half the live
cost; batch prices in the price table."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from dataclasses import replace

import pytest
from batch_server import FakeBatchServer
from fault_server import FaultServer, Script

from eudaimonia_nb.judging.batch.executor import BatchRun, Modes
from eudaimonia_nb.judging.config import RunConfig
from eudaimonia_nb.judging.cost_cap import CostCapReached, UnpricedModelError, spent_usd
from eudaimonia_nb.judging.dry_run import dry_run
from eudaimonia_nb.judging.pricing import Price, load_prices, mode_price
from eudaimonia_nb.judging.runner import Runner
from eudaimonia_nb.store.results import ResultsStore

# Dear models, so that a few calls reach a cap of a few dollars.
PRICES = {"scripted-model": Price(1000.0, 1000.0), "scripted-judge": Price(1000.0, 1000.0)}


def _config(base_url: str, store, dataset_path, **extra) -> RunConfig:
    return RunConfig(model="scripted-model", base_url=base_url, judge_model="scripted-judge", judge_base_url=base_url,
                     api_key_env=None, judge_api_key_env=None, limit=8, source="real", store_path=str(store),
                     dataset_path=str(dataset_path), timeout_s=10.0, max_retries=0, concurrency=2, max_tokens=100,
                     judge_max_tokens=100, **extra)


def _spent(store, run_id: str) -> float:
    db = ResultsStore(store)
    try:
        return spent_usd(db, run_id, PRICES)
    finally:
        db.close()


def _count(store, sql: str) -> int:
    db = sqlite3.connect(store)
    try:
        return db.execute(sql).fetchone()[0]
    finally:
        db.close()


def test_a_live_run_stops_before_the_cap_and_resumes_with_a_higher_one(benchmark, dataset_path, tmp_path):
    store = tmp_path / "store.sqlite"
    cap = 3.0
    with FaultServer(Script()) as server:
        config = _config(server.base_url, store, dataset_path)
        runner = Runner(config, benchmark=benchmark, prices=PRICES, max_cost_usd=cap)
        with pytest.raises(CostCapReached, match="--max-cost"):
            asyncio.run(runner.run(progress=False))
        sent = server.total_requests()
        done = _count(store, "SELECT COUNT(*) FROM verdicts")
        n_checks = _count(store, "SELECT COUNT(*) FROM run_checks")
        assert 0 < sent and done < n_checks  # it stopped part-way
        assert 0 < _spent(store, runner.run_id) <= cap  # spent, from the reported usage, never past the cap
        assert _count(store, "SELECT COUNT(*) FROM run_stops") == 1
        assert _count(store, "SELECT COUNT(*) FROM runs WHERE ended_at IS NULL") == 1

        # The same cap again: what was spent counts, so almost nothing more may be sent.
        before = server.total_requests()
        with pytest.raises(CostCapReached):
            asyncio.run(Runner(config, benchmark=benchmark, prices=PRICES, max_cost_usd=3.0).run(progress=False))
        assert server.total_requests() - before <= 2
        summary = asyncio.run(Runner(config, benchmark=benchmark, prices=PRICES, max_cost_usd=1e9).run(progress=False))
    assert summary.verdicts + summary.errors == summary.n_checks
    assert _count(store, "SELECT COUNT(*) FROM runs WHERE ended_at IS NOT NULL") == 1


def test_a_batch_that_would_pass_the_cap_is_not_submitted(benchmark, dataset_path, tmp_path):
    store = tmp_path / "store.sqlite"
    with FakeBatchServer("openai", Script(canonical=True), duration_s=0.2) as server:
        config = _config(server.base_url, store, dataset_path)
        # The response batch's worst case (8 prompts, 100 output tokens each, half price) is about $0.4 + input.
        first = asyncio.run(BatchRun(config, Modes("openai", "openai"), benchmark=benchmark, prices=PRICES,
                                     poll_interval_s=0.05, max_cost_usd=0.01).run())
        assert first.stopped and "--max-cost" in first.stopped and not server.batches
        # A cap with room for the responses but not the judge calls: the responses are bought, then it stops.
        second = asyncio.run(BatchRun(config, Modes("openai", "openai"), benchmark=benchmark, prices=PRICES,
                                      poll_interval_s=0.05, max_cost_usd=1.5).run())
        assert second.stopped and len(server.batches) == 1
        run_id = second.summary.run_id
        assert 0 < _spent(store, run_id) <= 1.5
        assert _count(store, "SELECT COUNT(*) FROM responses") == 8 and _count(store, "SELECT COUNT(*) FROM verdicts") == 0
        done = asyncio.run(BatchRun(config, Modes("openai", "openai"), benchmark=benchmark, prices=PRICES,
                                    poll_interval_s=0.05, max_cost_usd=1e6).run())
    assert done.stopped is None and done.summary.verdicts + done.summary.errors == done.summary.n_checks


def test_an_unpriced_model_is_refused_under_max_cost_naming_the_price(benchmark, dataset_path, tmp_path):
    store = tmp_path / "store.sqlite"
    with FaultServer(Script()) as server:
        config = _config(server.base_url, store, dataset_path)
        with pytest.raises(UnpricedModelError, match=r"no price for scripted-judge \(live\)"):
            asyncio.run(Runner(config, benchmark=benchmark, prices={"scripted-model": Price(1, 1)},
                               max_cost_usd=10).run(progress=False))
        with pytest.raises(UnpricedModelError, match=r"scripted-model \(openai\), scripted-judge \(openai\)"):
            asyncio.run(BatchRun(config, Modes("openai", "openai"), benchmark=benchmark, prices={},
                                 max_cost_usd=10).run())
        assert server.total_requests() == 0
    assert not store.exists()
    result = subprocess.run(
        [sys.executable, "-m", "eudaimonia_nb", "run", "--model", "no-such-model-anywhere", "--base-url", "http://127.0.0.1:9/v1",
         "--judge-model", "gpt-4o", "--judge-base-url", "http://127.0.0.1:9/v1", "--store", str(store), "--dataset",
         str(dataset_path), "--limit", "2", "--max-cost", "5", "--no-progress"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "no price for no-such-model-anywhere (live)" in result.stderr


def test_the_dry_run_shows_batch_at_half_the_live_cost(benchmark, dataset_path, tmp_path):
    config = replace(_config("https://api.openai.com/v1", tmp_path / "none.sqlite", dataset_path), max_tokens=2048,
                     judge_max_tokens=1024)
    estimate = dry_run(config, benchmark=benchmark, prices=PRICES)
    assert estimate.cost_usd and set(estimate.batch_cost_usd) == {"openai", "anthropic", "openrouter"}
    for cost in estimate.batch_cost_usd.values():
        assert cost == pytest.approx(estimate.cost_usd / 2)
    assert estimate.worst_case_usd > estimate.cost_usd
    mixed = dry_run(config, benchmark=benchmark, prices=PRICES, modes=("openrouter", "live"))
    assert list(mixed.batch_cost_usd) == ["openrouter+live"]
    assert estimate.cost_usd / 2 < mixed.batch_cost_usd["openrouter+live"] < estimate.cost_usd
    text = estimate.describe()
    assert f"estimated cost: ${estimate.cost_usd:,.2f} live | batch openai ${estimate.cost_usd / 2:,.2f}" in text


def test_batch_prices_default_to_the_providers_discount_and_a_model_may_list_its_own(tmp_path):
    table = tmp_path / "prices.csv"
    table.write_text("model,input_usd_per_million,output_usd_per_million,batch_input_usd_per_million,batch_output_usd_per_million\n"
                     "a,2,8,,\nb,2,8,0.5,3\n")
    prices = load_prices(table)
    assert mode_price("a", "openai", prices) == Price(1.0, 4.0)
    assert mode_price("b", "anthropic", prices) == Price(0.5, 3.0)
    assert mode_price("a:batch", "openrouter", prices) == Price(1.0, 4.0)
    assert mode_price("a", "live", prices).input_usd_per_million == 2
    shipped = load_prices()  # the project's own table still loads, with no batch columns filled
    assert mode_price("gpt-4o", "openai", shipped).output_usd_per_million == pytest.approx(shipped["gpt-4o"].output_usd_per_million / 2)
