"""Wilson score intervals: against the formula, a published table, and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm

from onboarding_analysis.stats.intervals import check_alpha, wilson_interval


def wilson_by_hand(k: int, n: int, alpha: float) -> tuple[float, float]:
    """Wilson (1927) score interval, written out from the formula."""
    z = norm.ppf(1 - alpha / 2)
    p = k / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z / (1 + z**2 / n) * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    return centre - half, centre + half


@pytest.mark.parametrize("alpha", [0.05, 0.1, 0.01])
def test_matches_the_formula(alpha):
    k = np.array([0, 1, 3, 7, 10])
    n = np.array([10, 10, 10, 12, 10])
    low, high = wilson_interval(k, n, alpha=alpha)
    expected = np.array([wilson_by_hand(int(a), int(b), alpha) for a, b in zip(k, n, strict=True)])
    np.testing.assert_allclose(low, expected[:, 0], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(high, expected[:, 1], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(
    ("k", "n", "low", "high"),
    [
        # Newcombe RG (1998), "Two-sided confidence intervals for the single proportion: comparison
        # of seven methods", Statistics in Medicine 17:857-872, Table I, method 3 (score interval
        # without continuity correction), quoted to 4 decimals.
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0000, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_matches_newcombe_1998(k, n, low, high):
    got = wilson_interval(k, n)
    assert got == pytest.approx((low, high), abs=5e-5)


def test_zero_trials_give_nan_and_shapes_broadcast():
    low, high = wilson_interval([[0, 2], [0, 5]], [[0, 4], [0, 5]])
    assert low.shape == (2, 2)
    assert np.isnan(low[:, 0]).all() and np.isnan(high[:, 0]).all()
    assert np.isfinite(low[:, 1]).all()
    assert high[1, 1] == pytest.approx(1.0)
    assert wilson_interval(0, 0) == pytest.approx((math.nan, math.nan), nan_ok=True)


def test_scalar_inputs_give_floats():
    low, high = wilson_interval(3, 10)
    assert type(low) is float and type(high) is float
    assert low < 0.3 < high


@pytest.mark.parametrize(
    ("k", "n", "match"),
    [
        (6, 5, "must not exceed"),
        (-1, 5, "non-negative whole"),
        (1.5, 5, "non-negative whole"),
        (1, math.nan, "non-negative whole"),
    ],
)
def test_bad_counts_are_rejected(k, n, match):
    with pytest.raises(ValueError, match=match):
        wilson_interval(k, n)


@pytest.mark.parametrize("alpha", [0, 1, -0.1, 1.5, "a", None])
def test_bad_alpha_is_rejected(alpha):
    with pytest.raises(ValueError, match="alpha must be a float in the range"):
        check_alpha(alpha)
    with pytest.raises(ValueError, match="alpha must be a float in the range"):
        wilson_interval(1, 2, alpha=alpha)


def test_bounds_are_exact_at_zero_and_all_successes():
    from onboarding_analysis.stats.intervals import wilson_interval as wi

    for n in (1, 7, 13, 1000):
        assert wi(n, n)[1] == 1.0 and wi(0, n)[0] == 0.0
