"""Human labels in the results store, the `labels export|import` and `validity` commands, and
the validity view on a real store (two judges of the same responses, another model's run)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from validity_helpers import JUDGED_RUN, OTHER_RUN, REJUDGED_RUN, label_sample, make_validity_store

from eudaimonia_nb.store import labels as L
from eudaimonia_nb.store.results import load_judgments
from eudaimonia_nb.validity.measures import compute_validity

CLI = [sys.executable, "-m", "eudaimonia_nb"]


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=300, env=dict(os.environ))


@pytest.fixture()
def store(tmp_path, benchmark) -> Path:
    path = tmp_path / "results.sqlite"
    make_validity_store(path, benchmark)
    return path


def test_sample_is_stratified_reproducible_and_resumes_after_each_saved_label(store):
    sample_id = L.draw_sample(store, [JUDGED_RUN], 30, seed=3)
    assert L.draw_sample(store, [JUDGED_RUN], 30, seed=3) == sample_id  # same settings, same sample
    items = L.sample_items(store, sample_id, "ann")
    assert len(items) == 30 and L.resume_position(items) == 0
    verdicts = load_judgments(store, [JUDGED_RUN]).set_index(["prompt_id", "requirement"])["violation"]
    # Every requirement x verdict stratum present in the run is represented.
    drawn = {(r.requirement, verdicts[(r.prompt_id, r.requirement)]) for r in items.itertuples()}
    assert len(drawn) >= 12
    first, second = items.iloc[0], items.iloc[1]
    L.save_label(store, run_id=first.run_id, prompt_id=first.prompt_id, requirement=first.requirement,
                 labeller="ann", label=1, note="clear case", sample_id=sample_id)
    L.save_label(store, run_id=second.run_id, prompt_id=second.prompt_id, requirement=second.requirement,
                 labeller="ann", label=None, skipped=True, sample_id=sample_id)
    # A fresh connection (a restarted kernel) sees both at once, and resumes at the third item.
    again = L.sample_items(store, sample_id, "ann")
    assert again.loc[0, "label"] == 1 and again.loc[0, "note"] == "clear case" and again.loc[1, "skipped"] == 1
    assert L.resume_position(again) == 2
    assert L.resume_position(L.sample_items(store, sample_id, "bob")) == 0  # per labeller
    assert len(L.load_labels(store)) == 1  # a skip is not a label


def test_labels_equal_to_the_judge_give_kappa_one_and_the_raw_rate(store):
    label_sample(store, "ann", lambda verdict, _: verdict)
    result = compute_validity(store, [JUDGED_RUN], n_boot=200)
    model = result.models.set_index("run_id").loc[JUDGED_RUN]
    assert model["n_labels"] == 40 and model["corrected_rate"] == pytest.approx(model["raw_rate"])
    overall = result.agreement.query("requirement == 'all' and kind == 'judge-human'").iloc[0]
    assert overall["rater_a"] == JUDGED_RUN and overall["rater_b"] == "labeller:ann"
    assert overall["kappa"] == pytest.approx(1.0) and overall["sensitivity"] == pytest.approx(1.0)
    assert result.disagreements.query("reason == 'judge and person differ'").empty


def test_a_person_who_flips_the_judges_violations_lowers_the_corrected_rate(store):
    # Ann calls every judged violation "no violation": the human rate is 0 on the sample.
    label_sample(store, "ann", lambda verdict, _: 0)
    result = compute_validity(store, [JUDGED_RUN], n_boot=200)
    model = result.models.iloc[0]
    assert model["raw_rate"] > 0.2 and model["corrected_rate"] == pytest.approx(0.0, abs=1e-9)
    flips = result.flips.iloc[0]
    assert flips["judge_no_person_yes"] == 0 and flips["judge_yes_person_no"] > 0
    assert (result.disagreements["reason"] == "judge and person differ").sum() == flips["judge_yes_person_no"]


def test_rejudge_pairs_by_response_text_with_panel_alpha_and_majority(store):
    label_sample(store, "ann", lambda verdict, _: verdict)
    label_sample(store, "bob", lambda verdict, pos: verdict if pos % 4 else 1 - verdict)
    result = compute_validity(store, n_boot=200)
    jj = result.agreement.query("kind == 'judge-judge' and requirement == 'all'")
    # Only the two judges of model A's identical responses pair up; model B's responses differ.
    assert set(zip(jj["rater_a"], jj["rater_b"])) == {(JUDGED_RUN, REJUDGED_RUN)}
    a = load_judgments(store, [JUDGED_RUN]).set_index(["prompt_id", "requirement"])["violation"]
    b = load_judgments(store, [REJUDGED_RUN]).set_index(["prompt_id", "requirement"])["violation"]
    assert jj.iloc[0]["n"] == len(a)
    assert jj.iloc[0]["both"] == int(((a == 1) & (b == 1)).sum())
    judges_alpha = result.alpha.query("panel == 'judges' and requirement == 'all'").iloc[0]
    assert -1 < judges_alpha["alpha"] < 1 and judges_alpha["raters"] == 2
    assert (result.disagreements["reason"] == "judges split").sum() == int((a != b).sum())
    # A label of a response serves both of its judges.
    labelled = result.models.set_index("run_id")["n_labels"]
    assert labelled[REJUDGED_RUN] == labelled[JUDGED_RUN] == 40 and labelled[OTHER_RUN] == 0
    hh = result.agreement.query("kind == 'human-human' and requirement == 'all'").iloc[0]
    assert hh["n"] == 40 and hh["only_a"] + hh["only_b"] == 10  # bob flips every fourth item


def test_person_vs_person_kappa_is_weighted_like_the_judges_so_the_two_compare(store):
    """Ann labels exactly what the judge said, so Ann-vs-Bob pairs are the judge-vs-Bob pairs and
    their kappas must be equal; unweighted on the verdict-stratified sample (as before) they were
    not (issue 23 point 6)."""
    from eudaimonia_nb.analysis.agreement import bootstrap_agreement

    label_sample(store, "ann", lambda verdict, _: verdict)
    label_sample(store, "bob", lambda verdict, pos: verdict if pos % 3 else 1 - verdict)
    result = compute_validity(store, [JUDGED_RUN], n_boot=100)
    rows = result.agreement.query("requirement == 'all'").set_index(["kind", "rater_a", "rater_b"])
    hh = rows.loc[("human-human", "labeller:ann", "labeller:bob")]
    jh = rows.loc[("judge-human", JUDGED_RUN, "labeller:bob")]
    assert hh["weighted"] and jh["weighted"] and hh["n"] == jh["n"] == 40
    assert hh["kappa"] == pytest.approx(jh["kappa"], abs=1e-12)
    labels = L.load_labels(store).pivot_table(index=["prompt_id", "requirement"], columns="labeller", values="label")
    prompts = labels.index.get_level_values("prompt_id").to_numpy()
    unweighted = bootstrap_agreement(labels["ann"].to_numpy(), labels["bob"].to_numpy(), prompts, n_boot=10).kappa
    assert abs(unweighted - hh["kappa"]) > 0.01  # the weighting changes the number: the test can fail
    assert any("Person-vs-person kappa is weighted" in note for note in result.notes)


def test_export_import_round_trip_and_refusals(store, tmp_path, benchmark):
    label_sample(store, "ann", lambda verdict, pos: None if pos == 0 else verdict)
    out = tmp_path / "labels.csv"
    done = _cli("labels", "export", str(out), "--store", str(store))
    assert done.returncode == 0, done.stderr
    exported = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert list(exported.columns[:5]) == list(L.REQUIRED_COLUMNS) and len(exported) == 40
    assert (exported["label"] == "").sum() == 1  # the unsure one
    other = tmp_path / "other.sqlite"
    make_validity_store(other, benchmark)
    done = _cli("labels", "import", str(out), "--store", str(other))
    assert done.returncode == 0, done.stderr
    back = L.load_labels(other).sort_values(["prompt_id", "requirement"]).reset_index(drop=True)
    mine = L.load_labels(store).sort_values(["prompt_id", "requirement"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(back[list(L.EXPORT_COLUMNS)], mine[list(L.EXPORT_COLUMNS)])

    good = exported.head(3)
    for column, value, expected in (("run_id", "no-such-run", "run_id 'no-such-run' is not in the store"),
                                    ("requirement", "2C_deference_x", "has no check"),
                                    ("label", "2", "expected 1 (violation), 0 (no violation) or empty")):
        bad = good.copy()
        bad.loc[2, column] = value
        path = tmp_path / f"bad-{column}.csv"
        bad.to_csv(path, index=False)
        fresh = tmp_path / f"fresh-{column}.sqlite"
        make_validity_store(fresh, benchmark)
        done = _cli("labels", "import", str(path), "--store", str(fresh))
        assert done.returncode == 1
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and f"{path}, line 4: " in lines[0] and expected in lines[0], done.stderr
        assert L.load_labels(fresh).empty  # the two good rows before it were not written either


def test_validity_json_has_the_documented_shape(store):
    label_sample(store, "ann", lambda verdict, _: verdict)
    done = _cli("validity", "--store", str(store), "--run", JUDGED_RUN, "--run", REJUDGED_RUN, "--format", "json",
                "--n-boot", "100")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert list(data) == ["models", "by_requirement", "by_source", "unsure", "agreement", "designs"]
    assert [(d["design"], d["n_labels"], d["used"]) for d in data["designs"]] == [("stratified", 40, True)]
    assert [m["run_id"] for m in data["models"]] == [JUDGED_RUN, REJUDGED_RUN]
    for m in data["models"]:
        assert list(m) == ["model", "run_id", "n_checks", "n_labels", "raw_rate", "corrected_rate", "ci_low", "ci_high",
                           "few_labels"]
        assert m["model"] == "model-a" and 0 <= m["ci_low"] <= m["corrected_rate"] <= m["ci_high"] <= 1
        assert m["few_labels"] is False  # 40 labels
    # The per-requirement table: 40 labels over 9 requirements, so every cell is flagged.
    by_req = data["by_requirement"]
    assert {r["run_id"] for r in by_req} == {JUDGED_RUN, REJUDGED_RUN}
    assert all(list(r) == ["model", "run_id", "requirement", "n_checks", "n_labels", "raw_rate", "corrected_rate",
                           "ci_low", "ci_high", "few_labels", "more_labels_needed"] for r in by_req)
    judged = [r for r in by_req if r["run_id"] == JUDGED_RUN]
    assert sum(r["n_labels"] for r in judged) == 40 and all(r["few_labels"] is True for r in judged)
    assert all(r["more_labels_needed"] is None or isinstance(r["more_labels_needed"], int) for r in by_req)
    assert {r["source"] for r in data["by_source"]} == {"real"}  # the store's prompts are real ones
    assert sum(r["labelled"] for r in data["unsure"] if r["run_id"] == JUDGED_RUN) == 40
    assert all(r["unsure"] == 0 for r in data["unsure"])
    rows = data["agreement"]
    assert all(list(r) == ["requirement", "rater_a", "rater_b", "n", "kappa", "kappa_ci_low", "kappa_ci_high"]
               for r in rows)
    pairs = {(r["rater_a"], r["rater_b"]) for r in rows if r["requirement"] == "all"}
    assert pairs == {(JUDGED_RUN, "labeller:ann"), (REJUDGED_RUN, "labeller:ann"), (JUDGED_RUN, REJUDGED_RUN)}
    text = _cli("validity", "--store", str(store), "--n-boot", "50")
    assert text.returncode == 0 and "corrected" in text.stdout and "Fewer than 30 labels" not in text.stdout
    assert f"No labels for run(s) {OTHER_RUN}" in text.stdout
    # Runs by their label; rates in %, each estimate with its interval.
    assert "model-a · judge judge-1 · suite protocol" in text.stdout and "model-a · judge judge-2" in text.stdout
    assert re.search(r"kappa \d\.\d\d \[-?\d\.\d\d, \d\.\d\d\]", text.stdout), text.stdout
    assert re.search(r"corrected \d+\.\d% \[\d+\.\d, \d+\.\d\]", text.stdout), text.stdout
    missing = _cli("validity", "--store", str(store), "--run", "nope")
    assert missing.returncode == 1 and "nope" in missing.stderr and len(missing.stderr.strip().splitlines()) == 1


def test_unsure_share_per_stratum_is_reported_in_the_result_the_json_and_the_section(store):
    from eudaimonia_nb.report import DataSource, Options, build_section, load_source

    # Unsure on every third item the judge called a violation, never on its passes.
    label_sample(store, "ann", lambda verdict, position: None if verdict == 1 and position % 3 == 0 else verdict)
    result = compute_validity(store, [JUDGED_RUN], n_boot=50)
    unsure = result.unsure
    assert list(unsure.columns) == ["run_id", "requirement", "judge_verdict", "labelled", "unsure", "unsure_share"]
    assert unsure["labelled"].sum() == 40
    on_passes = unsure[unsure["judge_verdict"] == "no violation"]
    assert (on_passes["unsure"] == 0).all() and unsure["unsure"].sum() > 0
    assert np.allclose(unsure["unsure_share"], unsure["unsure"] / unsure["labelled"])
    assert any("only called unsure" in n for n in result.notes)
    data = json.loads(_cli("validity", "--store", str(store), "--run", JUDGED_RUN, "--format", "json",
                           "--n-boot", "50").stdout)
    assert sum(r["unsure"] for r in data["unsure"]) == unsure["unsure"].sum()
    section = build_section("validity", load_source(DataSource("store", store)), Options(n_boot=50))
    tables = {t.name: t.frame for t in section.tables}
    shown = tables["validity_unsure"]
    # The rejudge of the same responses shares the labels, so its strata show them too.
    assert shown.loc[shown["run_id"] == JUDGED_RUN, "unsure"].sum() == unsure["unsure"].sum()
    assert set(shown["run_id"]) == {JUDGED_RUN, REJUDGED_RUN}
    assert any(n.startswith("<b>Unsure.</b>") and "missing at random" in n for n in section.notes)


def test_the_text_summary_prints_no_interval_from_too_few_labels(store):
    from eudaimonia_nb.validity.measures import to_text

    sample_id = L.draw_sample(store, [JUDGED_RUN], 3, seed=5)
    for r in L.sample_items(store, sample_id, "bo").itertuples():
        L.save_label(store, run_id=r.run_id, prompt_id=r.prompt_id, requirement=r.requirement, labeller="bo",
                     label=1, sample_id=sample_id, inclusion_probability=r.inclusion_probability)
    text = to_text(compute_validity(store, [JUDGED_RUN], n_boot=50))
    # Three labels: a bootstrap of them reads 1.00 [1.00, 1.00], which looks exact; say why instead.
    assert "kappa too few labels (3)" in text and "corrected too few labels (3)" in text
    assert "[1.00, 1.00]" not in text and "sensitivity too few labelled violations" in text


def test_queue_labels_are_kept_out_of_estimates(store):
    queue = pd.DataFrame({"run_id": [JUDGED_RUN] * 3,
                          "prompt_id": load_judgments(store, [JUDGED_RUN])["prompt_id"].head(3),
                          "requirement": load_judgments(store, [JUDGED_RUN])["requirement"].head(3)})
    sample_id = L.queue_sample(store, queue)
    assert sample_id.startswith(L.QUEUE_PREFIX)
    for r in L.sample_items(store, sample_id, "ann").itertuples():
        L.save_label(store, run_id=r.run_id, prompt_id=r.prompt_id, requirement=r.requirement, labeller="ann",
                     label=1, sample_id=sample_id)
    result = compute_validity(store, [JUDGED_RUN], n_boot=50)
    assert result.models.iloc[0]["n_labels"] == 0 and np.isnan(result.models.iloc[0]["corrected_rate"])
    assert any("disagreement queues" in n for n in result.notes)


def test_report_and_dashboard_section_show_raw_and_corrected_rates(store):
    from eudaimonia_nb.analysis.simulate import demo_judgments
    from eudaimonia_nb.report import DataSource, Options, build_report, build_section, load_source

    label_sample(store, "ann", lambda verdict, _: 0)
    frame = load_source(DataSource("store", store))
    section = build_section("validity", frame, Options(n_boot=100))
    forest = section.figures["validity_forest"]
    names = [t.name for t in forest.data]
    assert names == ["Raw (judge only)", "Corrected by human labels (PPI++)"]
    corrected = forest.data[1]
    assert len(corrected.x) == 2 and list(corrected.text) == ["40 labels", "40 labels"]  # the run and its rejudge
    assert corrected.x[0] == pytest.approx(0.0, abs=1e-9)  # every label says "no violation"
    tables = {t.name: t.frame for t in section.tables}
    assert {"validity_rates", "agreement", "flips", "disagreements", "validity_by_requirement", "judge_panel"} <= set(tables)
    panel = tables["judge_panel"]
    assert set(panel[JUDGED_RUN].dropna().unique()) <= {0.0, 1.0} and (panel["votes"] == 2).all()
    tie = panel[JUDGED_RUN] != panel[REJUDGED_RUN]
    assert panel.loc[tie, "majority"].isna().all() and (panel.loc[~tie, "majority"] == panel.loc[~tie, JUDGED_RUN]).all()
    notes = " ".join(section.notes)
    assert "Assumptions." in notes and f"No labels for run(s) {OTHER_RUN}" in notes
    # A readable summary leads, the planning advice is a small table, every other table is folded.
    assert "<b>Summary.</b>" in section.lead[0] and "model-a · judge judge-2 · suite protocol" in section.lead[1]
    assert [t.name for t in section.tables if not t.folded] == ["validity_planning"]
    plan = section.tables[0].display
    assert list(plan.columns)[0] == "Requirement" and plan.shape[0] >= 1
    html = build_report(frame, source="test store", options=Options(n_boot=100), keys=("leaderboard", "validity"))
    assert "Judge validity" in html and "Corrected by human labels" in html
    # The demo has no store and so no labels: raw rates only, and the way to add labels.
    demo = build_section("validity", demo_judgments(), Options(n_boot=50))
    assert [t.name for t in demo.figures["validity_forest"].data] == ["Raw (judge only)"]
    assert "No human labels yet: here is how" in demo.lead[0] and "04_validate_judge" in demo.lead[0]


def test_labelling_widget_is_blind_until_saved_and_queues_disagreements(store, benchmark):
    from eudaimonia_nb.widgets.labelling import LabellingUI

    ui = LabellingUI(store, benchmark=benchmark)
    ui.labeller.value, ui.runs.value, ui.size.value = "ann", (JUDGED_RUN, REJUDGED_RUN), 20
    ui.label(1)  # nothing started: nothing saved
    assert L.load_labels(store).empty
    ui.start()
    assert "Item 1 of 20" in ui.progress_text.value and "reasoning of" not in ui.judge.value + ui.item.value
    first = ui._items.iloc[0]
    assert html_escaped(benchmark.prompt(first.prompt_id)["text"]) in ui.item.value
    ui.reveal.value = True  # not blind: the verdict shows before labelling
    assert "reasoning of" in ui.judge.value
    ui.reveal.value = False
    ui.note.value = "a note"
    ui._on_key(None, {"key": "u"}, None)
    saved = L.load_labels(store).iloc[0]
    assert np.isnan(saved["label"]) and saved["note"] == "a note" and "Item 2 of 20" in ui.progress_text.value
    assert "you said <b>unsure</b>" in ui.last.value and "reasoning of" in ui.last.value
    ui.start_queue()
    assert ui._sample_id.startswith(L.QUEUE_PREFIX)
    a = load_judgments(store, [JUDGED_RUN]).set_index(["prompt_id", "requirement"])["violation"]
    b = load_judgments(store, [REJUDGED_RUN]).set_index(["prompt_id", "requirement"])["violation"]
    assert len(ui._items) == int((a != b).sum()) and "Item 1 of" in ui.progress_text.value


def html_escaped(text: str) -> str:
    import html

    return html.escape(text)


def test_reading_labels_never_writes_to_the_store(store):
    import sqlite3

    before = store.stat().st_mtime_ns
    assert L.load_labels(store).empty
    result = compute_validity(store, [JUDGED_RUN], n_boot=20)
    assert result.models.iloc[0]["n_labels"] == 0
    db = sqlite3.connect(store)
    try:
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        db.close()
    assert "labels" not in tables and store.stat().st_mtime_ns == before


def test_a_disagreement_from_the_responses_tab_never_moves_a_corrected_rate(store):
    from eudaimonia_nb.store.disagreements import DISAGREEMENT_QUEUE, save_disagreement

    items = label_sample(store, "ann", lambda verdict, _: verdict)
    before = compute_validity(store, [JUDGED_RUN], n_boot=50)
    judged = load_judgments(store, [JUDGED_RUN])
    sampled = set(zip(items["prompt_id"], items["requirement"]))
    free = judged[[(p, r) not in sampled for p, r in zip(judged["prompt_id"], judged["requirement"])]].head(5)
    for row in free.itertuples():  # a reader disagrees with five verdicts outside the sample
        assert save_disagreement(store, run_id=JUDGED_RUN, prompt_id=row.prompt_id, requirement=row.requirement,
                                 labeller="bo", label=1 - int(row.violation), note="looks wrong") == DISAGREEMENT_QUEUE
    after = compute_validity(store, [JUDGED_RUN], n_boot=50)
    cols = ["n_labels", "corrected_rate", "ci_low", "ci_high"]
    pd.testing.assert_frame_equal(after.models[cols], before.models[cols])
    pd.testing.assert_frame_equal(after.agreement, before.agreement)
    assert any("5 labels from disagreement queues" in n for n in after.notes)
    flagged = after.disagreements[after.disagreements["reason"] == "judge and person differ"]
    assert set(zip(free["prompt_id"], free["requirement"])) <= set(zip(flagged["prompt_id"], flagged["requirement"]))
    queue = L.sample_items(store, DISAGREEMENT_QUEUE, "bo")
    assert len(queue) == 5 and (queue["note"] == "looks wrong").all()
    # A check this person labelled in the designed sample keeps that label.
    first = items.iloc[0]
    with pytest.raises(L.LabelsError, match=r"ann already labelled this check in sample s-.*kept"):
        save_disagreement(store, run_id=JUDGED_RUN, prompt_id=first.prompt_id, requirement=first.requirement,
                          labeller="ann", label=1)
    with pytest.raises(L.LabelsError, match="has no check"):
        save_disagreement(store, run_id=JUDGED_RUN, prompt_id="nope", requirement=first.requirement,
                          labeller="bo", label=1)


def test_notebook_4_results_follow_each_saved_label(store, benchmark):
    from eudaimonia_nb.widgets.labelling import LabellingUI
    from eudaimonia_nb.widgets.validity_results import ValidityResults

    ui = LabellingUI(store, benchmark=benchmark)
    ui.labeller.value, ui.runs.value, ui.size.value = "ann", (JUDGED_RUN,), 30
    results = ValidityResults(ui, n_boot=50)
    assert results.refreshes == 1 and "0 labels behind these results" in results.status.value
    assert "no labels" in results.summary.value
    ui.start()
    for _ in range(12):  # outside an event loop the refresh is immediate
        ui.label(int(ui._verdict(*ui._items.loc[ui._items["position"] == ui._position, ["run_id", "prompt_id",
                                                                                        "requirement"]].iloc[0])[0]
                     == "violation"))
    assert results.refreshes == 13 and "12 labels behind these results" in results.status.value
    # Formatted like the dashboard: percentages and intervals, not raw columns or NaN.
    assert "Corrected rate (95% CI)" in results.summary.value and re.search(r"\d+\.\d% \[", results.summary.value)
    for raw in ("corrected_rate", "NaN", "n_labels", "Raw se", "<NA>"):
        assert raw not in results.summary.value, raw
    assert "Labels needed per requirement" in results.planning.value
