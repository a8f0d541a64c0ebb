"""The Noise tab in the Voila dashboard, in Debian's Chromium, for a store with a run with repeats."""

from __future__ import annotations

import re

import pytest
from fault_server import FaultServer, Script
from test_dashboard_browser import FIRST_LOAD_MS, _no_error_text, _open, _panel
from test_dashboard_helpers import chromium, voila_server

from eudaimonia_nb.judging.config import RunConfig
from eudaimonia_nb.judging.runner import run

pytestmark = pytest.mark.slow


def test_the_noise_tab_draws_its_three_figures(benchmark, tmp_path, artifacts_dir):
    store = tmp_path / "results.sqlite"
    prompts = tuple(benchmark.prompts.groupby("source").head(12)["prompt_id"])
    with FaultServer(Script(response_variants=4, judge_flip=0.2, seed=9)) as server:
        run(RunConfig(model="sampled-model", base_url=server.base_url, judge_model="flipping-judge",
                      judge_base_url=server.base_url, api_key_env=None, judge_api_key_env=None, prompt_ids=prompts,
                      store_path=str(store), epochs=3, judge_repeats=2), benchmark=benchmark, progress=False)
    with chromium() as browser, voila_server(f"store:{store}") as url:
        page = _open(browser, url)
        try:
            page.locator(".lm-TabBar-tab", has_text=re.compile("^Noise$")).click()
            panel = _panel(page)
            panel.locator(".js-plotly-plot").nth(2).wait_for(timeout=FIRST_LOAD_MS)
            page.wait_for_function("() => document.body.innerText.includes('computed in')", timeout=FIRST_LOAD_MS)
            text = panel.inner_text()
            assert "Where a verdict" in text and "Predicted 95% interval half-width" in text
            assert "per extra call" in text and "Noise decomposition per model" in text
            page.screenshot(path=str(artifacts_dir / "dashboard-noise.png"))
            _no_error_text(page)
        finally:
            page.close()
