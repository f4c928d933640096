"""One exception tree for the package.

Every error a user can cause (bad params, bad data) is an :class:`OnboardingAnalysisError`.
The CLI prints its message and exits non-zero without a traceback; messages name the file,
the key or column, the bad value and how to fix it.
"""

from __future__ import annotations


class OnboardingAnalysisError(Exception):
    """Base class of every error caused by the user's input."""


class ParamsError(OnboardingAnalysisError, ValueError):
    """A params file or value is invalid (unknown key, wrong type, impossible value)."""


class DataError(OnboardingAnalysisError, ValueError):
    """The event log or users table breaks the data contract."""


class StatisticalWarning(UserWarning):
    """A statistical caveat the reader must see (small groups, unreached medians, ...)."""


class DataWarning(UserWarning):
    """Input rows were excluded or reinterpreted; the data-quality section counts them."""
