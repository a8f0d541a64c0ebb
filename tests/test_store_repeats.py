"""Store schema 7: a store written before epochs (schema 2) is backed up, then migrated with every
row kept as epoch 1 / judge repeat 1, every column kept (also one another migration added), and
reads the same before and after; afterwards the new keys hold one row per sample."""

from __future__ import annotations

import logging
import sqlite3

import pandas as pd
import pytest

from eudaimonia_nb.benchmark.design_code import rubric_versions
from eudaimonia_nb.store.results import _SCHEMA, ResponseRecord, ResultsStore, StoreError, VerdictRecord, list_runs, \
    load_judgments, response_sha256
from eudaimonia_nb.store.schema import MIGRATIONS, SCHEMA_VERSION

RUN = "m-0123456789ab"


def _store_of_schema_2(path, *, extra_column: bool = False) -> None:
    """A store exactly as the code before epochs wrote it: the version-1 tables, then migration 2."""
    db = sqlite3.connect(path)
    for statement in [s for s in _SCHEMA.split(";") if s.strip()]:
        db.execute(statement)
    two = next(m for m in MIGRATIONS if m.version == 2)
    for statement in two.statements:
        db.execute(statement)
    if extra_column:  # as another branch's migration (parse details of a verdict) would add one
        db.execute("ALTER TABLE verdicts ADD COLUMN parse_path TEXT")
    db.execute("CREATE INDEX verdicts_by_requirement ON verdicts(requirement)")
    db.execute("INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,?,?,?,NULL)",
               (RUN, "m", "http://x/v1", "j", "http://x/v1", '{"protocol": "suite"}', "{}", "sha", "0", 0, 1.0))
    keys = list(rubric_versions())
    for i, pid in enumerate(("p1", "p2", "p3")):
        db.execute("INSERT INTO run_checks VALUES (?,?,?,?,?,?)", (RUN, pid, keys[0], "real", None, None))
        db.execute("INSERT INTO run_checks VALUES (?,?,?,?,?,?)", (RUN, pid, keys[1], "modified" if i else "real", None, None))
    db.execute("INSERT INTO responses VALUES (?,?,?,?,?,?,?,?,?,?,?)", (RUN, "p1", "answer one", 1, 2, 0.1, "stop", 1, 0, None, 2.0))
    db.execute("INSERT INTO responses VALUES (?,?,?,?,?,?,?,?,?,?,?)", (RUN, "p2", None, 0, 0, 0.1, None, 3, 0, "HTTP 500", 2.0))
    columns = "run_id, prompt_id, requirement, violation, reasoning, raw, prompt_tokens, completion_tokens, latency_s, " \
              "attempts, cached, error, rubric_version, created_at, response_sha256" + (", parse_path" if extra_column else "")
    rows = [(RUN, "p1", keys[0], 1, "r", "{}", 1, 1, 0.1, 1, 0, None, "v", 3.0, response_sha256("answer one")),
            (RUN, "p1", keys[1], 0, "r", "{}", 1, 1, 0.1, 1, 0, None, "v", 3.0, response_sha256("answer one")),
            (RUN, "p2", keys[0], None, None, None, 0, 0, 0.0, 0, 0, "no response to judge: HTTP 500", "v", 3.0, None)]
    for row in rows:
        values = row + (("json",) if extra_column else ())
        db.execute(f"INSERT INTO verdicts ({columns}) VALUES ({', '.join('?' * len(values))})", values)
    db.execute("PRAGMA user_version = 2")
    db.commit()
    db.close()


def _dump(path) -> list[str]:
    db = sqlite3.connect(path)
    try:
        return list(db.iterdump())
    finally:
        db.close()


def _migrated_with_a_second_epoch(path) -> tuple[ResultsStore, str]:
    """The schema-2 store migrated, with a second response to p1 (epoch 2); the store is open."""
    _store_of_schema_2(path)
    store = ResultsStore(path)
    store.put_response(RUN, ResponseRecord("p1", "answer two", 1, 1, 0.1, "stop", 1, False, None, epoch=2))
    return store, list(rubric_versions())[0]


@pytest.mark.parametrize("extra_column", [False, True])
def test_a_store_from_before_epochs_is_backed_up_migrated_and_reads_the_same(tmp_path, caplog, extra_column):
    path = tmp_path / "s.sqlite"
    _store_of_schema_2(path, extra_column=extra_column)
    original = _dump(path)
    read_before = load_judgments(path, texts=True)  # a reader takes the old store as it is
    assert (read_before["epoch"] == 1).all() and (read_before["judge_repeat"] == 1).all()
    assert _dump(path) == original

    with caplog.at_level(logging.WARNING, logger="eudaimonia_nb"):
        ResultsStore(path).close()
    backup = tmp_path / "s.sqlite.v2-backup"
    assert backup.is_file() and _dump(backup) == original
    assert any("version 2 to 7" in r.getMessage() and str(backup) in r.getMessage() for r in caplog.records)
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 7
        verdicts = pd.read_sql_query("SELECT * FROM verdicts ORDER BY rowid", db)
        responses = pd.read_sql_query("SELECT * FROM responses ORDER BY rowid", db)
        indexes = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")}
        sql = db.execute("SELECT sql FROM sqlite_master WHERE name = 'verdicts'").fetchone()[0]
    finally:
        db.close()
    assert len(verdicts) == 3 and len(responses) == 2
    assert (verdicts["epoch"] == 1).all() and (verdicts["judge_repeat"] == 1).all() and (responses["epoch"] == 1).all()
    assert verdicts["response_sha256"].iloc[0] == response_sha256("answer one")
    assert "CHECK ((violation IS NULL) <> (error IS NULL))" in sql
    assert "verdicts_by_requirement" in indexes
    if extra_column:
        assert verdicts["parse_path"].tolist() == ["json"] * 3
    read_after = load_judgments(path, texts=True)
    pd.testing.assert_frame_equal(read_after, read_before)
    assert list_runs(path)[["epochs", "judge_repeats"]].iloc[0].tolist() == [1, 1]


def test_the_new_keys_hold_one_row_per_sample(tmp_path):
    path = tmp_path / "s.sqlite"
    store, key = _migrated_with_a_second_epoch(path)
    try:
        for repeat in (1, 2, 2):  # the second write of repeat 2 replaces the first
            store.put_verdict(RUN, VerdictRecord("p1", key, repeat == 1, "r", "{}", 1, 1, 0.1, 1, False, None, "v",
                                                 response_sha256("answer two"), epoch=2, judge_repeat=repeat))
        # A verdict must name the response of its own epoch.
        with pytest.raises(StoreError, match="epoch 2: the verdict judged a response that is not the stored one"):
            store.put_verdict(RUN, VerdictRecord("p1", key, True, "r", "{}", 1, 1, 0.1, 1, False, None, "v",
                                                 response_sha256("answer one"), epoch=2, judge_repeat=3))
        assert store.response_samples(RUN)[("p1", 2)] == ("answer two", None)
        samples = store.verdict_samples(RUN)
        assert samples[("p1", key, 2, 1)] is None and samples[("p1", key, 2, 2)] is None
        assert len(samples) == 5
        # The first-sample readers (what other executors use) see epoch 1 only.
        assert store.responses(RUN) == {"p1": ("answer one", None), "p2": (None, "HTTP 500")}
        assert len(store.verdict_errors(RUN)) == 3
    finally:
        store.close()


def test_first_epoch_reads_the_first_response_and_its_judge_calls_only(tmp_path):
    """What a label is about (``store.labels``, ``validity``), read without the other epochs."""
    from eudaimonia_nb.store.results import response_texts

    old = tmp_path / "old.sqlite"
    _store_of_schema_2(old)  # read as it is: no epoch columns
    pd.testing.assert_frame_equal(load_judgments(old, first_epoch=True), load_judgments(old))
    assert len(response_texts(old, RUN, epoch=1)) == 2 and response_texts(old, RUN, epoch=2).empty

    path = tmp_path / "s.sqlite"
    store, key = _migrated_with_a_second_epoch(path)
    try:
        for epoch, text in ((1, "answer one"), (2, "answer two")):
            store.put_verdict(RUN, VerdictRecord("p1", key, epoch == 2, "r", "{}", 1, 1, 0.1, 1, False, None, "v",
                                                 response_sha256(text), epoch=epoch, judge_repeat=2))
    finally:
        store.close()
    db = sqlite3.connect(path)
    db.execute("UPDATE runs SET parameters = ?", ('{"protocol": "suite", "epochs": 2, "judge_repeats": 2}',))
    db.commit()
    db.close()
    every = load_judgments(path, texts=True)
    first = load_judgments(path, texts=True, first_epoch=True)
    assert len(every) == 6 * 4 and len(first) == 6 * 2
    pd.testing.assert_frame_equal(first, every[every["epoch"] == 1].reset_index(drop=True))
    assert first.loc[(first["prompt_id"] == "p1") & (first["requirement"] == key), "violation"].tolist() == [1.0, 0.0]
    assert response_texts(path, RUN, epoch=2)["text"].tolist() == ["answer two"]
    assert sorted(response_texts(path, RUN, epoch=1)["prompt_id"]) == ["p1", "p2"]
