"""The README's two set-up commands exist and CI runs the test one unchanged; its Python snippets
run as written on a fresh offline clone, or say what they need first."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _setup_commands() -> list[str]:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Two commands", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    return [line.split("#", 1)[0].strip() for line in block.splitlines() if line.strip()]


def test_two_commands_dashboard_and_tests():
    assert _setup_commands() == ["make dashboard", "make test"]


def test_ci_runs_the_readme_test_command():
    ci = [line.strip() for line in (REPO / ".ci" / "run").read_text().splitlines()]
    assert _setup_commands()[1] in ci


def test_make_targets_exist():
    makefile = (REPO / "Makefile").read_text()
    for command in _setup_commands():
        target = command.split()[1]
        assert re.search(rf"^{target}:", makefile, re.M), target


def _python_snippets() -> list[str]:
    return re.findall(r"```python\n(.*?)```", (REPO / "README.md").read_text(), re.S)


def _need(snippet: str) -> str | None:
    """The first-line ``# Needs ...`` comment by which a snippet says what it needs first."""
    first = snippet.splitlines()[0]
    return first if first.startswith("# Needs") else None


def _alternatives(snippet: str) -> list[str]:
    """The snippet with each commented-out ``# frame = ...`` alternative switched on."""
    lines = snippet.splitlines()
    return ["\n".join([*lines[:i], line.removeprefix("# "), *lines[i + 1:]])
            for i, line in enumerate(lines) if line.startswith("# frame = ")]


def _run_snippet(code: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_every_readme_python_snippet_runs_on_a_fresh_clone_or_says_what_it_needs_first(tmp_path, dataset_path):
    from judged_store import make_judged_store

    # A fresh offline clone: no benchmark file, no results store (the data folder is empty).
    data, work = tmp_path / "data", tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("EUDAIMONIA_DATASET", "EUDAIMONIA_WORKDIR")}
    env.update(EUDAIMONIA_DATA_DIR=str(data), PYTHONPATH=os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]))
    snippets = _python_snippets()
    assert len(snippets) >= 3 and sum(_need(s) is not None for s in snippets) >= 2
    for snippet in snippets:
        done = _run_snippet(snippet, work, env)
        need = _need(snippet)
        if need is None:
            assert done.returncode == 0, f"{snippet}\n{done.stderr}"
            continue
        # What it needs is missing: the error names it in one line, as the comment said.
        assert done.returncode != 0, snippet
        last = done.stderr.strip().splitlines()[-1]
        if "benchmark file" in need and "store" not in need:
            assert "benchmark file was not found" in last and "eudaimonia-nb fetch" in last and "fetch" in need
        else:
            assert f"no results store at {data / 'results.sqlite'}" in last and "eudaimonia-nb run" in need

    # Do what the comments say: fetch the benchmark from a copy (the README's offline way), make a run.
    fetched = subprocess.run([sys.executable, "-m", "eudaimonia_nb", "fetch", "--url", dataset_path.resolve().as_uri()],
                             cwd=work, env=env, capture_output=True, text=True)
    assert fetched.returncode == 0, fetched.stderr
    judged = make_judged_store(data / "results.sqlite", data / "final_dataset.jsonl")
    exported = subprocess.run([sys.executable, "-m", "eudaimonia_nb", "export", judged.run_ids[0], "--format", "csv",
                               "--out", "shared.csv", "--store", str(judged.path)], cwd=work, env=env, capture_output=True,
                              text=True)
    assert exported.returncode == 0, exported.stderr
    variants = [v for s in snippets for v in (s, *_alternatives(s))]
    assert len(variants) >= len(snippets) + 2  # the store and the shared-file alternatives
    for code in variants:
        done = _run_snippet(code, work, env)
        assert done.returncode == 0, f"{code}\n{done.stderr}"
