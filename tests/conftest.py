"""Shared fixtures. The real benchmark file is read from ../shared/datasets/eudaimonia/
(beside the checkout, as on developer machines and in CI), or from $EUDAIMONIA_TEST_DATASET."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
_DEFAULT_DATASET = REPO.parent / "shared" / "datasets" / "eudaimonia" / "final_dataset.jsonl"


def real_dataset_path() -> Path:
    path = Path(os.environ.get("EUDAIMONIA_TEST_DATASET", _DEFAULT_DATASET))
    if not path.is_file():
        raise RuntimeError(f"the real benchmark file is required for the tests and is missing at {path}")
    return path


@pytest.fixture(scope="session", autouse=True)
def authors_rubrics_url():
    """The authors' rubrics on a loopback server for the whole session: an ``authors`` run (the
    default protocol) that finds no cached rubrics downloads them from here, as a user's would
    from the pinned official location. Set in ``os.environ`` so CLI and kernel subprocesses see it."""
    from rubric_server import RubricServer

    from eudaimonia_nb.judging.authors_rubrics import BASE_URL_ENV

    with RubricServer() as server:
        previous = os.environ.get(BASE_URL_ENV)
        os.environ[BASE_URL_ENV] = server.base_url
        try:
            yield server.base_url
        finally:
            if previous is None:
                os.environ.pop(BASE_URL_ENV, None)
            else:
                os.environ[BASE_URL_ENV] = previous


@pytest.fixture(scope="session")
def dataset_path() -> Path:
    return real_dataset_path()


@pytest.fixture(scope="session")
def benchmark(dataset_path):
    from eudaimonia_nb import load_benchmark

    return load_benchmark(dataset_path)


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where tests leave files for people to look at (screenshots, exports)."""
    path = REPO / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory):
    """llama.cpp serving SmolLM2-135M-Instruct (a smoke-test model) on a free loopback port,
    shared by every test module in the session."""
    from eudaimonia_nb.judging.local_server import start, stop

    server = start(tmp_path_factory.mktemp("llama") / "server.log")
    try:
        yield server
    finally:
        stop(server)
