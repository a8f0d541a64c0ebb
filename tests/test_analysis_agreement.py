"""Cohen's kappa against values worked out by hand."""

import numpy as np
import pytest

from eudaimonia_nb.analysis.agreement import cohen_kappa, confusion, kappa_from_counts


def test_kappa_hand_worked_table():
    # 20 both, 5 only A, 10 only B, 15 neither (n = 50):
    # p_o = 35/50 = 0.7; p_A = 25/50 = 0.5, p_B = 30/50 = 0.6
    # p_e = 0.5*0.6 + 0.5*0.4 = 0.5; kappa = (0.7 - 0.5) / 0.5 = 0.4
    a = np.array([1] * 20 + [1] * 5 + [0] * 10 + [0] * 15)
    b = np.array([1] * 20 + [0] * 5 + [1] * 10 + [0] * 15)
    assert confusion(a, b).n == 50
    assert cohen_kappa(a, b) == pytest.approx(0.4)


def test_kappa_nan_pairs_dropped_and_degenerate_cases():
    a = np.array([1, 0, np.nan, 1])
    b = np.array([1, 0, 1, 1])
    assert cohen_kappa(a, b) == pytest.approx(1.0)
    assert np.isnan(cohen_kappa(np.ones(5), np.ones(5)))  # both constant: undefined
    assert kappa_from_counts(0, 10, 10, 0) == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="0, 1 or NaN"):
        cohen_kappa(np.array([2, 0]), np.array([1, 0]))
