"""Comparison of two runs over the same responses, against hand counts and simulated known truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest

from eudaimonia_nb.analysis.agreement import cohen_kappa
from eudaimonia_nb.analysis.judge_compare import ALL, compare_runs, find_pairs

KEYS = ("2B_emotion_expression", "2C_deference", "3A_engagement_hooks")


def _frame(a: np.ndarray, b: np.ndarray, prompts: np.ndarray, requirements: np.ndarray,
           sources: np.ndarray) -> pd.DataFrame:
    rows = []
    for run, verdicts in (("run-a", a), ("run-b", b)):
        rows.append(pd.DataFrame({"model": run, "run_id": run, "prompt_id": prompts, "requirement": requirements,
                                  "source": sources, "violation": verdicts.astype(float)}))
    return pd.concat(rows, ignore_index=True)


def test_flip_table_rates_and_tests_match_hand_counts():
    # 10 checks on 5 prompts x 2 requirements: both 3, only A 1, only B 4, neither 1, one unpaired.
    a = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, np.nan])
    b = np.array([1, 1, 1, 0, 1, 1, 1, 1, 0, 1])
    prompts = np.repeat([f"p{i}" for i in range(5)], 2)
    frame = _frame(a, b, prompts, np.tile(KEYS[:2], 5), np.array(["real"] * 10))
    out = compare_runs(frame, "run-a", "run-b", n_boot=200, seed=1).set_index("requirement")
    first = out.loc[KEYS[0]]  # checks 0, 2, 4, 6, 8: both 2, only B 2, neither 1
    assert (first["both"], first["only_a"], first["only_b"], first["neither"]) == (2, 0, 2, 1)
    row = out.loc[ALL]
    assert (row["both"], row["only_a"], row["only_b"], row["neither"]) == (3, 1, 4, 1)
    assert row["n_pairs"] == 9 and row["n_unpaired"] == 1
    assert row["rate_a"] == pytest.approx(4 / 9) and row["rate_b"] == pytest.approx(7 / 9)
    assert row["diff"] == pytest.approx(3 / 9)
    assert row["p_mcnemar"] == pytest.approx(binomtest(4, 5, 0.5).pvalue)
    ok = ~np.isnan(a)
    assert row["kappa"] == pytest.approx(cohen_kappa(a[ok], b[ok]))
    assert row["agreement"] == pytest.approx(4 / 9)
    assert out.loc[KEYS[1], "n_pairs"] + first["n_pairs"] == 9


def test_intervals_cover_known_truth_and_respect_prompt_clustering():
    rng = np.random.default_rng(7)
    n_prompts, per_prompt = 600, 3
    prompts = np.repeat([f"p{i}" for i in range(n_prompts)], per_prompt)
    requirements = np.tile(KEYS, n_prompts)
    sources = np.repeat(np.where(np.arange(n_prompts) < 200, "real", "modified"), per_prompt)
    a = (rng.random(n_prompts * per_prompt) < 0.4).astype(float)
    # Judge B is stricter on whole prompts: on 20% of prompts it calls every check a violation.
    strict = np.repeat(rng.random(n_prompts) < 0.2, per_prompt)
    b = np.where(strict, 1.0, a)
    true_diff = 0.2 * (1 - 0.4)
    p_agree, pa, pb = 0.8 + 0.2 * 0.4, 0.4, 0.52
    pe = pa * pb + (1 - pa) * (1 - pb)
    true_kappa = (p_agree - pe) / (1 - pe)
    out = compare_runs(_frame(a, b, prompts, requirements, sources), "run-a", "run-b", n_boot=1000, seed=3)
    pooled = out.set_index("requirement").loc[ALL]
    assert pooled["diff_ci_low"] < true_diff < pooled["diff_ci_high"]
    assert pooled["kappa_ci_low"] < true_kappa < pooled["kappa_ci_high"]
    assert pooled["agreement_ci_low"] < p_agree < pooled["agreement_ci_high"]
    # Discordance comes in whole prompts: the clustered interval must be wider than one that
    # treats the 1,800 checks as independent (about sqrt(3) times here).
    n, b_, c_ = pooled["n_pairs"], pooled["only_a"], pooled["only_b"]
    naive_se = np.sqrt((b_ + c_) - (c_ - b_) ** 2 / n) / n
    width = pooled["diff_ci_high"] - pooled["diff_ci_low"]
    assert width / (2 * 1.96 * naive_se) > 1.3
    assert pooled["p_clustered"] < 1e-6 and pooled["p_mcnemar"] < 1e-6
    assert set(out["requirement"]) == {*KEYS, ALL}


def test_pairs_are_found_from_rejudge_records():
    records = [{"unit": "r1", "protocol": "authors", "judge_model": "j", "rejudged_from": None},
               {"unit": "r2", "protocol": "suite", "judge_model": "k", "rejudged_from": "r1"},
               {"unit": "r3", "protocol": "suite", "judge_model": "k", "rejudged_from": "not-loaded"}]
    pairs = find_pairs(records)
    assert [(p.run_a, p.run_b) for p in pairs] == [("r1", "r2")]
    assert pairs[0].label_b == "suite protocol, judge k"
    with pytest.raises(ValueError, match="both be in the data"):
        compare_runs(_frame(np.ones(2), np.ones(2), np.array(["p", "q"]), np.array([KEYS[0]] * 2),
                            np.array(["real"] * 2)), "run-a", "run-z")
