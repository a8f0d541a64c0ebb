"""The model-attribute file against its sources (the leaderboard file and the public model
names), and the attribute figures on published rates and on runs."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from eudaimonia_nb.analysis.attributes import ATTRIBUTES, BUDGET_ORDER, attribute_rates, load_attributes
from eudaimonia_nb.analysis.published import leaderboard
from eudaimonia_nb.analysis.simulate import simulate_judgments
from eudaimonia_nb.paths import published_dir
from eudaimonia_nb.plots.studies import NOT_PUBLISHED, attribute_figures

NAME = "model name"


@pytest.fixture(scope="module")
def attributes() -> pd.DataFrame:
    return load_attributes()


def test_leaderboard_rows_are_the_22_models_with_the_leaderboard_family(attributes):
    board = leaderboard()
    rows = attributes.loc[attributes["on_leaderboard"].astype(bool)]
    assert sorted(rows["model"]) == sorted(board["model"]) and len(rows) == 22
    family = dict(zip(board["model"], board["family"]))
    assert (rows["family"] == rows["model"].map(family)).all()
    assert rows["family_source"].str.startswith("leaderboard.csv").all()


def test_versions_and_parameter_counts_are_the_numbers_in_the_names(attributes):
    for _, row in attributes.iterrows():
        base = row["model"].split(" (")[0]  # the variants' names repeat the model's
        version = re.search(r"\d+(?:\.\d+)?", base)
        params = re.search(r"(\d+(?:\.\d+)?)B\b", base)
        assert (np.isnan(row["version"]) if version is None else row["version"] == float(version.group())), row["model"]
        assert (np.isnan(row["parameters_b"]) if params is None else row["parameters_b"] == float(params.group(1))), row["model"]
        assert row["version_source"] == (NAME if version else "")
        assert row["parameters_b_source"] == (NAME if params else "")


def test_generation_is_the_order_of_versions_within_family(attributes):
    known = attributes.dropna(subset=["version"])
    expected = known.groupby("family")["version"].rank(method="dense")
    assert (known["generation"] == expected).all()
    assert attributes.loc[attributes["version"].isna(), "generation"].isna().all()


def test_thinking_budgets_are_the_papers_and_have_no_published_rate(attributes):
    variants = attributes.loc[~attributes["on_leaderboard"].astype(bool)]
    assert list(variants["thinking_budget"]) == list(BUDGET_ORDER)
    assert list(variants["thinking"]) == [False, True, True, True]
    assert variants["thinking_source"].str.contains("arXiv:2605.30654").all()
    assert not set(variants["model"]) & set(leaderboard()["model"])
    # The leaderboard rows' thinking flag is the authors' list of thinking models (their artifact); the
    # budgets and open weights, which no source states for them, stay empty.
    board_rows = attributes.loc[attributes["on_leaderboard"].astype(bool)].set_index("model")
    authors_thinking = {"Gemini 3.1 Pro", "GPT-5.5", "Grok 4", "Grok 4.3", "DeepSeek v4 Pro", "Qwen3.6 Max"}
    assert set(board_rows.index[board_rows["thinking"].astype(bool)]) == authors_thinking
    assert board_rows["thinking"].notna().all()
    assert board_rows["thinking_source"].str.contains("analyze_results.py").all()
    assert board_rows["thinking_budget"].isna().all()
    assert attributes["open_weights"].isna().all()


def test_every_value_has_a_source_and_a_missing_one_is_refused(attributes, tmp_path):
    for attribute in ATTRIBUTES:
        filled = attributes[attribute].notna()
        assert attributes.loc[filled, f"{attribute}_source"].str.strip().ne("").all(), attribute
    raw = pd.read_csv(published_dir() / "model_attributes.csv", dtype=str, keep_default_na=False)
    raw.loc[3, "open_weights"] = "true"
    bad = tmp_path / "attributes.csv"
    raw.to_csv(bad, index=False)
    with pytest.raises(ValueError, match=r"attributes\.csv, line 5: column 'open_weights': value 'true' has no source"):
        load_attributes(bad)


def test_published_figures_say_what_is_not_published():
    table = attribute_rates()
    board = leaderboard().set_index("model")["overall"]
    on_board = table.loc[table["model"].isin(board.index)]
    assert np.allclose(on_board["rate"], on_board["model"].map(board)) and on_board["ci_low"].isna().all()
    figures = attribute_figures(table)
    budget_notes = [a.text for a in figures["budget"].layout.annotations]
    assert budget_notes == [NOT_PUBLISHED] * 4 and "publishes no rates" in figures["budget"].layout.title.text
    thinking = {t.name: set(t.x) for t in figures["thinking"].data}
    assert thinking["thinking on"] == {"Gemini 3.1 Pro", "GPT-5.5", "Grok 4", "Grok 4.3", "DeepSeek v4 Pro", "Qwen3.6 Max"}
    assert len(thinking["thinking off"]) == 22 - 6
    scale = figures["scale"].data
    assert len(scale) == 1 and list(scale[0].x) == [1.7, 4, 8, 14, 32]
    assert list(scale[0].y) == pytest.approx([100 * board[f"Qwen3 {s}B"] for s in ("1.7", "4", "8", "14", "32")])
    anthropic_opus = [t for t in figures["generation"].data if t.name == "Anthropic · Opus"][0]
    assert list(anthropic_opus.x) == [4.6, 4.7] and anthropic_opus.mode.startswith("lines")


def test_runs_get_intervals_and_user_attributes(attributes):
    frame = simulate_judgments("common", seed=3, models=["Qwen3 4B", "Qwen3 32B", "My model"])
    table = attribute_rates(frame, n_boot=200)
    assert set(table["model"]) == {"Qwen3 4B", "Qwen3 32B", "My model"}
    assert (table["ci_low"] < table["rate"]).all() and (table["rate"] < table["ci_high"]).all()
    assert table.loc[table["model"] == "My model", "family"].isna().all()
    scale = attribute_figures(table)["scale"].data[0]
    assert list(scale.x) == [4, 32] and scale.error_y.array is not None
    mine = attributes.iloc[:0].copy()
    mine.loc[0, ["model", "thinking", "thinking_source"]] = ["My model", True, "my own run settings"]
    thinking = attribute_figures(attribute_rates(frame, mine, n_boot=100))["thinking"]
    assert [list(t.x) for t in thinking.data] == [[], ["My model"]]
