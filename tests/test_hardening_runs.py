"""Issue 11, items 6, 7, 13, 14 and 15, as a user meets them: an endpoint that cannot be used
says why and leaves no run behind, a missing key is caught before anything is recorded, an
unofficial dataset file is named and recorded, a report on real prompts only is written, and
the live-judging widget sends a key only where the command line would."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
from pathlib import Path

from fault_server import FaultServer, Script

from eudaimonia_nb.store.results import list_runs

CLI = [sys.executable, "-m", "eudaimonia_nb"]


def _cli(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=300, env={**os.environ, **(env or {})})


def _run_args(base_url: str, store: Path, dataset: Path, *extra: str) -> list[str]:
    return ["run", "--model", "scripted-model", "--base-url", base_url, "--judge-model", "scripted-judge",
            "--judge-base-url", base_url, "--store", str(store), "--dataset", str(dataset), "--no-progress",
            "--timeout", "5", *extra]


def _runs_in(store: Path) -> int:
    if not store.exists():
        return 0
    return len(list_runs(store))


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens once the socket is closed


# --- item 13: an endpoint that cannot be used ----------------------------------------------

def test_nothing_listening_stops_at_once_with_the_reason_and_no_run(tmp_path, dataset_path):
    store = tmp_path / "s.sqlite"
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    result = _cli(_run_args(url, store, dataset_path, "--limit", "20"))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: cannot reach {url}") and "connection" in lines[0].lower()
    assert _runs_in(store) == 0


def test_a_refused_key_stops_before_any_prompt_is_sent(tmp_path, dataset_path):
    store = tmp_path / "s.sqlite"
    with FaultServer(Script(models_status=401)) as server:
        result = _cli(_run_args(server.base_url, store, dataset_path, "--limit", "20", "--api-key-env", "EUD_KEY"),
                      env={"EUD_KEY": "sk-test-" + secrets.token_hex(8)})
        assert server.total_requests() == 0
    assert result.returncode == 1 and "refused the key in EUD_KEY" in result.stderr and "HTTP 401" in result.stderr
    assert _runs_in(store) == 0


def test_first_calls_failing_alike_stop_the_run_early(tmp_path, dataset_path):
    # /models answers, but every completion is refused: the probe passes and the calls fail.
    store = tmp_path / "s.sqlite"
    with FaultServer(Script(default="echo_auth")) as server:
        result = _cli(_run_args(server.base_url, store, dataset_path, "--limit", "40", "--concurrency", "2"))
        sent = server.requests["respond"]
    assert result.returncode == 1 and "stopped early" in result.stderr and "HTTP 401" in result.stderr
    assert sent < 40 // 2  # far fewer than the run's 40 responses
    assert _runs_in(store) == 0  # a run that never produced anything leaves no record


def test_the_summary_names_the_most_common_errors(tmp_path, dataset_path, benchmark):
    texts = list(benchmark.prompts["text"].head(4))
    script = Script(rules={texts[1]: {"respond": ["500"]}, texts[2]: {"respond": ["500"]}, texts[3]: {"judge": ["prose"]}})
    with FaultServer(script) as server:
        result = _cli(_run_args(server.base_url, tmp_path / "s.sqlite", dataset_path, "--limit", "4", "--source", "real", "--retries", "0"))
    assert result.returncode == 0, result.stderr
    n500 = int(benchmark.prompts.head(4)["n_requirements"].iloc[1:3].sum())
    assert f"most common errors: {n500} x no response to judge: HTTP 500" in result.stderr
    assert "unparseable judge reply after 3 attempts: no JSON object and no 'keep'" in result.stderr


# --- item 14: a missing key -----------------------------------------------------------------

def test_a_missing_key_is_caught_before_a_run_record_and_dry_run_warns(tmp_path, dataset_path):
    store = tmp_path / "s.sqlite"
    with FaultServer() as server:
        args = _run_args(server.base_url, store, dataset_path, "--limit", "3", "--api-key-env", "EUD_MISSING_KEY")
        args.remove("--no-progress")  # with a progress bar, the message must still stand on its own line
        env = {k: v for k, v in os.environ.items() if k != "EUD_MISSING_KEY"}
        result = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=300, env=env)
        dry = subprocess.run([*CLI, *args, "--dry-run"], capture_output=True, text=True, timeout=300, env=env)
        assert server.total_requests() == 0
    assert result.returncode == 1
    assert result.stderr == "error: environment variable EUD_MISSING_KEY is not set (it should hold the API key)\n"
    assert _runs_in(store) == 0
    assert dry.returncode == 0 and "warning: environment variable EUD_MISSING_KEY is not set" in dry.stdout


# --- item 15: unofficial dataset files ------------------------------------------------------

def test_a_cut_copy_of_the_benchmark_is_named_and_recorded(tmp_path, dataset_path):
    cut = tmp_path / "head.jsonl"
    cut.write_text("".join(dataset_path.read_text(encoding="utf-8").splitlines(keepends=True)[:100]), encoding="utf-8")
    store = tmp_path / "s.sqlite"
    with FaultServer() as server:
        unofficial = _cli(_run_args(server.base_url, store, cut, "--limit", "2"))
        official = _cli(_run_args(server.base_url, store, dataset_path, "--limit", "2"))
    assert unofficial.returncode == 0 and official.returncode == 0
    assert unofficial.stderr.count("is not the official EUDAIMONIA file") == 1
    assert "not comparable with the published figures" in unofficial.stderr and str(cut) in unofficial.stderr
    assert "not the official" not in official.stderr
    runs = list_runs(store).set_index("run_id")
    flags = {run_id: json.loads(p)["dataset_official"] for run_id, p in runs["parameters"].items()}
    unofficial_id, official_id = (r.stdout.strip().splitlines()[-1] for r in (unofficial, official))
    assert flags[unofficial_id] is False and flags[official_id] is True
    assert list(runs.loc[[unofficial_id, official_id], "dataset_official"]) == [False, True]
    # the dashboard and the report carry the notice on every tab for such runs, and only for them
    from eudaimonia_nb.report import UNOFFICIAL_DATA_NOTICE, DataSource, load_source, notices

    assert UNOFFICIAL_DATA_NOTICE in notices(load_source(DataSource("store", store, (unofficial_id,))))
    assert UNOFFICIAL_DATA_NOTICE not in notices(load_source(DataSource("store", store, (official_id,))))


# --- item 6: report on real prompts only ----------------------------------------------------

def test_report_on_real_prompts_only_is_written_without_numpy_noise(tmp_path, dataset_path):
    store = tmp_path / "s.sqlite"
    with FaultServer() as server:
        made = _cli(_run_args(server.base_url, store, dataset_path, "--limit", "12", "--source", "real"))
    assert made.returncode == 0, made.stderr
    out = tmp_path / "report.html"
    report = _cli(["report", "--source", "store", "--store", str(store), "--out", str(out), "--n-boot", "20"])
    assert report.returncode == 0, report.stderr
    assert "Not estimable: only real prompts" in out.read_text(encoding="utf-8")
    assert "RuntimeWarning" not in report.stderr


# --- item 7: one key rule for the widget and the command line ------------------------------

def test_editing_only_the_judge_url_does_not_carry_a_preset_key_elsewhere(benchmark, monkeypatch):
    import asyncio

    from eudaimonia_nb.widgets.judging import PRESETS, LiveJudgingUI

    key = "sk-test-LEAKCANARY" + secrets.token_hex(16)
    monkeypatch.setenv("OPENAI_API_KEY", key)
    monkeypatch.setenv("EUD_MODEL_KEY", "sk-test-model-" + secrets.token_hex(8))
    with FaultServer() as model_server, FaultServer() as judge_server:
        ui = LiveJudgingUI(benchmark, seed=1)
        ui.model.select(PRESETS[-1], base_url=model_server.base_url, model="scripted-model")
        ui.model.key_env.value = "EUD_MODEL_KEY"  # named by the user for this endpoint
        ui.judge.select(PRESETS[0])  # OpenAI preset: OPENAI_API_KEY, meant for api.openai.com
        ui.judge.base_url.value = judge_server.base_url  # only the URL is edited
        result = asyncio.run(ui.run_single())
        assert judge_server.requests["judge"] == len(result.verdicts) > 0
        assert not any(key in header for header in judge_server.authorization)
        assert model_server.authorization == {f"Bearer {os.environ['EUD_MODEL_KEY']}"}
    assert "OPENAI_API_KEY is meant for https://api.openai.com/v1" in ui.judge.key_status.value
    ui.judge.key_env.value = ""  # the user retypes the name for this endpoint: now it is their choice
    ui.judge.key_env.value = "OPENAI_API_KEY"
    assert ui.judge.settings().api_key_env == "OPENAI_API_KEY"


def test_the_rule_is_the_same_for_the_command_line_and_the_widget():
    from eudaimonia_nb.judging.config import RunConfig
    from eudaimonia_nb.judging.keys import key_env_for

    config = RunConfig(model="m", base_url="https://api.openai.com/v1", judge_model="j",
                       judge_base_url="https://judge.example/v1", api_key_env="OPENAI_API_KEY")
    assert config.judge_key_env() is None
    assert key_env_for(config.judge_base_url, "OPENAI_API_KEY", given_for=config.base_url) is None
    assert key_env_for("https://api.openai.com/v1/", "OPENAI_API_KEY", given_for=config.base_url) == "OPENAI_API_KEY"
    assert key_env_for("https://judge.example/v1", "JUDGE_KEY", given_for=None) == "JUDGE_KEY"
