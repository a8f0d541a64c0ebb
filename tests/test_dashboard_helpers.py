"""Shared helpers (no tests here) for the dashboard and report tests: a small real results store, a Voila server on
loopback, and Debian's Chromium driven by Playwright (never a downloaded browser)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = REPO / ".venv" / "bin"
CHROMIUM = os.environ.get("EUDAIMONIA_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
"""Debian's Chromium (installed by `make browser`); Playwright never downloads a browser here."""
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
STORE_MODELS = ("test-model-a", "test-model-b")


def make_store(path: Path, benchmark, *, seed: int = 0) -> list[str]:
    """A results store with two finished runs over the real benchmark design (verdicts drawn
    with a seeded RNG, written through the store's own writer) and one judge error."""
    from eudaimonia_nb.benchmark.design_code import rubric_versions
    from eudaimonia_nb.store.results import ResultsStore, RunRecord, VerdictRecord

    rng = np.random.default_rng(seed)
    store = ResultsStore(path)
    versions = rubric_versions()
    run_ids = []
    try:
        for i, model in enumerate(STORE_MODELS):
            run_id = f"run-{model}"
            record = RunRecord(run_id, model, "http://127.0.0.1:1/v1", "test-judge", "http://127.0.0.1:1/v1",
                               json.dumps({"temperature": 0.7}), json.dumps(versions), benchmark.sha256,
                               "0.1.0", False)
            checks = benchmark.checks
            store.begin_run(record, checks)
            p = np.where(checks["source"].to_numpy() == "modified", 0.45 + 0.1 * i, 0.35 + 0.1 * i)
            draws = rng.random(len(checks)) < p
            for n, (row, violated) in enumerate(zip(checks.itertuples(index=False), draws)):
                error = "judge answer was not JSON" if n == 0 else None
                store.put_verdict(run_id, VerdictRecord(
                    row.prompt_id, row.requirement, None if error else bool(violated), "r", "{}",
                    10, 5, 0.01, 1, False, error, versions[row.requirement]))
            store.end_run(run_id)
            run_ids.append(run_id)
    finally:
        store.close()
    return run_ids


def stop_group(proc: subprocess.Popen, timeout: float = 20) -> None:
    """Stop a server started in its own process group: SIGTERM, then SIGKILL after ``timeout``."""
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def voila_server(source: str, *, notebook: str | Path = "notebooks/03_analysis.ipynb",
                 extra_args: tuple[str, ...] = (), extra_env: dict[str, str] | None = None,
                 timeout: float = 90.0):
    """Serve a notebook (default: the dashboard) with Voila on 127.0.0.1; yields the page URL.
    ``extra_env`` is added to Voila's (and so its kernels') environment."""
    port = free_port()
    env = dict(os.environ, **(extra_env or {}), EUDAIMONIA_DASHBOARD_SOURCE=source)
    (REPO / "test-artifacts").mkdir(exist_ok=True)
    log = open(REPO / "test-artifacts" / f"voila-{port}.log", "w")
    proc = subprocess.Popen(
        [str(VENV_BIN / "voila"), str(notebook), "--no-browser", f"--port={port}",
         "--Voila.ip=127.0.0.1", *extra_args],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                # A static file: answers as soon as the server is up, without starting a kernel.
                with urllib.request.urlopen(f"{url}voila/static/voila.js", timeout=5) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"Voila did not start on port {port}; see {log.name}")
            time.sleep(0.3)
        yield url
    finally:
        stop_group(proc)
        log.close()


@contextmanager
def chromium():
    """Debian's headless Chromium through Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def open_filters(page) -> None:
    """Unfold the dashboard's filters (one line on the first screen) if they are folded."""
    select = page.locator(".widget-select-multiple:has(label:text-is('Models')) select").first
    if not select.is_visible():
        page.locator(".eud-filters .jupyter-widget-Collapse-header").first.click()
        select.wait_for(state="visible", timeout=10_000)
