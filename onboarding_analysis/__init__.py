"""onboarding-analysis: is our onboarding working?

The public surface the notebooks use, ``oa.<name>``. Every analysis takes the user facts
(:class:`~onboarding_analysis.data.facts.Facts`, from :func:`compute_facts`) or a result
built from them.

>>> import onboarding_analysis as oa                               # doctest: +SKIP
>>> params = oa.load_params("params/demo.yaml")                    # doctest: +SKIP
>>> facts = oa.compute_facts(params)                               # doctest: +SKIP
>>> oa.nday_retention(facts.table, params.retention_days)          # doctest: +SKIP

Layout (a module imports only from its own layer or a lower one, never in a circle; held by
``tests/test_architecture.py``):

====  ===========================================================================================
0-1   ``errors``, ``version``; ``absence`` (figures that cannot be computed), ``names`` (name hints)
2     ``params``: the params file, its keys and defaults
3     ``data/`` (columns contract, DuckDB and Spark loading, vendor ``sources/``, facts, cache,
      pipeline), ``stats/`` (intervals, weights and the Efron Cox fit, Cox checks),
      ``display/`` (figure style, HTML tables), ``demo/`` (generator and its ground truth)
4     ``analyses/``: one module per report section
5     ``report/``: notebook execution and HTML, batches and their index, the notebooks'
      helpers, summary, findings, wording, definitions, ``metrics.json``
6     ``cli``, ``init_params``, ``__main__``; this package's own ``__init__`` is above all
====  ===========================================================================================
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from .errors import DataError as DataError
from .errors import OnboardingAnalysisError as OnboardingAnalysisError
from .errors import ParamsError as ParamsError
from .errors import StatisticalWarning as StatisticalWarning
from .version import __version__ as __version__

#: The re-exports: defining module -> public names. Imported on first use (PEP 562), so the
#: command line starts fast and ``import onboarding_analysis`` does not pull in lifelines, ibis
#: and matplotlib at once.
_EXPORTS: dict[str, tuple[str, ...]] = {
    "data.facts": ("Accounting", "Facts", "build_facts"),
    "data.loading": ("load",),
    "data.pipeline": ("compute_facts", "data_summary", "run_metrics"),
    "analyses.change": ("change_metrics", "change_summary", "compare_change", "plot_cohort_trend"),
    "analyses.drivers": ("drivers_metrics", "early_behaviours", "plot_early_behaviours"),
    "analyses.active_users": ("dau_mau", "lifecycle"),
    "analyses.engagement": (
        "engagement_metrics",
        "feature_adoption",
        "prompt_rates",
        "stickiness",
        "stickiness_summary",
    ),
    "analyses.engagement_plots": (
        "plot_dau_mau",
        "plot_feature_adoption",
        "plot_lifecycle",
        "plot_stickiness",
    ),
    "analyses.feedback": ("feedback_metrics", "feedback_summary", "plot_feedback", "with_nps_groups"),
    "analyses.funnel": (
        "checklist_completion",
        "compute_funnel",
        "format_duration",
        "funnel_metrics",
        "onboarding_time",
        "time_to_convert",
    ),
    "analyses.funnel_plots": ("plot_funnel", "plot_step_times"),
    "analyses.funnel_steps": ("FunnelResult",),
    "analyses.funnel_times": ("step_times",),
    "analyses.journey": ("last_events", "last_step_reached", "plot_where_users_stop"),
    "analyses.lifetime": ("LifetimeResult", "fit_lifetime", "lifetime_metrics"),
    "analyses.moments": ("moments_metrics", "moments_of_truth", "plot_moments"),
    "analyses.quality": ("plot_events_per_day", "quality_metrics", "quality_report"),
    "analyses.readiness": ("plot_readiness", "readiness_metrics", "readiness_scorecard"),
    "analyses.retention": (
        "CohortTable",
        "bracket_retention",
        "cohort_table",
        "nday_retention",
        "retention_curve",
        "retention_metrics",
        "unbounded_retention",
    ),
    "analyses.revenue": ("plot_net_churn", "plot_revenue_projection", "revenue_churn", "revenue_metrics"),
    "analyses.segments": (
        "compare_all",
        "compare_segments",
        "plot_hazard_ratios",
        "plot_segment_retention",
        "plot_segment_survival",
        "segment_summary",
        "segments_metrics",
    ),
    "analyses.incidence": ("aalen_johansen",),
    "analyses.ttfv": ("TTFVResult", "fit_ttfv", "plot_ttfv"),
    "analyses.ttfv_tables": ("ttfv_metrics", "ttfv_summary"),
    "report.metrics_io": ("read_metrics", "record_metrics"),
    "report.notebook": (
        "computable",
        "configured",
        "setup_notebook",
        "share_events",
        "share_moment_identifiers",
        "show",
        "show_notes",
        "show_segments",
        "show_value",
    ),
    "report.plots": ("plot_cohort_heatmap", "plot_lifetime", "plot_retention_curve"),
    "absence": ("NotComputable",),
    "params": ("Params", "churn_delay_days", "load_params", "params_from_namespace", "validate_params"),
}
_LAZY = {name: module for module, names in _EXPORTS.items() for name in names}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'onboarding_analysis' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from .absence import NotComputable  # noqa: F401
    from .analyses.active_users import dau_mau, lifecycle  # noqa: F401
    from .analyses.change import (  # noqa: F401
        change_metrics,
        change_summary,
        compare_change,
        plot_cohort_trend,
    )
    from .analyses.drivers import drivers_metrics, early_behaviours, plot_early_behaviours  # noqa: F401
    from .analyses.engagement import (  # noqa: F401
        engagement_metrics,
        feature_adoption,
        prompt_rates,
        stickiness,
        stickiness_summary,
    )
    from .analyses.engagement_plots import (  # noqa: F401
        plot_dau_mau,
        plot_feature_adoption,
        plot_lifecycle,
        plot_stickiness,
    )
    from .analyses.feedback import (  # noqa: F401
        feedback_metrics,
        feedback_summary,
        plot_feedback,
        with_nps_groups,
    )
    from .analyses.funnel import (  # noqa: F401
        checklist_completion,
        compute_funnel,
        format_duration,
        funnel_metrics,
        onboarding_time,
        time_to_convert,
    )
    from .analyses.funnel_plots import plot_funnel, plot_step_times  # noqa: F401
    from .analyses.funnel_steps import FunnelResult  # noqa: F401
    from .analyses.funnel_times import step_times  # noqa: F401
    from .analyses.incidence import aalen_johansen  # noqa: F401
    from .analyses.journey import last_events, last_step_reached, plot_where_users_stop  # noqa: F401
    from .analyses.lifetime import LifetimeResult, fit_lifetime, lifetime_metrics  # noqa: F401
    from .analyses.moments import moments_metrics, moments_of_truth, plot_moments  # noqa: F401
    from .analyses.quality import plot_events_per_day, quality_metrics, quality_report  # noqa: F401
    from .analyses.readiness import plot_readiness, readiness_metrics, readiness_scorecard  # noqa: F401
    from .analyses.retention import (  # noqa: F401
        CohortTable,
        bracket_retention,
        cohort_table,
        nday_retention,
        retention_curve,
        retention_metrics,
        unbounded_retention,
    )
    from .analyses.revenue import (  # noqa: F401
        plot_net_churn,
        plot_revenue_projection,
        revenue_churn,
        revenue_metrics,
    )
    from .analyses.segments import (  # noqa: F401
        compare_all,
        compare_segments,
        plot_hazard_ratios,
        plot_segment_retention,
        plot_segment_survival,
        segment_summary,
        segments_metrics,
    )
    from .analyses.ttfv import TTFVResult, fit_ttfv, plot_ttfv  # noqa: F401
    from .analyses.ttfv_tables import ttfv_metrics, ttfv_summary  # noqa: F401
    from .data.facts import Accounting, Facts, build_facts  # noqa: F401
    from .data.loading import load  # noqa: F401
    from .data.pipeline import compute_facts, data_summary, run_metrics  # noqa: F401
    from .params import (  # noqa: F401
        Params,
        churn_delay_days,
        load_params,
        params_from_namespace,
        validate_params,
    )
    from .report.metrics_io import read_metrics, record_metrics  # noqa: F401
    from .report.notebook import (  # noqa: F401
        computable,
        configured,
        setup_notebook,
        share_events,
        share_moment_identifiers,
        show,
        show_notes,
        show_segments,
        show_value,
    )
    from .report.plots import plot_cohort_heatmap, plot_lifetime, plot_retention_curve  # noqa: F401

__all__ = sorted(
    {"DataError", "OnboardingAnalysisError", "ParamsError", "StatisticalWarning", "__version__", *_LAZY}
)
