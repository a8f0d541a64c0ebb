"""The package's stages and which may import which, checked by walking imports with ``ast``.

Used by ``test_layering.py`` on the real package and on synthetic trees that break the rules
(so the checker is shown to fail when it should). docs/architecture.md states the same table.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

SHARED = ("paths", "credentials", "linebreaks", "outputs", "formatting")
"""Shared ground at the top of the package: any stage may use it."""
TOP_LEVEL_FILES = ("__init__.py", "__main__.py", *(f"{name}.py" for name in SHARED))
"""The only files allowed at the top of the package; everything else lives in a stage."""

_BELOW_REPORT = {"shared", "formatting", "benchmark", "store", "judging", "analysis", "plots", "validity"}
ALLOWED: dict[str, set[str]] = {
    # group: the groups its modules may import (its own included)
    "shared": {"shared"},
    "benchmark": {"shared", "benchmark"},
    # formatting reads the requirement labels of benchmark.design_code; benchmark never uses it.
    "formatting": {"shared", "benchmark", "formatting"},
    "store": {"shared", "formatting", "benchmark", "store"},
    "judging": {"shared", "formatting", "benchmark", "store", "judging"},
    "analysis": {"shared", "formatting", "benchmark", "store", "analysis"},
    "plots": {"shared", "formatting", "benchmark", "analysis", "plots"},
    "validity": {"shared", "formatting", "benchmark", "store", "analysis", "plots", "validity"},
    "report": _BELOW_REPORT | {"report"},
    "widgets": _BELOW_REPORT | {"report", "widgets"},
    "cli": _BELOW_REPORT | {"report", "cli"},
    "main": {"cli"},
    "facade": set(),  # checked apart: the facade may import any stage, and nothing may import it
}
STAGES = tuple(group for group in ALLOWED if group not in ("shared", "formatting", "main", "facade"))
"""Sub-packages, bottom-up."""


@dataclass(frozen=True)
class Violation:
    """One broken rule."""

    kind: str
    """``upward`` (a group not allowed), ``facade`` (the package's own ``__init__`` imported from
    inside), ``circle`` (modules importing each other), ``unknown`` (a module in no stage) or
    ``layout`` (a file at the top of the package that belongs in a stage)."""
    detail: str
    """What and where, in words."""


def group_of(module: str) -> str | None:
    """The group of a dotted module name inside the package (``pkg.judging.runner`` -> ``judging``)."""
    parts = module.split(".")[1:]
    if not parts:
        return "facade"
    if parts == ["__main__"]:
        return "main"
    if parts[0] == "formatting":
        return "formatting"
    if parts[0] in SHARED:
        return "shared"
    return parts[0] if parts[0] in ALLOWED else None


def module_files(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package at ``root``."""
    modules = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def imports_of(module: str, path: Path, modules: dict[str, Path]) -> list[tuple[str, int]]:
    """The package modules ``module`` imports anywhere in its file (functions and type-checking
    blocks included), each with the line of the import."""
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    root = module.split(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target != root and not target.startswith(root + "."):
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.append((sub if sub in modules else target, node.lineno))
        elif isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names
                      if alias.name == root or alias.name.startswith(root + ".")]
    return found


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module, or a module importing itself."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's algorithm, iteratively deep enough for this package
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def check(root: Path) -> list[Violation]:
    """Every broken rule in the package at ``root`` (the folder holding its ``__init__.py``)."""
    modules = module_files(root)
    violations = []
    for path in sorted(root.iterdir()):
        if path.is_file() and path.suffix == ".py" and path.name not in TOP_LEVEL_FILES:
            violations.append(Violation("layout", f"{path.name} sits at the top of the package; it belongs in a stage"))
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        source = group_of(module)
        if source is None and module.count(".") == 1 and path.parent == root:
            continue  # a flat module: reported as ``layout`` above
        if source is None:
            violations.append(Violation("unknown", f"{module} is in no known stage"))
            continue
        for target, line in imports_of(module, path, modules):
            if target == module:
                continue
            graph.setdefault(module, set()).add(target)
            where = f"{path.relative_to(root.parent)}:{line}"
            dest = group_of(target)
            if source == "facade":
                continue
            if dest == "facade":
                violations.append(Violation("facade", f"{where}: {module} imports the package facade {target}"))
            elif dest is None or dest not in ALLOWED[source]:
                violations.append(Violation("upward", f"{where}: {module} ({source}) imports {target} ({dest})"))
    for component in _circles(graph):
        violations.append(Violation("circle", " <-> ".join(component)))
    return violations
