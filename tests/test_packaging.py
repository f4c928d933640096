"""Packaging: environment.yml installs the same dependencies as pyproject.toml; make targets exist."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _normalise(requirement: str) -> str:
    return re.sub(r"\s+", "", requirement).lower()


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_normalise(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"]}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    listed = {_normalise(r) for r in pip_section if not r.startswith("-e")}
    assert listed == wanted, (
        f"only in environment.yml: {listed - wanted}; only in pyproject: {wanted - listed}"
    )
    assert "-e .[dev]" in pip_section
    python = [d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python")]
    assert python == ["python=3.11"]


def test_the_build_backend_takes_the_license_as_an_spdx_string():
    """A license table is deprecated from setuptools 77 (a banner on every install), which is
    also the first setuptools to read an SPDX string (PEP 639)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert config["project"]["license"] == "MIT"
    assert config["build-system"]["requires"] == ["setuptools>=77"]
    assert not [c for c in config["project"].get("classifiers", []) if c.startswith("License ::")]


def test_every_subpackage_is_installed():
    """A wheel holds every folder of the package that has an __init__.py, not only the top one."""
    from setuptools import find_packages

    include = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    found = set(find_packages(where=str(ROOT), include=include["include"]))
    on_disk = {
        ".".join(init.parent.relative_to(ROOT).parts) for init in (ROOT / "onboarding_analysis").rglob("__init__.py")
    }
    assert found == on_disk and "onboarding_analysis.data.sources" in on_disk


def test_make_help_lists_the_documented_targets():
    out = subprocess.run(["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    for target in ("demo", "test", "lab", "help", "notebooks"):
        assert f"make {target}" in out


def test_make_help_aligns_its_columns():
    """Every description starts in one column, two spaces after the longest target name."""
    out = subprocess.run(["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    lines = out.splitlines()
    targets = re.findall(r"^([a-zA-Z_-]+):.*## ", (ROOT / "Makefile").read_text(), flags=re.MULTILINE)
    assert len(lines) == len(targets) and "params-cells" in targets
    width = max(len(t) for t in targets)
    for line in lines:
        target = line.split()[1]
        assert line.startswith(f"  make {target} ")
        description_at = len("  make ") + width + 2
        assert line[description_at - 1] == " " and line[description_at] != " ", line
        assert line[len("  make ") + len(target) : description_at].strip() == "", line


def test_readme_opens_with_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    first_block = readme.split("```bash", 1)[1].split("```", 1)[0]
    assert "make demo" in first_block and "make test" in first_block
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci
