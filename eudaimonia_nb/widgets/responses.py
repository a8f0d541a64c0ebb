"""Read the responses of saved runs: filter, page, open an item, compare two models.

``ResponsesView(frame, prompts=...)`` works in any notebook on a judgments table that carries
``response``/``reasoning`` (a results store loaded with ``texts=True`` or an exported file);
the dashboard shows it as its *Responses* tab and opens it filtered when a chart is clicked
(``show``). Every piece of prompt, response and reasoning text is HTML-escaped: it is untrusted.
"""

from __future__ import annotations

import html
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import ipywidgets as w
import numpy as np
import pandas as pd

from ..analysis.responses import VERDICT_KINDS, VERDICT_LABELS, Item, ResponseIndex, counts_text, page_bounds
from ..benchmark.dataset import SOURCES
from ..benchmark.design_code import REQUIREMENTS, requirement
from ..formatting import plural
from ..plots import SOURCE_LABELS
from .browser import TEXT_BOX_STYLE, highlight
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


def _rubric_html(key: str, used: str) -> str:
    req = requirement(key)
    note = "" if not used or used == req.rubric_version else (
        f" <i>(this verdict used rubric version {html.escape(used)}; the text below is the current "
        f"version {req.rubric_version})</i>")
    return (f"<details><summary>Rubric {html.escape(req.label)}{note}</summary>"
            f"<div style='{TEXT_BOX_STYLE}'>{html.escape(req.rubric)}</div></details>")


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
                    f"{_rubric_html(req.key, check.get('rubric_version', ''))}</td></tr>")
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


class ResponsesView(w.VBox):
    """Filter, page and open the items of a judgments table; or compare two models.

    Controls are public so code and tests can drive them: ``mode``, ``models``,
    ``requirements``, ``sources``, ``verdicts``, ``runs``, ``search``, ``prev_button``,
    ``next_button``, ``item_list`` (choosing a row opens it in ``detail``), ``model_a``,
    ``model_b``, ``only_different``. An empty multiple selection means "all".
    """

    def __init__(self, frame: pd.DataFrame | None = None, *, prompts: Mapping[str, str] | None = None,
                 protocols: Mapping[str, str] | None = None, page_size: int = PAGE_SIZE) -> None:
        self.page_size = page_size
        self.page = 0
        self.index: ResponseIndex | None = None
        self.protocols: dict[str, str] = dict(protocols or {})
        self.scope: dict[str, Collection[str] | None] = {}
        self._quiet = False
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
        self.item_list = w.Select(options=[], rows=page_size, layout=w.Layout(width="100%"))
        self.detail = w.HTML("")
        self.prev_button.on_click(lambda _: self.go_to(self.page - 1))
        self.next_button.on_click(lambda _: self.go_to(self.page + 1))
        for control in (self.models, self.requirements, self.runs, self.sources, self.verdicts, self.search,
                        self.model_a, self.model_b, self.only_different, self.mode):
            control.observe(self._on_filter, "value")
        self.item_list.observe(self._on_pick, "value")
        filters = w.HBox([self.models, self.requirements, w.VBox([self.sources, self.search, self.runs]), self.verdicts],
                         layout=w.Layout(flex_flow="row wrap"))
        pager = w.HBox([self.prev_button, self.next_button, self.status], layout=w.Layout(flex_flow="row wrap",
                                                                                        align_items="center"))
        self.body = w.VBox([self.mode, self.pair_box, filters, pager, self.item_list, self.detail])
        super().__init__([self.message, self.body])
        self.set_data(frame, prompts=prompts, protocols=protocols)

    # -- data -----------------------------------------------------------------------------
    def set_data(self, frame: pd.DataFrame | None, *, prompts: Mapping[str, str] | None = None,
                 protocols: Mapping[str, str] | None = None) -> None:
        """Index a new judgments table (None: nothing loaded)."""
        if protocols is not None:
            self.protocols = dict(protocols)
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

    # -- listing --------------------------------------------------------------------------
    def current_mask(self) -> np.ndarray:
        """The checks the filters (and the dashboard's scope) select."""
        assert self.index is not None
        pairing = self.mode.value == "pair"
        mask = self.index.mask(models=None if pairing else self.models.value,
                               requirements=self.requirements.value,
                               sources=[self.sources.value] if self.sources.value else None,
                               verdicts=self.verdicts.value, runs=None if pairing else self.runs.value,
                               text=self.search.value)
        scope_models, scope_reqs = self.scope.get("models"), self.scope.get("requirements")
        if scope_models is not None and not pairing:
            mask &= self.index.checks["model"].isin(list(scope_models)).to_numpy()
        if scope_reqs is not None:
            mask &= self.index.checks["requirement"].isin(list(scope_reqs)).to_numpy()
        return mask

    def refresh(self) -> None:
        """Re-apply the filters and show the first page."""
        if self.index is None:
            return
        pairing = self.mode.value == "pair"
        self.pair_box.layout.display = "" if pairing else "none"
        self.models.layout.display = "none" if pairing else ""
        self._mask = self.current_mask()
        if pairing:
            a, b = self.model_a.value, self.model_b.value
            self._pairs = (self.index.pair(a, b, self._mask, only_different=self.only_different.value)
                           if a and b and a != b else self._empty_pairs())
            self._keys = np.asarray(pd.unique(self._pairs["prompt_id"]), dtype=object)
        else:
            self._keys = self.index.matching_items(self._mask)
        self.go_to(0)

    @staticmethod
    def _empty_pairs() -> pd.DataFrame:
        return pd.DataFrame(columns=["prompt_id", "requirement", "epoch", "judge_repeat", "source", "kind_a", "kind_b",
                                     "reasoning_a", "reasoning_b", "differ"])

    @property
    def n_matches(self) -> int:
        """Items (or, side by side, prompts) the filters match."""
        return len(getattr(self, "_keys", ()))

    def go_to(self, page: int) -> None:
        """Show page ``page`` (0-based, clamped)."""
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
            self.item_list.options = self._pair_options(keys) if pairing else self._item_options(keys)
            self.item_list.value = None
        finally:
            self._quiet = False
        self.detail.value = ""
        if len(keys):
            self.item_list.value = self.item_list.options[0][1]

    def _item_options(self, codes: np.ndarray) -> list[tuple[str, Any]]:
        assert self.index is not None
        table = self.index.summaries(codes, self._mask)
        epochs = self.index.has_epochs
        return [(f"{r.model} · {r.prompt_id}{f' · epoch {r.epoch}' if epochs else ''} · {r.source} · {counts_text(r._asdict())}"
                 + (f" · {r.snippet}" if r.snippet else ""), int(r.code)) for r in table.itertuples(index=False)]

    def _pair_options(self, prompt_ids: np.ndarray) -> list[tuple[str, Any]]:
        part = self._pairs[self._pairs["prompt_id"].isin(list(prompt_ids))]
        differ = part.groupby("prompt_id", sort=False)["differ"].agg(["sum", "size"])
        repeats = self.index is not None and (self.index.has_epochs or self.index.has_judge_repeats)
        out = []
        for pid in prompt_ids:
            n_diff, size = (int(x) for x in differ.loc[pid])
            snippet = " ".join(self.index.prompt_text.get(pid, "").split())[:100] if self.index else ""
            what = plural(size, "verdict pair") if repeats else plural(size, "requirement")
            out.append((f"{pid} · {n_diff} of {what} differ"
                        + (f" · {snippet}" if snippet else ""), str(pid)))
        return out

    def _on_filter(self, _change: object) -> None:
        if not self._quiet:
            self.refresh()

    def _on_pick(self, change: dict[str, Any]) -> None:
        if self._quiet or change["new"] is None or self.index is None:
            return
        self.open_item(change["new"])

    def open_item(self, key: Any) -> None:
        """Show one item (an item code) or, side by side, one prompt (a prompt id)."""
        assert self.index is not None
        query = self.search.value.strip()
        if self.mode.value == "pair":
            self.detail.value = pair_html(self.index, self.model_a.value, self.model_b.value, self._pairs, str(key),
                                          query=query)
        else:
            self.detail.value = item_html(self.index.item(int(key)), query=query, protocols=self.protocols,
                                          show_epoch=self.index.has_epochs)
