"""The package's layout shows its architecture: stages, and imports that only point down.

``layering.check`` walks every import with ``ast``; the synthetic trees below show that it fails
on each kind of broken rule, so a pass on the real package means something.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import layering

PACKAGE = Path(__file__).resolve().parents[1] / "eudaimonia_nb"
ARCHITECTURE = PACKAGE.parent / "docs" / "architecture.md"


def test_the_package_breaks_no_rule():
    assert layering.check(PACKAGE) == []


def test_top_level_holds_only_stages_and_shared_ground():
    files = sorted(p.name for p in PACKAGE.iterdir() if p.suffix == ".py")
    folders = sorted(p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists())
    assert files == sorted(layering.TOP_LEVEL_FILES)
    assert set(folders) <= set(layering.STAGES)
    for stage in folders:  # each stage says what lives there and what it may import
        doc = (PACKAGE / stage / "__init__.py").read_text(encoding="utf-8")
        assert "May import" in doc, stage


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "pkg"
    for name, text in {"__init__.py": "", **files}.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    for folder in {p.parent for p in root.rglob("*.py")}:
        (folder / "__init__.py").touch()
    return root


def _kinds(root: Path) -> list[tuple[str, str]]:
    return [(v.kind, v.detail) for v in layering.check(root)]


def test_a_clean_synthetic_tree_passes(tmp_path):
    root = _tree(tmp_path, {
        "paths.py": "import os\n",
        "benchmark/dataset.py": "from ..paths import os\n",
        "store/results.py": "from ..benchmark.dataset import os\n",
        "judging/runner.py": "from ..store.results import os\nfrom . import calls\n",
        "judging/calls.py": "from ..store import results\n",
        "cli/main.py": "def main():\n    from ..judging.runner import os\n",
    })
    assert _kinds(root) == []


@pytest.mark.parametrize("module, source, expected", [
    # a lower stage reaching up, at module level and inside a function
    ("benchmark/dataset.py", "from ..judging import runner\n", "pkg.benchmark.dataset (benchmark) imports pkg.judging.runner (judging)"),
    ("store/results.py", "def f():\n    from ..analysis.rates import x\n", "pkg.store.results (store) imports pkg.analysis.rates (analysis)"),
    # siblings: analysis works on what was recorded, never on how it was judged
    ("analysis/rates.py", "from pkg.judging.runner import Runner\n", "pkg.analysis.rates (analysis) imports pkg.judging.runner (judging)"),
    ("judging/runner.py", "import pkg.analysis.rates\n", "pkg.judging.runner (judging) imports pkg.analysis.rates (analysis)"),
    ("plots/analysis.py", "from ..widgets.dashboard import x\n", "pkg.plots.analysis (plots) imports pkg.widgets.dashboard (widgets)"),
    ("cli/main.py", "from ..widgets import judging\n", "pkg.cli.main (cli) imports pkg.widgets.judging (widgets)"),
    ("paths.py", "from .store.results import x\n", "pkg.paths (shared) imports pkg.store.results (store)"),
    ("benchmark/fetch.py", "from ..formatting import fmt_pct\n", "pkg.benchmark.fetch (benchmark) imports pkg.formatting (formatting)"),
])
def test_an_upward_import_is_named_with_its_file_and_line(tmp_path, module, source, expected):
    files = {"judging/runner.py": "", "analysis/rates.py": "", "widgets/dashboard.py": "", "widgets/judging.py": "",
             "store/results.py": "", "formatting.py": "", module: source}
    kinds = _kinds(_tree(tmp_path, files))
    assert len(kinds) == 1 and kinds[0][0] == "upward", kinds
    line = source.splitlines().index(next(l for l in source.splitlines() if "import" in l)) + 1
    assert kinds[0][1] == f"pkg/{module}:{line}: {expected}"


def test_a_circle_is_found_even_within_one_stage(tmp_path):
    root = _tree(tmp_path, {
        "judging/plan.py": "from .calls import x\n",
        "judging/calls.py": "from .recording import y\n",
        "judging/recording.py": "def f():\n    from . import plan\n",
    })
    assert _kinds(root) == [("circle", "pkg.judging.calls <-> pkg.judging.plan <-> pkg.judging.recording")]


def test_the_facade_is_not_imported_from_inside(tmp_path):
    root = _tree(tmp_path, {"__init__.py": "from .judging.runner import run\n__version__ = '1'\n",
                            "judging/runner.py": "from .. import __version__\n"})
    kinds = _kinds(root)
    assert ("facade", "pkg/judging/runner.py:1: pkg.judging.runner imports the package facade pkg") in kinds
    assert ("circle", "pkg <-> pkg.judging.runner") in kinds


def test_a_flat_module_or_an_unknown_stage_is_refused(tmp_path):
    root = _tree(tmp_path, {"runner.py": "", "misc/helpers.py": ""})
    assert _kinds(root) == [("layout", "runner.py sits at the top of the package; it belongs in a stage"),
                            ("unknown", "pkg.misc is in no known stage"), ("unknown", "pkg.misc.helpers is in no known stage")]


def test_architecture_doc_matches_the_tree():
    """docs/architecture.md names every stage and every module in it, and nothing that is gone."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    named = {name for name in re.findall(r"`((?:[a-z_]+/)+[a-z_]+\.py|[a-z_]+\.py|[a-z_]+/)`", text)
             if name.split("/")[0] in layering.STAGES or name in layering.TOP_LEVEL_FILES}
    tree = {str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py") if p.name != "__init__.py" or p.parent == PACKAGE}
    tree |= {f"{p.name}/" for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert tree - named == set(), "in the tree, not in docs/architecture.md"
    assert named - tree == set(), "in docs/architecture.md, not in the tree"
    table = text[text.index("## Which stage may import which"):]
    for source, allowed in layering.ALLOWED.items():  # the import table states the checker's rules
        if source in layering.STAGES:
            row = re.search(rf"^\| `{source}/` \| (.+?) \|", table, re.M)
            assert row, f"no import row for {source}"
            assert set(re.findall(r"`([a-z_]+)`", row.group(1))) == allowed - {source}, source
