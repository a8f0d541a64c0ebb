"""Judge a run's stored responses again: another judge, protocol or rubric version, same responses.

The new run copies the source run's responses into itself (so every run in a store is complete
on its own and can be exported, compared or deleted alone; ``recording.copy_responses``, once the
runner has validated and preflighted the run), records ``rejudged_from``, keeps the
source's generation settings in its identity (they describe the responses) and never calls the
model under test. Running the same rejudge again resumes it, like any run.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the module is imported to register the subcommand: keep `--help` instant
    from ..benchmark.dataset import Benchmark
    from .config import RunConfig
    from .recording import RunSummary

PROTOCOL_NAMES = ("authors", "suite")
"""``protocols.PROTOCOLS`` names, repeated so that registering the subcommand imports nothing heavy
(a test checks they agree)."""

_GENERATION_FIELDS = ("model", "base_url", "system_prompt", "temperature", "max_tokens", "model_extra_body", "epochs")
"""Settings of the source run that made its responses, carried into the rejudge's identity (a
source with several epochs is rejudged on every one of them)."""


class RejudgeError(ValueError):
    """The source run cannot be rejudged (unknown, or made on another benchmark file)."""


def rejudge_config(store_path: str | os.PathLike[str], run_id: str, *, judge_model: str, judge_base_url: str,
                   judge_api_key_env: str | None = None, protocol: str = PROTOCOL_NAMES[0],
                   judge_extra_body: dict | None = None, **settings: object) -> RunConfig:
    """The configuration of a rejudge of ``run_id``: the source's responses and checks, the new judge.

    ``settings`` are further ``RunConfig`` fields (concurrency, timeout_s, judge_max_tokens,
    judge_repeats, dataset_path...); the epochs are the source's."""
    import pandas as pd

    from ..store.results import list_runs, load_judgments
    from .config import RunConfig

    runs = list_runs(store_path)
    row = runs[runs["run_id"] == run_id]
    if row.empty:
        raise RejudgeError(f"no run {run_id} in the store {store_path}")
    params = json.loads(row["parameters"].iloc[0])
    checks = load_judgments(store_path, [run_id])
    generation = {name: params.get(name) for name in _GENERATION_FIELDS if name in params}
    generation["model"] = row["model"].iloc[0]
    return RunConfig(
        **generation, api_key_env=None, judge_model=judge_model, judge_base_url=judge_base_url,
        judge_api_key_env=judge_api_key_env, protocol=protocol, judge_extra_body=judge_extra_body,
        # The source's prompts and requirement filter select exactly the source's checks.
        prompt_ids=tuple(pd.unique(checks["prompt_id"])), requirements=tuple(params.get("requirements") or ()) or None,
        store_path=str(store_path), rejudged_from=run_id, **settings,
    )


async def rejudge_async(config: RunConfig, *, progress: bool = True) -> RunSummary:
    from .runner import run_async

    benchmark = prepare_rejudge(config)
    return await run_async(config, progress=progress, benchmark=benchmark)


def prepare_rejudge(config: RunConfig) -> Benchmark:
    """Check a rejudge before it is run, live or batched (its source run, its benchmark file);
    returns the benchmark it was checked against. Nothing is recorded here."""
    from ..benchmark.dataset import load_benchmark
    from ..store.results import list_runs
    from .runner import Runner

    if not config.rejudged_from or not config.store_path:
        raise RejudgeError("a rejudge needs rejudged_from and store_path (see rejudge_config)")
    runner = Runner(config, benchmark=load_benchmark(config.dataset_path))
    source = list_runs(config.store_path)
    sha = source.loc[source["run_id"] == config.rejudged_from, "dataset_sha256"].iloc[0]
    if sha != runner.benchmark.sha256:
        raise RejudgeError(f"run {config.rejudged_from} was made on the benchmark file with SHA-256 {sha}; "
                           f"the file given has {runner.benchmark.sha256} (pass --dataset)")
    # The run and its copy of the responses are recorded by the runner (or the batch executor)
    # after its checks: a rejudge refused (an unreachable judge) or stopped before any verdict
    # leaves no record.
    return runner.benchmark


def rejudge(config: RunConfig, *, progress: bool = True) -> RunSummary:
    """Blocking rejudge (see ``runner.run`` for use inside Jupyter)."""
    from .runner import inside_event_loop

    if not inside_event_loop():
        return asyncio.run(rejudge_async(config, progress=progress))
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, rejudge_async(config, progress=progress)).result()
