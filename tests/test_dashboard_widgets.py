"""The dashboard object in a Python process: data sources, filters, in-place figure updates,
errors shown as messages, and the notebook run top to bottom by nbclient."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pandas as pd
import plotly.graph_objects as go
import pytest
from nbclient import NotebookClient

from eudaimonia_nb.analysis.simulate import demo_judgments
from eudaimonia_nb.benchmark.design_code import REQUIREMENTS
from eudaimonia_nb.analysis.published import leaderboard
from eudaimonia_nb.plots.analysis import sync_figure
from eudaimonia_nb.report import (FIGURE_NAMES, SIMULATED_NOTICE, DataSource, build_section, filter_frame,
                                  published_rows)
from eudaimonia_nb.widgets.dashboard import Dashboard

REPO = Path(__file__).resolve().parent.parent
NOTEBOOK = REPO / "notebooks" / "03_analysis.ipynb"


@pytest.fixture(scope="module")
def dashboard():
    return Dashboard(DataSource("demo"))


def test_source_spec_parsing():
    assert DataSource.parse("demo") == DataSource("demo")
    assert DataSource.parse("store:/x/r.sqlite#a, b") == DataSource("store", Path("/x/r.sqlite"), ("a", "b"))
    assert DataSource.parse("file:/x/j.csv") == DataSource("file", Path("/x/j.csv"))
    for bad in ("store:", "ftp:/x", "/just/a/path"):
        with pytest.raises(ValueError, match="EUDAIMONIA_DASHBOARD_SOURCE"):
            DataSource.parse(bad)


def test_principle_filter_keeps_only_its_requirements():
    frame = demo_judgments()
    out = filter_frame(frame, principles=[3])
    assert set(out["requirement"]) == {r.key for r in REQUIREMENTS if r.principle == 3}
    assert filter_frame(frame, models=[]).empty
    assert out.attrs["simulated"] is True


def test_sync_figure_updates_the_same_widget_in_place():
    widget = go.FigureWidget(go.Figure(go.Scatter(x=[1, 2], y=["a", "b"])))
    same = sync_figure(widget, go.Figure(go.Scatter(x=[3], y=["c"]), layout=dict(title="new")))
    assert same is widget and len(widget.data) == 1
    assert list(widget.data[0].x) == [3] and widget.layout.title.text == "new"
    # A figure with a different set of traces replaces them, in the same widget.
    sync_figure(widget, go.Figure([go.Bar(x=["r"], y=[1]), go.Bar(x=["r"], y=[2])]))
    assert [t.type for t in widget.data] == ["bar", "bar"]
    # The synced state a late-connecting browser reads follows the updates.
    assert [t["type"] for t in widget._widget_data] == ["bar", "bar"]


def test_published_leaderboard_is_matched_by_name_and_shown_as_context():
    board = leaderboard()
    rows = published_rows(pd.Series(["openai/gpt-4o-2024-08-06", "my-model"]), context=True)
    assert len(rows) == len(board)
    assert rows.set_index("model").loc["GPT-4o", "row"] == "openai/gpt-4o-2024-08-06"
    assert rows.set_index("model").loc["Grok 3", "row"] == "Grok 3"  # context row of its own
    only = published_rows(pd.Series(["openai/gpt-4o-2024-08-06", "my-model"]), context=False)
    assert list(only.dropna(subset=["row"])["model"]) == ["GPT-4o"]


def test_real_data_leaderboard_sits_in_the_published_one_with_its_match_in_the_table():
    frame = demo_judgments()
    frame = frame[frame["model"].isin(["GPT-4o", "Grok 3"])].drop(columns=["simulated"])
    frame.attrs = {}
    frame["model"] = frame["model"].replace({"GPT-4o": "gpt-4o-2024-08-06"})
    section = build_section("leaderboard", frame)
    own, published = section.figures["leaderboard"].data
    assert sorted(own.y) == ["Grok 3", "gpt-4o-2024-08-06"]
    assert len(published.y) == len(leaderboard()) and "gpt-4o-2024-08-06" in published.y
    table = section.tables[0].frame.set_index("model")
    assert table.loc["gpt-4o-2024-08-06", "published_model"] == "GPT-4o"
    assert table.loc["gpt-4o-2024-08-06", "published_rate"] == leaderboard().set_index("model").loc["GPT-4o", "overall"]


def test_gaps_and_the_gee_cross_check_are_visible_without_hovering(dashboard):
    dashboard.select_tab("real_vs_modified")
    try:
        comparison = dashboard.sections["real_vs_modified"].tables[0].frame
        notes = [a.text for a in dashboard.figures["dumbbell"].layout.annotations]
        assert len(notes) == len(comparison) == 22 and all("Holm p" in n for n in notes)
        # The requirement-adjusted gap leads, with the raw gap beside it.
        assert all(" · raw " in n for n in notes)
        significant = comparison["p_holm_adj"] < 0.05
        assert sum(n.startswith("<b>") for n in notes) == significant.sum() > 0
        assert len(dashboard.figures["groups"].layout.annotations) == 3
    finally:
        dashboard.select_tab("leaderboard")


def test_model_filter_changes_the_leaderboard_in_place(dashboard):
    figure = dashboard.figures["leaderboard"]
    assert len(figure.data[0].y) == 22
    dashboard.models.value = ("GPT-4o", "Grok 3")
    try:
        assert dashboard.figures["leaderboard"] is figure
        assert sorted(figure.data[0].y) == ["GPT-4o", "Grok 3"]
        table = dashboard.sections["leaderboard"].tables[0].frame
        assert sorted(table["model"]) == ["GPT-4o", "Grok 3"]
    finally:
        dashboard.models.value = tuple(dashboard.models.options)


def test_tabs_are_computed_when_opened_and_show_the_banner(dashboard):
    assert "coviolation" not in dashboard.sections
    dashboard.select_tab("coviolation")
    assert "coviolation" in dashboard.sections
    heat = dashboard.figures["coviolation"].data[0]
    assert heat.type == "heatmap" and len(heat.z) == 9
    assert dashboard.tabs["coviolation"].banner.layout.display != "none"
    dashboard.principles.value = (1,)
    try:
        assert len(dashboard.figures["coviolation"].data[0].z) == 3
        # The synced state a browser connecting now would read shows the update too.
        assert len(dashboard.figures["coviolation"]._widget_data[0]["z"]) == 3
        assert "leaderboard" not in dashboard.sections  # recomputed when next opened
    finally:
        dashboard.principles.value = (1, 2, 3)
        dashboard.select_tab("leaderboard")


def test_an_empty_selection_says_so_instead_of_failing(dashboard):
    dashboard.requirements.value = ()
    try:
        status = dashboard.tabs["leaderboard"].status.value
        assert "No requirement is selected" in status
        annotations = dashboard.figures["leaderboard"].layout.annotations
        assert annotations and "No judged checks" in annotations[0].text
    finally:
        dashboard.requirements.value = tuple(r.key for r in REQUIREMENTS)
    assert not dashboard.figures["leaderboard"].layout.annotations


def test_a_bad_results_file_is_reported_in_the_status_line(tmp_path):
    bad = tmp_path / "judgments.csv"
    pd.DataFrame({"model": ["m"], "prompt_id": ["p1"], "requirement": ["2C_deference"],
                  "source": ["imaginary"], "violation": [1]}).to_csv(bad, index=False)
    board = Dashboard(DataSource("file", bad))
    assert "Could not load" in board.status.value and "judgments.csv" in board.status.value
    assert "source" in board.status.value
    assert board.frame.empty and not board.sections


def test_a_results_file_loads_without_the_banner(tmp_path):
    frame = demo_judgments().drop(columns=["simulated"])
    frame = frame[frame["model"].isin(["GPT-4o", "GPT-5.5"])]
    path = tmp_path / "shared.csv"
    frame.to_csv(path, index=False)
    board = Dashboard(DataSource("file", path))
    assert sorted(board.figures["leaderboard"].data[0].y) == ["GPT-4o", "GPT-5.5"]
    assert all(tab.banner.layout.display == "none" for tab in board.tabs.values())
    csv = board.tabs["leaderboard"].tables.children[0].children[1]
    assert csv.filename == "leaderboard.csv" and csv.content.startswith("model,")
    assert board.report_download.layout.display == "none"
    text = board.export_report()
    assert board.report_download.content == text and board.report_download.layout.display != "none"
    assert text.count('class="plotly-graph-div"') == sum(len(v) for v in FIGURE_NAMES.values())
    assert SIMULATED_NOTICE not in text and "GPT-5.5" in text


def test_notebook_runs_top_to_bottom(monkeypatch):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    monkeypatch.setenv("EUDAIMONIA_DASHBOARD_SOURCE", "demo")
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error" or o.get("name") == "stderr"]
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs)


def test_forest_plot_shows_the_gee_estimates_beside_the_mixed_model():
    frame = filter_frame(demo_judgments(), models=["GPT-4o", "Grok 3"])
    section = build_section("mixed", frame)
    mixed, gee = section.figures["forest"].data
    assert mixed.name.startswith("Mixed") and gee.name.startswith("GEE")
    gee_table = next(t.frame for t in section.tables if t.name == "gee_params").set_index("term")
    source = list(gee.y).index("Modified vs real prompt")
    assert abs(gee.x[source] - gee_table.loc["source[T.modified]", "odds_ratio"]) < 1e-9


def test_a_run_with_only_judge_errors_still_shows_its_data_and_methods(tmp_path):
    frame = demo_judgments().drop(columns=["simulated"])
    frame = frame[frame["model"] == "GPT-4o"].head(40).copy()
    frame["violation"] = float("nan")
    frame["error"] = "unparseable judge reply: prose"
    path = tmp_path / "all-errors.csv"
    frame.to_csv(path, index=False)
    board = Dashboard(DataSource("file", path))
    assert "All 40 checks" in board.tabs["leaderboard"].status.value
    board.select_tab("methods")
    methods = board.tabs["methods"]
    assert "0 with a verdict and 40 judge errors" in methods.notes.value
    assert "eud-error" not in methods.status.value
    text = board.export_report()
    assert "only Data &amp; methods is shown" in text or "only Data & methods is shown" in text
    assert text.count('class="plotly-graph-div"') == len(FIGURE_NAMES["methods"])
