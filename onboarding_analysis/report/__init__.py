"""Layer 5, the report: notebook execution and HTML rendering (``execution``), batches
(``batch``) and their index (``index``), the helpers notebooks call (``notebook``), the *At a
glance* summary and its wording, the definitions and ``metrics.json`` (``metrics_io``).

Only what the notebooks' kernels use is re-exported here: ``execution``, ``batch`` and ``index``
import papermill and nbconvert (seconds to import), which a kernel never needs, so they are
imported by name (``from onboarding_analysis.report.execution import run_report``).
"""

from .metrics_io import read_metrics, record_metrics
from .notebook import (
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
from .plots import plot_cohort_heatmap, plot_lifetime, plot_retention_curve

__all__ = [
    "computable",
    "configured",
    "plot_cohort_heatmap",
    "plot_lifetime",
    "plot_retention_curve",
    "read_metrics",
    "record_metrics",
    "setup_notebook",
    "share_events",
    "share_moment_identifiers",
    "show",
    "show_notes",
    "show_segments",
    "show_value",
]
