"""The docs that ship with the repository say what the package does: every figure, params key and
metrics.json key is documented, links resolve, and nothing names an internal file or issue."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest
import yaml

from onboarding_analysis.errors import ParamsError
from onboarding_analysis.params import Params, validate_params
from onboarding_analysis.report.definitions import DEFINITIONS

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def _read(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def _sections(text: str) -> dict[str, str]:
    """Heading text (``##`` or ``###``) -> the text under it, up to the next heading."""
    parts = re.split(r"^(#{2,3}) (.+)$", text, flags=re.M)
    return {parts[i + 1].strip(): parts[i + 2] for i in range(1, len(parts) - 2, 3)}


def _table_keys(text: str) -> list[str]:
    """The backticked first cell of every Markdown table row (the key a row documents)."""
    return re.findall(r"^\| `([^`]+)` \|", text, flags=re.M)


# ---------------------------------------------------------------------------------------------
# docs/metrics.md
# ---------------------------------------------------------------------------------------------


def test_every_report_definition_has_its_heading_in_metrics_md():
    headings = set(_sections(_read("metrics.md")))
    missing = [d.term for d in DEFINITIONS if d.term not in headings]
    assert not missing, f"docs/metrics.md has no '## <term>' heading for: {missing}"


def test_metrics_md_names_the_params_and_numbers_of_each_definition():
    """docs/metrics.md and the report's appendix must not drift apart: every params placeholder
    (``{inactivity_days}``) and every literal number of a definition appears in its section of
    docs/metrics.md or in the shared conventions."""
    sections = _sections(_read("metrics.md"))
    shared = sections["Conventions shared by every figure"]
    problems = []
    for d in DEFINITIONS:
        body = sections[d.term] + shared
        for param in re.findall(r"\{(\w+)\}", d.text):
            if param not in body:
                problems.append(f"{d.term}: params key {param}")
        for number in re.findall(r"(?<![\w{])\d+(?:\.\d+)?(?![\w}])", d.text):
            if not re.search(rf"(?<![\d.]){re.escape(number)}(?![\d])", body):
                problems.append(f"{d.term}: number {number}")
    assert not problems, problems


def test_the_censoring_paragraph_of_the_report_matches_metrics_md():
    from onboarding_analysis.report.definitions import _DEFAULTS, CENSORING

    shared = _sections(_read("metrics.md"))["Conventions shared by every figure"]
    assert f"fewer than {_DEFAULTS['min_at_risk']} users are\nstill at risk" in shared
    assert "never counted as lost" in CENSORING and "never counted as lost" in shared


def test_every_metrics_json_section_is_defined_in_metrics_md(demo_run):
    _, folder, _ = demo_run
    sections = json.loads((folder / "metrics.json").read_text())
    named = " ".join(re.findall(r"^metrics\.json:.*(?:\n(?!\n).*)*", _read("metrics.md"), flags=re.M))
    missing = [s for s in sections if not re.search(rf"`{re.escape(s)}(`|\.|\[)", named)]
    assert not missing, f"no 'metrics.json:' line of docs/metrics.md names: {missing}"


# ---------------------------------------------------------------------------------------------
# docs/params.md
# ---------------------------------------------------------------------------------------------

#: Params fields that are not YAML keys (set by the loader).
NOT_KEYS = {"params_file", "base_dir"}


def _params_keys() -> set[str]:
    return {f.name for f in dataclasses.fields(Params)} - NOT_KEYS


def test_every_params_key_is_documented_and_no_documented_key_is_unknown():
    documented = _table_keys(_read("params.md"))
    assert len(documented) == len(set(documented)), "a key is documented twice"
    assert set(documented) - _params_keys() == set(), "docs/params.md documents keys Params does not have"
    assert _params_keys() - set(documented) == set(), "Params keys missing from docs/params.md"
    for key in documented:  # every documented key is accepted by the validation
        with pytest.raises(ParamsError, match=f"key '{key}'"):
            validate_params({"events": "e.csv", key: object()})


def test_documented_defaults_are_the_package_defaults():
    """The ``default`` column (when it starts with a YAML literal) equals what a params file
    without the key gets; a default written as ``(= other key)`` follows that key."""
    defaults = validate_params({"events": "e.csv"}).as_notebook_parameters()
    rows = re.findall(r"^\| `([^`]+)` \| [^|]+ \| ([^|]+) \|", _read("params.md"), flags=re.M)
    checked = 0
    for key, cell in rows:
        literal = re.match(r"\s*`([^`]+)`", cell)
        if literal is None or "(= " in cell or key == "events":
            continue
        assert yaml.safe_load(literal.group(1)) == defaults[key], f"{key}: documented default {cell.strip()}"
        checked += 1
    assert checked >= 50


# ---------------------------------------------------------------------------------------------
# docs/outputs.md
# ---------------------------------------------------------------------------------------------

#: Parents whose child keys are names from the data or params, and the placeholder documenting them.
COLLAPSE = (
    (r"adoption", "<feature>"),
    (r"prompts", "<name>"),
    (r"segments", "<column>"),
    (r"segments\.<column>\.groups", "<value>"),
    (r"drivers\.events", "<event>"),
    (r"(data|data_quality)\.(excluded|users_excluded)", "<reason>"),
    (r"(data|data_quality)\.files", "<file>"),
    (r"data_quality\.t0_source", "<source>"),
    (r"moments\.eligible", "<kind>"),
    (r"summary\.headline", "<key>"),
    (r"readiness", "<signal>"),
)
#: Keys documented as a whole (free-form per finding, or lists of names).
WHOLE = {"summary.findings[].numbers"}


def metrics_paths(value, parent: str = ""):
    """Key paths of a metrics.json value: names from the data collapsed to placeholders, day N
    to ``day_<N>``, list elements to ``[]``."""
    if parent in WHOLE:
        yield parent
        return
    if isinstance(value, dict) and value:
        for key, child in value.items():
            name = next((ph for pat, ph in COLLAPSE if re.fullmatch(pat, parent)), key)
            name = re.sub(r"day_\d+$", "day_<N>", name)
            yield from metrics_paths(child, f"{parent}.{name}" if parent else name)
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        for child in value:
            yield from metrics_paths(child, parent + "[]")
    else:
        yield parent


def test_metrics_paths_collapse_names_from_the_data():
    metrics = {
        "retention": {"day_1": {"rate": 0.5}, "day_30": {"rate": None}},
        "segments": {"plan": {"groups": {"pro": {"users": 3}, "free": {"users": 4}}, "pooled": []}},
        "funnel": {"steps": [{"step": "a"}, {"step": "b"}]},
        "summary": {"findings": [{"numbers": {"x": 1}}]},
    }
    assert sorted(set(metrics_paths(metrics))) == [
        "funnel.steps[].step",
        "retention.day_<N>.rate",
        "segments.<column>.groups.<value>.users",
        "segments.<column>.pooled",
        "summary.findings[].numbers",
    ]


def test_every_key_of_the_demo_metrics_json_is_documented(demo_run):
    _, folder, _ = demo_run
    metrics = json.loads((folder / "metrics.json").read_text())
    documented = set(re.findall(r"`([^`\s]+)`", _read("outputs.md")))
    paths = sorted(set(metrics_paths(metrics)))
    assert len(paths) > 150  # the demo configures every section
    missing = [
        p
        for p in paths
        if p not in documented and not any(d.startswith((p + ".", p + "[")) for d in documented)
    ]
    assert not missing, f"docs/outputs.md does not document: {missing}"


# ---------------------------------------------------------------------------------------------
# README and links
# ---------------------------------------------------------------------------------------------


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.replace("`", "").lower())
    return text.replace(" ", "-")


def _markdown_files() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]


def test_readme_links_every_doc():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    linked = set(re.findall(r"\]\(docs/([\w.-]+\.md)\)", readme))
    assert linked == {p.name for p in DOCS.glob("*.md")}


@pytest.mark.parametrize("page", _markdown_files(), ids=lambda p: p.name)
def test_relative_links_and_anchors_resolve(page):
    text = page.read_text(encoding="utf-8")
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(target)
        elif anchor:
            headings = re.findall(r"^#{1,6} (.+)$", file.read_text(encoding="utf-8"), flags=re.M)
            if anchor not in {_slug(h) for h in headings}:
                broken.append(target)
    assert not broken, f"{page.name}: broken links {broken}"


@pytest.mark.parametrize("page", _markdown_files(), ids=lambda p: p.name)
def test_docs_name_no_internal_file_or_issue(page):
    text = page.read_text(encoding="utf-8")
    assert not re.search(r"shared/|METRICS\.md|\bissues? #?\d+|(?<![\w&])#\d+\b", text), page.name


@pytest.mark.parametrize("page", _markdown_files(), ids=lambda p: p.name)
def test_module_paths_named_in_docs_exist(page):
    named = set(re.findall(r"onboarding_analysis/[\w/]+\.py", page.read_text(encoding="utf-8")))
    assert [p for p in sorted(named) if not (ROOT / p).is_file()] == []
