"""The notebooks' parameters cell: one source, typed for papermill, demo values and package defaults told apart."""

from __future__ import annotations

import ast
import json
import shutil
import typing
from dataclasses import fields
from pathlib import Path
from typing import Any, Optional, Union  # noqa: F401  (the names the cell's annotations use)

import nbformat
import pytest
import yaml
from papermill.translators import PythonTranslator

from onboarding_analysis.parameters_cell import (
    NOTEBOOK_PARAMETERS,
    package_defaults,
    parameters_cell_source,
    python_literal,
    write_parameters_cells,
)
from onboarding_analysis.params import Params

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
DEMO = yaml.safe_load((ROOT / "params" / "demo.yaml").read_text())
#: Keys whose demo value gives another run than the package default, read off params/demo.yaml
#: beside the package defaults documented in README's Params table (`columns` gives three of the
#: seven keys, each mapped to itself: the same as the default).
DEMO_DIFFERS = {
    "users",
    "observation_end",
    "onboarding_steps",
    "segments",
    "change_date",
    "prompts",
    "feature_events",
    "reference_groups",
    "revenue_event",
    "feedback_event",
}


def _cell(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    (cell,) = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    return cell.source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_holds_the_generated_cell(path):
    assert _cell(path) == parameters_cell_source(DEMO), f"{path.name}: run `make params-cells`"


def test_the_cell_has_one_line_per_params_key_then_output_dir():
    keys = [f.name for f in fields(Params) if f.name not in ("params_file", "base_dir")]
    assert sorted(NOTEBOOK_PARAMETERS) == sorted([*keys, "output_dir"])
    assert list(NOTEBOOK_PARAMETERS)[-1] == "output_dir"


def test_papermill_reads_every_line_with_its_type_value_and_help():
    source = parameters_cell_source(DEMO)
    parsed = PythonTranslator.inspect(nbformat.v4.new_code_cell(source))
    assert [p.name for p in parsed] == list(NOTEBOOK_PARAMETERS)
    for param in parsed:
        annotation, text = NOTEBOOK_PARAMETERS[param.name]
        assert param.inferred_type_name == annotation
        assert param.help.startswith(text)
        expected = DEMO.get(param.name, package_defaults().get(param.name))
        if hasattr(expected, "isoformat"):
            expected = expected.isoformat()
        assert ast.literal_eval(param.default) == expected, param.name


def _conforms(value: Any, annotation: Any) -> bool:
    """An independent runtime check of a value against a typing annotation (int is a float)."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation is Any:
        return True
    if origin is Union:
        return any(_conforms(value, a) for a in args)
    if origin is list:
        return isinstance(value, list) and all(_conforms(v, args[0]) for v in value)
    if origin is dict:
        return isinstance(value, dict) and all(
            _conforms(k, args[0]) and _conforms(v, args[1]) for k, v in value.items()
        )
    if annotation is type(None):
        return value is None
    if annotation is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, annotation)


def test_each_value_and_each_package_default_has_its_declared_type():
    namespace: dict[str, Any] = {}
    exec(compile(parameters_cell_source(DEMO), "parameters", "exec", dont_inherit=True), namespace)  # noqa: S102
    defaults = package_defaults()
    for key, (annotation, _) in NOTEBOOK_PARAMETERS.items():
        declared = eval(annotation)  # noqa: S307  (our own type strings)
        assert namespace["__annotations__"][key] == declared
        assert _conforms(namespace[key], declared), (key, namespace[key])
        if key in defaults:
            assert _conforms(defaults[key], declared), (key, defaults[key])


def test_the_cell_names_the_package_default_exactly_where_the_demo_differs():
    lines = {line.split(":", 1)[0]: line for line in parameters_cell_source(DEMO).splitlines() if " = " in line}
    flagged = {key for key, line in lines.items() if "(package default: " in line}
    assert flagged == DEMO_DIFFERS
    # read off README's Params table
    assert lines["users"].endswith("(package default: None)")
    assert lines["onboarding_steps"].endswith("(package default: [])")
    assert lines["prompts"].endswith("(package default: {})")
    assert lines["events"].endswith("(required: no package default)")


def test_package_defaults_are_the_documented_ones():
    defaults = package_defaults()
    assert "events" not in defaults
    # README's Params table (null -> None), and conversion_window_days is "not set"
    assert defaults["conversion_window"] == 14 and defaults["conversion_window_days"] is None
    assert defaults["columns"] == {
        k: k for k in ("user_id", "event", "timestamp", "signup_at", "account_id", "client", "value")
    }
    assert (defaults["client"], defaults["inactivity_days"], defaults["retention_days"]) == ("demo", 30, [1, 7, 30])
    assert (defaults["users"], defaults["change_date"], defaults["revenue_event"]) == (None, None, None)
    assert (defaults["churn_scenarios"], defaults["score_scale"]) == ([0.02, 0.05, -0.05], "nps")


def test_without_the_demo_the_cell_holds_the_package_defaults():
    source = parameters_cell_source({"events": "x.csv"})
    assert not [line for line in source.splitlines() if " = " in line and "(package default: " in line]
    namespace: dict[str, Any] = {}
    exec(compile(source, "parameters", "exec", dont_inherit=True), namespace)  # noqa: S102
    assert {k: namespace[k] for k in package_defaults()} == package_defaults()


def test_a_demo_key_the_cell_does_not_have_is_refused():
    with pytest.raises(ValueError, match="inactivity_dayz"):
        parameters_cell_source({"events": "x.csv", "inactivity_dayz": 3})
    with pytest.raises(ValueError, match="events"):
        parameters_cell_source({"client": "x"})


@pytest.mark.parametrize(
    "value",
    ['say "hi"', "back\\slash", "", 0.1, -5, True, None, [], {}, {"a": ["b", 1.5, None]}, "$pageview"],
)
def test_python_literal_reads_back_as_the_value(value):
    assert ast.literal_eval(python_literal(value)) == value


def test_make_params_cells_changes_only_the_parameters_cell_source(tmp_path):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    original = NOTEBOOKS[0]
    shutil.copy(original, folder / original.name)
    before = (folder / original.name).read_text(encoding="utf-8")
    assert write_parameters_cells(folder, ROOT / "params" / "demo.yaml") == []
    assert (folder / original.name).read_text(encoding="utf-8") == before  # byte for byte

    nb = json.loads(before)
    (cell,) = [c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", [])]
    cell["source"] = ["inactivity_days = 3  # edited by hand\n"]
    (folder / original.name).write_text(json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False) + "\n")
    assert write_parameters_cells(folder, ROOT / "params" / "demo.yaml") == [original.name]
    assert (folder / original.name).read_text(encoding="utf-8") == before


def test_make_params_cells_refuses_a_notebook_without_a_parameters_cell(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    nbformat.write(nb, tmp_path / "bare.ipynb")
    with pytest.raises(ValueError, match="bare.ipynb: 0 cells tagged 'parameters'"):
        write_parameters_cells(tmp_path, ROOT / "params" / "demo.yaml")
