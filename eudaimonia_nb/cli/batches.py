"""``eudaimonia-nb batches``: the provider batches in a results store's ledger, and
``batches cancel RUN_ID`` to cancel a run's open ones."""

from __future__ import annotations

import argparse
import json
import sys

from .common import message


def add_batches(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("batches", help="list the provider batches of batched runs (status, counts), or cancel a run's")
    p.add_argument("--store", default=None, help="results store (default data/results.sqlite)")
    p.add_argument("--json", action="store_true", help="one JSON object per batch (keys: see docs/batch.md)")
    actions = p.add_subparsers(dest="action")
    cancel = actions.add_parser("cancel", help="cancel a run's open batches at the provider")
    cancel.add_argument("run_id", help="the run (see `eudaimonia-nb batches`)")
    cancel.add_argument("--store", default=None, dest="cancel_store", help="results store (default data/results.sqlite)")
    cancel.add_argument("--api-key-env", default=None,
                        help="variable holding the provider's key (default: the one the run was started with)")
    p.set_defaults(handler=_run_batches)


def _run_batches(args: argparse.Namespace) -> int:
    import sqlite3

    store = getattr(args, "cancel_store", None) or args.store
    try:
        if args.action == "cancel":
            return _cancel(store, args.run_id, args.api_key_env)
        from ..store.batch_ledger import list_batches

        frame = list_batches(store)
    except (OSError, sqlite3.Error, KeyError, ValueError) as exc:
        print(f"error: {message(exc)}", file=sys.stderr)
        return 1
    if args.json:
        for row in frame.to_dict("records"):
            print(json.dumps({k: (None if v is None or v != v else v.isoformat() if hasattr(v, "isoformat") else v)
                              for k, v in row.items()}, default=str))
        return 0
    columns = ["run_id", "phase", "provider", "batch_id", "status", "n_requests", "succeeded", "failed", "pending",
               "estimated_cost_usd", "submitted_at"]
    print(frame[columns].to_string(index=False) if not frame.empty else "no batches")
    return 0


def _cancel(store_path: str | None, run_id: str, key_env: str | None) -> int:
    import asyncio

    from ..judging.batch.dialects import open_dialect
    from ..judging.batch.protocol import BatchAPIError
    from ..judging.keys import key_env_for
    from ..store.batch_ledger import BatchLedger
    from ..store.results import ResultsStore, list_runs

    runs = list_runs(store_path)
    row = runs[runs["run_id"] == run_id]
    if row.empty:
        raise KeyError(f"no run {run_id} in the store")
    params = json.loads(row["parameters"].iloc[0])
    store = ResultsStore(store_path)
    try:
        jobs = [j for j in BatchLedger(store).jobs(run_id) if j.open and j.batch_id]
    finally:
        store.close()
    if not jobs:
        print(f"run {run_id} has no open batches")
        return 0

    def env_for(phase: str) -> str | None:
        if key_env:
            return key_env
        model_env = params.get("api_key_env")
        if phase == "respond":
            return model_env
        judge_env = params.get("judge_api_key_env")
        if judge_env and not judge_env.startswith("<"):
            return judge_env
        return key_env_for(params.get("judge_base_url") or "", model_env, given_for=params.get("base_url") or "")

    async def cancel_all() -> int:
        failures = 0
        for job in jobs:
            dialect = open_dialect(job.provider, job.base_url, env_for(job.phase))
            try:
                remote = await dialect.cancel(job.batch_id)
                print(f"{job.batch_id} ({job.phase}, {job.n_requests} requests): {remote.status}")
            except BatchAPIError as exc:
                print(f"error: {job.batch_id}: {exc.reason}", file=sys.stderr)
                failures += 1
            finally:
                await dialect.aclose()
        return failures

    failures = asyncio.run(cancel_all())
    print(f"cancelled {len(jobs) - failures} of {len(jobs)} open batches of run {run_id}; lines that did not run are "
          f"sent again when the run is resumed (with or without --batch)")
    return 1 if failures else 0
