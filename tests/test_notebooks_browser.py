"""Notebooks 1 and 2 served by Voila with the offline ``eudaimonia`` template (as ``make dashboard``
serves the dashboard), opened in Debian's Chromium at 1440x900 and on a 390x844 phone.

Every request the page makes is routed: anything not addressed to 127.0.0.1 is recorded and
refused, so a font, CDN script or MathJax fetch fails the test instead of going unnoticed.
Screenshots go to the test artefacts directory."""

from __future__ import annotations

import re
from contextlib import ExitStack
from urllib.parse import urlparse

import pytest
from fault_server import FaultServer, Script

from eudaimonia_nb.benchmark import explore
from eudaimonia_nb.benchmark.design_code import requirement
from eudaimonia_nb.paths import DATA_DIR_ENV, DATASET_ENV
from eudaimonia_nb.plots import MODEL_PALETTE
from eudaimonia_nb.plots.explore import display_model_name
from test_dashboard_helpers import REPO, chromium, voila_server

pytestmark = pytest.mark.slow

VIEWPORTS = ((1440, 900), (390, 844))
LOAD_MS = 180_000
"""Generous: the machine is shared; speed is measured in benchmarks/, not here."""
LOOPBACK = {"127.0.0.1", "localhost"}
COMPARE_PROMPT = "p9e023b2860d"
"""A real prompt ("i missed you") labelled with seven requirements: many rows to align."""

OUTSIDE_TEXT = """(selector) => {
  const out = [];
  document.querySelectorAll('.js-plotly-plot').forEach((plot, i) => {
    const svg = plot.querySelector('svg.main-svg');
    const box = svg.getBoundingClientRect();
    plot.querySelectorAll(selector).forEach(t => {
      const r = t.getBoundingClientRect();
      if (r.width > 0 && (r.left < box.left - 1 || r.right > box.right + 1 || r.top < box.top - 1
                          || r.bottom > box.bottom + 1)) out.push(`figure ${i}: ${t.textContent}`);
    });
  });
  return out;
}"""
"""Text of a figure drawn (partly) outside its own SVG, where the page cuts it off."""
TICK_LABELS = ".xtick text, .ytick text, .xtick2 text, .ytick2 text, .cbaxis text, .bartext"
CUT_WIDGET_TEXT = """() => [...document.querySelectorAll(
    '.widget-label, .lm-TabBar-tabLabel, .widget-button, .jupyter-widgets input, .jupyter-widgets select, table.compare')]
  .filter(e => e.offsetParent !== null)
  .filter(e => (e.matches('.widget-label, .lm-TabBar-tabLabel, .widget-button') && e.scrollWidth > e.clientWidth + 1)
               || e.getBoundingClientRect().right > window.innerWidth + 1)
  .map(e => (e.textContent || e.tagName).trim().slice(0, 40))"""
"""Widget descriptions, tab titles and buttons whose text is cut off, and controls pushed past the page's right edge."""


class Watched:
    """A page with its console errors, uncaught exceptions and refused off-machine requests."""

    def __init__(self, browser, url: str, viewport: tuple[int, int]) -> None:
        self.page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
        self.console_errors: list[str] = []
        self.page_errors: list[str] = []
        self.off_machine: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.console_errors.append(m.text))
        self.page.on("pageerror", lambda e: self.page_errors.append(str(e)))
        self.page.route("**/*", self._route)
        self.page.goto(url, timeout=LOAD_MS)
        self.page.wait_for_selector("#rendered_cells", state="visible", timeout=LOAD_MS)

    def _route(self, route) -> None:
        if urlparse(route.request.url).hostname in LOOPBACK:
            route.continue_()
        else:
            self.off_machine.append(route.request.url)
            route.abort()

    def assert_clean(self) -> None:
        assert self.page_errors == [], self.page_errors
        assert self.console_errors == [], self.console_errors
        assert self.off_machine == [], f"requests left the machine: {self.off_machine}"
        # Developer output (log lines, warnings, tracebacks) has no place on a Voila page.
        streams = self.page.locator("[data-mime-type='application/vnd.jupyter.stderr']")
        assert streams.count() == 0, streams.all_inner_texts()
        assert "Traceback" not in self.page.inner_text("body")


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


@pytest.fixture()
def offline_env(monkeypatch, dataset_path, tmp_path):
    """The kernel finds the benchmark and an empty data directory; Voila finds the offline template."""
    monkeypatch.setenv(DATASET_ENV, str(dataset_path))
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path))
    monkeypatch.setenv("JUPYTER_PATH", str(REPO / "share" / "jupyter"))
    monkeypatch.delenv("EUDAIMONIA_LOCAL_BASE_URL", raising=False)


def _rgb(hex_colour: str) -> str:
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


def test_notebook_1_charts_render_whole_without_errors_or_requests(browser, benchmark, offline_env, artifacts_dir):
    rewrites = explore.rewrites_by_model(benchmark)
    responders = sorted(rewrites["responder_model"].unique())
    rewriters = list(dict.fromkeys(rewrites["rewriter_model"]))
    readable = [display_model_name(m) for m in responders]
    assert readable != responders, "the benchmark's compact names differ from the readable ones"
    with voila_server("demo", notebook="notebooks/01_explore_prompts.ipynb", extra_args=("--template=eudaimonia",)) as url:
        for viewport in VIEWPORTS:
            watched = Watched(browser, url, viewport)
            page = watched.page
            try:
                page.wait_for_function(
                    "() => document.querySelectorAll('.js-plotly-plot').length === 5 && [...document"
                    ".querySelectorAll('.js-plotly-plot')].every(p => p.querySelector('.trace, .hm, .boxlayer path'))",
                    timeout=LOAD_MS)
                page.locator(".widget-html:has-text('matching')").first.wait_for(timeout=LOAD_MS)  # the prompt browser
                page.wait_for_timeout(1500)  # Plotly's PNG snapshot is taken after drawing: let it run
                plots = page.locator(".js-plotly-plot")
                for i in range(plots.count()):
                    plots.nth(i).screenshot(path=str(artifacts_dir / f"notebook1-{viewport[0]}-figure{i + 1}.png"))
                watched.assert_clean()

                # The first chart keeps its own height (Plotly's renderer falls back to 360 px).
                assert plots.first.bounding_box()["height"] >= 450
                assert page.evaluate(OUTSIDE_TEXT, TICK_LABELS) == []

                rewriter_chart = plots.filter(has=page.locator(".gtitle", has_text="Rewritten prompts"))
                legend = rewriter_chart.locator(".legendtext").all_text_contents()
                assert legend == readable
                ticks = rewriter_chart.locator(".xtick text").all_text_contents()
                assert ticks == [display_model_name(m) for m in rewriters]
                fills = rewriter_chart.evaluate(
                    "p => [...p.querySelectorAll('.trace.bars')].map(t => t.querySelector('.point path').style.fill)")
                assert fills == [_rgb(c) for c in MODEL_PALETTE[:len(responders)]]
            finally:
                page.close()


def _picker(page, title: str):
    return page.locator(f".widget-vbox:has(> .widget-html b:text-is('{title}'))")


def _point(page, title: str, base_url: str, model: str) -> None:
    """Choose the custom endpoint in one picker and type its URL and model, as a user would."""
    picker = _picker(page, title)
    picker.locator("select").first.select_option(label="Custom (vLLM, Ollama, any OpenAI-compatible URL)")
    for field, value in (("base URL", base_url), ("model", model)):
        box = picker.locator(f".widget-text:has(label:text-is('{field}')) input")
        box.fill(value)
        box.press("Enter")


def test_notebook_2_compare_view_aligns_and_marks_disagreements(browser, benchmark, offline_env, artifacts_dir):
    labels = [requirement(k).label for k in
              benchmark.prompts.set_index("prompt_id").loc[COMPARE_PROMPT, "requirements"]]
    with ExitStack() as stack:
        # Model A and the judge on one scripted server; model B on another whose answer quotes
        # the prompt, so the judge sees two different responses and its verdicts differ.
        first = stack.enter_context(FaultServer())
        second = stack.enter_context(FaultServer(Script(quote_prompt=True)))
        url = stack.enter_context(voila_server(
            "demo", notebook="notebooks/02_live_judging.ipynb", extra_args=("--template=eudaimonia",)))
        for viewport in VIEWPORTS:
            watched = Watched(browser, url, viewport)
            page = watched.page
            try:
                page.wait_for_selector(".widget-tab", timeout=LOAD_MS)
                _point(page, "Model under test", first.base_url, "model-a")
                _point(page, "Judge", first.base_url, "judge-j")
                search = page.locator(".widget-text:has(label:text-is('search')) input")
                search.fill(COMPARE_PROMPT)
                search.press("Enter")
                page.locator(".lm-TabBar-tab", has_text="Compare two models").click()
                _point(page, "Second model (compare)", second.base_url, "model-b")
                page.locator(".widget-button", has_text=re.compile("^Compare$")).click()
                table = page.locator("table.compare")
                table.wait_for(timeout=60_000)
                page.wait_for_timeout(500)
                page.locator(".widget-tab").first.screenshot(path=str(artifacts_dir / f"notebook2-{viewport[0]}-compare.png"))

                assert table.locator("th").all_inner_texts() == ["Requirement", "model-a", "model-b"]
                rows = table.locator("tr:has(td)")
                assert rows.count() == len(labels)
                differ = 0
                for i, label in enumerate(labels):
                    row = rows.nth(i)
                    cells = row.locator("td").all_inner_texts()
                    assert cells[0].removesuffix(" ≠") == label  # aligned: one row per requirement, in order
                    disagree = cells[1] != cells[2]
                    assert ("differ" in row.get_attribute("class")) == disagree == ("≠" in cells[0])
                    differ += disagree
                    if disagree:
                        assert row.evaluate("r => getComputedStyle(r).backgroundColor") != "rgba(0, 0, 0, 0)"
                assert 0 < differ < len(labels), "this prompt's scripted verdicts agree on some rows and differ on others"
                # The status line counts each model's verdicts: "1 violation", "2 violations".
                status = page.locator(".widget-html:has-text('model-a:')").first.inner_text()
                columns = [[rows.nth(i).locator("td").nth(c).inner_text() for i in range(len(labels))] for c in (1, 2)]
                for name, column in zip(("model-a", "model-b"), columns):
                    said = re.search(rf"{name}: ([^|]*)", status).group(1)
                    for n, noun in re.findall(r"(\d+) (no violations?|violations?)", said):
                        assert int(n) == column.count(noun.removesuffix("s")), (name, said)
                        assert noun.endswith("s") == (int(n) != 1), said

                assert page.evaluate(CUT_WIDGET_TEXT) == []
                watched.assert_clean()
            finally:
                page.close()


def test_dashboard_opens_offline(browser, offline_env, artifacts_dir):
    """The dashboard as ``make dashboard`` serves it: every figure of its first tab drawn, and not
    one request (icon font, stylesheet, script) addressed beyond this machine."""
    with voila_server("demo", extra_args=("--template=eudaimonia",)) as url:
        for viewport in VIEWPORTS:
            watched = Watched(browser, url, viewport)
            try:
                watched.page.wait_for_selector(".js-plotly-plot .trace", timeout=LOAD_MS)
                watched.page.wait_for_timeout(1500)
                watched.page.screenshot(path=str(artifacts_dir / f"dashboard-offline-{viewport[0]}.png"))
                watched.assert_clean()
            finally:
                watched.page.close()
