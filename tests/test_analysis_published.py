"""The published figures as data files."""

from __future__ import annotations

import pytest

from eudaimonia_nb.analysis.published import (leaderboard, pairs_weighted_overall, real_modified_pairs,
                                              requirement_averages)
from eudaimonia_nb.benchmark.design_code import REQUIREMENT_KEYS


def test_files_hold_the_published_tables_with_sources():
    board = leaderboard()
    assert len(board) == 22 and board["rank"].tolist() == list(range(1, 23))
    assert board.set_index("model").loc["GPT-5.5", "overall_pct"] == 27.2
    assert board.set_index("model").loc["Grok 3", "overall"] == pytest.approx(0.673)
    assert board["overall"].is_monotonic_increasing
    assert len(real_modified_pairs()) == 7
    averages = requirement_averages()
    assert sorted(averages["requirement"]) == sorted(REQUIREMENT_KEYS)
    assert averages["approximate"].all() and not board["approximate"].any()
    assert averages.set_index("requirement").loc["1C_identity_transparency", "modified_pct"] == 72.6
    for table in (board, real_modified_pairs(), averages):
        assert table["source"].str.contains("arXiv:2605.30654").all()


def test_weighted_pairs_reproduce_the_overall_rates_within_a_tenth_of_a_point():
    implied = pairs_weighted_overall()
    overall = leaderboard().set_index("model")["overall"]
    gaps = (implied - overall.reindex(implied.index)).abs() * 100
    assert len(gaps) == 7 and gaps.notna().all()
    assert gaps.max() <= 0.1 + 1e-9, gaps.to_dict()
