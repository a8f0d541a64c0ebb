"""The Responses tab, drill-down, side by side, a report that follows the selection, and the
phone layout: Voila on loopback serving a store of real judged runs, in Debian's Chromium.

One Voila start for everything (each costs seconds on a shared machine); the page is checked at
1440 x 900 and again at 390 x 844, with screenshots in test-artifacts/.
"""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

import pytest

from judged_store import KEY_VAR, MODELS, make_judged_store
from test_dashboard_helpers import REPO, chromium, open_filters, voila_server

pytestmark = pytest.mark.slow

LOAD_MS = 120_000
PHONE = {"width": 390, "height": 844}


def _tab(page, title: str) -> None:
    page.locator(".lm-TabBar-tab", has_text=re.compile(f"^{re.escape(title)}$")).click()


def _panel(page):
    return page.locator(".widget-tab-contents > .widget-box:not(.lm-mod-hidden)").first


def _select(page, label: str):
    return page.locator(f".widget-select-multiple:has(label:text-is('{label}')) select")


def _status_says(page, pattern: str) -> None:
    page.wait_for_function(
        "(p) => [...document.querySelectorAll('.eud-status')].some(e => e.offsetParent && new RegExp(p).test(e.innerText))",
        arg=pattern, timeout=60_000)


def _watch(page, outside: list[str], errors: list[str]) -> None:
    def request(req) -> None:
        host = urlsplit(req.url).hostname
        if req.url.startswith(("http:", "https:", "ws:", "wss:")) and host != "127.0.0.1":
            outside.append(req.url)

    page.on("request", request)
    page.on("pageerror", lambda exc: errors.append(str(exc)))


def _open(browser, url: str, viewport: dict, outside: list[str], errors: list[str]):
    page = browser.new_page(viewport=viewport, accept_downloads=True)
    _watch(page, outside, errors)
    page.goto(url, timeout=LOAD_MS)
    page.wait_for_selector(".js-plotly-plot", timeout=LOAD_MS)
    return page


def _filter_errors_and_read(page) -> None:
    """Responses tab: only judge errors, then the item's response and the judge's reason."""
    _tab(page, "Responses")
    _select(page, "Verdict").select_option(label=["judge error"])
    _status_says(page, r"^1 item \(3 checks\)")
    item = _panel(page).locator(".eud-item")
    page.wait_for_function("() => document.querySelectorAll(\".eud-item .eud-verdict[data-verdict='error']\").length === 3",
                           timeout=30_000)
    assert "Scripted response to: " in item.locator(".eud-response").inner_text()
    assert "unparseable judge reply" in item.locator(".eud-reasoning").first.inner_text()
    assert item.locator(".eud-verdict[data-verdict='error']").count() == 3


def _plain(text: str) -> str:
    return text.replace("\xa0", " ").strip()


def _nearest_tick(ticks, axis: str, where: float) -> str:
    """The tick label drawn closest to a click (labels are in category order, not screen order)."""
    def centre(box: dict) -> float:
        return box[axis] + box["width" if axis == "x" else "height"] / 2

    boxes = [(abs(centre(t.bounding_box()) - where), _plain(t.text_content())) for t in ticks.all()]
    return min(boxes)[1]


@pytest.fixture(scope="module")
def judged(tmp_path_factory, dataset_path):
    return make_judged_store(tmp_path_factory.mktemp("judged-browser") / "results.sqlite", dataset_path)


def test_read_drill_compare_export_and_phone(judged, dataset_path, artifacts_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("EUDAIMONIA_DATASET", str(dataset_path))
    monkeypatch.setenv("JUPYTER_PATH", str(REPO / "share" / "jupyter"))  # the offline page template
    outside: list[str] = []
    errors: list[str] = []
    with voila_server(f"store:{judged.path}", extra_args=("--template=eudaimonia",)) as url, chromium() as browser:
        page = _open(browser, url, {"width": 1440, "height": 900}, outside, errors)

        # 1. Filter the Responses tab, open an item, read its response and reasoning; search.
        _filter_errors_and_read(page)
        _select(page, "Verdict").select_option(label=[])
        search = _panel(page).locator(".widget-text:has(label:text-is('Search')) input")
        search.fill("scripted reasoning on")
        search.press("Enter")
        _status_says(page, r"items \(\d+ checks\)")
        _panel(page).locator(".eud-item-table tbody tr").nth(2).click()
        page.wait_for_function("() => document.querySelector('.eud-item mark')")
        assert "scripted reasoning on" in _panel(page).locator(".eud-item mark").first.inner_text().lower()
        assert "Prompt text not available" not in _panel(page).locator(".eud-prompt").inner_text()
        _panel(page).screenshot(path=str(artifacts_dir / "responses-item.png"))

        # 2. Drill down from a heatmap cell: the cell's model and requirement become the filters.
        _tab(page, "Requirements")
        heatmap = _panel(page).locator(".js-plotly-plot").first
        page.wait_for_function("() => [...document.querySelectorAll('.js-plotly-plot')].some(p => p.offsetParent "
                               "&& p.querySelector('.hm'))", timeout=LOAD_MS)
        page.wait_for_timeout(1000)  # the figure takes the page's width, then stays
        rows = heatmap.locator(".yaxislayer-above .ytick text").all_text_contents()
        columns = heatmap.locator(".xaxislayer-above .xtick text").all_text_contents()
        box = heatmap.locator(".nsewdrag").first.bounding_box()
        x = box["x"] + box["width"] * 1.5 / len(columns)  # second column
        y = box["y"] + box["height"] * 0.5 / len(rows)  # top row
        row = _nearest_tick(heatmap.locator(".yaxislayer-above .ytick text"), "y", y)
        column = _nearest_tick(heatmap.locator(".xaxislayer-above .xtick text"), "x", x)
        page.mouse.click(x, y)
        page.wait_for_function(
            "() => document.querySelector('.lm-TabBar-tab.lm-mod-current').innerText.trim() === 'Responses'",
            timeout=30_000)
        chosen_model = _select(page, "Model").evaluate("s => [...s.selectedOptions].map(o => o.text)")
        chosen_req = _select(page, "Requirement").evaluate("s => [...s.selectedOptions].map(o => o.text)")
        assert [_plain(m) for m in chosen_model] == [row] and [_plain(r) for r in chosen_req] == [column]
        _status_says(page, r"^\d+ items? \(\d+ checks\)")
        assert _plain(_panel(page).locator(".eud-item").inner_text()).startswith(row)
        _panel(page).screenshot(path=str(artifacts_dir / "responses-drilldown.png"))

        # 3. Side by side: a run and its rejudge, only where the verdicts differ.
        _panel(page).locator(".widget-toggle-button", has_text="Side by side").click()
        first, second = sorted(m for m in rows if m.startswith(MODELS[0]))
        _panel(page).locator(".widget-dropdown:has(label:text-is('Model A')) select").select_option(label=first)
        _panel(page).locator(".widget-dropdown:has(label:text-is('Model B')) select").select_option(label=second)
        _panel(page).locator(".widget-checkbox:has-text('only where they differ') input").check()
        page.wait_for_selector(".eud-pair-table tr.eud-differ", timeout=30_000)
        assert _panel(page).locator(".eud-pair-table tr.eud-agree").count() == 0
        assert _panel(page).locator(".eud-pair .eud-response").count() == 2
        _panel(page).screenshot(path=str(artifacts_dir / "responses-side-by-side.png"))

        # 4. Export, then change a filter: the old report is withdrawn; the new one matches.
        _tab(page, "Leaderboard")
        page.get_by_role("button", name="Export report").click()
        download = page.locator(".eud-download", has_text="Download report")
        download.wait_for(state="visible", timeout=LOAD_MS)
        open_filters(page)
        _select(page, "Models").select_option(label=[MODELS[1]])
        download.wait_for(state="hidden", timeout=30_000)
        # The chart follows the filter too: only the selected model's own point is left.
        page.wait_for_function(
            f"() => JSON.stringify(document.querySelector('.js-plotly-plot').data[0].y) === '{json.dumps([MODELS[1]])}'"
            " && document.querySelector('.js-plotly-plot').querySelectorAll('.scatterlayer .trace:first-child .point')"
            ".length === 1",
            timeout=30_000)
        page.get_by_role("button", name="Export report").click()
        download.wait_for(state="visible", timeout=LOAD_MS)
        with page.expect_download() as info:
            download.click()
        report = (tmp_path / "report.html")
        info.value.save_as(report)
        text = report.read_text(encoding="utf-8")
        assert "<b>What was run:</b> 1 model(s)" in text
        assert judged.run_ids[1] in text  # beta-chat's run, and only it
        assert judged.run_ids[0] not in text and judged.run_ids[2] not in text
        for secret in (str(judged.path), judged.base_url.split("//", 1)[1], KEY_VAR):
            assert secret not in text, secret
        page.screenshot(path=str(artifacts_dir / "dashboard-export-1440.png"))
        page.close()

        # 5. The same checks on a phone.
        phone = _open(browser, url, PHONE, outside, errors)
        for name in ("Load / refresh", "Export report"):
            button = phone.get_by_role("button", name=name).bounding_box()
            assert button["x"] >= 0 and button["x"] + button["width"] <= PHONE["width"], name
        folded = phone.locator(".eud-filters .jupyter-widget-Collapse-header").first.bounding_box()
        assert folded["x"] + folded["width"] <= PHONE["width"]
        open_filters(phone)
        models = phone.locator(".eud-controls .widget-select-multiple select").first.bounding_box()
        assert models["x"] + models["width"] <= PHONE["width"]
        figure = _panel(phone).locator(".js-plotly-plot").first
        phone.wait_for_function(f"() => document.querySelector('.js-plotly-plot').getBoundingClientRect().width <= {PHONE['width']}",
                                timeout=30_000)
        assert figure.bounding_box()["width"] <= PHONE["width"]
        # The tab bar is one row that scrolls sideways; every tab comes into view when scrolled to.
        bar = phone.locator(".widget-tab > .lm-TabBar").first
        assert bar.bounding_box()["height"] < 40
        for title in ("Leaderboard", "Responses"):
            tab = phone.locator(".lm-TabBar-tab", has_text=re.compile(f"^{title}$"))
            tab.scroll_into_view_if_needed()
            box = tab.bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], title
        phone.screenshot(path=str(artifacts_dir / "dashboard-phone-390.png"), full_page=True)
        _filter_errors_and_read(phone)
        assert _panel(phone).locator(".eud-item").bounding_box()["width"] <= PHONE["width"]
        _panel(phone).screenshot(path=str(artifacts_dir / "responses-phone-390.png"))
        phone.close()
    assert not outside, f"requests left the machine: {outside[:5]}"
    assert not errors, errors
