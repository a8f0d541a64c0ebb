"""The Studies tab in the Voila dashboard, driven by Playwright in Debian's Chromium."""

from __future__ import annotations

import re

import pytest

from eudaimonia_nb.widgets.studies import TAB_TITLE
from test_dashboard_helpers import chromium, voila_server

pytestmark = pytest.mark.slow

LOAD_MS = 180_000
"""Generous: CI shares 2 cores with other tests."""


def test_studies_tab_shows_the_simulated_study_and_plans_a_study(artifacts_dir):
    with voila_server("demo") as url, chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 3600})
        page.goto(url, timeout=LOAD_MS)
        page.wait_for_selector(".js-plotly-plot", timeout=LOAD_MS)
        page.locator(".lm-TabBar-tab", has_text=re.compile(f"^{TAB_TITLE}$")).click()
        panel = page.locator(".widget-tab-contents > .widget-box:not(.lm-mod-hidden)").first
        panel.get_by_text("SIMULATED study").wait_for(timeout=LOAD_MS)
        # Condition rates, effects and the three attribute figures with published rates
        # (generation, thinking, scale); the thinking budgets, whose rates the paper does not
        # publish, are a sentence rather than an empty figure (as in test_widgets_studies).
        panel.locator(".js-plotly-plot").nth(4).wait_for(timeout=LOAD_MS)
        for text in ("Condition: design-code", "Family trends over generations", "Thinking versus non-thinking",
                     "Scale: rate against parameter count", "publishes no rates for these budgets"):
            panel.get_by_text(text).first.wait_for(timeout=LOAD_MS)  # tables, then figures as they draw
        assert panel.locator(".js-plotly-plot").count() == 5
        panel.locator("button", has_text=re.compile("^Plan$")).click()
        panel.get_by_text("Minimum detectable effect").wait_for(timeout=LOAD_MS)
        panel.locator(".js-plotly-plot").nth(5).wait_for(timeout=LOAD_MS)  # the power curve joins them
        assert panel.locator(".js-plotly-plot").count() == 6
        assert panel.locator(".eud-error").count() == 0 and "Traceback" not in page.inner_text("body")
        page.wait_for_timeout(1500)
        page.screenshot(path=str(artifacts_dir / "dashboard-studies.png"), full_page=True)
