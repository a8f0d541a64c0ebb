"""Conditions end to end: runs under two system prompts against a scripted loopback endpoint whose
verdicts depend on the system prompt, then `eudaimonia-nb study` recovers the effect."""

from __future__ import annotations

import contextlib
import io
import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from study_server import CAREFUL_LOG_ODDS, MARKER, STEERABLE, StudyServer, expected_diff

from eudaimonia_nb.analysis.conditions import EFFECT_COLUMNS, condition_odds_ratios, fit_condition_model, paired_effects
from eudaimonia_nb.cli.main import main
from eudaimonia_nb.judging.conditions import read_system_prompt, study_judgments, system_prompt_sha256
from eudaimonia_nb.judging.config import RunConfig
from eudaimonia_nb.judging.plan import run_id_for
from eudaimonia_nb.judging.runner import run
from eudaimonia_nb.store.results import list_runs

N_PER_SOURCE = 60


def _cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def study_store(tmp_path_factory, benchmark):
    """Two models x two conditions over the first N_PER_SOURCE real and modified prompts each,
    through the real runner."""
    tmp = tmp_path_factory.mktemp("study")
    prompt_file = tmp / "design_code.txt"
    prompt_file.write_text(f"\ufeff  {MARKER}\n", encoding="utf-8")
    store = tmp / "store.sqlite"
    prompts = benchmark.prompts.groupby("source").head(N_PER_SOURCE)["prompt_id"]
    with StudyServer() as server:
        for model in (STEERABLE, "stubborn"):
            base = RunConfig(model=model, base_url=server.base_url, judge_model="scripted-judge",
                             judge_base_url=server.base_url, api_key_env=None, judge_api_key_env=None,
                             prompt_ids=tuple(prompts), concurrency=16, max_retries=0, store_path=str(store),
                             condition="baseline", protocol="suite")  # the study server answers the suite's judge
            assert run(base, benchmark=benchmark, progress=False).errors == 0
            treated = replace(base, condition="design-code", system_prompt_file=str(prompt_file))
            assert run(treated, benchmark=benchmark, progress=False).errors == 0
    return store, prompt_file


def test_condition_and_system_prompt_file_are_part_of_the_run_identity(study_store, benchmark):
    store, prompt_file = study_store
    base = RunConfig(model="m", base_url="http://127.0.0.1:1/v1", judge_model="j", judge_base_url="http://127.0.0.1:1/v1")
    assert "condition" not in base.identity() and "system_prompt_sha256" not in base.identity()
    labelled = replace(base, condition="baseline")
    assert run_id_for(labelled, benchmark) != run_id_for(base, benchmark)
    from_file = replace(base, system_prompt_file=str(prompt_file))
    # The file's text (BOM and surrounding whitespace dropped) becomes the system prompt.
    assert from_file.system_prompt == MARKER == read_system_prompt(prompt_file)
    assert from_file.identity()["system_prompt_sha256"] == system_prompt_sha256(MARKER)
    assert run_id_for(from_file, benchmark) == run_id_for(replace(base, system_prompt=MARKER), benchmark)
    assert run_id_for(from_file, benchmark) != run_id_for(replace(base, system_prompt=MARKER + " "), benchmark)
    recorded = [json.loads(p) for p in list_runs(store)["parameters"]]
    assert {(r["model"], r["condition"]) for r in recorded} == {
        (m, c) for m in (STEERABLE, "stubborn") for c in ("baseline", "design-code")}
    assert {r["system_prompt_sha256"] for r in recorded if r["condition"] == "design-code"} == {system_prompt_sha256(MARKER)}


@pytest.mark.parametrize("name", ["", "two words", "-lead", "a" * 65, "naïve"])
def test_bad_condition_names_are_refused(name):
    with pytest.raises(ValueError, match="condition"):
        RunConfig(model="m", base_url="http://h/v1", judge_model="j", judge_base_url="http://h/v1", condition=name)


def test_bad_system_prompt_files_name_the_file(tmp_path):
    base = dict(model="m", base_url="http://h/v1", judge_model="j", judge_base_url="http://h/v1")
    with pytest.raises(ValueError, match="no such file"):
        RunConfig(**base, system_prompt_file=str(tmp_path / "missing.txt"))
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"empty\.txt: the file is empty"):
        RunConfig(**base, system_prompt_file=str(empty))
    latin = tmp_path / "latin.txt"
    latin.write_bytes(b"line one\ncaf\xe9\n")
    with pytest.raises(ValueError, match=r"latin\.txt, line 2: byte 0xe9 is not UTF-8"):
        RunConfig(**base, system_prompt_file=str(latin))
    ok = tmp_path / "ok.txt"
    ok.write_text("Be kind.", encoding="utf-8")
    with pytest.raises(ValueError, match="differ"):
        RunConfig(**base, system_prompt="Be rude.", system_prompt_file=str(ok))


def test_cli_run_refuses_a_bad_condition_before_any_call(tmp_path):
    code, out, err = _cli("run", "--model", "m", "--base-url", "http://127.0.0.1:9/v1", "--judge-model", "j",
                          "--judge-base-url", "http://127.0.0.1:9/v1", "--condition", "two words",
                          "--store", str(tmp_path / "s.sqlite"), "--no-progress")
    assert code == 1 and err.startswith("error: condition 'two words'") and not (tmp_path / "s.sqlite").exists()


def test_study_recovers_the_scripted_effect_with_holm_p_values(study_store, benchmark):
    store, _ = study_store
    code, out, err = _cli("study", "--store", str(store), "--format", "json", "--n-boot", "2000")
    assert code == 0, err
    effects = json.loads(out)["effects"]
    assert [list(row) for row in effects] == [list(EFFECT_COLUMNS)] * 2
    rows = {row["model"]: row for row in effects}
    assert set(rows) == {STEERABLE, "stubborn"}
    for row in effects:
        assert (row["condition_a"], row["condition_b"]) == ("baseline", "design-code")
        assert row["diff"] == pytest.approx(row["rate_b"] - row["rate_a"])

    frame = study_judgments(store)
    checks = frame.loc[(frame["model"] == STEERABLE) & (frame["condition"] == "baseline")]
    texts = dict(zip(benchmark.prompts["prompt_id"], benchmark.prompts["text"]))
    truth = expected_diff([texts[p] for p in checks["prompt_id"]])
    steer, stub = rows[STEERABLE], rows["stubborn"]
    assert steer["n_checks"] == len(checks) == stub["n_checks"]
    assert truth < -0.1  # the scripted condition lowers the violation probability
    assert steer["diff"] < 0 and steer["ci_low"] <= truth <= steer["ci_high"] and steer["ci_high"] < 0
    # One deterministic draw of a null model: its interval covers 0 here; that such intervals
    # cover 0 about 95% of the time is the replicated null test's job (test_analysis_power).
    assert stub["ci_low"] <= 0 <= stub["ci_high"]
    # Holm over the two models, by hand.
    low, high = sorted([steer["p_value"], stub["p_value"]])
    holm = {low: min(1.0, 2 * low), high: max(min(1.0, 2 * low), high)}
    assert steer["p_holm"] == pytest.approx(holm[steer["p_value"]])
    assert stub["p_holm"] == pytest.approx(holm[stub["p_value"]])
    assert steer["p_holm"] < 1e-3 and stub["p_holm"] > 0.05


def test_study_mixed_model_recovers_the_conditional_log_odds(study_store):
    store, _ = study_store
    frame = study_judgments(store)
    fit = fit_condition_model(frame, model=STEERABLE, interaction=False)
    row = fit.params.loc["condition[T.design-code]"]
    assert fit.converged and fit.references["condition"] == "baseline"
    assert row["ci_low"] <= CAREFUL_LOG_ODDS <= row["ci_high"] and row["or_ci_high"] < 1
    null = fit_condition_model(frame, model="stubborn", interaction=True)
    ratios = condition_odds_ratios(null).set_index("term")
    assert list(ratios.index) == ["condition[T.design-code]", "condition[T.design-code]:source[T.modified]"]
    assert ratios.loc["condition[T.design-code]", "or_ci_low"] < 1 < ratios.loc["condition[T.design-code]", "or_ci_high"]


def test_study_text_output_and_per_requirement_effects(study_store):
    store, _ = study_store
    code, out, err = _cli("study", "--store", str(store), "--n-boot", "200")
    assert code == 0, err
    assert "All models pooled" in out and "Per requirement" in out and "condition[T.design-code]" in out
    frame = study_judgments(store)
    by_req = paired_effects(frame, by="requirement", n_boot=200)
    per_model = paired_effects(frame, n_boot=200).set_index("model")
    # Per-requirement checks add up to the model's paired checks.
    assert (by_req.groupby("model")["n_checks"].sum() == per_model["n_checks"]).all()
    assert (by_req["p_holm"] >= by_req["p_value"] - 1e-12).all()


def test_paired_effects_use_only_checks_judged_under_both_conditions():
    rows = []
    for cond, verdicts in (("a", [1, 0, np.nan, 1]), ("b", [0, 0, 1, np.nan])):
        for i, v in enumerate(verdicts):
            rows.append({"model": "m", "prompt_id": f"p{i}", "requirement": "2C_deference",
                         "source": "real" if i % 2 else "modified", "violation": v, "condition": cond})
    effects = paired_effects(pd.DataFrame(rows), n_boot=50)
    row = effects.iloc[0]
    # Only p0 and p1 are judged under both: a = 1/2, b = 0/2.
    assert row["n_checks"] == 2 and row["rate_a"] == 0.5 and row["rate_b"] == 0.0 and row["diff"] == -0.5


def test_study_errors_are_one_line(tmp_path, study_store):
    store, _ = study_store
    code, _, err = _cli("study", "--store", str(store), "--run", "no-such-run")
    assert code == 1 and err.strip().count("\n") == 0 and "no-such-run" in err
    one = list_runs(store)["run_id"].iloc[0]
    code, _, err = _cli("study", "--store", str(store), "--run", one)
    assert code == 1 and "at least two conditions" in err


def test_live_judging_widget_labels_runs_with_a_condition_and_a_prompt_file(tmp_path):
    from eudaimonia_nb.widgets.judging import CallSettings, EndpointSettings

    endpoint = EndpointSettings("http://127.0.0.1:9/v1", "m", None, False)
    settings = CallSettings()
    assert settings.config(endpoint, endpoint).condition is None
    prompt_file = tmp_path / "persona.txt"
    prompt_file.write_text("You are Sam, a friendly human.", encoding="utf-8")
    settings.condition.value, settings.system_prompt_file.value = " persona ", str(prompt_file)
    config = settings.config(endpoint, endpoint)
    assert config.condition == "persona" and config.system_prompt == "You are Sam, a friendly human."
    assert config.identity()["system_prompt_sha256"] == system_prompt_sha256(config.system_prompt)
    settings.condition.value = "two words"
    with pytest.raises(ValueError, match="condition 'two words'"):
        settings.config(endpoint, endpoint)
