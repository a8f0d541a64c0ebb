"""Reducers: a check's repeated verdicts made into one, named beside the numbers; the analyses on
reduced data, and on data without repeats exactly as before."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from eudaimonia_nb.analysis import rates, simulate
from eudaimonia_nb.analysis.frames import JudgmentsError, check_analysis_frame
from eudaimonia_nb.analysis.reducers import REDUCERS, has_repeats, reduce_repeats
from eudaimonia_nb.report import Options, build_report, build_section


def _frame() -> pd.DataFrame:
    # check a: epoch 1 -> 1, 1; epoch 2 -> 0, 0: mean of means 0.5, a tie for the majority
    # check b: epoch 1 -> 1, 0; epoch 2 -> 1 (its second call failed): mean (0.5 + 1) / 2
    # check c: no verdict at all
    rows = [("a", 1, 1, 1.0, ""), ("a", 1, 2, 1.0, ""), ("a", 2, 1, 0.0, ""), ("a", 2, 2, 0.0, ""),
            ("b", 1, 1, 1.0, ""), ("b", 1, 2, 0.0, ""), ("b", 2, 1, 1.0, ""), ("b", 2, 2, np.nan, "judge call failed"),
            ("c", 1, 1, np.nan, "not judged yet"), ("c", 1, 2, np.nan, "not judged yet"),
            ("c", 2, 1, np.nan, "not judged yet"), ("c", 2, 2, np.nan, "not judged yet")]
    frame = pd.DataFrame(rows, columns=["prompt_id", "epoch", "judge_repeat", "violation", "error"])
    return frame.assign(model="m", requirement="1A_emotion", source="real", run_id="r")


def test_each_reducer_on_hand_made_repeats():
    expected = {"mean": [0.5, 0.75, np.nan], "majority": [0.0, 1.0, np.nan], "any": [1.0, 1.0, np.nan],
                "all": [0.0, 0.0, np.nan]}
    for name in REDUCERS:
        out = reduce_repeats(_frame(), name)
        assert out["prompt_id"].tolist() == ["a", "b", "c"]
        np.testing.assert_array_equal(out["violation"].to_numpy(), np.array(expected[name]))
        assert out["n_verdicts"].tolist() == [4, 3, 0]
        assert out["error"].tolist() == ["", "", "not judged yet"]
        assert (out["reducer"] == name).all() and out.attrs["reducer"] == name
        assert out.attrs["repeats"] == {"epochs": 2, "judge_repeats": 2}
        assert "epoch" not in out.columns
        check_analysis_frame(out)  # a valid analysis input, fractions and all
    with pytest.raises(ValueError, match="unknown reducer 'median'"):
        reduce_repeats(_frame(), "median")


def test_unreduced_repeats_and_stray_fractions_are_refused_with_a_way_out():
    with pytest.raises(JudgmentsError, match=r"repeated verdicts.*reduce_repeats\(frame, 'mean'\)"):
        rates.model_rates(_frame())
    fractional = reduce_repeats(_frame(), "mean").drop(columns="reducer")
    with pytest.raises(JudgmentsError, match="0.5; expected 1, 0 or NaN"):
        check_analysis_frame(fractional)


def test_a_table_without_repeats_is_returned_as_it_is_and_analyses_the_same():
    frame = simulate.demo_judgments()
    assert not has_repeats(frame)
    for name in REDUCERS:
        assert reduce_repeats(frame, name) is frame
    one = frame.assign(epoch=1, judge_repeat=1)
    assert reduce_repeats(one) is one
    section = build_section("leaderboard", one, Options(n_boot=100))
    plain = build_section("leaderboard", frame, Options(n_boot=100))
    pd.testing.assert_frame_equal(section.tables[0].frame, plain.tables[0].frame)
    assert "reducer" not in section.tables[0].frame.columns and not any("Repeated verdicts" in n for n in section.notes)


def test_rates_of_mean_reduced_checks_keep_their_fractions():
    out = reduce_repeats(_frame(), "mean")
    by_model = rates.violation_rates(out, "model")
    assert by_model["n_checks"].iloc[0] == 2 and by_model["n_violations"].iloc[0] == pytest.approx(1.25)
    assert by_model["rate"].iloc[0] == pytest.approx(0.625) and by_model["n_errors"].iloc[0] == 1
    binary = rates.violation_rates(reduce_repeats(_frame(), "majority"), "model")
    assert binary["n_violations"].dtype.kind == "i" and binary["rate"].iloc[0] == pytest.approx(0.5)


@pytest.fixture(scope="module")
def repeated(benchmark):
    checks = benchmark.checks[benchmark.checks["prompt_id"].isin(benchmark.prompts["prompt_id"].iloc[::8])]
    frame, _ = simulate.simulate_with_truth("published", seed=5, design=checks, models=3, epochs=3, judge_repeats=2,
                                            response_sd=1.0)
    return frame


def test_every_section_reads_reduced_verdicts_and_names_the_reducer(repeated):
    reduced = reduce_repeats(repeated, "majority")
    for key in ("leaderboard", "requirements", "real_vs_modified", "mixed", "methods"):
        section = build_section(key, repeated, Options(n_boot=100, reducer="majority", cross_checks=False))
        direct = build_section(key, reduced, Options(n_boot=100, reducer="majority", cross_checks=False))
        assert any("reducer <code>majority</code>" in n for n in section.notes), key
        for table, same in zip(section.tables, direct.tables):
            assert (table.frame["reducer"] == "majority").all(), (key, table.name)
            numeric = same.frame.select_dtypes("number").columns
            pd.testing.assert_frame_equal(table.frame[numeric], same.frame[numeric])
    mean = build_section("leaderboard", repeated, Options(n_boot=100))
    board = mean.tables[0].frame.set_index("model")
    expected = reduce_repeats(repeated, "mean").groupby("model")["violation"].mean()
    np.testing.assert_allclose(board.loc[expected.index, "rate"], expected)


def test_the_report_has_a_noise_section_and_sentence_only_with_repeats(repeated):
    text = build_report(repeated, source="simulated repeats", options=Options(n_boot=100))
    assert "id='noise'" in text and "Repeated verdicts:" in text and "two judge calls on one response on" in text
    assert "Where a verdict" in text
    plain = build_report(simulate.demo_judgments().query("model in ['GPT-5.5', 'Grok 4']"), source="demo",
                         options=Options(n_boot=100))
    assert "id='noise'" not in plain and "Repeated verdicts:" not in plain


def test_labels_and_validity_read_the_first_response_of_a_run_with_repeats(benchmark, tmp_path):
    """A label is about one response: the sample holds one item per check (epoch 1), and the judge
    side of the agreement is the majority of that response's judge calls."""
    from fault_server import FaultServer, Script

    from eudaimonia_nb.judging.config import RunConfig
    from eudaimonia_nb.judging.runner import run
    from eudaimonia_nb.store import labels as L
    from eudaimonia_nb.store.results import load_judgments
    from eudaimonia_nb.validity.measures import compute_validity

    store = tmp_path / "s.sqlite"
    prompts = tuple(benchmark.prompts.groupby("source").head(10)["prompt_id"])
    with FaultServer(Script(response_variants=4, judge_flip=0.2, seed=8)) as server:
        summary = run(RunConfig(model="sampled", base_url=server.base_url, judge_model="j", judge_base_url=server.base_url,
                                api_key_env=None, judge_api_key_env=None, prompt_ids=prompts, store_path=str(store),
                                epochs=2, judge_repeats=3), benchmark=benchmark, progress=False)
    sample_id = L.draw_sample(store, [summary.run_id], 30, seed=0)
    items = L.sample_items(store, sample_id, "ann")
    assert not items.duplicated(["prompt_id", "requirement"]).any()
    first = reduce_repeats(load_judgments(store, [summary.run_id]).query("epoch == 1"), "majority")
    majority = first.set_index(["prompt_id", "requirement"])["violation"]
    for r in items.itertuples():
        L.save_label(store, run_id=r.run_id, prompt_id=r.prompt_id, requirement=r.requirement, labeller="ann",
                     label=int(majority[(r.prompt_id, r.requirement)]), sample_id=sample_id,
                     inclusion_probability=r.inclusion_probability)
    result = compute_validity(store, [summary.run_id], n_boot=100)
    overall = result.agreement[(result.agreement["kind"] == "judge-human")]
    assert (overall["kappa"].dropna() == 1.0).all() and overall["n"].max() <= len(items)
    assert int(result.models["n_checks"].iloc[0]) == summary.n_checks


def test_a_study_s_conditions_stay_apart_when_reduced():
    """A study's runs share the model's name; the reduction keeps each run (condition) apart."""
    a = _frame().assign(run_id="r-a", condition="a")
    b = _frame().assign(run_id="r-b", condition="b", violation=lambda f: 1 - f["violation"])
    out = reduce_repeats(pd.concat([a, b], ignore_index=True), "any")
    assert out.groupby("condition").size().tolist() == [3, 3]
    assert out.loc[out["condition"] == "b", "violation"].tolist()[:2] == [1.0, 1.0]
    assert out.loc[out["condition"] == "a", "violation"].tolist()[:2] == [1.0, 1.0]
    assert reduce_repeats(pd.concat([a, b]), "all").groupby("condition")["violation"].sum().tolist() == [0.0, 0.0]


def test_the_report_command_offers_exactly_the_reducers(repeated, tmp_path):
    """``report --reducer`` repeats the names (registering a command imports nothing heavy)."""
    from eudaimonia_nb.cli.main import build_parser

    report = next(a for a in build_parser()._subparsers._group_actions[0].choices["report"]._actions
                  if "--reducer" in a.option_strings)
    assert tuple(report.choices) == REDUCERS and report.default == REDUCERS[0]
    path = tmp_path / "repeated.csv"
    repeated.to_csv(path, index=False)
    out = tmp_path / "r.html"
    from eudaimonia_nb.cli.main import main

    assert main(["report", "--source", "file", "--file", str(path), "--reducer", "any", "--n-boot", "50",
                 "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert "reducer <code>any</code>" in text and "id='noise'" in text
