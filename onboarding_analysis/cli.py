"""Command line: ``onboarding-analysis run PARAMS...``, ``init EVENTS`` and ``demo-data``.

A thin layer: it parses arguments, calls package functions and turns user errors
(:class:`~onboarding_analysis.errors.OnboardingAnalysisError`, a missing file) into
``error: <message>`` on stderr and exit status 2, without a traceback (``--debug`` shows it).

``run`` with one params file runs one report and prints its path. With several files, or
``--per COLUMN``, it runs a batch (:mod:`onboarding_analysis.report.batch`): the runs execute in
parallel, a failing run never stops the others, ``OUT/index.html`` lists them all (its path is
printed on stdout), progress and a summary go to stderr; the exit status is 1 when a run
failed.

Examples
--------
.. code-block:: console

    $ onboarding-analysis demo-data --out data/demo
    $ onboarding-analysis run params/demo.yaml --out reports
    reports/demo/report.html
    $ onboarding-analysis run params/demo.yaml --per client --jobs 2 --quiet
    3 runs in 61.0 s (2 jobs): 3 ok, 0 failed. Index: reports/index.html
    reports/index.html
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .errors import OnboardingAnalysisError, ParamsError

#: Exit status for errors caused by the user's input (argparse uses 2 for usage errors too).
EXIT_USER_ERROR = 2

#: Exit status of a batch in which at least one run failed (the others completed).
EXIT_RUN_FAILED = 1

#: Exit status after Ctrl-C (128 + SIGINT, as shells report it).
EXIT_INTERRUPTED = 130


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); return the exit status.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments after the program name.

    Returns
    -------
    int
        0, or :data:`EXIT_USER_ERROR`, :data:`EXIT_RUN_FAILED`, :data:`EXIT_INTERRUPTED`.

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
    except KeyboardInterrupt:
        if args.debug:
            raise
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; each sub-command stores its function as ``command``.

    Returns
    -------
    argparse.ArgumentParser
        The parser of ``run``, ``init`` and ``demo-data``.
    """
    parser = argparse.ArgumentParser(
        prog="onboarding-analysis",
        description="Is our onboarding working? Parameterized notebook reports.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    debug = argparse.ArgumentParser(add_help=False)
    debug.add_argument("--debug", action="store_true", help="show the full traceback of errors")
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")
    _add_run(commands, debug)
    _add_init(commands, debug)
    _add_demo_data(commands, debug)
    return parser


def _add_run(commands: Any, debug: argparse.ArgumentParser) -> None:
    run = commands.add_parser(
        "run",
        parents=[debug],
        help="execute the report notebooks for params files and render the HTML reports",
        description="Execute the report notebooks for each PARAMS file into OUT/<client>/ "
        "(executed notebooks, metrics.json, report.html). One file: print the report's path. "
        "Several files, or --per: a batch run in parallel; a failing run never stops the "
        "others (its folder keeps error.txt and the partial notebook); OUT/index.html links "
        "every run; exit status 1 if any run failed.",
    )
    run.add_argument(
        "params", type=Path, nargs="+", metavar="PARAMS", help="params YAML file(s), e.g. params/demo.yaml"
    )
    run.add_argument("--out", type=Path, default=Path("reports"), help="output folder (default: reports)")
    run.add_argument(
        "--per",
        metavar="COLUMN",
        default=None,
        help="fan one params file out over the values of COLUMN in the data (e.g. client, plan): "
        "one run per value, with the filter {COLUMN: value} added",
    )
    run.add_argument(
        "--jobs",
        type=_jobs,
        default=None,
        metavar="N",
        help="runs executed in parallel (default: the number of CPU cores)",
    )
    run.add_argument(
        "--quiet", action="store_true", help="no progress output: print only the final summary (for CI logs)"
    )
    run.set_defaults(command=_run)


def _add_init(commands: Any, debug: argparse.ArgumentParser) -> None:
    init = commands.add_parser(
        "init",
        parents=[debug],
        help="write a first params file for your data (source, columns, period, guesses to check)",
        description=(
            "Read the events (a CSV/Parquet log or a vendor export, detected from the file) and write "
            "a minimal commented params file for them."
        ),
    )
    init.add_argument("events", help="events file, folder, zip or glob")
    init.add_argument(
        "--users", default=None, metavar="FILE", help="users table (or the vendor's users export)"
    )
    init.add_argument(
        "--client", default=None, metavar="NAME", help="run name (default: from the events file)"
    )
    init.add_argument(
        "--intercom",
        default=None,
        metavar="FILE",
        help="Intercom content data export (tours, checklists as prompts)",
    )
    init.add_argument(
        "--out", default=None, metavar="FILE", help="params file to write (default: params/<client>.yaml)"
    )
    init.set_defaults(command=_init)


def _add_demo_data(commands: Any, debug: argparse.ArgumentParser) -> None:
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


def _run(args: argparse.Namespace) -> int:
    check_out_dir(args.out)
    if len(args.params) == 1 and args.per is None:
        from .report import execution as report  # papermill and nbconvert are slow to import

        html = report.run_report(args.params[0], out_dir=args.out)
        for note in _notes(Path(html).parent):
            print(f"note: {note}", file=sys.stderr)
        print(html)
        return 0
    from .report import batch, batch_plan

    specs = batch_plan.plan_runs(args.params, per=args.per)
    progress = batch.Progress(None if args.quiet else sys.stderr)
    result = batch.run_batch(specs, out_dir=args.out, jobs=args.jobs, progress=progress)
    if not args.quiet:
        for run in result.runs:
            for note in _notes(run.run_dir) if run.ok else ():
                print(f"{run.name}: note: {note}", file=sys.stderr)
    print(result.summary(), file=sys.stderr)
    print(result.index)
    return EXIT_RUN_FAILED if result.failed else 0


def check_out_dir(out: Path) -> None:
    """Check that ``--out`` is a folder that can be written, or created, before any run starts.

    Nothing is created: the nearest existing folder on the way to ``out`` must be writable
    (``os.access``, which also sees a read-only file system when run as root).

    Parameters
    ----------
    out : Path
        The ``--out`` argument.

    Raises
    ------
    ParamsError
        ``out`` is a file, lies under a file, or its nearest existing folder is not writable:
        one line naming ``--out``, the path and the fix.
    """
    if out.exists() and not out.is_dir():
        raise ParamsError(
            f"--out {out}: is a file, not a folder. Give the folder the reports go to "
            "(it is created if missing), e.g. --out reports."
        )
    existing = next(folder for folder in (out.absolute(), *out.absolute().parents) if folder.exists())
    if not existing.is_dir():
        raise ParamsError(
            f"--out {out}: {existing} is a file, so no folder can be created under it. "
            "Give a path under a folder, e.g. --out reports."
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ParamsError(
            f"--out {out}: the folder {existing} is not writable (no permission, or a read-only "
            "file system). Give a folder you can write to, e.g. --out /tmp/reports."
        )


def _notes(run_dir: Path) -> list[str]:
    """The notes a run's report shows (metrics.json ``warnings``.

    Data and statistical caveats), to print once on the console; none if the run recorded no metrics.
    """
    from .report.metrics_io import read_metrics

    try:
        notes = read_metrics(run_dir).get("warnings") or []
    except (FileNotFoundError, ValueError):  # MetricsError is a ValueError
        return []
    return [str(note) for note in notes]


def _init(args: argparse.Namespace) -> int:
    from .init_params import init

    path, summary = init(
        args.events, users=args.users, client=args.client, out=args.out, intercom=args.intercom
    )
    print(summary)
    return 0


def _demo_data(args: argparse.Namespace) -> int:
    from .demo.generator import write_demo
    from .demo.spec import DemoSpec

    options: dict[str, Any] = {}
    if args.users is not None:
        options["spec"] = DemoSpec(n_users=args.users)
    if args.seed is not None:
        options["seed"] = args.seed
    written = write_demo(args.out, **options)
    for path in written.values():
        print(path)
    return 0


def _at_least_one(what: str, whole: str) -> Callable[[str], int]:
    """An argparse ``type`` for a whole number >= 1; ``what`` and ``whole`` name it in errors."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {whole}, got {text!r}") from None
        if value < 1:
            raise argparse.ArgumentTypeError(f"expected a number of {what} >= 1, got {value}")
        return value

    return parse


_jobs = _at_least_one("parallel runs", "a whole number of parallel runs")
_positive_int = _at_least_one("users", "a whole number")


def _message(err: BaseException) -> str:
    if isinstance(err, FileNotFoundError) and err.filename is not None:
        return f"{err.filename}: {err.strerror or 'file not found'}"
    return str(err)


def _version() -> str:
    from .version import __version__

    return __version__
