"""The dashboard's first screen at 1440 x 900 and 390 x 844, and a screenshot of every tab at both
sizes: Voila on loopback serving the demo as ``make dashboard`` does, in Debian's Chromium.

Screenshots (JPEG, the first screen of each tab) go to ``test-artifacts/screenshots/``; with
``EUDAIMONIA_SCREENSHOTS=docs`` they go to ``docs/screenshots/``, which docs/dashboard.md shows.
"""

from __future__ import annotations

import os
import re

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from test_dashboard_helpers import REPO, chromium, voila_server

pytestmark = pytest.mark.slow

LOAD_MS = 180_000
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
SHOT_DIR_ENV = "EUDAIMONIA_SCREENSHOTS"
BUSY = r"/Updating…|Fitting the|Computing the|being computed|Loading /"
TAB_DRAWN = ("() => { const c = document.querySelector('.widget-tab-contents');"
             " const p = c && [...c.children].find(e => !e.classList.contains('lm-mod-hidden'));"
             f" if (!p || {BUSY}.test(p.innerText) || p.querySelector('.eud-busy')) return false;"
             " const figs = [...p.querySelectorAll('.js-plotly-plot')].filter(e => e.offsetParent);"
             " if (!figs.every(f => f.querySelector('.trace, .hm, .annotation-text'))) return false;"
             " const said = [...p.querySelectorAll('.eud-status, .eud-error, .eud-note, .eud-howto, table')]"
             "   .some(e => e.offsetParent && e.innerText.trim().length > 0);"
             " return figs.length > 0 || said; }")
"""The open tab is drawn: no progress note, every visible figure has its data or its message, and
it shows a figure or a message of its own (the simulated-data banner alone is not a drawn tab)."""


def shot_dir():
    folder = REPO / "docs" / "screenshots" if os.environ.get(SHOT_DIR_ENV) == "docs" else \
        REPO / "test-artifacts" / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def served(dataset_path, tmp_path_factory):
    env = {"EUDAIMONIA_DATASET": str(dataset_path), "JUPYTER_PATH": str(REPO / "share" / "jupyter")}
    with voila_server("demo", extra_args=("--template=eudaimonia",), extra_env=env) as url, chromium() as browser:
        yield url, browser


def _open(browser, url: str, viewport: dict):
    page = browser.new_page(viewport=viewport)
    page.goto(url, timeout=LOAD_MS)
    page.wait_for_selector(".js-plotly-plot .trace", timeout=LOAD_MS)
    page.wait_for_function(TAB_DRAWN, timeout=LOAD_MS)
    page.wait_for_timeout(1500)  # figures take the page's width
    return page


def _rows_in_view(page, height: int) -> int:
    return page.evaluate(f"() => [...document.querySelector('.js-plotly-plot').querySelectorAll('.ytick text')]"
                         f".filter(t => t.getBoundingClientRect().bottom <= {height}).length")


def test_the_first_screen_shows_the_leaderboard_at_1440x900(served):
    url, browser = served
    page = _open(browser, url, DESKTOP)
    try:
        # The introduction is folded into one line; the filters into one line that says what is selected.
        intro = page.locator("details.eud-intro")
        assert intro.count() == 1 and intro.get_attribute("open") is None
        assert "More…" in intro.locator("summary").inner_text()
        filters = page.locator(".eud-filters .jupyter-widget-Collapse-header").first
        assert re.search(r"Filters: all 22 models · 9 of 9 requirements", filters.inner_text())
        assert not page.locator(".widget-select-multiple:has(label:text-is('Models'))").first.is_visible()
        plot = page.locator(".js-plotly-plot").first.bounding_box()
        assert plot["y"] < DESKTOP["height"] / 2, plot  # the chart starts in the upper half of the screen
        rows = _rows_in_view(page, DESKTOP["height"])
        assert rows >= 15, f"only {rows} of 22 leaderboard rows above the fold"
        page.screenshot(path=str(shot_dir() / "first-screen-1440.jpg"), type="jpeg", quality=60)
    finally:
        page.close()


def test_the_first_screen_of_a_phone_shows_results_not_paragraphs(served):
    url, browser = served
    page = _open(browser, url, PHONE)
    try:
        assert page.locator("details.eud-intro").get_attribute("open") is None
        plot = page.locator(".js-plotly-plot").first.bounding_box()
        assert plot["y"] < PHONE["height"] - 100, plot  # the chart's top rows are on the first screen
        assert _rows_in_view(page, PHONE["height"]) >= 3
        # Nothing pushed past the right edge (the Data dropdown was cut off).
        wide = page.evaluate(
            "() => [...document.querySelectorAll('.eud-controls .widget-dropdown, .eud-controls .widget-button, "
            ".eud-controls .widget-text, .eud-filters, .widget-tab')].filter(e => e.offsetParent)"
            ".filter(e => e.getBoundingClientRect().right > window.innerWidth + 1).map(e => e.className.slice(0, 60))")
        assert wide == []
        # The tab bar is one row that scrolls sideways (it wrapped to three rows).
        bar = page.locator(".widget-tab > .lm-TabBar").first
        assert bar.bounding_box()["height"] < 40
        assert bar.evaluate("b => b.scrollWidth > b.clientWidth")
        page.screenshot(path=str(shot_dir() / "first-screen-390.jpg"), type="jpeg", quality=60)
        # The heatmap prints no numbers that would overprint at this width (its values are in the hover).
        page.locator(".lm-TabBar-tab", has_text=re.compile("^Requirements$")).click()
        page.wait_for_function(TAB_DRAWN, timeout=LOAD_MS)
        page.wait_for_timeout(1500)
        template = page.evaluate("() => [...document.querySelectorAll('.js-plotly-plot')].filter(p => p.offsetParent)"
                                 ".flatMap(p => p.data.filter(t => t.type === 'heatmap').map(t => t.texttemplate))")
        assert template == [""], template
        cell_text = page.evaluate("() => [...document.querySelectorAll('.js-plotly-plot')].filter(p => p.offsetParent)"
                                  ".map(p => p.querySelectorAll('.heatmaplayer text').length)")
        assert cell_text and all(n == 0 for n in cell_text), cell_text
    finally:
        page.close()


def test_judge_validity_on_the_demo_says_how_to_get_labels(served):
    url, browser = served
    page = _open(browser, url, DESKTOP)
    try:
        page.locator(".lm-TabBar-tab", has_text=re.compile("^Judge validity$")).click()
        howto = page.locator(".eud-howto").first
        howto.wait_for(state="visible", timeout=LOAD_MS)
        assert "No human labels yet: here is how" in howto.inner_text()
        assert "04_validate_judge.ipynb" in howto.inner_text()
    finally:
        page.close()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1440x900", "390x844"])
def test_a_screenshot_of_every_tab(served, viewport):
    url, browser = served
    page = _open(browser, url, viewport)
    try:
        titles = [t.strip() for t in page.locator(".lm-TabBar-tab .lm-TabBar-tabLabel").all_inner_texts()]
        assert len(titles) >= 10 and titles[0] == "Leaderboard"
        folder = shot_dir()
        for title in titles:
            page.locator(".lm-TabBar-tab", has_text=re.compile(f"^{re.escape(title)}$")).click()
            try:
                # Long: the first open of the Mixed-effects tab on a fresh machine fits three models.
                page.wait_for_function(TAB_DRAWN, timeout=3 * LOAD_MS)
            except PlaywrightTimeout:
                page.screenshot(path=str(folder / f"FAILED-{viewport['width']}.jpg"), type="jpeg")
                raise AssertionError(f"tab {title!r} was not drawn") from None
            page.wait_for_timeout(1200)
            # The tab's first screen, from its tab bar down: what a reader sees on opening it.
            page.locator(".widget-tab > .lm-TabBar").first.evaluate("b => b.scrollIntoView({block: 'start'})")
            page.wait_for_timeout(300)
            name = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
            path = folder / f"tab-{name}-{viewport['width']}.jpg"
            page.screenshot(path=str(path), type="jpeg", quality=60)
            assert path.stat().st_size > 5_000, path
            assert "Traceback" not in page.inner_text("body")
    finally:
        page.close()
