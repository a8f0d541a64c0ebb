"""The "disagree with the judge" action of the Responses tab's item view.

Under an open item: choose one of its verdicts, say who you are, and save the opposite label
(with an optional note). It goes into the store's disagreement queue
(``store.disagreements``), which the disagreement list shows and no estimate uses; a check you
labelled in notebook 4's designed sample keeps that label (the box says so). Data without a
results store behind it (the demo, a results file) has nowhere to save: the box says that too.
"""

from __future__ import annotations

import html
import os
import sqlite3
from pathlib import Path

import ipywidgets as w

from ..analysis.responses import VERDICT_LABELS, Item
from ..benchmark.design_code import requirement
from ..store.disagreements import save_disagreement
from ..store.labels import LabelsError

_OPPOSITE = {"violation": 0, "pass": 1}


class DisagreeBox(w.VBox):
    """Controls are public: ``check`` (which verdict), ``labeller``, ``note``, ``save_button``;
    ``save()`` does what the button does and returns the queue id (None when nothing was saved)."""

    def __init__(self) -> None:
        self.store_path: Path | None = None
        self.item: Item | None = None
        self.check = w.Dropdown(description="Verdict", layout=w.Layout(width="420px", max_width="100%"))
        self.labeller = w.Text(description="Your name", placeholder="labeller name",
                               layout=w.Layout(width="260px", max_width="100%"))
        self.note = w.Text(description="Note", placeholder="why (optional)", layout=w.Layout(width="420px", max_width="100%"))
        for control in (self.check, self.labeller, self.note):
            control.style.description_width = "80px"
        self.save_button = w.Button(description="Save my label", button_style="warning", layout=w.Layout(width="auto"))
        self.save_button.on_click(lambda _: self.save())
        self.status = w.HTML("")
        self.check.observe(lambda _: self._describe(), "value")
        super().__init__([w.HTML("<b>Disagree with the judge?</b> <span class='eud-status'>Your label goes into a "
                                 "separate disagreement queue: shown in the disagreement list, never used in corrected "
                                 "rates or agreement (those rest on notebook 4's designed sample).</span>"),
                          w.HBox([self.check, self.labeller], layout=w.Layout(flex_flow="row wrap")),
                          w.HBox([self.note, self.save_button], layout=w.Layout(flex_flow="row wrap")), self.status])
        self.add_class("eud-disagree")
        self.layout.display = "none"

    def show_item(self, item: Item | None, store_path: str | os.PathLike[str] | None) -> None:
        """Offer the item's verdicts (those with a verdict: an error has nothing to disagree with)."""
        self.item = item
        self.store_path = Path(store_path) if store_path else None
        checks = [] if item is None else [c for c in item.checks.to_dict("records") if c["kind"] in _OPPOSITE]
        self.layout.display = "" if checks else "none"
        self.check.options = [(f"{requirement(c['requirement']).label}: the judge said {VERDICT_LABELS[c['kind']]}",
                               (str(c.get("run_id", "")), c["requirement"], c["kind"])) for c in checks]
        self.check.value = self.check.options[0][1] if checks else None
        self.status.value = ""
        self.save_button.disabled = self.store_path is None
        if self.store_path is None and checks:
            self.status.value = ("<span class='eud-status'>Saving a label needs a results store: load one under "
                                 "<i>Data</i>.</span>")
        self._describe()

    def _describe(self) -> None:
        if self.check.value is None:
            return
        kind = self.check.value[2]
        self.save_button.description = f"Save my label: {VERDICT_LABELS['pass' if _OPPOSITE[kind] == 0 else 'violation']}"

    def save(self) -> str | None:
        if self.item is None or self.check.value is None or self.store_path is None:
            return None
        run_id, key, kind = self.check.value
        try:
            queue = save_disagreement(self.store_path, run_id=run_id, prompt_id=self.item.prompt_id, requirement=key,
                                      labeller=self.labeller.value, label=_OPPOSITE[kind], note=self.note.value.strip())
        except (LabelsError, OSError, sqlite3.Error) as exc:
            self.status.value = f"<span class='eud-error'>Not saved: {html.escape(str(exc))}</span>"
            return None
        self.note.value = ""
        self.status.value = (f"<span class='eud-status eud-saved'>Saved: {html.escape(self.labeller.value.strip())} says "
                             f"<b>{VERDICT_LABELS['pass' if _OPPOSITE[kind] == 0 else 'violation']}</b> for "
                             f"{html.escape(requirement(key).label)} (queue <code>{queue}</code>).</span>")
        return queue
