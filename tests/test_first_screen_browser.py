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


FIGURES_PAST_THE_EDGE = ("() => [...document.querySelectorAll('.js-plotly-plot')].filter(p => p.offsetParent)"
                         ".filter(p => p.getBoundingClientRect().right > window.innerWidth + 1)"
                         ".map(p => (p.querySelector('.gtitle') || {textContent: '?'}).textContent)")
"""Titles of the visible figures that reach past the screen's right edge."""
OVERPRINTED_TICKS = (
    "() => { const out = []; const title = p => (p.querySelector('.gtitle') || {textContent: '?'}).textContent;"
    " for (const p of [...document.querySelectorAll('.js-plotly-plot')].filter(p => p.offsetParent)) {"
    "  const box = p.getBoundingClientRect();"
    "  for (const axis of ['xtick', 'ytick']) {"
    "   const ticks = [...p.querySelectorAll('.' + axis + ' text')].filter(t => t.textContent.trim()).map(t => {"
    "    const r = t.getBoundingClientRect(), m = /rotate\\((-?[\\d.]+)/.exec(t.getAttribute('transform') || '');"
    "    const a = (m ? parseFloat(m[1]) : 0) * Math.PI / 180;"
    # Upright labels (one line or several) are their box; a tilted one is one line of text.
    "    return {r, cx: (r.left + r.right) / 2, cy: (r.top + r.bottom) / 2, a,"
    "            len: a ? t.getComputedTextLength() : r.width,"
    "            h: a ? parseFloat(getComputedStyle(t).fontSize) : r.height}; }).filter(t => t.r.width > 0);"
    "   if (ticks.some(t => t.r.left < box.left - 2 || t.r.right > box.right + 2 || t.r.top < box.top - 2"
    "                   || t.r.bottom > box.bottom + 2)) out.push(title(p) + ' ' + axis + ' cut');"
    # Two labels of one axis (parallel, at the same angle) overprint when they are closer than a
    # line across their direction and closer than half their lengths along it.
    "   for (let i = 0; i < ticks.length; i++) for (let j = i + 1; j < ticks.length; j++) {"
    "    const s = ticks[i], t = ticks[j], dx = t.cx - s.cx, dy = t.cy - s.cy;"
    "    const along = Math.abs(dx * Math.cos(s.a) + dy * Math.sin(s.a));"
    "    const across = Math.abs(-dx * Math.sin(s.a) + dy * Math.cos(s.a));"
    "    if (across < 0.8 * (s.h + t.h) / 2 && along < (s.len + t.len) / 2 - 2) out.push(title(p) + ' ' + axis + ' overprinted'); }"
    "  } } return [...new Set(out)]; }")
"""Figures (title, axis, what) whose tick labels overprint each other or are cut by the figure's edge."""


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
            if viewport is PHONE:
                # Every figure fits the screen (Studies' ran off its right edge) and no two axis
                # labels overprint (Data & methods' requirement names ran into each other).
                assert page.evaluate(FIGURES_PAST_THE_EDGE) == [], title
                assert page.evaluate(OVERPRINTED_TICKS) == [], title
    finally:
        page.close()
