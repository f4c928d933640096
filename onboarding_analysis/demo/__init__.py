"""The demo data (layer 3): a generated event log with an exactly known ground truth.

:mod:`.spec` (the parameters and their validation), :mod:`.generator` (the event log, users
table and truth frame, built by :mod:`.draws`, :mod:`.sessions` and :mod:`.planting` from the
vocabulary of :mod:`.events`) and :mod:`.truth` (the exact quantities the report estimates).
The story and the ground truth are in ``docs/demo.md``.
"""

from .generator import DemoData, generate, write_demo
from .spec import ClientSpec, DemoSpec, PersonaSpec
from .truth import (
    REVENUE_MONTH_COLUMNS,
    true_hazard_ratios,
    true_lifetime_survival,
    true_monthly_net_churn,
    true_revenue_months,
)

__all__ = [
    "REVENUE_MONTH_COLUMNS",
    "ClientSpec",
    "DemoData",
    "DemoSpec",
    "PersonaSpec",
    "generate",
    "true_hazard_ratios",
    "true_lifetime_survival",
    "true_monthly_net_churn",
    "true_revenue_months",
    "write_demo",
]
