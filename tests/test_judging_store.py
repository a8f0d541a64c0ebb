"""The results store contract (long table, WAL reads during writes, pending checks) and the
run plan (deterministic ids, subsets, dry run) on the real benchmark file."""

from __future__ import annotations

import math
import sqlite3
from dataclasses import replace

import pytest

from eudaimonia_nb.benchmark.design_code import REQUIREMENT_KEYS, rubric_versions
from eudaimonia_nb.judging.config import RunConfig
from eudaimonia_nb.judging.dry_run import dry_run
from eudaimonia_nb.judging.plan import SubsetError, run_id_for, select
from eudaimonia_nb.judging.runner import Runner
from eudaimonia_nb.store.results import PENDING, ResultsStore, VerdictRecord, list_runs, load_judgments

CONFIG = RunConfig(
    model="m", base_url="http://user:pw@127.0.0.1:9/v1?key=abc", judge_model="j", judge_base_url="http://127.0.0.1:9/v1",
    api_key_env=None, judge_api_key_env=None, limit=5,
    protocol="suite",  # these tests write verdicts with the suite's rubric versions and edit its preamble
)


def _verdict(pid: str, req: str, violation: bool | None, error: str | None = None) -> VerdictRecord:
    return VerdictRecord(pid, req, violation, "because", "{}", 10, 5, 0.1, 1, False, error, rubric_versions()[req])


def _started(benchmark, tmp_path) -> tuple[Runner, ResultsStore]:
    runner = Runner(replace(CONFIG, store_path=str(tmp_path / "s.sqlite")), benchmark=benchmark, prices={})
    store = ResultsStore(runner.store_path)
    store.begin_run(runner.record(), runner.checks)
    return runner, store


def test_long_table_has_one_row_per_planned_check(benchmark, tmp_path):
    runner, store = _started(benchmark, tmp_path)
    checks = list(zip(runner.checks["prompt_id"], runner.checks["requirement"]))
    store.put_verdict(runner.run_id, _verdict(*checks[0], True))
    store.put_verdict(runner.run_id, _verdict(*checks[1], False))
    store.put_verdict(runner.run_id, _verdict(*checks[2], None, "unparseable judge reply: 'meh'"))
    store.put_verdict(runner.run_id, _verdict(*checks[1], True))  # a redo replaces, never duplicates
    store.close()
    frame = load_judgments(runner.store_path)
    assert len(frame) == len(checks)
    assert {"model", "prompt_id", "requirement", "source", "violation", "error", "run_id", "judge_model", "rubric_version"} <= set(frame.columns)
    assert list(frame["violation"].iloc[:2]) == [1.0, 1.0]
    assert math.isnan(frame["violation"].iloc[2]) and frame["error"].iloc[2].startswith("unparseable")
    assert (frame["error"].iloc[3:] == PENDING).all() and frame["violation"].iloc[3:].isna().all()
    assert (frame["error"].iloc[:2] == "").all()
    assert set(frame["source"]) <= {"real", "modified"}
    expected_sources = runner.checks["source"].tolist()
    assert frame["source"].tolist() == expected_sources
    assert (frame["rubric_version"] == frame["requirement"].map(rubric_versions())).all()


def test_a_result_is_a_verdict_or_an_error_never_both(benchmark, tmp_path):
    runner, store = _started(benchmark, tmp_path)
    pid, req = runner.checks["prompt_id"].iloc[0], runner.checks["requirement"].iloc[0]
    with pytest.raises(ValueError):
        store.put_verdict(runner.run_id, _verdict(pid, req, True, "also an error"))
    with pytest.raises(ValueError):
        store.put_verdict(runner.run_id, _verdict(pid, req, None, None))
    store.close()


def test_dashboard_reads_while_a_run_writes(benchmark, tmp_path):
    runner, store = _started(benchmark, tmp_path)
    pid, req = runner.checks["prompt_id"].iloc[0], runner.checks["requirement"].iloc[0]
    store.put_verdict(runner.run_id, _verdict(pid, req, True))
    writer = sqlite3.connect(runner.store_path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # a writer mid-transaction
    writer.execute("DELETE FROM verdicts")
    frame = load_judgments(runner.store_path)  # not blocked, sees the committed state
    writer.execute("ROLLBACK")
    writer.close()
    store.close()
    assert frame["violation"].iloc[0] == 1.0


def test_run_record_keeps_no_credentials(benchmark, tmp_path):
    runner, store = _started(benchmark, tmp_path)
    store.close()
    runs = list_runs(runner.store_path)
    assert runs["base_url"].iloc[0] == "http://127.0.0.1:9/v1"
    assert "pw" not in runs["parameters"].iloc[0] and "key=abc" not in runs["parameters"].iloc[0]
    assert runs["dataset_sha256"].iloc[0] == benchmark.sha256 and runs["n_checks"].iloc[0] == len(runner.checks)
    with pytest.raises(FileNotFoundError):
        list_runs(tmp_path / "missing.sqlite")
    with pytest.raises(KeyError, match="nope"):
        load_judgments(runner.store_path, ["nope"])
    assert load_judgments(runner.store_path, []).empty  # selecting no run is not selecting all
    assert "pw" not in repr(runner.config) and "key=abc" not in repr(runner.config)
    assert "127.0.0.1:9/v1" in repr(runner.config)


def test_run_id_follows_what_determines_results(benchmark, monkeypatch):
    base = run_id_for(CONFIG, benchmark)
    assert run_id_for(CONFIG, benchmark) == base
    # operational settings and key variable names do not change the run
    for same in (dict(concurrency=64), dict(timeout_s=5.0), dict(api_key_env="OTHER"), dict(store_path="/x")):
        assert run_id_for(replace(CONFIG, **same), benchmark) == base
    for different in (dict(temperature=1.0), dict(judge_model="k"), dict(limit=6), dict(system_prompt="Be brief.")):
        assert run_id_for(replace(CONFIG, **different), benchmark) != base
    # so does the judge's fixed text: an edited preamble must not mix into a resumed run
    from eudaimonia_nb.judging import judge

    monkeypatch.setattr(judge, "PREAMBLE", judge.PREAMBLE + " Be strict.")
    assert run_id_for(CONFIG, benchmark) != base


@pytest.mark.parametrize(
    ("field", "value"),
    [("concurrency", 0), ("timeout_s", 0.0), ("max_retries", -1), ("limit", 0), ("max_tokens", 0), ("temperature", -0.1)],
)
def test_config_rejects_settings_that_cannot_work(field, value):
    with pytest.raises(ValueError, match=f"RunConfig.{field}: expected"):
        replace(CONFIG, **{field: value})


def test_subset_selection(benchmark):
    prompts, checks = select(benchmark, replace(CONFIG, limit=None, source="real", requirements=("2C_deference",)))
    assert (prompts["source"] == "real").all() and set(checks["requirement"]) == {"2C_deference"}
    assert len(checks) == len(prompts)
    full_prompts, full_checks = select(benchmark, replace(CONFIG, limit=None))
    assert len(full_prompts) == 969 and len(full_checks) == 3147
    with pytest.raises(SubsetError, match="p-unknown"):
        select(benchmark, replace(CONFIG, prompt_ids=("p-unknown",)))
    with pytest.raises(KeyError, match="expected one of"):
        select(benchmark, replace(CONFIG, requirements=("9Z_nothing",)))
    with pytest.raises(SubsetError):
        select(benchmark, replace(CONFIG, source="synthetic"))


def test_dry_run_counts_calls_without_sending(benchmark, tmp_path):
    config = replace(CONFIG, limit=None, store_path=str(tmp_path / "s.sqlite"), model="gpt-4o", judge_model="gpt-4o-mini")
    estimate = dry_run(config, benchmark=benchmark)
    assert (estimate.response_calls, estimate.judge_calls) == (969, 3147)
    assert estimate.cost_usd is not None and estimate.cost_usd > 0
    assert estimate.input_tokens > 3147 * 200  # every judge call carries a rubric and a prompt
    assert not (tmp_path / "s.sqlite").exists()
    unknown = dry_run(replace(config, model="no-such-model"), benchmark=benchmark)
    assert unknown.cost_usd is None and "unknown" in unknown.describe()
    assert set(REQUIREMENT_KEYS) == set(benchmark.checks["requirement"])


def test_price_table_errors_name_file_row_and_column(tmp_path):
    from eudaimonia_nb.judging.pricing import PriceTableError, cost_usd, load_prices

    good = tmp_path / "prices.csv"
    good.write_text("model,input_usd_per_million,output_usd_per_million\nGPT-X,2,8\n")
    prices = load_prices(good)
    assert cost_usd("openrouter/gpt-x", 1_000_000, 500_000, prices) == 6.0
    assert cost_usd("other", 1, 1, prices) is None
    bad = tmp_path / "bad.csv"
    bad.write_text("# USD per million tokens\nmodel,input_usd_per_million,output_usd_per_million\ngpt-x,2,8\ngpt-y,cheap,1\n")
    with pytest.raises(PriceTableError, match=r"bad\.csv, line 4: column 'input_usd_per_million'"):
        load_prices(bad)
    bad.write_text("model,input_usd_per_million,output_usd_per_million\ngpt-x,2,8\n\nGPT-X,3,9\n")
    with pytest.raises(PriceTableError, match=r"line 4: column 'model': 'gpt-x' is already priced on line 2"):
        load_prices(bad)
    (tmp_path / "cols.csv").write_text("model,price\n")
    with pytest.raises(PriceTableError, match="missing column"):
        load_prices(tmp_path / "cols.csv")


def test_one_model_in_two_runs_becomes_two_models_never_double_counted(benchmark, tmp_path):
    from eudaimonia_nb.analysis.frames import JudgmentsError, validate_judgments

    path = str(tmp_path / "s.sqlite")
    first = Runner(replace(CONFIG, store_path=path), benchmark=benchmark, prices={})
    second = Runner(replace(CONFIG, store_path=path, judge_model="another-judge"), benchmark=benchmark, prices={})
    other = Runner(replace(CONFIG, store_path=path, model="solo"), benchmark=benchmark, prices={})
    store = ResultsStore(path)
    for runner in (first, second, other):
        store.begin_run(runner.record(), runner.checks)
    store.close()
    frame = load_judgments(path)
    n = len(first.checks)
    assert len(frame) == 3 * n
    # Named by what differs (the judge), in words; the run id stays in its own column.
    assert sorted(frame["model"].unique()) == sorted(["m · judge j · suite protocol",
                                                      "m · judge another-judge · suite protocol", "solo"])
    assert set(frame.loc[frame["model_name"] == "m", "run_id"]) == {first.run_id, second.run_id}
    assert frame.groupby("model")["run_id"].nunique().eq(1).all()
    validate_judgments(frame)  # one row per model x prompt x requirement
    pooled = frame.assign(model=frame["model_name"])
    with pytest.raises(JudgmentsError, match=r"row \d+.*'model'.*a second row for model 'm'.*first at row 1"):
        validate_judgments(pooled)


def test_runs_that_read_alike_get_their_run_id_and_a_condition_is_named(benchmark, tmp_path):
    path = str(tmp_path / "s.sqlite")
    runners = [Runner(replace(CONFIG, store_path=path), benchmark=benchmark, prices={}),
               Runner(replace(CONFIG, store_path=path, temperature=0.2), benchmark=benchmark, prices={}),
               Runner(replace(CONFIG, store_path=path, condition="design-code", system_prompt="Be plain."),
                      benchmark=benchmark, prices={})]
    store = ResultsStore(path)
    for runner in runners:
        store.begin_run(runner.record(), runner.checks)
    store.close()
    labels = load_judgments(path).drop_duplicates("run_id").set_index("run_id")["model"]
    first, second, third = (r.run_id for r in runners)
    # Same model, judge and protocol: only the run id tells the first two apart.
    assert labels[first] == f"m · judge j · suite protocol · run {first}"
    assert labels[second] == f"m · judge j · suite protocol · run {second}"
    assert labels[third] == "m · judge j · suite protocol · condition design-code"


def test_python_api_sends_the_model_key_to_the_judge_only_on_the_same_host():
    from eudaimonia_nb.judging.config import SAME_HOST_KEY

    same = RunConfig(model="m", base_url="https://api.example.com/v1", judge_model="j",
                     judge_base_url="https://api.example.com/v1", api_key_env="MY_KEY")
    assert same.judge_api_key_env == SAME_HOST_KEY and same.judge_key_env() == "MY_KEY"
    elsewhere = replace(same, judge_base_url="https://openrouter.example/api/v1")
    assert elsewhere.judge_key_env() is None
    other_port = replace(same, judge_base_url="https://api.example.com:8443/v1")
    assert other_port.judge_key_env() is None
    explicit = replace(elsewhere, judge_api_key_env="ROUTER_KEY")
    assert explicit.judge_key_env() == "ROUTER_KEY"
    assert explicit.identity() == elsewhere.identity()  # key variables do not decide results


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_an_exported_run_loads_back_into_the_analysis(benchmark, tmp_path, fmt):
    from eudaimonia_nb.analysis.frames import load_judgments as load_file
    from eudaimonia_nb.store.results import export_run

    runner, store = _started(benchmark, tmp_path)
    checks = list(zip(runner.checks["prompt_id"], runner.checks["requirement"]))
    store.put_verdict(runner.run_id, _verdict(*checks[0], True))
    store.put_verdict(runner.run_id, _verdict(*checks[1], None, "unparseable judge reply: 'meh'"))
    store.close()
    out = export_run(runner.store_path, runner.run_id, fmt, tmp_path / f"run.{fmt}")
    loaded = load_file(out)
    assert len(loaded) == len(checks)
    assert loaded["violation"].iloc[0] == 1.0
    assert loaded["violation"].iloc[1:].isna().all()
    assert loaded["error"].iloc[1].startswith("unparseable") and (loaded["error"].iloc[2:] == PENDING).all()
