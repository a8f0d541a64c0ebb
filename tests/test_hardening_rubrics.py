"""Issue 24, point 7: fetching the authors' rubrics has a byte cap per file, a timeout and a
deadline for the nine files, keeps a mirror's query string apart from the path and refuses
user:password@ with a clear message, on the command line and inside a run's automatic fetch."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from fault_server import FaultServer, Script
from rubric_server import RubricServer

from eudaimonia_nb.benchmark.design_code import REQUIREMENT_KEYS
from eudaimonia_nb.judging.authors_rubrics import BASE_URL_ENV, FetchError, fetch_rubrics, verified

MAX_RUBRIC_BYTES = 256 * 1024  # authors_rubrics.MAX_RUBRIC_BYTES (a test checks they agree)

CLI = [sys.executable, "-m", "eudaimonia_nb"]


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=300, env={**os.environ, **(env or {})})


def test_a_rubric_over_the_byte_cap_is_refused_before_it_is_written(tmp_path):
    from eudaimonia_nb.judging import authors_rubrics

    assert authors_rubrics.MAX_RUBRIC_BYTES == MAX_RUBRIC_BYTES
    key = REQUIREMENT_KEYS[3]
    with RubricServer({key: b"x" * (20 * MAX_RUBRIC_BYTES)}) as server:
        with pytest.raises(FetchError, match=f"authors' rubric {key}: .* more than the {MAX_RUBRIC_BYTES:,} allowed"):
            fetch_rubrics(server.base_url, tmp_path)
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]  # nothing kept, not even the staging folder's files


def test_a_mirror_query_string_stays_after_the_path(tmp_path):
    with RubricServer() as server:
        paths = fetch_rubrics(f"{server.base_url}/?token=abc123&v=2", tmp_path)
        assert set(paths) == set(REQUIREMENT_KEYS) and verified(tmp_path)
        for key in REQUIREMENT_KEYS:
            assert server.queries[f"/src/filter/measure/{key}/filter2.json"] == "token=abc123&v=2"


def test_user_info_in_the_mirror_url_is_refused_without_showing_it(tmp_path, dataset_path):
    with RubricServer() as server:
        with_user = server.base_url.replace("http://", "http://alice:s3cr3t-pass@")
        with pytest.raises(FetchError, match="user:password@ in the URL is not supported") as caught:
            fetch_rubrics(with_user, tmp_path)
        assert "s3cr3t-pass" not in str(caught.value) and not any(tmp_path.iterdir())
        done = _cli("fetch-rubrics", "--base-url", with_user, "--dest", str(tmp_path / "cli"))
        assert done.returncode == 1 and "user:password@" in done.stderr and "s3cr3t" not in done.stderr
        # The same inside a run's automatic fetch (a fresh data folder has no rubrics).
        store = tmp_path / "data" / "results.sqlite"
        with FaultServer(Script()) as endpoint:
            done = _cli("run", "--model", "m", "--base-url", endpoint.base_url, "--judge-model", "j",
                        "--judge-base-url", endpoint.base_url, "--store", str(store), "--dataset", str(dataset_path),
                        "--limit", "1", "--no-progress",
                        env={BASE_URL_ENV: with_user, "EUDAIMONIA_DATA_DIR": str(tmp_path / "data")})
        assert done.returncode == 1 and "user:password@" in done.stderr and "s3cr3t" not in done.stderr, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
        assert not list((tmp_path / "data").glob("results.sqlite*"))  # the refused run left no store


def test_fetch_rubrics_has_a_deadline_for_the_nine_files(tmp_path):
    with RubricServer(delay_s=0.4) as server:
        started = time.monotonic()
        done = _cli("fetch-rubrics", "--base-url", server.base_url, "--dest", str(tmp_path), "--deadline", "1",
                    "--timeout", "5")
        took = time.monotonic() - started
        asked = sum(server.requests.values())
    assert done.returncode == 1 and ("in the 1 s allowed" in done.stderr or "timed out" in done.stderr), done.stderr
    assert asked < len(REQUIREMENT_KEYS) and not verified(tmp_path)
    print(f"fetch-rubrics --deadline 1 against a 0.4 s server stopped after {took:.1f} s, {asked} files asked")
