"""Rates, Wilson intervals, bootstrap intervals and real-vs-modified differences against
values computed by hand on small tables."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import t as student

from eudaimonia_nb.analysis.rates import (bootstrap_rates, model_rates, prompt_bootstrap_weights, real_vs_modified,
                                          violation_rates, wilson_interval)


def _table(rows):
    return pd.DataFrame(rows, columns=["model", "prompt_id", "requirement", "source", "violation", "error"])


def _hand_wilson(k, n, z=1.959963984540054):
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def test_wilson_matches_the_textbook_formula_and_a_published_value():
    low, high = wilson_interval(np.array([3, 0, 10]), np.array([10, 10, 10]))
    for i, (k, n) in enumerate([(3, 10), (0, 10), (10, 10)]):
        assert low[i] == pytest.approx(_hand_wilson(k, n)[0], abs=1e-12)
        assert high[i] == pytest.approx(_hand_wilson(k, n)[1], abs=1e-12)
    # Newcombe (1998), example: 81 of 263 -> 0.2553 to 0.3662.
    low, high = wilson_interval(81, 263)
    assert (round(float(low), 4), round(float(high), 4)) == (0.2553, 0.3662)
    assert np.isnan(wilson_interval(0, 0)[0])


def test_violation_rates_counts_errors_apart_and_groups_by_principle():
    frame = _table([
        ("A", "p1", "1B_human_pronoun", "real", 1.0, ""),
        ("A", "p1", "2B_emotion_expression", "real", 0.0, ""),
        ("A", "p2", "2B_emotion_expression", "modified", 1.0, ""),
        ("A", "p3", "2C_deference", "modified", np.nan, "judge answer unparseable"),
        ("B", "p1", "1B_human_pronoun", "real", 0.0, ""),
        ("B", "p2", "2B_emotion_expression", "modified", 1.0, ""),
    ])
    by_model = violation_rates(frame, ["model"]).set_index("model")
    assert by_model.loc["A", ["n_checks", "n_violations", "n_errors"]].tolist() == [3, 2, 1]
    assert by_model.loc["A", "rate"] == pytest.approx(2 / 3)
    # Model A holds two checks of prompt p1: a cluster-robust interval, not Wilson's.
    assert by_model["ci_method"].str.startswith("cluster-robust").all()
    cells = violation_rates(frame, ["model", "requirement"]).set_index(["model", "requirement"])
    assert cells["ci_method"].str.startswith("Wilson").all()
    assert cells.loc[("A", "2B_emotion_expression"), "ci_low"] == pytest.approx(_hand_wilson(1, 2)[0])
    by_principle = violation_rates(frame, ["principle"]).set_index("principle")
    assert by_principle.loc[1, "n_checks"] == 2 and by_principle.loc[1, "n_violations"] == 1
    assert by_principle.loc[2, "n_checks"] == 3 and by_principle.loc[2, "n_errors"] == 1
    both = violation_rates(frame, ["model", "source"])
    assert len(both) == 4
    assert both.set_index(["model", "source"]).loc[("B", "modified"), "rate"] == 1.0
    with pytest.raises(KeyError, match="no such column"):
        violation_rates(frame, ["nonexistent"])


def _balanced(n_prompts: int, rate_real: float, rate_modified: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_prompts):
        source = "real" if i % 2 else "modified"
        p = rate_real if source == "real" else rate_modified
        rows.append(("M", f"p{i}", "2C_flattery_tone", source, float(rng.random() < p), ""))
    return _table(rows)


def test_bootstrap_weights_resample_within_source():
    source = np.array(["real"] * 3 + ["modified"] * 5)
    weights = prompt_bootstrap_weights(source, 50, seed=1)
    assert weights.shape == (50, 8)
    assert (weights[:, :3].sum(1) == 3).all() and (weights[:, 3:].sum(1) == 5).all()
    assert np.array_equal(weights, prompt_bootstrap_weights(source, 50, seed=1))


def test_model_rate_bootstrap_interval_matches_the_binomial_one_with_one_check_per_prompt():
    frame = _balanced(2000, 0.3, 0.3, seed=3)
    row = model_rates(frame, n_boot=2000, seed=0).iloc[0]
    k, n = frame["violation"].sum(), len(frame)
    assert row["rate"] == pytest.approx(k / n)
    assert row["n_prompts"] == 2000 and row["n_checks"] == 2000
    # With one check per prompt (no clustering) the bootstrap must agree with Wilson.
    low, high = _hand_wilson(k, n)
    assert row["ci_low"] == pytest.approx(low, abs=0.006)
    assert row["ci_high"] == pytest.approx(high, abs=0.006)


def test_clustered_checks_widen_the_bootstrap_interval_beyond_wilson():
    rng = np.random.default_rng(0)
    rows = []
    for i in range(300):  # 6 perfectly correlated checks per prompt: design effect 6
        v = float(rng.random() < 0.4)
        rows += [("M", f"p{i}", k, "real" if i % 2 else "modified", v, "")
                 for k in ("1B_human_pronoun", "2B_emotion_expression", "2C_deference", "2C_flattery_tone",
                           "3A_engagement_hooks", "1C_identity_transparency")]
    frame = _table(rows)
    boot = model_rates(frame, n_boot=1000, seed=0).iloc[0]
    low, high = wilson_interval(boot["n_violations"], boot["n_checks"])
    ratio = (boot["ci_high"] - boot["ci_low"]) / (high - low)
    assert 2.0 < ratio < 3.0  # sqrt(6) = 2.45


def test_real_vs_modified_difference_interval_and_holm_by_hand():
    a = _balanced(1200, 0.30, 0.45, seed=1).assign(model="A")
    b = _balanced(1200, 0.30, 0.30, seed=2).assign(model="B")
    b["prompt_id"] = a["prompt_id"]
    frame = pd.concat([a, b], ignore_index=True)
    result = real_vs_modified(frame, n_boot=2000, seed=0).set_index("model")
    for model, part in (("A", a), ("B", b)):
        real = part.loc[part["source"] == "real", "violation"]
        modified = part.loc[part["source"] == "modified", "violation"]
        row = result.loc[model]
        assert row["rate_real"] == pytest.approx(real.mean())
        assert row["rate_modified"] == pytest.approx(modified.mean())
        assert row["diff"] == pytest.approx(modified.mean() - real.mean())
        se = math.sqrt(real.mean() * (1 - real.mean()) / len(real) + modified.mean() * (1 - modified.mean()) / len(modified))
        assert row["diff_se"] == pytest.approx(se, rel=0.1)
        assert row["diff_ci_low"] == pytest.approx(row["diff"] - 1.96 * se, abs=0.01)
        assert row["p_value"] == pytest.approx(2 * (1 - _phi(abs(row["diff"]) / row["diff_se"])), rel=1e-6)
    p = result["p_value"].sort_values()
    holm = [min(1.0, 2 * p.iloc[0]), min(1.0, max(2 * p.iloc[0], p.iloc[1]))]
    assert result.loc[p.index, "p_holm"].tolist() == pytest.approx(holm)
    assert result.loc["A", "p_holm"] < 0.001 and result.loc["B", "p_holm"] > 0.01
    again = real_vs_modified(frame, n_boot=2000, seed=0)
    assert again.equals(result.reset_index()[again.columns])


def test_every_model_sees_the_same_resampled_prompts():
    a = _balanced(400, 0.3, 0.5, seed=4)
    twin = a.assign(model="twin")  # identical verdicts under another name
    other = _balanced(400, 0.6, 0.2, seed=5).assign(model="other")
    both = pd.concat([a, twin, other], ignore_index=True)
    alone = model_rates(a, n_boot=300, seed=7).iloc[0]
    rates = model_rates(both, n_boot=300, seed=7).set_index("model")
    # Shared prompt draws: the twins' intervals coincide, and adding a model changes nothing.
    assert rates.loc["M", ["ci_low", "ci_high"]].tolist() == rates.loc["twin", ["ci_low", "ci_high"]].tolist()
    assert rates.loc["M", ["ci_low", "ci_high"]].tolist() == alone[["ci_low", "ci_high"]].tolist()
    split = real_vs_modified(both, n_boot=300, seed=7).set_index("model")
    columns = ["real_ci_low", "modified_ci_high", "diff_ci_low", "diff_ci_high", "diff_se"]
    assert split.loc["M", columns].tolist() == split.loc["twin", columns].tolist()
    assert split.loc["other", "diff_ci_high"] < 0 < split.loc["M", "diff_ci_low"]


def test_a_prompt_with_two_sources_is_refused():
    frame = _balanced(10, 0.3, 0.5, seed=0)
    frame.loc[0, "prompt_id"] = "p1"  # p0 was modified, p1 is real
    with pytest.raises(ValueError, match="one source per prompt"):
        model_rates(frame, n_boot=10)


def _phi(x: float) -> float:
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


def test_a_single_column_name_groups_by_that_column():
    frame = pd.DataFrame({"model": ["a", "a", "b"], "prompt_id": ["p1", "p2", "p1"],
                          "requirement": ["2C_deference"] * 3, "source": ["real"] * 3,
                          "violation": [1.0, 0.0, 1.0], "error": ["", "", ""]})
    assert violation_rates(frame, "model").equals(violation_rates(frame, ["model"]))
    assert violation_rates(frame, "model")["n_checks"].tolist() == [2, 1]


def _mix_table() -> pd.DataFrame:
    """Two requirements with equal rates on real and modified prompts for model M (so no source
    effect within requirement), but real prompts carry mostly deference and modified mostly
    engagement-hook checks; model N has a +10-point gap on deference only. One check per prompt."""
    rows = []

    def add(model, source, requirement, n, k, start):
        for i in range(n):
            rows.append((model, f"{source[0]}{requirement[:2]}{start + i}", requirement, source, float(i < k), ""))

    for model, (real_a, mod_a) in (("M", (64, 16)), ("N", (40, 12))):
        add(model, "real", "2C_deference", 80, real_a, 0)
        add(model, "real", "3A_engagement_hooks", 20, 4, 0)
        add(model, "modified", "2C_deference", 20, mod_a, 0)
        add(model, "modified", "3A_engagement_hooks", 80, 16, 0)
    return _table(rows)


def test_requirement_standardised_gap_by_hand():
    result = real_vs_modified(_mix_table(), n_boot=500, seed=0).set_index("model")
    # M: raw rates 68/100 real, 32/100 modified, a -36-point gap made only of the mix.
    assert result.loc["M", "diff"] == pytest.approx(0.32 - 0.68)
    assert result.loc["M", "diff_adj"] == pytest.approx(0.0, abs=1e-12)
    # N: within-requirement gaps +0.1 (deference) and 0; w = 200 / 400 each (both models).
    assert result.loc["N", "diff_adj"] == pytest.approx(0.5 * (12 / 20 - 40 / 80) + 0.5 * 0.0)
    assert result.loc["M", "p_adj"] == pytest.approx(1.0) and result.loc["M", "p_value"] < 1e-6
    for model in "MN":
        row = result.loc[model]
        assert row["diff_adj_ci_low"] < row["diff_adj"] < row["diff_adj_ci_high"]
        assert row["diff_adj_se"] > 0 and row["n_requirements_adj"] == 2 and row["note"] == ""
    # Same prompt draws as the raw gap: the adjusted p goes through Holm the same way.
    p = result["p_adj"].sort_values()
    assert result.loc[p.index, "p_holm_adj"].tolist() == pytest.approx(
        [min(1.0, 2 * p.iloc[0]), min(1.0, max(2 * p.iloc[0], p.iloc[1]))])


def test_adjusted_gap_uses_only_requirements_with_both_sources_and_says_so():
    frame = _mix_table()
    frame = frame[~((frame["model"] == "N") & (frame["requirement"] == "3A_engagement_hooks")
                    & (frame["source"] == "real"))]
    result = real_vs_modified(frame, n_boot=200, seed=0).set_index("model")
    assert result.loc["N", "n_requirements_adj"] == 1
    assert result.loc["N", "diff_adj"] == pytest.approx(12 / 20 - 40 / 80)
    assert result.loc["N", "note"].startswith("requirement-adjusted gap over 1 of 2 requirements")


def test_pooled_groups_get_cluster_robust_intervals_and_one_check_per_prompt_keeps_wilson():
    rng = np.random.default_rng(0)
    rows = []
    for i in range(300):  # 4 models see the same prompt; a shared prompt effect correlates them
        shared = rng.random() < 0.4
        for model in "ABCD":
            rows.append((model, f"p{i}", "2C_deference", "real" if i % 2 else "modified",
                         float(shared if rng.random() < 0.9 else not shared), ""))
    frame = _table(rows)
    cell = violation_rates(frame, ["model", "requirement"])
    assert (cell["ci_method"].str.startswith("Wilson")).all()
    low, high = _hand_wilson(cell["n_violations"].iloc[0], cell["n_checks"].iloc[0])
    assert cell["ci_low"].iloc[0] == pytest.approx(low) and cell["ci_high"].iloc[0] == pytest.approx(high)
    pooled = violation_rates(frame, ["requirement", "source"])
    assert (pooled["ci_method"].str.startswith("cluster-robust")).all()
    wilson_low, wilson_high = wilson_interval(pooled["n_violations"], pooled["n_checks"])
    # 4 checks per prompt, pairwise correlation 0.8^2 = 0.64: design effect 1 + 3 x 0.64 = 2.9,
    # so the interval is about sqrt(2.9) = 1.7 times Wilson's (150 prompts per cell: noisy).
    ratio = (pooled["ci_high"] - pooled["ci_low"]) / (wilson_high - wilson_low)
    assert ((ratio > 1.3) & (ratio < 2.2)).all(), ratio
    # It agrees with the prompt bootstrap's percentile interval on a group this large.
    boot = bootstrap_rates(frame.assign(unit=frame["source"]), "unit", n_boot=2000, seed=0).set_index("unit")
    mine = pooled.set_index("source")
    assert (mine["ci_low"] - boot["ci_low"]).abs().max() < 0.01
    assert (mine["ci_high"] - boot["ci_high"]).abs().max() < 0.01


def test_cluster_robust_interval_by_hand():
    # Two real prompts with 2 checks each (1+1, 0+0) and three modified with 2 checks (1+0 each).
    rows = [(m, p, "2C_deference", "real", v, "") for p, v in (("r1", 1.0), ("r2", 0.0)) for m in "AB"]
    rows += [(m, p, "2C_deference", "modified", float(m == "A"), "") for p in ("m1", "m2", "m3") for m in "AB"]
    out = violation_rates(_table(rows), []).iloc[0]
    rate = 5 / 10
    # Residuals v_i - rate c_i: real +1, -1 (mean 0); modified 0, 0, 0.
    variance = (2 / 1 * (1 + 1) + 0.0) / 10**2
    n_eff = rate * (1 - rate) / variance  # 6.25 of the 10 checks
    t = student.ppf(0.975, 5 - 2)  # 5 prompts, 2 strata (sources)
    low, high = _hand_wilson(rate * n_eff, n_eff, z=t)
    assert out["rate"] == pytest.approx(rate)
    assert (out["ci_low"], out["ci_high"]) == pytest.approx((low, high))


def test_the_words_about_pooled_intervals_say_cluster_robust_not_wilson():
    """The audit found the rates docstring and the dashboard page still calling every interval of
    ``violation_rates`` Wilson; a group pooled over models gets the cluster-robust interval."""
    from pathlib import Path

    import eudaimonia_nb.analysis.rates as rates_module

    first = rates_module.__doc__.split("- ``model_rates``")[0]
    assert "cluster-robust" in first and "checks treated as independent;" not in first
    page = (Path(__file__).resolve().parent.parent / "docs" / "dashboard.md").read_text(encoding="utf-8")
    requirements_row = next(line for line in page.splitlines() if line.startswith("| Requirements |"))
    assert "cluster-robust" in requirements_row and "checks treated as independent" not in requirements_row
    frame = _table([("m1", "p1", "r1", "real", 1, ""), ("m2", "p1", "r1", "real", 0, ""),
                    ("m1", "p2", "r1", "real", 0, ""), ("m2", "p2", "r1", "real", 0, "")])
    assert violation_rates(frame, ["requirement"])["ci_method"].str.startswith("cluster-robust").all()
