"""What makes a tab's first open fast: figures share one copy of Plotly's JavaScript, and the
mixed-model tab draws its fit before its cross-checks. (The speed itself is measured by
benchmarks/bench_dashboard.py; these tests check the mechanisms, and the browser tests check
that the figures are drawn.)"""

from __future__ import annotations

from importlib import resources

import plotly.graph_objects as go
import pytest

from eudaimonia_nb.report import CROSS_CHECKS_PENDING, DataSource, Options, build_section
from eudaimonia_nb.widgets.dashboard import Dashboard
from eudaimonia_nb.widgets.figures import SharedFigureWidget, plotly_loader, shared_figure

BUNDLE = resources.files("plotly").joinpath("package_data", "widgetbundle.js").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def opened():
    """The demo dashboard with every tab opened once, and the mixed tab's status lines in order."""
    dashboard = Dashboard(DataSource("demo"))
    statuses: list[str] = []
    dashboard.tabs["mixed"].status.observe(lambda change: statuses.append(change["new"]), "value")
    for key in dashboard.tab_keys:
        dashboard.select_tab(key)
    return dashboard, statuses


def _widgets_in(widget) -> list:
    children = getattr(widget, "children", ())
    return [widget, *(w for child in children for w in _widgets_in(child))]


def test_the_bundle_travels_once_and_each_figure_carries_only_an_import(opened):
    dashboard, _ = opened
    figures = [w for w in _widgets_in(dashboard.widget) if isinstance(w, go.FigureWidget)]
    assert len(figures) >= 8  # every section's figures, the Studies panel's too
    assert all(isinstance(f, SharedFigureWidget) for f in figures)
    # Before: each figure synced the whole bundle (about 5 MB) as its module.
    assert sum(len(f._esm) for f in figures) < len(BUNDLE) / 100
    loaders = [w for w in _widgets_in(dashboard.widget) if w is plotly_loader()]
    assert len(loaders) == 2  # the dashboard's and the Studies panel's: one model, shown twice
    assert plotly_loader().bundle == BUNDLE and plotly_loader().layout.display == "none"


def test_a_shared_figure_is_an_ordinary_figure_widget_in_python():
    figure = shared_figure(go.Figure(go.Bar(x=["a"], y=[1])))
    clicks = []
    figure.data[0].on_click(lambda *args: clicks.append(args))
    figure.update_traces(y=[2])
    assert isinstance(figure, go.FigureWidget) and list(figure.data[0].y) == [2]
    assert figure._widget_data[0]["type"] == "bar"  # the state a browser reads when it connects
    assert "slot().ready" in figure._esm and "import(" in figure._esm


def test_the_mixed_tab_draws_the_fit_first_then_adds_its_cross_checks(opened):
    dashboard, statuses = opened
    pending = [i for i, s in enumerate(statuses) if CROSS_CHECKS_PENDING in s]
    done = [i for i, s in enumerate(statuses) if "computed in" in s]
    assert pending and done and pending[0] < done[-1]
    section = dashboard.sections["mixed"]  # what Export report reuses: the complete section
    names = [t.name for t in section.tables]
    assert "gee_params" in names and "selection_contrast" in names
    assert not any(CROSS_CHECKS_PENDING in n for n in section.notes)
    assert "GEE cross-check" in dashboard.figures["forest"].layout.title.text
    assert CROSS_CHECKS_PENDING not in dashboard.tabs["mixed"].status.value


def test_without_cross_checks_the_section_has_the_fit_and_says_what_is_coming():
    from eudaimonia_nb.analysis.simulate import demo_judgments

    frame = demo_judgments()
    quick = build_section("mixed", frame, Options(cross_checks=False))
    full = build_section("mixed", frame, Options())
    assert [t.name for t in quick.tables][:2] == ["mixed_model_params", "variance_components"]
    assert not {"gee_params", "selection_contrast"} & {t.name for t in quick.tables}
    assert any(CROSS_CHECKS_PENDING in n for n in quick.notes)
    assert "GEE" not in quick.figures["forest"].layout.title.text
    # The fit is the same in both (the second reuses the cached fit).
    assert quick.tables[0].frame.equals(full.tables[0].frame)
