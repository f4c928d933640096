"""Cox models without an estimate: monotone likelihood is detected, good fits are not flagged.

Each separated data set is built by hand, and that it has no finite maximum is checked
independently: its partial log-likelihood, written out below from the textbook formula (no ties,
so Breslow = Efron = the plain Cox likelihood), keeps rising along the direction of separation.
Before this check existed, ``efron_cox`` "converged" on such data at a log hazard ratio of about
40 with a standard error of about 5e7 (the interval then overflowed ``math.exp``), or silently
returned such a ratio, or stopped on a singular matrix. Fits that have an estimate still equal
lifelines' ``CoxPHFitter``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter
from lifelines.exceptions import ConvergenceError

from onboarding_analysis.stats.cox_checks import (
    CONSTANT,
    MAX_EXP,
    NO_EVENTS,
    ONLY_AFTER,
    ONLY_THEIRS,
    NotEstimable,
    exp_or_nan,
    hazard_ratio_interval,
    runaway_columns,
    safe_exp,
)
from onboarding_analysis.stats.cox_fit import efron_cox


def partial_loglik(t, e, X, beta) -> float:
    """Cox partial log-likelihood without ties: sum over deaths of x_i b - log sum_{t_j >= t_i} e^{x_j b}."""
    t, e, X = np.asarray(t, float), np.asarray(e, bool), np.asarray(X, float).reshape(len(t), -1)
    eta = X @ np.asarray(beta, float)
    total = 0.0
    for i in np.flatnonzero(e):
        risk = eta[t >= t[i]]
        top = risk.max()
        total += eta[i] - (top + math.log(np.exp(risk - top).sum()))
    return total


def rising(t, e, X, direction) -> bool:
    """The likelihood increases strictly along ``direction`` (steps 0, 2, 4, 8, 16)."""
    values = [partial_loglik(t, e, X, c * np.asarray(direction, float)) for c in (0, 2, 4, 8, 16)]
    return all(b > a for a, b in zip(values, values[1:], strict=False))


T = np.arange(1.0, 9.0)
# (name, events, group column, the direction in which the likelihood rises, expected reason)
SEPARATED = [
    # group B (x = 1) never churns: its users are censored at 2, 4, 6, 8.
    ("no churn in the group", [1, 0, 1, 0, 1, 0, 1, 0], [0, 1, 0, 1, 0, 1, 0, 1], -1, NO_EVENTS),
    # all of the group's churns (1-4) come before the others' first (5).
    ("all its churns first", [1] * 8, [1, 1, 1, 1, 0, 0, 0, 0], +1, ONLY_THEIRS),
    # the group churns only once every other user is gone.
    ("all its churns last", [1] * 8, [0, 0, 0, 0, 1, 1, 1, 1], -1, ONLY_AFTER),
    # the same with censoring inside: the others are censored at 2 and 3 while the group churns.
    ("first, with censoring", [1, 0, 0, 1, 1, 1, 1, 1], [1, 0, 0, 1, 0, 0, 0, 0], +1, ONLY_THEIRS),
]


@pytest.mark.parametrize("by_pattern", [None, False])
@pytest.mark.parametrize(("name", "events", "group", "direction", "reason"), SEPARATED)
def test_separated_groups_are_not_estimable(name, events, group, direction, reason, by_pattern):
    assert rising(T, events, group, [direction]), f"{name}: the data are not separated"
    with pytest.raises(NotEstimable) as caught:
        efron_cox(T, np.array(events), pd.DataFrame({"g": group}, dtype=float), by_pattern=by_pattern)
    assert caught.value.covariates == {"g": reason}
    assert "g: " in caught.value.reason
    assert isinstance(caught.value, ConvergenceError)  # callers catching lifelines' error still work


def test_only_the_separated_covariate_is_blamed():
    # "b" separates (its users churn first); "a" overlaps the others and carries information.
    t = np.arange(1.0, 13.0)
    e = np.ones(12, dtype=bool)
    b = np.array([1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0], dtype=float)
    a = np.array([0, 1, 0, 1, 0, 0, 1, 1, 0, 1, 0, 1], dtype=float)
    assert rising(t, e, np.column_stack([a, b]), [0, 1])
    with pytest.raises(NotEstimable) as caught:
        efron_cox(t, e, pd.DataFrame({"a": a, "b": b}))
    assert caught.value.covariates == {"b": ONLY_THEIRS}


def test_separation_by_a_combination_is_not_estimable():
    """Neither column separates on its own, their sum does (ties at the top keep it monotone)."""
    rows = [  # (time, event, x1, x2)
        (1, 1, 1, 1),
        (2, 1, 1, 0),
        (3, 1, 0, 1),
        (10, 0, 1, 0),
        (10.5, 0, 0, 1),
        (11, 1, 0, 0),
        (12, 1, 0, 0),
    ]
    t, e, x1, x2 = (np.array(c, dtype=float) for c in zip(*rows, strict=True))
    X = np.column_stack([x1, x2])
    assert rising(t, e, X, [1, 1])
    for direction in ([1, 0], [-1, 0], [0, 1], [0, -1]):
        assert not rising(t, e, X, direction)
    with pytest.raises(NotEstimable):
        efron_cox(t, e.astype(bool), pd.DataFrame({"x1": x1, "x2": x2}))


def test_a_covariate_constant_at_every_churn_has_no_contrast():
    # x = 1 only for a user censored before the first churn: one value at risk at every churn.
    t = np.array([0.5, 1, 2, 3, 4.0])
    e = np.array([0, 1, 1, 1, 1], dtype=bool)
    with pytest.raises(NotEstimable) as caught:
        efron_cox(t, e, pd.DataFrame({"x": [1.0, 0, 0, 0, 0]}))
    assert caught.value.covariates == {"x": CONSTANT}


def test_no_events_is_not_estimable():
    with pytest.raises(NotEstimable, match="no churn"):
        efron_cox(T, np.zeros(8, dtype=bool), pd.DataFrame({"g": [0.0, 1] * 4}))


@pytest.mark.parametrize("by_pattern", [None, False])
def test_overlapping_groups_are_not_flagged_and_equal_lifelines(by_pattern):
    # Every group churns and is at risk next to the other: a finite maximum exists.
    rng = np.random.default_rng(5)
    n = 60
    g = (np.arange(n) % 3 == 0).astype(float)
    age = rng.normal(0, 1, n)
    t = rng.exponential(10 / np.exp(0.7 * g - 0.3 * age))
    e = rng.random(n) < 0.8
    frame = pd.DataFrame({"t": t, "e": e.astype(int), "g": g, "age": age})
    ours = efron_cox(t, e, frame[["g", "age"]], by_pattern=by_pattern)
    # Efron ties, lifelines' own Newton-Raphson, run to convergence (its default stops ~1e-5 short).
    theirs = CoxPHFitter().fit(frame, "t", "e", fit_options={"precision": 1e-13, "r_precision": 1e-16})
    np.testing.assert_allclose(ours.params_, theirs.params_[["g", "age"]], rtol=1e-8)
    np.testing.assert_allclose(ours.standard_errors_, theirs.standard_errors_[["g", "age"]], rtol=1e-8)


def test_a_coefficient_that_ran_off_is_caught_after_convergence():
    # What efron_cox returned before the data check on "all its churns first" by rows:
    # beta 38.14, standard error 4.7e7 (exp of the upper bound overflows).
    flagged = runaway_columns(np.array([0.4, 38.14]), np.array([0.2, 4.7e7]), np.ones(2), ["ok", "off"])
    assert list(flagged) == ["off"]
    # The bound is on the effect over the covariate's range: 0.3 per day over 100 days is e^30.
    assert list(runaway_columns(np.array([0.3]), np.array([0.01]), np.array([100.0]), ["days"])) == ["days"]
    assert runaway_columns(np.array([0.3]), np.array([0.01]), np.array([10.0]), ["days"]) == {}
    assert list(runaway_columns(np.array([np.nan]), np.array([1.0]), np.ones(1), ["x"])) == ["x"]


def test_exp_of_a_coefficient_cannot_overflow():
    assert safe_exp(0.5) == math.exp(0.5)
    assert safe_exp(-MAX_EXP) == math.exp(-MAX_EXP) > 0
    for x in (710.0, 4500.0, -800.0, math.inf, math.nan, None):
        assert safe_exp(x) is None
    with pytest.raises(OverflowError):
        math.exp(38.14 + 1.96 * 4.7e7)  # what the callers did before
    assert hazard_ratio_interval(38.14, 4.7e7, 1.96) is None
    low, high = math.exp(0.2 - 1.96 * 0.1), math.exp(0.2 + 1.96 * 0.1)
    assert hazard_ratio_interval(0.2, 0.1, 1.96) == (math.exp(0.2), low, high)
    np.testing.assert_array_equal(
        exp_or_nan(np.array([0.0, 4500.0, -4500.0, np.nan])), [1.0, np.nan, np.nan, np.nan]
    )


def test_docstring_examples_run():
    import doctest

    from onboarding_analysis.stats import cox_checks

    result = doctest.testmod(cox_checks)
    assert result.failed == 0 and result.attempted >= 8


def test_risk_set_extremes_by_pattern_equal_the_rows_and_the_risk_table():
    """The pattern fit's running extremes (patterns sorted by last time) equal the max / min over
    the patterns with weight at risk, and lead to the same verdicts as the fit on rows."""
    from onboarding_analysis.stats.efron_sums import EfronPatterns, EfronRows, find_patterns

    rng = np.random.default_rng(0)
    for trial in range(200):
        n = int(rng.integers(3, 60))
        t = np.floor(rng.uniform(0, 10, n)) if trial % 2 else rng.uniform(0, 10, n)
        e = rng.random(n) < 0.7
        if not e.any():
            continue
        X = np.column_stack([rng.integers(0, 2, n), rng.integers(0, 3, n)]).astype(float)
        w = rng.integers(1, 4, n).astype(float)
        by_pattern = EfronPatterns(t, e, X, w, *find_patterns(X))
        dead, high, low, when = by_pattern.extremes()
        at_risk = by_pattern.N > 0
        for c, v in enumerate(by_pattern.P.T):
            np.testing.assert_array_equal(high[:, c], np.where(at_risk, v, -np.inf).max(axis=1))
            np.testing.assert_array_equal(low[:, c], np.where(at_risk, v, np.inf).min(axis=1))
        dead_r, high_r, low_r, when_r = EfronRows(t, e, X, w).extremes()
        for c in range(2):
            assert (dead[:, c] >= high[when, c]).all() == (dead_r[:, c] >= high_r[when_r, c]).all()
            assert (dead[:, c] <= low[when, c]).all() == (dead_r[:, c] <= low_r[when_r, c]).all()
