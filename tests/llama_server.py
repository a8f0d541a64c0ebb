"""Test helpers around the package's local llama.cpp server (SmolLM2-135M, a smoke-test model).

The session fixture ``llama_server`` lives in conftest.py so that one server serves every test
module; these names are kept for the tests that import them.
"""

from __future__ import annotations

from eudaimonia_nb.local_server import SMOKE_TEST_MODEL, LocalServer, free_port, smollm2_gguf, start, stop

LlamaServer = LocalServer

__all__ = ["SMOKE_TEST_MODEL", "LlamaServer", "free_port", "smollm2_gguf", "start", "stop"]
