"""How a run's calls are executed: live (``runner``) or through a provider's batch API
(``batch.executor``), per phase, under an optional cost cap. One entry point for ``run``,
``rejudge`` and anything else that executes a ``RunConfig`` (the notebooks, ``reproduce``)."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable

from ..benchmark.dataset import Benchmark
from .batch.executor import BatchOutcome, BatchProgress, BatchRun, Modes
from .config import RunConfig
from .cost_cap import CostCapReached
from .runner import Runner, inside_event_loop


async def execute_async(config: RunConfig, modes: Modes = Modes(), *, retry_failed: bool = False, progress: bool = True,
                        max_cost_usd: float | None = None, poll_interval_s: float = 30.0, wait: bool = True,
                        report: Callable[[BatchProgress], None] | None = None,
                        benchmark: Benchmark | None = None) -> BatchOutcome:
    """Run (or resume) ``config`` in ``modes``. A rejudge (``config.rejudged_from``) is recorded and
    given its source's responses first. A live run stopped at the cost cap returns with
    ``stopped`` set and its summary as far as it got (what finished is stored). Epochs and judge
    repeats are carried by both: in a batch, every sample is a line of its own."""
    if config.rejudged_from:
        from .rejudge import prepare_rejudge

        benchmark = await asyncio.to_thread(prepare_rejudge, config)
    if modes.batched:
        return await BatchRun(config, modes, benchmark=benchmark, poll_interval_s=poll_interval_s, wait=wait,
                              max_cost_usd=max_cost_usd, retry_failed=retry_failed, report=report).run()
    runner = Runner(config, benchmark=benchmark, max_cost_usd=max_cost_usd)
    try:
        return BatchOutcome(await runner.run(retry_failed=retry_failed, progress=progress))
    except CostCapReached as stop:
        from .recording import RunSummary

        return BatchOutcome(RunSummary(runner.run_id, len(runner.prompts), len(runner.checks), cost_usd=None,
                                       smoke_test=config.is_smoke_test), stopped=str(stop))


def execute(config: RunConfig, modes: Modes = Modes(), **options: object) -> BatchOutcome:
    """Blocking ``execute_async``; inside a running event loop (Jupyter) it runs on a worker thread."""
    if not inside_event_loop():
        return asyncio.run(execute_async(config, modes, **options))  # type: ignore[arg-type]
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, execute_async(config, modes, **options)).result()  # type: ignore[arg-type]
