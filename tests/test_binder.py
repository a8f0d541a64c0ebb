"""binder/ is complete for repo2docker and fetches the dataset at build time."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def test_postbuild_installs_package_and_fetches_dataset():
    post = REPO / "binder" / "postBuild"
    assert os.access(post, os.X_OK), "repo2docker only runs an executable postBuild"
    lines = [line.strip() for line in post.read_text().splitlines() if line.strip() and not line.startswith("#")]
    assert lines[0].startswith("#!") or lines[0] == "set -euo pipefail"
    assert any("pip install --no-deps -e ." in line for line in lines)
    # The benchmark first, then the demo's fits on it (the demo runs on the real design when the file is there).
    assert lines[-2:] == ["eudaimonia-nb fetch", "python -m eudaimonia_nb.report.warm"]


def test_readme_launch_links_point_at_existing_notebooks():
    readme = (REPO / "README.md").read_text()
    import re

    targets = re.findall(r"urlpath=(?:voila/render|lab/tree)/([\w./-]+\.ipynb)", readme)
    assert targets, "the README has Binder launch links"
    for target in targets:
        assert (REPO / target).is_file(), target


def test_postbuild_gives_the_voila_server_extension_the_offline_template():
    lines = (REPO / "binder" / "postBuild").read_text().splitlines()
    assert 'binder/install-voila-template "$(python -c \'import sys; print(sys.prefix)\')"' in lines
    script = REPO / "binder" / "install-voila-template"
    assert os.access(script, os.X_OK) and "set -euo pipefail" in script.read_text()


def _head_of_rendered_dashboard(prefix: Path | None, tmp_path: Path, query: str = "") -> str:
    """Start ``jupyter server`` on loopback as Binder does (Voila as a server extension), with
    ``prefix`` standing in for the Binder environment's sys.prefix, and read the page Binder's
    ``urlpath=voila/render/notebooks/03_analysis.ipynb`` opens, up to the end of its <head>."""
    from test_dashboard_helpers import VENV_BIN, free_port, stop_group

    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("JUPYTER_PATH", "JUPYTER_CONFIG_PATH")}
    env.update(EUDAIMONIA_DASHBOARD_SOURCE="demo", JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"))
    if prefix is not None:
        env.update(JUPYTER_CONFIG_PATH=str(prefix / "etc" / "jupyter"), JUPYTER_PATH=str(prefix / "share" / "jupyter"))
    root = ["--allow-root"] if os.geteuid() == 0 else []
    tmp_path.mkdir(parents=True, exist_ok=True)
    log = open(tmp_path / "server.log", "w")
    proc = subprocess.Popen(
        [str(VENV_BIN / "jupyter"), "server", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
         "--ServerApp.port_retries=0", "--IdentityProvider.token=", f"--ServerApp.root_dir={REPO}", *root],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status", timeout=5):
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"jupyter server did not start; see {log.name}") from None
                time.sleep(0.3)
        # Voila streams the page: the head (template, stylesheets) comes before any cell runs.
        page = b""
        with urllib.request.urlopen(f"{base}/voila/render/notebooks/03_analysis.ipynb{query}", timeout=120) as response:
            assert response.status == 200
            while b"</head>" not in page:
                chunk = response.read1(65536)
                if not chunk:
                    break
                page += chunk
        return page.decode("utf-8", "replace").split("</head>")[0]
    finally:
        stop_group(proc)
        log.close()


def _env_python() -> dict[str, str]:
    """The environment with the project's Python first on PATH, as ``python`` is in Binder's image."""
    from test_dashboard_helpers import VENV_BIN

    return {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}


def _remote_references(head: str) -> list[str]:
    return re.findall(r"""<(?:link|script)[^>]+(?:href|src)=["'](https?://[^"']+)""", head)


@pytest.mark.slow
def test_binder_dashboard_uses_the_offline_template(tmp_path):
    # Voila's stock template links Font Awesome from a CDN: the check can fail.
    stock = _head_of_rendered_dashboard(None, tmp_path / "stock", query="?template=lab")
    assert any("cdn.jsdelivr.net" in url for url in _remote_references(stock))
    # The server extension of this environment (what JupyterLab's Voila preview uses) already has the
    # offline template as its default: make's install step put it there (see test_first_run).
    preview = _head_of_rendered_dashboard(None, tmp_path / "preview")
    assert _remote_references(preview) == [] and "typeof value.setData" in preview

    # What postBuild does, into a fresh prefix in place of the Binder environment's.
    # The environment may already hold server settings: they are kept.
    prefix = tmp_path / "prefix"
    config_file = prefix / "etc" / "jupyter" / "jupyter_server_config.json"
    config_file.parent.mkdir(parents=True)
    config_file.write_text(json.dumps({"ServerApp": {"shutdown_no_activity_timeout": 3600}}))
    (prefix / "etc" / "jupyter" / "voila.json").write_text(json.dumps({"VoilaConfiguration": {"theme": "dark"}}))
    subprocess.run([str(REPO / "binder" / "install-voila-template"), str(prefix)], check=True, env=_env_python())
    linked = prefix / "share" / "jupyter" / "voila" / "templates" / "eudaimonia"
    assert linked.resolve() == (REPO / "share" / "jupyter" / "voila" / "templates" / "eudaimonia").resolve()
    # Server settings already there are kept; the default template goes into voila.json, which both
    # the voila command and the server extension read.
    assert json.loads(config_file.read_text()) == {"ServerApp": {"shutdown_no_activity_timeout": 3600}}
    voila_file = prefix / "etc" / "jupyter" / "voila.json"
    assert json.loads(voila_file.read_text()) == {"VoilaConfiguration": {"theme": "dark", "template": "eudaimonia"}}

    head = _head_of_rendered_dashboard(prefix, tmp_path / "binder")
    assert _remote_references(head) == []
    assert "cdn.jsdelivr.net" not in head and "cdnjs" not in head
    assert "typeof value.setData" in head, "the page comes from the eudaimonia template"
    # Running the step again (a rebuild) is harmless.
    subprocess.run([str(REPO / "binder" / "install-voila-template"), str(prefix)], check=True, env=_env_python())
    assert json.loads(voila_file.read_text()) == {"VoilaConfiguration": {"theme": "dark", "template": "eudaimonia"}}
    assert linked.resolve() == (REPO / "share" / "jupyter" / "voila" / "templates" / "eudaimonia").resolve()


def test_a_regular_install_carries_the_template_and_its_default_setting():
    """``pip install .`` (not editable) copies the data files of pyproject.toml into the
    environment: every file of the template, and etc/jupyter/voila.json naming it the default."""
    import tomllib

    data_files = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["data-files"]
    template = REPO / "share" / "jupyter" / "voila" / "templates" / "eudaimonia"
    assert sorted(data_files["share/jupyter/voila/templates/eudaimonia"]) == sorted(
        str(p.relative_to(REPO)) for p in template.iterdir() if p.is_file())
    assert data_files["etc/jupyter"] == ["etc/jupyter/voila.json"]
    assert json.loads((REPO / "etc" / "jupyter" / "voila.json").read_text()) == {
        "VoilaConfiguration": {"template": "eudaimonia"}}
    # make's install step (an editable install copies no data files) does the same by links.
    makefile = (REPO / "Makefile").read_text()
    assert 'binder/install-voila-template "$(abspath $(VENV))"' in makefile
