"""The static HTML report: `eudaimonia-nb report` from each source, opened in Chromium."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from eudaimonia_nb.report import (FIGURE_NAMES, SIMULATED_NOTICE, SMOKE_TEST_NOTICE, DataSource,
                                  build_section, load_source, notices)
from test_dashboard_helpers import REPO, STORE_MODELS, chromium, make_store

N_FIGURES = sum(len(names) for names in FIGURE_NAMES.values())


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "eudaimonia_nb.cli", "report", *args],
                          cwd=REPO, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def store(benchmark, tmp_path_factory):
    path = tmp_path_factory.mktemp("report") / "results.sqlite"
    make_store(path, benchmark, seed=1)
    return path


@pytest.mark.slow
def test_report_from_a_store_opens_in_the_browser_with_its_figures(store, tmp_path, artifacts_dir):
    out = tmp_path / "report.html"
    done = _cli("--source", "store", "--store", str(store), "--run", f"run-{STORE_MODELS[0]}",
                "--run", f"run-{STORE_MODELS[1]}", "--out", str(out), "--n-boot", "200")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(out)
    text = out.read_text(encoding="utf-8")
    assert SIMULATED_NOTICE not in text
    # The protocol comes from the run records; endpoints appear as host names only.
    assert "Protocol, from the run records" in text and "authors&#x27; settings" in text and "temperature=0.7" in text
    assert "http://127.0.0.1:1/v1" not in text
    # plotly.js is embedded, not fetched: the report opens offline.
    assert not re.search(r"<script[^>]*\bsrc=", text)
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1300, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(out.as_uri())
        page.wait_for_function(
            f"() => document.querySelectorAll('.js-plotly-plot .main-svg').length >= {N_FIGURES}",
            timeout=60_000)
        assert page.locator(".js-plotly-plot").count() == N_FIGURES
        ticks = page.locator("#leaderboard .js-plotly-plot .yaxislayer-above .ytick text").all_text_contents()
        assert set(STORE_MODELS) <= set(ticks) and len(ticks) == len(STORE_MODELS) + 22
        assert not errors
        page.screenshot(path=str(artifacts_dir / "report-store.png"), full_page=True)


def test_demo_report_carries_the_simulated_banner_in_every_section(tmp_path):
    out = tmp_path / "demo.html"
    done = _cli("--out", str(out), "--n-boot", "100")
    assert done.returncode == 0, done.stderr
    text = out.read_text(encoding="utf-8")
    assert text.count(SIMULATED_NOTICE) == 1 + len(FIGURE_NAMES)  # top + each section
    assert text.count('class="plotly-graph-div"') == N_FIGURES


def test_report_errors_name_the_problem_and_write_nothing(tmp_path):
    out = tmp_path / "never.html"
    missing = _cli("--source", "file", "--out", str(out))
    assert missing.returncode == 2 and "--file" in missing.stderr
    bad = tmp_path / "bad.csv"
    bad.write_text("model,prompt_id,requirement,source,violation\nm,p1,2C_deference,real,maybe\n")
    invalid = _cli("--source", "file", "--file", str(bad), "--out", str(out))
    assert invalid.returncode == 1
    assert "bad.csv" in invalid.stderr and "violation" in invalid.stderr
    no_run = _cli("--source", "store", "--store", str(tmp_path / "none.sqlite"), "--out", str(out))
    assert no_run.returncode == 1 and "none.sqlite" in no_run.stderr
    assert not out.exists() and not list(tmp_path.glob(".never.html*"))


def test_store_data_carries_its_run_records_and_smoke_test_runs_are_flagged(store):
    frame = load_source(DataSource("store", store, (f"run-{STORE_MODELS[0]}",)))
    methods = build_section("methods", frame)
    runs = next(t.frame for t in methods.tables if t.name == "runs")
    assert list(runs["run_id"]) == [f"run-{STORE_MODELS[0]}"]  # only the selected run's record
    assert runs.loc[0, "protocol"] == "authors' settings" and runs.loc[0, "endpoint"] == "127.0.0.1"
    assert runs.loc[0, "judge_errors"] == 1 and bool(runs.loc[0, "finished"])
    assert any("from the run records" in n and "test-judge" in n for n in methods.notes)
    assert notices(frame) == []
    smoke = frame.assign(smoke_test=frame.index == 0)
    assert notices(smoke) == [SMOKE_TEST_NOTICE]
