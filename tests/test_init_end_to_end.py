"""``onboarding-analysis init`` then ``onboarding-analysis run``, unchanged, on every vendor fixture.

Each export of tests/vendor_exports.py (12 copies of its 8 users: 96 users over three weeks)
goes through the real ``init`` command in a fresh interpreter, which writes the params file.
Then the params files, as ``init`` wrote them, run every report notebook:

- three of them (the Amplitude zip with the Intercom export beside it, the PostHog UI CSV with
  its persons export, Segment's S3 archive) through one real ``onboarding-analysis run`` batch:
  exit 0, a ``report.html`` and a strict-JSON ``metrics.json`` each;
- the other six through the notebooks' own cells in this process (tests/pipeline_runner.py),
  which write the same ``metrics.json``. A kernel run costs about a minute per report here;
  what differs between sources is the reading, which both paths share, not the HTML rendering.
"""

from __future__ import annotations

import json
import math
import time
import zipfile
from pathlib import Path

import pytest
import vendor_exports as vx
import yaml

from onboarding_analysis.params import load_params
from tests.cli_runner import run_cli
from tests.pipeline_runner import run_notebooks

#: The fixtures whose params run through the real command line (the others run in process).
CLI_RUNS = ("amplitude", "posthog-csv", "segment-archive")

#: Copies of the 8 hand-written users: 96 users, 12 of whom u7-like (pre-login rows).
COPIES = 12
USERS = 8 * COPIES


def _write(data: Path) -> dict[str, tuple[str, list[str]]]:
    """Every fixture: name -> (expected source, init arguments after EVENTS' folder)."""
    out: dict[str, tuple[str, list[str]]] = {}

    def folder(name: str) -> Path:
        path = data / name
        path.mkdir()
        return path

    f = folder("amplitude")
    export = vx.write_amplitude(f)
    intercom, _ = vx.write_intercom(folder("intercom"))
    out["amplitude"] = ("amplitude", [str(export), "--intercom", str(intercom)])
    out["mixpanel"] = ("mixpanel", [str(vx.write_mixpanel(folder("mixpanel")))])
    for fmt in ("parquet", "jsonl"):
        events, persons = vx.write_posthog(folder(f"posthog-{fmt}"), fmt=fmt)
        out[f"posthog-{fmt}"] = ("posthog", [str(events), "--users", str(persons)])
    f = folder("posthog-csv")
    _, persons = vx.write_posthog(f)
    out["posthog-csv"] = ("posthog", [str(vx.write_posthog_csv(f)), "--users", str(persons)])
    tracks, identifies = vx.write_segment(folder("segment"))
    out["segment"] = ("segment", [str(tracks), "--users", str(identifies)])
    archive, _ = vx.write_segment(folder("segment-archive"), archive=True)
    out["segment-archive"] = ("segment", [str(archive)])
    for fmt in ("parquet", "jsonl"):
        out[f"ga4-{fmt}"] = ("ga4", [str(vx.write_ga4(folder(f"ga4-{fmt}"), fmt=fmt))])
    return out


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """The project folder after ``init`` on every fixture and one ``run`` of every params file."""
    root = tmp_path_factory.mktemp("e2e")
    (root / "params").mkdir()
    (root / "data").mkdir()
    env = {"ONBOARDING_ANALYSIS_CACHE": "off"}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(vx, "COPIES", COPIES)
        fixtures = _write(root / "data")
    inits, written = {}, {}
    started = time.monotonic()
    for name, (_, args) in fixtures.items():
        rel = [str(Path(a).relative_to(root)) if a.startswith(str(root)) else a for a in args]
        inits[name] = run_cli("init", rel[0], "--client", name, *rel[1:], cwd=root, env=env)
        path = root / "params" / f"{name}.yaml"
        written[name] = path.read_text() if path.exists() else None
    init_seconds = time.monotonic() - started
    files = [f"params/{n}.yaml" for n in CLI_RUNS if written[n] is not None]
    started = time.monotonic()
    batch = run_cli("run", *files, "--out", "reports", cwd=root, env=env)
    run_seconds = time.monotonic() - started
    started = time.monotonic()
    in_process = [n for n, text in written.items() if text is not None and n not in CLI_RUNS]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ONBOARDING_ANALYSIS_CACHE", "off")
        for name in in_process:
            out = root / "reports" / name
            out.mkdir(parents=True)
            params = load_params(root / "params" / f"{name}.yaml")
            run_notebooks(params.as_notebook_parameters() | {"output_dir": str(out)})
    print(
        f"\ninit x{len(fixtures)}: {init_seconds:.1f} s; run of {len(files)} params files: {run_seconds:.1f} s;"
        f" {len(in_process)} in process: {time.monotonic() - started:.1f} s"
    )
    return {"root": root, "fixtures": fixtures, "inits": inits, "written": written, "batch": batch}


def test_the_batch_of_every_init_params_file_completes(project):
    batch = project["batch"]
    assert batch.returncode == 0, batch.stdout + batch.stderr
    assert f"{len(CLI_RUNS)} ok, 0 failed" in batch.stdout + batch.stderr


def _strict(text: str) -> dict:
    def refuse(token: str) -> float:
        raise ValueError(f"metrics.json holds {token}, not strict JSON")

    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize(
    "name",
    [
        "amplitude",
        "mixpanel",
        "posthog-parquet",
        "posthog-jsonl",
        "posthog-csv",
        "segment",
        "segment-archive",
        "ga4-parquet",
        "ga4-jsonl",
    ],
)
def test_init_writes_params_that_run_unchanged_to_a_report(project, name):
    root, (source, _) = project["root"], project["fixtures"][name]
    done = project["inits"][name]
    assert done.returncode == 0, done.stderr
    assert f"{source} data, {USERS} users" in done.stdout
    path = root / "params" / f"{name}.yaml"
    text = path.read_text()
    assert text == project["written"][name]  # the run used the file as init wrote it
    raw = yaml.safe_load(text)
    assert raw["source"] == source and raw["signup_event"] == "signed_up"
    # The data's own period: 2024-03-01 to 2024-03-23 (copy 3's last dashboard visit).
    assert str(raw["observation_end"]) == "2024-03-23"
    out = root / "reports" / name
    assert not (out / "error.txt").exists(), (out / "error.txt").read_text()
    if name in CLI_RUNS:
        html = (out / "report.html").read_text(encoding="utf-8")
        assert "<html" in html.lower() and "Traceback" not in html
    metrics = _strict((out / "metrics.json").read_text(encoding="utf-8"))
    # Every export holds the same 96 users (the anonymous devices' rows have no user).
    assert metrics["data"]["users"] == USERS
    # Day-1 retention by hand: per copy k, the users i = 0..6 with (i + k) % 7 even (4 of 7)
    # come back 25 h after signing up, and u7 28 h after: 5 of 8 per copy, 60 of 96 in all,
    # every user observed for more than 2 days (the last signup is on 03-16).
    day1 = metrics["retention"]["day_1"]
    assert (day1["retained"], day1["eligible"]) == (5 * COPIES, USERS)
    assert math.isclose(day1["rate"], 60 / 96)
    if name == "amplitude":  # the Intercom export beside it: its tours are prompts of the report
        assert raw["intercom_export"] == "data/intercom/intercom.zip"
        assert "product_tour: Welcome tour" in raw["prompts"]
        with zipfile.ZipFile(root / "data" / "intercom" / "intercom.zip") as archive:
            assert archive.namelist() == ["receipts.csv"]
