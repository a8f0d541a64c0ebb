"""The results store: one SQLite file holding runs, planned checks, responses, verdicts and labels.

- ``records``: what a run, a response and a verdict are (the rows the store writes);
- ``results``: the store itself (``ResultsStore``) and reading it back as frames
  (``load_judgments``, ``list_runs``, ``export_run``);
- ``schema``: schema versions and migrations; ``run_lock``: one process per run;
- ``labels``: human labels of judged checks, beside the verdicts; ``label_files``: label CSV files
  (the guarded export, the checked import with its designs); ``sampling``: the stratified, seeded
  samples those labels are drawn from; ``outputs``: the guard every writer passes before it
  replaces a file (never a store), and spreadsheet-safe CSV cells.

May import: the shared ground and ``benchmark``. It knows nothing of how results were made
(``judging``) or what is made of them (``analysis``). The public names of ``results`` are
importable from here: ``from eudaimonia_nb.store import load_judgments``.
"""

from .results import (PENDING, UNPARSEABLE, ResponseRecord, ResultsStore, RunRecord, StoreError, VerdictRecord,
                      default_store_path, export_run, list_runs, load_judgments, open_store, response_sha256,
                      response_texts, verdict_details)

__all__ = [
    "PENDING", "UNPARSEABLE", "ResponseRecord", "ResultsStore", "RunRecord", "StoreError", "VerdictRecord",
    "default_store_path", "export_run", "list_runs", "load_judgments", "open_store", "response_sha256",
    "response_texts", "verdict_details",
]
