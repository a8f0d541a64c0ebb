"""Notebook 4's results: the judge checked against your labels, refreshed as you label.

``ValidityResults(ui)`` follows a ``LabellingUI``: its store and chosen runs, recomputed a moment
after each saved label (debounced, so labelling stays one key press per item) and on **Refresh**,
shown as the dashboard's *Judge validity* tab shows them (``validity.summary``: per run the labels,
kappa, sensitivity and specificity with intervals or "too few labels", the corrected rate beside
the judge's in %), with the planning table under it. Works under Voila, where no cell reruns.
"""

from __future__ import annotations

import asyncio
import html
import sqlite3
import time

import ipywidgets as w

from ..formatting import table_html
from ..validity.measures import compute_validity
from ..validity.summary import planning_frames, summary_frames
from .layout import STYLE, busy

REFRESH_DELAY_S = 0.8
"""Seconds after the last saved label before the results are recomputed."""
N_BOOT = 200
"""Bootstrap replicates here (the dashboard and the command line use 1,000)."""


class ValidityResults(w.VBox):
    """Display it under the labelling panel; ``refresh()`` recomputes now."""

    def __init__(self, labelling: object, *, n_boot: int = N_BOOT, delay_s: float = REFRESH_DELAY_S) -> None:
        self.labelling = labelling
        self.n_boot = n_boot
        self.delay_s = delay_s
        self.refresh_button = w.Button(description="Refresh", layout=w.Layout(width="auto"))
        self.refresh_button.on_click(lambda _: self.refresh())
        self.status = w.HTML("")
        self.summary = w.HTML("")
        self.planning = w.HTML("")
        self.refreshes = 0
        """How many times the results were recomputed (tests read it)."""
        self._pending: asyncio.TimerHandle | None = None
        super().__init__([w.HTML(STYLE), w.HBox([self.refresh_button, self.status]), self.summary, self.planning])
        self.add_class("eud-validity-results")
        labelling.on_saved.append(self.schedule)  # type: ignore[attr-defined]
        self.refresh()

    def schedule(self) -> None:
        """Recompute ``delay_s`` after the last call (a label saved): the next item shows first."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no event loop (plain Python): now
            self.refresh()
            return
        if self._pending is not None:
            self._pending.cancel()
        self.status.value = busy("a label was saved: updating…")
        self._pending = loop.call_later(self.delay_s, self.refresh)

    def refresh(self) -> None:
        """Recompute agreement and corrected rates for the labelling panel's store and runs."""
        self._pending = None
        store = self.labelling.store_path  # type: ignore[attr-defined]
        runs = list(self.labelling.runs.value) or None  # type: ignore[attr-defined]
        if not store.is_file():
            self.status.value = f"<span class='eud-status'>No results store at {html.escape(str(store))} yet.</span>"
            self.summary.value = self.planning.value = ""
            return
        started = time.perf_counter()
        try:
            result = compute_validity(store, runs, n_boot=self.n_boot)
        except (OSError, KeyError, ValueError, sqlite3.Error) as exc:
            self.status.value = f"<span class='eud-error'>Cannot compute the results: {html.escape(str(exc))}</span>"
            return
        labels = dict(zip(result.models["run_id"].astype(str), result.models["model"].astype(str))) \
            if not result.models.empty else {}
        for row in self.labelling.runs.options:  # type: ignore[attr-defined]
            label, run_id = row
            labels[str(run_id)] = label  # "model · judge J · run", as the run list names it
        _, shown = summary_frames(result, labels)
        _, plan = planning_frames(result.by_requirement, result.target_half_width, labels)
        self.refreshes += 1
        n = int(result.models["n_labels"].sum()) if not result.models.empty else 0
        self.status.value = (f"<span class='eud-status eud-results-status'>{n} labels behind these results; "
                             f"updated in {time.perf_counter() - started:.1f} s ({self.n_boot} bootstrap replicates). "
                             "The dashboard's Judge validity tab has the details.</span>")
        notes = "".join(f"<p class='eud-note'>{html.escape(note)}</p>" for note in result.notes)
        self.summary.value = ("<div class='eud-lead'><b>The judge against your labels</b> (95% intervals)</div>"
                              + table_html(shown) + notes)
        self.planning.value = ("" if plan.empty else
                               f"<b>Labels needed per requirement</b> for a corrected 95% interval of "
                               f"±{100 * result.target_half_width:.0f} points" + table_html(plan))
