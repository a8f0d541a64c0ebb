"""The labelling notebook served by Voila on loopback, driven by Playwright in Debian's Chromium:
five labels through buttons and keys, blind until saved, then a new kernel resumes where they stopped."""

from __future__ import annotations

import re

import numpy as np
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from test_dashboard_helpers import chromium, voila_server
from validity_helpers import JUDGED_RUN, label_sample, make_validity_store

from eudaimonia_nb.store import labels as L

pytestmark = pytest.mark.slow

LOAD_MS = 120_000
NOTEBOOK = "notebooks/04_validate_judge.ipynb"


def _open_and_start(browser, url: str, size: int):
    page = browser.new_page(viewport={"width": 1300, "height": 1800})
    page.goto(url, timeout=LOAD_MS)
    start = page.get_by_role("button", name="Start / resume")
    start.wait_for(timeout=LOAD_MS)
    page.locator(".widget-select-multiple:has(label:text-is('Runs')) select").select_option(
        label=f"model-a · judge judge-1 · {JUDGED_RUN}")
    page.locator(".widget-text:has(label:text-is('Labeller')) input").fill("ann")
    size_box = page.locator(".widget-text:has(label:text-is('Sample size')) input")
    size_box.fill(str(size))
    size_box.press("Enter")
    page.wait_for_timeout(500)  # let the size reach the kernel before starting
    start.click()
    page.locator(".eud-position").wait_for(timeout=LOAD_MS)
    return page


def _wait_item(page, n: int, total: int) -> None:
    page.wait_for_function(
        f"() => (document.querySelector('.eud-position') || {{}}).textContent === 'Item {n} of {total}'",
        timeout=30_000)


def test_label_five_items_blind_by_buttons_and_keys_then_resume_in_a_new_kernel(benchmark, tmp_path, monkeypatch,
                                                                                  artifacts_dir):
    store = tmp_path / "results.sqlite"
    make_validity_store(store, benchmark)
    monkeypatch.setenv("EUDAIMONIA_LABELS_STORE", str(store))
    monkeypatch.setenv("EUDAIMONIA_DATASET", str(benchmark.path))
    with chromium() as browser, voila_server("demo", notebook=NOTEBOOK) as url:
        page = _open_and_start(browser, url, 12)
        try:
            _wait_item(page, 1, 12)
            page.locator(".eud-blind").wait_for(timeout=30_000)
            body = page.inner_text("body")
            # Blind: the judge's verdict and reasoning are nowhere on the page before a label.
            assert "reasoning of judge-1" not in body and "the judge said" not in body
            assert page.locator(".eud-blind").is_visible()
            page.screenshot(path=str(artifacts_dir / "labelling-first-item.png"))
            assert "Rubric" in body and "Does the response violate it?" in body, body[:3000]
            page.get_by_role("button", name="Violation (v)").click()
            _wait_item(page, 2, 12)
            last = page.locator(".eud-last")
            assert "you said violation" in last.inner_text() and "reasoning of judge-1" in last.inner_text()
            page.get_by_role("button", name="No violation (n)").click()
            _wait_item(page, 3, 12)
            page.get_by_role("button", name="Unsure (u)").click()
            _wait_item(page, 4, 12)
            # Keys: typing a note must not label; outside the note, v and n do.
            page.locator("textarea").fill("very unclear, needs a second look")
            page.wait_for_timeout(300)
            assert page.locator(".eud-position").inner_text() == "Item 4 of 12"
            page.locator(".eud-position").click()  # focus leaves the note
            page.keyboard.press("v")
            _wait_item(page, 5, 12)
            page.keyboard.press("n")
            _wait_item(page, 6, 12)
            assert "5 labelled" in page.locator(".eud-position").locator("xpath=..").inner_text()
            page.screenshot(path=str(artifacts_dir / "labelling-after-five.png"))
        finally:
            page.close()  # Voila shuts this page's kernel down

        saved = L.load_labels(store)
        assert list(saved["labeller"]) == ["ann"] * 5
        np.testing.assert_array_equal(saved["label"].to_numpy(), [1.0, 0.0, np.nan, 1.0, 0.0])
        assert saved["note"].iloc[3] == "very unclear, needs a second look"
        assert saved["sample_id"].nunique() == 1 and saved["inclusion_probability"].between(0, 1).all()

        # A new page is a new kernel: the same settings find the same sample and resume at item 6.
        page = _open_and_start(browser, url, 12)
        try:
            _wait_item(page, 6, 12)
            assert re.search(r"5 labelled, 0 skipped", page.inner_text("body"))
            assert "reasoning of judge-1" not in page.inner_text("body")
        finally:
            page.close()


def test_dashboard_judge_validity_tab_shows_raw_and_corrected_rates(benchmark, tmp_path, artifacts_dir):
    store = tmp_path / "results.sqlite"
    make_validity_store(store, benchmark)
    label_sample(store, "ann", lambda verdict, _: 0)
    with chromium() as browser, voila_server(f"store:{store}") as url:
        page = browser.new_page(viewport={"width": 1400, "height": 2400})
        try:
            page.goto(url, timeout=LOAD_MS)
            page.wait_for_selector(".js-plotly-plot", timeout=LOAD_MS)
            page.locator(".lm-TabBar-tab", has_text=re.compile("^Judge validity$")).click()
            panel = page.locator(".widget-tab-contents > .widget-box:not(.lm-mod-hidden)").first
            try:
                panel.locator(".eud-table").first.wait_for(timeout=LOAD_MS)
            except PlaywrightTimeout:
                page.screenshot(path=str(artifacts_dir / "dashboard-store-validity-FAILED.png"))
                raise AssertionError(f"the tab shows no table; it reads: {panel.inner_text()[:800]}")
            # The summary leads the tab and comes with the figure; its tables follow: wait for them.
            panel.locator(".eud-tab-status", has_text="computed in").wait_for(timeout=LOAD_MS)
            legend = panel.locator(".js-plotly-plot .legendtext").all_text_contents()
            assert legend == ["Raw (judge only)", "Corrected by human labels (PPI++)"]
            text = panel.inner_text()
            assert "40 labels" in text and "Planning:" in text and "Assumptions." in text
            assert "Summary." in text and "Details:" in text
            panel.locator(".eud-details .jupyter-widget-Collapse-header").first.click()  # the folded tables
            panel.locator("b", has_text="Flip table").wait_for(timeout=30_000)
            text = panel.inner_text()
            assert "Flip table" in text and "Disagreement list" in text
            for marker in ("Traceback", "cannot be analysed", "Could not load"):
                assert marker not in page.inner_text("body")
            page.wait_for_timeout(1000)
            panel.screenshot(path=str(artifacts_dir / "dashboard-store-validity.png"))
        finally:
            page.close()
