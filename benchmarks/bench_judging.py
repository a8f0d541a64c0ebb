"""Live-judging throughput, CPU cost and resume time against a fixed-latency local server.

Measures, for the full benchmark's 3,147 judge calls (responses pre-stored so only judge calls
are made), with the scripted OpenAI-compatible server of ``tests/fault_server.py`` running in
its own process on 127.0.0.1 with a fixed latency (default 200 ms):

* throughput as a share of the ideal (concurrency / latency) at concurrency 16 and 64;
* the runner's CPU time per call (this process only; the server is another process);
* the time to re-run the completed 3,147-check run from the store (nothing to send);
* baseline in the same run: the authors' approach, a pool of 15 threads making the same calls
  with the synchronous ``openai`` client.

Run: ``.venv/bin/python benchmarks/bench_judging.py [--latency 0.2] [--checks 3147]``
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
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


def prestore_responses(runner, store_path: str) -> None:
    from eudaimonia_nb.store.results import ResponseRecord, ResultsStore

    store = ResultsStore(store_path)
    store.begin_run(runner.record(), runner.checks)
    for pid in runner.prompts["prompt_id"]:
        store.put_response(runner.run_id, ResponseRecord(pid, RESPONSE, 0, 0, 0.0, "stop", 1, False, None))
    store.close()


def measure_runner(config, benchmark) -> dict[str, float]:
    import asyncio

    from eudaimonia_nb.judging.runner import Runner

    runner = Runner(config, benchmark=benchmark, prices={})
    prestore_responses(runner, runner.store_path)
    cpu, wall = time.process_time(), time.perf_counter()
    summary = asyncio.run(runner.run(progress=False))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    assert summary.checks_judged == len(runner.checks) and summary.errors == 0, summary
    rerun = time.perf_counter()
    again = asyncio.run(Runner(config, prices={}).run(progress=False))  # fresh process state: loads the file too
    rerun = time.perf_counter() - rerun
    assert again.checks_judged == 0
    return {"calls": summary.checks_judged, "wall_s": wall, "cpu_s": cpu, "rerun_s": rerun}


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.2, help="server latency per call, seconds")
    parser.add_argument("--checks", type=int, default=3147, help="judge calls (3147 = the whole benchmark)")
    parser.add_argument("--dataset", default=str(DATASET))
    args = parser.parse_args(argv)

    from eudaimonia_nb import load_benchmark
    from eudaimonia_nb.judging.config import RunConfig
    from eudaimonia_nb.judging.plan import select

    benchmark = load_benchmark(args.dataset)
    server, base_url = start_server(args.latency)
    rows = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            config = RunConfig(
                model="bench-model", base_url=base_url, judge_model="bench-judge", judge_base_url=base_url,
                api_key_env=None, judge_api_key_env=None, dataset_path=args.dataset, timeout_s=30,
                protocol="suite",  # the same judge calls as the thread-pool baseline (judge.judge_request)
            )
            if args.checks < 3147:
                prompts, _ = select(benchmark, config)
                ids = tuple(prompts["prompt_id"].iloc[: max(1, args.checks // 3)])
                config = replace(config, prompt_ids=ids)
            n_checks = len(select(benchmark, config)[1])
            base = measure_thread_pool(base_url, config, benchmark, n_checks)
            rows.append(("15 threads, sync openai (authors)", 15, base))
            for concurrency in (16, 64):
                cfg = replace(config, concurrency=concurrency, store_path=str(Path(tmp) / f"c{concurrency}.sqlite"))
                rows.append((f"eudaimonia-nb asyncio runner", concurrency, measure_runner(cfg, benchmark)))
    finally:
        server.terminate()
        server.wait()

    print(f"server latency {args.latency * 1000:.0f} ms; {n_checks} judge calls per row")
    print(f"{'approach':36} {'conc':>4} {'wall s':>7} {'calls/s':>8} {'ideal/s':>8} {'% ideal':>8} {'CPU ms/call':>12} {'re-run s':>9}")
    for name, concurrency, m in rows:
        rate = m["calls"] / m["wall_s"]
        ideal = concurrency / args.latency
        rerun = f"{m['rerun_s']:9.2f}" if "rerun_s" in m else f"{'-':>9}"
        print(f"{name:36} {concurrency:4d} {m['wall_s']:7.1f} {rate:8.1f} {ideal:8.1f} {100 * rate / ideal:7.1f}% "
              f"{1000 * m['cpu_s'] / m['calls']:12.2f} {rerun}")
    base_rate = rows[0][2]["calls"] / rows[0][2]["wall_s"]
    for _, concurrency, m in rows[1:]:
        print(f"speed-up over the 15-thread baseline at concurrency {concurrency}: {m['calls'] / m['wall_s'] / base_rate:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
