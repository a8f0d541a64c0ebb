"""Read by a person: runs named by their judge, a rejudge beside its source run, judge
comparisons in words and points, on a store made the default way (authors' protocol)."""

from __future__ import annotations

import pytest
from reader_store import JUDGE, MODEL, OTHER_MODEL, REJUDGE, make_reader_store

from eudaimonia_nb.formatting import readable_table
from eudaimonia_nb.report import DataSource, build_section, load_source


@pytest.fixture(scope="module")
def reader(tmp_path_factory, dataset_path):
    return make_reader_store(tmp_path_factory.mktemp("reader") / "results.sqlite", dataset_path)


@pytest.fixture(scope="module")
def frame(reader):
    return load_source(DataSource("store", reader.path))


def test_runs_are_named_by_model_judge_and_protocol_never_by_run_id(reader, frame):
    labels = frame.drop_duplicates("run_id").set_index("run_id")["model"]
    assert labels[reader.run_id] == f"{MODEL} · judge {JUDGE} · authors protocol"
    assert labels[reader.rejudge_id] == f"{MODEL} · judge {REJUDGE} · authors protocol"
    assert labels[reader.other_id] == OTHER_MODEL  # one run: its name is enough
    assert not any(reader.run_id in label for label in labels)


def test_a_rejudge_is_drawn_under_its_source_run_with_a_marker_of_its_own(reader, frame):
    section = build_section("leaderboard", frame)
    figure = section.figures["leaderboard"]
    rows = list(figure.layout.yaxis.categoryarray)
    source, again = f"{MODEL} · judge {JUDGE} · authors protocol", f"{MODEL} · judge {REJUDGE} · authors protocol"
    # Categories run bottom-up: the rejudge is the row right under its source, whatever their rates.
    assert rows.index(again) == rows.index(source) - 1
    rejudges = [t for t in figure.data if t.name.startswith("Rejudge")]
    assert len(rejudges) == 1 and list(rejudges[0].y) == [again] and rejudges[0].marker.symbol == "square-open"
    assert all(again not in list(t.y) for t in figure.data if not t.name.startswith(("Rejudge", "Published")))
    hover = [c[-1] for c in rejudges[0].customdata]
    assert hover == [f"rejudge of {source}; run {reader.rejudge_id}"]
    # Published models not in the data sit below the runs, under a rule.
    own = {source, again, OTHER_MODEL}
    assert set(rows[-3:]) == own and not own & set(rows[:-3])
    table = readable_table(section.tables[0].frame)
    assert "Rejudge of" in table.columns and (table["Rejudge of"] == source).sum() == 1


def test_judge_comparison_columns_say_judge_b_minus_judge_a_in_points(reader, frame):
    section = build_section("judge_compare", frame)
    assert len(section.tables) == 1
    table = section.tables[0]
    assert f"Judge A: {MODEL} · judge {JUDGE} · authors protocol" in table.title
    assert f"Judge B: {MODEL} · judge {REJUDGE} · authors protocol" in table.title
    shown = readable_table(table.frame)
    assert "Judge B − judge A (points)" in shown.columns and "Judge B − judge A 95% CI" in shown.columns
    assert not any("Modified" in c or "real" in c for c in shown.columns), list(shown.columns)
    # Rates as percentages, the difference in signed points, kappa as a number with its interval.
    assert shown["Rate, judge A"].str.fullmatch(r"\d+\.\d%|–").all()
    assert shown["Judge B − judge A (points)"].str.fullmatch(r"[+-]\d+\.\d pts|–").all()
    assert "κ" in shown.columns and "κ 95% CI" in shown.columns
    assert "McNemar p" in shown.columns and "p_mcnemar" not in shown.columns
    # The CSV keeps full precision under names that cannot be mistaken either.
    assert "diff_judge_b_a" in table.frame.columns and "diff" not in table.frame.columns


def test_a_subset_run_is_not_promised_a_published_figure_of_its_scope(frame):
    from eudaimonia_nb.analysis.comparability import annotate_rates, comparability_note
    from eudaimonia_nb.analysis.rates import model_rates

    note = comparability_note(annotate_rates(model_rates(frame, n_boot=50), frame))
    assert "subset: 12 of 969 prompts" in note
    assert "no published figure of its own" in note and "figure of its scope" not in note
