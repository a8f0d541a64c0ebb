"""Shared helper (no tests here): a results store of real judged runs, made by the runner
against the scripted OpenAI-compatible server on loopback (``fault_server``), with responses
and reasoning that quote their prompt so items can be told apart."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from fault_server import FaultServer, Script

MODELS = ("alpha-chat", "beta-chat")
"""The two models judged by ``JUDGE``."""
JUDGE = "scripted-judge"
REJUDGE = "second-judge"
"""A second judge of ``MODELS[0]``'s run (a rejudge: same model, another judge)."""
KEY_VAR = "EUD_SCRIPTED_KEY_VARIABLE"
"""Name of the (dummy) key variable: must never appear in a shared report."""
N_PROMPTS = 24


@dataclass(frozen=True)
class JudgedStore:
    """A store and what went into it."""

    path: Path
    """The SQLite results store."""
    run_ids: tuple[str, ...]
    """Runs: model A, model B, model A rejudged."""
    base_url: str
    """The endpoint the runs used (host, port and path)."""
    error_prompt: str
    """Prompt id whose judge replies were prose for ``MODELS[1]``: judge errors."""


def make_judged_store(path: Path, dataset_path: Path) -> JudgedStore:
    from eudaimonia_nb import load_benchmark
    from eudaimonia_nb.judging.config import RunConfig
    from eudaimonia_nb.judging.runner import run

    bench = load_benchmark(dataset_path)
    # Both sources, so real-versus-modified views have something on each side.
    prompts = pd.concat([bench.prompts[bench.prompts["source"] == source].head(N_PROMPTS // 2) for source in ("real", "modified")])
    error_row = prompts.iloc[3]
    os.environ.setdefault(KEY_VAR, "not-a-real-key")
    run_ids = []
    for model, judge in ((MODELS[0], JUDGE), (MODELS[1], JUDGE), (MODELS[0], REJUDGE)):
        rules = {error_row["text"]: {"judge": ["prose"]}} if model == MODELS[1] else {}
        with FaultServer(Script(rules=rules, quote_prompt=True)) as server:
            config = RunConfig(model=model, base_url=server.base_url, judge_model=judge,
                               judge_base_url=server.base_url, api_key_env=KEY_VAR, prompt_ids=tuple(prompts["prompt_id"]),
                               store_path=str(path), dataset_path=str(dataset_path), max_retries=0,
                               use_cache=False)
            summary = run(config, progress=False, benchmark=bench)
            base_url = server.base_url
        run_ids.append(summary.run_id)
    return JudgedStore(path, tuple(run_ids), base_url, str(error_row["prompt_id"]))
