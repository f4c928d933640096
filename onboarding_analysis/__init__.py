"""Is our onboarding working? The public surface of onboarding-analysis, as ``oa.<name>``.

The notebooks use these names: every name of ``analyses/`` and ``report/`` (their
``__all__``), the facts and loading entry points of ``data/``, and ``params``. Every analysis
takes the user facts
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
5     ``report/``: a run (execution: kernels, scheduling, failures), the HTML page, batches
      (planning, running) and their index, the notebooks' helpers, summary, findings,
      wording, definitions, ``metrics.json``
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

#: Subpackages re-exported whole: every name of their ``__all__`` is ``oa.<name>``.
_SUBPACKAGES = ("analyses", "report")

#: Names re-exported from other modules: defining module -> public names.
_PICKED: dict[str, tuple[str, ...]] = {
    "absence": ("NotComputable",),
    "data.facts": ("Accounting", "Facts", "build_facts"),
    "data.loading": ("load",),
    "data.pipeline": ("compute_facts", "data_summary", "run_metrics"),
    "params": ("Params", "churn_delay_days", "load_params", "params_from_namespace", "validate_params"),
}
_EAGER = ("DataError", "OnboardingAnalysisError", "ParamsError", "StatisticalWarning", "__version__")


def _public_names() -> dict[str, str]:
    """Every re-exported name -> its defining module (this imports the subpackages)."""
    names = {name: module for module, picked in _PICKED.items() for name in picked}
    for sub in _SUBPACKAGES:
        names.update(dict.fromkeys(import_module(f".{sub}", __name__).__all__, sub))
    return names


def __getattr__(name: str):
    """``oa.<name>``, imported on first use (PEP 562).

    The command line imports this package but no analysis, so lifelines, ibis and matplotlib
    are imported only when a name is first used.
    """
    if name == "__all__":
        value = sorted({*_EAGER, *_public_names()})
    else:
        picked = next((module for module, names in _PICKED.items() if name in names), None)
        module = picked or _public_names().get(name)
        if module is None:
            raise AttributeError(f"module 'onboarding_analysis' has no attribute {name!r}")
        value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The module's names, the lazily imported ones included."""
    return sorted(set(globals()) | set(__getattr__("__all__")))


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from .absence import NotComputable  # noqa: F401
    from .analyses import *  # noqa: F403
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
    from .report import *  # noqa: F403
