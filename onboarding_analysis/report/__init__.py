"""Layer 5, the report: runs, batches, the page, and the helpers notebooks call.

One run (``execution``) executes notebooks in kernels (``kernels``, ``scheduling``), says why one failed (``failures``) and renders the page
(``page``, ``report_css``); batches (``batch_plan``, ``batch``, ``naming``) and their index
(``index``); the helpers notebooks call (``notebook``, ``section_helpers``, ``shared_events``, ``plots``); the *At
a glance* summary (``summary``, ``findings``, ``wording``), the definitions and
``metrics.json`` (``metrics_io``).

Only what the notebooks' kernels use is re-exported here: the run, page and batch modules
import papermill and nbconvert (seconds to import), which a kernel never needs, so they are
imported by name (``from onboarding_analysis.report.execution import run_report``).
"""

from .metrics_io import read_metrics, record_metrics
from .notebook import (
    computable,
    configured,
    setup_notebook,
    show,
    show_notes,
    show_value,
)
from .plots import plot_cohort_heatmap, plot_lifetime, plot_retention_curve
from .section_helpers import share_moment_identifiers, show_segments
from .shared_events import share_events

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
