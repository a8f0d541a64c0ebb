"""`eudaimonia-nb rejudge`: the stored responses of a run judged again, never the model called."""

from __future__ import annotations

import json
import subprocess
import sys

from fault_server import FaultServer, Script

from eudaimonia_nb.judging.config import RunConfig
from eudaimonia_nb.judging.runner import run
from eudaimonia_nb.store.results import list_runs, load_judgments, response_texts

CLI = [sys.executable, "-m", "eudaimonia_nb"]


def test_rejudge_copies_responses_and_makes_zero_model_calls(benchmark, dataset_path, tmp_path):
    store = tmp_path / "store.sqlite"
    prompts = benchmark.prompts.iloc[[0, 1, 2, 500]]
    empty_text = prompts["text"].iloc[1]
    with FaultServer(Script(rules={empty_text: {"respond": ["empty"]}})) as first:
        source = run(RunConfig(
            model="scripted-model", base_url=first.base_url, judge_model="scripted-judge", judge_base_url=first.base_url,
            api_key_env=None, judge_api_key_env=None, prompt_ids=tuple(prompts["prompt_id"]), store_path=str(store),
            timeout_s=5.0, max_retries=0, concurrency=4), benchmark=benchmark, progress=False)
    extra = {"provider": {"order": ["anthropic"]}}
    with FaultServer() as second:
        result = subprocess.run(
            [*CLI, "rejudge", source.run_id, "--judge-model", "other-judge", "--judge-base-url", second.base_url,
             "--protocol", "suite", "--judge-extra-body", json.dumps(extra), "--store", str(store),
             "--dataset", str(dataset_path), "--no-progress"], capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
        assert second.requests["respond"] == 0, "a rejudge never calls the model under test"
        judged = [b for kind, b in second.bodies if kind == "judge"]
    new_id = result.stdout.strip().splitlines()[-1]
    assert new_id != source.run_id

    runs = list_runs(store).set_index("run_id")
    assert runs.loc[new_id, "rejudged_from"] == source.run_id
    assert runs.loc[new_id, "protocol"] == "suite" and runs.loc[new_id, "judge_model"] == "other-judge"
    assert runs.loc[new_id, "model"] == "scripted-model"
    params = json.loads(runs.loc[new_id, "parameters"])
    assert params["judge_extra_body"] == extra and params["rejudged_from"] == source.run_id

    copied = response_texts(store, new_id).set_index("prompt_id")
    original = response_texts(store, source.run_id).set_index("prompt_id")
    assert copied.loc[original.index, "text"].tolist() == original["text"].tolist()
    assert copied.loc[original.index, "error"].fillna("").tolist() == original["error"].fillna("").tolist()

    new = load_judgments(store, [new_id])
    old = load_judgments(store, [source.run_id])
    assert sorted(zip(new["prompt_id"], new["requirement"])) == sorted(zip(old["prompt_id"], old["requirement"]))
    n_to_judge = int((new["prompt_id"] != prompts["prompt_id"].iloc[1]).sum())
    assert len(judged) == n_to_judge and all(b["provider"] == extra["provider"] for b in judged)
    assert all(empty_text not in b["messages"][1]["content"] for b in judged)
    empty_rows = new[new["prompt_id"] == prompts["prompt_id"].iloc[1]]
    assert empty_rows["violation"].isna().all() and empty_rows["error"].str.contains("empty response").all()

    missing = subprocess.run([*CLI, "rejudge", "no-such-run", "--judge-model", "j", "--judge-base-url",
                              "http://127.0.0.1:9/v1", "--store", str(store)], capture_output=True, text=True, timeout=120)
    assert missing.returncode == 1 and missing.stderr.strip().splitlines() == [f"error: no run no-such-run in the store {store}"]
