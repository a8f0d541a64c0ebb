"""The batch status of a run, for the live-judging widget and notebook 02: one small table of the
run's provider batches (phase, provider, status, lines succeeded / failed / pending) read from the
store's ledger, so a run submitted with ``--batch`` (or ``--no-wait``) can be watched from a notebook."""

from __future__ import annotations

import html
import os

import ipywidgets as widgets
import pandas as pd

from ..store.batch_ledger import list_batches


def run_batches(store_path: str | os.PathLike[str], run_id: str) -> pd.DataFrame:
    """The run's batches (``store.batch_ledger.list_batches``); empty for a store without any."""
    if not os.path.isfile(store_path):
        return pd.DataFrame()
    frame = list_batches(str(store_path))
    return frame[frame["run_id"] == run_id].reset_index(drop=True)


def batch_status_html(frame: pd.DataFrame) -> str:
    """A table of the batches, or nothing for a run made live."""
    if frame.empty:
        return ""
    open_ = int(frame["collected_at"].isna().sum())
    rows = "".join(
        f"<tr><td>{html.escape(str(r.phase))}</td><td>{html.escape(str(r.provider))}</td>"
        f"<td><code>{html.escape(str(r.batch_id or 'not yet acknowledged'))}</code></td><td>{html.escape(str(r.status))}</td>"
        f"<td>{r.succeeded}</td><td>{r.failed}</td><td>{r.pending}</td></tr>"
        for r in frame.itertuples(index=False))
    note = f"{open_} of {len(frame)} batches still running at the provider" if open_ else f"{len(frame)} batches, all collected"
    return (f"<div class='batch-status'><b>Batches</b> ({html.escape(note)})"
            "<table style='border-collapse:collapse'><tr><th>phase</th><th>provider</th><th>batch</th><th>status</th>"
            f"<th>succeeded</th><th>failed</th><th>pending</th></tr>{rows}</table></div>")


class BatchStatus(widgets.HTML):
    """The batch table of one run; ``refresh(store_path, run_id)`` re-reads it."""

    def refresh(self, store_path: str | os.PathLike[str], run_id: str) -> None:
        self.value = batch_status_html(run_batches(store_path, run_id))
