"""pyproject.toml and environment.yml (and binder's copy) declare the same dependencies."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
_SPEC = re.compile(r"^\s*([A-Za-z0-9_.\-]+)(\[[^\]]*\])?\s*(.*?)\s*$")


def _normalise(requirement: str) -> tuple[str, str]:
    match = _SPEC.match(requirement)
    assert match, requirement
    name = re.sub(r"[-_.]+", "-", match.group(1)).lower()
    spec = ",".join(sorted(part.strip() for part in match.group(3).split(",") if part.strip()))
    return name, spec


def _pyproject() -> dict[str, str]:
    data = tomllib.loads((REPO / "pyproject.toml").read_text())
    return dict(_normalise(r) for r in data["project"]["dependencies"])


def _environment(path: Path) -> dict[str, str]:
    deps: dict[str, str] = {}
    in_deps = False
    for line in path.read_text().splitlines():
        if line.startswith("dependencies:"):
            in_deps = True
            continue
        if in_deps and re.match(r"^\S", line):
            break
        item = re.match(r"^\s+-\s+(\S.*)$", line)
        if in_deps and item and not item.group(1).endswith(":"):
            name, spec = _normalise(item.group(1).replace("=", "==", 1) if re.match(r"^[\w.-]+=[^=<>]", item.group(1)) else item.group(1))
            deps[name] = spec
    return deps


def test_environment_matches_pyproject():
    env = _environment(REPO / "environment.yml")
    env.pop("python", None)
    env.pop("pip", None)
    assert env == _pyproject()


def test_binder_environment_is_the_same_file():
    assert (REPO / "binder" / "environment.yml").read_text() == (REPO / "environment.yml").read_text()


def test_drift_is_detected(tmp_path):
    drifted = (REPO / "environment.yml").read_text().replace("pandas>=2.2,<4", "pandas>=2.0,<4")
    (tmp_path / "environment.yml").write_text(drifted)
    env = _environment(tmp_path / "environment.yml")
    env.pop("python", None)
    env.pop("pip", None)
    assert env != _pyproject()
    assert env["pandas"] != _pyproject()["pandas"]
