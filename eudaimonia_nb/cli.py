"""EUDAIMONIA benchmark suite: fetch the benchmark, judge models, list and export runs, write reports.

Each subcommand is registered by a small ``_add_*`` function here and imports its module only
when it runs, so ``eudaimonia-nb --help`` is instant.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

Handler = Callable[[argparse.Namespace], int]


def _add_fetch(sub: argparse._SubParsersAction) -> None:
    from .paths import DATASET_SHA256, DATASET_URL

    p = sub.add_parser("fetch", help="download the benchmark file and verify its SHA-256")
    p.add_argument("--url", default=DATASET_URL, help="where to download from (default: the pinned official URL)")
    p.add_argument("--sha256", default=DATASET_SHA256, help="expected SHA-256 of the file")
    p.add_argument("--dest", default=None, help="file or directory to save to (default: the data cache)")
    p.add_argument("--force", action="store_true", help="download even if a verified copy exists")
    p.set_defaults(handler=_run_fetch)


def _run_fetch(args: argparse.Namespace) -> int:
    from .fetch import FetchError, fetch_benchmark

    try:
        path = fetch_benchmark(url=args.url, sha256=args.sha256, dest=args.dest, force=args.force)
    except FetchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(path)
    return 0


def _add_report(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="write the analysis as one static HTML file with interactive figures")
    p.add_argument("--source", choices=("demo", "store", "file"), default="demo",
                   help="embedded simulated demo (default), a results store or a results file")
    p.add_argument("--store", default=None, help="results store (SQLite) for --source store (default: data/results.sqlite)")
    p.add_argument("--run", action="append", default=[], help="run id to include (repeatable; default: all runs)")
    p.add_argument("--file", default=None, help="results file (CSV/JSONL/Parquet) for --source file")
    p.add_argument("--out", default="eudaimonia-report.html", help="HTML file to write")
    p.add_argument("--n-boot", type=int, default=1000, help="bootstrap replicates for intervals")
    p.add_argument("--sample-responses", type=int, default=0, metavar="N",
                   help="append N responses per model with their verdicts (default 0: responses may be sensitive)")
    p.set_defaults(handler=_run_report)


def _run_report(args: argparse.Namespace) -> int:
    import sqlite3
    from pathlib import Path

    from .dataset import prompt_texts
    from .report import DataSource, Options, build_report, load_source, write_report

    if args.source == "store" and not args.store:
        from .store import default_store_path

        args.store = str(default_store_path())
    path = {"store": args.store, "file": args.file}.get(args.source)
    if args.source != "demo" and not path:
        print(f"error: --source {args.source} needs --{args.source} PATH", file=sys.stderr)
        return 2
    try:
        source = DataSource(args.source, Path(path) if path else None, tuple(args.run))
        frame = load_source(source)
        text = build_report(frame, source=source.describe(public=True), options=Options(n_boot=args.n_boot),
                            sample_responses=args.sample_responses, prompts=prompt_texts() if args.sample_responses else None)
    except (OSError, ValueError, KeyError, sqlite3.Error) as exc:
        print(f"error: {_message(exc)}", file=sys.stderr)
        return 1
    print(write_report(text, Path(args.out)))
    return 0


def _at_least(low: float, kind: type = int) -> Callable[[str], float]:
    """An argparse type: a number of ``kind`` >= ``low`` (argparse names the flag on error)."""

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not value >= low:  # "not >=" also rejects nan
            raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'} >= {low}, got {text!r}")
        return value

    return parse


def _check_url(flag: str, url: str) -> str:
    """``url`` if it is an http(s) URL with a host; the error names the flag, never the URL
    (it may carry credentials)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (parsing the port is the check)
    except ValueError as exc:
        raise ValueError(f"{flag}: expected an http(s) URL like http://127.0.0.1:8080/v1 ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{flag}: expected an http(s) URL like http://127.0.0.1:8080/v1")
    return url


def _message(exc: BaseException) -> str:
    # str(KeyError) wraps the message in quotes.
    return str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)


def _add_run(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run a model on the benchmark and judge every labelled check (resumable)")
    p.add_argument("--model", required=True, help="model under test, as its endpoint names it")
    p.add_argument("--base-url", required=True, help="OpenAI-compatible endpoint of the model (…/v1)")
    p.add_argument("--api-key-env", default=None, help="environment variable holding the model endpoint's key (omit for keyless local servers)")
    p.add_argument("--judge-model", required=True, help="judge model")
    p.add_argument("--judge-base-url", required=True, help="OpenAI-compatible endpoint of the judge")
    p.add_argument("--judge-api-key-env", default=None,
                   help="variable holding the judge's key (default: --api-key-env when the judge is on the same host, else none)")
    p.add_argument("--limit", type=_at_least(1), default=None, help="at most N prompts (file order, after the other filters)")
    p.add_argument("--requirements", nargs="+", default=None, help="requirement keys to judge (default: all)")
    p.add_argument("--source", choices=("real", "modified"), default=None, help="only real or only modified prompts")
    p.add_argument("--prompt-ids", nargs="+", default=None, help="only these prompt ids")
    p.add_argument("--system-prompt", default=None, help="system prompt for the model under test (default: none)")
    p.add_argument("--temperature", type=_at_least(0, float), default=0.7, help="model temperature (default 0.7)")
    p.add_argument("--max-tokens", type=_at_least(1), default=2048, help="model output token limit (default 2048)")
    p.add_argument("--judge-max-tokens", type=_at_least(1), default=1024, help="judge output token limit (default 1024)")
    p.add_argument("--no-structured-output", action="store_true", help="do not send response_format to the judge")
    p.add_argument("--concurrency", type=_at_least(1), default=16, help="calls in flight per endpoint (default 16)")
    p.add_argument("--timeout", type=_at_least(0.001, float), default=120.0, help="per-request timeout in seconds")
    p.add_argument("--retries", type=_at_least(0), default=5, help="retries of retryable failures")
    p.add_argument("--store", default=None, help="results store (default data/results.sqlite)")
    p.add_argument("--dataset", default=None, help="benchmark file (default: the fetched copy)")
    p.add_argument("--retry-failed", action="store_true", help="redo items that ended in an error")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--dry-run", action="store_true", help="print calls, tokens and cost estimates; send nothing")
    p.set_defaults(handler=_run_run)


def _run_run(args: argparse.Namespace) -> int:
    import sqlite3

    from .client import CredentialError
    from .dataset import DatasetError, DatasetNotFoundError
    from .runner import SAME_HOST_KEY, RunConfig, dry_run, parse_ids, run

    try:
        _check_url("--base-url", args.base_url)
        _check_url("--judge-base-url", args.judge_base_url)
        # Without --judge-api-key-env the model's key goes to the judge only on the same host.
        judge_key_env = args.judge_api_key_env or SAME_HOST_KEY
        config = RunConfig(
            model=args.model, base_url=args.base_url, api_key_env=args.api_key_env, judge_model=args.judge_model,
            judge_base_url=args.judge_base_url, judge_api_key_env=judge_key_env,
            system_prompt=args.system_prompt, temperature=args.temperature, max_tokens=args.max_tokens,
            judge_max_tokens=args.judge_max_tokens, structured_output=not args.no_structured_output,
            concurrency=args.concurrency, timeout_s=args.timeout, max_retries=args.retries,
            requirements=parse_ids(args.requirements), source=args.source, prompt_ids=parse_ids(args.prompt_ids),
            limit=args.limit, store_path=args.store, dataset_path=args.dataset,
        )
        if args.dry_run:
            estimate = dry_run(config)
            print(estimate.describe())
            print(estimate.run_id)
            return 0
        summary = run(config, retry_failed=args.retry_failed, progress=not args.no_progress)
    except KeyboardInterrupt:
        print("interrupted: every finished result is stored; run the same command again to resume", file=sys.stderr)
        return 130
    # ValueError covers subsets, settings and the price table; all name what was wrong.
    except (CredentialError, DatasetError, DatasetNotFoundError, ValueError, KeyError, OSError, sqlite3.Error) as exc:
        print(f"error: {_message(exc)}", file=sys.stderr)
        return 1
    cost = "unknown" if summary.cost_usd is None else f"${summary.cost_usd:.4f}"
    label = " [SMOKE TEST: verdicts are not research results]" if summary.smoke_test else ""
    print(f"{summary.n_checks} checks: {summary.verdicts} verdicts, {summary.errors} errors; this invocation: "
          f"{summary.checks_judged} results, {summary.input_tokens + summary.output_tokens} tokens, cost {cost}{label}")
    print(summary.run_id)
    return 0


def _add_runs(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("runs", help="list the runs in a results store")
    p.add_argument("--store", default=None, help="results store (default data/results.sqlite)")
    p.set_defaults(handler=_run_runs)


def _run_runs(args: argparse.Namespace) -> int:
    import sqlite3

    from .store import list_runs

    try:
        runs = list_runs(args.store)
    except (OSError, sqlite3.Error) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    columns = ["run_id", "model", "judge_model", "n_checks", "n_verdicts", "n_errors", "smoke_test", "started_at", "ended_at"]
    print(runs[columns].to_string(index=False) if not runs.empty else "no runs")
    return 0


def _add_export(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="write one run as a long table (one row per check)")
    p.add_argument("run_id", help="run id (see `eudaimonia-nb runs`)")
    p.add_argument("--store", default=None, help="results store (default data/results.sqlite)")
    p.add_argument("--format", choices=("csv", "jsonl", "parquet"), required=True, help="output format")
    p.add_argument("--out", required=True, help="file to write")
    p.set_defaults(handler=_run_export)


def _run_export(args: argparse.Namespace) -> int:
    import sqlite3

    from .store import export_run

    try:
        print(export_run(args.store, args.run_id, args.format, args.out))
    except (OSError, KeyError, sqlite3.Error) as exc:
        print(f"error: {_message(exc)}", file=sys.stderr)
        return 1
    return 0


def _add_serve_local(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve-local", help="serve SmolLM2-135M (a smoke-test model) with llama.cpp on 127.0.0.1, for offline work")
    p.add_argument("--port", type=_at_least(1), default=8080, help="port on 127.0.0.1 (default 8080)")
    p.add_argument("--n-ctx", type=_at_least(256), default=2048, help="context length in tokens")
    p.set_defaults(handler=_run_serve_local)


def _run_serve_local(args: argparse.Namespace) -> int:
    import subprocess

    from .local_server import server_command

    try:
        command = server_command(args.port, n_ctx=args.n_ctx)
    except (ImportError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"SmolLM2-135M-Instruct (a smoke-test model: its verdicts are not research results) at "
          f"http://127.0.0.1:{args.port}/v1; Ctrl-C to stop", file=sys.stderr)
    try:
        return subprocess.call(command)
    except KeyboardInterrupt:
        return 130


# Subcommand registrars, in the order `--help` lists them.
REGISTRARS: list[Callable[[argparse._SubParsersAction], None]] = [_add_fetch, _add_report, _add_run, _add_runs, _add_export, _add_serve_local]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="eudaimonia-nb", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details to stderr")
    sub = parser.add_subparsers(dest="command", required=True)
    for register in REGISTRARS:
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # Their INFO lines quote full request URLs, which may carry credentials (?key=...).
    for chatty in ("httpx", "httpcore", "openai"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
