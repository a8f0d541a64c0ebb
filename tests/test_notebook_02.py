"""Notebook 2 runs top to bottom in a real kernel, once against a real local llama.cpp server, and
is committed clean; a key typed into its password field leaves no trace in its outputs."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import nbformat
from fault_server import FaultServer, Script
from nbclient import NotebookClient

from eudaimonia_nb.paths import DATASET_ENV

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "02_live_judging.ipynb"


def test_notebook_labels_the_local_model_as_a_smoke_test():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "smoke-test model" in text and "not research results" in text


def test_notebook_executes_against_llama_cpp_and_leaks_no_typed_key(llama_server, dataset_path, tmp_path):  # noqa: F811
    key = "sk-test-" + "LEAK" + "CANARY" + uuid.uuid4().hex
    nb = nbformat.read(NOTEBOOK, as_version=4)
    with FaultServer(Script(default="echo_auth")) as proxy:
        # Typed in the running notebook, as a user would, against a proxy that echoes the header.
        nb.cells.append(nbformat.v4.new_code_cell(
            "from eudaimonia_nb.widgets.judging import PRESETS\n"
            f"ui.model.select(PRESETS[-1], base_url={proxy.base_url!r}, model='proxied')\n"
            f"ui.model.key.value = {key!r}\n"
            "print((await ui.run_single()).describe())"
        ))
        env = {
            **os.environ, DATASET_ENV: str(dataset_path), "EUDAIMONIA_DATA_DIR": str(tmp_path),
            "EUDAIMONIA_LOCAL_BASE_URL": llama_server.base_url,
        }
        client = NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}})
        client.execute(env=env)
        assert f"Bearer {key}" in proxy.authorization, "the typed key really was sent"

    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    streams = [o.get("text", "") for o in outputs if o.output_type == "stream"]
    local = next(s for s in streams if "judged by SmolLM2" in s)
    assert "smoke-test model: verdicts are not research results" in local and "3A Engagement hooks:" in local
    assert "response: " in local and "(no response" not in local
    assert any("HTTP 401" in s and "[redacted]" in s for s in streams)
    mimes = [m for o in outputs if o.output_type in ("display_data", "execute_result") for m in o.get("data", {})]
    assert "application/vnd.jupyter.widget-view+json" in mimes
    rendered = json.dumps([o for c in nb.cells for o in c.get("outputs", [])]) + json.dumps(nb.metadata)
    for fragment in (key, key[:12], key[-8:], "LEAK" + "CANARY"):
        assert fragment not in rendered
