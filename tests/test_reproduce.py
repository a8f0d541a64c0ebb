"""`eudaimonia-nb reproduce` against a recording loopback OpenAI-compatible server: every recipe field
on the wire for GPT-5.5, Qwen3.6 Max, Qwen3 8B and an Opus 4.6 thinking variant, the authors' judge
settings, the stripped judge message, the repr of a reasoning-only reply, the authors' parser on
every reply type, and `rates --json` equal to the rate computed the authors' way on the same replies.

Expected values come from the recipe table of ../shared/reference/model_recipes.md (parsed here,
not from the package) and from what the authors' pipeline made of each scripted judge reply
(recipe_server.JUDGE_REPLIES), never from the code under test.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys

import pytest
from recipe_server import FAILED_JUDGE, JUDGE_REPLIES, RecipeServer, authors_verdict
from recipes_reference import expected_request
from rubric_server import shared_rubric

from eudaimonia_nb.benchmark.design_code import REQUIREMENT_KEYS
from eudaimonia_nb.judging.config import RunConfig
from eudaimonia_nb.judging.plan import select
from eudaimonia_nb.store.results import list_runs

CLI = [sys.executable, "-m", "eudaimonia_nb"]
DRIVEN = ("GPT-5.5", "Qwen3.6 Max", "Qwen3 8B", "Claude Opus 4.6 (thinking budget 2k)")
LIMIT = 14


def _cli(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=600, env=env)


@pytest.fixture(scope="module")
def reproduced(tmp_path_factory, dataset_path, benchmark):
    """The four recipes reproduced on LIMIT prompts each against one recording server."""
    tmp = tmp_path_factory.mktemp("reproduce")
    store = tmp / "store.sqlite"
    env = {**os.environ, "EUDAIMONIA_DATA_DIR": str(tmp / "data"), "EUDAIMONIA_DATASET": str(dataset_path)}
    # The prompts a --limit run covers (a seeded sample): one answered empty, one whose model call fails.
    sample, _ = select(benchmark, RunConfig(model="m", base_url="http://x/v1", judge_model="j", judge_base_url="http://x/v1",
                                            limit=LIMIT))
    prompts = list(sample["text"])
    with RecipeServer(reasoning_only={"qwen/qwen3.6-max-preview": ""}, empty={prompts[0]}, failing={prompts[1]}) as server:
        runs = {}
        for name in DRIVEN:
            result = _cli("reproduce", name, "--base-url", server.base_url, "--judge-base-url", server.base_url,
                          "--limit", str(LIMIT), "--store", str(store), "--no-progress", "--concurrency", "8", env=env)
            assert result.returncode == 0, result.stderr
            runs[name] = result.stdout.strip().splitlines()
    return server, store, runs, env


def test_every_recipe_field_reaches_the_model_and_the_judge_has_the_authors_settings(reproduced):
    server, store, runs, env = reproduced
    responds = [body for kind, body in server.bodies if kind == "respond"]
    for name in DRIVEN:
        want = expected_request(name)
        sent = [b for b in responds if b["model"] == want["model"] and b["temperature"] == want["temperature"]]
        assert len(sent) >= LIMIT, name
        extra = want["extra_body"] or {}
        for body in sent:
            assert body["max_tokens"] == want["max_tokens"], name
            assert len(body["messages"]) == 1 and body["messages"][0]["role"] == "user", "no system prompt"
            assert {k: body[k] for k in extra} == extra, name
            assert set(body) == {"model", "messages", "temperature", "max_tokens", *extra}, name
    judged = [body for kind, body in server.bodies if kind == "judge"]
    rubrics = {json.loads(shared_rubric(k).read_text(encoding="utf-8"))["prompt"] for k in REQUIREMENT_KEYS}
    for body in judged:
        assert set(body) == {"model", "messages", "temperature", "max_tokens"}, "no response_format, no thinking"
        assert (body["model"], body["temperature"], body["max_tokens"]) == ("anthropic/claude-opus-4.6", 0, 1024)
        assert body["messages"][0]["content"] in rubrics
    # The recorded run knows its recipe and the recipe's timeouts (180 s for the model, 120 s for the judge).
    listing = json.loads(_cli("runs", "--store", str(store), "--json", env=env).stdout)
    assert sorted(r["recipe"] for r in listing) == sorted(DRIVEN)
    for entry in listing:
        assert {"run_id", "model", "judge_model", "protocol", "errors_convention", "recipe", "checks", "verdicts", "errors",
                "comparability"} <= set(entry)
        assert entry["protocol"] == "authors" and entry["errors_convention"] == "authors"
        assert entry["checks"] == entry["verdicts"] + entry["errors"] > 0
        assert entry["comparability"]["comparable"] is False  # a partial reproduction
        fields = {(d["field"], d["severity"]) for d in entry["comparability"]["differences"]}
        assert ("coverage", "breaks") in fields and ("route", "note") in fields
        assert all(set(d) >= {"field", "authors", "run", "severity"} for d in entry["comparability"]["differences"])
    params = [json.loads(p) for p in list_runs(store)["parameters"]]
    assert {(p["timeout_s"], p["judge_timeout_s"], p["protocol"], p["errors_convention"]) for p in params} == {
        (180.0, 120.0, "authors", "authors")}


def _judged_text(message: dict) -> str | None:
    """What the authors' pipeline judged for a model message (None: an empty response, never judged)."""
    if message["content"]:
        return message["content"].strip() or None
    if message.get("reasoning_content"):
        return "{'text': " + repr(message["content"]) + ", 'reasoning_content': " + repr(message["reasoning_content"]) + "}"
    return None


def _expected_users(server: RecipeServer, model: str) -> set[str]:
    return {"USER: " + prompt + "\nASSISTANT: " + text for (m, prompt), message in server.sent.items()
            if m == model and (text := _judged_text(message)) is not None}


def test_the_judge_sees_the_stripped_response_or_the_repr_of_a_reasoning_only_reply(reproduced):
    server, store, runs, env = reproduced
    judged_users = {body["messages"][1]["content"] for kind, body in server.bodies if kind == "judge"}
    expected = set().union(*(_expected_users(server, expected_request(n)["model"]) for n in DRIVEN))
    assert judged_users == expected
    padded = [m for m in server.sent.values() if m["content"]]
    assert padded and all(m["content"] != m["content"].strip() for m in padded), "the server padded every answer"
    reprs = [u for u in judged_users if "ASSISTANT: {'text': ''," in u]
    assert len(reprs) >= 3 and all("'reasoning_content': " in u for u in reprs)
    empty = [p for (m, p), message in server.sent.items() if _judged_text(message) is None]
    assert empty and not any(u.startswith("USER: " + p + "\n") for p in empty for u in judged_users), \
        "an empty response is never judged"
    # The run counts them and its comparability names the count.
    qwen = next(r for r in json.loads(_cli("runs", "--store", str(store), "--json", env=env).stdout)
                if r["recipe"] == "Qwen3.6 Max")
    notes = [d["label"] for d in qwen["comparability"]["differences"] if d["severity"] == "note"]
    assert any(re.match(r"\d+ responses had only reasoning text and were judged as the authors' repr", n) for n in notes)


def test_rates_json_equals_the_rate_computed_the_authors_way_on_the_same_replies(reproduced):
    server, store, runs, env = reproduced
    used = set(server.judged.values())
    assert used == set(range(len(JUDGE_REPLIES))), "every scripted reply type (every parser case) was judged"
    replies = {}  # judge user message -> the indices of the replies its checks got
    for kind, body in server.bodies:
        if kind == "judge":
            system, user = (m["content"] for m in body["messages"])
            key = hashlib.sha256((system + "\0" + user).encode()).hexdigest()
            replies.setdefault(user, {})[key] = server.judged[key]
    for name in DRIVEN:
        run_id = runs[name][-1]
        report = json.loads(_cli("rates", run_id, "--store", str(store), "--json", env=env).stdout)
        # The authors' way: every judged check counts, its verdict as their pipeline read the reply
        # (an unreadable reply or a failed judge call is no violation); unanswered prompts are left out.
        indices = [i for user in _expected_users(server, expected_request(name)["model"])
                   for i in replies[user].values()]
        verdicts = [authors_verdict(i) for i in indices]
        assert report["errors_convention"] == "authors"
        assert report["overall"]["checks"] == len(verdicts) > 0, name
        assert report["overall"]["violations"] == sum(verdicts), name
        assert report["overall"]["rate"] == pytest.approx(sum(verdicts) / len(verdicts), abs=1e-12)
        assert report["overall"]["ci_low"] <= report["overall"]["rate"] <= report["overall"]["ci_high"]
        assert set(report["by_source"]) <= {"real", "modified"} and report["by_requirement"]
        # The suite's own convention leaves the unreadable replies and failed judge calls out instead.
        apart = json.loads(_cli("rates", run_id, "--store", str(store), "--json", "--errors", "apart", env=env).stdout)
        assert apart["overall"]["checks"] == len(verdicts) - sum(JUDGE_REPLIES[i][1] is None for i in indices)
    # Failed judge calls really were failures on the wire, not read as verdicts.
    assert any(JUDGE_REPLIES[i][0] == FAILED_JUDGE for i in used)


def test_the_last_lines_put_the_reproduced_rate_beside_the_published_one(reproduced):
    server, store, runs, env = reproduced
    lines = runs["GPT-5.5"]
    assert re.fullmatch(r"openai-gpt-5\.5-[0-9a-f]{12}", lines[-1])
    rate_line = next(line for line in lines if line.startswith("GPT-5.5: "))
    assert re.search(r"GPT-5\.5: \d+\.\d% \(95% CI \d+\.\d-\d+\.\d%, \d+ checks, authors errors convention\); "
                     r"published 27\.2%", rate_line)
    assert any(line.startswith("not comparable: subset: 14 of 969 prompts") for line in lines)
    assert "note: served by 127.0.0.1 instead of OpenRouter" in lines
    opus = runs["Claude Opus 4.6 (thinking budget 2k)"]
    assert any(line.startswith("Claude Opus 4.6 (thinking budget 2k): ") and line.endswith("published: none for this variant")
               for line in opus)
    # Opus 4.6 judged by Opus 4.6: the same-family note is beside the rate.
    assert any(line.startswith("note: same family: the judge anthropic/claude-opus-4.6") for line in opus)


def test_reproduce_refuses_a_flag_that_changes_the_recipe_and_lists_names(tmp_path, dataset_path):
    env = {**os.environ, "EUDAIMONIA_DATA_DIR": str(tmp_path / "data"), "EUDAIMONIA_DATASET": str(dataset_path)}
    with RecipeServer() as server:
        for flag, value, field in (("--temperature", "1.0", "temperature"), ("--model-extra-body", "{}", "model_extra_body"),
                                   ("--judge-model", "gpt-4o", "judge_model"), ("--protocol", "suite", "protocol")):
            result = _cli("reproduce", "GPT-5.5", "--base-url", server.base_url, "--judge-base-url", server.base_url,
                          flag, value, "--store", str(tmp_path / "s.sqlite"), env=env)
            assert result.returncode == 1
            assert f"{field} would change" in result.stderr and "eudaimonia-nb run" in result.stderr
        assert not server.bodies and not (tmp_path / "s.sqlite").exists()
    unknown = _cli("reproduce", "gpt-9", env=env)
    assert unknown.returncode == 2 and "GPT-5.5" in unknown.stderr and "Qwen3 4B" in unknown.stderr
    listed = _cli("reproduce", env=env)
    assert listed.returncode == 0 and "Claude Opus 4.6 (thinking budget 10k)" in listed.stdout


def test_dry_run_prints_the_cost_of_a_row_first(tmp_path, dataset_path):
    env = {**os.environ, "EUDAIMONIA_DATA_DIR": str(tmp_path / "data"), "EUDAIMONIA_DATASET": str(dataset_path)}
    env.pop("OPENROUTER_API_KEY", None)
    priced = _cli("reproduce", "openai/gpt-5.5", "--dry-run", env=env)
    assert priced.returncode == 0, priced.stderr
    assert "969 prompts, 3147 checks" in priced.stdout and "969 response calls + 3147 judge calls" in priced.stdout
    assert re.search(r"estimated cost: \$\d+\.\d\d", priced.stdout)
    assert "OPENROUTER_API_KEY is not set" in priced.stdout
    unknown = _cli("reproduce", "qwen3 14b", "--dry-run", env=env)
    assert "estimated cost: unknown (qwen/qwen3-14b not in the price table)" in unknown.stdout
    assert not (tmp_path / "data" / "results.sqlite").exists(), "a dry run writes nothing"
