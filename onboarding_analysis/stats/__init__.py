"""Layer 3, statistics with no knowledge of the report: intervals, frequency weights and the
Efron Cox fit, and the checks that tell a Cox ratio that cannot be estimated.
"""

from .compression import CoxFit, compress, efron_cox, efron_cox_on, efron_ph_test
from .cox_checks import NotEstimable, hazard_ratio_interval
from .finite import finite_or_none
from .intervals import check_alpha, wilson_interval

__all__ = [
    "CoxFit",
    "NotEstimable",
    "check_alpha",
    "compress",
    "efron_cox",
    "efron_cox_on",
    "efron_ph_test",
    "finite_or_none",
    "hazard_ratio_interval",
    "wilson_interval",
]
