"""onboarding-analysis: is our onboarding working?

The public surface used by the notebooks. Every function takes the user-facts table (one row
per user, :mod:`onboarding_analysis.columns`) or a result built from it.

>>> import onboarding_analysis as oa                               # doctest: +SKIP
>>> params = oa.load_params("params/demo.yaml")                    # doctest: +SKIP
>>> facts = oa.compute_facts(params)                               # doctest: +SKIP
>>> oa.nday_retention(facts.table, params.retention_days)          # doctest: +SKIP
"""

from __future__ import annotations

import sys
import types
from importlib import import_module
from typing import TYPE_CHECKING

from .errors import DataError as DataError
from .errors import OnboardingAnalysisError as OnboardingAnalysisError
from .errors import ParamsError as ParamsError
from .errors import StatisticalWarning as StatisticalWarning
from .version import __version__ as __version__

#: Public name -> submodule. Imported on first use (PEP 562), so the CLI starts fast and
#: ``import onboarding_analysis`` does not pull in lifelines, ibis and matplotlib at once.
_LAZY = {
    "Accounting": "data.facts",
    "Facts": "data.facts",
    "build_facts": "data.facts",
    "LifetimeResult": "analyses.lifetime",
    "fit_lifetime": "analyses.lifetime",
    "lifetime_metrics": "analyses.lifetime",
    "load": "data.loading",
    "read_metrics": "report.metrics_io",
    "record_metrics": "report.metrics_io",
    "setup_notebook": "report.notebook",
    "show": "report.notebook",
    "show_value": "report.notebook",
    "Params": "params",
    "load_params": "params",
    "params_from_namespace": "params",
    "validate_params": "params",
    "compute_facts": "data.pipeline",
    "data_summary": "data.pipeline",
    "run_metrics": "data.pipeline",
    "plot_cohort_heatmap": "report.plots",
    "plot_lifetime": "report.plots",
    "plot_retention_curve": "report.plots",
    "CohortTable": "analyses.retention",
    "bracket_retention": "analyses.retention",
    "cohort_table": "analyses.retention",
    "nday_retention": "analyses.retention",
    "retention_curve": "analyses.retention",
    "retention_metrics": "analyses.retention",
    "unbounded_retention": "analyses.retention",
    "configured": "report.notebook",
    "churn_delay_days": "params",
    "fit_ttfv": "analyses.ttfv",
    "TTFVResult": "analyses.ttfv",
    "ttfv_metrics": "analyses.ttfv",
    "ttfv_summary": "analyses.ttfv",
    "plot_ttfv": "analyses.ttfv",
    "aalen_johansen": "analyses.ttfv",
    "FunnelResult": "analyses.funnel",
    "funnel": "analyses.funnel",
    "funnel_metrics": "analyses.funnel",
    "step_times": "analyses.funnel",
    "onboarding_time": "analyses.funnel",
    "checklist_completion": "analyses.funnel",
    "plot_funnel": "analyses.funnel",
    "plot_step_times": "analyses.funnel",
    "time_to_convert": "analyses.funnel",
    "format_duration": "analyses.funnel",
    "prompt_rates": "analyses.engagement",
    "feature_adoption": "analyses.engagement",
    "stickiness": "analyses.engagement",
    "stickiness_summary": "analyses.engagement",
    "dau_mau": "analyses.engagement",
    "lifecycle": "analyses.engagement",
    "engagement_metrics": "analyses.engagement",
    "plot_feature_adoption": "analyses.engagement",
    "plot_stickiness": "analyses.engagement",
    "plot_dau_mau": "analyses.engagement",
    "plot_lifecycle": "analyses.engagement",
    "last_step_reached": "analyses.journey",
    "last_events": "analyses.journey",
    "plot_where_users_stop": "analyses.journey",
    "show_segments": "report.notebook",
    "show_notes": "report.notebook",
    "computable": "report.notebook",
    "NotComputable": "absence",
    "share_moment_identifiers": "report.notebook",
    "share_events": "report.notebook",
    "quality_report": "analyses.quality",
    "quality_metrics": "analyses.quality",
    "plot_events_per_day": "analyses.quality",
    "readiness": "analyses.readiness",
    "readiness_metrics": "analyses.readiness",
    "plot_readiness": "analyses.readiness",
    "compare_segments": "analyses.segments",
    "compare_all": "analyses.segments",
    "segment_summary": "analyses.segments",
    "segments_metrics": "analyses.segments",
    "plot_segment_survival": "analyses.segments",
    "plot_hazard_ratios": "analyses.segments",
    "plot_segment_retention": "analyses.segments",
    "compare_change": "analyses.change",
    "change_summary": "analyses.change",
    "change_metrics": "analyses.change",
    "plot_cohort_trend": "analyses.change",
    "early_behaviours": "analyses.drivers",
    "drivers_metrics": "analyses.drivers",
    "plot_early_behaviours": "analyses.drivers",
    "moments_of_truth": "analyses.moments",
    "moments_metrics": "analyses.moments",
    "plot_moments": "analyses.moments",
    "revenue_churn": "analyses.revenue",
    "revenue_metrics": "analyses.revenue",
    "plot_revenue_projection": "analyses.revenue",
    "plot_net_churn": "analyses.revenue",
    "feedback_summary": "analyses.feedback",
    "feedback_metrics": "analyses.feedback",
    "plot_feedback": "analyses.feedback",
    "with_nps_groups": "analyses.feedback",
}


class _PublicSurface(types.ModuleType):
    """The package module: a submodule named like a public function (``funnel``, ``readiness``)
    must not replace the function when Python binds the imported submodule on the package."""

    def __setattr__(self, name: str, value) -> None:
        if isinstance(value, types.ModuleType) and _LAZY.get(name) == name:
            if name not in self.__dict__:  # keep the function; the module stays in sys.modules
                super().__setattr__(name, getattr(value, name))
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _PublicSurface


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
    from .analyses.lifetime import LifetimeResult, fit_lifetime, lifetime_metrics  # noqa: F401
    from .analyses.retention import (  # noqa: F401
        CohortTable,
        bracket_retention,
        cohort_table,
        nday_retention,
        retention_curve,
        retention_metrics,
        unbounded_retention,
    )
    from .data.facts import Accounting, Facts, build_facts  # noqa: F401
    from .data.loading import load  # noqa: F401
    from .data.pipeline import compute_facts, data_summary, run_metrics  # noqa: F401
    from .params import Params, load_params, params_from_namespace, validate_params  # noqa: F401
    from .report.metrics_io import read_metrics, record_metrics  # noqa: F401
    from .report.notebook import setup_notebook, show, show_value  # noqa: F401
    from .report.plots import plot_cohort_heatmap, plot_lifetime, plot_retention_curve  # noqa: F401


__all__ = sorted({"DataError", "OnboardingAnalysisError", "ParamsError", "StatisticalWarning", *_LAZY})
