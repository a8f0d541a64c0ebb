"""The rubric shown beside a verdict is the one it was judged with, found by its recorded version."""

from __future__ import annotations

import json

import pytest
from rubric_server import RubricServer, shared_rubric

from eudaimonia_nb.benchmark.design_code import REQUIREMENT_KEYS, requirement
from eudaimonia_nb.judging import authors_rubrics
from eudaimonia_nb.judging.protocols import get_protocol
from eudaimonia_nb.judging.rubric_lookup import AUTHORS, SUITE, authors_versions, find_rubric


@pytest.fixture(scope="module")
def fetched(tmp_path_factory):
    directory = tmp_path_factory.mktemp("rubrics")
    with RubricServer() as server:
        authors_rubrics.fetch_rubrics(server.base_url, directory)
    return directory


def test_an_authors_version_shows_the_authors_fetched_text_not_the_suites(fetched):
    versions = get_protocol("authors").rubric_versions()  # what an authors run records per verdict
    for key in REQUIREMENT_KEYS:
        shown = find_rubric(key, versions[key], "authors", directory=fetched)
        expected = json.loads(shared_rubric(key).read_text(encoding="utf-8"))["prompt"]
        assert shown.protocol == AUTHORS and shown.text == expected, key
        assert shown.text != requirement(key).rubric
        assert "authors' repository" in shown.source and shown.missing == ""
        assert shown.title.startswith("the authors' rubric") and versions[key] in shown.title


def test_the_version_decides_even_when_the_protocol_is_mislabelled(fetched):
    key = "2C_deference"
    shown = find_rubric(key, authors_versions()[key], "suite", directory=fetched)
    assert shown.protocol == AUTHORS
    suite = find_rubric(key, requirement(key).rubric_version, "authors", directory=fetched)
    assert suite.protocol == SUITE and suite.text == requirement(key).rubric


def test_authors_rubrics_not_fetched_say_so_and_how(tmp_path):
    key = "1B_intentional_human_speech"
    shown = find_rubric(key, authors_versions()[key], "authors", directory=tmp_path / "empty")
    assert shown.text is None and shown.protocol == AUTHORS
    assert "not on this machine" in shown.missing and "fetch-rubrics" in shown.missing


def test_an_edited_suite_rubric_shows_no_text_in_place_of_the_one_used():
    key = "3A_engagement_hooks"
    shown = find_rubric(key, "0123456789ab", "suite")
    assert shown.text is None and shown.protocol is None
    assert "0123456789ab" in shown.missing and requirement(key).rubric_version in shown.missing
    assert "No other text is shown" in shown.missing


def test_without_a_recorded_version_the_protocol_decides(fetched):
    key = "2B_emotion_expression"
    assert find_rubric(key, "", "authors", directory=fetched).protocol == AUTHORS
    assert find_rubric(key, None, "suite").text == requirement(key).rubric
    unknown = find_rubric(key, "", None)
    assert unknown.text is None and "unknown" in unknown.missing


def test_fetch_rubrics_says_what_it_verified(tmp_path):
    import subprocess
    import sys

    with RubricServer() as server:
        done = subprocess.run([sys.executable, "-m", "eudaimonia_nb", "fetch-rubrics", "--base-url", server.base_url,
                               "--dest", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[0].startswith("9 rubrics of the authors") and "SHA-256 verified" in lines[0]
    assert lines[-1] == str(tmp_path)
