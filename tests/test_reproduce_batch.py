"""`eudaimonia-nb reproduce NAME --batch openrouter` against the loopback OpenRouter batch fake: the
recipe's exact bodies go out as batch lines (the model as its ``:batch`` variant), the verdicts and
responses stored are those of the same reproduction made live against the fault server under the
same script (a reasoning-only reply included: the authors' repr of it, in both), the ledger holds
both phases, and the last lines are the reproduced rate beside the published one, then the run id.

Expected bodies come from ../shared/reference/model_recipes.md (``recipes_reference``), never
from the package."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys

from batch_server import FakeBatchServer
from fault_server import FaultServer, Script
from recipes_reference import expected_request

from eudaimonia_nb.judging.config import RunConfig
from eudaimonia_nb.judging.plan import select
from eudaimonia_nb.store.batch_ledger import list_batches
from eudaimonia_nb.store.results import load_judgments

CLI = [sys.executable, "-m", "eudaimonia_nb"]
NAME = "Claude Opus 4.6 (thinking budget 2k)"
LIMIT = 4


def _reproduce(base_url: str, store, env: dict, *extra: str) -> list[str]:
    result = subprocess.run([*CLI, "reproduce", NAME, "--base-url", base_url, "--judge-base-url", base_url,
                             "--limit", str(LIMIT), "--store", str(store), "--no-progress", *extra],
                            capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()


def _stored(store, run_id: str):
    frame = load_judgments(store, [run_id], texts=True).set_index(["prompt_id", "requirement"]).sort_index()
    db = sqlite3.connect(store)
    try:
        reprs = dict(db.execute("SELECT prompt_id, reasoning_repr FROM responses WHERE run_id = ?", (run_id,)))
    finally:
        db.close()
    return frame[["violation", "error", "response"]], reprs


def test_reproduce_through_the_openrouter_batch_api_stores_what_the_live_reproduction_stores(tmp_path, dataset_path,
                                                                                            benchmark):
    env = {**os.environ, "EUDAIMONIA_DATA_DIR": str(tmp_path / "data"), "EUDAIMONIA_DATASET": str(dataset_path)}
    sample, _ = select(benchmark, RunConfig(model="m", base_url="http://x/v1", judge_model="j",
                                            judge_base_url="http://x/v1", limit=LIMIT))
    thinking = list(sample["text"])[0]
    script = Script(canonical=True, quote_prompt=True, rules={thinking: {"respond": ["reasoning_only"]}})

    with FaultServer(script) as live_server:
        live_lines = _reproduce(live_server.base_url, tmp_path / "live.sqlite", env)
    with FakeBatchServer("openrouter", script, duration_s=0.3) as server:
        lines = _reproduce(server.base_url, tmp_path / "batch.sqlite", env, "--batch", "openrouter",
                           "--poll-interval", "0.05")
        assert server.batches and max(server.submitted.values()) == 1
        sent = [body for _, body in server.lines]
        models = {batch.model for batch in server.batches.values()}

    # The recipe's bodies, line for line, with the :batch variant of each model.
    want = expected_request(NAME)
    assert models == {want["model"] + ":batch", "anthropic/claude-opus-4.6:batch"}
    responds = [b for b in sent if b["model"] == want["model"] + ":batch" and b["temperature"] == want["temperature"]]
    assert len(responds) == LIMIT
    for body in responds:
        assert body["max_tokens"] == want["max_tokens"] and len(body["messages"]) == 1
        assert {k: body[k] for k in want["extra_body"]} == want["extra_body"]
        assert set(body) == {"model", "messages", "temperature", "max_tokens", *want["extra_body"]}
    judged = [b for b in sent if b not in responds]
    assert judged and all((b["temperature"], b["max_tokens"]) == (0, 1024) for b in judged)
    assert all(set(b) == {"model", "messages", "temperature", "max_tokens"} for b in judged)

    # The same verdicts, errors and responses as the live reproduction; the reasoning-only reply
    # is the authors' repr in both, and recorded as such.
    live, live_reprs = _stored(tmp_path / "live.sqlite", live_lines[-1])
    batched, reprs = _stored(tmp_path / "batch.sqlite", lines[-1])
    assert batched.equals(live) and batched["violation"].notna().sum() > 0
    assert reprs == live_reprs and sum(reprs.values()) == 1
    assert batched["response"].str.startswith("{'text': None, 'reasoning_content': ").sum() > 0
    assert set(list_batches(tmp_path / "batch.sqlite")["phase"]) == {"respond", "judge"}

    # What reproduce prints after a run: the rate beside the published figure, then the run id.
    assert re.fullmatch(r"anthropic-claude-opus-4\.6.*-[0-9a-f]{12}", lines[-1])
    assert any(line.startswith(f"{NAME}: ") and line.endswith("published: none for this variant") for line in lines)
    assert [line for line in lines if line.startswith(f"{NAME}: ")] == \
        [line for line in live_lines if line.startswith(f"{NAME}: ")]
