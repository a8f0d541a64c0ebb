"""Every notebook is committed clean and thin: no outputs, short cells, no machine paths.

(Each notebook's own test file runs it top to bottom; this file checks what applies to all.)
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


def test_all_notebooks_are_checked():
    assert [p.name for p in NOTEBOOKS] == ["01_explore_prompts.ipynb", "02_live_judging.ipynb", "03_analysis.ipynb",
                                           "04_validate_judge.ipynb", "05_studies.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_clean_and_thin(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code
    for cell in code:
        assert cell.outputs == [] and cell.execution_count is None, "commit notebooks without outputs"
        assert len(cell.source.splitlines()) <= 15, f"a {len(cell.source.splitlines())}-line cell is a function waiting to be written"
        assert not re.search(r"(/work/|/tmp/|/home/|/root/|final_dataset\.jsonl)", cell.source), cell.source
        assert not re.search(r"sk-[A-Za-z0-9]", cell.source)
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
