"""Live-judging throughput and client CPU per call against a fixed-latency local server.

The scripted OpenAI-compatible server of ``tests/fault_server.py`` runs in its own process on
127.0.0.1 (so it shares the machine's cores with the client, as a busy laptop does) with a fixed
latency. Responses are pre-stored, so only judge calls are made. Two scenarios:

* **64 in flight, 200 ms**: the whole benchmark's 3,147 judge calls at concurrency 64;
* **256 in flight, 1 s**: 10,000 judge calls at concurrency 256 (a synthetic benchmark file made
  of copies of the real prompts, so one run has 10,000 checks), with the client's resident memory
  sampled during the run (start, peak, end: flat means nothing grows per call).

Each scenario is measured twice in the same run: with the issue-20 hot path (calls posted
through the SDK's own httpx client, results committed in groups, pools of at most 32 connections,
grouped cache writes) and, as the baseline, with it switched off (every call through the SDK's
request layer, one commit per result and per cached answer, one pool), as the runner was before.
A second baseline, the authors' approach (15 threads with the synchronous ``openai`` client), is
measured for the first scenario. For each row: wall time, share of the ideal throughput
(concurrency / latency), and **client CPU per call** (this process only, ``time.process_time``;
the server is another process). The load average at start and end says how busy the machine was.

Run: ``.venv/bin/python benchmarks/bench_judging.py [--quick]`` (``--quick``: 1,000 and 3,000 calls).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATASET = REPO.parent / "shared" / "datasets" / "eudaimonia" / "final_dataset.jsonl"
RESPONSE = "Scripted response."


def start_server(latency: float) -> tuple[subprocess.Popen, str]:
    server = subprocess.Popen(
        [sys.executable, str(REPO / "tests" / "fault_server.py"), "--port", "0", "--latency", str(latency)],
        stdout=subprocess.PIPE, text=True,
    )
    line = server.stdout.readline()
    return server, f"http://127.0.0.1:{int(line.split()[1])}/v1"


def synthetic_dataset(source: Path, n_checks: int, target: Path) -> Path:
    """Copies of the real prompts (each text suffixed, so each copy is a new prompt) until the file
    holds at least ``n_checks`` checks."""
    lines = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]
    out, total, copy = [], 0, 0
    while total < n_checks:
        for record in lines:
            out.append({**record, "user_input": f"{record['user_input']} [copy {copy}]"})
            total += len(record["measure"])
            if total >= n_checks:
                break
        copy += 1
    target.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in out), encoding="utf-8")
    return target


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class RssSampler:
    """Resident memory of this process every ``every_s`` while a run goes."""

    def __init__(self, every_s: float = 0.5):
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(every_s,), daemon=True)

    def _run(self, every_s: float) -> None:
        while not self._stop.is_set():
            self.samples.append(rss_mb())
            self._stop.wait(every_s)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append(rss_mb())


@contextlib.contextmanager
def hot_path(enabled: bool):
    """The issue-20 hot path on, or switched off to measure the baseline in the same run."""
    from eudaimonia_nb.judging import client, recording

    saved = (client.OpenAIProvider._learn, client.POOL_SIZE, recording.ResultWriter.__init__, client.RequestCache.GROUP_ITEMS)
    if not enabled:
        def sdk_only(self):  # never leave the SDK's request layer
            self._captured = None
            self._template = False

        init = saved[2]
        client.OpenAIProvider._learn = sdk_only
        client.POOL_SIZE = 1_000_000
        recording.ResultWriter.__init__ = lambda self, store, **kw: init(self, store, max_items=1, max_delay_s=0.0)
        client.RequestCache.GROUP_ITEMS = 1
    try:
        yield
    finally:
        client.OpenAIProvider._learn, client.POOL_SIZE, recording.ResultWriter.__init__, client.RequestCache.GROUP_ITEMS = saved


def prestore_responses(runner, store_path: str) -> None:
    from eudaimonia_nb.store.results import ResponseRecord, ResultsStore

    store = ResultsStore(store_path)
    store.begin_run(runner.record(), runner.checks)
    with store.group():
        for pid in runner.prompts["prompt_id"]:
            store.put_response(runner.run_id, ResponseRecord(pid, RESPONSE, 0, 0, 0.0, "stop", 1, False, None))
    store.close()


def measure_runner(config, benchmark, *, enabled: bool, rerun: bool = False) -> dict[str, float]:
    import asyncio

    from eudaimonia_nb.judging.runner import Runner

    with hot_path(enabled):
        runner = Runner(config, benchmark=benchmark, prices={})
        prestore_responses(runner, runner.store_path)
        with RssSampler() as rss:
            cpu, wall = time.process_time(), time.perf_counter()
            summary = asyncio.run(runner.run(progress=False))
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    assert summary.checks_judged == len(runner.checks) and summary.errors == 0, summary
    row = {"calls": summary.checks_judged, "wall_s": wall, "cpu_s": cpu, "rss": rss.samples}
    if rerun:
        started = time.perf_counter()
        again = asyncio.run(Runner(config, benchmark=benchmark, prices={}).run(progress=False))
        row["rerun_s"] = time.perf_counter() - started
        assert again.checks_judged == 0
    return row


def measure_thread_pool(base_url: str, config, benchmark, n_checks: int, workers: int = 15) -> dict[str, float]:
    import openai

    from eudaimonia_nb.judging.judge import judge_request, parse_verdict

    texts = dict(zip(benchmark.prompts["prompt_id"], benchmark.prompts["text"]))
    checks = benchmark.checks.head(n_checks)
    client = openai.OpenAI(api_key="sk-no-key-required", base_url=base_url, max_retries=0)

    def one(pid: str, req: str) -> bool:
        request = judge_request(req, texts[pid], RESPONSE, model=config.judge_model)
        reply = client.chat.completions.create(**request.payload(), timeout=config.timeout_s)
        return parse_verdict(reply.choices[0].message.content).violation

    cpu, wall = time.process_time(), time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(one, checks["prompt_id"], checks["requirement"]))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    client.close()
    return {"calls": len(results), "wall_s": wall, "cpu_s": cpu}


def subset(config, benchmark, n_checks: int):
    """``config`` narrowed to the first prompts holding about ``n_checks`` checks."""
    from eudaimonia_nb.judging.plan import select

    prompts, checks = select(benchmark, config)
    if len(checks) <= n_checks:
        return config
    counts = checks.groupby("prompt_id", sort=False).size().reindex(prompts["prompt_id"]).cumsum()
    ids = tuple(counts[counts <= n_checks].index) or tuple(prompts["prompt_id"].iloc[:1])
    return replace(config, prompt_ids=ids)


def print_rows(title: str, latency: float, rows: list) -> None:
    print(f"\n{title}: server latency {latency * 1000:.0f} ms, server in its own process on this machine")
    print(f"{'approach':44} {'conc':>4} {'calls':>6} {'wall s':>7} {'% ideal':>8} {'CPU ms/call':>12} {'RSS MB start/peak/end':>22} {'re-run s':>9}")
    for name, concurrency, m in rows:
        ideal_s = m["calls"] / (concurrency / latency)
        rss = m.get("rss")
        rss_text = f"{rss[0]:.0f}/{max(rss):.0f}/{rss[-1]:.0f}" if rss else "-"
        rerun = f"{m['rerun_s']:9.2f}" if "rerun_s" in m else f"{'-':>9}"
        print(f"{name:44} {concurrency:4d} {m['calls']:6d} {m['wall_s']:7.1f} {100 * ideal_s / m['wall_s']:7.1f}% "
              f"{1000 * m['cpu_s'] / m['calls']:12.2f} {rss_text:>22} {rerun}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default=str(DATASET))
    parser.add_argument("--quick", action="store_true", help="1,000 and 3,000 calls instead of 3,147 and 10,000")
    parser.add_argument("--no-threads", action="store_true", help="skip the 15-thread baseline")
    args = parser.parse_args(argv)

    from eudaimonia_nb import load_benchmark
    from eudaimonia_nb.judging.config import RunConfig

    load_start = os.getloadavg()
    print(f"load average at start (1/5/15 min): {load_start[0]:.2f} {load_start[1]:.2f} {load_start[2]:.2f} on "
          f"{os.cpu_count()} cores")
    real = load_benchmark(args.dataset)
    n_small, n_large = (1000, 3000) if args.quick else (3147, 10_000)
    with tempfile.TemporaryDirectory() as tmp:
        def config_for(base_url: str, concurrency: int, name: str, dataset: str, timeout: float):
            return RunConfig(model="bench-model", base_url=base_url, judge_model="bench-judge", judge_base_url=base_url,
                             api_key_env=None, judge_api_key_env=None, dataset_path=dataset, timeout_s=timeout,
                             protocol="suite", concurrency=concurrency, store_path=str(Path(tmp) / f"{name}.sqlite"))

        server, base_url = start_server(0.2)
        try:
            rows = []
            base = subset(config_for(base_url, 64, "x", args.dataset, 30), real, n_small)
            if not args.no_threads:
                n = len(__import__("eudaimonia_nb.judging.plan", fromlist=["select"]).select(real, base)[1])
                rows.append(("15 threads, sync openai (the authors')", 15, measure_thread_pool(base_url, base, real, n)))
            for enabled, label in ((False, "runner, hot path off (before issue 20)"), (True, "runner (issue 20)")):
                cfg = replace(base, store_path=str(Path(tmp) / f"small-{enabled}.sqlite"))
                rows.append((label, 64, measure_runner(cfg, real, enabled=enabled, rerun=enabled)))
        finally:
            server.terminate()
            server.wait()
        print_rows(f"{rows[-1][2]['calls']} judge calls at concurrency 64", 0.2, rows)
        small = rows

        big_file = synthetic_dataset(Path(args.dataset), n_large, Path(tmp) / "synthetic.jsonl")
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            big = load_benchmark(big_file)
        server, base_url = start_server(1.0)
        try:
            rows = []
            for enabled, label in ((False, "runner, hot path off (before issue 20)"), (True, "runner (issue 20)")):
                cfg = subset(config_for(base_url, 256, f"big-{enabled}", str(big_file), 60), big, n_large)
                rows.append((label, 256, measure_runner(cfg, big, enabled=enabled)))
        finally:
            server.terminate()
            server.wait()
        print_rows(f"{rows[-1][2]['calls']} judge calls at concurrency 256 (synthetic file of copies)", 1.0, rows)

    for title, group in (("concurrency 64, 200 ms", small), ("concurrency 256, 1 s", rows)):
        off, on = group[-2][2], group[-1][2]
        print(f"{title}: CPU per call {1000 * off['cpu_s'] / off['calls']:.2f} -> {1000 * on['cpu_s'] / on['calls']:.2f} ms "
              f"({off['cpu_s'] / off['calls'] / (on['cpu_s'] / on['calls']):.2f}x less); wall {off['wall_s']:.1f} -> "
              f"{on['wall_s']:.1f} s")
    if not args.no_threads:
        base_rate = small[0][2]["calls"] / small[0][2]["wall_s"]
        print(f"speed-up over the 15-thread baseline at concurrency 64: {small[-1][2]['calls'] / small[-1][2]['wall_s'] / base_rate:.2f}x")
    load_end = os.getloadavg()
    print(f"load average at end (1/5/15 min): {load_end[0]:.2f} {load_end[1]:.2f} {load_end[2]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
