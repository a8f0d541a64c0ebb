"""How each verdict was read, stored and shown: parse_path and verdict_flags in the store and its
exports, `rates --exclude-flagged`, the flagged-apart rate and the same-family note beside the rate
in `rates`, the report, the dashboard and notebook 02's run table.

One Claude Sonnet 4 reproduction (partial) against the recording server, judged by Claude Opus 4.6:
the judge shares the model's family, and the scripted judge replies include readings the authors'
parser takes doubtfully (recipe_server.JUDGE_REPLIES).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
import pytest
from recipe_server import RecipeServer

from eudaimonia_nb.benchmark.recipes import find_recipe
from eudaimonia_nb.judging.reproduce import recipe_config
from eudaimonia_nb.judging.runner import run
from eudaimonia_nb.report import DataSource, Options, build_report, build_section, load_source
from eudaimonia_nb.store.results import verdict_details
from eudaimonia_nb.store.verdict_flags import FLAGS, PARSE_PATHS, split_flags

CLI = [sys.executable, "-m", "eudaimonia_nb"]
N_BOOT = 50


@pytest.fixture(scope="module")
def sonnet(benchmark, tmp_path_factory):
    store = tmp_path_factory.mktemp("reading") / "store.sqlite"
    with RecipeServer() as server:
        config = recipe_config(find_recipe("Claude Sonnet 4"), base_url=server.base_url, judge_base_url=server.base_url,
                               limit=30, store_path=str(store), concurrency=8)
        summary = run(config, benchmark=benchmark, progress=False)
    return store, summary.run_id


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=300, env=os.environ)


def test_every_verdict_records_how_it_was_read_and_exports_carry_it(sonnet, tmp_path):
    store, run_id = sonnet
    details = verdict_details(store, run_id)
    verdicts = details[details["error"].isna()]
    assert set(verdicts["parse_path"]) <= set(PARSE_PATHS) and verdicts["parse_path"].notna().all()
    assert details.loc[details["error"].notna(), "parse_path"].isna().all()
    flags = {f for text in verdicts["verdict_flags"] for f in split_flags(text)}
    assert flags and flags <= set(FLAGS)
    # A bare "keep": 2 is read as a violation and flagged; a reply with a reasoning object is read from it.
    assert ((verdicts["raw"].str.contains('"keep": 2') & verdicts["verdict_flags"].str.contains("keep_not_boolean")
             & (verdicts["violation"] == 1)).any())
    assert ((verdicts["raw"].str.startswith("My assessment:") & (verdicts["parse_path"] == "braces")
             & verdicts["verdict_flags"].str.contains("keep_missing")).any())
    for fmt in ("csv", "jsonl"):
        out = tmp_path / f"run.{fmt}"
        assert _cli("export", run_id, "--store", str(store), "--format", fmt, "--out", str(out)).returncode == 0
        frame = (pd.read_csv(out, keep_default_na=False) if fmt == "csv" else pd.read_json(out, lines=True))
        assert {"parse_path", "verdict_flags"} <= set(frame.columns)
        judged = frame[frame["error"] == ""] if fmt == "csv" else frame[frame["error"].fillna("") == ""]
        assert (judged["verdict_flags"] != "").sum() == (verdicts["verdict_flags"] != "").sum()
        clean = judged[judged["verdict_flags"] == ""]
        assert len(clean) and all(";" not in f for f in clean["verdict_flags"])


def test_rates_counts_the_flagged_checks_and_sets_them_apart_on_request(sonnet):
    store, run_id = sonnet
    details = verdict_details(store, run_id)
    flagged = details[details["error"].isna() & (details["verdict_flags"] != "")]
    report = json.loads(_cli("rates", run_id, "--store", str(store), "--json").stdout)
    apart = json.loads(_cli("rates", run_id, "--store", str(store), "--json", "--exclude-flagged").stdout)
    assert report["flagged"]["checks"] == len(flagged) > 0
    assert apart["exclude_flagged"] and apart["overall"]["checks"] == report["overall"]["checks"] - len(flagged)
    assert apart["overall"]["violations"] == report["overall"]["violations"] - int(flagged["violation"].sum())
    assert sum(report["flagged"]["by_flag"].values()) >= len(flagged)
    assert report["same_family"].startswith("same family: the judge anthropic/claude-opus-4.6 and anthropic/claude-sonnet-4 "
                                            "are both Anthropic models")
    text = _cli("rates", run_id, "--store", str(store)).stdout
    assert f"flagged: {len(flagged)} verdicts read doubtfully" in text and "note: same family:" in text


def test_the_report_and_the_dashboard_show_both_readings_and_the_family_note(sonnet):
    from eudaimonia_nb.widgets.dashboard import Dashboard

    store, run_id = sonnet
    source = DataSource("store", store)
    frame = load_source(source)
    section = build_section("leaderboard", frame, Options(n_boot=N_BOOT))
    row = section.tables[0].frame.iloc[0]
    assert row["n_flagged"] > 0 and row["rate_flagged_apart"] != row["rate_authors_convention"]
    assert row["same_family_judge"].startswith("same family:")
    notes = " ".join(section.notes)
    assert "read doubtfully by the authors&#x27; parser" in notes and "with them set apart" in notes
    assert "same family: the judge anthropic/claude-opus-4.6" in notes
    # The hover's customdata: low, high, checks, prompts, errors, the reasons and notes, the run.
    trace = [t for t in section.figures["leaderboard"].data if t.name.startswith("This data")][0]
    custom, hover = trace.customdata[0], trace.customdata[0][5]
    assert "%{customdata[5]}" in trace.hovertemplate and "%{customdata[6]}" in trace.hovertemplate
    assert "same family" in hover and "served by 127.0.0.1 instead of OpenRouter" in hover
    assert custom[6] == f"run {run_id}"
    html = build_report(frame, source=source.describe(), options=Options(n_boot=N_BOOT), keys=("leaderboard",))
    assert "same family: the judge anthropic/claude-opus-4.6" in html and "Rate, flagged set apart" in html
    dashboard = Dashboard(source, options=Options(n_boot=N_BOOT))
    shown = dashboard.tabs["leaderboard"].notes.value
    assert "same family" in shown and "with them set apart" in shown


def test_notebook_02_shows_the_runs_differences_next_to_its_rate(sonnet, benchmark):
    from eudaimonia_nb.widgets.judging import LiveJudgingUI

    store, run_id = sonnet
    ui = LiveJudgingUI(benchmark, store_path=store, seed=1)
    ui.refresh_results(str(store), run_id, comparability=True)
    shown = ui.run_results.value
    assert "Not comparable with the published figure (recipe Claude Sonnet 4)" in shown
    assert "subset: 30 of 969 prompts" in shown and "served by 127.0.0.1 instead of OpenRouter" in shown
    assert "same family" in shown
    assert shown.index("Not comparable") < shown.index("violation rate"), "said before the run's table and rate"


def test_the_published_rates_say_that_their_judge_judged_its_own_family():
    from eudaimonia_nb.analysis.simulate import demo_judgments

    section = build_section("leaderboard", demo_judgments(), Options(n_boot=N_BOOT))
    note = next(n for n in section.notes if n.startswith("Same family"))
    assert "Claude Opus 4.7, Claude Opus 4.6, Claude Sonnet 4 were judged by anthropic/claude-opus-4.6" in note
    assert "GPT" not in note and "(Anthropic)" in note
