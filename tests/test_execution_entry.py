"""``cli.execution.execute_run``, the entry point a command that runs calls plugs into (``run``,
``rejudge``, and ``reproduce`` of issue 19): a parser of its own with ``add_execution_flags``, a
configuration built lazily, its ``report`` printed after the summary and before the run id, the
dry run's batch costs, and a bad configuration as one line on stderr."""

from __future__ import annotations

import argparse

from batch_server import FakeBatchServer
from fault_server import Script

from eudaimonia_nb.cli.execution import add_execution_flags, execute_run
from eudaimonia_nb.judging.config import RunConfig
from eudaimonia_nb.store.batch_ledger import list_batches


def _parser() -> argparse.ArgumentParser:
    """A command shaped like ``reproduce``: its own flags, then the execution flags."""
    p = argparse.ArgumentParser()
    p.add_argument("--dry-run", action="store_true")
    p.add_argument("--retry-failed", action="store_true")
    p.add_argument("--no-progress", action="store_true")
    add_execution_flags(p)
    return p


def _config(base_url: str, store, dataset_path) -> RunConfig:
    return RunConfig(model="gpt-4o", base_url=base_url, judge_model="gpt-4o-mini", judge_base_url=base_url,
                     api_key_env=None, judge_api_key_env=None, limit=3, source="real", store_path=str(store),
                     dataset_path=str(dataset_path), timeout_s=10.0, max_retries=1, retry_base_delay_s=0.01)


def test_a_command_of_its_own_runs_batched_through_execute_run_and_reports_before_the_run_id(tmp_path, dataset_path,
                                                                                             capsys):
    store = tmp_path / "store.sqlite"
    reported = []

    def report(config, summary) -> None:
        reported.append((config.model, summary.run_id, summary.verdicts + summary.errors, summary.n_checks))
        print("REPORTED")

    with FakeBatchServer("openrouter", Script(canonical=True), duration_s=0.2) as server:
        args = _parser().parse_args(["--batch", "openrouter", "--poll-interval", "0.05", "--no-progress"])
        status = execute_run(lambda: _config(server.base_url, store, dataset_path), args, report=report)
        assert server.batches and max(server.submitted.values()) == 1
    out = capsys.readouterr().out.strip().splitlines()
    assert status == 0
    run_id = out[-1]
    assert out[-2] == "REPORTED" and "checks:" in out[-3]
    assert reported == [("gpt-4o", run_id, reported[0][3], reported[0][3])] and reported[0][3] > 0
    assert set(list_batches(store)["phase"]) == {"respond", "judge"}


def test_the_dry_run_through_execute_run_prices_the_modes_given_and_sends_nothing(tmp_path, dataset_path, capsys):
    store = tmp_path / "store.sqlite"
    with FakeBatchServer("openai", Script(canonical=True)) as server:
        args = _parser().parse_args(["--dry-run", "--batch", "openai", "--judge-batch", "live"])
        status = execute_run(lambda: _config(server.base_url, store, dataset_path), args,
                             report=lambda config, summary: print("never"))
        assert not server.batches and not server.submitted
    out = capsys.readouterr().out
    assert status == 0 and "batch openai+live $" in out and "never" not in out
    assert not store.exists()


def test_a_configuration_that_cannot_be_built_is_one_line_on_stderr(capsys):
    def broken() -> RunConfig:
        raise ValueError("reproduce X: temperature would change the temperature")

    status = execute_run(broken, _parser().parse_args([]))
    captured = capsys.readouterr()
    assert status == 1 and captured.out == ""
    assert captured.err.strip() == "error: reproduce X: temperature would change the temperature"
