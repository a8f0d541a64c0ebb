"""What the analysis functions do with frames they cannot use as given: hand-built tables with
bad cells, models whose rows are all judge errors, a selection with one source, and a GEE
that fails."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from eudaimonia_nb.analysis import gee, mixed
from eudaimonia_nb.analysis.frames import JudgmentsError
from eudaimonia_nb.analysis.rates import model_rates, real_vs_modified, violation_rates
from eudaimonia_nb.analysis.selection import group_by_source
from eudaimonia_nb.formatting import readable_table

from lme4_cases import separated_case, small_case


def _good() -> pd.DataFrame:
    return small_case()


@pytest.mark.parametrize("edit, column, expected", [
    (lambda f: f.assign(violation=f["violation"].where(f.index != 5, 2.0)), "violation",
     r"row 5: column 'violation': 2\.0; expected 1, 0 or NaN"),
    (lambda f: f.assign(violation=f["violation"].astype(object).where(f.index != 3, "1")), "violation",
     r"row 3: column 'violation': '1'; expected 1, 0 or NaN"),
    (lambda f: f.assign(source=f["source"].where(f.index != 7, "rewritten")), "source",
     r"row 7: column 'source': 'rewritten'; expected 'real' or 'modified'"),
    (lambda f: pd.concat([f, f.iloc[[4]]], ignore_index=True), "model",
     r"row 352: column 'model': a second row for model 'B', prompt 'p000'.*first at row 4"),
])
@pytest.mark.parametrize("analysis", [
    lambda f: violation_rates(f, "model"), lambda f: model_rates(f, n_boot=20),
    lambda f: real_vs_modified(f, n_boot=20), lambda f: mixed.fit_mixed(f, use_cache=False),
    lambda f: gee.fit_gee(f, use_cache=False),
])
def test_every_public_analysis_refuses_a_bad_hand_built_frame(edit, column, expected, analysis):
    with pytest.raises(JudgmentsError, match=expected) as info:
        analysis(edit(_good()))
    assert info.value.column == column and "analysis input" in str(info.value)


def test_a_prompt_with_two_sources_is_named():
    frame = _good()
    first = frame.index[frame["prompt_id"] == "p001"][1]
    frame.loc[first, "source"] = "real"  # p001 is modified
    with pytest.raises(JudgmentsError, match=r"'real' for prompt 'p001'.*one source per prompt"):
        real_vs_modified(frame, n_boot=20)


def test_a_model_with_only_errors_gets_a_line_not_a_silent_gap():
    frame = _good()
    ghost = frame[frame["model"] == "A"].assign(model="ghost", violation=np.nan, error="HTTP 500")
    frame = pd.concat([frame, ghost], ignore_index=True)
    n = len(ghost)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy "mean of empty slice" on the way
        split = real_vs_modified(frame, n_boot=50).set_index("model")
        rates = model_rates(frame, n_boot=50).set_index("model")
    assert split.loc["ghost", "note"] == f"no judged checks: all {n:,} rows are judge errors"
    assert rates.loc["ghost", "note"] == f"no judged checks: all {n:,} rows are judge errors"
    assert split.loc["A", "note"] == "" and np.isnan(split.loc["ghost", "diff"])
    fit = mixed.fit_mixed(frame, use_cache=False)
    assert fit.left_out == (f"model 'ghost' has no judged checks (all {n:,} rows are judge errors) and is left out",)
    assert "NOTE: model 'ghost'" in fit.message
    assert "'ghost'" in gee.fit_gee(frame, use_cache=False).message


def test_one_source_left_gives_a_message_and_no_numpy_warnings():
    frame = _good()
    only_modified = frame[frame["source"] == "modified"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        split = real_vs_modified(only_modified, n_boot=50)
        groups = group_by_source(only_modified, n_boot=50)
    assert split["diff"].isna().all() and split["diff_adj"].isna().all()
    assert (split["note"] == "no judged real checks in this selection, so no real-versus-modified gap").all()
    assert split.attrs["notes"] == ["Only modified judged checks in this selection: a real-versus-modified gap "
                                    "needs both sources (no real checks)."]
    assert groups.attrs["notes"] == split.attrs["notes"]
    with pytest.raises(JudgmentsError, match="both real and modified prompts are needed"):
        mixed.fit_mixed(only_modified, use_cache=False)


def _diverging_gee_frame() -> pd.DataFrame:
    # One model violates on every modified check: with source x model the GEE iterations
    # diverge (statsmodels returns NaN for every coefficient).
    frame = separated_case()
    frame = frame[frame["model"].isin(["mid", "low"])].copy()
    frame.loc[(frame["model"] == "mid") & (frame["source"] == "modified"), "violation"] = 1.0
    return frame


def test_a_failed_gee_is_reported_as_a_failure_never_as_disagreement():
    frame = _diverging_gee_frame()
    failed = gee.fit_gee(frame, interaction=True, use_cache=False)
    assert failed.failure.startswith("the estimates are not finite")
    assert failed.params["estimate"].isna().all() and not failed.converged
    assert failed.reading().startswith("GEE failed: the estimates are not finite")
    assert "compatible with no difference" not in failed.reading()
    fitted = mixed.fit_mixed(frame, interaction=True, use_cache=False)
    verdict = gee.compare(fitted, failed)
    assert verdict.startswith("GEE failed:") and "DISAGREE" not in verdict and "not a disagreement" in verdict
    # The same selection without the interaction fits, and compare() reads it as usual.
    ok = gee.fit_gee(frame, use_cache=False)
    assert not ok.failure and "GEE failed" not in gee.compare(mixed.fit_mixed(frame, use_cache=False), ok)


def test_the_log_scale_interval_of_a_boundary_sd_is_zero_to_infinity_without_a_warning():
    from eudaimonia_nb.analysis.rates import Z95, log_scale_interval

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # An SD at the optimiser's floor with a log-scale SE far past exp's range (as a boundary fit gives).
        assert log_scale_interval(1e-4, 1e6) == (0.0, float("inf"))
        assert log_scale_interval(1e-4, float("inf")) == (0.0, float("inf"))
        low, high = log_scale_interval(0.8, 0.25)
        assert np.isnan(log_scale_interval(0.8, float("nan"))).all()  # the crossed fit has no SE
    assert low == pytest.approx(0.8 * np.exp(-Z95 * 0.25)) and high == pytest.approx(0.8 * np.exp(Z95 * 0.25))


def _boundary_design(benchmark, n_prompts: int = 40):
    prompts = benchmark.checks["prompt_id"].drop_duplicates().sample(n_prompts, random_state=0)
    return benchmark.checks[benchmark.checks["prompt_id"].isin(prompts)]


def test_a_boundary_mixed_fit_reports_an_infinite_upper_sd_without_an_overflow(benchmark):
    from eudaimonia_nb.analysis.simulate import simulate_with_truth

    # No prompt effect, 40 prompts: the prompt SD ends at its floor and its log-scale SE is huge.
    frame, _ = simulate_with_truth("common", seed=0, design=_boundary_design(benchmark), models=1, prompt_sd=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit = mixed.fit_mixed(frame, small_sample=False, use_cache=False)
    sd = fit.variance_components.set_index("name").loc["prompt_id"]
    assert sd["sd"] < 1e-3 and sd["sd_ci_low"] == 0.0 and sd["sd_ci_high"] == float("inf")
    assert "at or near 0" in fit.message
    assert readable_table(fit.variance_components).iloc[0].str.contains(r"\[0\.00, ∞\]").any()


def test_a_boundary_study_fit_reports_an_infinite_upper_sd_without_an_overflow(benchmark):
    from eudaimonia_nb.analysis.conditions import fit_condition_model
    from eudaimonia_nb.analysis.simulate import simulate_with_truth

    design = _boundary_design(benchmark)
    plain, _ = simulate_with_truth("common", seed=0, design=design, models=1, prompt_sd=0.0)
    steered, _ = simulate_with_truth("common", seed=10, design=design, models=1, prompt_sd=0.0)
    frame = pd.concat([plain.assign(condition="plain"), steered.assign(condition="steered")], ignore_index=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit = fit_condition_model(frame, use_cache=False)
    sd = fit.variance_components.set_index("name").loc["prompt_id"]
    assert sd["sd"] < 1e-3 and sd["sd_ci_low"] == 0.0 and sd["sd_ci_high"] == float("inf")
