"""The exploration tables, the prompt filter and the figures, on the real benchmark file."""

from __future__ import annotations

import re

import numpy as np
import pytest

from eudaimonia_nb import REQUIREMENT_KEYS, REQUIREMENTS
from eudaimonia_nb.benchmark import explore
from eudaimonia_nb.plots import MODEL_PALETTE, PRINCIPLE_LABELS, REQUIREMENT_LABELS, SOURCE_COLORS
from eudaimonia_nb.plots import explore as figures
from test_dataset import LABELS_PER_PROMPT, PER_REQUIREMENT

REWRITERS = {"Gemini3.1pro", "Opus4.6", "GPT5.4"}
RESPONDERS = {"GPT-4o", "Sonnet4", "Gemini2.0Flash"}


# --- tables ---------------------------------------------------------------------------------

def test_checks_by_requirement_equals_verified_counts(benchmark):
    table = explore.checks_by_requirement(benchmark)
    assert table["requirement"].tolist() == list(REQUIREMENT_KEYS)
    got = {row.requirement: (row.real, row.modified) for row in table.itertuples()}
    assert got == PER_REQUIREMENT
    assert (table["total"] == table["real"] + table["modified"]).all()
    assert table[["real", "modified", "total"]].sum().tolist() == [960, 2187, 3147]
    # grouped by principle: principles never interleave down the table
    assert table["principle"].is_monotonic_increasing
    assert table.set_index("requirement")["principle"].to_dict() == {r.key: r.principle for r in REQUIREMENTS}


def test_labels_per_prompt_equals_verified_counts(benchmark):
    table = explore.labels_per_prompt(benchmark)
    assert table.index.tolist() == list(range(1, 10))
    assert table["total"].to_dict() == LABELS_PER_PROMPT
    assert table["real"].sum() == 322 and table["modified"].sum() == 647
    # checks = sum over prompts of their label counts, per source
    assert (table.index.to_numpy() * table["real"]).sum() == 960
    assert (table.index.to_numpy() * table["modified"]).sum() == 2187


def test_cooccurrence_diagonal_symmetry_and_a_cell_recounted(benchmark):
    counts = explore.cooccurrence(benchmark)
    assert counts.shape == (9, 9)
    assert counts.index.tolist() == counts.columns.tolist() == list(REQUIREMENT_KEYS)
    assert {k: counts.loc[k, k] for k in REQUIREMENT_KEYS} == {k: sum(v) for k, v in PER_REQUIREMENT.items()}
    assert np.array_equal(counts.to_numpy(), counts.to_numpy().T)
    # one off-diagonal cell counted the slow, obvious way
    a, b = "2B_emotion_expression", "2C_flattery_tone"
    expected = sum(a in r and b in r for r in benchmark.prompts["requirements"])
    assert counts.loc[a, b] == expected > 0


def test_cooccurrence_by_source_adds_up(benchmark):
    real = explore.cooccurrence(benchmark, source="real")
    modified = explore.cooccurrence(benchmark, source="modified")
    assert (real + modified).equals(explore.cooccurrence(benchmark))
    assert {k: real.loc[k, k] for k in REQUIREMENT_KEYS} == {k: v[0] for k, v in PER_REQUIREMENT.items()}
    with pytest.raises(ValueError, match="unknown source 'wild'"):
        explore.cooccurrence(benchmark, source="wild")


def test_length_by_source(benchmark):
    stats = explore.length_by_source(benchmark)
    assert stats.index.tolist() == ["real", "modified"]
    assert stats["count"].tolist() == [322, 647]
    # the README's documented range of prompt lengths: 9 to 4,318 characters
    assert stats["min"].min() == 9 and stats["max"].max() == 4318
    real = benchmark.prompts.loc[benchmark.prompts["source"] == "real", "text"].str.len()
    assert stats.loc["real", "median"] == real.median()
    assert (stats["min"] <= stats["q25"]).all() and (stats["q25"] <= stats["median"]).all()
    assert (stats["median"] <= stats["q75"]).all() and (stats["q75"] <= stats["max"]).all()


def test_rewrites_by_model(benchmark):
    table = explore.rewrites_by_model(benchmark)
    assert len(table) == 9
    assert set(table["rewriter_model"]) == REWRITERS and set(table["responder_model"]) == RESPONDERS
    assert table["prompts"].sum() == 647 and table["checks"].sum() == 2187
    p = benchmark.prompts
    one = ((p["rewriter_model"] == "Opus4.6") & (p["responder_model"] == "Sonnet4")).sum()
    row = table[(table["rewriter_model"] == "Opus4.6") & (table["responder_model"] == "Sonnet4")]
    assert row["prompts"].item() == one


# --- filter ---------------------------------------------------------------------------------

def test_filter_requirements_any_versus_all(benchmark):
    p = benchmark.prompts
    keys = ["2B_emotion_expression", "2C_flattery_tone"]
    either = explore.filter_prompts(p, requirements=keys, match="any")
    both = explore.filter_prompts(p, requirements=keys, match="all")
    cooc = explore.cooccurrence(benchmark)
    assert len(both) == cooc.loc[keys[0], keys[1]]
    assert len(either) == cooc.loc[keys[0], keys[0]] + cooc.loc[keys[1], keys[1]] - len(both)
    assert all(set(keys) <= set(r) for r in both["requirements"])
    assert all(set(keys) & set(r) for r in either["requirements"])
    assert len(explore.filter_prompts(p, requirements=list(REQUIREMENT_KEYS), match="all")) == LABELS_PER_PROMPT[9]
    assert len(explore.filter_prompts(p)) == 969


def test_filter_source_rewriter_responder(benchmark):
    p = benchmark.prompts
    assert len(explore.filter_prompts(p, source="real")) == 322
    assert len(explore.filter_prompts(p, source=["real", "modified"])) == 969
    rewritten = explore.filter_prompts(p, rewriter="GPT5.4")
    assert set(rewritten["rewriter_model"]) == {"GPT5.4"} and set(rewritten["source"]) == {"modified"}
    pair = explore.filter_prompts(p, rewriter="GPT5.4", responder="Sonnet4")
    table = explore.rewrites_by_model(benchmark)
    expected = table[(table["rewriter_model"] == "GPT5.4") & (table["responder_model"] == "Sonnet4")]["prompts"].item()
    assert len(pair) == expected
    assert len(explore.filter_prompts(p, source="real", rewriter="GPT5.4")) == 0
    assert len(explore.filter_prompts(p, responder="GPT-4")) == 322


def test_filter_text_is_case_insensitive_and_literal(benchmark):
    p = benchmark.prompts
    lowered = p["text"].str.lower()
    for needle in [".", "?", "(", "*", "[", "+", "\\", "$"]:
        expected = sum(needle in t for t in lowered)
        assert len(explore.filter_prompts(p, text=needle)) == expected, needle
    # "." as a regex would match every prompt; literally it does not
    assert len(explore.filter_prompts(p, text=".")) < 969
    # a regex that would match many prompts matches none when taken literally
    assert len(explore.filter_prompts(p, text="a.*e")) == sum("a.*e" in t for t in lowered)
    upper = explore.filter_prompts(p, text="LONELY")
    lower = explore.filter_prompts(p, text="lonely")
    assert len(upper) == len(lower) > 0
    assert all(re.search("lonely", t, re.IGNORECASE) for t in upper["text"])


def test_filter_combines_and_reuses_an_index(benchmark):
    index = explore.PromptIndex.build(benchmark.prompts)
    got = explore.filter_prompts(index, requirements=["3A_engagement_hooks"], source="modified", text="you")
    p = benchmark.prompts
    expected = p[
        p["requirements"].map(lambda r: "3A_engagement_hooks" in r)
        & (p["source"] == "modified")
        & p["text"].str.lower().str.contains("you", regex=False)
    ]
    assert got["prompt_id"].tolist() == expected["prompt_id"].tolist()
    assert 0 < len(got) < 282


def test_filter_rejects_bad_arguments(benchmark):
    p = benchmark.prompts
    with pytest.raises(KeyError, match="unknown requirement '2Z_nonsense'"):
        explore.filter_prompts(p, requirements=["2Z_nonsense"])
    with pytest.raises(ValueError, match="match must be 'any' or 'all'"):
        explore.filter_prompts(p, requirements=["2C_deference"], match="some")
    with pytest.raises(ValueError, match="unknown source 'synthetic'"):
        explore.filter_prompts(p, source="synthetic")


# --- figures --------------------------------------------------------------------------------

def test_checks_figure_bars_match_table(benchmark):
    table = explore.checks_by_requirement(benchmark)
    fig = figures.checks_by_requirement_figure(table)
    assert [t.type for t in fig.data] == ["bar", "bar"]
    real, modified = fig.data
    assert list(real.y) == [v[0] for v in PER_REQUIREMENT.values()]
    assert list(modified.y) == [v[1] for v in PER_REQUIREMENT.values()]
    assert real.marker.color == SOURCE_COLORS["real"] and modified.marker.color == SOURCE_COLORS["modified"]
    principles, labels = real.x
    assert list(labels) == [REQUIREMENT_LABELS[k] for k in REQUIREMENT_KEYS]
    assert list(principles) == [PRINCIPLE_LABELS[r.principle] for r in REQUIREMENTS]
    assert "checks" in real.hovertemplate and fig.layout.barmode == "group"


def test_cooccurrence_figure_values(benchmark):
    counts = explore.cooccurrence(benchmark)
    fig = figures.cooccurrence_figure(counts)
    (heat,) = fig.data
    assert heat.type == "heatmap"
    assert np.array_equal(np.asarray(heat.z), counts.to_numpy())
    assert list(heat.x) == list(heat.y) == [REQUIREMENT_LABELS[k] for k in REQUIREMENT_KEYS]
    assert "prompts" in heat.hovertemplate


def test_labels_and_length_and_rewrites_figures(benchmark):
    labels = figures.labels_per_prompt_figure(explore.labels_per_prompt(benchmark))
    assert [t.name for t in labels.data] == ["Real (in-the-wild)", "Modified (rewritten)"]
    assert [a + b for a, b in zip(labels.data[0].y, labels.data[1].y)] == list(LABELS_PER_PROMPT.values())

    stats = explore.length_by_source(benchmark)
    length = figures.length_figure(stats)
    assert length.layout.xaxis.type == "log"
    assert [t.type for t in length.data] == ["box", "box"]
    assert [t.median[0] for t in length.data] == stats["median"].tolist()
    assert [t.upperfence[0] for t in length.data] == stats["max"].tolist()

    table = explore.rewrites_by_model(benchmark)
    rewrites = figures.rewrites_figure(table)
    # Readable names, as the paper writes them, in the suite's colour-blind-safe palette.
    readable = {figures.display_model_name(m): m for m in RESPONDERS | REWRITERS}
    assert {t.name for t in rewrites.data} == {"GPT-4o", "Claude Sonnet 4", "Gemini 2.0 Flash"}
    assert {x for t in rewrites.data for x in t.x} == {"GPT-5.4", "Gemini 3.1 Pro", "Claude Opus 4.6"}
    assert [t.marker.color for t in rewrites.data] == list(MODEL_PALETTE[:3])
    assert sum(sum(t.y) for t in rewrites.data) == 647
    for trace in rewrites.data:
        for rewriter, y in zip(trace.x, trace.y):
            row = table[(table["rewriter_model"] == readable[rewriter]) & (table["responder_model"] == readable[trace.name])]
            assert row["prompts"].item() == y
