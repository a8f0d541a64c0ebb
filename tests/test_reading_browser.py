"""Read by a person, in Debian's Chromium through Voila on loopback, on a store made the default
way (an authors'-protocol run, its rejudge by a second judge, a second model): the rubric the
judge really saw (Responses and notebook 4), runs named by their judge with the rejudge beside its
source, judge comparison columns in points, a link that reopens a Responses view, "disagree with
the judge", notebook 4's results refreshing after each label, and notebook 2's Stop button."""

from __future__ import annotations

import json
import re

import pytest
from fault_server import FaultServer, Script
from reader_store import JUDGE, MODEL, OTHER_MODEL, REJUDGE, make_reader_store
from rubric_server import shared_rubric

from test_dashboard_helpers import REPO, chromium, voila_server

pytestmark = pytest.mark.slow

LOAD_MS = 180_000
VIEW = {"width": 1440, "height": 1400}
SOURCE_LABEL = f"{MODEL} · judge {JUDGE} · authors protocol"
REJUDGE_LABEL = f"{MODEL} · judge {REJUDGE} · authors protocol"


def _tab(page, title: str) -> None:
    page.locator(".lm-TabBar-tab", has_text=re.compile(f"^{re.escape(title)}$")).click()


def _panel(page):
    return page.locator(".widget-tab-contents > .widget-box:not(.lm-mod-hidden)").first


def _authors_text(key: str) -> str:
    """The start of the authors' rubric as the page shows it (whitespace collapsed)."""
    prompt = json.loads(shared_rubric(key).read_text(encoding="utf-8"))["prompt"]
    return " ".join(prompt.split())[:80]


def _flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def reader(tmp_path_factory, dataset_path):
    return make_reader_store(tmp_path_factory.mktemp("reader-browser") / "results.sqlite", dataset_path)


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


@pytest.fixture()
def env(dataset_path):
    return {"EUDAIMONIA_DATASET": str(dataset_path), "JUPYTER_PATH": str(REPO / "share" / "jupyter")}


def test_the_dashboard_names_runs_by_judge_shows_the_authors_rubric_and_keeps_its_view_in_the_link(
        reader, browser, env, artifacts_dir):
    from eudaimonia_nb.store import labels as L
    from eudaimonia_nb.store.disagreements import DISAGREEMENT_QUEUE

    with voila_server(f"store:{reader.path}", extra_args=("--template=eudaimonia",), extra_env=env) as url:
        page = browser.new_page(viewport=VIEW)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            page.goto(url, timeout=LOAD_MS)
            page.wait_for_selector(".js-plotly-plot .trace", timeout=LOAD_MS)
            # 2. Runs named model · judge · protocol; the rejudge under its source with a square marker.
            ticks = [_flat(t) for t in page.locator(".js-plotly-plot").first.locator(".ytick text").all_text_contents()]
            assert SOURCE_LABEL in ticks and REJUDGE_LABEL in ticks and OTHER_MODEL in ticks
            assert not any(reader.run_id in t or reader.rejudge_id in t for t in ticks)
            rows = page.evaluate("() => document.querySelector('.js-plotly-plot').layout.yaxis.categoryarray")
            assert rows.index(REJUDGE_LABEL) == rows.index(SOURCE_LABEL) - 1
            symbols = page.evaluate("() => document.querySelector('.js-plotly-plot').data"
                                    ".filter(t => t.name.startsWith('Rejudge')).map(t => [t.y, t.marker.symbol])")
            assert symbols == [[[REJUDGE_LABEL], "square-open"]]
            page.screenshot(path=str(artifacts_dir / "reading-leaderboard.png"))

            # 3. Judge comparison: judge B − judge A in points, rates in %.
            _tab(page, "Judge comparison")
            table = _panel(page).locator("table.eud-table").first
            table.wait_for(timeout=LOAD_MS)
            headers = table.locator("th").all_inner_texts()
            assert "Judge B − judge A (points)" in headers and "Judge B − judge A 95% CI" in headers
            assert not any("Modified" in h or "real" in h for h in headers), headers
            assert "Rate, judge A" in headers and re.fullmatch(r"\d+\.\d%", table.locator("tbody tr td").nth(
                headers.index("Rate, judge A")).inner_text().strip())
            assert f"Judge A: {SOURCE_LABEL}" in _panel(page).inner_text()

            # 1. Responses: the rubric shown is the authors' (the runs' protocol), not the suite's.
            _tab(page, "Responses")
            verdicts = _panel(page).locator(".widget-select-multiple:has(label:text-is('Verdict')) select")
            verdicts.wait_for(timeout=LOAD_MS)
            verdicts.select_option(label=["violation"])
            page.wait_for_function("() => document.querySelectorAll('.eud-item-table tbody tr').length > 2",
                                   timeout=60_000)
            _panel(page).locator(".eud-item-table tbody tr").nth(2).click()
            item = _panel(page).locator(".eud-item")
            item.wait_for(timeout=30_000)
            rubric = item.locator("details.eud-rubric").first
            key = rubric.evaluate("d => d.closest('tr').dataset.requirement")
            # Folded: read its text as the page holds it (opening it is the reader's choice).
            assert "the authors' rubric (authors protocol)" in rubric.locator("summary").inner_text()
            assert _authors_text(key) in _flat(rubric.locator(".eud-rubric-text").text_content())
            from eudaimonia_nb.benchmark.design_code import requirement
            assert _flat(requirement(key).rubric)[:80] not in _flat(item.inner_text())
            shown_prompt = item.locator("code").first.inner_text()

            # 10. The view is in the link: a new page (a new kernel) opens the same item.
            page.wait_for_function("() => location.hash.includes('verdict=violation') && location.hash.includes('item=')",
                                   timeout=30_000)
            link = page.url
            assert "tab=responses" in link
            page.screenshot(path=str(artifacts_dir / "reading-responses-item.png"))

            # "Disagree with the judge": saved into the queue that no estimate uses.
            box = _panel(page).locator(".eud-disagree")
            box.locator(".widget-text:has(label:text-is('Your name')) input").fill("ann")
            box.locator(".widget-text:has(label:text-is('Your name')) input").press("Enter")
            page.wait_for_timeout(400)
            box.locator("button", has_text="Save my label").click()
            box.locator(".eud-saved").wait_for(timeout=30_000)
            saved = L.load_labels(reader.path)
            assert list(saved["sample_id"]) == [DISAGREEMENT_QUEUE] and list(saved["labeller"]) == ["ann"]

            again = browser.new_page(viewport=VIEW)
            try:
                again.goto(link, timeout=LOAD_MS)
                again.wait_for_function("() => (document.querySelector('.lm-TabBar-tab.lm-mod-current') || {innerText: ''})"
                                        ".innerText.trim() === 'Responses'", timeout=LOAD_MS)
                again.locator(".eud-item").wait_for(timeout=LOAD_MS)
                assert again.locator(".eud-item code").first.inner_text() == shown_prompt
                chosen = _panel(again).locator(".widget-select-multiple:has(label:text-is('Verdict')) select").evaluate(
                    "s => [...s.selectedOptions].map(o => o.text)")
                assert chosen == ["violation"]
            finally:
                again.close()

            # 6. Judge validity: a readable summary first. The disagreement is not a label of the
            # designed sample: no run has labels for an estimate, and the tab says the queue was left out.
            _tab(page, "Judge validity")
            page.wait_for_function("() => { const p = [...document.querySelector('.widget-tab-contents').children]"
                                   ".find(e => !e.classList.contains('lm-mod-hidden'));"
                                   " return p && p.querySelector('.eud-lead') && !p.querySelector('.eud-busy'); }",
                                   timeout=LOAD_MS)
            text = _panel(page).inner_text()
            assert "Summary." in text and SOURCE_LABEL in text and "No human labels yet" in text
            assert "1 labels from disagreement queues" in text and "Details:" in text
            assert not errors, errors
        finally:
            page.close()


def test_notebook_4_shows_the_authors_rubric_and_its_results_follow_each_label(reader, browser, env, monkeypatch,
                                                                              artifacts_dir):
    monkeypatch.setenv("EUDAIMONIA_LABELS_STORE", str(reader.path))
    with voila_server("demo", notebook="notebooks/04_validate_judge.ipynb", extra_env=env) as url:
        page = browser.new_page(viewport=VIEW)
        try:
            page.goto(url, timeout=LOAD_MS)
            start = page.get_by_role("button", name="Start / resume")
            start.wait_for(timeout=LOAD_MS)
            page.locator(".widget-select-multiple:has(label:text-is('Runs')) select").select_option(
                label=f"{MODEL} · judge {JUDGE} · {reader.run_id}")
            page.locator(".widget-text:has(label:text-is('Labeller')) input").fill("bo")
            size = page.locator(".widget-text:has(label:text-is('Sample size')) input")
            size.fill("10")
            size.press("Enter")
            page.wait_for_timeout(500)
            results = page.locator(".eud-results-status")
            results.wait_for(timeout=LOAD_MS)
            assert "0 labels behind these results" in results.inner_text()
            start.click()
            page.locator(".eud-position").wait_for(timeout=LOAD_MS)
            for n in range(1, 4):
                rubric = page.locator("details.eud-rubric").first
                assert rubric.get_attribute("data-protocol") == "authors"
                # The item names its requirement ("Requirement: 2C Deference 2C_deference. Does ...").
                said = page.locator(".widget-html:has(.eud-rubric)").first.inner_text()
                key = re.search(r"Requirement: [^\n]*?(\d[A-C]_[a-z_]+)\.", said).group(1)
                assert "the authors' rubric (authors protocol)" in rubric.inner_text()
                assert _authors_text(key) in _flat(rubric.inner_text()), key
                page.get_by_role("button", name="Violation (v)").click()
                page.wait_for_function(f"() => (document.querySelector('.eud-position') || {{}}).textContent"
                                       f" === 'Item {n + 1} of 10'", timeout=30_000)
            # 5. The results follow: recomputed after the labels, formatted like the dashboard.
            page.wait_for_function("() => /3 labels behind these results/.test("
                                   "(document.querySelector('.eud-results-status') || {}).innerText)", timeout=60_000)
            summary = page.locator(".eud-validity-results").inner_text()
            assert "Corrected rate (95% CI)" in summary and "too few labels (3)" in summary
            for raw in ("corrected_rate", "NaN", "n_labels"):
                assert raw not in summary, raw
            page.screenshot(path=str(artifacts_dir / "reading-notebook4.png"), full_page=True)
        finally:
            page.close()


def test_notebook_2_stop_ends_a_run_that_resumes_later(browser, env, benchmark, tmp_path, artifacts_dir):
    from eudaimonia_nb.store.results import PENDING, load_judgments

    store = tmp_path / "stop.sqlite"
    with FaultServer(Script(latency_s=0.3)) as server, \
            voila_server("demo", notebook="notebooks/02_live_judging.ipynb", extra_env=env) as url:
        page = browser.new_page(viewport=VIEW)
        try:
            page.goto(url, timeout=LOAD_MS)
            page.wait_for_selector(".widget-tab", timeout=LOAD_MS)
            for title, model in (("Model under test", "model-a"), ("Judge", "judge-j")):
                picker = page.locator(f".widget-vbox:has(> .widget-html b:text-is('{title}'))").first
                url_box = picker.locator(".widget-text:has(label:text-is('base URL')) input")
                url_box.fill(server.base_url)
                url_box.press("Enter")
                page.wait_for_timeout(300)
                # An edited loopback URL takes the custom preset and says no key is needed.
                assert "no key needed" in picker.locator(".eud-endpoint-note").inner_text()
                box = picker.locator(".widget-text:has(label:text-is('model')) input")
                box.fill(model)
                box.press("Enter")
            page.locator(".lm-TabBar-tab", has_text="Run a subset").click()
            for field, value in (("limit (0 = all)", "20"), ("concurrency", "2"), ("store", str(store))):
                box = page.locator(f".widget-inline-hbox:has(label:text-is('{field}')) input").first
                box.fill(value)
                box.press("Enter")
            page.wait_for_timeout(500)
            stop = page.get_by_role("button", name="Stop").last
            assert stop.is_disabled()
            page.get_by_role("button", name="Launch run").click()
            page.wait_for_function("() => [...document.querySelectorAll('table.run-results tr')].filter(r =>"
                                   " r.dataset.verdict && r.dataset.verdict !== 'pending').length >= 3", timeout=LOAD_MS)
            assert stop.is_enabled()
            stop.click()
            status = page.locator(".widget-html:has-text('Stopped: run')").first
            status.wait_for(timeout=60_000)
            assert "kept in the store" in status.inner_text() and "resume" in status.inner_text()
            page.screenshot(path=str(artifacts_dir / "reading-notebook2-stopped.png"))
            frame = load_judgments(store)
            done = int((frame["error"] != PENDING).sum())
            assert 3 <= done < len(frame)
            # Launch again: the run resumes and completes, asking only for what was missing.
            judged_before = server.requests["judge"]
            page.get_by_role("button", name="Launch run").click()
            page.wait_for_function("() => [...document.querySelectorAll('.widget-html')].some(e =>"
                                   " /verdicts of \\d+ checks/.test(e.innerText))", timeout=LOAD_MS)
            assert (load_judgments(store)["error"] != PENDING).all()
            assert server.requests["judge"] - judged_before <= len(frame) - done
        finally:
            page.close()
