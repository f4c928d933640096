"""Command line: ``onboarding-analysis run PARAMS`` and ``onboarding-analysis demo-data``.

A thin layer: it parses arguments, calls one package function and turns user errors
(:class:`~onboarding_analysis.errors.OnboardingAnalysisError`, a missing file) into
``error: <message>`` on stderr and exit status 2, without a traceback (``--debug`` shows it).

Examples
--------
.. code-block:: console

    $ onboarding-analysis demo-data --out data/demo
    $ onboarding-analysis run params/demo.yaml --out reports
    reports/demo/report.html
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .errors import OnboardingAnalysisError

#: Exit status for errors caused by the user's input (argparse uses 2 for usage errors too).
EXIT_USER_ERROR = 2


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); return the exit status.

    Examples
    --------
    >>> main(["run", "params/demo.yaml", "--out", "reports"])        # doctest: +SKIP
    0
    """
    args = build_parser().parse_args(argv)
    try:
        return args.command(args)
    except (OnboardingAnalysisError, FileNotFoundError) as err:
        if args.debug:
            raise
        print(f"error: {_message(err)}", file=sys.stderr)
        return EXIT_USER_ERROR


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; each sub-command stores its function as ``command``."""
    parser = argparse.ArgumentParser(
        prog="onboarding-analysis",
        description="Is our onboarding working? Parameterized notebook reports.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    debug = argparse.ArgumentParser(add_help=False)
    debug.add_argument("--debug", action="store_true", help="show the full traceback of errors")
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    run = commands.add_parser(
        "run",
        parents=[debug],
        help="execute the report notebooks for one params file and render the HTML report",
        description="Execute the report notebooks for PARAMS into OUT/<client>/ (executed "
        "notebooks, metrics.json, report.html) and print the report's path.",
    )
    run.add_argument("params", type=Path, metavar="PARAMS", help="params YAML file, e.g. params/demo.yaml")
    run.add_argument("--out", type=Path, default=Path("reports"), help="output folder (default: reports)")
    run.set_defaults(command=_run)

    demo = commands.add_parser(
        "demo-data",
        parents=[debug],
        help="write the seeded demo event log and users table",
        description="Write the seeded, multi-client demo data set with a known ground truth.",
    )
    demo.add_argument(
        "--out", type=Path, default=Path("data/demo"), help="output folder (default: data/demo)"
    )
    demo.add_argument(
        "--users", type=_positive_int, default=None, metavar="N", help="number of users (default: 6000)"
    )
    demo.add_argument("--seed", type=int, default=None, metavar="S", help="random seed (default: fixed)")
    demo.set_defaults(command=_demo_data)
    return parser


def _run(args: argparse.Namespace) -> int:
    from .report import run_report  # papermill and nbconvert are slow to import

    html = run_report(args.params, out_dir=args.out)
    print(html)
    return 0


def _demo_data(args: argparse.Namespace) -> int:
    from .demo import DemoSpec, write_demo

    options: dict[str, Any] = {}
    if args.users is not None:
        options["spec"] = DemoSpec(n_users=args.users)
    if args.seed is not None:
        options["seed"] = args.seed
    written = write_demo(args.out, **options)
    for path in written.values():
        print(path)
    return 0


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number of users >= 1, got {value}")
    return value


def _message(err: BaseException) -> str:
    if isinstance(err, FileNotFoundError) and err.filename is not None:
        return f"{err.filename}: {err.strerror or 'file not found'}"
    return str(err)


def _version() -> str:
    try:
        from . import __version__  # already imported with the package: no cost
    except ImportError:  # a stale install without the package's __init__
        from .report import package_version

        return package_version()
    return __version__
