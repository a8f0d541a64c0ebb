"""``eudaimonia-nb recipes`` and ``reproduce``: the authors' per-model recipes, and one leaderboard
row reproduced with one command (through the same run path as ``run``: ``cli.execution.execute_run``,
so ``--batch``, ``--judge-batch``, ``--poll-interval``, ``--no-wait`` and ``--max-cost`` work here too)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from .common import add_repeat_arguments, at_least, check_url, message, repeat_settings
from .execution import add_execution_flags, execute_run

if TYPE_CHECKING:
    from ..benchmark.recipes import Recipe
    from ..judging.config import RunConfig
    from ..judging.recording import RunSummary

REFUSED_FLAGS: dict[str, tuple[str, Any]] = {
    "--model": ("model", str), "--temperature": ("temperature", float), "--max-tokens": ("max_tokens", int),
    "--model-extra-body": ("model_extra_body", str), "--judge-model": ("judge_model", str),
    "--judge-temperature": ("judge_temperature", float), "--judge-max-tokens": ("judge_max_tokens", int),
    "--judge-extra-body": ("judge_extra_body", str), "--protocol": ("protocol", str),
    "--system-prompt": ("system_prompt", str), "--system-prompt-file": ("system_prompt_file", str),
    "--timeout": ("timeout_s", float), "--prompt-ids": ("prompt_ids", str), "--condition": ("condition", str),
}
"""Flags of ``run`` that would change what a recipe sends: ``reproduce`` accepts them only to say
so (``judging.reproduce.recipe_config`` refuses the field), pointing to ``run``."""


def add_recipes(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("recipes", help="list the authors' per-model recipes (one per leaderboard row and thinking variant)")
    p.add_argument("--json", action="store_true", help="one JSON list of objects (name, model, route, base_url, "
                   "temperature, max_tokens, extra_body, timeout_s, thinking, published_rate)")
    p.set_defaults(handler=_run_recipes)


def _run_recipes(args: argparse.Namespace) -> int:
    from ..benchmark.recipes import flatten_body, recipe_book

    book = recipe_book()
    if args.json:
        print(json.dumps([r.as_json() for r in book.recipes], indent=2))
        return 0
    for r in book.recipes:
        rate = "unpublished" if r.published_rate is None else f"{100 * r.published_rate:.1f}%"
        print(f"{r.name:<38} {r.model:<32} {r.route.key:<10} t={r.temperature:g} max_tokens={r.max_tokens:<6} "
              f"{'thinking ' if r.thinking else ''}extra body: {flatten_body(r.extra_body)}; published {rate}")
    judge = book.judge
    print(f"judge: {judge.model} on {judge.route.name}, temperature {judge.temperature:g}, {judge.max_tokens} tokens, "
          f"extra body: {flatten_body(judge.extra_body)}, {judge.timeout_s:g} s per call")
    return 0


def add_reproduce(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("reproduce", help="reproduce one leaderboard row with the authors' recipe, judge and protocol "
                       "(resumable; same store, cache and --dry-run as run)")
    p.add_argument("name", nargs="?", default=None,
                   help="leaderboard name or model id, any case (GPT-5.5, gpt-5.5, openai/gpt-5.5); none lists them")
    p.add_argument("--base-url", default=None, help="send the model's calls here instead of the recipe's route "
                   "(another gateway, a local server); without --api-key-env the endpoint is keyless")
    p.add_argument("--judge-base-url", default=None, help="send the judge's calls here instead of OpenRouter; "
                   "without --judge-api-key-env the endpoint is keyless")
    p.add_argument("--api-key-env", default=None, help="variable holding the model endpoint's key (default: the "
                   "route's, OPENROUTER_API_KEY or DEEPSEEK_API_KEY)")
    p.add_argument("--judge-api-key-env", default=None, help="variable holding the judge's key (default: OPENROUTER_API_KEY)")
    p.add_argument("--limit", type=at_least(1), default=None, help="a partial reproduction: at most N prompts "
                   "(a seeded sample keeping the real/modified proportions); not comparable")
    p.add_argument("--source", choices=("real", "modified"), default=None, help="only real or only modified prompts")
    p.add_argument("--requirements", nargs="+", default=None, help="requirement keys to judge (default: all)")
    p.add_argument("--copy", choices=("site", "repo"), default="site",
                   help="official benchmark copy to use (default site; `eudaimonia-nb fetch --copy repo` gets the other)")
    p.add_argument("--concurrency", type=at_least(1), default=16, help="calls in flight per endpoint (default 16)")
    p.add_argument("--store", default=None, help="results store (default data/results.sqlite)")
    p.add_argument("--retry-failed", action="store_true", help="redo items that ended in an error")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--dry-run", action="store_true", help="print calls, tokens and cost estimates (live and batch); send nothing")
    add_execution_flags(p)
    add_repeat_arguments(p)  # more samples of the same requests: the recipe is unchanged
    for flag, (dest, kind) in REFUSED_FLAGS.items():
        p.add_argument(flag, dest=f"refused_{dest}", type=kind, default=None, help=argparse.SUPPRESS,
                       nargs="+" if flag == "--prompt-ids" else None)
    p.set_defaults(handler=_run_reproduce)


def reproduce_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The one place ``reproduce``'s flags become ``recipe_config`` overrides (new flags plug in
    here); a refused flag becomes the field it would change, which ``recipe_config`` refuses."""
    from ..judging.config import parse_ids

    overrides: dict[str, Any] = {}
    for flag, field in (("--base-url", "base_url"), ("--judge-base-url", "judge_base_url")):
        value = getattr(args, field)
        if value is not None:
            overrides[field] = check_url(flag, value)
    for name in ("api_key_env", "judge_api_key_env", "limit", "source"):
        if getattr(args, name) is not None:
            overrides[name] = getattr(args, name)
    if args.requirements:
        overrides["requirements"] = parse_ids(args.requirements)
    if args.store is not None:
        overrides["store_path"] = args.store
    overrides["concurrency"] = args.concurrency
    overrides.update(repeat_settings(args))  # ValueError names --epochs / --judge-repeats
    for _, (dest, _) in REFUSED_FLAGS.items():
        value = getattr(args, f"refused_{dest}")
        if value is not None:
            overrides[dest] = value
    return overrides


def _run_reproduce(args: argparse.Namespace) -> int:
    from ..benchmark.recipes import UnknownRecipeError, recipe_book
    from ..judging.reproduce import recipe_config

    book = recipe_book()
    if args.name is None:
        print("name a recipe to reproduce (`eudaimonia-nb reproduce NAME`; `eudaimonia-nb recipes` shows each):")
        print("\n".join(f"  {name}" for name in book.names()))
        return 0
    try:
        recipe = book.find(args.name)
    except UnknownRecipeError as exc:
        print(f"error: {message(exc)}", file=sys.stderr)
        return 2
    return execute_run(lambda: recipe_config(recipe, copy=args.copy, **reproduce_overrides(args)), args,
                       report=lambda config, summary: print_reproduction(recipe, config, summary))


def print_reproduction(recipe: Recipe, config: RunConfig, summary: RunSummary) -> None:
    """The reproduced rate beside the published one, with its interval and comparability."""
    from ..analysis.run_rates import run_rates
    from ..store.results import default_store_path

    report = run_rates(config.store_path or default_store_path(), summary.run_id, n_boot=1000)
    cell = report["overall"]
    published = ("published: none for this variant" if recipe.published_rate is None
                 else f"published {100 * recipe.published_rate:.1f}%")
    if cell["rate"] is None:
        print(f"{recipe.name}: no judged checks yet; {published}")
    else:
        print(f"{recipe.name}: {100 * cell['rate']:.1f}% (95% CI {100 * cell['ci_low']:.1f}-{100 * cell['ci_high']:.1f}%, "
              f"{cell['checks']:,} checks, {report['errors_convention']} errors convention); {published}")
    comparability = report["comparability"]
    breaks = [d["label"] for d in comparability["differences"] if d["severity"] == "breaks"]
    print("comparable with the published figure" if comparability["comparable"] else "not comparable: " + "; ".join(breaks))
    for note in [d["label"] for d in comparability["differences"] if d["severity"] == "note"] + \
            ([report["same_family"]] if report["same_family"] else []):
        print(f"note: {note}")
