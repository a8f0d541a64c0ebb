"""Comparability field by field: a run is compared with its recipe, each difference named with both
values and marked as breaking comparability or as a note.

One complete GPT-5.5 run is written through the store's own writer exactly as its recipe says
(reasoning effort medium, the authors' judge on OpenRouter); each case then changes one field of
its run record or of its results in memory, as another run would have recorded it.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from eudaimonia_nb.analysis.comparability import run_comparability
from eudaimonia_nb.judging.config import RunConfig
from eudaimonia_nb.judging.reproduce import recipe_config
from eudaimonia_nb.judging.runner import Runner
from eudaimonia_nb.benchmark.recipes import find_recipe
from eudaimonia_nb.paths import REPO_DATASET_SHA256
from eudaimonia_nb.store.results import ResultsStore, VerdictRecord, list_runs, load_judgments


@pytest.fixture(scope="module")
def faithful(benchmark, tmp_path_factory):
    store = tmp_path_factory.mktemp("fields") / "store.sqlite"
    config = recipe_config(find_recipe("GPT-5.5"), store_path=str(store))
    runner = Runner(config, benchmark=benchmark)
    rng = np.random.default_rng(5)
    versions = json.loads(runner.record().rubric_versions)
    writer = ResultsStore(store)
    try:
        writer.begin_run(runner.record(), runner.checks)
        for row in runner.checks.itertuples(index=False):
            writer.put_verdict(runner.run_id, VerdictRecord(row.prompt_id, row.requirement, bool(rng.random() < 0.3), "r",
                                                            "{}", 1, 1, 0.0, 1, False, None, versions[row.requirement]))
        writer.end_run(runner.run_id)
    finally:
        writer.close()
    return load_judgments(store), list_runs(store)


def _compare(frame, runs, **changes):
    """The comparability record of the run with ``changes`` to its parameters (``params``) or record."""
    runs = runs.copy()
    params = json.loads(runs.loc[0, "parameters"])
    for name, value in changes.pop("params", {}).items():
        if value is _DROP:
            params.pop(name, None)
        else:
            params[name] = value
    runs.loc[0, "parameters"] = json.dumps(params)
    for column, value in changes.items():
        runs.loc[0, column] = value
    return run_comparability(frame, runs).iloc[0]


_DROP = object()


def _labels(record, severity):
    return [d["label"] for d in record["differences"] if d["severity"] == severity]


def test_the_recipe_run_is_comparable_with_no_difference_but_the_benchmark_copy(faithful):
    frame, runs = faithful
    record = _compare(frame, runs)
    assert record["comparable"] and record["recipe"] == "GPT-5.5" and record["reasons"] == ""
    assert [d["field"] for d in record["differences"]] == ["benchmark copy"]
    assert record["differences"][0]["severity"] == "note"


@pytest.mark.parametrize(("body", "label"), [
    (None, "model extra body: the authors sent reasoning.effort=medium, this run sent none"),
    ({"reasoning": {"effort": "high"}}, "model extra body: the authors sent reasoning.effort=medium, this run sent "
                                        "reasoning.effort=high"),
])
def test_a_run_without_the_recipe_field_or_with_another_value_is_not_comparable(faithful, body, label):
    frame, runs = faithful
    record = _compare(frame, runs, params={"model_extra_body": body})
    assert not record["comparable"] and record["reasons"] == label
    difference = next(d for d in record["differences"] if d["field"] == "model extra body")
    assert difference["severity"] == "breaks" and difference["authors"] == "reasoning.effort=medium"


def test_a_thinking_judge_and_other_judge_settings_break_comparability(faithful):
    frame, runs = faithful
    record = _compare(frame, runs, params={"judge_extra_body": {"thinking": {"type": "enabled", "budget_tokens": 1024}},
                                           "judge_max_tokens": 4096})
    assert _labels(record, "breaks") == [
        "judge max tokens: the authors sent 1024, this run sent 4096",
        "judge extra body: the authors sent none, this run sent thinking.budget_tokens=1024, thinking.type=enabled"]
    other = _compare(frame, runs, judge_model="openai/gpt-4o")
    assert other["reasons"] == "judge openai/gpt-4o"


def test_a_route_or_gateway_is_a_note_and_a_bare_model_id_too(faithful):
    frame, runs = faithful
    record = _compare(frame, runs, base_url="http://127.0.0.1:8000/v1", judge_base_url="https://gateway.example/v1",
                      model="gpt-5.5")
    assert record["comparable"]
    assert _labels(record, "note")[:3] == [
        "model id: the authors called openai/gpt-5.5, this run gpt-5.5 (the same model without its vendor prefix)",
        "served by 127.0.0.1 instead of OpenRouter", "judge served by gateway.example instead of OpenRouter"]


def test_the_authors_conventions_and_rubrics_recorded_with_the_run_are_checked(faithful):
    frame, runs = faithful
    legacy = _compare(frame, runs, params={"conventions": _DROP})
    assert not legacy["comparable"] and "the authors' pipeline conventions are not recorded" in legacy["reasons"]
    raw = _compare(frame, runs, params={"conventions": {**json.loads(runs.loc[0, "parameters"])["conventions"],
                                                        "judged_response": "as received", "errors": "apart"}})
    assert _labels(raw, "breaks") == ["judged response: the authors' pipeline used strip, this run as received",
                                      "errors: the authors' pipeline used authors, this run apart"]
    rubric = dict(json.loads(runs.loc[0, "parameters"])["rubric_sha256"], **{"2C_deference": "0" * 64})
    assert _compare(frame, runs, params={"rubric_sha256": rubric})["reasons"] == \
        "rubrics: 1 of 9 differ from the authors' (2C_deference)"


def test_either_official_copy_is_a_note_and_any_other_file_breaks(faithful):
    frame, runs = faithful
    repo = _compare(frame, runs, dataset_sha256=REPO_DATASET_SHA256)
    assert repo["comparable"]
    assert _labels(repo, "note")[-1].startswith("benchmark: the repo copy, one of the two official ones")
    assert "lines 461 and 659 (2 prompts, 11 checks" in _labels(repo, "note")[-1]
    other = _compare(frame, runs, dataset_sha256="1" * 64)
    assert other["reasons"] == "unofficial dataset file"


def test_missing_model_responses_are_a_note_and_judge_errors_break_above_one_percent(faithful):
    frame, runs = faithful
    failed = frame.copy()
    pids = failed["prompt_id"].drop_duplicates().head(40)  # about 4% of the checks: the model gave nothing
    rows = failed["prompt_id"].isin(pids)
    failed.loc[rows, "violation"] = np.nan
    failed.loc[rows, "error"] = "no response to judge: HTTP 400: refused"
    record = _compare(failed, runs)
    assert record["comparable"], record["reasons"]
    assert f"{int(rows.sum())} checks without a verdict because the model gave no response" in record["notes"]
    few = frame.copy()
    few.loc[few.index[:20], ["violation", "error"]] = [np.nan, "judge call failed: HTTP 500"]
    assert _compare(few, runs)["comparable"]
    assert "20 judge errors (unparseable or failed), counted as no violation" in _compare(few, runs)["notes"]
    many = frame.copy()
    many.loc[many.index[:60], ["violation", "error"]] = [np.nan, "unparseable judge reply after 3 attempts: x"]
    assert _compare(many, runs)["reasons"].startswith("judge errors for 1.9% of checks")


def test_a_thinking_variant_is_matched_by_its_budget_and_compared_with_its_own_fields(benchmark, faithful):
    frame, runs = faithful
    variant = recipe_config(find_recipe("Claude Opus 4.6 T5k"))
    params = json.loads(Runner(variant, benchmark=benchmark).record().parameters)
    record = _compare(frame, runs, model="anthropic/claude-opus-4.6", params=params)
    assert record["recipe"] == "Claude Opus 4.6 (thinking budget 5k)" and record["comparable"], record["reasons"]
    cooler = _compare(frame, runs, model="anthropic/claude-opus-4.6", params={**params, "temperature": 0.7})
    assert cooler["reasons"] == "temperature: the authors sent 1, this run sent 0.7"


def test_a_run_of_a_model_with_no_recipe_is_compared_with_the_authors_defaults(faithful):
    frame, runs = faithful
    record = _compare(frame, runs, model="my-model", params={"model_extra_body": None, "max_tokens": 512, "recipe": _DROP})
    assert record["recipe"] is None and record["reasons"] == "max tokens: the authors sent 2048, this run sent 512"
    # A run that recorded a recipe but called another model is compared with the recipe it named.
    renamed = _compare(frame, runs, model="my-model")
    assert renamed["reasons"] == "model id: the authors called openai/gpt-5.5, this run my-model"
    loose = run_comparability(frame.drop(columns=["run_id"]).assign(model="m"))
    assert "settings not recorded" in loose.iloc[0]["reasons"]


def test_reproduce_and_the_same_request_made_with_run_are_one_run(benchmark):
    from eudaimonia_nb.judging.config import SAME_HOST_KEY
    from eudaimonia_nb.judging.plan import run_id_for

    reproduced = recipe_config(find_recipe("GPT-4o"))
    by_hand = RunConfig(model="openai/gpt-4o", base_url="https://openrouter.ai/api/v1", api_key_env="OPENROUTER_API_KEY",
                        judge_model="anthropic/claude-opus-4.6", judge_base_url="https://openrouter.ai/api/v1",
                        judge_api_key_env=SAME_HOST_KEY)
    assert run_id_for(reproduced, benchmark) == run_id_for(by_hand, benchmark)
    assert run_id_for(recipe_config(find_recipe("GPT-5.5")), benchmark) != run_id_for(
        RunConfig(model="openai/gpt-5.5", base_url="https://openrouter.ai/api/v1", judge_model="anthropic/claude-opus-4.6",
                  judge_base_url="https://openrouter.ai/api/v1"), benchmark), "without its provider field it is another run"


def test_the_recipe_config_is_the_recipe(tmp_path):
    recipe = find_recipe("qwen3 8b")
    config = recipe_config(recipe, base_url="http://127.0.0.1:1/v1", limit=3, store_path=str(tmp_path / "s"))
    assert isinstance(config, RunConfig)
    assert (config.model, config.temperature, config.max_tokens, config.model_extra_body, config.timeout_s) == (
        "qwen/qwen3-8b", 0.7, 2048, {"enable_thinking": False}, 180.0)
    assert (config.judge_model, config.judge_temperature, config.judge_max_tokens, config.judge_extra_body,
            config.judge_timeout_s, config.protocol) == ("anthropic/claude-opus-4.6", 0.0, 1024, None, 120.0, "authors")
    assert config.api_key_env is None, "a base URL of one's own without a key variable is keyless, as with run"
    assert config.judge_base_url == "https://openrouter.ai/api/v1" and config.judge_key_env() == "OPENROUTER_API_KEY"
    deepseek = recipe_config(find_recipe("deepseek-v4-pro"))
    assert (deepseek.base_url, deepseek.api_key_env) == ("https://api.deepseek.com/v1", "DEEPSEEK_API_KEY")
    repo = recipe_config(recipe, copy="repo")
    assert repo.dataset_path.endswith("final_dataset.repo.jsonl")


def test_the_shared_protocol_summary_holds_a_leaderboard_model_to_its_recipe():
    from eudaimonia_nb.judging.run_protocols import protocol_summary

    opus = {"model": "anthropic/claude-opus-4.6", "temperature": 1.0, "max_tokens": 4048,
            "model_extra_body": {"thinking": {"type": "enabled", "budget_tokens": 2000}}}
    assert protocol_summary(opus) == "the authors' recipe (Claude Opus 4.6 (thinking budget 2k))"
    assert protocol_summary({"model": "openai/gpt-5.5", "temperature": 0.7, "max_tokens": 2048}) == \
        "extra body none (authors reasoning.effort=medium)"
    assert protocol_summary({"model": "my-model", "temperature": 0.7, "max_tokens": 2048}) == "authors' settings"
