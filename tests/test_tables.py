"""Tables formatted by column meaning: HTML for the report, plain text for nbval."""

from __future__ import annotations

import pandas as pd
import pytest
from bs4 import BeautifulSoup

from onboarding_analysis.display.tables import Table, column_kind, format_value


def _cells(table: Table) -> list[list[str]]:
    soup = BeautifulSoup(table._repr_html_(), "html.parser")
    return [
        [c.get_text(" ", strip=True) for c in tr.find_all(["th", "td"])] for tr in soup.select("tbody tr")
    ]


def _heads(table: Table) -> list[str]:
    soup = BeautifulSoup(table._repr_html_(), "html.parser")
    return [th.get_text(" ", strip=True) for th in soup.select("thead th")]


@pytest.mark.parametrize(
    ("value", "kind", "expected"),
    [
        (0.4291, "percent", "42.9%"),
        (0.0, "percent", "0.0%"),
        (1.0, "percent", "100.0%"),
        (-0.05, "percent", "-5.0%"),
        (189953, "count", "189,953"),
        (1234567.0, "count", "1,234,567"),
        (0.0004, "p", "< 0.001"),
        (0.0005, "p", "0.001"),  # rounds to 0.001: not "< 0.001"
        (0.01234, "p", "0.012"),
        (1.0, "p", "1.000"),
        (0.7923, "ratio", "0.79"),
        (257587.4, "money", "257,587.40"),
        (12.5, "number", "12.500"),
        (float("nan"), "percent", ""),
        (None, "count", ""),
        (float("inf"), "number", ""),
        ("paid", "text", "paid"),
    ],
)
def test_format_value(value, kind, expected):
    assert format_value(value, kind) == expected


def test_money_takes_the_currency_as_code_after_and_symbol_before():
    assert format_value(257587.4, "money", currency="EUR") == "257,587.40 EUR"
    assert format_value(1500, "money", currency="$") == "$1,500.00"
    assert format_value(-1500, "money", currency="£") == "-£1,500.00"


def test_dates_lose_microseconds_and_midnight():
    assert format_value(pd.Timestamp("2024-08-31 23:58:45.947945"), "date") == "2024-08-31 23:58:45"
    assert format_value(pd.Timestamp("2024-09-01 00:00:00"), "date") == "2024-09-01"
    assert format_value(pd.Timestamp("2024-09-01 02:00", tz="Europe/Berlin"), "date") == "2024-09-01"


@pytest.mark.parametrize(
    ("name", "values", "kind"),
    [
        ("p", [0.1], "p"),
        ("p_raw", [0.1], "p"),
        ("p_adjusted", [0.1], "p"),
        ("ph_p", [0.1], "p"),
        ("logrank_p", [0.1], "p"),
        ("rate", [0.1], "percent"),
        ("share", [0.1], "percent"),
        ("share_ge_7", [0.1], "percent"),
        ("from_previous", [0.1], "percent"),
        ("monthly_net_churn", [0.1], "percent"),
        ("survival", [0.1], "percent"),
        ("projected_year_revenue", [1.0], "money"),
        ("hazard_ratio", [1.0], "ratio"),
        ("df", [1.0], "count"),
        ("users", [1, 2], "count"),
        ("statistic", [1.5], "number"),
        ("step", ["a"], "text"),
        ("value", [pd.Timestamp("2024-01-01")], "date"),
        ("paid", [True], "text"),
    ],
)
def test_column_kind_from_name_and_dtype(name, values, kind):
    assert column_kind(name, pd.Series(values)) == kind


def test_an_interval_joins_its_estimate_in_one_cell():
    table = Table(
        pd.DataFrame(
            {
                "day": [1, 30],
                "eligible": [6000, 5387],
                "rate": [0.429, 0.1966],
                "ci_low": [0.417, 0.186],
                "ci_high": [0.442, 0.207],
            }
        )
    )
    assert _heads(table) == ["day", "eligible", "rate 95% CI"]
    assert _cells(table) == [["1", "6,000", "42.9% 41.7%–44.2%"], ["30", "5,387", "19.7% 18.6%–20.7%"]]


def test_prefixed_intervals_pair_with_the_column_before_them():
    table = Table(
        pd.DataFrame(
            {
                "event": ["a"],
                "hazard_ratio": [0.79],
                "hr_ci_low": [0.727],
                "hr_ci_high": [0.859],
                "p_raw": [1e-6],
                "p_adjusted": [0.0123],
            }
        )
    )
    assert _cells(table) == [["a", "0.79 0.73–0.86", "< 0.001", "0.012"]]


def test_rows_of_different_quantities_take_the_tables_row_formats():
    data = pd.DataFrame(
        {
            "what": ["users", "reached value by day 7"],
            "before": [2327.0, 0.275],
            "after": [3673.0, 0.391],
            "p": [float("nan"), 0.0001],
        }
    )
    data.attrs["row_formats"] = {"users": "count", "reached value by day 7": "percent"}
    data.attrs["note"] = "95% intervals."
    table = Table(data)
    assert _cells(table) == [
        ["users", "2,327", "3,673", "–"],
        ["reached value by day 7", "27.5%", "39.1%", "< 0.001"],
    ]
    assert "95% intervals." in table._repr_html_()


def test_explicit_formats_override_the_name_and_currency_labels_money():
    data = pd.DataFrame({"scenario": ["measured"], "value": [0.2], "projected_year_revenue": [1000.0]})
    table = Table(data, formats={"value": "percent"}, currency="EUR")
    assert _cells(table) == [["measured", "20.0%", "1,000.00 EUR"]]
    assert _heads(table)[-1] == "projected year revenue (EUR)"
    with pytest.raises(ValueError, match="unknown column formats"):
        Table(data, formats={"value": "percentage"})


def test_plain_text_keeps_pandas_text_with_rounded_floats():
    data = pd.DataFrame(
        {
            "day": [1, 7],
            "rate": [0.42913, float("nan")],
            "at": pd.to_datetime(["2024-01-01 00:37:59", "2024-08-31 23:58:45.947945"], format="ISO8601"),
        }
    )
    assert repr(Table(data)) == (
        " day  rate                  at\n   1 0.429 2024-01-01 00:37:59\n   7       2024-08-31 23:58:45"
    )


def test_an_empty_table_is_a_sentence():
    data = pd.DataFrame(columns=["param", "event", "closest"])
    table = Table(data, empty="Every params event occurs in the data.")
    assert repr(table) == "Every params event occurs in the data."
    html = table._repr_html_()
    assert "<table" not in html and "Every params event occurs in the data." in html
    assert "Empty DataFrame" not in repr(Table(data))


def test_html_is_escaped_right_aligned_and_can_collapse():
    data = pd.DataFrame({"group": ["<b>x</b>"], "users": [5]})
    html = Table(data, details="Test table")._repr_html_()
    soup = BeautifulSoup(html, "html.parser")
    assert soup.find("details").summary.get_text() == "Test table"
    assert soup.find("b") is None  # the group name is text, not markup
    assert soup.select_one("tbody td")["class"] == ["oa-num"]
    assert soup.select_one("tbody th")["class"] == ["oa-text"]


def test_show_displays_both_representations(capsys):
    from IPython.core.formatters import DisplayFormatter

    from onboarding_analysis.display.tables import Table as T

    data, _ = DisplayFormatter().format(T(pd.DataFrame({"rate": [0.5]})))
    assert data["text/plain"] == " rate\n0.500"
    assert "50.0%" in data["text/html"]


def test_show_value_keeps_the_text_and_writes_the_number_for_reading(monkeypatch):
    import IPython.display

    from onboarding_analysis.report.notebook import show_value

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda data, **kwargs: shown.append(data))
    show_value("churned users", 3687)
    show_value("  95% CI low", 40.90345)
    show_value("median lifetime (days)", None)
    assert [d["text/plain"] for d in shown] == [
        "churned users: 3687",
        "  95% CI low: 40.903",
        "median lifetime (days): not reached",
    ]
    assert "<strong>3,687</strong>" in shown[0]["text/html"]
    assert 'class="oa-value oa-sub"' in shown[1]["text/html"]


def test_none_in_a_text_column_prints_blank():
    data = pd.DataFrame({"signal": ["feedback"], "value": pd.Series([None], dtype=object)})
    assert "None" not in repr(Table(data)) and "None" not in Table(data)._repr_html_()
