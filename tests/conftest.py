"""Shared fixtures: tiny event logs written to tmp files."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def write_csv(tmp_path):
    """Write rows (list of dicts or a DataFrame) to a CSV in tmp_path; return its path as str."""

    def write(rows, name: str = "events.csv") -> str:
        frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(rows)
        path = tmp_path / name
        frame.to_csv(path, index=False)
        return str(path)

    return write
