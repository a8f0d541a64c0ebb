"""The recipe table against the facts it transcribes (../shared/reference/model_recipes.md and the
published leaderboard), the price table's coverage of it, `recipes --json`, the two official
benchmark copies behind `fetch --copy`, the store's schema version 3, and the `authors` errors
convention."""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from recipes_reference import RECIPES_MD, reference_table

from eudaimonia_nb.analysis.conventions import apply_convention
from eudaimonia_nb.analysis.published import leaderboard
from eudaimonia_nb.benchmark.recipes import RecipeError, load_recipe_book, recipe_book
from eudaimonia_nb.judging.pricing import load_prices, price_for
from eudaimonia_nb.paths import DATASET_COPIES, project_root
from eudaimonia_nb.store.results import ResultsStore, list_runs, load_judgments
from eudaimonia_nb.store.schema import SCHEMA_VERSION, rebuild_with_key

CLI = [sys.executable, "-m", "eudaimonia_nb"]
ROUTES = {"OpenRouter": "openrouter", "DeepSeek API": "deepseek", "local, OpenAI-compatible server": "local",
          "local": "local"}
AUTHORS_THINKING = {"Gemini 3.1 Pro", "GPT-5.5", "Grok 4", "Grok 4.3", "DeepSeek v4 Pro", "Qwen3.6 Max"}
"""The authors' list of thinking models (the issue and their analyze_results.py)."""


def test_every_leaderboard_row_matches_the_reference_table():
    table = reference_table()
    book = recipe_book()
    rows = [r for r in book.recipes if r.on_leaderboard]
    assert [r.name for r in rows] == list(leaderboard()["model"]) == list(table)
    for recipe in rows:
        want = table[recipe.name]
        assert recipe.model == want["model"], recipe.name
        assert recipe.route.key == ROUTES[want["route"]], recipe.name
        assert (recipe.temperature, recipe.max_tokens) == (want["temperature"], want["max_tokens"]), recipe.name
        assert recipe.extra_body == want["extra_body"], recipe.name
        assert recipe.timeout_s == 180.0
        assert recipe.thinking is (recipe.name in AUTHORS_THINKING), recipe.name
        assert set(recipe.sources) == {"request", "thinking", "published_rate"} and all(recipe.sources.values())
    board = leaderboard().set_index("model")["overall"]
    assert all(r.published_rate == pytest.approx(board[r.name]) for r in rows)


def test_the_thinking_variants_routes_and_judge_are_the_references():
    text = RECIPES_MD.read_text(encoding="utf-8")
    budgets = [int(n) for n in re.search(r"N = (\d+), (\d+), (\d+)", text).groups()]
    variants = [r for r in recipe_book().recipes if not r.on_leaderboard]
    assert [r.extra_body["thinking"]["budget_tokens"] for r in variants] == budgets == [2000, 5000, 10000]
    for recipe, budget in zip(variants, budgets):
        assert recipe.model == "anthropic/claude-opus-4.6" and recipe.temperature == 1.0
        assert recipe.max_tokens == budget + 2048 and recipe.extra_body == {"thinking": {"type": "enabled",
                                                                                          "budget_tokens": budget}}
        assert recipe.thinking and recipe.published_rate is None
    routes = recipe_book().routes
    assert routes["openrouter"].base_url == "https://openrouter.ai/api/v1" in text
    assert routes["deepseek"].base_url == "https://api.deepseek.com/v1" in text
    judge = recipe_book().judge
    assert (judge.model, judge.route.key, judge.temperature, judge.max_tokens, judge.extra_body, judge.thinking) == (
        "anthropic/claude-opus-4.6", "openrouter", 0.0, 1024, None, False)
    assert "`anthropic/claude-opus-4.6` through OpenRouter, temperature 0, max_tokens 1024" in text


def test_a_recipe_is_found_by_name_alias_or_model_id_in_any_case():
    book = recipe_book()
    for name in ("gpt-5.5", "GPT-5.5", "openai/gpt-5.5", "OPENAI/GPT-5.5"):
        assert book.find(name).name == "GPT-5.5"
    assert book.find("anthropic/claude-opus-4.6").name == "Claude Opus 4.6"
    assert book.find("claude opus 4.6 t10k").max_tokens == 12048
    assert book.for_run("anthropic/claude-opus-4.6", {"thinking": {"type": "enabled", "budget_tokens": 2000}}).name == \
        "Claude Opus 4.6 (thinking budget 2k)"
    assert book.for_run("qwen3-4b").name == "Qwen3 4B" and book.for_run("my-model") is None
    with pytest.raises(KeyError, match="GPT-5.5, Claude Opus 4.7"):
        book.find("gpt-9")


def test_a_recipe_file_with_a_fact_without_a_source_is_refused(tmp_path):
    text = (project_root() / "eudaimonia_nb" / "benchmark" / "recipes.toml").read_text(encoding="utf-8")
    broken = tmp_path / "recipes.toml"
    broken.write_text(text.replace('request_source = "artifact"', 'request_source = "hearsay"', 1), encoding="utf-8")
    with pytest.raises(RecipeError, match=r"recipe 1 \(GPT-5\.5\): source 'hearsay' is not in \[sources\]"):
        load_recipe_book(broken)
    broken.write_text(text.replace("""extra_body = '{"reasoning": {"effort": "medium"}}'""", "extra_body = '{oops'", 1),
                      encoding="utf-8")
    with pytest.raises(RecipeError, match=r"GPT-5\.5\): field 'extra_body': not a JSON object"):
        load_recipe_book(broken)


def test_prices_cover_every_recipe_model_and_the_judge_with_date_and_source():
    path = project_root() / "data" / "prices.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    unfound = next(line for line in lines if line.startswith("# Models of the authors' recipes with no price found:"))
    unfound = {m.strip().rstrip(".") for m in unfound.split(":", 1)[1].split(",")}
    table = pd.read_csv(path, comment="#", dtype=str, keep_default_na=False).set_index("model")
    prices = load_prices(path)
    models = {r.model for r in recipe_book().recipes} | {recipe_book().judge.model}
    for model in models:
        bare = model.lower().rsplit("/", 1)[-1]
        if bare in unfound:
            assert price_for(model, prices) is None, f"{model}: a price not found stays unknown, never 0"
            continue
        assert price_for(model, prices) is not None, model
        row = table.loc[bare]
        assert re.fullmatch(r"\d{4}-\d\d-\d\d", row["date"]) and row["source"], model
        local = recipe_book().find(model).route.key == "local"
        assert (prices[bare].output_usd_per_million == 0) is local, f"{model}: only a local server is free"
    assert unfound and all(any(m.lower().endswith(u) for m in models) for u in unfound)


def test_recipes_json_lists_the_rows_with_their_fields():
    result = subprocess.run([*CLI, "recipes", "--json"], capture_output=True, text=True, timeout=120)
    rows = json.loads(result.stdout)
    assert len(rows) == 25
    for row in rows:
        assert {"name", "model", "route", "base_url", "temperature", "max_tokens", "extra_body", "timeout_s", "thinking",
                "published_rate"} <= set(row)
    gpt = rows[0]
    assert (gpt["name"], gpt["extra_body"], gpt["published_rate"], gpt["route"]) == (
        "GPT-5.5", {"reasoning": {"effort": "medium"}}, 0.272, "openrouter")
    assert rows[-1]["published_rate"] is None and rows[-1]["max_tokens"] == 12048
    text = subprocess.run([*CLI, "recipes"], capture_output=True, text=True, timeout=120).stdout
    assert "judge: anthropic/claude-opus-4.6 on OpenRouter, temperature 0, 1024 tokens" in text


# -- the two official copies ------------------------------------------------------------------

def test_both_copies_are_pinned_to_the_references_hashes():
    text = RECIPES_MD.read_text(encoding="utf-8")
    repo, site = re.findall(r"SHA-256 `?([0-9a-f]{64})|`([0-9a-f]{64})`", text)[:2]
    assert DATASET_COPIES["repo"][1] == (repo[0] or repo[1])
    assert DATASET_COPIES["site"][1] == (site[0] or site[1])
    assert "dadfaeb7" in DATASET_COPIES["repo"][0] and DATASET_COPIES["repo"][0].endswith("data/final_dataset.jsonl")


def test_fetch_copy_checks_each_copys_hash_and_keeps_them_apart(dataset_path, tmp_path):
    env = {"EUDAIMONIA_DATA_DIR": str(tmp_path / "data"), "PATH": "/usr/bin:/bin"}
    url = dataset_path.resolve().as_uri()
    site = subprocess.run([*CLI, "fetch", "--copy", "site", "--url", url], capture_output=True, text=True, env=env,
                          timeout=120)
    assert site.returncode == 0, site.stderr
    assert site.stdout.strip() == str(tmp_path / "data" / "final_dataset.jsonl")
    # The site copy is not the repository copy: refused against the repository copy's pinned hash.
    repo = subprocess.run([*CLI, "fetch", "--copy", "repo", "--url", url], capture_output=True, text=True, env=env,
                          timeout=120)
    assert repo.returncode == 1 and DATASET_COPIES["repo"][1][:12] in repo.stderr
    assert not (tmp_path / "data" / "final_dataset.repo.jsonl").exists()
    digest = hashlib.sha256(dataset_path.read_bytes()).hexdigest()
    assert digest == DATASET_COPIES["site"][1]


# -- the store ------------------------------------------------------------------------------

def _v2_store(path, benchmark):
    """A store as schema version 2 left it: written now, then the tables of version 6 (and with them
    version 8's columns) and the columns of versions 3 and 7 removed."""
    from eudaimonia_nb.judging.config import RunConfig
    from eudaimonia_nb.judging.runner import Runner
    from eudaimonia_nb.store.results import VerdictRecord

    runner = Runner(RunConfig(model="m", base_url="http://127.0.0.1:1/v1", judge_model="j",
                              judge_base_url="http://127.0.0.1:1/v1", limit=2, store_path=str(path)), benchmark=benchmark)
    store = ResultsStore(path)
    versions = json.loads(runner.record().rubric_versions)
    store.begin_run(runner.record(), runner.checks)
    row = runner.checks.iloc[0]
    store.put_verdict(runner.run_id, VerdictRecord(row.prompt_id, row.requirement, True, "r", "{}", 1, 1, 0.0, 1, False,
                                                   None, versions[row.requirement]))
    store.close()
    db = sqlite3.connect(path)
    for table in ("batch_requests", "batch_jobs", "run_spend", "run_stops"):  # migrations 8 and 6 undone
        db.execute(f"DROP TABLE {table}")
    # Migration 7 undone (the UNIQUE keys without epoch / judge_repeat, those columns dropped), then 3's columns.
    rebuild_with_key(db, "responses", "UNIQUE (run_id, prompt_id, epoch)", "UNIQUE (run_id, prompt_id)")
    rebuild_with_key(db, "verdicts", "UNIQUE (run_id, prompt_id, requirement, epoch, judge_repeat)",
                     "UNIQUE (run_id, prompt_id, requirement)")
    for table, column in (("verdicts", "judge_repeat"), ("verdicts", "epoch"), ("responses", "epoch"),
                          ("verdicts", "parse_path"), ("verdicts", "verdict_flags"), ("responses", "reasoning_repr")):
        db.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    db.execute("PRAGMA user_version = 2")
    db.commit()
    db.close()
    return runner.run_id


def test_a_version_2_store_is_read_as_it_is_and_migrated_on_writing(benchmark, tmp_path):
    assert SCHEMA_VERSION >= 3
    path = tmp_path / "s.sqlite"
    run_id = _v2_store(path, benchmark)
    frame = load_judgments(path)  # read-only: no migration, the version-3 columns read as unrecorded
    assert frame["parse_path"].isna().all() and (frame["verdict_flags"] == "").all()
    assert list_runs(path)["n_reasoning_repr"].tolist() == [0]
    ResultsStore(path).close()
    assert (tmp_path / "s.sqlite.v2-backup").is_file()
    db = sqlite3.connect(path)
    try:
        verdicts = {row[1] for row in db.execute("PRAGMA table_info(verdicts)")}
        responses = {row[1] for row in db.execute("PRAGMA table_info(responses)")}
    finally:
        db.close()
    assert {"parse_path", "verdict_flags"} <= verdicts and "reasoning_repr" in responses
    assert load_judgments(path, [run_id])["violation"].iloc[0] == 1.0


# -- conventions ----------------------------------------------------------------------------

def test_the_authors_convention_counts_failed_judge_calls_too_and_leaves_missing_responses_out():
    frame = pd.DataFrame({
        "model": "m", "prompt_id": [f"p{i}" for i in range(5)], "requirement": "2C_deference", "source": "real",
        "violation": [1.0, np.nan, np.nan, np.nan, np.nan],
        "error": ["", "unparseable judge reply after 3 attempts: x", "judge call failed: HTTP 500",
                  "no response to judge: the model returned an empty response", "not judged yet"]})
    counted = {c: apply_convention(frame, c)["violation"].tolist() for c in ("apart", "no_violation", "authors")}
    assert counted["apart"][1:] == [pytest.approx(np.nan, nan_ok=True)] * 4
    assert counted["no_violation"][1] == 0.0 and np.isnan(counted["no_violation"][2])
    assert counted["authors"][1:3] == [0.0, 0.0] and np.isnan(counted["authors"][3]) and np.isnan(counted["authors"][4])
