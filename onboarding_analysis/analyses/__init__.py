"""Layer 4 of the package: the analyses, one module per report section.

Each takes the user facts and returns tables, figures and its part of ``metrics.json``; the
modules named ``<section>_<job>`` are the parts a section is split into.
"""

from .active_users import dau_mau, lifecycle
from .change import change_metrics, change_summary, compare_change, plot_cohort_trend
from .drivers import drivers_metrics, early_behaviours, plot_early_behaviours
from .engagement import engagement_metrics, feature_adoption, prompt_rates, stickiness, stickiness_summary
from .engagement_plots import plot_dau_mau, plot_feature_adoption, plot_lifecycle, plot_stickiness
from .feedback import feedback_metrics, feedback_summary, plot_feedback, with_nps_groups
from .funnel import (
    checklist_completion,
    compute_funnel,
    format_duration,
    funnel_metrics,
    onboarding_time,
    time_to_convert,
)
from .funnel_plots import plot_funnel, plot_step_times
from .funnel_steps import FunnelResult
from .funnel_times import step_times
from .incidence import aalen_johansen
from .journey import last_events, last_step_reached, plot_where_users_stop
from .lifetime import LifetimeResult, fit_lifetime, lifetime_metrics
from .moments import moments_metrics, moments_of_truth, plot_moments
from .quality import plot_events_per_day, quality_metrics, quality_report
from .readiness import plot_readiness, readiness_metrics, readiness_scorecard
from .retention import (
    CohortTable,
    bracket_retention,
    cohort_table,
    nday_retention,
    retention_curve,
    retention_metrics,
    unbounded_retention,
)
from .revenue import plot_net_churn, plot_revenue_projection, revenue_churn, revenue_metrics
from .segments import (
    compare_all,
    compare_segments,
    plot_hazard_ratios,
    plot_segment_retention,
    plot_segment_survival,
    segment_summary,
    segments_metrics,
)
from .ttfv import TTFVResult, fit_ttfv, plot_ttfv
from .ttfv_tables import ttfv_metrics, ttfv_summary

__all__ = [
    "CohortTable",
    "FunnelResult",
    "LifetimeResult",
    "TTFVResult",
    "aalen_johansen",
    "bracket_retention",
    "change_metrics",
    "change_summary",
    "checklist_completion",
    "cohort_table",
    "compare_all",
    "compare_change",
    "compare_segments",
    "compute_funnel",
    "dau_mau",
    "drivers_metrics",
    "early_behaviours",
    "engagement_metrics",
    "feature_adoption",
    "feedback_metrics",
    "feedback_summary",
    "fit_lifetime",
    "fit_ttfv",
    "format_duration",
    "funnel_metrics",
    "last_events",
    "last_step_reached",
    "lifecycle",
    "lifetime_metrics",
    "moments_metrics",
    "moments_of_truth",
    "nday_retention",
    "onboarding_time",
    "plot_cohort_trend",
    "plot_dau_mau",
    "plot_early_behaviours",
    "plot_events_per_day",
    "plot_feature_adoption",
    "plot_feedback",
    "plot_funnel",
    "plot_hazard_ratios",
    "plot_lifecycle",
    "plot_moments",
    "plot_net_churn",
    "plot_readiness",
    "plot_revenue_projection",
    "plot_segment_retention",
    "plot_segment_survival",
    "plot_step_times",
    "plot_stickiness",
    "plot_ttfv",
    "plot_where_users_stop",
    "prompt_rates",
    "quality_metrics",
    "quality_report",
    "readiness_metrics",
    "readiness_scorecard",
    "retention_curve",
    "retention_metrics",
    "revenue_churn",
    "revenue_metrics",
    "segment_summary",
    "segments_metrics",
    "step_times",
    "stickiness",
    "stickiness_summary",
    "time_to_convert",
    "ttfv_metrics",
    "ttfv_summary",
    "unbounded_retention",
    "with_nps_groups",
]
