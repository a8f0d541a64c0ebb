"""Inspect interoperability end to end: the ``eudaimonia`` Inspect task against ``run``, suite runs
exported as Inspect logs and imported back, and logs that must be refused.

The Inspect task runs with ``mockllm/model`` for both roles, answering from the same script
(``scripted_replies``) that a loopback server answers ``run`` from, so every verdict, error and
rate can be compared; no test hard-codes what the parser makes of a reply, only that both sides
make the same of it.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest

# inspect-ai is installed by `make test` (the [inspect] extra): without it these tests fail, never skip.
from inspect_ai.log import read_eval_log, write_eval_log
from fault_server import FaultServer, Script
from judged_store import KEY_VAR, make_judged_store
from scripted_replies import PROSE, Replies, RepliesServer, run_inspect_task

from eudaimonia_nb.analysis.conventions import ERRORS_AS_NO_VIOLATION, apply_convention
from eudaimonia_nb.analysis.rates import bootstrap_rates, violation_rates
from eudaimonia_nb.interop.export import build_log, export_inspect
from eudaimonia_nb.judging.config import RunConfig
from eudaimonia_nb.judging.plan import RunPlan
from eudaimonia_nb.judging.runner import run
from eudaimonia_nb.store.results import (PENDING, ResponseRecord, ResultsStore, VerdictRecord, list_runs, load_judgments,
                                         response_sha256, response_texts, verdict_details)

REPO = Path(__file__).resolve().parent.parent
TASK_FILE = os.path.relpath(REPO / "eudaimonia_nb" / "interop" / "task.py")
"""Relative, as users type it (Inspect's loader globs it and refuses an absolute pattern)."""
CLI = [sys.executable, "-m", "eudaimonia_nb"]
N_PER_SOURCE = 4


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=600, env={**os.environ, **(env or {})})


def _last_line(process: subprocess.CompletedProcess) -> str:
    assert process.returncode == 0, process.stderr
    return process.stdout.strip().splitlines()[-1]


# -- the scripted comparison: run versus the Inspect task ---------------------------------------

@pytest.fixture(scope="module")
def prompts(benchmark) -> pd.DataFrame:
    rows = [benchmark.prompts[benchmark.prompts["source"] == s].iloc[10:10 + N_PER_SOURCE] for s in ("real", "modified")]
    return pd.concat(rows).reset_index(drop=True)


@pytest.fixture(scope="module")
def script(prompts):
    """Replies for both sides: an empty response, a reply unparseable on every attempt, one
    readable only when asked again, one fenced in prose; everything else a plain verdict."""
    first = lambda i: (prompts["text"][i], prompts["requirements"][i][0])  # noqa: E731
    fenced = 'Here is my verdict:\n```json\n{"reasoning": "fenced", "keep": true}\n```'

    def make() -> Replies:
        return Replies(empty=frozenset({prompts["text"][5]}),
                       judge={first(0): [PROSE], first(1): [PROSE, '{"reasoning": "second try", "keep": false}'],
                              first(2): [fenced]})
    return make


@pytest.fixture(scope="module")
def compared(tmp_path_factory, prompts, script, dataset_path, benchmark):
    """``run`` on the scripted server and the Inspect task on mockllm, the task's log imported
    with ``import-inspect`` into the same store."""
    root = tmp_path_factory.mktemp("interop")
    store = root / "results.sqlite"
    ids = tuple(prompts["prompt_id"])
    os.environ.setdefault(KEY_VAR, "not-a-real-key")
    run_replies = script()
    with RepliesServer(run_replies) as server:
        config = RunConfig(model="scripted-chat", base_url=server.base_url, judge_model="scripted-judge",
                           judge_base_url=server.base_url, api_key_env=KEY_VAR, prompt_ids=ids, store_path=str(store),
                           dataset_path=str(dataset_path), max_retries=0, use_cache=False)
        run_id = run(config, progress=False, benchmark=benchmark).run_id
    location, task_calls = run_inspect_task(script(), {"prompt_ids": ",".join(ids), "dataset": str(dataset_path)},
                                            root / "logs")
    imported = _last_line(_cli("import-inspect", location, "--store", str(store), "--dataset", str(dataset_path)))
    return {"store": store, "run_id": run_id, "log": read_eval_log(location), "imported": imported, "root": root,
            "calls": (dict(run_replies.calls), task_calls)}


def _checks(store: Path, run_id: str) -> pd.DataFrame:
    frame = load_judgments(store, [run_id])
    return frame[["prompt_id", "requirement", "source", "violation", "error"]].reset_index(drop=True)


def _same_records(store: Path, a: str, b: str) -> None:
    """Every stored field of every response and verdict of run ``b`` equals run ``a``'s (whatever
    fields the store's records have), row order aside."""
    for read, keys in ((response_texts, ["prompt_id", "epoch"]), (verdict_details, ["prompt_id", "requirement", "epoch",
                                                                                  "judge_repeat"])):
        left, right = ((read(store, run).drop(columns=["run_id", "created_at"]).sort_values(keys).reset_index(drop=True))
                       for run in (a, b))
        assert len(left) > 0
        pd.testing.assert_frame_equal(left, right, check_exact=True)


def _same_rates(store: Path, a: str, b: str) -> None:
    """Every rate, interval and count of run ``a`` equals run ``b``'s, under both conventions."""
    frame = load_judgments(store, [a, b])
    for convention in ("apart", ERRORS_AS_NO_VIOLATION):
        data = apply_convention(frame, convention)
        boot = bootstrap_rates(data, "run_id").set_index("run_id").drop(columns="note")
        pd.testing.assert_series_equal(boot.loc[a], boot.loc[b], check_names=False, check_exact=True)
        by_req = violation_rates(data, ["run_id", "requirement"]).set_index(["run_id", "requirement"])
        pd.testing.assert_frame_equal(by_req.loc[a], by_req.loc[b], check_exact=True)


def test_the_inspect_task_logs_one_score_per_labelled_requirement(compared, prompts):
    log = compared["log"]
    assert log.status == "success" and log.eval.task == "eudaimonia"
    assert [s.id for s in log.samples] and {s.id for s in log.samples} == set(prompts["prompt_id"])
    labels = dict(zip(prompts["prompt_id"], prompts["requirements"]))
    for sample in log.samples:
        assert sample.metadata["prompt_id"] == sample.id
        assert sample.metadata["source"] in ("real", "modified")
        assert set(sample.scores) - {"all_checks"} == set(labels[sample.id]) == set(sample.metadata["requirements"])
        assert (sample.role_usage.get("grader") is not None) == (sample.output.completion != "")
    never = log.samples[[s.id for s in log.samples].index(prompts["prompt_id"][0])].scores[prompts["requirements"][0][0]]
    assert math.isnan(never.value) and never.reason == "grader_failed"  # Inspect's unscored, left out of its metrics
    assert never.metadata["eudaimonia"]["attempts"] == 3


def test_the_task_makes_the_same_judge_calls_and_verdicts_as_run(compared):
    """Same replies, same verdicts: each check's verdict or error, the number of calls (re-asks
    included) and every rate, interval and count agree with ``run``'s."""
    store, a, b = compared["store"], compared["run_id"], compared["imported"]
    run_calls, task_calls = compared["calls"]
    assert run_calls == task_calls and task_calls["judge"] > 0
    left, right = _checks(store, a), _checks(store, b)
    assert len(left) == len(right) > 0
    pd.testing.assert_frame_equal(left, right)
    assert left["violation"].isna().sum() >= 2  # the unparseable reply and the empty response stay errors
    _same_rates(store, a, b)


def test_inspect_metrics_are_the_suite_rates(compared):
    log, store, a = compared["log"], compared["store"], compared["run_id"]
    frame = load_judgments(store, [a])
    metrics = {s.name: s.metrics for s in log.results.scores}
    overall = violation_rates(frame, []).iloc[0]
    assert metrics["all_checks"]["violation_rate"].value == pytest.approx(overall["rate"], abs=1e-12)
    for row in violation_rates(frame, "requirement").itertuples():
        if row.n_checks:
            assert metrics[row.requirement]["mean"].value == pytest.approx(row.rate, abs=1e-12)


def test_the_authors_errors_convention_scores_an_unparseable_reply_but_imports_it_as_an_error(
        compared, prompts, script, dataset_path):
    store, a = compared["store"], compared["run_id"]
    location, _ = run_inspect_task(script(), {"prompt_ids": ",".join(prompts["prompt_id"]), "dataset": str(dataset_path),
                                              "errors": ERRORS_AS_NO_VIOLATION}, compared["root"] / "logs-authors")
    log = read_eval_log(location)
    frame = apply_convention(load_judgments(store, [a]), ERRORS_AS_NO_VIOLATION)
    overall = violation_rates(frame, []).iloc[0]
    assert {s.name: s.metrics for s in log.results.scores}["all_checks"]["violation_rate"].value == \
        pytest.approx(overall["rate"], abs=1e-12)
    sample = next(s for s in log.samples if s.id == prompts["prompt_id"][0])
    score = sample.scores[prompts["requirements"][0][0]]
    assert score.value == 0 and score.metadata["eudaimonia"]["error"]  # counted, and still known as an error
    imported = _last_line(_cli("import-inspect", log.location, "--store", str(store), "--dataset", str(dataset_path)))
    pd.testing.assert_frame_equal(_checks(store, a), _checks(store, imported))


def test_a_failed_judge_call_is_an_error_not_a_verdict(tmp_path, prompts, script, dataset_path):
    location, _ = run_inspect_task(script(), {"prompt_ids": prompts["prompt_id"][3], "dataset": str(dataset_path)},
                                   tmp_path, fail_judge_on=prompts["text"][3], max_retries=0)
    log = read_eval_log(location)
    assert log.status == "success"
    [sample] = log.samples
    for score in (v for k, v in sample.scores.items() if k != "all_checks"):
        assert math.isnan(score.value)
        assert score.metadata["eudaimonia"]["error"].startswith("judge call failed: ")
        assert "provider is down" in score.metadata["eudaimonia"]["error"]


def test_a_judge_given_twice_stops_the_eval_with_a_clear_error(tmp_path, prompts, script, dataset_path):
    location, calls = run_inspect_task(script(), {"prompt_ids": prompts["prompt_id"][1], "dataset": str(dataset_path),
                                                  "judge": "mockllm/model"}, tmp_path)
    log = read_eval_log(location)
    assert log.status == "error" and "the judge is given twice" in log.error.message
    assert calls.get("judge", 0) == 0  # no verdict from a judge that might not be the one meant


def test_inspect_eval_on_the_command_line_with_task_arguments(compared, prompts, script, dataset_path):
    """``inspect eval task.py -T ...`` with Inspect's OpenAI-compatible provider on the loopback
    server: the log imports and agrees with ``run`` check for check."""
    store, a = compared["store"], compared["run_id"]
    logs = compared["root"] / "cli-logs"
    with RepliesServer(script()) as server:
        env = {**os.environ, "SCRIPTED_BASE_URL": server.base_url, "SCRIPTED_API_KEY": "not-a-real-key"}
        process = subprocess.run(
            [str(Path(sys.executable).with_name("inspect")), "eval", str(TASK_FILE), "--model", "openai-api/scripted/chat",
             "-T", "judge=openai-api/scripted/judge", "-T", f"prompt_ids={','.join(prompts['prompt_id'])}",
             "-T", f"dataset={dataset_path}", "--log-dir", str(logs), "--display", "none"],
            capture_output=True, text=True, timeout=600, env=env, cwd=os.getcwd())
    assert process.returncode == 0, process.stdout + process.stderr
    [path] = logs.glob("*.eval")
    log = read_eval_log(str(path))
    assert log.status == "success" and log.eval.task_args["judge"] == "openai-api/scripted/judge"
    imported = _last_line(_cli("import-inspect", str(path), "--store", str(store), "--dataset", str(dataset_path)))
    pd.testing.assert_frame_equal(_checks(store, a), _checks(store, imported))
    record = list_runs(store).set_index("run_id").loc[imported]
    assert record["judge_model"] == "openai-api/scripted/judge" and record["model"] == "openai-api/scripted/chat"
    assert record["protocol"] == "authors"


# -- export and import of suite runs -------------------------------------------------------------

@pytest.fixture(scope="module")
def judged(tmp_path_factory, dataset_path):
    return make_judged_store(tmp_path_factory.mktemp("judged") / "results.sqlite", dataset_path)


def _copy(store: Path, tmp_path: Path) -> Path:
    """A copy of a store (SQLite's backup, WAL included), so a test's imports stay its own."""
    import sqlite3

    target = tmp_path / "copy.sqlite"
    source, copy = sqlite3.connect(store), sqlite3.connect(target)
    try:
        source.backup(copy)
    finally:
        source.close()
        copy.close()
    return target


def _export(store: Path, run_id: str, out: Path, dataset_path: Path, *, command: bool = False) -> Path:
    """``export --format inspect`` through the command (``command``) or its function (faster)."""
    if command:
        assert Path(_last_line(_cli("export", run_id, "--format", "inspect", "--out", str(out), "--store", str(store),
                                    "--dataset", str(dataset_path)))) == out
        return out
    return export_inspect(store, run_id, out, dataset_path=dataset_path)


def test_a_suite_run_exports_as_an_inspect_log(judged, dataset_path, tmp_path):
    store = judged.path
    run_id = judged.run_ids[1]  # the run with judge errors
    path = _export(store, run_id, tmp_path / "beta.eval", dataset_path, command=True)
    log = read_eval_log(str(path))
    frame = load_judgments(store, [run_id], texts=True)
    record = list_runs(store).set_index("run_id").loc[run_id]
    assert log.status == "success" and log.eval.task == "eudaimonia"
    assert log.eval.model == record["model"] and log.eval.model_base_url == record["base_url"]
    assert log.eval.model_roles["grader"].model == record["judge_model"]
    assert log.eval.dataset.name == "eudaimonia" and log.eval.metadata["dataset_sha256"] == record["dataset_sha256"]
    assert log.eval.packages["eudaimonia-nb"] == record["package_version"]
    assert log.eval.model_generate_config.temperature == json.loads(record["parameters"])["temperature"]
    assert len(log.samples) == frame["prompt_id"].nunique()
    errors = 0
    for sample in log.samples:
        rows = frame[frame["prompt_id"] == sample.id].set_index("requirement")
        assert sample.metadata["prompt_id"] == sample.id and sample.output.completion == rows["response"].iloc[0]
        assert set(sample.scores) - {"all_checks"} == set(rows.index)
        for key, row in rows.iterrows():
            score = sample.scores[key]
            if pd.isna(row["violation"]):
                errors += 1
                assert math.isnan(score.value) and score.explanation == row["error"]
            else:
                assert score.value == int(row["violation"]) and score.explanation == row["reasoning"]
        assert sample.role_usage["grader"].input_tokens > 0 and sample.model_usage[record["model"]].input_tokens > 0
    assert errors == frame["violation"].isna().sum() > 0
    overall = violation_rates(frame, []).iloc[0]["rate"]
    assert {s.name: s.metrics for s in log.results.scores}["all_checks"]["violation_rate"].value == pytest.approx(overall)
    with zipfile.ZipFile(path) as archive:  # the key never leaves the machine, even as a variable's value
        assert not any(os.environ[KEY_VAR].encode() in archive.read(name) for name in archive.namelist())


def test_inspect_view_serves_an_exported_run(judged, dataset_path, tmp_path):
    """``inspect view`` lists the exported log and serves it whole through its own API (what its
    page reads)."""
    import time
    import urllib.request

    from test_dashboard_helpers import free_port, stop_group

    path = _export(judged.path, judged.run_ids[0], tmp_path / "logs" / "alpha.eval", dataset_path)
    port = free_port()
    server = subprocess.Popen([str(Path(sys.executable).with_name("inspect")), "view", "--log-dir", str(path.parent),
                               "--host", "127.0.0.1", "--port", str(port)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline, listing = time.monotonic() + 180, None
        while time.monotonic() < deadline and listing is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/logs", timeout=5) as answer:
                    listing = json.load(answer)
            except OSError:
                time.sleep(0.5)
        assert listing is not None, "inspect view did not start"
        [entry] = listing["files"]
        assert entry["task"] == "eudaimonia" and entry["name"].endswith("alpha.eval")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/logs/{entry['name']}", timeout=60) as answer:
            served = json.load(answer)
    finally:
        stop_group(server)
    assert served["status"] == "success" and served["eval"]["run_id"] == judged.run_ids[0]
    assert len(served["samples"]) == load_judgments(judged.path, [judged.run_ids[0]])["prompt_id"].nunique()


def test_an_exported_run_imports_with_the_same_rates_to_the_last_digit(judged, dataset_path, tmp_path):
    store = _copy(judged.path, tmp_path)
    paths = [_export(store, run_id, tmp_path / f"{run_id}.eval", dataset_path) for run_id in judged.run_ids]
    process = _cli("import-inspect", *map(str, paths), "--store", str(store), "--dataset", str(dataset_path))
    imported_ids = process.stdout.strip().splitlines()[-len(paths):]  # the new run ids, last, one per line
    assert process.returncode == 0 and len(list_runs(store)) == 2 * len(paths), process.stderr
    for run_id, imported in zip(judged.run_ids, imported_ids):
        assert imported != run_id
        before, after = load_judgments(store, [run_id], texts=True), load_judgments(store, [imported], texts=True)
        columns = ["prompt_id", "requirement", "source", "violation", "error", "response", "reasoning", "judge_model",
                   "model_name", "protocol", "rubric_version"]
        pd.testing.assert_frame_equal(before[columns].reset_index(drop=True), after[columns].reset_index(drop=True))
        _same_records(store, run_id, imported)
        _same_rates(store, run_id, imported)


def test_the_same_log_is_never_imported_twice(judged, dataset_path, tmp_path):
    store = _copy(judged.path, tmp_path)
    path = _export(store, judged.run_ids[0], tmp_path / "alpha.eval", dataset_path)
    first = _last_line(_cli("import-inspect", str(path), "--store", str(store), "--dataset", str(dataset_path)))
    copy = tmp_path / "alpha-copy.json"  # the same log in Inspect's other format
    write_eval_log(read_eval_log(str(path)), str(copy))
    runs = len(list_runs(store))
    for again in ([str(path)], [str(copy)]):
        process = _cli("import-inspect", *again, "--store", str(store), "--dataset", str(dataset_path))
        assert process.returncode == 1 and f"already imported as run {first}" in process.stderr
    assert len(list_runs(store)) == runs


def _stored_run(store: Path, benchmark, dataset_path: Path, n_responses: int, judged: str) -> str:
    """A run stopped part way: responses for the first prompts, their checks ``judged`` (``ok``:
    verdicts, but none yet for the last response, as while its judge batch is out; ``failed``:
    every call failed), the rest not reached."""
    config = RunConfig(model="partial-chat", base_url="http://127.0.0.1:9/v1", judge_model="partial-judge",
                       judge_base_url="http://127.0.0.1:9/v1", api_key_env=None,
                       prompt_ids=tuple(benchmark.prompts["prompt_id"][:6]), dataset_path=str(dataset_path),
                       temperature=0.1 if judged == "ok" else 0.2)
    plan = RunPlan.build(config, benchmark)
    writer = ResultsStore(store)
    try:
        writer.begin_run(plan.record(), plan.checks)
        for i, pid in enumerate(plan.prompts["prompt_id"][:n_responses]):
            failed = judged == "failed"
            # Retried (2 attempts) or answered from the cache: fields an Inspect sample has no place of its own for.
            writer.put_response(plan.run_id, ResponseRecord(pid, None if failed else f"answer {i}", 5, 7, 0.1, "stop",
                                                            1 + i % 2, i == 0, "HTTP 500: down" if failed else None))
            if judged == "ok" and i == n_responses - 1:
                continue  # answered, not judged yet
            for key in plan.checks[plan.checks["prompt_id"] == pid]["requirement"]:
                writer.put_verdict(plan.run_id, VerdictRecord(
                    pid, key, None if failed else (i % 2 == 0), None if failed else "why", "raw", 3, 4, 0.2, 1, False,
                    "no response to judge: HTTP 500: down" if failed else None, "v1",
                    response_sha256=None if failed else response_sha256(f"answer {i}")))
    finally:
        writer.close()
    return plan.run_id


@pytest.mark.parametrize("judged, status", [("ok", "started"), ("failed", "error")])
def test_an_unfinished_or_failed_run_exports_with_its_status(tmp_path, benchmark, dataset_path, judged, status):
    store = tmp_path / "results.sqlite"
    run_id = _stored_run(store, benchmark, dataset_path, 3, judged)
    log = read_eval_log(str(_export(store, run_id, tmp_path / "partial.eval", dataset_path)))
    assert log.status == status and len(log.samples) == 3 and log.eval.dataset.samples == 6
    assert (log.error is not None) == (status == "error")
    if judged == "ok":  # the last response is in the log without scores; the import keeps it, its checks not judged yet
        assert not set(log.samples[-1].scores or {}) - {"all_checks"} and log.samples[-1].output.completion == "answer 2"
    imported = _last_line(_cli("import-inspect", str(tmp_path / "partial.eval"), "--store", str(store),
                               "--dataset", str(dataset_path)))
    before, after = _checks(store, run_id), _checks(store, imported)
    pd.testing.assert_frame_equal(before, after)
    _same_records(store, run_id, imported)
    assert (after["error"] == PENDING).sum() > 0  # the prompts never reached are not judged yet, as before
    assert pd.isna(list_runs(store).set_index("run_id").loc[imported, "ended_at"])


# -- logs that must be refused ---------------------------------------------------------------------

@pytest.fixture()
def exported(judged, dataset_path):
    return build_log(judged.path, judged.run_ids[1], dataset_path=dataset_path)


def _refused(log, tmp_path: Path, store: Path, dataset_path: Path, name: str, *also: Path) -> str:
    path = tmp_path / f"{name}.eval"
    write_eval_log(log, str(path))
    runs = len(list_runs(store))
    process = _cli("import-inspect", *map(str, also), str(path), "--store", str(store), "--dataset", str(dataset_path))
    assert process.returncode == 1, process.stdout
    assert len(list_runs(store)) == runs  # nothing imported, not even a good log given first
    return process.stderr


def test_a_file_that_is_not_a_log_is_refused_by_name(judged, dataset_path, tmp_path):
    bad = tmp_path / "notes.json"
    bad.write_text('{"status": "success"}', encoding="utf-8")
    process = _cli("import-inspect", str(bad), "--store", str(judged.path), "--dataset", str(dataset_path))
    assert process.returncode == 1 and f"{bad}: not a readable Inspect log" in process.stderr
    assert len(process.stderr.strip().splitlines()) == 1  # one line, not pydantic's report


def test_a_sample_without_a_prompt_id_is_refused_by_name(exported, judged, dataset_path, tmp_path):
    good = tmp_path / "good.eval"
    write_eval_log(exported, str(good))
    sample = exported.samples[2]
    del sample.metadata["prompt_id"]
    message = _refused(exported, tmp_path, _copy(judged.path, tmp_path), dataset_path, "no-id", good)
    assert f"sample {sample.id!r} has no metadata.prompt_id" in message


def test_a_sample_without_per_requirement_scores_is_refused_by_name(exported, judged, dataset_path, tmp_path):
    sample = exported.samples[4]
    sample.scores = {"accuracy": next(iter(sample.scores.values()))}
    message = _refused(exported, tmp_path, judged.path, dataset_path, "no-scores")
    assert f"sample {sample.id!r}" in message and "no per-requirement scores" in message and "accuracy" in message


def test_a_finished_log_missing_one_requirement_score_is_refused(exported, judged, dataset_path, tmp_path):
    sample = exported.samples[0]
    key = next(k for k in sample.scores if k != "all_checks")
    del sample.scores[key]
    message = _refused(exported, tmp_path, judged.path, dataset_path, "missing-one")
    assert f"sample {sample.id!r}" in message and f"no score for {key}" in message


def test_a_sample_outside_the_logs_epochs_or_twice_in_one_is_refused_by_name(exported, judged, dataset_path, tmp_path):
    sample = exported.samples[0]
    exported.samples.append(sample.model_copy(update={"epoch": 2}))  # config.epochs is 1
    message = _refused(exported, tmp_path, judged.path, dataset_path, "outside")
    assert f"sample {sample.id!r} (epoch 2) is outside the log's 1 epoch(s)" in message
    # A .eval log keeps one file per (id, epoch), so only a .json log can hold a sample twice.
    exported.eval.config.epochs = 2
    exported.samples.append(sample.model_copy(update={"epoch": 2}))
    path = tmp_path / "twice.json"
    write_eval_log(exported, str(path))
    process = _cli("import-inspect", str(path), "--store", str(judged.path), "--dataset", str(dataset_path))
    assert process.returncode == 1 and "two samples name the same prompt id in the same epoch" in process.stderr


# -- epochs through Inspect ----------------------------------------------------------------------

def _run_with_repeats(store: Path, benchmark, dataset_path: Path, **repeats) -> str:
    prompts = benchmark.prompts.groupby("source").head(5)["prompt_id"]
    with FaultServer(Script(response_variants=4, judge_flip=0.2, seed=21, quote_prompt=True)) as server:
        config = RunConfig(model="sampled-chat", base_url=server.base_url, judge_model="scripted-judge",
                           judge_base_url=server.base_url, api_key_env=None, prompt_ids=tuple(prompts),
                           store_path=str(store), dataset_path=str(dataset_path), max_retries=0, **repeats)
        return run(config, progress=False, benchmark=benchmark).run_id


def test_a_run_with_epochs_exports_a_sample_per_epoch_and_imports_back_the_same(tmp_path, benchmark, dataset_path):
    store = tmp_path / "results.sqlite"
    run_id = _run_with_repeats(store, benchmark, dataset_path, epochs=3)
    log = read_eval_log(str(_export(store, run_id, tmp_path / "epochs.eval", dataset_path, command=True)))
    responses = response_texts(store, run_id).set_index(["prompt_id", "epoch"])["text"]
    assert log.eval.config.epochs == 3 and log.results.total_samples == 10 * 3
    assert sorted((str(s.id), s.epoch) for s in log.samples) == sorted(responses.index)
    for sample in log.samples:  # each sample is that epoch's response, not another's
        assert sample.output.completion == responses[(str(sample.id), sample.epoch)]
    assert responses.groupby(level=0).nunique().max() > 1, "the epochs' responses differ"

    process = _cli("import-inspect", str(tmp_path / "epochs.eval"), "--store", str(store), "--dataset", str(dataset_path),
                   "--json")
    assert process.returncode == 0, process.stderr
    summary = json.loads(process.stdout)
    assert summary["epochs"] == 3 and summary["n_not_judged"] == 0
    imported = summary["run_id"]
    columns = ["prompt_id", "requirement", "epoch", "judge_repeat", "violation", "error", "response"]
    before, after = (load_judgments(store, [r], texts=True)[columns].reset_index(drop=True) for r in (run_id, imported))
    pd.testing.assert_frame_equal(before, after)
    _same_records(store, run_id, imported)
    record = list_runs(store).set_index("run_id").loc[imported]
    assert (record["epochs"], record["judge_repeats"]) == (3, 1) and pd.notna(record["ended_at"])
    noise = _cli("noise", "--store", str(store), "--run-id", run_id, "--run-id", imported, "--json", "--n-boot", "100")
    assert noise.returncode == 0, noise.stderr
    first, second = json.loads(noise.stdout)["runs"]
    assert first["response_flip_rate"] is not None and first["se_rate"] is not None
    for key in ("epochs", "n_verdicts", "response_flip_rate", "sd_prompt", "sd_response", "se_rate"):
        assert first[key] == second[key] or first[key] == pytest.approx(second[key], rel=1e-9), (key, first, second)


def test_a_run_with_judge_repeats_is_refused_by_the_export_naming_them(tmp_path, benchmark, dataset_path):
    store = tmp_path / "results.sqlite"
    run_id = _run_with_repeats(store, benchmark, dataset_path, judge_repeats=2)
    out = tmp_path / "repeats.eval"
    process = _cli("export", run_id, "--format", "inspect", "--out", str(out), "--store", str(store),
                   "--dataset", str(dataset_path))
    assert process.returncode == 1 and "2 judge repeats per check" in process.stderr and "Traceback" not in process.stderr
    assert not out.exists() and not list(tmp_path.glob("*.eval"))


def test_inspect_eval_with_epochs_imports_as_a_run_with_epochs(tmp_path, prompts, script, dataset_path):
    store = tmp_path / "results.sqlite"
    ids = tuple(prompts["prompt_id"])
    location, _ = run_inspect_task(script(), {"prompt_ids": ",".join(ids), "dataset": str(dataset_path)}, tmp_path / "logs",
                                   epochs=2)
    log = read_eval_log(location)
    assert log.eval.config.epochs == 2 and {s.epoch for s in log.samples} == {1, 2}
    imported = _last_line(_cli("import-inspect", location, "--store", str(store), "--dataset", str(dataset_path)))
    frame = load_judgments(store, [imported])
    checks = sum(len(r) for r in prompts["requirements"])
    assert len(frame) == checks * 2 and sorted(frame["epoch"].unique()) == [1, 2] and (frame["judge_repeat"] == 1).all()
    assert list_runs(store).set_index("run_id").loc[imported, "epochs"] == 2
    for epoch in (1, 2):  # each epoch's verdicts are that epoch's samples' scores
        scores = {(str(s.id), k): v for s in log.samples if s.epoch == epoch for k, v in s.scores.items() if k != "all_checks"}
        stored = frame[frame["epoch"] == epoch].set_index(["prompt_id", "requirement"])["violation"]
        for key, value in stored.items():
            expected = scores[key].value
            assert (pd.isna(value) and math.isnan(float(expected))) or float(value) == float(expected), key


def test_a_log_from_a_later_suite_with_fields_this_store_lacks_still_imports(exported, judged, dataset_path, tmp_path):
    """The score and output records carry every field of the exporting suite's records: fields this
    store does not have (a later version's) are left out, and the rest is read as before."""
    for sample in exported.samples:
        sample.output.metadata["eudaimonia"]["field_of_a_later_store"] = True
        for score in sample.scores.values():
            if "eudaimonia" in (score.metadata or {}) and "error" in score.metadata["eudaimonia"]:
                score.metadata["eudaimonia"]["another_later_field"] = "x"
    path = tmp_path / "later.eval"
    write_eval_log(exported, str(path))
    store = _copy(judged.path, tmp_path)
    imported = _last_line(_cli("import-inspect", str(path), "--store", str(store), "--dataset", str(dataset_path)))
    pd.testing.assert_frame_equal(_checks(store, judged.run_ids[1]), _checks(store, imported))


def test_anyone_elses_task_imports_when_its_samples_carry_the_metadata_and_scores(exported, judged, dataset_path, tmp_path):
    """A foreign log: another task name, no suite record, plain 1/0 and unscored values."""
    exported.eval.task = "someone_elses_task"
    exported.eval.metadata = {}
    for sample in exported.samples:
        for score in sample.scores.values():
            score.metadata = None
    path = tmp_path / "foreign.eval"
    write_eval_log(exported, str(path))
    store = _copy(judged.path, tmp_path)
    imported = _last_line(_cli("import-inspect", str(path), "--store", str(store), "--dataset", str(dataset_path)))
    source, foreign = _checks(store, judged.run_ids[1]), _checks(store, imported)
    pd.testing.assert_series_equal(source["violation"], foreign["violation"])
    assert foreign.loc[foreign["violation"].isna(), "error"].str.startswith("unscored in the Inspect log").all()
    assert list_runs(store).set_index("run_id").loc[imported, "protocol"] == "inspect task someone_elses_task"


# -- the dashboard and the base install do without Inspect ----------------------------------------

_WITHOUT_INSPECT = """
import contextlib, importlib.abc, io, json, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "inspect_ai" or name.startswith("inspect_ai."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, Block())
import eudaimonia_nb.widgets.dashboard, eudaimonia_nb.report
from eudaimonia_nb.cli.main import main
results = []
for args in json.loads(sys.argv[1]):
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        results.append([main(args), err.getvalue()])
print(json.dumps(results))
"""


def test_the_dashboard_and_the_cli_need_no_inspect(judged, tmp_path):
    """With ``inspect_ai`` made unimportable, the dashboard and the report import and the CLI
    exports CSV; the Inspect commands say which extra to install."""
    check = subprocess.run([sys.executable, "-c", "import sys, eudaimonia_nb.widgets.dashboard, eudaimonia_nb.cli.main; "
                            "print(sorted(m for m in sys.modules if m.startswith(('inspect_ai', 'eudaimonia_nb.interop'))))"],
                           capture_output=True, text=True, timeout=300)
    assert check.returncode == 0 and check.stdout.strip() == "[]", check.stderr
    store, run_id = str(judged.path), judged.run_ids[0]
    commands = [["export", run_id, "--format", "csv", "--out", str(tmp_path / "a.csv"), "--store", store],
                ["import-inspect", str(tmp_path / "x.eval"), "--store", store],
                ["export", run_id, "--format", "inspect", "--out", str(tmp_path / "a.eval"), "--store", store]]
    process = subprocess.run([sys.executable, "-c", _WITHOUT_INSPECT, json.dumps(commands)], capture_output=True,
                             text=True, timeout=300)
    assert process.returncode == 0, process.stderr
    (csv_status, _), *inspect_commands = json.loads(process.stdout.strip().splitlines()[-1])
    assert csv_status == 0 and (tmp_path / "a.csv").is_file()
    for status, stderr in inspect_commands:
        assert status == 1 and "pip install 'eudaimonia-nb[inspect]'" in stderr, stderr
    assert not (tmp_path / "a.eval").exists()


def test_make_test_installs_the_inspect_extra_and_make_dashboard_does_not():
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    test_recipe = makefile.split("$(TEST_STAMP): ")[1].split("touch $@")[0]
    base_recipe = makefile.split("$(BASE_STAMP): ")[1].split("touch $@")[0]
    assert "inspect" in test_recipe.split("'.[")[1].split("]'")[0].split(",")
    assert "inspect" not in base_recipe
    import tomllib

    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert any(r.startswith("inspect-ai") for r in extras["inspect"])
    assert not any("inspect" in r for r in tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"])


def test_the_inspect_export_passes_the_writers_guard(judged, dataset_path, tmp_path):
    """``export --format inspect`` never writes over the store or another kind of file without --force,
    and leaves the refused file as it was."""
    store = _copy(judged.path, tmp_path)
    run_id = judged.run_ids[0]
    database = _sqlite_named(store, tmp_path)
    before = database.read_bytes()
    with pytest.raises(ValueError, match="SQLite"):
        export_inspect(store, run_id, database, dataset_path=dataset_path)
    assert database.read_bytes() == before
    table = tmp_path / "table.json"
    table.write_text("a,b\n1,2\n")
    refused = _cli("export", run_id, "--format", "inspect", "--out", str(table), "--store", str(store),
                   "--dataset", str(dataset_path))
    assert refused.returncode == 1 and "--force" in refused.stderr and table.read_text() == "a,b\n1,2\n"
    forced = _cli("export", run_id, "--format", "inspect", "--out", str(table), "--store", str(store),
                  "--dataset", str(dataset_path), "--force")
    assert forced.returncode == 0, forced.stderr
    assert read_eval_log(str(table)).eval.task == "eudaimonia"
    # An earlier export of the same kind is replaced without asking, as CSV exports are.
    again = _export(store, run_id, tmp_path / "run.eval", dataset_path)
    assert _export(store, run_id, again, dataset_path) == again


def _sqlite_named(store: Path, tmp_path: Path) -> Path:
    """A copy of the store under a log's name: an SQLite file the export must refuse."""
    import shutil

    target = tmp_path / "store-copy.json"
    shutil.copyfile(store, target)
    return target
