"""Store schema 7: a store written before epochs (schema 2 or 3) is backed up, then migrated with every
row kept as epoch 1 / judge repeat 1, every column kept (also those migration 3 added, with their values), and
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


def _store_of_schema_2(path, *, version: int = 2) -> None:
    """A store exactly as the code before epochs wrote it: the version-1 tables, then the migrations
    up to ``version`` (2, or 3 with its parse_path, verdict_flags and reasoning_repr filled in)."""
    db = sqlite3.connect(path)
    for statement in [s for s in _SCHEMA.split(";") if s.strip()]:
        db.execute(statement)
    for migration in MIGRATIONS:
        if migration.version <= version:
            assert not migration.steps  # these are plain ALTERs; a rebuilding one is what is tested
            for statement in migration.statements:
                db.execute(statement)
    db.execute("CREATE INDEX verdicts_by_requirement ON verdicts(requirement)")
    db.execute("INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,?,?,?,NULL)",
               (RUN, "m", "http://x/v1", "j", "http://x/v1", '{"protocol": "suite"}', "{}", "sha", "0", 0, 1.0))
    keys = list(rubric_versions())
    for i, pid in enumerate(("p1", "p2", "p3")):
        db.execute("INSERT INTO run_checks VALUES (?,?,?,?,?,?)", (RUN, pid, keys[0], "real", None, None))
        db.execute("INSERT INTO run_checks VALUES (?,?,?,?,?,?)", (RUN, pid, keys[1], "modified" if i else "real", None, None))
    columns = "run_id, prompt_id, text, prompt_tokens, completion_tokens, latency_s, finish_reason, attempts, cached, " \
              "error, created_at" + (", reasoning_repr" if version >= 3 else "")
    responses = [((RUN, "p1", "answer one", 1, 2, 0.1, "stop", 1, 0, None, 2.0), (1,)),
                 ((RUN, "p2", None, 0, 0, 0.1, None, 3, 0, "HTTP 500", 2.0), (0,))]
    for row, repr_flag in responses:
        values = row + (repr_flag if version >= 3 else ())
        db.execute(f"INSERT INTO responses ({columns}) VALUES ({', '.join('?' * len(values))})", values)
    columns = "run_id, prompt_id, requirement, violation, reasoning, raw, prompt_tokens, completion_tokens, latency_s, " \
              "attempts, cached, error, rubric_version, created_at, response_sha256" \
              + (", parse_path, verdict_flags" if version >= 3 else "")
    rows = [((RUN, "p1", keys[0], 1, "r", "{}", 1, 1, 0.1, 1, 0, None, "v", 3.0, response_sha256("answer one")),
             ("json", "")),
            ((RUN, "p1", keys[1], 0, "r", "{}", 1, 1, 0.1, 1, 0, None, "v", 3.0, response_sha256("answer one")),
             ("last_yes_no", "no_json;tie")),
            ((RUN, "p2", keys[0], None, None, None, 0, 0, 0.0, 0, 0, "no response to judge: HTTP 500", "v", 3.0, None),
             (None, ""))]
    for row, reading in rows:
        values = row + (reading if version >= 3 else ())
        db.execute(f"INSERT INTO verdicts ({columns}) VALUES ({', '.join('?' * len(values))})", values)
    db.execute(f"PRAGMA user_version = {version}")
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


@pytest.mark.parametrize("version", [2, 3])
def test_a_store_from_before_epochs_is_backed_up_migrated_and_reads_the_same(tmp_path, caplog, version):
    """Version 3 (issue 19's parse_path, verdict_flags, reasoning_repr) is migrated with those
    columns and their values kept through the tables' rebuild."""
    path = tmp_path / "s.sqlite"
    _store_of_schema_2(path, version=version)
    original = _dump(path)
    read_before = load_judgments(path, texts=True)  # a reader takes the old store as it is
    assert (read_before["epoch"] == 1).all() and (read_before["judge_repeat"] == 1).all()
    assert _dump(path) == original

    with caplog.at_level(logging.WARNING, logger="eudaimonia_nb"):
        ResultsStore(path).close()
    backup = tmp_path / f"s.sqlite.v{version}-backup"
    assert backup.is_file() and _dump(backup) == original
    assert any(f"version {version} to {SCHEMA_VERSION}" in r.getMessage() and str(backup) in r.getMessage() for r in caplog.records)
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 8
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
    if version >= 3:
        assert verdicts["parse_path"].fillna("NULL").tolist() == ["json", "last_yes_no", "NULL"]
        assert verdicts["verdict_flags"].tolist() == ["", "no_json;tie", ""]
        assert responses["reasoning_repr"].tolist() == [1, 0]
        assert read_before["verdict_flags"].tolist().count("no_json;tie") == 1
        assert list_runs(path)["n_reasoning_repr"].tolist() == [1]
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
