"""Layer 3, the data path: from the event log to the user-facts table.

``columns`` is the contract both engines share, ``loading`` the DuckDB loader, ``engines`` the
engine choice (and the Spark loader), ``sources`` the vendor readers, ``files`` and ``sql`` the
leaves they share, ``facts`` the user facts, ``cache`` the on-disk facts cache and ``pipeline``
the entry point notebooks call.
"""

from .contract import Source
from .facts import Accounting, Facts, build_facts
from .loading import load
from .pipeline import compute_facts, data_summary, run_metrics

__all__ = ["Accounting", "Facts", "Source", "build_facts", "compute_facts", "data_summary", "load", "run_metrics"]
