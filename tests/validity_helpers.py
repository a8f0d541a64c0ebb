"""Shared helpers (no tests here) for the judge-validity tests: a small real results store with
responses, and two judges of the same responses (a rejudge-like pair) plus another model's run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

JUDGED_RUN = "run-model-a-judge-1"
REJUDGED_RUN = "run-model-a-judge-2"
OTHER_RUN = "run-model-b-judge-1"


def make_validity_store(path: Path, benchmark, *, n_prompts: int = 60, seed: int = 0) -> list[str]:
    """Runs over the first ``n_prompts`` real benchmark prompts, written through the store's own
    writer: model A judged twice over identical response texts (the second judge flips about a
    fifth of the verdicts), and model B once; each check's verdict drawn with a seeded RNG."""
    from eudaimonia_nb.benchmark.design_code import rubric_versions
    from eudaimonia_nb.store.results import ResponseRecord, ResultsStore, RunRecord, VerdictRecord

    rng = np.random.default_rng(seed)
    versions = rubric_versions()
    prompts = benchmark.prompts["prompt_id"].head(n_prompts).tolist()
    checks = benchmark.checks[benchmark.checks["prompt_id"].isin(prompts)]
    store = ResultsStore(path)
    first = None
    try:
        for run_id, model, judge in ((JUDGED_RUN, "model-a", "judge-1"), (REJUDGED_RUN, "model-a", "judge-2"),
                                     (OTHER_RUN, "model-b", "judge-1")):
            record = RunRecord(run_id, model, "http://127.0.0.1:1/v1", judge, "http://127.0.0.1:1/v1",
                               json.dumps({"temperature": 0.7}), json.dumps(versions), benchmark.sha256, "0.1.0", False)
            store.begin_run(record, checks)
            for pid in prompts:
                store.put_response(run_id, ResponseRecord(pid, f"{model} answers {pid}", 10, 20, 0.1, "stop", 1,
                                                          False, None))
            verdicts = (rng.random(len(checks)) < 0.35) if first is None or model == "model-b" else \
                np.where(rng.random(len(checks)) < 0.2, ~first, first)
            if run_id == JUDGED_RUN:
                first = verdicts
            for row, violated in zip(checks.itertuples(index=False), verdicts):
                store.put_verdict(run_id, VerdictRecord(row.prompt_id, row.requirement, bool(violated),
                                                        f"reasoning of {judge}", "{}", 10, 5, 0.01, 1, False, None,
                                                        versions[row.requirement]))
            store.end_run(run_id)
    finally:
        store.close()
    return [JUDGED_RUN, REJUDGED_RUN, OTHER_RUN]


def label_sample(store: Path, labeller: str, rule, size: int = 40, seed: int = 1):
    """Draw the stratified sample of ``JUDGED_RUN`` and label every item with
    ``rule(judge_verdict, position)`` (1, 0 or None) through the labels API; returns the items."""
    from eudaimonia_nb.store import labels as L
    from eudaimonia_nb.store.results import load_judgments

    sample_id = L.draw_sample(store, [JUDGED_RUN], size, seed=seed)
    items = L.sample_items(store, sample_id, labeller)
    verdicts = load_judgments(store, [JUDGED_RUN]).set_index(["prompt_id", "requirement"])["violation"]
    for r in items.itertuples():
        L.save_label(store, run_id=r.run_id, prompt_id=r.prompt_id, requirement=r.requirement, labeller=labeller,
                     label=rule(int(verdicts[(r.prompt_id, r.requirement)]), r.position), sample_id=sample_id,
                     inclusion_probability=r.inclusion_probability)
    return items
