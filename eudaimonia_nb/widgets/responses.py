"""Read the responses of saved runs: filter, page, open an item, compare two models.

``ResponsesView(frame, prompts=...)`` works in any notebook on a judgments table that carries
``response``/``reasoning`` (a results store loaded with ``texts=True`` or an exported file);
the dashboard shows it as its *Responses* tab and opens it filtered when a chart is clicked
(``show``). Every piece of prompt, response and reasoning text is HTML-escaped: it is untrusted.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

import ipywidgets as w
import numpy as np
import pandas as pd

from ..analysis.responses import VERDICT_KINDS, VERDICT_LABELS, VERDICT_PLURALS, Item, ResponseIndex, page_bounds
from ..benchmark.dataset import SOURCES
from ..benchmark.design_code import REQUIREMENTS, requirement
from ..formatting import plural
from ..judging.rubric_lookup import find_rubric
from ..plots import SOURCE_LABELS
from .browser import TEXT_BOX_STYLE, highlight
from .disagree import DisagreeBox
from .item_table import ItemTable
from .judging import VERDICT_STYLES

PAGE_SIZE = 10
NO_RESPONSES_DEMO = ("The simulated demo has no responses to read: it simulates verdicts only, calibrated to the "
                     "published figures. Load a results store (your own runs) or a results file exported with "
                     "<code>eudaimonia-nb export</code> to read prompts, responses and the judge's reasoning here.")
NO_RESPONSES_DATA = ("This data carries no response text (a results file without <code>response</code> and "
                     "<code>reasoning</code> columns). Verdicts are listed; export runs again with "
                     "<code>eudaimonia-nb export</code> to include the text.")
_DIFFER_STYLE = "background:#fff3b0;border-left:4px solid #000"
"""Rows where two models disagree: a yellow tint and a black bar (readable without colour vision)."""


def badge(kind: str) -> str:
    """A verdict as a coloured label (the words carry the meaning; colour only helps)."""
    colour = VERDICT_STYLES[kind][0]
    return (f"<span class='eud-verdict' data-verdict='{kind}' style='background:{colour};color:white;"
            f"padding:0 0.4em;border-radius:3px;white-space:nowrap'>{VERDICT_LABELS[kind]}</span>")


def rubric_html(key: str, used: str, protocol: str = "") -> str:
    """The rubric the verdict was judged with (found by its recorded version), folded, with its
    protocol and source; where that text is not on this machine, why and how to fetch it."""
    req = requirement(key)
    shown = find_rubric(key, used, protocol or None)
    summary = (f"Rubric {html.escape(req.label)}: <span class='eud-rubric-whose'>{html.escape(shown.title)}</span>")
    if shown.text is None:
        body = f"<div class='eud-rubric-missing' style='color:#8a1c00'>{html.escape(shown.missing)}</div>"
    else:
        body = (f"<div style='color:#555;font-size:12px'>Text from {html.escape(shown.source)}.</div>"
                f"<div class='eud-rubric-text' style='{TEXT_BOX_STYLE}'>{html.escape(shown.text)}</div>")
    return f"<details class='eud-rubric' data-protocol='{html.escape(shown.protocol or '')}'><summary>{summary}</summary>{body}</details>"


def item_html(item: Item, *, query: str = "", protocols: Mapping[str, str] | None = None,
              show_epoch: bool = False) -> str:
    """One item: prompt, response, and per requirement the verdict, reasoning, rubric, judge (per
    judge call when the response was judged more than once); ``show_epoch`` names the item's
    epoch (data where prompts were answered more than once)."""
    protocols = protocols or {}
    calls = "judge_repeat" in item.checks.columns and bool((item.checks["judge_repeat"] > 1).any())
    prompt = (highlight(item.prompt, query) if item.prompt else
              "<i>Prompt text not available: the benchmark file is not on this machine "
              "(<code>eudaimonia-nb fetch</code>).</i>")
    response = highlight(item.response, query) if item.response else "<i>No response recorded.</i>"
    rows = []
    for check in item.checks.to_dict("records"):
        req = requirement(check["requirement"])
        reason = check.get("reasoning") or ""
        detail = highlight(reason, query) if reason else ""
        if check["kind"] in ("error", "pending") and check.get("error"):
            detail = f"<span style='color:#555'>{html.escape(check['error'])}</span>" + (f"<br>{detail}" if detail else "")
        judge = check.get("judge_model", "")
        protocol = check.get("protocol") or ""
        settings = protocols.get(check.get("run_id", ""), "")  # the run's short protocol summary
        meta = " · ".join(p for p in (f"judge call {int(check['judge_repeat'])}" if calls else "",
                                      f"judge {html.escape(judge)}" if judge else "",
                                      f"protocol: {html.escape(protocol)}" if protocol else "",
                                      html.escape(settings)) if p)
        rows.append(f"<tr data-requirement='{html.escape(req.key)}'><td style='vertical-align:top'><b>{html.escape(req.label)}</b></td>"
                    f"<td style='vertical-align:top'>{badge(check['kind'])}</td>"
                    f"<td class='eud-reasoning' style='text-align:left'>{detail or '<i>no reasoning</i>'}"
                    f"<div style='color:#555;font-size:12px'>{meta}</div>"
                    f"{rubric_html(req.key, check.get('rubric_version', ''), protocol)}</td></tr>")
    epoch = f" · epoch {item.epoch}" if show_epoch else ""
    return (f"<div class='eud-item'><div><b>{html.escape(item.model)}</b> · prompt <code>{html.escape(item.prompt_id)}</code>"
            f"{epoch} · {html.escape(SOURCE_LABELS.get(item.source, item.source))}</div>"
            f"<div><b>Prompt</b></div><div class='eud-prompt' style='{TEXT_BOX_STYLE}'>{prompt}</div>"
            f"<div><b>Response</b></div><div class='eud-response' style='{TEXT_BOX_STYLE}'>{response}</div>"
            "<table class='eud-table eud-checks' style='width:100%'><tr><th>Requirement</th><th>Verdict</th>"
            f"<th style='text-align:left'>Judge's reasoning</th></tr>{''.join(rows)}</table></div>")


def pair_html(index: ResponseIndex, first: str, second: str, pairs: pd.DataFrame, prompt_id: str,
              *, query: str = "") -> str:
    """Two models on one prompt: requirements in rows with both verdicts (disagreements
    marked), the two responses in columns; one such block per epoch where prompts were answered
    more than once (epoch e of one model beside epoch e of the other)."""
    rows = pairs[pairs["prompt_id"] == prompt_id]
    if rows.empty:
        return ""
    prompt = index.prompt_text.get(prompt_id, "")
    calls = "judge_repeat" in rows.columns and bool((rows["judge_repeat"] > 1).any())
    epochs = sorted(int(e) for e in rows["epoch"].unique()) if "epoch" in rows.columns else [1]

    def column(name: str, item: Item | None) -> str:
        text = highlight(item.response, query) if item and item.response else "<i>No response recorded.</i>"
        return (f"<div style='flex:1 1 300px;min-width:0'><b>{html.escape(name)}</b>"
                f"<div class='eud-response' style='{TEXT_BOX_STYLE}'>{text}</div></div>")

    blocks = []
    for epoch in epochs:
        part = rows[rows["epoch"] == epoch] if "epoch" in rows.columns else rows
        code_a, code_b = index.code_of(first, prompt_id, epoch), index.code_of(second, prompt_id, epoch)
        item_a = index.item(code_a) if code_a is not None else None
        item_b = index.item(code_b) if code_b is not None else None
        body = []
        for row in part.to_dict("records"):
            style = f" style='{_DIFFER_STYLE}'" if row["differ"] else ""
            mark = " <b title='the verdicts differ'>≠</b>" if row["differ"] else ""
            call = f" <span style='color:#555'>(judge call {int(row['judge_repeat'])})</span>" if calls else ""
            body.append(f"<tr class='{'eud-differ' if row['differ'] else 'eud-agree'}'{style}>"
                        f"<td><b>{html.escape(requirement(row['requirement']).label)}</b>{call}{mark}</td>"
                        f"<td style='text-align:left'>{badge(row['kind_a'])}<div>{highlight(row['reasoning_a'], query)}</div></td>"
                        f"<td style='text-align:left'>{badge(row['kind_b'])}<div>{highlight(row['reasoning_b'], query)}</div></td></tr>")
        heading = f"<div><b>Epoch {epoch}</b></div>" if index.has_epochs else ""
        blocks.append(heading + "<div style='display:flex;flex-wrap:wrap;gap:12px'>" + column(first, item_a)
                      + column(second, item_b) + "</div>"
                      f"<table class='eud-table eud-pair-table' style='width:100%'><tr><th>Requirement</th>"
                      f"<th style='text-align:left'>{html.escape(first)}</th><th style='text-align:left'>"
                      f"{html.escape(second)}</th></tr>{''.join(body)}</table>")
    return (f"<div class='eud-pair'><div>Prompt <code>{html.escape(prompt_id)}</code></div>"
            + (f"<div class='eud-prompt' style='{TEXT_BOX_STYLE}'>{highlight(prompt, query)}</div>" if prompt else "")
            + "".join(blocks) + "</div>")


def drilldown_filters(trace_name: str | None, x: object, y: object, models: Sequence[str]) -> dict[str, list[str]]:
    """The Responses filters behind a clicked chart element: a model on the y axis, a
    requirement label on either axis, a source named by the trace (real / modified bars and
    markers). Empty when the element is not about checks in the data (a published figure)."""
    labels = {r.label: r.key for r in REQUIREMENTS}
    sources = {label: key for key, label in SOURCE_LABELS.items()}
    filters: dict[str, list[str]] = {}
    for value in (x, y):
        if isinstance(value, str) and value in models:
            filters["models"] = [value]
        if isinstance(value, str) and value in labels:
            filters["requirements"] = [labels[value]]
    if trace_name in sources:
        filters["sources"] = [sources[trace_name]]
    if not filters.get("models") and not filters.get("requirements"):
        return {}
    return filters


def _multi(description: str, rows: int = 5) -> w.SelectMultiple:
    box = w.SelectMultiple(description=description, rows=rows, layout=w.Layout(width="300px", max_width="100%"))
    box.style.description_width = "90px"
    return box


ITEM_COLUMNS = [["model", "Run", True], ["prompt_id", "Prompt", True], ["source", "Source", True],
                ["verdicts", "Verdicts", True], ["snippet", "Prompt text", False]]
"""Columns of the item list (key, header, sortable); the run is its label, model · judge · protocol."""
PAIR_COLUMNS = [["prompt_id", "Prompt", True], ["source", "Source", True], ["differ", "Verdicts that differ", True],
                ["snippet", "Prompt text", False]]
STATE_KEYS = ("mode", "model", "requirement", "source", "verdict", "run", "q", "a", "b", "differ", "item", "sort")
"""What ``state()`` keeps (and a link carries): the view, its filters, the open item and the sort."""


class ResponsesView(w.VBox):
    """Filter, page and open the items of a judgments table; or compare two models.

    Controls are public so code and tests can drive them: ``mode``, ``models``,
    ``requirements``, ``sources``, ``verdicts``, ``runs``, ``search``, ``prev_button``,
    ``next_button``, ``item_list`` (an ``ItemTable``: picking a row opens it in ``detail``),
    ``model_a``, ``model_b``, ``only_different``, ``disagree`` (the "disagree with the judge" box).
    An empty multiple selection means "all". Models, runs and verdicts filter the item list only;
    requirements, source and search filter both views; ``filters_note`` says what applies.
    ``state()`` / ``apply_state()`` read and set all of it as plain values (for the page's URL).
    """

    def __init__(self, frame: pd.DataFrame | None = None, *, prompts: Mapping[str, str] | None = None,
                 protocols: Mapping[str, str] | None = None, page_size: int = PAGE_SIZE,
                 store_path: str | None = None) -> None:
        self.page_size = page_size
        self.page = 0
        self.index: ResponseIndex | None = None
        self.store_path = store_path
        self.protocols: dict[str, str] = dict(protocols or {})
        self.scope: dict[str, Collection[str] | None] = {}
        self._quiet = False
        self.on_state: Callable[[], None] | None = None
        """Called after every change of view, filters, sort or open item (the dashboard keeps the URL)."""
        self.message = w.HTML("")
        self.mode = w.ToggleButtons(options=[("Items", "items"), ("Side by side", "pair")], value="items",
                                    style={"button_width": "110px"})
        self.models = _multi("Model")
        self.requirements = _multi("Requirement")
        self.runs = _multi("Run", rows=3)
        self.sources = w.Dropdown(options=[("any source", "")] + [(SOURCE_LABELS[s], s) for s in SOURCES],
                                  description="Source", layout=w.Layout(width="300px", max_width="100%"))
        self.verdicts = _multi("Verdict", rows=4)
        self.verdicts.options = [(VERDICT_LABELS[k], k) for k in VERDICT_KINDS]
        self.search = w.Text(placeholder="words in prompt, response or reasoning", description="Search",
                             continuous_update=False, layout=w.Layout(width="300px", max_width="100%"))
        self.model_a = w.Dropdown(description="Model A", layout=w.Layout(width="300px", max_width="100%"))
        self.model_b = w.Dropdown(description="Model B", layout=w.Layout(width="300px", max_width="100%"))
        self.only_different = w.Checkbox(value=False, description="only where they differ", indent=False)
        for control in (self.sources, self.search, self.model_a, self.model_b):
            control.style.description_width = "90px"
        self.pair_box = w.HBox([self.model_a, self.model_b, self.only_different],
                               layout=w.Layout(flex_flow="row wrap"))
        self.prev_button = w.Button(description="◀ Previous", layout=w.Layout(width="auto"))
        self.next_button = w.Button(description="Next ▶", layout=w.Layout(width="auto"))
        self.status = w.HTML("")
        self.filters_note = w.HTML("")
        self.item_list = ItemTable(columns=ITEM_COLUMNS)
        self.detail = w.HTML("")
        self.disagree = DisagreeBox()
        self.prev_button.on_click(lambda _: self.go_to(self.page - 1))
        self.next_button.on_click(lambda _: self.go_to(self.page + 1))
        for control in (self.models, self.requirements, self.runs, self.sources, self.verdicts, self.search,
                        self.model_a, self.model_b, self.only_different, self.mode):
            control.observe(self._on_filter, "value")
        self.item_list.observe(self._on_pick, "value")
        self.item_list.observe(self._on_sort, ["sort_by", "descending"])
        self.items_filters = w.HBox([self.models, self.verdicts, self.runs], layout=w.Layout(flex_flow="row wrap"))
        common = w.HBox([self.requirements, w.VBox([self.sources, self.search])], layout=w.Layout(flex_flow="row wrap"))
        pager = w.HBox([self.prev_button, self.next_button, self.status], layout=w.Layout(flex_flow="row wrap",
                                                                                        align_items="center"))
        self.body = w.VBox([self.mode, self.pair_box, self.items_filters, common, self.filters_note, pager,
                            self.item_list, self.detail, self.disagree])
        super().__init__([self.message, self.body])
        self.set_data(frame, prompts=prompts, protocols=protocols, store_path=store_path)

    # -- data -----------------------------------------------------------------------------
    def set_data(self, frame: pd.DataFrame | None, *, prompts: Mapping[str, str] | None = None,
                 protocols: Mapping[str, str] | None = None, store_path: str | None = None) -> None:
        """Index a new judgments table (None: nothing loaded); ``store_path``: where a
        "disagree with the judge" label is saved (None: nowhere, e.g. a results file)."""
        if protocols is not None:
            self.protocols = dict(protocols)
        self.store_path = store_path
        self.index = ResponseIndex(frame, prompts) if frame is not None and not frame.empty else None
        if self.index is None or (self.index.simulated and not self.index.has_responses):
            self.message.value = f"<p class='eud-note'>{NO_RESPONSES_DEMO if self.index else 'No data loaded.'}</p>"
            self.body.layout.display = "none"
            return
        self.body.layout.display = ""
        self.message.value = "" if self.index.has_responses else f"<p class='eud-note'>{NO_RESPONSES_DATA}</p>"
        self._quiet = True
        try:
            models = self.index.options("model")
            self.models.options = models
            self.requirements.options = [(requirement(k).label, k) for k in self.index.options("requirement")]
            runs = self.index.options("run_id")
            self.runs.options = runs
            self.runs.layout.display = "" if len(runs) > 1 else "none"
            self.model_a.options = models
            self.model_b.options = models
            if len(models) > 1:
                self.model_a.value, self.model_b.value = models[0], models[1]
            for control in (self.models, self.requirements, self.runs, self.verdicts):
                control.value = ()
            self.sources.value = ""
            self.search.value = ""
            self.item_list.sort_by, self.item_list.descending = "", False
        finally:
            self._quiet = False
        self.refresh()

    def set_scope(self, *, models: Collection[str] | None = None, requirements: Collection[str] | None = None) -> None:
        """Restrict every listing to a selection made elsewhere (the dashboard's filters)."""
        self.scope = {"models": models, "requirements": requirements}
        if self.index is not None:
            self.refresh()

    def show(self, *, models: Sequence[str] = (), requirements: Sequence[str] = (), sources: Sequence[str] = (),
             verdicts: Sequence[str] = ()) -> None:
        """Set the filters at once (a drill-down from a chart) and list what they match."""
        if self.index is None:
            return
        self._quiet = True
        try:
            self.mode.value = "items"
            self.models.value = tuple(m for m in models if m in self.models.options)
            keys = {v for _, v in self.requirements.options}
            self.requirements.value = tuple(r for r in requirements if r in keys)
            self.sources.value = sources[0] if len(sources) == 1 else ""
            self.verdicts.value = tuple(verdicts)
            self.runs.value = ()
            self.search.value = ""
        finally:
            self._quiet = False
        self.refresh()

    # -- state (a link opens the same view) ---------------------------------------------------
    def state(self) -> dict[str, list[str]]:
        """The view as plain values: mode, filters, the pair, the open item and the sort."""
        pairing = self.mode.value == "pair"
        picked = self.item_list.value
        item = ""
        if picked and self.index is not None:
            if pairing:
                item = picked
            else:
                code = int(picked)
                model, prompt_id, epoch = self.index.items[code]
                item = f"{model}|{prompt_id}" + (f"|{epoch}" if epoch != 1 else "")
        sort = f"{'-' if self.item_list.descending else ''}{self.item_list.sort_by}" if self.item_list.sort_by else ""
        state = {"mode": [self.mode.value], "requirement": list(self.requirements.value), "source": [self.sources.value],
                 "q": [self.search.value], "item": [item], "sort": [sort]}
        if pairing:
            state.update(a=[self.model_a.value or ""], b=[self.model_b.value or ""],
                         differ=["1" if self.only_different.value else ""])
        else:
            state.update(model=list(self.models.value), verdict=list(self.verdicts.value), run=list(self.runs.value))
        return {k: [v for v in values if v] for k, values in state.items() if any(values)}

    def apply_state(self, state: Mapping[str, Sequence[str]]) -> None:
        """Set the view from ``state()``'s values (unknown values are ignored), list, open the item."""
        if self.index is None:
            return

        def values(key: str) -> list[str]:
            return [str(v) for v in state.get(key, ())]

        def one(key: str, default: str = "") -> str:
            found = values(key)
            return found[0] if found else default

        self._quiet = True
        try:
            self.mode.value = "pair" if one("mode") == "pair" else "items"
            self.models.value = tuple(m for m in values("model") if m in self.models.options)
            keys = {v for _, v in self.requirements.options}
            self.requirements.value = tuple(r for r in values("requirement") if r in keys)
            self.sources.value = one("source") if one("source") in SOURCES else ""
            self.verdicts.value = tuple(v for v in values("verdict") if v in VERDICT_KINDS)
            self.runs.value = tuple(r for r in values("run") if r in self.runs.options)
            self.search.value = one("q")
            if one("a") in self.model_a.options:
                self.model_a.value = one("a")
            if one("b") in self.model_b.options:
                self.model_b.value = one("b")
            self.only_different.value = one("differ") == "1"
            sort = one("sort")
            columns = {c[0] for c in (PAIR_COLUMNS if self.mode.value == "pair" else ITEM_COLUMNS) if c[2]}
            self.item_list.descending = sort.startswith("-")
            self.item_list.sort_by = sort.lstrip("-") if sort.lstrip("-") in columns else ""
        finally:
            self._quiet = False
        self.refresh()
        item = one("item")
        if item:
            self.open_state_item(item)

    def open_state_item(self, item: str) -> bool:
        """Go to the page holding ``item`` (``model|prompt_id``, ``model|prompt_id|epoch`` past the first
        epoch, or a prompt id side by side) and open it."""
        assert self.index is not None
        if self.mode.value == "pair":
            matches = np.flatnonzero(self._keys == item)
            key = item
        else:
            model, _, rest = item.partition("|")
            prompt_id, _, epoch = rest.partition("|")
            code = self.index.code_of(model, prompt_id, int(epoch) if epoch.isdigit() else 1)
            if code is None:
                return False
            matches = np.flatnonzero(self._keys == code)
            key = str(code)
        if not len(matches):
            return False
        self.go_to(int(matches[0]) // self.page_size, select=key)
        return True

    def _changed(self) -> None:
        if self.on_state is not None and not self._quiet:
            self.on_state()

    # -- listing --------------------------------------------------------------------------
    def current_mask(self) -> np.ndarray:
        """The checks the filters (and the dashboard's scope) select."""
        assert self.index is not None
        pairing = self.mode.value == "pair"
        # Models, runs and verdicts belong to the item list: side by side compares every verdict.
        mask = self.index.mask(models=None if pairing else self.models.value,
                               requirements=self.requirements.value,
                               sources=[self.sources.value] if self.sources.value else None,
                               verdicts=None if pairing else self.verdicts.value,
                               runs=None if pairing else self.runs.value, text=self.search.value)
        scope_models, scope_reqs = self.scope.get("models"), self.scope.get("requirements")
        if scope_models is not None and not pairing:
            mask &= self.index.checks["model"].isin(list(scope_models)).to_numpy()
        if scope_reqs is not None:
            mask &= self.index.checks["requirement"].isin(list(scope_reqs)).to_numpy()
        return mask

    def _filters_text(self) -> str:
        pairing = self.mode.value == "pair"
        parts = []
        if not pairing:
            for name, control in (("model", self.models), ("verdict", self.verdicts), ("run", self.runs)):
                if control.value:
                    labels = dict((v, k) for k, v in control.options) if control.options and isinstance(
                        control.options[0], tuple) else {}
                    parts.append(f"{name}: " + ", ".join(html.escape(labels.get(v, str(v))) for v in control.value))
        if self.requirements.value:
            parts.append("requirement: " + ", ".join(html.escape(requirement(k).label) for k in self.requirements.value))
        if self.sources.value:
            parts.append(f"source: {html.escape(SOURCE_LABELS[self.sources.value])}")
        if self.search.value.strip():
            parts.append(f"search: “{html.escape(self.search.value.strip())}”")
        view = "Side by side" if pairing else "Items"
        return (f"<span class='eud-status eud-filters-note'><b>{view}, filtered by</b> {'; '.join(parts)}.</span>"
                if parts else f"<span class='eud-status eud-filters-note'><b>{view}:</b> no filter.</span>")

    def refresh(self) -> None:
        """Re-apply the filters and show the first page."""
        if self.index is None:
            return
        pairing = self.mode.value == "pair"
        self.pair_box.layout.display = "" if pairing else "none"
        self.items_filters.layout.display = "none" if pairing else ""
        self.item_list.columns = PAIR_COLUMNS if pairing else ITEM_COLUMNS
        self.filters_note.value = self._filters_text()
        self._mask = self.current_mask()
        if pairing:
            a, b = self.model_a.value, self.model_b.value
            self._pairs = (self.index.pair(a, b, self._mask, only_different=self.only_different.value)
                           if a and b and a != b else self._empty_pairs())
            self._keys = np.asarray(pd.unique(self._pairs["prompt_id"]), dtype=object)
        else:
            self._keys = self.index.matching_items(self._mask)
        self._keys = self._sorted(self._keys)
        self.go_to(0)

    def _sorted(self, keys: np.ndarray) -> np.ndarray:
        """``keys`` in the order the table's sort asks for (data order when none)."""
        column, index = self.item_list.sort_by, self.index
        if not column or not len(keys) or index is None:
            return keys
        if self.mode.value == "pair":
            if column == "differ":
                counts = self._pairs.groupby("prompt_id", sort=False)["differ"].sum()
                values = pd.Series(keys).map(counts).to_numpy()
            elif column == "source":
                values = pd.Series(keys).map(self._pairs.drop_duplicates("prompt_id").set_index("prompt_id")["source"]).to_numpy()
            else:
                values = keys
        elif column == "verdicts":
            violated = self._mask & (index.checks["kind"].to_numpy() == "violation")
            values = np.bincount(index.item_code[violated], minlength=len(index.items))[keys]
        else:
            first = index._first_row[keys]
            values = index.checks[column].to_numpy()[first]
        order = pd.Series(values).reset_index(drop=True).sort_values(ascending=not self.item_list.descending,
                                                                     kind="stable").index.to_numpy()
        return keys[order]

    @staticmethod
    def _empty_pairs() -> pd.DataFrame:
        return pd.DataFrame(columns=["prompt_id", "requirement", "epoch", "judge_repeat", "source", "kind_a", "kind_b",
                                     "reasoning_a", "reasoning_b", "differ"])

    @property
    def n_matches(self) -> int:
        """Items (or, side by side, prompts) the filters match."""
        return len(getattr(self, "_keys", ()))

    def go_to(self, page: int, *, select: str | None = None) -> None:
        """Show page ``page`` (0-based, clamped) and open ``select`` (a row key) or its first row."""
        assert self.index is not None
        n = self.n_matches
        self.page, start, stop = page_bounds(n, page, self.page_size)
        keys = self._keys[start:stop]
        pages = max(1, -(-n // self.page_size))
        self.prev_button.disabled = self.page == 0
        self.next_button.disabled = self.page >= pages - 1
        pairing = self.mode.value == "pair"
        noun = "prompt" if pairing else "item"
        if pairing and self.model_a.value == self.model_b.value:
            self.status.value = "<span class='eud-status'>Choose two different models to compare.</span>"
        elif n:
            checks = len(self._pairs) if pairing else int(self._mask.sum())
            self.status.value = (f"<span class='eud-status'><b>{n:,}</b> {noun}{'s' if n != 1 else ''} "
                                 f"({checks:,} {'pairs of checks' if pairing else 'checks'}); {start + 1}–{stop}, page {self.page + 1} "
                                 f"of {pages}</span>")
        else:
            self.status.value = f"<span class='eud-status'>No {noun} matches these filters.</span>"
        self._quiet = True
        try:
            self.item_list.rows = self._pair_rows(keys) if pairing else self._item_rows(keys)
            self.item_list.value = ""
        finally:
            self._quiet = False
        self.detail.value = ""
        self.disagree.show_item(None, None)
        if len(keys):
            self.item_list.value = select if select in {r["key"] for r in self.item_list.rows} else \
                self.item_list.rows[0]["key"]
        else:
            self._changed()

    def _item_rows(self, codes: np.ndarray) -> list[dict[str, Any]]:
        assert self.index is not None
        table = self.index.summaries(codes, self._mask)
        epochs = self.index.has_epochs
        rows = []
        for r in table.to_dict("records"):  # not itertuples: "pass" is a keyword, renamed there
            chips = [[kind, f"{r[kind]} {VERDICT_LABELS[kind] if r[kind] == 1 else VERDICT_PLURALS[kind]}"]
                     for kind in VERDICT_KINDS if r[kind]]
            prompt = f"{r['prompt_id']} · epoch {r['epoch']}" if epochs else str(r["prompt_id"])
            rows.append({"key": str(int(r["code"])), "chips": chips,
                         "cells": {"model": str(r["model"]), "prompt_id": prompt,
                                   "source": SOURCE_LABELS.get(r["source"], r["source"]), "snippet": r["snippet"]}})
        return rows

    def _pair_rows(self, prompt_ids: np.ndarray) -> list[dict[str, Any]]:
        part = self._pairs[self._pairs["prompt_id"].isin(list(prompt_ids))]
        differ = part.groupby("prompt_id", sort=False)["differ"].agg(["sum", "size"])
        source = part.drop_duplicates("prompt_id").set_index("prompt_id")["source"]
        # With repeats a prompt holds one verdict pair per requirement, epoch and judge call.
        repeats = self.index is not None and (self.index.has_epochs or self.index.has_judge_repeats)
        rows = []
        for pid in prompt_ids:
            n_diff, size = (int(x) for x in differ.loc[pid])
            snippet = " ".join(self.index.prompt_text.get(pid, "").split())[:120] if self.index else ""
            what = plural(size, "verdict pair") if repeats else plural(size, "requirement")
            rows.append({"key": str(pid), "cells": {
                "prompt_id": str(pid), "source": SOURCE_LABELS.get(source.get(pid, ""), str(source.get(pid, ""))),
                "differ": f"{n_diff} of {what}", "snippet": snippet}})
        return rows

    def _on_filter(self, _change: object) -> None:
        if not self._quiet:
            self.refresh()

    def _on_sort(self, _change: object) -> None:
        if not self._quiet and self.index is not None:
            self._keys = self._sorted(self._keys)
            self.go_to(0)

    def _on_pick(self, change: dict[str, Any]) -> None:
        if self._quiet or not change["new"] or self.index is None:
            return
        self.open_item(change["new"])
        self._changed()

    def open_item(self, key: Any) -> None:
        """Show one item (an item code) or, side by side, one prompt (a prompt id)."""
        assert self.index is not None
        query = self.search.value.strip()
        if self.mode.value == "pair":
            self.detail.value = pair_html(self.index, self.model_a.value, self.model_b.value, self._pairs, str(key),
                                          query=query)
            self.disagree.show_item(None, None)
        else:
            item = self.index.item(int(key))
            self.detail.value = item_html(item, query=query, protocols=self.protocols, show_epoch=self.index.has_epochs)
            self.disagree.show_item(item, self.store_path)
