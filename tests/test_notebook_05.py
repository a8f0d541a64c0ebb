"""Notebook 5 (studies) runs top to bottom on the demo in a real kernel."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "05_studies.ipynb"


def test_notebook_05_executes_on_the_demo():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    client.execute(env=dict(os.environ))

    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    streams = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "condition[T.design-code]" in "".join(str(o.get("data", {})) for o in outputs)
    assert "power 0." in streams or "power 1.00" in streams
    assert "minimum detectable effect at 80% power" in streams
    mimes = [m for o in outputs if o.output_type in ("display_data", "execute_result") for m in o.get("data", {})]
    assert mimes.count("application/vnd.plotly.v1+json") == 5
    assert "application/vnd.jupyter.widget-view+json" in mimes
