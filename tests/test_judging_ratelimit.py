"""Rate limits slow a run down instead of failing it (HTTP 429 with Retry-After)."""

from __future__ import annotations

import asyncio

from fault_server import FaultServer, Script

from eudaimonia_nb.judging.client import AdaptiveLimit
from eudaimonia_nb.judging.config import RunConfig
from eudaimonia_nb.judging.runner import run
from eudaimonia_nb.store.results import load_judgments


def test_a_long_rate_limit_outlasts_the_ordinary_retry_budget(benchmark, tmp_path):
    prompts = benchmark.prompts.head(3)
    # Eight 429s in a row per prompt: far more than max_retries=2 ordinary retries.
    rules = {text: {"respond": ["429"] * 8 + ["ok"]} for text in prompts["text"]}
    with FaultServer(Script(rules=rules, retry_after_s=0.01)) as server:
        config = RunConfig(
            model="scripted-model", base_url=server.base_url, judge_model="scripted-judge",
            judge_base_url=server.base_url, api_key_env=None, judge_api_key_env=None,
            prompt_ids=tuple(prompts["prompt_id"]), store_path=str(tmp_path / "s.sqlite"),
            timeout_s=2.0, max_retries=2, retry_base_delay_s=0.01, concurrency=4,
        )
        summary = run(config, benchmark=benchmark, progress=False)
        for text in prompts["text"]:
            assert server.by_prompt[("respond", text)] == 9
    frame = load_judgments(tmp_path / "s.sqlite", [summary.run_id])
    assert (frame["error"] == "").all(), frame.loc[frame["error"] != "", "error"].tolist()
    assert frame["violation"].notna().all()


def test_ordinary_failures_still_use_the_ordinary_budget(benchmark, tmp_path):
    prompts = benchmark.prompts.head(1)
    rules = {text: {"respond": ["500"] * 5 + ["ok"]} for text in prompts["text"]}
    with FaultServer(Script(rules=rules)) as server:
        config = RunConfig(
            model="m", base_url=server.base_url, judge_model="j", judge_base_url=server.base_url,
            api_key_env=None, judge_api_key_env=None, prompt_ids=tuple(prompts["prompt_id"]),
            store_path=str(tmp_path / "s.sqlite"), timeout_s=2.0, max_retries=2, retry_base_delay_s=0.01,
        )
        summary = run(config, benchmark=benchmark, progress=False)
        assert server.by_prompt[("respond", prompts["text"].iloc[0])] == 3
    frame = load_judgments(tmp_path / "s.sqlite", [summary.run_id])
    assert frame["violation"].isna().all()
    assert frame["error"].str.contains("HTTP 500").all()


def test_limit_halves_on_a_429_wave_and_blocks_extra_calls():
    async def scenario() -> None:
        limit = AdaptiveLimit(8)
        for _ in range(8):
            await limit.acquire()
        # the whole wave of 8 in-flight calls comes back 429: one cut, not eight
        for _ in range(8):
            await limit.release(rate_limited=True, retry_after=0.0)
        assert limit.current == 4 and limit.in_flight == 0
        for _ in range(4):
            await limit.acquire()
        fifth = asyncio.ensure_future(limit.acquire())
        await asyncio.sleep(0.05)
        assert not fifth.done(), "a fifth call may not start while four are in flight"
        await limit.release()
        await asyncio.wait_for(fifth, 5)
        assert limit.in_flight == 4

    asyncio.run(scenario())


def test_successes_restore_the_limit_gradually():
    async def scenario() -> None:
        limit = AdaptiveLimit(16)
        await limit.acquire()
        await limit.release(rate_limited=True, retry_after=0.0)
        assert limit.current == 8
        for _ in range(8):
            await limit.acquire()
            await limit.release()
        assert 8 < limit.current < 10  # about one slot per window of successes
        for _ in range(500):
            await limit.acquire()
            await limit.release()
        assert limit.current == 16  # never above the configured maximum

    asyncio.run(scenario())


def test_retry_after_pauses_new_calls(monkeypatch):
    slept: list[float] = []
    real_sleep = asyncio.sleep

    async def recording_sleep(delay: float) -> None:
        slept.append(delay)
        await real_sleep(0)

    async def scenario() -> None:
        limit = AdaptiveLimit(4)
        await limit.acquire()
        await limit.release(rate_limited=True, retry_after=30.0)
        monkeypatch.setattr(asyncio, "sleep", recording_sleep)
        await limit.acquire()

    asyncio.run(scenario())
    # the next call waits out (almost all of) the 30 s Retry-After before it is sent
    assert len(slept) == 1 and 29.0 < slept[0] <= 30.0
