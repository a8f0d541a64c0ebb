"""The README's two set-up commands exist and CI runs the test one unchanged."""

from __future__ import annotations

import re
from pathlib import Path

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
