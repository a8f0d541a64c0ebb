"""Shared helper (no tests here): a results store as a first-time researcher makes one with the
defaults: an ``authors``-protocol run of one model, a rejudge of it by a second judge, and a
second model, all made by the runner against the scripted loopback server (``fault_server``),
whose responses and reasoning quote their prompt."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from fault_server import FaultServer, Script

MODEL = "alpha-chat"
OTHER_MODEL = "beta-chat"
JUDGE = "judge-one"
REJUDGE = "judge-two"
N_PROMPTS = 12


@dataclass(frozen=True)
class ReaderStore:
    """The store and its runs."""

    path: Path
    """The SQLite results store."""
    run_id: str
    """``MODEL`` judged by ``JUDGE`` (authors protocol)."""
    rejudge_id: str
    """The same responses judged again by ``REJUDGE`` (authors protocol)."""
    other_id: str
    """``OTHER_MODEL`` judged by ``JUDGE``."""


def make_reader_store(path: Path, dataset_path: Path) -> ReaderStore:
    from eudaimonia_nb import load_benchmark
    from eudaimonia_nb.judging.config import RunConfig
    from eudaimonia_nb.judging.rejudge import rejudge, rejudge_config
    from eudaimonia_nb.judging.runner import run

    bench = load_benchmark(dataset_path)
    prompts = pd.concat([bench.prompts[bench.prompts["source"] == s].head(N_PROMPTS // 2) for s in ("real", "modified")])
    ids = []
    with FaultServer(Script(quote_prompt=True)) as server:
        for model in (MODEL, OTHER_MODEL):
            config = RunConfig(model=model, base_url=server.base_url, judge_model=JUDGE, judge_base_url=server.base_url,
                               api_key_env=None, judge_api_key_env=None, prompt_ids=tuple(prompts["prompt_id"]),
                               store_path=str(path), dataset_path=str(dataset_path), max_retries=0, use_cache=False)
            ids.append(run(config, progress=False, benchmark=bench).run_id)
        again = rejudge_config(path, ids[0], judge_model=REJUDGE, judge_base_url=server.base_url,
                               dataset_path=str(dataset_path), max_retries=0, use_cache=False)
        second = rejudge(again, progress=False)
    return ReaderStore(path, ids[0], second.run_id, ids[1])
