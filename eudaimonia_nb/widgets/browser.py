"""An ipywidgets browser over the benchmark prompts.

Filtering is ``explore.PromptIndex.mask`` (vectorised, with the lower-cased text computed
once); only the current page is rendered to HTML, so it stays responsive on all 969 prompts.
Every piece of prompt text goes through ``html.escape``: prompts are untrusted web text.
"""

from __future__ import annotations

import html
import re
from typing import Any

import ipywidgets as widgets
import pandas as pd

from ..benchmark.dataset import SOURCES, Benchmark
from ..benchmark.design_code import REQUIREMENTS, requirement
from ..benchmark.explore import PromptIndex
from ..plots import PRINCIPLE_LABELS, SOURCE_COLORS, SOURCE_LABELS

PAGE_SIZES = (5, 10, 20, 50)
_ANY = "(any)"
TEXT_BOX_STYLE = (
    "white-space: pre-wrap; word-break: break-word; max-height: 18em; overflow-y: auto; "
    "background: #f7f7f7; border: 1px solid #ddd; padding: 0.5em; margin: 0.3em 0; font-size: 0.9em;"
)
"""Inline CSS of a scrollable text box; shared with the judging panel so prompts and responses look alike."""


def highlight(text: str, query: str | None) -> str:
    """``text`` HTML-escaped, with case-insensitive literal matches of ``query`` in ``<mark>``."""
    if not query:
        return html.escape(text)
    parts = re.split(f"({re.escape(query)})", text, flags=re.IGNORECASE)
    # Odd positions are the captured matches; every part is escaped on its own.
    return "".join(f"<mark>{html.escape(p)}</mark>" if i % 2 else html.escape(p) for i, p in enumerate(parts))


def render_prompt(row: pd.Series, query: str | None = None) -> str:
    """One prompt as an HTML card: metadata, the full text in a scrollable box, and its
    labelled requirements with their design-code descriptions."""
    source = str(row["source"])
    meta = [f"<b>{html.escape(str(row['prompt_id']))}</b>", f"line {int(row['line'])}", f"{int(row['length_chars'])} characters"]
    for column, title in (("rewriter_model", "rewriter"), ("responder_model", "responder")):
        value = row[column]
        if isinstance(value, str):
            meta.append(f"{title} {html.escape(value)}")
    badge = (
        f"<span style='background:{SOURCE_COLORS[source]};color:white;padding:0 0.4em;border-radius:3px'>"
        f"{html.escape(SOURCE_LABELS[source])}</span>"
    )
    items = "".join(
        f"<li><b>{html.escape(r.label)}</b> <code>{html.escape(r.key)}</code> "
        f"<i>({html.escape(PRINCIPLE_LABELS[r.principle])})</i>: {html.escape(r.description)}</li>"
        for r in (requirement(k) for k in row["requirements"])
    )
    return (
        "<div style='border-top:1px solid #ccc;padding:0.5em 0'>"
        f"<div>{badge} {' &middot; '.join(meta)}</div>"
        f"<div style='{TEXT_BOX_STYLE}'>{highlight(str(row['text']), query)}</div>"
        f"<div>{len(row['requirements'])} labelled requirement(s):</div><ul style='margin:0.2em 0'>{items}</ul>"
        "</div>"
    )


def _choices(values: pd.Series) -> list[tuple[str, Any]]:
    # "" rather than None means "no filter": a Dropdown treats None as "nothing selected".
    return [(_ANY, "")] + [(str(v), str(v)) for v in sorted(values.dropna().unique())]


class PromptBrowser(widgets.VBox):
    """Filter and page through the benchmark prompts.

    The controls are public attributes so that code (and tests) can drive them:
    ``requirements``, ``match``, ``source``, ``rewriter``, ``responder``, ``search``,
    ``page_size``, ``prev_button``, ``next_button``; ``status`` and ``page_html`` show the
    result. ``matches`` is the current filtered prompts table.
    """

    def __init__(self, bench: Benchmark, page_size: int = 10) -> None:
        self.index = PromptIndex.build(bench.prompts)
        prompts = bench.prompts
        self.requirements = widgets.SelectMultiple(
            options=[(r.label, r.key) for r in REQUIREMENTS], rows=len(REQUIREMENTS),
            description="Requirements", layout=widgets.Layout(width="26em"),
            style={"description_width": "initial"},
        )
        self.match = widgets.ToggleButtons(
            options=[("any of them", "any"), ("all of them", "all")], value="any",
            tooltips=["prompts labelled with at least one selected requirement", "prompts labelled with every selected requirement"],
            style={"button_width": "7em"},
        )
        self.source = widgets.Dropdown(options=[(_ANY, "")] + [(SOURCE_LABELS[s], s) for s in SOURCES], description="Source")
        self.rewriter = widgets.Dropdown(options=_choices(prompts["rewriter_model"]), description="Rewriter")
        self.responder = widgets.Dropdown(options=_choices(prompts["responder_model"]), description="Responder")
        self.search = widgets.Text(
            placeholder="words in the prompt (case-insensitive, literal)", description="Search",
            continuous_update=True, layout=widgets.Layout(width="30em"),
        )
        self.page_size = widgets.Dropdown(options=list(PAGE_SIZES), value=page_size, description="Per page")
        self.prev_button = widgets.Button(description="Previous", icon="arrow-left")
        self.next_button = widgets.Button(description="Next", icon="arrow-right")
        self.status = widgets.HTML()
        self.page_html = widgets.HTML()
        self.page = 0
        self.matches: pd.DataFrame = prompts

        for control in (self.requirements, self.match, self.source, self.rewriter, self.responder, self.search):
            control.observe(self._on_filter, names="value")
        self.page_size.observe(self._on_filter, names="value")
        self.prev_button.on_click(lambda _: self.go_to(self.page - 1))
        self.next_button.on_click(lambda _: self.go_to(self.page + 1))

        filters = widgets.HBox([
            widgets.VBox([self.requirements, self.match]),
            widgets.VBox([self.source, self.rewriter, self.responder, self.search]),
        ])
        pager = widgets.HBox([self.prev_button, self.next_button, self.page_size, self.status])
        super().__init__([filters, pager, self.page_html])
        self.refresh()

    @property
    def n_pages(self) -> int:
        return max(1, -(-len(self.matches) // self.page_size.value))

    def current_page(self) -> pd.DataFrame:
        """The rows of ``matches`` shown on the current page."""
        start = self.page * self.page_size.value
        return self.matches.iloc[start : start + self.page_size.value]

    def refresh(self) -> None:
        """Re-apply the filters and show their first page."""
        keep = self.index.mask(
            requirements=self.requirements.value,
            match=self.match.value,
            source=self.source.value or None,
            rewriter=self.rewriter.value or None,
            responder=self.responder.value or None,
            text=self.search.value,
        )
        self.matches = self.index.prompts[keep]
        self.go_to(0)

    def go_to(self, page: int) -> None:
        """Show page ``page`` (0-based, clamped to the pages there are)."""
        self.page = min(max(page, 0), self.n_pages - 1)
        shown = self.current_page()
        total = len(self.matches)
        self.prev_button.disabled = self.page == 0
        self.next_button.disabled = self.page >= self.n_pages - 1
        if total:
            first = self.page * self.page_size.value + 1
            self.status.value = (
                f"<b>{total}</b> matching prompts of {len(self.index.prompts)}; showing {first}-{first + len(shown) - 1} "
                f"(page {self.page + 1} of {self.n_pages})"
            )
        else:
            self.status.value = f"<b>0</b> matching prompts of {len(self.index.prompts)}"
        query = self.search.value or None
        self.page_html.value = "".join(render_prompt(row, query) for _, row in shown.iterrows()) or (
            "<p><i>No prompt matches these filters.</i></p>"
        )

    def _on_filter(self, _change: dict[str, Any]) -> None:
        self.refresh()
