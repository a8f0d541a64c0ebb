"""Which runs can be read against the published leaderboard, said wherever a published figure is shown.

Runs are made through the runner against the scripted loopback server (a real-only --limit run, a
suite-protocol run) or written through the store's own writer (an interrupted run with 294 of 3,147
checks, and a complete run with the authors' judge and settings)."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from fault_server import FaultServer, Script

from eudaimonia_nb.analysis.comparability import run_comparability
from eudaimonia_nb.analysis.conventions import apply_convention
from eudaimonia_nb.report import DataSource, Options, build_report, build_section, load_source
from eudaimonia_nb.judging.config import RunConfig
from eudaimonia_nb.judging.runner import Runner, run
from eudaimonia_nb.store.results import ResultsStore, VerdictRecord, list_runs

N_BOOT = 50


def _write_verdicts(store_path, runner: Runner, n: int, seed: int) -> None:
    """Planned checks of the run and verdicts for the first ``n`` of them, as a run leaves them."""
    rng = np.random.default_rng(seed)
    versions = json.loads(runner.record().rubric_versions)
    store = ResultsStore(store_path)
    try:
        store.begin_run(runner.record(), runner.checks)
        for row in runner.checks.head(n).itertuples(index=False):
            store.put_verdict(runner.run_id, VerdictRecord(
                row.prompt_id, row.requirement, bool(rng.random() < 0.4), "r", "{}", 1, 1, 0.0, 1, False, None,
                versions[row.requirement]))
        if n == len(runner.checks):
            store.end_run(runner.run_id)
    finally:
        store.close()


@pytest.fixture(scope="module")
def runs(benchmark, tmp_path_factory):
    store = tmp_path_factory.mktemp("comparability") / "store.sqlite"
    real = benchmark.prompts.query("source == 'real'").head(95)
    # One check whose judge answer stays unparseable: under 1% of the run, so it stays a judge error only.
    one_check = real.loc[real["n_requirements"] == 1, "text"].iloc[0]
    with FaultServer(Script(rules={one_check: {"judge": ["prose"]}})) as server:
        base = RunConfig(model="gpt-4o", base_url=server.base_url, judge_model="anthropic/claude-opus-4.6",
                         judge_base_url=server.base_url, api_key_env=None, judge_api_key_env=None,
                         store_path=str(store), concurrency=16, timeout_s=10, max_retries=1)
        partial = run(replace(base, limit=95, source="real"), benchmark=benchmark, progress=False)
        suite = run(replace(base, model="gpt-4o-mini", protocol="suite", judge_model="gpt-4o", limit=30),
                    benchmark=benchmark, progress=False)
        in_progress = Runner(replace(base, model="claude-sonnet-4"), benchmark=benchmark)
        # GPT-5.5 with its recipe's provider field (reasoning effort medium), as the authors sent it.
        complete = Runner(replace(base, model="gpt-5.5", model_extra_body={"reasoning": {"effort": "medium"}}),
                          benchmark=benchmark)
    _write_verdicts(store, in_progress, 294, seed=1)
    _write_verdicts(store, complete, len(complete.checks), seed=2)
    ids = {"partial": partial.run_id, "suite": suite.run_id, "in_progress": in_progress.run_id,
           "complete": complete.run_id}
    return store, ids


def test_each_run_gets_the_labels_that_say_why_it_is_not_comparable(runs):
    store, ids = runs
    frame = load_source(DataSource("store", store))
    table = run_comparability(frame, list_runs(store)).set_index("unit")
    partial = table.loc[ids["partial"]]
    assert not partial["comparable"] and partial["compare_with"] == "real"
    assert partial["reasons"] == "real prompts only: 95 of 969 prompts"
    suite = table.loc[ids["suite"]]
    assert suite["reasons"].split("; ")[:2] == ["suite protocol", "judge gpt-4o"]
    assert "subset: 30 of 969 prompts" in suite["reasons"] and suite["compare_with"] == "overall"
    progress = table.loc[ids["in_progress"]]
    assert progress["status"] == "in progress" and progress["reasons"] == "in progress: 294 of 3,147 checks"
    assert progress["n_unjudged"] == 0, "unjudged checks of a running run are not judge errors"
    complete = table.loc[ids["complete"]]
    assert complete["comparable"] and complete["reasons"] == "" and complete["n_checks"] == 3147
    assert complete["recipe"] == "GPT-5.5"
    # Served by the loopback server, not OpenRouter: said, not breaking.
    notes = complete["notes"].split("; ")
    assert "model id: the authors called openai/gpt-5.5, this run gpt-5.5 (the same model without its vendor prefix)" in notes
    assert "served by 127.0.0.1 instead of OpenRouter" in notes and "judge served by 127.0.0.1 instead of OpenRouter" in notes
    assert any(n.startswith("benchmark: the site copy, one of the two official ones") for n in notes), notes


def test_unofficial_dataset_and_other_settings_are_named(runs, benchmark):
    store, ids = runs
    runs_table = list_runs(store)
    frame = load_source(DataSource("store", store, (ids["complete"],)))
    changed = runs_table.assign(dataset_sha256="0" * 64, parameters=runs_table["parameters"].str.replace(
        '"temperature": 0.7', '"temperature": 1.0'))
    reasons = run_comparability(frame, changed).set_index("unit").loc[ids["complete"], "reasons"]
    assert reasons == "temperature: the authors sent 0.7, this run sent 1; unofficial dataset file"


def test_leaderboard_marks_runs_and_compares_a_real_only_run_with_the_published_real_rate(runs):
    store, ids = runs
    frame = load_source(DataSource("store", store))
    section = build_section("leaderboard", frame, Options(n_boot=N_BOOT))
    table = section.tables[0].frame.set_index("model")
    partial = table.loc["gpt-4o"]
    assert partial["published_scope"] == "real" and partial["published_rate"] == pytest.approx(0.348)
    assert not partial["comparable"] and partial["not_comparable_because"] == "real prompts only: 95 of 969 prompts"
    progress = table.loc["claude-sonnet-4"]
    assert progress["n_pending"] == 3147 - 294 and progress["n_errors"] == 0
    assert table.loc["gpt-5.5", "comparable"] and table.loc["gpt-5.5", "published_rate"] == pytest.approx(0.272)

    figure = section.figures["leaderboard"]
    traces = {t.name: t for t in figure.data}
    marked = traces["This data, not comparable with the leaderboard (see note)"]
    assert set(marked.y) == {"gpt-4o", "gpt-4o-mini", "claude-sonnet-4"}
    assert marked.marker.symbol == "circle-open"
    assert list(traces["This data (95% CI, bootstrap over prompts)"].y) == ["gpt-5.5"]
    note = section.notes[0]
    for label in ("real prompts only: 95 of 969 prompts", "in progress: 294 of 3,147 checks", "suite protocol",
                  "judge gpt-4o"):
        assert label in note
    assert section.notes[-1].startswith("Errors convention: errors apart")


def test_errors_convention_is_an_option_named_beside_the_rates(runs):
    store, ids = runs
    frame = load_source(DataSource("store", store, (ids["partial"],)))
    unparseable = int(frame["error"].fillna("").str.startswith("unparseable judge reply").sum())
    assert unparseable > 0
    apart = build_section("leaderboard", frame, Options(n_boot=N_BOOT))
    authors = build_section("leaderboard", frame, Options(n_boot=N_BOOT, errors="authors"))
    a, b = apart.tables[0].frame.iloc[0], authors.tables[0].frame.iloc[0]
    assert b["n_checks"] == a["n_checks"] + unparseable and b["n_violations"] == a["n_violations"]
    assert a["rate_authors_convention"] == pytest.approx(b["rate"])
    assert "Errors convention: the authors' convention" in authors.notes[-1]
    unparseable_only = build_section("leaderboard", frame, Options(n_boot=N_BOOT, errors="no_violation"))
    assert unparseable_only.tables[0].frame.iloc[0]["n_checks"] == b["n_checks"]
    converted = apply_convention(frame, "no_violation")
    assert converted["violation"].isna().sum() == frame["violation"].isna().sum() - unparseable
    with pytest.raises(ValueError, match="errors convention"):
        apply_convention(frame, "ignore")


def test_report_and_dashboard_carry_the_labels(runs):
    from eudaimonia_nb.widgets.dashboard import Dashboard

    store, ids = runs
    source = DataSource("store", store)
    html = build_report(load_source(source), source=source.describe(), options=Options(n_boot=N_BOOT),
                        keys=("leaderboard", "methods"))
    for label in ("real prompts only: 95 of 969 prompts", "in progress: 294 of 3,147 checks", "suite protocol",
                  "judge gpt-4o", "This data, not comparable with the leaderboard", "Errors convention"):
        assert label in html, label
    assert "2,853 not judged yet" in html
    # The opening summary says which runs are comparable and why the others are not.
    assert "<b>Comparability:</b> 1 of 4 run(s) comparable with the published leaderboard; not comparable:" in html
    assert "gpt-4o: real prompts only: 95 of 969 prompts" in html

    dashboard = Dashboard(source, options=Options(n_boot=N_BOOT))
    notes = dashboard.tabs["leaderboard"].notes.value
    assert "in progress: 294 of 3,147 checks" in notes and "Errors convention: errors apart" in notes
    dashboard.errors.value = "authors"
    assert "Errors convention: the authors' convention" in dashboard.tabs["leaderboard"].notes.value
    marked = [t for t in dashboard.figures["leaderboard"].data if t.name.startswith("This data, not comparable")]
    assert marked and "claude-sonnet-4" in marked[0].y
