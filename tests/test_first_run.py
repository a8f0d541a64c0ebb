"""A newcomer's first commands, through ``make`` as the README gives them: the dashboard on one's
own results store named by a relative path, the dashboard refusing a taken port, JupyterLab as
root (containers, Binder), and the command-line tool's help.

``make`` is run with the install stamp assumed current (``-o``) and ``BIN`` set to this
interpreter's folder, so the targets run as on an installed checkout and never reinstall.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest
from test_dashboard_helpers import free_port, stop_group

REPO = Path(__file__).resolve().parent.parent


def _make(*args: str) -> list[str]:
    return ["make", "--no-print-directory", "-C", str(REPO), "-o", ".venv/.installed-base", f"BIN={Path(sys.executable).parent}",
            *args]


def _offline_env(tmp_path: Path, dataset_path: Path) -> dict[str, str]:
    """A data folder that already holds the verified benchmark: ``make dashboard``'s fetch step
    then makes no request."""
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    (data / "final_dataset.jsonl").symlink_to(dataset_path.resolve())
    env = {k: v for k, v in os.environ.items() if k not in ("EUDAIMONIA_DATASET", "EUDAIMONIA_WORKDIR")}
    env["EUDAIMONIA_DATA_DIR"] = str(data)
    return env


@contextmanager
def _serving(command: list[str], env: dict[str, str], port: int, log: Path, timeout: float = 180.0,
             cwd: Path | None = None):
    """Start a server in its own process group; yield once ``port`` listens; stop the group."""
    with log.open("w") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                   cwd=cwd)
    try:
        deadline = time.monotonic() + timeout
        while True:
            assert process.poll() is None, f"exited with {process.returncode}:\n{log.read_text()}"
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert time.monotonic() < deadline, f"nothing listens on {port} after {timeout:g} s:\n{log.read_text()}"
            time.sleep(0.5)
        yield process
    finally:
        stop_group(process, timeout=30)


def _probe_notebook(path: Path, relative_field: str) -> None:
    """Notebook 03's own cell, then prints of what it loaded and of the Path field's resolution."""
    cells = [
        "from eudaimonia_nb.widgets.dashboard import Dashboard\ndashboard = Dashboard.from_environment()",
        "print('SOURCE', dashboard.source.path, 'MODELS', ','.join(sorted(dashboard.frame['model'].astype(str).unique())))",
        f"dashboard.path.value = {relative_field!r}\nprint('FIELD', dashboard.current_source().path)\n"
        "dashboard.path.value = ''\nprint('EMPTY', dashboard.current_source().path)",
    ]
    notebook = {"cells": [{"cell_type": "code", "execution_count": None, "id": f"c{i}", "metadata": {}, "outputs": [],
                           "source": src} for i, src in enumerate(cells)],
                "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
                "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(notebook))


@pytest.mark.slow
def test_make_dashboard_opens_a_store_named_relative_to_where_make_runs(tmp_path, dataset_path):
    from judged_store import MODELS, make_judged_store

    env = _offline_env(tmp_path, dataset_path)
    store = make_judged_store(tmp_path / "mine" / "results.sqlite", dataset_path)
    # The kernel runs in the notebook's folder (here tmp_path/probe), so a path resolved from
    # there would miss: it must start where make runs (the checkout).
    relative = os.path.relpath(store.path, REPO)
    probe = tmp_path / "probe" / "probe.ipynb"
    probe.parent.mkdir()
    _probe_notebook(probe, relative)
    port = free_port()
    env["EUDAIMONIA_DASHBOARD_SOURCE"] = f"store:{relative}"
    with _serving(_make("dashboard", f"PORT={port}", f"NOTEBOOK={probe}"), env, port, tmp_path / "make.log"):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=300) as reply:
            page = reply.read().decode()
    log = (tmp_path / "make.log").read_text()
    assert f"Serving the EUDAIMONIA dashboard at http://localhost:{port}/" in log
    expected = REPO / relative
    loaded = re.search(r"SOURCE (\S+) MODELS (.*)", page)
    assert loaded is not None, page[-3000:]
    assert loaded.group(1) == str(expected) and all(m in loaded.group(2) for m in MODELS)
    assert f"FIELD {expected}" in page  # the Path field resolves from the same place
    assert f"EMPTY {tmp_path / 'data' / 'results.sqlite'}" in page  # empty: the default store


def test_make_dashboard_says_the_port_is_taken_instead_of_announcing_it(tmp_path, dataset_path):
    env = _offline_env(tmp_path, dataset_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(_make("dashboard", f"PORT={port}"), env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    assert f"port {port} is taken" in done.stderr and "make dashboard PORT=" in done.stderr
    assert "Serving" not in done.stdout and "voila" not in done.stdout


def test_make_lab_starts_jupyterlab_also_as_root(tmp_path):
    port = free_port()
    # JUPYTER_PORT is jupyter-server's own default-port variable; BROWSER=true opens nothing.
    env = {**os.environ, "JUPYTER_PORT": str(port), "BROWSER": "true"}
    with _serving(_make("lab"), env, port, tmp_path / "lab.log", timeout=120):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api", timeout=30) as reply:
            version = json.loads(reply.read())["version"]
    log = (tmp_path / "lab.log").read_text()
    assert version and "Running as root is not recommended" not in log
    if os.geteuid() == 0:  # this machine, Binder and containers
        assert "--allow-root" in log.splitlines()[0]


def test_make_cli_help_describes_the_tool_and_every_command():
    done = subprocess.run(_make("cli", "ARGS=--help"), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert "usage: eudaimonia-nb" in text and "console script" not in text
    assert "EUDAIMONIA" in text and "OpenAI-compatible" in text and "EUDAIMONIA_DATA_DIR" in text
    for command in ("fetch", "run", "runs", "export", "report", "rejudge", "serve-local", "labels", "validity", "study",
                    "noise"):
        assert f"\n    {command} " in text, command


@pytest.mark.slow
def test_plain_voila_renders_the_dashboard_offline_with_the_installed_template(tmp_path, dataset_path):
    """``voila notebooks/03_analysis.ipynb``, as Voila's docs and Binder users type it: no
    ``--template``, no ``JUPYTER_PATH``. The install (make's, or a regular ``pip install .``) puts
    the offline template and the setting that makes it the default into the environment, so the
    page is styled by it and not one request leaves the machine (the stock template fetched Font
    Awesome from a CDN and rendered unstyled offline)."""
    from test_dashboard_helpers import VENV_BIN, chromium
    from test_notebooks_browser import LOAD_MS, Watched

    prefix = VENV_BIN.parent
    installed = prefix / "share" / "jupyter" / "voila" / "templates" / "eudaimonia"
    assert (installed / "index.html.j2").is_file(), "the install step puts the template into the environment"
    assert json.loads((prefix / "etc" / "jupyter" / "voila.json").read_text())["VoilaConfiguration"] == {
        "template": "eudaimonia"}
    env = {k: v for k, v in _offline_env(tmp_path, dataset_path).items()
           if k not in ("JUPYTER_PATH", "JUPYTER_CONFIG_PATH")}
    env.update(EUDAIMONIA_DASHBOARD_SOURCE="demo", JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"))
    port = free_port()
    command = [str(VENV_BIN / "voila"), "notebooks/03_analysis.ipynb", "--no-browser", f"--port={port}",
               "--Voila.ip=127.0.0.1"]
    with _serving(command, env, port, tmp_path / "voila.log", cwd=REPO), chromium() as browser:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/voila/static/voila.js", timeout=60):
            pass
        watched = Watched(browser, f"http://127.0.0.1:{port}/", (1440, 900))
        try:
            watched.page.wait_for_selector(".js-plotly-plot .trace", timeout=LOAD_MS)
            html = watched.page.content()
            assert "typeof value.setData" in html, "the page comes from the eudaimonia template"
            # Styled: JupyterLab's theme variables (from voila.js's bundled CSS) are defined.
            assert watched.page.evaluate(
                "getComputedStyle(document.body).getPropertyValue('--jp-layout-color1').trim()") != ""
            # What this test is about: nothing fetched from beyond the machine, and a whole page.
            # (Console errors of the dashboard's widgets are test_notebooks_browser's concern.)
            assert watched.off_machine == [], f"requests left the machine: {watched.off_machine}"
            assert "Traceback" not in watched.page.inner_text("body")
        finally:
            watched.page.close()
