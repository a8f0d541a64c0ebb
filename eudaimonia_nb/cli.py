"""EUDAIMONIA benchmark suite: fetch the benchmark, judge models through any OpenAI-compatible API, list, export and report runs, compare conditions and check the judge against human labels.

Each subcommand is registered by a small ``_add_*`` function here and imports its module only
when it runs, so ``eudaimonia-nb --help`` is instant.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence

Handler = Callable[[argparse.Namespace], int]


def _add_fetch(sub: argparse._SubParsersAction) -> None:
    from .paths import DATASET_SHA256, DATASET_URL

    p = sub.add_parser("fetch", help="download the benchmark file and verify its SHA-256")
    p.add_argument("--url", default=DATASET_URL, help="where to download from (default: the pinned official URL); "
                   "file:///path/to/final_dataset.jsonl copies a local file, hash-checked")
    p.add_argument("--sha256", default=DATASET_SHA256, help="expected SHA-256 of the file")
    p.add_argument("--dest", default=None, help="file or directory to save to (default: the data cache)")
    p.add_argument("--force", action="store_true", help="download even if a verified copy exists")
    p.add_argument("--timeout", type=_at_least(0.001, float), default=60.0, help="seconds to wait for data (default 60)")
    p.add_argument("--deadline", type=_at_least(0.001, float), default=600.0,
                   help="seconds allowed for the whole download (default 600)")
    p.set_defaults(handler=_run_fetch)


def _run_fetch(args: argparse.Namespace) -> int:
    from .fetch import FetchError, fetch_benchmark

    try:
        path = fetch_benchmark(url=args.url, sha256=args.sha256, dest=args.dest, force=args.force, timeout=args.timeout,
                               deadline=args.deadline)
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
    p.add_argument("--n-boot", type=_at_least(1), default=1000, help="bootstrap replicates for intervals")
    p.add_argument("--errors", choices=("apart", "no_violation"), default="apart",
                   help="checks without a verdict: kept apart (default) or unparseable judge answers counted as "
                        "no violation (the authors' convention)")
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
        with _numeric_warnings_to_log():
            text = build_report(frame, source=source.describe(public=True),
                                options=Options(n_boot=args.n_boot, errors=args.errors),
                                sample_responses=args.sample_responses,
                                prompts=prompt_texts() if args.sample_responses else None)
    except (OSError, ValueError, KeyError, sqlite3.Error) as exc:
        print(f"error: {_message(exc)}", file=sys.stderr)
        return 1
    print(write_report(text, Path(args.out)))
    return 0


@contextlib.contextmanager
def _numeric_warnings_to_log() -> Iterator[None]:
    """numpy's RuntimeWarnings (empty slices, zero variance in a small subset) are expected in
    estimation and mean nothing to a terminal user: they go to the debug log; others pass."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for item in caught:
        if issubclass(item.category, RuntimeWarning):
            logging.getLogger(__name__).debug("%s:%d: %s", item.filename, item.lineno, item.message)
        else:
            warnings.showwarning(item.message, item.category, item.filename, item.lineno)


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
    p.add_argument("--limit", type=_at_least(1), default=None,
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
    p.add_argument("--temperature", type=_at_least(0, float), default=0.7, help="model temperature (default 0.7)")
    p.add_argument("--max-tokens", type=_at_least(1), default=2048, help="model output token limit (default 2048)")
    p.add_argument("--judge-max-tokens", type=_at_least(1), default=1024, help="judge output token limit (default 1024)")
    p.add_argument("--no-structured-output", action="store_true", help="do not send response_format to the judge")
    p.add_argument("--concurrency", type=_at_least(1), default=16, help="calls in flight per endpoint (default 16)")
    p.add_argument("--timeout", type=_at_least(0.001, float), default=120.0,
                   help="seconds allowed for each request attempt as a whole (a timeout is retried)")
    p.add_argument("--retries", type=_at_least(0), default=5, help="retries of retryable failures")
    p.add_argument("--store", default=None, help="results store (default data/results.sqlite)")
    p.add_argument("--dataset", default=None, help="benchmark file (default: the fetched copy)")
    p.add_argument("--retry-failed", action="store_true", help="redo items that ended in an error")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--dry-run", action="store_true", help="print calls, tokens and cost estimates; send nothing")
    p.set_defaults(handler=_run_run)


def _run_run(args: argparse.Namespace) -> int:
    import sqlite3

    from .authors_rubrics import RubricsUnavailableError
    from .client import CredentialError
    from .dataset import DatasetError, DatasetNotFoundError
    from .preflight import EndpointError, RunStopped
    from .run_lock import RunLockedError
    from .protocols import parse_extra_body
    from .dry_run import dry_run
    from .runner import SAME_HOST_KEY, RunConfig, parse_ids, run

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
            limit=args.limit, store_path=args.store, dataset_path=args.dataset, limit_seed=args.limit_seed,
            protocol=args.protocol, model_extra_body=parse_extra_body(args.model_extra_body, "--model-extra-body"),
            judge_extra_body=parse_extra_body(args.judge_extra_body, "--judge-extra-body"),
            condition=args.condition, system_prompt_file=args.system_prompt_file,
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
    except (RubricsUnavailableError, CredentialError, DatasetError, DatasetNotFoundError, ValueError, KeyError, OSError,
            sqlite3.Error, RunLockedError, EndpointError, RunStopped) as exc:
        print(f"error: {_message(exc)}", file=sys.stderr)
        return 1
    if summary.error_reasons:
        reasons = "; ".join(f"{n} x {reason}" for reason, n in summary.error_reasons)
        print(f"most common errors: {reasons}", file=sys.stderr)
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
    columns = ["run_id", "model", "protocol", "judge_model", "n_checks", "n_verdicts", "n_errors", "smoke_test",
               "dataset_official", "started_at", "ended_at", "rejudged_from"]
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


def _add_fetch_rubrics(sub: argparse._SubParsersAction) -> None:
    from .authors_rubrics import add_parser

    add_parser(sub)


def _add_rejudge(sub: argparse._SubParsersAction) -> None:
    from .rejudge import add_parser

    add_parser(sub)


def _add_validity(sub: argparse._SubParsersAction) -> None:
    from .validity_cli import add_parsers

    add_parsers(sub)


def _add_study(sub: argparse._SubParsersAction) -> None:
    from .study_cli import add_parser  # a light module: argparse only at import

    add_parser(sub)


REGISTRARS += [_add_fetch_rubrics, _add_rejudge, _add_validity, _add_study]


EPILOG = ("The benchmark file, the results store (results.sqlite) and the request cache live in data/ of the "
          "checkout, or in $EUDAIMONIA_DATA_DIR. API keys are read from the environment variable you name "
          "(--api-key-env), never from the command line. 'eudaimonia-nb COMMAND --help' describes each "
          "command; README.md and docs/ the rest.")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="eudaimonia-nb", description=__doc__.splitlines()[0], epilog=EPILOG)
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details to stderr")
    sub = parser.add_subparsers(dest="command", required=True)
    for register in REGISTRARS:
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # Transport libraries (whatever their logger names) quote full request URLs, which may
    # carry credentials: every record is filtered at the handler, not by logger name.
    from .credentials import RedactingFilter

    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactingFilter())
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
