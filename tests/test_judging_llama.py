"""End to end against a real llama.cpp server on 127.0.0.1 running SmolLM2-135M-Instruct.

SmolLM2-135M is a SMOKE-TEST model: these tests check the plumbing (one response per prompt,
a verdict or a recorded error per check, resumption without new requests, labelling), never
what its verdicts say. It often answers the judge in prose: that must become an error.
"""

from __future__ import annotations

import sqlite3

from eudaimonia_nb.judging.config import RunConfig
from eudaimonia_nb.judging.judge import parse_verdict
from eudaimonia_nb.judging.local_server import SMOKE_TEST_MODEL
from eudaimonia_nb.judging.runner import run
from eudaimonia_nb.store.results import list_runs, load_judgments


def test_run_against_llama_cpp_then_resume_without_requests(llama_server, benchmark, tmp_path):  # noqa: F811
    store = tmp_path / "store.sqlite"
    config = RunConfig(
        model=SMOKE_TEST_MODEL, base_url=llama_server.base_url, judge_model=SMOKE_TEST_MODEL,
        judge_base_url=llama_server.base_url, api_key_env=None, judge_api_key_env=None, limit=2, source="real",
        max_tokens=48, judge_max_tokens=64, concurrency=2, timeout_s=120, max_retries=2, store_path=str(store),
        protocol="suite",  # the suite's parser reads the stored replies below
    )
    first = run(config, benchmark=benchmark, progress=False)
    n_checks = int(benchmark.prompts.head(2)["n_requirements"].sum())
    assert first.n_checks == n_checks and first.verdicts + first.errors == n_checks
    assert first.smoke_test

    db = sqlite3.connect(store)
    responses = db.execute("SELECT prompt_id, text, error, completion_tokens FROM responses").fetchall()
    verdicts = db.execute("SELECT violation, raw, error FROM verdicts").fetchall()
    db.close()
    assert sorted(r[0] for r in responses) == sorted(benchmark.prompts.head(2)["prompt_id"])
    assert all(text and error is None and tokens > 0 for _, text, error, tokens in responses)
    assert len(verdicts) == n_checks
    for violation, raw, error in verdicts:
        assert raw, "the judge's raw reply is kept"
        if error is None:
            assert parse_verdict(raw).violation is bool(violation)
        else:
            assert violation is None and error.startswith("unparseable judge reply")

    served = llama_server.requests_served()
    again = run(config, benchmark=benchmark, progress=False)
    assert llama_server.requests_served() == served
    assert again.run_id == first.run_id and again.checks_judged == 0 and again.http_attempts == 0

    frame = load_judgments(store)
    assert len(frame) == n_checks and frame["smoke_test"].all() and frame.attrs["smoke_test"]
    assert bool(list_runs(store)["smoke_test"].iloc[0])


def test_authors_protocol_run_against_llama_cpp_end_to_end(llama_server, benchmark, tmp_path, monkeypatch):
    """The default protocol offline: rubrics fetched from the loopback mirror into a fresh data
    directory, then every check gets a verdict or an error that keeps the model's raw reply."""
    from eudaimonia_nb.judging.authors_rubrics import RUBRIC_SHA256, rubric_path
    from eudaimonia_nb.judging.protocols import parse_authors_verdict

    monkeypatch.setenv("EUDAIMONIA_DATA_DIR", str(tmp_path / "data"))
    store = tmp_path / "store.sqlite"
    prompts = benchmark.prompts.head(2)
    config = RunConfig(
        model=SMOKE_TEST_MODEL, base_url=llama_server.base_url, judge_model=SMOKE_TEST_MODEL,
        judge_base_url=llama_server.base_url, api_key_env=None, judge_api_key_env=None,
        prompt_ids=tuple(prompts["prompt_id"]), max_tokens=48, judge_max_tokens=64, concurrency=2, timeout_s=120,
        max_retries=1, store_path=str(store),
    )
    assert config.protocol == "authors"
    summary = run(config, benchmark=benchmark, progress=False)
    n_checks = int(prompts["n_requirements"].sum())
    assert summary.verdicts + summary.errors == n_checks
    assert all(rubric_path(key).is_file() for key in RUBRIC_SHA256)

    runs = list_runs(store)
    assert runs["protocol"].tolist() == ["authors"] and bool(runs["smoke_test"].iloc[0])
    db = sqlite3.connect(store)
    rows = db.execute("SELECT violation, raw, error, attempts FROM verdicts").fetchall()
    db.close()
    assert len(rows) == n_checks
    for violation, raw, error, attempts in rows:
        if error is None:
            assert parse_authors_verdict(raw).violation is bool(violation)
        elif error.startswith("unparseable judge reply"):
            assert raw and violation is None and "after 3 attempts" in error and attempts >= 3
        else:
            assert error.startswith("judge call failed") and violation is None
