"""Privacy between clients: a client's outputs hold only that client's data, and no user ids.

Markers are planted in acme's data only (an event name, a user id, a segment value); the demo
is then run per client (``onboarding-analysis run --per client``) and every output of every
other client is searched for them. The acme report must show the marker event (so the search
would find a leak), and no report shows user identifiers (``show_identifiers: false``).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from onboarding_analysis.demo import DemoSpec, write_demo
from onboarding_analysis.report.execution import REPORT_NOTEBOOKS

ROOT = Path(__file__).resolve().parent.parent
CLIENTS = ("acme", "globex", "initech")
MARKER_EVENT = "zz_marker_event_of_acme"
MARKER_USER = "zz_marker_user_of_acme"
MARKER_CHANNEL = "zz_marker_channel_of_acme"
MARKERS = (MARKER_EVENT, MARKER_USER, MARKER_CHANNEL)
DEMO_USER_ID = re.compile(r"\bu\d{6}\b")
DATA_URI = re.compile(r"data:[a-z]+/[a-z0-9.+-]+;base64,[A-Za-z0-9+/=]+")


def _plant_markers(folder: Path) -> None:
    """Acme only: every acme user's last event is followed by MARKER_EVENT; one acme user is
    renamed MARKER_USER; a few acme users get the channel MARKER_CHANNEL."""
    events = pd.read_parquet(folder / "events.parquet")
    users = pd.read_csv(folder / "users.csv")
    acme = users.loc[users["client"] == "acme", "user_id"]
    renamed = acme.iloc[0]
    users.loc[users["user_id"].isin(acme.iloc[1:40]), "channel"] = MARKER_CHANNEL
    last = events[events["user_id"].isin(acme)].sort_values("timestamp").groupby("user_id").tail(1).copy()
    last["event"] = MARKER_EVENT
    last["timestamp"] = last["timestamp"] + pd.Timedelta(seconds=1)
    events = pd.concat([events, last], ignore_index=True).sort_values("timestamp", kind="stable")
    events["user_id"] = events["user_id"].replace({renamed: MARKER_USER})
    users["user_id"] = users["user_id"].replace({renamed: MARKER_USER})
    events.to_parquet(folder / "events.parquet", index=False)
    users.to_csv(folder / "users.csv", index=False)


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    project = tmp_path_factory.mktemp("privacy")
    write_demo(project / "data" / "demo", spec=DemoSpec(n_users=600))
    _plant_markers(project / "data" / "demo")
    (project / "params").mkdir()
    params = yaml.safe_load((ROOT / "params" / "demo.yaml").read_text())
    assert params["show_identifiers"] is False
    (project / "params" / "demo.yaml").write_text(yaml.safe_dump(params))
    env = os.environ.copy()
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    proc = subprocess.run(
        [sys.executable, "-m", "onboarding_analysis", "run", "params/demo.yaml", "--per", "client"]
        + ["--jobs", "2", "--out", "out", "--quiet"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr
    return project / "out"


def _outputs(folder: Path) -> dict[str, str]:
    """Every output file of a run (report, executed notebooks, metrics), by name."""
    files = [folder / "report.html", folder / "metrics.json", *sorted(folder.glob("*.ipynb"))]
    assert len(files) == len(REPORT_NOTEBOOKS) + 2, sorted(p.name for p in folder.iterdir())
    return {path.name: path.read_text(encoding="utf-8") for path in files}


def test_each_client_got_its_own_run(batch):
    assert sorted(p.name for p in batch.iterdir()) == sorted([*CLIENTS, "index.html"])
    for client in CLIENTS:
        assert f"filters</th><td>client: {client}</td>" in (batch / client / "report.html").read_text()


def test_the_marker_event_shows_in_acme_report(batch):
    """The positive control: a leak of the marker would be found."""
    outputs = _outputs(batch / "acme")
    assert MARKER_EVENT in outputs["report.html"]
    assert MARKER_EVENT in outputs["onboarding.ipynb"]


@pytest.mark.parametrize("client", ["globex", "initech"])
def test_no_acme_marker_in_another_clients_outputs(batch, client):
    for name, text in _outputs(batch / client).items():
        for marker in MARKERS:
            assert marker not in text, f"{client}/{name} contains acme's {marker}"


def test_no_user_identifier_in_any_html(batch):
    pages = {f"{c}/report.html": (batch / c / "report.html").read_text() for c in CLIENTS}
    pages["index.html"] = (batch / "index.html").read_text()
    for name, page in pages.items():
        text = DATA_URI.sub("data:", page)  # base64 images can spell anything
        assert MARKER_USER not in text, name
        found = DEMO_USER_ID.findall(text)
        assert not found, f"{name} shows user ids {found[:5]} (show_identifiers is false)"
    for client in CLIENTS:
        assert not DEMO_USER_ID.findall((batch / client / "metrics.json").read_text())


def test_the_index_names_no_marker(batch):
    text = (batch / "index.html").read_text()
    assert not [marker for marker in MARKERS if marker in text]


def test_acme_report_does_not_reveal_other_clients_volume(batch):
    events = pd.read_parquet(batch.parent / "data" / "demo" / "events.parquet")
    users = pd.read_csv(batch.parent / "data" / "demo" / "users.csv")
    acme_rows = int(events["user_id"].isin(users.loc[users["client"] == "acme", "user_id"]).sum())
    data = yaml.safe_load((batch / "acme" / "metrics.json").read_text())["data"]
    assert "user filtered out" not in (batch / "acme" / "report.html").read_text()
    assert data["events_read"] == acme_rows
    assert data["files"] == {next(iter(data["files"])): acme_rows}
    total = len(events)  # the whole log's rows: the other clients' volume follows from it
    text = DATA_URI.sub("data:", (batch / "acme" / "report.html").read_text())
    assert str(total) not in text and f"{total:,}" not in text
