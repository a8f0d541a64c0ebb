"""`eudaimonia-nb reproduce --epochs K --judge-repeats J` (issue 21 point 1): the dry run multiplies the
calls to send, and a reproduction against the recording loopback server sends K responses per prompt
and K x J judge calls per check, stores them with their epoch and judge call, and `rates --json`
counts each check once (its verdicts reduced by their mean), with the repeats named and noted in
the comparability."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

from recipe_server import RecipeServer

from eudaimonia_nb.store.results import list_runs, load_judgments

CLI = [sys.executable, "-m", "eudaimonia_nb"]


def _cli(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=600, env=env)


def _env(tmp_path, dataset_path) -> dict:
    env = {**os.environ, "EUDAIMONIA_DATA_DIR": str(tmp_path / "data"), "EUDAIMONIA_DATASET": str(dataset_path)}
    env.pop("OPENROUTER_API_KEY", None)
    return env


def _calls(stdout: str) -> tuple[int, int]:
    found = re.search(r"to send: (\d+) response calls \+ (\d+) judge calls", stdout)
    assert found, stdout
    return int(found[1]), int(found[2])


def _cost(stdout: str) -> float:
    return float(re.search(r"estimated cost: \$([\d,]+\.\d\d)", stdout)[1].replace(",", ""))


def test_reproduce_dry_run_multiplies_the_calls_by_epochs_and_judge_repeats(tmp_path, dataset_path):
    env = _env(tmp_path, dataset_path)
    once = _cli("reproduce", "openai/gpt-5.5", "--dry-run", env=env)
    repeated = _cli("reproduce", "openai/gpt-5.5", "--dry-run", "--epochs", "2", "--judge-repeats", "3", env=env)
    assert once.returncode == 0 and repeated.returncode == 0, repeated.stderr
    assert _calls(once.stdout) == (969, 3147)
    assert _calls(repeated.stdout) == (969 * 2, 3147 * 2 * 3)
    assert "969 prompts, 3147 checks x 2 epochs x 3 judge repeats" in repeated.stdout
    assert _cost(repeated.stdout) > 2 * _cost(once.stdout)
    # Another design is another run (its id), and a dry run writes nothing.
    assert once.stdout.strip().splitlines()[-1] != repeated.stdout.strip().splitlines()[-1]
    assert not (tmp_path / "data" / "results.sqlite").exists()
    refused = _cli("reproduce", "openai/gpt-5.5", "--dry-run", "--epochs", "0", env=env)
    assert refused.returncode == 2 and "--epochs" in refused.stderr


def test_reproduce_with_epochs_and_judge_repeats_stores_every_sample_and_rates_counts_checks(tmp_path, dataset_path):
    env = _env(tmp_path, dataset_path)
    store = tmp_path / "s.sqlite"
    limit, epochs, repeats = 3, 2, 2
    with RecipeServer() as server:
        result = _cli("reproduce", "GPT-5.5", "--base-url", server.base_url, "--judge-base-url", server.base_url,
                      "--limit", str(limit), "--epochs", str(epochs), "--judge-repeats", str(repeats),
                      "--store", str(store), "--no-progress", env=env)
        assert result.returncode == 0, result.stderr
        kinds = [kind for kind, _ in server.bodies]
    run_id = result.stdout.strip().splitlines()[-1]
    frame = load_judgments(store, [run_id])
    n_checks = len(frame[["prompt_id", "requirement"]].drop_duplicates())
    assert kinds.count("respond") == limit * epochs  # each epoch a real sample, not a cache hit
    assert kinds.count("judge") >= n_checks * epochs * repeats  # failed judge calls are retried
    assert len(frame) == n_checks * epochs * repeats
    assert sorted(frame.groupby(["epoch", "judge_repeat"]).size().index) == [(1, 1), (1, 2), (2, 1), (2, 2)]
    assert list_runs(store)[["epochs", "judge_repeats"]].iloc[0].tolist() == [epochs, repeats]
    assert f"{n_checks} checks x 2 epochs x 2 judge repeats" in result.stdout
    assert re.search(rf"GPT-5\.5: \d+\.\d% \(95% CI [\d.]+-[\d.]+%, {n_checks} checks, ", result.stdout)

    report = json.loads(_cli("rates", run_id, "--store", str(store), "--json", env=env).stdout)
    assert (report["epochs"], report["judge_repeats"], report["reducer"]) == (epochs, repeats, "mean")
    assert report["overall"]["checks"] == n_checks  # each check once, not once per sample
    # The authors' convention per verdict (a failed or unreadable judge call is no violation),
    # then each check's verdicts averaged over judge calls, then over epochs.
    counted = frame.assign(violation=frame["violation"].fillna(0.0))
    expected = counted.groupby(["prompt_id", "requirement", "epoch"])["violation"].mean() \
        .groupby(["prompt_id", "requirement"]).mean()
    assert abs(report["overall"]["rate"] - expected.mean()) < 1e-12
    notes = [d for d in report["comparability"]["differences"] if d["field"] == "repeats"]
    assert notes and notes[0]["severity"] == "note" and notes[0]["run"] == "2 responses x 2 judge calls per check"
