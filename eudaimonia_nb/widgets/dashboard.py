"""The analysis dashboard: ``notebooks/03_analysis.ipynb`` shows ``Dashboard().widget``.

Controls choose the data (embedded simulated demo, a results store, a results file) and
filter models, requirements and principles. Each tab is one section of ``eudaimonia_nb.report``;
its Plotly ``FigureWidget``s are created once and updated in place. Only the visible tab is
computed after a change (the others when next opened), and the mixed-model tab fits when it
is opened, with a progress message; fits are cached by the analysis module.
"""

from __future__ import annotations

import html
import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timezone

import anywidget
import ipywidgets as w
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import traitlets

from ..analysis.conventions import SHORT_NAMES
from ..analysis.frames import is_simulated
from ..benchmark.design_code import REQUIREMENTS
from ..paths import user_path
from ..plots.analysis import empty_figure, fit_to_width, refresh_synced_state, sync_figure
from ..report import (CROSS_CHECKS_PENDING, FIGURE_NAMES, HEAVY_SECTIONS, RUNS_ATTR, SECTION_TITLES, DataSource,
                      Options, Section, VERDICT_FREE_SECTIONS, build_report, build_section, filter_frame,
                      has_verdicts, load_source, notices, plural, principle_options)
from ..report.repeats import NOISE_SDS_PENDING, REPEAT_FIGURE_NAMES, REPEAT_SECTIONS, checks_text, shown_sections
from ..store.results import default_store_path
from .figures import plotly_loader, shared_figure
from .layout import STYLE, DownloadButton, busy, tables_widgets
from .url_state import UrlState, hash_to_state, state_to_hash
from .responses import ResponsesView, drilldown_filters

log = logging.getLogger(__name__)

LOAD_ERRORS = (OSError, ValueError, KeyError, sqlite3.Error)
"""What a bad path, file or run id raises; shown in the status line, never as a traceback."""
FIT_ERRORS = (ValueError, np.linalg.LinAlgError)
"""What an analysis raises on a selection it cannot fit (e.g. a single source left)."""

class _WidthProbe(anywidget.AnyWidget):
    """Reports the page's content width, so figures created inside a tab can be given it.

    Plotly sizes a figure when it is first drawn; a figure added to a tab is drawn before the
    tab has laid it out and would stay at Plotly's default 700 px.
    """

    _esm = """
    function render({ model, el }) {
      const report = () => {
        const width = el.parentElement ? el.parentElement.clientWidth : 0;
        if (width > 0 && Math.abs(width - model.get("width")) > 8) {
          model.set("width", width);
          model.save_changes();
        }
      };
      setTimeout(report, 0);
      window.addEventListener("resize", () => setTimeout(report, 150));
    }
    export default { render };
    """
    width = traitlets.Int(0).tag(sync=True)


class _Tab:
    """The widgets of one tab: banner (simulated / smoke-test data), status line, figures,
    notes and tables.

    Figure widgets are created the first time the tab is computed (with that first figure),
    so opening the page renders only the first tab's figure; later changes update them in place.
    ``on_figure(name, widget)`` is called after every update of a figure (to attach click handlers,
    which a change of trace types would drop).
    """

    def __init__(self, key: str, on_figure: Callable[[str, go.FigureWidget], None] | None = None) -> None:
        self.key = key
        self.on_figure = on_figure
        self.simulated = False
        self.banner = w.HTML("")
        self.status = w.HTML("")
        self.figures: dict[str, go.FigureWidget] = {}
        self.figure_box = w.VBox([])
        self.lead = w.HTML("")
        self.notes = w.HTML("")
        self.tables = w.VBox([])
        self.status.add_class("eud-tab-status")
        self.box = w.VBox([self.banner, self.status, self.lead, self.figure_box, self.notes, self.tables])

    def set_notices(self, warnings: Sequence[str]) -> None:
        self.banner.value = "".join(f"<div class='eud-banner'>⚠ {html.escape(n)}</div>" for n in warnings)
        self.banner.layout.display = "" if warnings else "none"

    def show(self, section: Section, width: int | None) -> None:
        new = False
        for name, fig in section.figures.items():
            fig = go.Figure(fig)  # a copy: the section's figures also go into the report as they are
            fit_to_width(fig, width)
            if name in self.figures:
                sync_figure(self.figures[name], fig)
            else:
                self.figures[name] = shared_figure(fig)
                new = True
        if new:
            self.figure_box.children = list(self.figures.values())
        if self.on_figure:
            for name in section.figures:
                self.on_figure(name, self.figures[name])
        self.lead.value = "".join(f"<div class='eud-lead'>{n}</div>" for n in section.lead)
        self.notes.value = "".join(f"<p class='eud-note'>{n}</p>" for n in section.notes)
        self.tables.children = tables_widgets(section.tables, self.simulated)


class Dashboard:
    """The analysis dashboard; display ``.widget``."""

    def __init__(self, source: DataSource | None = None, *, options: Options = Options(),
                 load: bool = True) -> None:
        self.options = options
        self.frame: pd.DataFrame = pd.DataFrame()
        self.sections: dict[str, Section] = {}
        self._stale: set[str] = set(SECTION_TITLES)
        self._quiet = False
        self.source = source or DataSource.from_environment()
        self._build_controls(self.source)
        self.tabs = {key: _Tab(key, self._attach_drilldown) for key in (*SECTION_TITLES, *REPEAT_SECTIONS)}
        self.repeat_tabs: list[str] = []
        """Repeat-only sections shown for the loaded data (the Noise tab, for runs with repeats)."""
        self.responses = ResponsesView()
        self._studies_box = w.VBox([])
        self._studies = None
        self._texts: pd.DataFrame | None = None
        # Tabs that are widgets of their own rather than report sections, after the sections:
        # key -> (title, widget, called when the tab is opened after a change).
        self.panels: dict[str, tuple[str, w.Widget, Callable[[], None]]] = {
            "responses": ("Responses", self.responses, self._refresh_responses),
            "studies": ("Studies", self._studies_box, lambda: self.studies.compute()),
        }
        self._stale = set(self.tab_keys)
        self._prompts: dict[str, str] | None = None
        self._responses_of: pd.DataFrame | None = None
        self.tab_bar = w.Tab()
        self._lay_out_tabs()
        self.tab_bar.observe(self._on_tab, "selected_index")
        # The open tab (and the Responses tab's filters and item) live in the page's URL: a link
        # opens the same view.
        self.url = UrlState()
        self.url.observe(self._on_link, "opened")
        self.responses.on_state = self._write_url
        self._probe = _WidthProbe()
        self._probe.observe(self._on_width, "width")
        self.widget = w.VBox([w.HTML(STYLE), plotly_loader(), self._probe, self.url, self._controls, self.tab_bar],
                             layout=w.Layout(width="100%"))
        if load:
            self.load()

    def _lay_out_tabs(self) -> None:
        """The tab bar's children and titles: the sections, the repeat-only ones that apply, the panels."""
        keys = self.tab_keys
        titles = {**SECTION_TITLES, **REPEAT_SECTIONS, **{k: p[0] for k, p in self.panels.items()}}
        self.tab_bar.children = [self.tabs[k].box if k in self.tabs else self.panels[k][1] for k in keys]
        self.tab_bar.titles = [titles[k] for k in keys]

    @property
    def studies(self):  # -> StudiesPanel
        """The Studies panel, built when first needed: its analyses (conditions, power, attributes)
        are imported then, not before the first figure."""
        if self._studies is None:
            from .studies import studies_panel

            self._studies = studies_panel(self)
            self._studies_box.children = [self._studies.widget]
        return self._studies

    @property
    def figures(self) -> dict[str, go.FigureWidget]:
        """Every figure widget created so far, by name (see ``report.FIGURE_NAMES``)."""
        return {name: fig for tab in self.tabs.values() for name, fig in tab.figures.items()}

    @classmethod
    def from_environment(cls) -> Dashboard:
        """The data source named by ``$EUDAIMONIA_DASHBOARD_SOURCE`` (default: the demo)."""
        return cls(DataSource.from_environment())

    # -- controls -------------------------------------------------------------------------
    def _build_controls(self, source: DataSource) -> None:
        self.source_kind = w.Dropdown(
            options=[("Simulated demo (no API key, no network)", "demo"),
                     ("Runs in a results store (SQLite)", "store"),
                     ("Results file (CSV / JSONL / Parquet)", "file")],
            value=source.kind, description="Data", layout=w.Layout(width="380px"))
        self.path = w.Text(value=str(source.path or ""), placeholder="path (relative to where you started; empty: data/results.sqlite)",
                           description="Path", layout=w.Layout(width="460px"))
        self.run_ids = w.Text(value=",".join(source.run_ids), placeholder="all runs",
                              description="Run ids", layout=w.Layout(width="300px"))
        self.refresh_button = w.Button(description="Load / refresh", button_style="primary")
        self.refresh_button.on_click(lambda _: self.load())
        self.export_button = w.Button(description="Export report")
        self.export_button.on_click(lambda _: self.export_report())
        self.report_download = DownloadButton(description="Download report (HTML)", mime="text/html",
                                              filename="eudaimonia-report.html")
        self.with_sample = w.Checkbox(value=False, indent=False, layout=w.Layout(width="auto"),
                                      description="with sample responses (may be sensitive)")
        self.report_download.layout.display = "none"
        self.status = w.HTML("", layout=w.Layout(min_height="20px"))
        # The errors convention is part of every rate shown, so it is a control, not a setting.
        self.errors = w.Dropdown(options=[(label, key) for key, label in SHORT_NAMES.items()],
                                 value=self.options.errors, description="Errors", layout=w.Layout(width="300px"))
        self.errors.observe(self._on_errors, "value")
        self.models = w.SelectMultiple(description="Models", rows=8, layout=w.Layout(width="340px"))
        self.requirements = w.SelectMultiple(
            options=[(r.label, r.key) for r in REQUIREMENTS], value=[r.key for r in REQUIREMENTS],
            description="Requirements", rows=8, layout=w.Layout(width="440px"))
        self.principles = w.SelectMultiple(
            options=principle_options(), value=[n for _, n in principle_options()],
            description="Principles", rows=3, layout=w.Layout(width="390px"))
        for control in (self.models, self.requirements, self.principles):
            control.style.description_width = "100px"  # fits "Requirements" without clipping
            control.observe(self._on_filter, "value")
        self.source_kind.observe(self._on_kind, "value")
        self._on_kind()
        help_text = w.HTML("<span class='eud-status'>Ctrl/⌘-click to select several; "
                           "filters combine (a requirement must match both lists).</span>")
        self.selection_note = w.HTML("", layout=w.Layout(max_width="100%"))
        # The filters fold into one line that says what is selected, so that the first screen
        # shows results (the three open lists took most of it).
        self.filters = w.Accordion(children=[w.VBox([w.HBox([self.models, self.requirements, self.principles]),
                                                     help_text, self.selection_note])],
                                   titles=("Filters",), selected_index=None)
        self.filters.add_class("eud-filters")
        self._controls = w.VBox([
            w.HBox([self.source_kind, self.path, self.run_ids, self.errors, self.refresh_button, self.export_button,
                    self.with_sample, self.report_download]),
            self.status,
            self.filters,
        ])
        self._controls.add_class("eud-controls")

    def _on_kind(self, _change: object = None) -> None:
        demo = self.source_kind.value == "demo"
        self.path.layout.display = "none" if demo else ""
        self.run_ids.layout.display = "" if self.source_kind.value == "store" else "none"

    def current_source(self) -> DataSource:
        """The data source the controls describe."""
        kind = self.source_kind.value
        runs = tuple(r.strip() for r in self.run_ids.value.split(",") if r.strip())
        path = user_path(self.path.value.strip()) if self.path.value.strip() else None
        if kind == "store" and path is None:
            path = default_store_path()  # an empty path means the default store, as on the command line
        return DataSource(kind, path, runs if kind == "store" else ())

    # -- data -----------------------------------------------------------------------------
    def load(self) -> bool:
        """(Re)load the data the controls point at and redraw; False (and a message) on error."""
        started = time.perf_counter()
        try:
            source = self.current_source()
            self._set_status(f"Loading {html.escape(source.describe())} …")
            frame = load_source(source, texts=False)
        except LOAD_ERRORS as exc:
            self._set_status(f"Could not load the data: {html.escape(str(exc))}", error=True)
            return False
        self.source, self.frame, self._texts = source, frame, None
        if shown_sections(frame) != self.repeat_tabs:
            selected = self.selected_key
            self.repeat_tabs = shown_sections(frame)
            self._lay_out_tabs()
            self.tab_bar.selected_index = self.tab_keys.index(selected) if selected in self.tab_keys else 0
        self._set_models(sorted(frame["model"].astype(str).unique()))
        warnings = notices(frame)
        for tab in self.tabs.values():
            tab.set_notices(warnings)
            tab.simulated = is_simulated(frame)
        self.report_download.layout.display = "none"
        stamp = datetime.now(timezone.utc).strftime("%H:%M:%S UTC")
        self._set_status(f"{html.escape(source.describe())}: {checks_text(frame)}, "
                         f"{plural(frame['model'].nunique(), 'model')}; loaded {stamp} "
                         f"in {time.perf_counter() - started:.1f} s. Refresh to pick up new verdicts.")
        self._invalidate()
        return True

    def _set_models(self, models: Sequence[str]) -> None:
        previous = set(self.models.value)
        keep = [m for m in models if m in previous] or list(models)
        self._quiet = True
        try:
            self.models.options = list(models)
            self.models.value = keep
        finally:
            self._quiet = False

    def filtered(self) -> pd.DataFrame:
        """The loaded data under the current filters."""
        return filter_frame(self.frame, models=self.models.value, requirements=self.requirements.value,
                            principles=self.principles.value)

    def filters_title(self) -> str:
        """The folded filters' one line: what is selected, and that a click changes it."""
        if not self.models.options:
            return "Filters"
        n_models, n_all = len(self.models.value), len(self.models.options)
        principles = len(self.principles.value)
        return (f"Filters: {'all ' if n_models == n_all else ''}{n_models}{'' if n_models == n_all else f' of {n_all}'} "
                f"models · {len(self.filtered_requirements())} of {len(REQUIREMENTS)} requirements · "
                f"{principles} of {len(principle_options())} principles (click to change)")

    def _selection_text(self) -> str:
        models = list(self.models.value)
        if not self.models.options:
            return ""
        names = ", ".join(html.escape(m) for m in models[:12]) + (f" and {len(models) - 12} more" if len(models) > 12 else "")
        keys = set(self.filtered_requirements())
        return (f"<span class='eud-status'><b>Selected:</b> {len(models)} of {len(self.models.options)} models"
                f"{': ' + names if models else ''}; {len(keys)} of {len(REQUIREMENTS)} requirements.</span>")

    def filtered_requirements(self) -> list[str]:
        """Requirement keys that pass both the Requirements and the Principles lists."""
        principles = set(self.principles.value)
        return [r.key for r in REQUIREMENTS if r.key in set(self.requirements.value) and r.principle in principles]

    def empty_cause(self) -> str:
        """Why the current filters select nothing, in words."""
        if not self.models.value:
            return "No model is selected: choose at least one under Models."
        if not self.requirements.value:
            return "No requirement is selected: choose at least one under Requirements."
        if not self.principles.value:
            return "No principle is selected: choose at least one under Principles."
        if not self.filtered_requirements():
            chosen = sorted({r.principle for r in REQUIREMENTS if r.key in set(self.requirements.value)})
            return ("Requirements and Principles exclude each other: the selected requirements belong to "
                    f"principle{'s' if len(chosen) != 1 else ''} {', '.join(f'P{p}' for p in chosen)}, which "
                    "the Principles list leaves out. Select a matching principle or other requirements.")
        return "No checks in the data match the current filters."

    # -- rendering ------------------------------------------------------------------------
    def _on_errors(self, _change: object) -> None:
        self.options = replace(self.options, errors=self.errors.value)
        self._invalidate()

    def _on_filter(self, _change: object) -> None:
        if not self._quiet:
            self._invalidate()

    def _on_tab(self, _change: object) -> None:
        self._render(self.selected_key)
        self._write_url()

    def _write_url(self) -> None:
        """The view into the URL fragment: the tab, and the Responses tab's own state."""
        key = self.selected_key
        state: dict[str, list[str]] = {"tab": [key]}
        if key == "responses" and self.responses.index is not None:
            state.update(self.responses.state())
        self.url.hash = state_to_hash(state) if (key != self.tab_keys[0] or len(state) > 1) else ""

    def _on_link(self, change: dict) -> None:
        """A link was opened (or a fragment pasted): show the view it names."""
        state = hash_to_state(change["new"] or "")
        tab = (state.pop("tab", None) or [""])[0]
        if tab not in self.tab_keys:
            return
        if tab == "responses":
            self._render("responses")
            self.responses.apply_state(state)
        self.select_tab(tab)
        self._write_url()

    @property
    def tab_keys(self) -> list[str]:
        """Keys of every tab, in order: the report sections, then the panels."""
        return [*SECTION_TITLES, *self.repeat_tabs, *self.panels]

    @property
    def selected_key(self) -> str:
        return self.tab_keys[self.tab_bar.selected_index or 0]

    def _invalidate(self) -> None:
        self._stale = set(self.tab_keys)
        self.sections.clear()
        self._selection_changed()
        self._render(self.selected_key)

    def _selection_changed(self) -> None:
        """Withdraw an exported report (it showed another selection) and say what is selected."""
        if self.report_download.content:
            self.report_download.content = ""
            self.report_download.layout.display = "none"
            self._set_status("The selection changed: <b>Export report</b> again for a report of this selection.")
        self.selection_note.value = self._selection_text()
        self.filters.set_title(0, self.filters_title())

    def _render(self, key: str) -> None:
        if key not in self._stale:
            return
        if key in self.panels:
            self.panels[key][2]()
            self._stale.discard(key)
            return
        tab = self.tabs[key]
        frame = self.filtered()
        if frame.empty or (not has_verdicts(frame) and key not in VERDICT_FREE_SECTIONS):
            message = "No judged checks match the current filters"
            title = SECTION_TITLES.get(key) or REPEAT_SECTIONS[key]
            tab.show(Section(key, title, figures={
                name: empty_figure(title, message) for name in FIGURE_NAMES.get(key) or REPEAT_FIGURE_NAMES[key]}),
                self.figure_width)
            tab.lead.value, tab.notes.value, tab.tables.children = "", "", []
            hint = (self.empty_cause() if frame.empty else
                    f"All {len(frame):,} checks in this selection are judge errors or not judged yet: "
                    "Data &amp; methods shows them.")
            tab.status.value = f"<span class='eud-status'>{hint}</span>"
            self._stale.discard(key)
            return
        # A heavy section is drawn twice: the fit as soon as it is there, then with its
        # cross-checks, so the tab is never blank for the slowest part.
        stages = ([replace(self.options, cross_checks=False), self.options] if key in HEAVY_SECTIONS
                  or key in REPEAT_SECTIONS else [self.options])
        fitting = "the nested model of every verdict" if key in REPEAT_SECTIONS else "the mixed-effects model"
        pending = NOISE_SDS_PENDING if key in REPEAT_SECTIONS else CROSS_CHECKS_PENDING
        tab.status.value = busy(f"Fitting {fitting} for this selection (first time only; fits are cached)…"
                                if len(stages) > 1 else "Updating…")
        started = time.perf_counter()
        for options in stages:
            try:
                section = build_section(key, frame, options)
            except FIT_ERRORS as exc:
                tab.status.value = (f"<span class='eud-error'>Not estimable for this selection "
                                    f"({html.escape(str(exc))}); a wider selection (more prompts or models) may be.</span>")
                self._stale.discard(key)
                return
            tab.show(section, self.figure_width)
            if options is not self.options:
                tab.status.value = busy(pending)
        self.sections[key] = section
        self._stale.discard(key)
        took = time.perf_counter() - started
        log.info("section %s computed in %.2f s", key, took)
        tab.status.value = (f"<span class='eud-status'>{checks_text(frame)}, "
                            f"{plural(frame['model'].nunique(), 'model')}; computed in {took:.1f} s.</span>")

    @property
    def figure_width(self) -> int | None:
        """Width for figures (the page's, less the tab's padding); None until the page reports it."""
        return self._probe.width - 40 if self._probe.width > 200 else None

    def _on_width(self, _change: object) -> None:
        width = self.figure_width
        for fig in [*self.figures.values(), *(self._studies.figures.values() if self._studies else ())]:
            fit_to_width(fig, width)
            refresh_synced_state(fig)

    def select_tab(self, key: str) -> None:
        """Open a tab by section or panel key (computes it if needed)."""
        self.tab_bar.selected_index = self.tab_keys.index(key)

    # -- responses ------------------------------------------------------------------------
    def prompt_texts(self) -> dict[str, str]:
        """Prompt id -> text from the benchmark file, read once; empty when it is not here."""
        if self._prompts is None:
            from ..benchmark.dataset import prompt_texts

            self._prompts = prompt_texts()
        return self._prompts

    def with_texts(self) -> pd.DataFrame:
        """The loaded data with each check's response and reasoning (read from a store when first
        asked: the first figure does not wait for them)."""
        if self._texts is None:
            if self.source.kind == "store" and "response" not in self.frame.columns:
                from ..store.results import load_judgments as load_store

                texts = load_store(self.source.path, list(self.source.run_ids) or None, texts=True)
                # Row for row the loaded table (same query, same order) unless a run grew since.
                same = len(texts) == len(self.frame) and texts[["run_id", "prompt_id", "requirement"]].equals(
                    self.frame[["run_id", "prompt_id", "requirement"]])
                self._texts = (texts if same else self.frame.merge(
                    texts[["run_id", "prompt_id", "requirement", "response", "reasoning"]],
                    on=["run_id", "prompt_id", "requirement"], how="left").set_axis(self.frame.index))
                self._texts.attrs = dict(self.frame.attrs)
            else:
                self._texts = self.frame
        return self._texts

    def _refresh_responses(self) -> None:
        if self._responses_of is not self.frame:
            protocols = {str(r["run_id"]): str(r.get("protocol", "")) for r in self.frame.attrs.get(RUNS_ATTR) or []}
            self.responses.set_data(self.with_texts(), prompts=self.prompt_texts(), protocols=protocols,
                                    store_path=str(self.source.path) if self.source.kind == "store" else None)
            self._responses_of = self.frame
        selected = set(self.filtered()["requirement"].unique()) if not self.frame.empty else set()
        self.responses.set_scope(models=self.models.value, requirements=selected)

    def _attach_drilldown(self, name: str, figure: go.FigureWidget) -> None:
        for trace in figure.data:
            trace.on_click(lambda trace, points, _state: self._drill(trace, points))

    def _drill(self, trace: object, points: object) -> None:
        """A click on a chart's point, cell or bar opens the Responses tab on those checks."""
        xs, ys = list(getattr(points, "xs", []) or []), list(getattr(points, "ys", []) or [])
        if not xs or not ys:
            return
        filters = drilldown_filters(getattr(trace, "name", None), xs[0], ys[0], list(self.models.options))
        if not filters:
            return
        self._render("responses")
        self.responses.show(**filters)
        self.select_tab("responses")

    def export_report(self) -> str:
        """Build the static HTML report of the current selection and offer it for download."""
        self.status.value = busy("Building the report (fits the mixed model if not cached)…")
        try:
            frame = self.filtered()
            if self.with_sample.value:  # the sample shows responses: read them now
                texts = self.with_texts()
                frame = texts.loc[frame.index] if texts is not self.frame else frame
                frame.attrs = dict(self.frame.attrs)
            text = build_report(frame, source=self.source.describe(public=True), options=self.options,
                                computed=self.sections, sample_responses=3 if self.with_sample.value else 0,
                                prompts=self.prompt_texts() if self.with_sample.value else None)
        except FIT_ERRORS as exc:
            self._set_status(f"Could not build the report: {html.escape(str(exc))}", error=True)
            return ""
        stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
        self.report_download.filename = f"eudaimonia-report-{stamp}.html"
        self.report_download.content = text
        self.report_download.description = f"Download report ({len(text) / 1e6:.1f} MB HTML)"
        self.report_download.layout.display = ""
        self._set_status("Report ready: use the download button.")
        return text

    def _set_status(self, message: str, *, error: bool = False) -> None:
        cls = "eud-error" if error else "eud-status"
        self.status.value = f"<span class='{cls}'>{message}</span>"
