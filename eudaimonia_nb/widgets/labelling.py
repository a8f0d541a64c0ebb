"""Label judged checks by hand: ``notebooks/04_validate_judge.ipynb`` shows ``LabellingUI()``.

Pick runs, a labeller name and a sample size; the sample is drawn stratified by requirement and
judge verdict (``labels.draw_sample``, seeded, inclusion probabilities kept) or taken from the
disagreement list. One item at a time: the prompt, the response, the rubric the judge saw (found
by the verdict's recorded rubric version: the authors' fetched rubric for an ``authors`` run, the
suite's file for a ``suite`` run; ``judging.rubric_lookup``), four buttons and a note. Keys:
``v`` violation, ``n`` no violation, ``u`` unsure, ``s`` skip (ipywidgets has no key events, so a
small anywidget listens for them).

Blind by default: the judge's verdict and reasoning for an item are shown only after the label
is saved (under "Last saved"), unless "Show the judge's verdict" is ticked. Each label is its own
committed write to the store, and reopening the notebook with the same runs, size and seed
resumes at the first item this labeller has not labelled or skipped. Every piece of prompt,
response and judge text is HTML-escaped: it is untrusted.
"""

from __future__ import annotations

import html
import logging
import os
import sqlite3
from pathlib import Path

import anywidget
import ipywidgets as w
import pandas as pd
import traitlets

from ..benchmark.dataset import DatasetError, DatasetNotFoundError, load_benchmark
from ..benchmark.design_code import requirement
from ..judging.rubric_lookup import find_rubric
from ..store import labels as L
from ..store.results import default_store_path, list_runs, response_texts, verdict_details
from .browser import TEXT_BOX_STYLE

log = logging.getLogger(__name__)

STORE_ENV = "EUDAIMONIA_LABELS_STORE"
"""Results store the labelling notebook opens (default: the dashboard's store, else data/results.sqlite)."""
KEYS = {"v": 1, "n": 0, "u": None, "s": "skip"}
"""Keyboard shortcut -> action: 1 violation, 0 no violation, None unsure, "skip"."""
ERRORS = (OSError, ValueError, KeyError, sqlite3.Error)

_KEYS_ESM = """
function render({ model, el }) {
  el.className = "eud-keys";
  el.textContent = "Keys: v violation · n no violation · u unsure · s skip";
  const onKey = (event) => {
    const target = event.target;
    const tag = target && target.tagName ? target.tagName.toLowerCase() : "";
    // Typing a note must not label the item.
    if (tag === "textarea" || tag === "input" || tag === "select" || (target && target.isContentEditable)) return;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const key = event.key.toLowerCase();
    if (!"vnus".includes(key) || key.length !== 1) return;
    event.preventDefault();
    model.send({ key });
  };
  document.addEventListener("keydown", onKey);
  return () => document.removeEventListener("keydown", onKey);
}
export default { render };
"""


class KeyShortcuts(anywidget.AnyWidget):
    """Sends ``{"key": k}`` to the kernel for v/n/u/s pressed anywhere outside a text field."""

    _esm = _KEYS_ESM
    enabled = traitlets.Bool(True).tag(sync=True)


def store_from_environment() -> Path:
    """``$EUDAIMONIA_LABELS_STORE``, else the store of ``$EUDAIMONIA_DASHBOARD_SOURCE``, else the default."""
    explicit = os.environ.get(STORE_ENV)
    if explicit:
        return Path(explicit).expanduser()
    source = os.environ.get("EUDAIMONIA_DASHBOARD_SOURCE", "")
    if source.startswith("store:"):
        return Path(source[len("store:"):].partition("#")[0]).expanduser()
    return default_store_path()


def _box(text: str) -> str:
    return f"<div style='{TEXT_BOX_STYLE}'>{html.escape(text)}</div>"


class LabellingUI(w.VBox):
    """The labelling panel. Controls are public so tests and cells can drive them; ``label(value)``
    and ``skip()`` do what the buttons do."""

    def __init__(self, store_path: str | os.PathLike[str] | None = None, *, benchmark=None) -> None:
        self.store = w.Text(value=str(store_path or store_from_environment()), description="Store",
                            layout=w.Layout(width="560px"))
        self.runs = w.SelectMultiple(description="Runs", rows=5, layout=w.Layout(width="560px"))
        self.labeller = w.Text(description="Labeller", placeholder="your name")
        self.size = w.BoundedIntText(value=90, min=1, max=100_000, description="Sample size")
        self.seed = w.IntText(value=0, description="Seed")
        self.start_button = w.Button(description="Start / resume", button_style="primary")
        self.queue_button = w.Button(description="Label the disagreement list", layout=w.Layout(width="auto"))
        self.reload_button = w.Button(description="Reload runs")
        self.status = w.HTML()
        self.progress = w.IntProgress(min=0, max=1, value=0, layout=w.Layout(width="560px"))
        self.progress_text = w.HTML()
        self.item = w.HTML()
        self.buttons = {
            1: w.Button(description="Violation (v)", button_style="danger"),
            0: w.Button(description="No violation (n)", button_style="success"),
            None: w.Button(description="Unsure (u)"),
            "skip": w.Button(description="Skip (s)"),
        }
        for value, button in self.buttons.items():
            button.on_click(lambda _b, v=value: self._act(v))
        self.note = w.Textarea(placeholder="optional note (saved with the label)", layout=w.Layout(width="560px"))
        self.reveal = w.Checkbox(value=False, description="Show the judge's verdict before I label (not blind)",
                                 indent=False, layout=w.Layout(width="auto"))
        self.judge = w.HTML()
        self.last = w.HTML()
        self.shortcuts = KeyShortcuts()
        self.shortcuts.on_msg(self._on_key)
        self.start_button.on_click(lambda _: self.start())
        self.queue_button.on_click(lambda _: self.start_queue())
        self.reload_button.on_click(lambda _: self.load_runs())
        self.reveal.observe(lambda _: self._show_judge(), "value")
        self._benchmark = benchmark
        self._items = pd.DataFrame()
        self._position: int | None = None
        self._sample_id = ""
        self._texts: dict[str, dict[str, str]] = {}
        self._verdicts: dict[str, pd.DataFrame] = {}
        self._protocols: dict[str, str] = {}
        self.on_saved: list = []
        """Called (without arguments) after every saved label or skip: the results follow."""
        self.item_box = w.VBox([self.progress, self.progress_text, self.item, w.HBox(list(self.buttons.values())),
                                self.note, self.shortcuts, self.reveal, self.judge, self.last])
        self.item_box.layout.display = "none"
        super().__init__([w.HBox([self.store, self.reload_button]), self.runs, w.HBox([self.labeller, self.size, self.seed]),
                          w.HBox([self.start_button, self.queue_button]), self.status, self.item_box])
        self.load_runs()

    # -- setup ----------------------------------------------------------------------------
    @property
    def store_path(self) -> Path:
        return Path(self.store.value.strip()).expanduser()

    def load_runs(self) -> None:
        """Fill the run list from the store (every run selected when there is one)."""
        try:
            runs = list_runs(self.store_path)
        except ERRORS as exc:
            self._say(f"Cannot read the store: {html.escape(str(exc))}", error=True)
            return
        self.runs.options = [(f"{r.model} · judge {r.judge_model} · {r.run_id}", r.run_id) for r in runs.itertuples()]
        self._protocols = dict(zip(runs["run_id"].astype(str), runs["protocol"].astype(str)))
        if len(runs) == 1:
            self.runs.value = (runs["run_id"].iloc[0],)
        self._say(f"{len(runs)} run(s) in {html.escape(str(self.store_path))}. Choose runs, your name and a sample size.")

    def _ready(self) -> bool:
        if not self.labeller.value.strip():
            self._say("Enter your name as labeller first (labels are stored per person).", error=True)
            return False
        if not self.runs.value:
            self._say("Choose at least one run.", error=True)
            return False
        return True

    def start(self) -> None:
        """Draw (or find again) the stratified sample and go to the first item not yet labelled."""
        if not self._ready():
            return
        try:
            sample_id = L.draw_sample(self.store_path, list(self.runs.value), self.size.value, seed=self.seed.value)
        except ERRORS as exc:
            self._say(f"Cannot draw the sample: {html.escape(str(exc))}", error=True)
            return
        self._open(sample_id, "stratified sample (requirement x judge verdict)")

    def start_queue(self) -> None:
        """Label the selected runs' disagreement list (judges split, or a judge and a person differ)."""
        if not self._ready():
            return
        from ..validity.measures import disagreement_queue

        try:
            queue = disagreement_queue(self.store_path, list(self.runs.value))
            sample_id = L.queue_sample(self.store_path, queue)
        except ERRORS as exc:
            self._say(f"No disagreement list: {html.escape(str(exc))}", error=True)
            return
        self._open(sample_id, "disagreement queue (chosen items: not used in rates)")

    def _open(self, sample_id: str, kind: str) -> None:
        self._sample_id = sample_id
        self._items = L.sample_items(self.store_path, sample_id, self.labeller.value.strip())
        for run_id in self._items["run_id"].unique():
            if run_id not in self._texts:
                # A label is about the first response (epoch 1) and its first verdict, of runs with repeats too.
                texts = _first_sample(response_texts(self.store_path, run_id))
                self._texts[run_id] = dict(zip(texts["prompt_id"], texts["text"].fillna("")))
                self._verdicts[run_id] = _first_sample(verdict_details(self.store_path, run_id)).set_index(
                    ["prompt_id", "requirement"])
        self._position = L.resume_position(self._items)
        self.progress.max = len(self._items)
        self.item_box.layout.display = ""
        where = "the first unlabelled item" if self._position else "the start"
        self._say(f"Sample <code>{sample_id}</code>: {kind}, {len(self._items)} items; resuming at {where}.")
        self._show()

    # -- labelling ------------------------------------------------------------------------
    def _on_key(self, _widget: object, content: dict, _buffers: object) -> None:
        key = str(content.get("key", ""))
        if key in KEYS:
            self._act(KEYS[key])

    def _act(self, value: int | None | str) -> None:
        if value == "skip":
            self.skip()
        else:
            self.label(value)  # type: ignore[arg-type]

    def label(self, value: int | None) -> None:
        """Save ``value`` (1, 0 or None for unsure) for the current item and move on."""
        self._save(value, skipped=False)

    def skip(self) -> None:
        """Pass over the current item (recorded, so resuming does not offer it again)."""
        self._save(None, skipped=True)

    def _save(self, value: int | None, *, skipped: bool) -> None:
        if self._position is None or self._items.empty:
            return
        row = self._items.loc[self._items["position"] == self._position].iloc[0]
        try:
            L.save_label(self.store_path, run_id=row.run_id, prompt_id=row.prompt_id, requirement=row.requirement,
                         labeller=self.labeller.value, label=value, note=self.note.value.strip(),
                         sample_id=self._sample_id, skipped=skipped,
                         inclusion_probability=None if pd.isna(row.inclusion_probability) else float(row.inclusion_probability))
        except ERRORS as exc:
            self._say(f"The label was NOT saved: {html.escape(str(exc))}", error=True)
            return
        index = self._items.index[self._items["position"] == self._position][0]
        self._items.loc[index, ["label", "skipped", "labelled_at"]] = [value, int(skipped), 1.0]
        self.last.value = self._last_html(row, value, skipped)
        self.note.value = ""
        self._position = L.resume_position(self._items)
        self._show()
        for callback in self.on_saved:
            callback()

    # -- display --------------------------------------------------------------------------
    def _prompt_text(self, prompt_id: str) -> str:
        if self._benchmark is None:
            try:
                self._benchmark = load_benchmark()
            except (DatasetError, DatasetNotFoundError) as exc:
                return f"(prompt text unavailable: {exc})"
        try:
            return str(self._benchmark.prompt(prompt_id)["text"])
        except KeyError:
            return "(this prompt is not in the benchmark file)"

    def _show(self) -> None:
        done = int(self._items["labelled_at"].notna().sum())
        labelled = int((self._items["labelled_at"].notna() & (self._items["skipped"].fillna(0) == 0)).sum())
        self.progress.value = done
        if self._position is None:
            self.progress_text.value = f"<b>Done</b>: {labelled} labelled, {done - labelled} skipped of {len(self._items)}."
            self.item.value = "<p>Every item of this sample has a label or a skip. Thank you!</p>"
            self.judge.value = ""
            return
        row = self._items.loc[self._items["position"] == self._position].iloc[0]
        req = requirement(row.requirement)
        response = self._texts.get(row.run_id, {}).get(row.prompt_id, "(no stored response)")
        self.item.value = (
            f"<div><b>Prompt</b> <code>{html.escape(row.prompt_id)}</code> · run <code>{html.escape(row.run_id)}</code></div>"
            f"{_box(self._prompt_text(row.prompt_id))}<div><b>Response</b></div>{_box(response)}"
            f"<div><b>Requirement: {html.escape(req.label)}</b> <code>{html.escape(req.key)}</code>. "
            f"Does the response violate it?</div>"
            f"{self._rubric_html(row.run_id, row.prompt_id, row.requirement)}")
        self._show_judge()
        # Last, so that once the position reads "Item k", the item and the judge panel are k's too.
        self.progress_text.value = (f"<span class='eud-position'>Item {self._position + 1} of {len(self._items)}</span> · "
                                    f"{labelled} labelled, {done - labelled} skipped")

    def _rubric_html(self, run_id: str, prompt_id: str, key: str) -> str:
        """The rubric this check's verdict was judged with (by its recorded version), open."""
        try:
            version = str(self._verdicts[run_id].loc[(prompt_id, key), "rubric_version"] or "")
        except KeyError:
            version = ""
        shown = find_rubric(key, version, self._protocols.get(run_id))
        body = (_box(shown.text) + f"<div class='eud-status'>Text from {html.escape(shown.source)}.</div>"
                if shown.text is not None else
                f"<div class='eud-rubric-missing eud-error'>{html.escape(shown.missing)}</div>")
        return (f"<details open class='eud-rubric' data-protocol='{html.escape(shown.protocol or '')}'><summary>"
                f"Rubric the judge saw: {html.escape(shown.title)}</summary>{body}</details>")

    def _verdict(self, run_id: str, prompt_id: str, key: str) -> tuple[str, str]:
        try:
            v = self._verdicts[run_id].loc[(prompt_id, key)]
        except KeyError:
            return "no verdict", ""
        verdict = "error" if pd.isna(v["violation"]) else ("violation" if v["violation"] == 1 else "no violation")
        return verdict, str(v["reasoning"] or v["error"] or "")

    def _show_judge(self) -> None:
        if self._position is None or not self.reveal.value:
            self.judge.value = ("" if self._position is None else
                                "<i class='eud-blind'>Judge's verdict hidden until you save your label.</i>")
            return
        row = self._items.loc[self._items["position"] == self._position].iloc[0]
        verdict, reasoning = self._verdict(row.run_id, row.prompt_id, row.requirement)
        self.judge.value = (f"<div class='eud-judge'><b>Judge: {verdict}</b>{_box(reasoning)}</div>")

    def _last_html(self, row: pd.Series, value: int | None, skipped: bool) -> str:
        verdict, reasoning = self._verdict(row.run_id, row.prompt_id, row.requirement)
        yours = "skipped" if skipped else {1: "violation", 0: "no violation", None: "unsure"}[value]
        return (f"<div class='eud-last'><b>Last saved</b> (item {int(row.position) + 1}, "
                f"{html.escape(requirement(row.requirement).label)}): you said <b>{yours}</b>; "
                f"the judge said <b class='eud-last-verdict'>{verdict}</b>.{_box(reasoning)}</div>")

    def _say(self, message: str, *, error: bool = False) -> None:
        colour = "#b00020" if error else "#555"
        self.status.value = f"<span class='{'eud-error' if error else 'eud-status'}' style='color:{colour}'>{message}</span>"


def _first_sample(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows of epoch 1 and judge repeat 1 (all rows of a store from before epochs)."""
    for column in ("epoch", "judge_repeat"):
        if column in rows.columns:
            rows = rows[rows[column] == 1]
    return rows
