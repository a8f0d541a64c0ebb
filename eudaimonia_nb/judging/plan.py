"""Planning a run: which prompts and checks it covers, its id, its record, what is still to do.

Everything here is decided before a single call is made, and is the same for a live run and
for any other way of executing the calls: ``RunPlan`` is what an executor works from.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..benchmark.dataset import SOURCES, Benchmark, load_benchmark
from ..benchmark.design_code import REQUIREMENT_KEYS, requirement
from ..paths import package_version
from ..store.results import RunRecord, default_store_path
from .client import public_url
from .config import RunConfig
from .protocols import get_protocol

class SubsetError(ValueError):
    """A subset that names unknown requirements, sources or prompt ids, or selects nothing."""


def select(benchmark: Benchmark, config: RunConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The prompts and checks a run covers, in file order."""
    prompts = benchmark.prompts
    if config.source is not None:
        if config.source not in SOURCES:
            raise SubsetError(f"source {config.source!r}: expected one of {', '.join(SOURCES)}")
        prompts = prompts[prompts["source"] == config.source]
    if config.prompt_ids:
        unknown = sorted(set(config.prompt_ids) - set(benchmark.prompts["prompt_id"]))
        if unknown:
            raise SubsetError(f"unknown prompt id(s): {', '.join(unknown)}")
        prompts = prompts[prompts["prompt_id"].isin(config.prompt_ids)]
    wanted = set(config.requirements or REQUIREMENT_KEYS)
    for key in wanted:
        requirement(key)  # a clear KeyError listing the valid keys
    prompts = prompts[prompts["requirements"].map(lambda reqs: bool(wanted.intersection(reqs)))]
    if config.limit is not None:
        prompts = limited(prompts, config.limit, config.limit_seed)
    if prompts.empty:
        raise SubsetError("the subset selects no prompts")
    checks = benchmark.checks
    checks = checks[checks["prompt_id"].isin(prompts["prompt_id"]) & checks["requirement"].isin(wanted)]
    return prompts.reset_index(drop=True), checks.reset_index(drop=True)


def limited(prompts: pd.DataFrame, limit: int, seed: int) -> pd.DataFrame:
    """At most ``limit`` prompts. With both sources present, a seeded sample that keeps their
    proportions (the file lists every real prompt first, so its head would be all real);
    kept in file order."""
    if len(prompts) <= limit or prompts["source"].nunique() < 2:
        return prompts.head(limit)
    rng = np.random.default_rng(seed)
    shares = prompts["source"].value_counts(sort=False)
    # Largest-remainder rounding, so the counts add up to ``limit`` exactly.
    exact = shares / shares.sum() * limit
    counts = np.floor(exact).astype(int)
    for source in (exact - counts).sort_values(ascending=False, kind="stable").index[: limit - counts.sum()]:
        counts[source] += 1
    chosen = [rng.choice(np.flatnonzero((prompts["source"] == source).to_numpy()), size=n, replace=False)
              for source, n in counts.items()]
    return prompts.iloc[np.sort(np.concatenate(chosen))]


def run_id_for(config: RunConfig, benchmark: Benchmark) -> str:
    """Same configuration + same data + same rubrics -> same id (so re-running resumes)."""
    protocol = get_protocol(config.protocol)
    blob = json.dumps(
        {
            "config": config.identity(), "dataset_sha256": benchmark.sha256, "rubrics": protocol.rubric_sha256(),
            "judge_template": protocol.template_version(),
        },
        sort_keys=True,
    )
    slug = re.sub(r"[^A-Za-z0-9.]+", "-", config.model).strip("-")[:40] or "model"
    return f"{slug}-{hashlib.sha256(blob.encode('utf-8')).hexdigest()[:12]}"



@dataclass(frozen=True)
class RunPlan:
    """A run before it starts: its configuration, data, subset and id."""

    config: RunConfig
    """The configuration the plan was made from."""
    benchmark: Benchmark
    """The benchmark file the run uses."""
    prompts: pd.DataFrame
    """The prompts the run covers, in file order (``select``)."""
    checks: pd.DataFrame
    """The (prompt, requirement) checks the run covers, in file order."""
    run_id: str
    """The run's id (``run_id_for``)."""

    @classmethod
    def build(cls, config: RunConfig, benchmark: Benchmark | None = None) -> RunPlan:
        """The plan for ``config`` on ``benchmark`` (loaded from ``config.dataset_path`` if None)."""
        benchmark = benchmark if benchmark is not None else load_benchmark(config.dataset_path)
        prompts, checks = select(benchmark, config)
        return cls(config, benchmark, prompts, checks, run_id_for(config, benchmark))

    @property
    def store_path(self) -> str:
        """The results store the run writes to."""
        return self.config.store_path or str(default_store_path())

    def prompt_texts(self) -> dict[str, str]:
        """Prompt id -> prompt text, for the prompts of the plan."""
        return dict(zip(self.prompts["prompt_id"], self.prompts["text"]))

    def record(self) -> RunRecord:
        """The run record stored when the run starts: every parameter, without secrets."""
        c = self.config
        protocol = get_protocol(c.protocol)
        parameters = {**c.public_parameters(), "judge_template_version": protocol.template_version(),
                      "rubric_sha256": protocol.rubric_sha256(), "conventions": dict(protocol.conventions),
                      "errors_convention": protocol.errors_convention, "dataset_copy": self.benchmark.copy}
        return RunRecord(
            run_id=self.run_id, model=c.model, base_url=public_url(c.base_url), judge_model=c.judge_model,
            judge_base_url=public_url(c.judge_base_url),
            parameters=json.dumps({**parameters, "dataset_official": self.benchmark.official}, sort_keys=True),
            rubric_versions=json.dumps(protocol.rubric_versions(), sort_keys=True), dataset_sha256=self.benchmark.sha256,
            package_version=package_version(), smoke_test=c.is_smoke_test,
        )

    def pending(self, results: dict[tuple[str, str], str | None], retry_failed: bool) -> dict[str, list[str]]:
        """Prompt id -> the requirements still to judge, given the stored results (check -> error
        or None); with ``retry_failed`` the checks that ended in an error are redone too. Only
        the first sample (epoch 1, judge repeat 1): ``pending_samples`` covers every one."""
        todo: dict[str, list[str]] = {}
        for pid, req in zip(self.checks["prompt_id"], self.checks["requirement"]):
            key = (pid, req)
            if key not in results or (retry_failed and results[key] is not None):
                todo.setdefault(pid, []).append(req)
        return todo

    # -- epochs and judge repeats --------------------------------------------------------------
    @property
    def n_results(self) -> int:
        """Check results the complete run holds: checks x epochs x judge repeats."""
        return len(self.checks) * self.config.epochs * self.config.judge_repeats

    def pending_samples(self, results: dict[tuple[str, str, int, int], str | None], retry_failed: bool
                        ) -> dict[tuple[str, int], list[tuple[str, int]]]:
        """(prompt id, epoch) -> the (requirement, judge repeat) pairs still to judge, given the
        stored results ((prompt, requirement, epoch, judge repeat) -> error or None, as
        ``ResultsStore.verdict_samples``); with ``retry_failed`` the ones that ended in an error
        are redone too. Epoch by epoch, so an interrupted run has whole epochs first."""
        todo: dict[tuple[str, int], list[tuple[str, int]]] = {}
        checks = list(zip(self.checks["prompt_id"], self.checks["requirement"]))
        for epoch in range(1, self.config.epochs + 1):
            for pid, req in checks:
                for repeat in range(1, self.config.judge_repeats + 1):
                    key = (pid, req, epoch, repeat)
                    if key not in results or (retry_failed and results[key] is not None):
                        todo.setdefault((pid, epoch), []).append((req, repeat))
        return todo
