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
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

from .errors import DataError as DataError
from .errors import OnboardingAnalysisError as OnboardingAnalysisError
from .errors import ParamsError as ParamsError
from .errors import StatisticalWarning as StatisticalWarning

#: Public name -> submodule. Imported on first use (PEP 562), so the CLI starts fast and
#: ``import onboarding_analysis`` does not pull in lifelines, ibis and matplotlib at once.
_LAZY = {
    "Accounting": "facts",
    "Facts": "facts",
    "build_facts": "facts",
    "LifetimeResult": "lifetime",
    "fit_lifetime": "lifetime",
    "lifetime_metrics": "lifetime",
    "load": "loading",
    "read_metrics": "metrics_io",
    "record_metrics": "metrics_io",
    "setup_notebook": "notebook",
    "show": "notebook",
    "show_value": "notebook",
    "Params": "params",
    "load_params": "params",
    "params_from_namespace": "params",
    "validate_params": "params",
    "compute_facts": "pipeline",
    "data_summary": "pipeline",
    "run_metrics": "pipeline",
    "plot_cohort_heatmap": "plots",
    "plot_lifetime": "plots",
    "plot_retention_curve": "plots",
    "CohortTable": "retention",
    "bracket_retention": "retention",
    "cohort_table": "retention",
    "nday_retention": "retention",
    "retention_curve": "retention",
    "retention_metrics": "retention",
    "unbounded_retention": "retention",
    "configured": "notebook",
    "churn_delay_days": "params",
    "fit_ttfv": "ttfv",
    "TTFVResult": "ttfv",
    "ttfv_metrics": "ttfv",
    "ttfv_summary": "ttfv",
    "plot_ttfv": "ttfv",
    "aalen_johansen": "ttfv",
    "FunnelResult": "funnel",
    "funnel": "funnel",
    "funnel_metrics": "funnel",
    "step_times": "funnel",
    "onboarding_time": "funnel",
    "checklist_completion": "funnel",
    "plot_funnel": "funnel",
    "plot_step_times": "funnel",
    "time_to_convert": "funnel",
    "format_duration": "funnel",
    "prompt_rates": "engagement",
    "feature_adoption": "engagement",
    "stickiness": "engagement",
    "stickiness_summary": "engagement",
    "dau_mau": "engagement",
    "lifecycle": "engagement",
    "engagement_metrics": "engagement",
    "plot_feature_adoption": "engagement",
    "plot_stickiness": "engagement",
    "plot_dau_mau": "engagement",
    "plot_lifecycle": "engagement",
    "last_step_reached": "journey",
    "last_events": "journey",
    "plot_where_users_stop": "journey",
    "show_segments": "notebook",
    "show_notes": "notebook",
    "computable": "notebook",
    "NotComputable": "absence",
    "share_moment_identifiers": "notebook",
    "share_events": "notebook",
    "quality_report": "quality",
    "quality_metrics": "quality",
    "plot_events_per_day": "quality",
    "readiness": "readiness",
    "readiness_metrics": "readiness",
    "plot_readiness": "readiness",
    "compare_segments": "segments",
    "compare_all": "segments",
    "segment_summary": "segments",
    "segments_metrics": "segments",
    "plot_segment_survival": "segments",
    "plot_hazard_ratios": "segments",
    "plot_segment_retention": "segments",
    "compare_change": "change",
    "change_summary": "change",
    "change_metrics": "change",
    "plot_cohort_trend": "change",
    "early_behaviours": "drivers",
    "drivers_metrics": "drivers",
    "plot_early_behaviours": "drivers",
    "moments_of_truth": "moments",
    "moments_metrics": "moments",
    "plot_moments": "moments",
    "revenue_churn": "revenue",
    "revenue_metrics": "revenue",
    "plot_revenue_projection": "revenue",
    "plot_net_churn": "revenue",
    "feedback_summary": "feedback",
    "feedback_metrics": "feedback",
    "plot_feedback": "feedback",
    "with_nps_groups": "feedback",
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
    from .facts import Accounting, Facts, build_facts  # noqa: F401
    from .lifetime import LifetimeResult, fit_lifetime, lifetime_metrics  # noqa: F401
    from .loading import load  # noqa: F401
    from .metrics_io import read_metrics, record_metrics  # noqa: F401
    from .notebook import setup_notebook, show, show_value  # noqa: F401
    from .params import Params, load_params, params_from_namespace, validate_params  # noqa: F401
    from .pipeline import compute_facts, data_summary, run_metrics  # noqa: F401
    from .plots import plot_cohort_heatmap, plot_lifetime, plot_retention_curve  # noqa: F401
    from .retention import (  # noqa: F401
        CohortTable,
        bracket_retention,
        cohort_table,
        nday_retention,
        retention_curve,
        retention_metrics,
        unbounded_retention,
    )

try:
    __version__ = version("onboarding-analysis")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"

__all__ = sorted({"DataError", "OnboardingAnalysisError", "ParamsError", "StatisticalWarning", *_LAZY})
