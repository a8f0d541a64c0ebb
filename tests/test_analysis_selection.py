"""Model groups, the group x source gap, prompt-origin rates, and co-violation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from eudaimonia_nb.analysis.covariation import coviolation, coviolation_counts
from eudaimonia_nb.analysis.selection import by_prompt_origin, group_by_source, model_group


@pytest.mark.parametrize("name, group", [
    ("GPT-4o", "target"), ("gpt-4o", "target"), ("openai/gpt-4o-2024-08-06", "target"),
    ("gpt-4o-mini", "other"), ("claude-sonnet-4", "target"), ("claude-sonnet-4-20250514", "target"),
    ("Sonnet4", "target"), ("gemini-2.0-flash", "target"), ("Gemini2.0Flash", "target"),
    ("GPT-5.4", "rewriter"), ("gpt-5.4", "rewriter"), ("Gemini3.1pro", "rewriter"),
    ("claude-opus-4-6", "rewriter"), ("Opus4.6", "rewriter"), ("Claude Opus 4.7", "other"),
    ("GPT-5.5", "other"), ("Qwen3 8B", "other"),
])
def test_model_group_matches_names_tolerantly(name, group):
    assert model_group(name) == group


def _frame():
    rows = []
    # Target model: 1/2 real, 2/2 modified. Other model: 1/2 real, 1/2 modified.
    for model, verdicts in (("gpt-4o", (1, 0, 1, 1)), ("Qwen3 8B", (1, 0, 1, 0))):
        for i, v in enumerate(verdicts):
            source = "real" if i < 2 else "modified"
            rows.append((model, f"p{i}", "2C_deference", source, float(v), "",
                         None if source == "real" else "GPT5.4", "GPT-4" if source == "real" else "GPT-4o"))
    return pd.DataFrame(rows, columns=["model", "prompt_id", "requirement", "source", "violation", "error",
                                       "rewriter_model", "responder_model"])


def test_group_by_source_gap_by_hand():
    out = group_by_source(_frame(), n_boot=200).set_index("model_group")
    assert list(out.index) == ["target", "other"]
    assert out.loc["target", ["rate_real", "rate_modified", "diff"]].tolist() == [0.5, 1.0, 0.5]
    assert out.loc["other", ["rate_real", "rate_modified", "diff"]].tolist() == [0.5, 0.5, 0.0]
    assert out.loc["target", "n_models"] == 1


def test_by_prompt_origin_marks_the_confirming_model():
    out = by_prompt_origin(_frame(), n_boot=200)
    same = out[(out["kind"] == "responder") & out["tested_is_origin"]]
    assert len(same) == 1 and same.iloc[0]["origin_model"] == "GPT-4o" and same.iloc[0]["rate"] == 1.0
    with pytest.raises(KeyError, match="rewriter_model"):
        by_prompt_origin(_frame().drop(columns="rewriter_model"))


def test_coviolation_by_hand():
    rng = np.random.default_rng(0)
    rows = []
    for i in range(400):
        a = float(rng.random() < 0.5)
        b = a if rng.random() < 0.8 else 1 - a  # agrees 80% of the time: phi = 0.6
        rows += [("M", f"p{i}", "2B_emotion_expression", "real", a, ""), ("M", f"p{i}", "1C_identity_transparency", "real", b, "")]
        if i < 5:
            rows.append(("M", f"p{i}", "3A_engagement_hooks", "real", 1.0, ""))
    frame = pd.DataFrame(rows, columns=["model", "prompt_id", "requirement", "source", "violation", "error"])
    corr = coviolation(frame)
    wide = frame.pivot(index="prompt_id", columns="requirement", values="violation")
    expected = np.corrcoef(wide["2B_emotion_expression"], wide["1C_identity_transparency"])[0, 1]
    assert corr.shape == (9, 9)
    assert corr.loc["2B_emotion_expression", "1C_identity_transparency"] == pytest.approx(expected)
    assert 0.5 < expected < 0.7
    assert np.isnan(corr.loc["3A_engagement_hooks", "2B_emotion_expression"])  # 5 pairs, constant
    assert np.isnan(corr.loc["2C_deference", "2B_emotion_expression"])  # never together
    counts = coviolation_counts(frame)
    assert counts.equals(corr.attrs["pair_counts"])
    assert counts.loc["2B_emotion_expression", "1C_identity_transparency"] == 400
    assert counts.loc["3A_engagement_hooks", "2B_emotion_expression"] == 5


def test_within_model_coviolation_removes_differences_between_models():
    rng = np.random.default_rng(1)
    rows = []
    # Within each model the two requirements are independent; the models differ in rate.
    for model, rate in (("low", 0.1), ("high", 0.9)):
        for i in range(500):
            for key in ("2B_emotion_expression", "2C_deference"):
                rows.append((model, f"p{i}", key, "real", float(rng.random() < rate), ""))
    frame = pd.DataFrame(rows, columns=["model", "prompt_id", "requirement", "source", "violation", "error"])
    pair = ("2B_emotion_expression", "2C_deference")
    pooled = coviolation(frame).loc[pair]
    within = coviolation(frame, within_model=True).loc[pair]
    wide = frame.pivot_table(index=["model", "prompt_id"], columns="requirement", values="violation")
    centred = wide - wide.groupby(level="model").transform("mean")
    assert pooled == pytest.approx(np.corrcoef(wide[pair[0]], wide[pair[1]])[0, 1])
    assert within == pytest.approx(np.corrcoef(centred[pair[0]], centred[pair[1]])[0, 1])
    assert pooled > 0.5 and abs(within) < 0.1
