"""The live-judging widget against a real llama.cpp server running SmolLM2-135M on 127.0.0.1.

SmolLM2-135M is a SMOKE-TEST model: these tests check what the widget shows (the model's own
text, one row per labelled requirement holding the judge's verdict or a recorded error, the
smoke-test label), never what the verdicts say. Token limits are small to keep them quick.
"""

from __future__ import annotations

import asyncio
import html
import re

from fault_server import FaultServer, Script

from eudaimonia_nb.judging.judge import parse_verdict
from eudaimonia_nb.store.results import load_judgments, response_texts
from eudaimonia_nb.widgets.judging import PRESETS, SMOKE_TEST_NOTE, LiveJudgingUI

HEY_THERE = "p08f81c0efb1"
"""A one-word real prompt with one label: one judge call (slow on 2 cores) per run."""


def _rows(markup: str) -> list[str]:
    return re.findall(r"data-verdict='(\w+)'", markup)


def _ui(bench, llama_url: str, store) -> LiveJudgingUI:
    ui = LiveJudgingUI(bench, store_path=store)
    ui.use_local(llama_url, max_tokens=24, judge_max_tokens=48)
    ui.settings.max_retries.value = 1
    return ui


def test_one_prompt_against_llama_cpp_shows_its_text_and_a_verdict_or_error(llama_server, benchmark, tmp_path):  # noqa: F811
    ui = _ui(benchmark, llama_server.base_url, tmp_path / "s.sqlite")
    ui.prompt.search.value = HEY_THERE

    async def click():
        ui.run_button.click()
        return await ui.task

    result = asyncio.run(click())
    assert result.response.ok and result.response.text.strip() and result.response.usage.completion_tokens > 0
    out = ui.single_output.value
    assert html.escape(result.response.text) in out and SMOKE_TEST_NOTE in out
    (verdict,) = result.verdicts
    assert verdict.requirement == "3A_engagement_hooks" and verdict.raw
    if verdict.error is None:
        assert _rows(out) == ["violation" if parse_verdict(verdict.raw).violation else "pass"]
    else:
        # SmolLM2 often answers in prose: an error row with the reason, never a pass.
        assert verdict.violation is None and verdict.error.startswith("unparseable judge reply")
        assert _rows(out) == ["error"] and html.escape(verdict.error) in out


def test_compare_llama_with_a_second_endpoint_and_run_a_subset(llama_server, benchmark, tmp_path):  # noqa: F811
    store = tmp_path / "s.sqlite"
    prompts = benchmark.prompts
    two = prompts[prompts["n_requirements"] == 2].sort_values("length_chars").iloc[0]
    with FaultServer(Script()) as judge_server:
        ui = _ui(benchmark, llama_server.base_url, store)
        # The judge is the scripted server so that only responses come from the slow local model.
        ui.judge.select(PRESETS[-1], base_url=judge_server.base_url, model="scripted-judge")
        ui.model_b.select(PRESETS[-1], base_url=judge_server.base_url, model="scripted-b")
        ui.prompt.search.value = two["prompt_id"]
        left, right = asyncio.run(ui.run_compare())
        assert left.response.ok and right.response.ok and left.response.text != right.response.text
        assert html.escape(left.response.text) in ui.left.value and html.escape(right.response.text) in ui.right.value
        assert _rows(ui.left.value) == [("violation" if v.violation else "pass") for v in left.verdicts]
        assert len(_rows(ui.left.value)) == len(_rows(ui.right.value)) == 2
        assert SMOKE_TEST_NOTE in ui.left.value

        ui.requirements.value = ("3A_engagement_hooks",)
        ui.source.value = "real"
        ui.limit.value = 2
        served = llama_server.requests_served()
        summary = asyncio.run(ui.run_subset(poll_s=0.2))
        assert llama_server.requests_served() == served + 2, "one response per prompt from the local model"
    frame = load_judgments(store, [summary.run_id])
    assert len(frame) == 2 and summary.verdicts == 2 and frame["smoke_test"].all()
    texts = response_texts(store, summary.run_id)
    assert len(texts) == 2 and texts["text"].str.len().gt(0).all() and texts["error"].isna().all()
    assert ui.progress.value == ui.progress.max == 2 and len(_rows(ui.run_results.value)) == 2
