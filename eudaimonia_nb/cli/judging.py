"""``eudaimonia-nb run``, ``rejudge`` and ``serve-local``: judging models, live or batched
(``cli.execution.execute_run`` is the one run path of ``run``, ``rejudge`` and ``reproduce``)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from .common import add_repeat_arguments, at_least, check_url, port_number, repeat_settings
from .execution import add_execution_flags, execute_run

if TYPE_CHECKING:  # registering the subcommands imports nothing heavy: keep `--help` instant
    from ..judging.config import RunConfig


def add_run(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run a model on the benchmark and judge every labelled check (resumable)")
    p.add_argument("--model", required=True, help="model under test, as its endpoint names it")
    p.add_argument("--base-url", required=True, help="OpenAI-compatible endpoint of the model (…/v1)")
    p.add_argument("--api-key-env", default=None, help="environment variable holding the model endpoint's key (omit for keyless local servers)")
    p.add_argument("--judge-model", required=True, help="judge model")
    p.add_argument("--judge-base-url", required=True, help="OpenAI-compatible endpoint of the judge")
    p.add_argument("--judge-api-key-env", default=None,
                   help="variable holding the judge's key (default: --api-key-env when the judge is on the same host, else none)")
    p.add_argument("--limit", type=at_least(1), default=None,
                   help="at most N prompts after the other filters: a seeded sample keeping the real/modified proportions")
    p.add_argument("--limit-seed", type=int, default=0, help="seed of the --limit sample (default 0)")
    p.add_argument("--protocol", choices=("authors", "suite"), default="authors",
                   help="judging protocol (default authors: the authors' judge calls, comparable with the paper)")
    p.add_argument("--model-extra-body", default=None, help="JSON object merged into every request body of the model "
                   "(provider fields, e.g. '{\"reasoning\": {\"effort\": \"medium\"}}')")
    p.add_argument("--judge-extra-body", default=None, help="JSON object merged into every judge request body")
    p.add_argument("--requirements", nargs="+", default=None, help="requirement keys to judge (default: all)")
    p.add_argument("--source", choices=("real", "modified"), default=None, help="only real or only modified prompts")
    p.add_argument("--prompt-ids", nargs="+", default=None, help="only these prompt ids")
    p.add_argument("--system-prompt", default=None, help="system prompt for the model under test (default: none)")
    p.add_argument("--system-prompt-file", default=None, help="read the system prompt from this UTF-8 file (its SHA-256 joins the run identity)")
    p.add_argument("--condition", default=None, help="study condition this run belongs to, e.g. baseline or design-code (see `eudaimonia-nb study`)")
    p.add_argument("--temperature", type=at_least(0, float), default=0.7, help="model temperature (default 0.7)")
    p.add_argument("--max-tokens", type=at_least(1), default=2048, help="model output token limit (default 2048)")
    p.add_argument("--judge-max-tokens", type=at_least(1), default=1024, help="judge output token limit (default 1024)")
    p.add_argument("--no-structured-output", action="store_true", help="do not send response_format to the judge")
    p.add_argument("--concurrency", type=at_least(1), default=16, help="calls in flight per endpoint (default 16)")
    p.add_argument("--timeout", type=at_least(0.001, float), default=120.0,
                   help="seconds allowed for each request attempt as a whole (a timeout is retried)")
    p.add_argument("--retries", type=at_least(0), default=5, help="retries of retryable failures")
    p.add_argument("--max-response-chars", type=at_least(1), default=200_000,
                   help="a longer response is that check's error, neither stored nor judged (default 200000)")
    p.add_argument("--store", default=None, help="results store (default data/results.sqlite)")
    p.add_argument("--dataset", default=None, help="benchmark file (default: the fetched copy)")
    p.add_argument("--retry-failed", action="store_true", help="redo items that ended in an error")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--dry-run", action="store_true", help="print calls, tokens and cost estimates (live and batch); send nothing")
    add_execution_flags(p)
    add_repeat_arguments(p)
    p.set_defaults(handler=_run_run)


def _run_run(args: argparse.Namespace) -> int:
    def config() -> RunConfig:
        from ..judging.config import SAME_HOST_KEY, RunConfig, parse_ids
        from ..judging.protocols import parse_extra_body

        check_url("--base-url", args.base_url)
        check_url("--judge-base-url", args.judge_base_url)
        # Without --judge-api-key-env the model's key goes to the judge only on the same host.
        judge_key_env = args.judge_api_key_env or SAME_HOST_KEY
        return RunConfig(
            model=args.model, base_url=args.base_url, api_key_env=args.api_key_env, judge_model=args.judge_model,
            judge_base_url=args.judge_base_url, judge_api_key_env=judge_key_env,
            system_prompt=args.system_prompt, temperature=args.temperature, max_tokens=args.max_tokens,
            judge_max_tokens=args.judge_max_tokens, structured_output=not args.no_structured_output,
            concurrency=args.concurrency, timeout_s=args.timeout, max_retries=args.retries,
            max_response_chars=args.max_response_chars,
            requirements=parse_ids(args.requirements), source=args.source, prompt_ids=parse_ids(args.prompt_ids),
            limit=args.limit, store_path=args.store, dataset_path=args.dataset, limit_seed=args.limit_seed,
            protocol=args.protocol, model_extra_body=parse_extra_body(args.model_extra_body, "--model-extra-body"),
            judge_extra_body=parse_extra_body(args.judge_extra_body, "--judge-extra-body"),
            condition=args.condition, system_prompt_file=args.system_prompt_file, **repeat_settings(args),
        )

    return execute_run(config, args)


def add_rejudge(sub: argparse._SubParsersAction) -> None:
    from ..judging.rejudge import PROTOCOL_NAMES

    p = sub.add_parser("rejudge", help="judge a run's stored responses again (new run; never calls the model)")
    p.add_argument("run_id", help="the run whose responses to judge (see `eudaimonia-nb runs`)")
    p.add_argument("--judge-model", required=True, help="judge model")
    p.add_argument("--judge-base-url", required=True, help="OpenAI-compatible endpoint of the judge")
    p.add_argument("--api-key-env", default=None, help="environment variable holding the judge's key (omit for keyless servers)")
    p.add_argument("--protocol", choices=PROTOCOL_NAMES, default=PROTOCOL_NAMES[0],
                   help=f"judging protocol (default {PROTOCOL_NAMES[0]}: the authors' judge calls)")
    p.add_argument("--judge-extra-body", default=None, help="JSON object merged into every judge request body")
    p.add_argument("--judge-max-tokens", type=at_least(1), default=1024, help="judge output token limit (default 1024)")
    p.add_argument("--concurrency", type=at_least(1), default=16, help="calls in flight (default 16)")
    p.add_argument("--timeout", type=at_least(0.001, float), default=120.0,
                   help="seconds allowed for each request attempt as a whole (a timeout is retried)")
    p.add_argument("--store", default=None, help="results store (default data/results.sqlite)")
    p.add_argument("--dataset", default=None, help="benchmark file (default: the fetched copy)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_execution_flags(p, rejudge=True)
    add_repeat_arguments(p, epochs=False)  # the source run's epochs are rejudged, all of them
    p.set_defaults(handler=_run_rejudge)


def _run_rejudge(args: argparse.Namespace) -> int:
    def config() -> RunConfig:
        from ..judging.protocols import parse_extra_body
        from ..judging.rejudge import rejudge_config
        from ..store.results import default_store_path

        return rejudge_config(
            args.store or str(default_store_path()), args.run_id, judge_model=args.judge_model,
            judge_base_url=args.judge_base_url, judge_api_key_env=args.api_key_env, protocol=args.protocol,
            judge_extra_body=parse_extra_body(args.judge_extra_body, "--judge-extra-body"),
            judge_max_tokens=args.judge_max_tokens, concurrency=args.concurrency, timeout_s=args.timeout,
            dataset_path=args.dataset, **repeat_settings(args),
        )

    return execute_run(config, args, rejudge=True)


def add_serve_local(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve-local", help="serve SmolLM2-135M (a smoke-test model) with llama.cpp on 127.0.0.1, for offline work")
    p.add_argument("--port", type=port_number, default=8080, help="port on 127.0.0.1 (default 8080)")
    p.add_argument("--n-ctx", type=at_least(256), default=2048, help="context length in tokens")
    p.set_defaults(handler=_run_serve_local)


def _run_serve_local(args: argparse.Namespace) -> int:
    import subprocess

    from ..judging.local_server import WHY_SUITE_PROTOCOL, example_run_command, server_command

    try:
        command = server_command(args.port, n_ctx=args.n_ctx)
    except (ImportError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"SmolLM2-135M-Instruct (a smoke-test model: its verdicts are not research results) at "
          f"http://127.0.0.1:{args.port}/v1; Ctrl-C to stop", file=sys.stderr)
    print(f"Try it from another terminal:\n  {example_run_command(args.port)}\n({WHY_SUITE_PROTOCOL})",
          file=sys.stderr)
    try:
        return subprocess.call(command)
    except KeyboardInterrupt:
        return 130
