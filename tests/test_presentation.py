"""Presentation: paper-like table formatting, shareable run protocols, messages that name the
true cause, and labels that carry "simulated" with every figure and table."""

from __future__ import annotations

import io
import math

import pandas as pd

from eudaimonia_nb.analysis.simulate import demo_judgments
from eudaimonia_nb.store.outputs import csv_table
from eudaimonia_nb.formatting import fmt_interval, fmt_p, fmt_pct, readable_table, term_label
from eudaimonia_nb.plots.analysis import gap_label
from eudaimonia_nb.judging.pricing import Price
from eudaimonia_nb.report import DataSource, build_section, filter_frame
from eudaimonia_nb.judging.run_protocols import protocol_summary, shareable_settings
from eudaimonia_nb.judging.recording import RunSummary, Tally
from eudaimonia_nb.widgets.dashboard import Dashboard


def test_numbers_read_like_a_paper():
    assert fmt_p(0.0004) == "< 0.001" and fmt_p(0.012345) == "0.0123" and fmt_p(1.0) == "1.00"
    assert fmt_p(math.nan) == "–"
    assert fmt_pct(0.39148) == "39.1%" and fmt_interval(0.1, 0.1423) == "[10.0, 14.2]"
    assert fmt_interval(-0.0221, 0.06, "pts") == "[-2.2, +6.0]"
    assert term_label("requirement[T.2C_flattery_tone]") == "Requirement: 2C Flattery tone"
    table = pd.DataFrame({"model": ["m"], "rate": [0.25], "ci_low": [0.2], "ci_high": [0.3], "p_holm": [0.0001],
                          "term": ["source[T.modified]"]})
    shown = readable_table(table, simulated=True)
    assert list(shown.columns) == ["Model", "Violation rate", "95% CI", "Holm p", "Term", "Simulated"]
    assert shown.iloc[0].tolist() == ["m", "25.0%", "[20.0, 30.0]", "< 0.001", "Modified vs real prompt", "yes"]
    assert "Simulated" not in readable_table(table).columns
    csv = csv_table(table, simulated=False)
    assert list(csv.columns)[:4] == ["model", "rate", "ci_low", "ci_high"] and not csv["simulated"].any()


def test_gap_labels_say_when_a_gap_is_not_estimable():
    assert gap_label(0.05, 0.01, 0.09, 1.0) == "Δ +5.0 pts [+1.0, +9.0], Holm p = 1.00"
    assert gap_label(0.05, 0.01, 0.09, 0.0001).startswith("<b>") and "Holm p < 0.001" in gap_label(0.05, 0.01, 0.09, 0.0001)
    assert gap_label(math.nan, math.nan, math.nan, math.nan) == "Δ not estimable"


def test_a_protocol_summary_names_what_differs_and_shares_no_path_or_key_name():
    params = {"temperature": 0.2, "max_tokens": 2048, "judge_temperature": 0.0, "system_prompt": "Be kind.",
              "prompt_ids": [f"p{i}" for i in range(92)], "api_key_env": "MY_SECRET_VAR",
              "store_path": "/home/me/data/results.sqlite", "base_url": "https://api.example.com/v1/deploy?key=1",
              "judge_base_url": "http://10.0.0.2:8000/v1", "model": "m", "smoke_test": None, "concurrency": 16}
    summary = protocol_summary(params, smoke_test=True)
    assert summary == ("smoke test (not research results); system prompt set (authors: none); temperature 0.2 "
                       "(authors 0.7); subset: 92 chosen prompts")
    shared = shareable_settings(params)
    for private in ("MY_SECRET_VAR", "/home/me", "/v1", "deploy", "key=1", "p91", "concurrency", "None"):
        assert private not in shared, private
    assert "base_url=api.example.com" in shared and "judge_base_url=10.0.0.2" in shared and "prompt_ids=92 ids" in shared
    assert protocol_summary({"temperature": 0.7, "max_tokens": 2048}) == "authors' settings"


def test_a_selection_with_one_source_is_not_estimable_rather_than_an_error():
    frame = demo_judgments()
    real = frame[(frame["source"] == "real") & frame["model"].isin(["GPT-4o", "Grok 3"])]
    for key in ("real_vs_modified", "mixed"):
        section = build_section(key, real)
        assert section.notes == ["Not estimable: only real prompts in this selection; comparing real with "
                                 "modified prompts needs both."]
        assert all(f.layout.annotations[0].text.startswith("Not estimable: only real prompts") for f in section.figures.values())
    unjudged = real.assign(violation=float("nan"))  # every check a judge error: no source left at all
    assert build_section("mixed", unjudged).notes == ["Not estimable: no judged prompts in this selection; comparing "
                                                      "real with modified prompts needs judged prompts of both."]


def test_simulated_data_says_so_on_every_figure_and_legend():
    frame = filter_frame(demo_judgments(), models=["GPT-4o", "Grok 3"])
    for key in ("leaderboard", "requirements", "real_vs_modified", "coviolation", "methods"):
        for fig in build_section(key, frame).figures.values():
            assert fig.layout.title.text.startswith("Simulated demo · ")
            assert not any((t.name or "").startswith("This data") for t in fig.data)


def test_an_unpriced_model_that_was_called_has_an_unknown_cost_never_zero():
    tally = Tally(RunSummary("r", 1, 1), {"priced": Price(1.0, 2.0)})
    tally.add("priced", 1000, 1000)
    assert tally.cost() is not None and tally.cost() > 0
    tally.add("local-unpriced", 0, 0)  # an endpoint that reports no usage
    assert tally.cost() is None


def test_the_dashboard_names_the_true_cause_of_an_empty_selection_and_shows_the_selected_models():
    board = Dashboard(DataSource("demo"))
    board.models.value = ("GPT-4o", "Grok 3")
    assert "2 of 22 models: GPT-4o, Grok 3" in board.selection_note.value
    board.requirements.value = ("1B_human_pronoun",)
    board.principles.value = (2,)
    status = board.tabs["leaderboard"].status.value
    assert "Requirements and Principles exclude each other" in status and "P1" in status
    board.principles.value = (1, 2, 3)
    board.models.value = ()
    assert "No model is selected" in board.tabs["leaderboard"].status.value
    board.source_kind.value = "store"
    board.path.value = ""
    assert board.current_source().path is not None and board.current_source().path.name == "results.sqlite"


def test_on_a_phone_titles_wrap_legends_go_under_and_gap_labels_give_way():
    from eudaimonia_nb.plots.analysis import fit_to_width
    import plotly.graph_objects as go

    frame = filter_frame(demo_judgments(), models=["GPT-4o", "Grok 3"])
    dumbbell = build_section("real_vs_modified", frame).figures["dumbbell"]
    phone = go.Figure(dumbbell)
    fit_to_width(phone, 324)
    assert "<br>" in phone.layout.title.text and phone.layout.legend.y < 0 and phone.layout.width == 324
    assert all(a.visible is False for a in phone.layout.annotations) and phone.layout.margin.r == 20
    fit_to_width(phone, 1300)  # turned to landscape on a tablet: back to the desktop layout
    assert "<br>" not in phone.layout.title.text and phone.layout.legend.y == 1.0
    assert all(a.visible is not False for a in phone.layout.annotations)
    assert dumbbell.layout.width is None  # the section's own figure (used by the report) is untouched
    # The model groups' names take two lines, so that three of them side by side do not run into
    # each other on a phone.
    groups = build_section("real_vs_modified", frame).figures["groups"]
    assert list(groups.data[0].x) == ["target<br>(1 model)", "other<br>(1 model)"]


def test_on_a_phone_requirement_axes_read_code_and_first_word_upright():
    from eudaimonia_nb.plots.analysis import fit_to_width
    import plotly.graph_objects as go

    frame = filter_frame(demo_judgments(), models=["GPT-4o", "Grok 3"])
    bars = go.Figure(build_section("methods", frame).figures["overview"])
    names = list(bars.data[0].x)
    assert names[0] == "1B Intentional human speech"
    fit_to_width(bars, 324)
    # Two requirements share the code 2C: the first word tells them apart.
    assert list(bars.layout.xaxis.ticktext) == ["1B Intentional", "1B Human", "1C Identity", "2A Fabricated",
                                                "2B Emotion", "2C Deference", "2C Flattery", "2D Human",
                                                "3A Engagement"]
    assert list(bars.layout.xaxis.tickvals) == names and bars.layout.xaxis.tickangle == -90
    assert list(bars.data[0].x) == names  # the hover and a click still carry the full name
    fit_to_width(bars, 1300)
    assert bars.layout.xaxis.ticktext is None and bars.layout.xaxis.tickangle == -30
    heat = go.Figure(build_section("coviolation", frame).figures["coviolation"])
    fit_to_width(heat, 324)
    assert heat.layout.yaxis.ticktext[0] == "1B Intentional" and heat.layout.xaxis.ticktext[-1] == "3A Engagement"
    board = go.Figure(build_section("leaderboard", frame).figures["leaderboard"])
    fit_to_width(board, 324)
    assert board.layout.yaxis.ticktext is None  # model names are not requirements


def test_a_variance_at_the_boundary_is_warned_on_the_page_not_only_in_the_log():
    from eudaimonia_nb.analysis.simulate import simulate_with_truth

    # No prompt effect at all: the fitted prompt SD sits at 0, where its interval is meaningless.
    frame, _ = simulate_with_truth("common", seed=3, models=2, prompt_sd=0.0)
    section = build_section("mixed", frame)
    cautions = [n for n in section.notes if "Fit warning" in n]
    assert cautions and "prompt SD" in cautions[0] and "at or near 0" in cautions[0]
    assert "eud-caution" in cautions[0]


def _downloads(board: Dashboard, key: str) -> list[pd.DataFrame]:
    board.select_tab(key)
    return [pd.read_csv(io.StringIO(box.children[1].content)) for box in board.tabs[key].tables.children]


def test_every_csv_download_says_whether_its_numbers_are_simulated(tmp_path):
    board = Dashboard(DataSource("demo"))
    board.models.value = ("GPT-4o", "Grok 3")
    for key in ("leaderboard", "requirements", "real_vs_modified", "methods"):
        tables = _downloads(board, key)
        assert tables, key
        for table in tables:
            assert table.columns[-1] == "simulated" and table["simulated"].all(), key
    own = filter_frame(demo_judgments(), models=["GPT-4o"]).drop(columns=["simulated"])
    own.to_csv(tmp_path / "shared.csv", index=False)
    [table] = _downloads(Dashboard(DataSource("file", tmp_path / "shared.csv")), "leaderboard")
    assert table.columns[-1] == "simulated" and not table["simulated"].any()
