"""`eudaimonia-nb noise` on a loopback server whose model answers vary between epochs and whose
judge flips each verdict with a known probability."""

from __future__ import annotations

import json
import subprocess
import sys

from fault_server import FaultServer, Script

from eudaimonia_nb.cli.noise import RUN_KEYS
from eudaimonia_nb.judging.config import RunConfig
from eudaimonia_nb.judging.runner import run

CLI = [sys.executable, "-m", "eudaimonia_nb"]
FLIP = 0.15
"""Each judge call answers the opposite of its deterministic verdict with this probability, so two
calls on one response disagree with probability 2 f (1 - f) = 0.255."""


def test_noise_json_reports_the_judge_flip_rate_of_the_server(benchmark, dataset_path, tmp_path):
    store = tmp_path / "s.sqlite"
    prompts = benchmark.prompts.groupby("source").head(50)["prompt_id"]
    with FaultServer(Script(response_variants=5, judge_flip=FLIP, seed=7)) as server:
        summary = run(RunConfig(
            model="sampled-model", base_url=server.base_url, judge_model="flipping-judge", judge_base_url=server.base_url,
            api_key_env=None, judge_api_key_env=None, prompt_ids=tuple(prompts), store_path=str(store), epochs=3,
            judge_repeats=4, max_retries=0, concurrency=32), benchmark=benchmark, progress=False)
        plain = run(RunConfig(
            model="one-sample-model", base_url=server.base_url, judge_model="flipping-judge",
            judge_base_url=server.base_url, api_key_env=None, judge_api_key_env=None, prompt_ids=tuple(prompts[:4]),
            store_path=str(store)), benchmark=benchmark, progress=False)
    assert summary.errors == 0
    result = subprocess.run([*CLI, "noise", "--store", str(store), "--json", "--by-requirement", "--n-boot", "300"],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert [r["run_id"] for r in out["runs"]] == [summary.run_id], "only runs with repeats by default"
    (record,) = out["runs"]
    assert set(RUN_KEYS) <= set(record) and {"se_table", "smoke_test", "requirements"} <= set(record)
    truth = 2 * FLIP * (1 - FLIP)
    print(f"judge flip rate {record['judge_flip_rate']:.4f} [{record['judge_flip_rate_ci_low']:.4f}, "
          f"{record['judge_flip_rate_ci_high']:.4f}], truth {truth:.4f}; response flip rate {record['response_flip_rate']:.4f}")
    assert abs(record["judge_flip_rate"] - truth) < 0.04, (record["judge_flip_rate"], truth)
    assert record["judge_flip_rate_ci_low"] <= truth <= record["judge_flip_rate_ci_high"]
    # Responses differ between epochs, and their verdicts with them: more flips than the judge's alone.
    assert record["response_flip_rate"] > record["judge_flip_rate_ci_high"]
    assert record["epochs"] == 3 and record["judge_repeats"] == 4 and record["n_verdicts"] == summary.n_checks * 12
    assert record["sd_prompt"] is not None and record["sd_response"] is not None and record["se_rate"] > 0
    assert len(record["se_table"]) == 25 and record["recommendation"].startswith("For sampled-model")
    assert {r["requirement"] for r in record["requirements"]} == set(benchmark.checks.loc[
        benchmark.checks["prompt_id"].isin(prompts), "requirement"])

    text = subprocess.run([*CLI, "noise", "--store", str(store), "--run-id", summary.run_id], capture_output=True,
                          text=True, timeout=600)
    assert text.returncode == 0 and "judge flip rate" in text.stdout and summary.run_id in text.stdout
    single = subprocess.run([*CLI, "noise", "--store", str(store), "--run-id", plain.run_id, "--json"],
                            capture_output=True, text=True, timeout=600)
    assert single.returncode == 0 and "no noise to tell apart" in single.stderr
    assert json.loads(single.stdout)["runs"][0]["judge_flip_rate"] is None
    unknown = subprocess.run([*CLI, "noise", "--store", str(store), "--run-id", "no-such-run"], capture_output=True,
                             text=True, timeout=600)
    assert unknown.returncode == 1 and "no-such-run" in unknown.stderr and "Traceback" not in unknown.stderr
