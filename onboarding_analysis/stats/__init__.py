"""Statistics with no knowledge of the report (layer 3).

Intervals (:mod:`.intervals`), frequency weights and the time grid (:mod:`.compression`), the
Efron Cox fit (:mod:`.efron_cox`, with its likelihood sums in :mod:`.efron_sums`), the checks
that tell a Cox ratio that cannot be estimated (:mod:`.cox_checks`), hypothesis tests and their
corrections (:mod:`.hypothesis`), and the float-to-JSON guard (:mod:`.finite`).
"""

from .compression import WEIGHT, check_grid_hours, compress, compress_codes, compress_flagged, round_durations
from .cox_checks import NotEstimable, hazard_ratio_interval
from .cox_fit import CoxFit, covariate_columns, efron_cox, efron_cox_on, efron_ph_test
from .finite import finite_or_none
from .intervals import check_alpha, wilson_interval

__all__ = [
    "WEIGHT",
    "CoxFit",
    "NotEstimable",
    "check_alpha",
    "check_grid_hours",
    "compress",
    "compress_codes",
    "compress_flagged",
    "covariate_columns",
    "efron_cox",
    "efron_cox_on",
    "efron_ph_test",
    "finite_or_none",
    "hazard_ratio_interval",
    "round_durations",
    "wilson_interval",
]
