"""Plots: each returns its Axes with the expected artists, without warnings or style changes."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # no display in tests; set before pyplot is imported

import math  # noqa: E402
import warnings  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.collections import PolyCollection, QuadMesh  # noqa: E402

from onboarding_analysis.analyses.lifetime import fit_lifetime  # noqa: E402
from onboarding_analysis.analyses.retention import cohort_table, retention_curve  # noqa: E402
from onboarding_analysis.data import columns as C  # noqa: E402
from onboarding_analysis.display.style import GREY, MIN_AT_RISK  # noqa: E402
from onboarding_analysis.report.plots import plot_cohort_heatmap, plot_lifetime, plot_retention_curve  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture
def no_warnings_and_same_style():
    """Fail if the block emits any warning or changes matplotlib's global settings."""
    before = dict(matplotlib.rcParams)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    assert [str(w.message) for w in caught] == []
    assert dict(matplotlib.rcParams) == before


@pytest.fixture
def lifetime_result():
    rng = np.random.default_rng(1)
    lifetime = rng.exponential(15.0, size=200)
    censor = rng.uniform(0, 60, size=200)
    facts = pd.DataFrame({C.LIFETIME: np.minimum(lifetime, censor), C.CHURNED: lifetime <= censor})
    return fit_lifetime(facts, days=[1, 7, 30], horizon_days=45)


@pytest.fixture
def cohort():
    facts = pd.DataFrame(
        {
            C.T0: pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-08", "2024-01-15"]),
            C.AGE: [21.0, 15.0, 9.0, 2.0],
            C.WEEKS_MASK: np.array([0b101, 0b011, 0b001, 0b001], dtype=np.int64),
        }
    )
    # rates: 2024-01-01: [1.0, 0.5, 1.0]; 2024-01-08: [1.0, NaN, NaN]; 2024-01-15: all NaN
    return cohort_table(facts)


def test_plot_lifetime(lifetime_result, no_warnings_and_same_style):
    fig, ax = plt.subplots()
    returned = plot_lifetime(lifetime_result, ax=ax)
    assert returned is ax
    days = lifetime_result.survival["day"].tolist()
    # One KM step line, one dotted vertical and one dot per retention day.
    verticals = [line for line in ax.lines if line.get_linestyle() == ":"]
    assert sorted(line.get_xdata()[0] for line in verticals) == days
    dots = [line for line in ax.lines if line.get_marker() == "o"]
    assert [float(line.get_ydata()[0]) for line in dots] == lifetime_result.survival["survival"].tolist()
    # The estimate stops where fewer than MIN_AT_RISK users are at risk (counted here from the
    # durations), and goes on grey and dashed, named in the legend.
    durations = np.asarray(lifetime_result.kmf.durations, dtype=float)
    times = np.unique(durations)
    cutoff = times[np.array([(durations >= t).sum() for t in times]) < MIN_AT_RISK][0]
    grey = [line for line in ax.lines if line.get_linestyle() == "--" and line.get_color() == GREY]
    tail = [line for line in grey if len(line.get_xdata())]
    assert len(grey) == 2 and len(tail) == 1  # the tail and its legend entry
    assert tail[0].get_xdata()[0] == cutoff
    assert max(ax.lines[0].get_xdata()) <= cutoff
    assert "fewer than 20 users at risk" in [t.get_text() for t in ax.get_legend().get_texts()]
    assert len(ax.lines) == 1 + 2 * len(days) + 2
    # The confidence band is a filled area.
    assert any(isinstance(c, PolyCollection) for c in ax.collections)
    assert ax.get_xlabel() == "days since signup"
    # At-risk counts live on a twin axis under the plot.
    assert len(fig.axes) == 2
    counts = [label.get_text() for label in fig.axes[1].get_xticklabels()]
    assert any("At risk" in text and "users" in text for text in counts)


def test_plot_lifetime_without_counts_makes_its_own_figure(lifetime_result, no_warnings_and_same_style):
    ax = plot_lifetime(lifetime_result, at_risk=False)
    assert isinstance(ax, Axes)
    assert len(ax.figure.axes) == 1


def test_plot_cohort_heatmap(cohort, no_warnings_and_same_style):
    ax = plot_cohort_heatmap(cohort)
    meshes = [c for c in ax.collections if isinstance(c, QuadMesh)]
    assert len(meshes) == 1
    values = meshes[0].get_array()
    assert values.size == cohort.rates.size == 9
    observed = cohort.rates.notna().to_numpy()
    # NaN cells are masked (blank) and carry no annotation.
    assert int((~np.ma.getmaskarray(values)).sum()) == int(observed.sum()) == 4
    texts = [t.get_text() for t in ax.texts]
    expected = [f"{100 * v:.0f}" for v in cohort.rates.to_numpy()[observed]]
    assert texts == expected == ["100", "50", "100", "100"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["2024-01-01", "2024-01-08", "2024-01-15"]
    assert ax.get_xlabel() == "weeks since signup"


def test_plot_cohort_heatmap_on_a_given_axes_and_empty_table(cohort):
    fig, (left, right) = plt.subplots(1, 2)
    assert plot_cohort_heatmap(cohort, ax=right) is right
    assert not left.collections
    empty = cohort_table(
        pd.DataFrame({C.T0: pd.to_datetime(["2024-01-01"]), C.AGE: [1.0], C.WEEKS_MASK: [1]})
    )
    # No cohort to show (a log shorter than a period): an empty figure that says why, no error.
    ax = plot_cohort_heatmap(empty)
    assert [t.get_text() for t in ax.texts] == [
        "No weekly cohort to show yet: no user is old enough for week 0."
    ]


def test_plot_retention_curve(no_warnings_and_same_style):
    # Ten users of each kind: 30 eligible up to day 4, 20 up to day 19, then 10 (ages 40, 20, 5).
    facts = pd.DataFrame(
        {C.AGE: [40.0, 20.0, 5.0] * 10, C.DAYS_MASK: np.array([0b1011, 0b0111, 0b1] * 10, np.int64)}
    )
    curve = retention_curve(facts, max_day=30)
    ax = plot_retention_curve(curve)
    grey, line = ax.lines  # days 20..30 rest on 10 users (< MIN_AT_RISK): grey dots, no estimate
    np.testing.assert_array_equal(grey.get_xdata(), np.arange(20, 31))
    assert grey.get_color() == GREY and grey.get_linestyle() == "None"
    np.testing.assert_array_equal(line.get_xdata(), np.arange(31))
    expected = (curve["rate"] * 100).where(curve["day"] < 20)
    np.testing.assert_allclose(line.get_ydata(), expected)
    assert f"fewer than {MIN_AT_RISK} eligible users" in [t.get_text() for t in ax.get_legend().get_texts()]
    (band,) = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert band.get_paths()  # the Wilson band is drawn
    assert ax.get_xlabel() == "days since signup"
    assert "%" in ax.get_ylabel()
    assert math.isclose(ax.get_ylim()[1], 100)
    with pytest.raises(ValueError, match="columns"):
        plot_retention_curve(curve.drop(columns=["ci_low"]))


def test_plot_cohort_heatmap_without_annotations(cohort, no_warnings_and_same_style):
    ax = plot_cohort_heatmap(cohort, annot=False)
    assert len(ax.texts) == 0
    assert ax.get_ylabel() == "signup week (Monday)"


def test_vendor_event_names_with_dollars_render_literally():
    """After the notebooks' setup, '$identify vs $merge' is drawn as written, not as mathtext
    (by default matplotlib typesets the part between the two '$' as mathematics)."""
    from onboarding_analysis.report.notebook import setup_notebook

    label = "$identify vs $merge"

    def drawn(text: str):
        fig, ax = plt.subplots()
        ax.set_yticks([0, 1], [text, "x"])
        ax.set_title(text)
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        tick, title = ax.get_yticklabels()[0], ax.title
        # (text drawn, typeset as mathematics?) as the renderer receives them, and the width.
        out = (
            [t._preprocess_math(t.get_text()) for t in (tick, title)],
            tick.get_window_extent(renderer).width,
        )
        plt.close(fig)
        return out

    with matplotlib.rc_context():
        # matplotlib's default, whatever a notebook run earlier in this process set
        matplotlib.rcParams["text.parse_math"] = True
        (before, math_width) = drawn(label)
        setup_notebook()
        assert matplotlib.rcParams["text.parse_math"] is False
        (after, literal_width) = drawn(label)
    assert before == [(label, True), (label, True)]
    assert after == [(label, False), (label, False)]
    assert literal_width > math_width  # 19 characters against 'identify vs ' typeset in italics
