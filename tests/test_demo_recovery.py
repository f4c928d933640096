"""End to end on the demo data: the facts equal the simulated truth, estimators recover it.

The demo generator (onboarding_analysis.demo) knows every user's true lifetime L and what the
inactivity rule must yield under both censoring rules; these tests run the real pipeline
(DuckDB loading -> ibis facts -> lifelines) on the written files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from onboarding_analysis import columns as C
from onboarding_analysis.demo import DemoSpec, true_lifetime_survival, write_demo
from onboarding_analysis.lifetime import fit_lifetime
from onboarding_analysis.params import load_params, validate_params
from onboarding_analysis.pipeline import compute_facts
from onboarding_analysis.retention import unbounded_retention

SEED = 20240101
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    paths = write_demo(out, seed=SEED)
    base = load_params(ROOT / "params" / "demo.yaml").as_notebook_parameters()
    raw = base | {"events": str(paths["events"]), "users": str(paths["users"])}
    truth = pd.read_parquet(paths["truth"])
    return raw, truth


@pytest.mark.parametrize(
    ("rule", "truth_column"),
    [("observable", "duration_observable_days"), ("observation_end", "duration_observation_end_days")],
)
def test_facts_reproduce_the_truth_to_the_microsecond(demo_run, rule, truth_column):
    raw, truth = demo_run
    facts = compute_facts(validate_params(raw | {"lifetime_censoring": rule}))
    t = facts.table.set_index(C.USER_ID).sort_index()
    truth = truth.set_index("user_id").sort_index()
    assert list(t.index) == list(truth.index)
    np.testing.assert_array_equal(t[C.CHURNED].to_numpy(), truth["churn_observed"].to_numpy())
    np.testing.assert_allclose(t[C.LIFETIME], truth[truth_column], rtol=0, atol=1e-6 / 86400 * 2)
    np.testing.assert_allclose(t[C.AGE], truth["age_days"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(t[C.VALUE], truth["ttfv_days"], rtol=0, atol=1e-6 / 86400 * 2)


def test_kaplan_meier_recovers_the_demo_lifetime_distribution(demo_run):
    raw, truth = demo_run
    facts = compute_facts(validate_params(raw))
    days = (1, 7, 30)
    result = fit_lifetime(facts.table, days=days, horizon_days=90)
    expected = true_lifetime_survival(np.array(days, dtype=float), truth, DemoSpec())
    s = result.survival.set_index("day")
    for day, true_value in zip(days, expected, strict=True):
        assert s.loc[day, "ci_low"] <= true_value <= s.loc[day, "ci_high"], (day, true_value, s.loc[day].to_dict())
    # And the interval is informative: a survival 3 points off the truth falls outside it.
    assert not (s.loc[30, "ci_low"] <= expected[2] + 0.03 <= s.loc[30, "ci_high"])
    # With every user followed beyond day 30, survival before day N equals "active on or after day N".
    on_or_after = unbounded_retention(facts.table, days).set_index("day")
    np.testing.assert_allclose(s["survival"], on_or_after["rate"], rtol=1e-12)
