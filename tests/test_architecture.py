"""The package's layers: imports only go to the same or a lower layer, and never in a circle.

Read from the source with :mod:`ast` (nothing is imported), counting every import, including the
ones inside functions. The layers are those of the package docstring of ``onboarding_analysis``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "onboarding_analysis"

#: Layer of each top-level part of the package (a module or a subpackage); the package's own
#: ``__init__`` (the public surface) is above everything.
LAYERS = {
    "errors": 0,
    "version": 0,
    "absence": 1,
    "names": 1,
    "params": 2,
    "params_checks": 2,
    "data": 3,
    "stats": 3,
    "display": 3,
    "demo": 3,
    "analyses": 4,
    "report": 5,
    "cli": 6,
    "init_params": 6,
    "init_detect": 6,
    "parameters_cell": 6,
    "__main__": 6,
    "": 7,
}


def module_names(root: Path) -> dict[str, Path]:
    """Dotted name (without the package's own name; ``""`` for its ``__init__``) -> file."""
    names = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names[".".join(parts)] = path
    return names


def import_edges(root: Path) -> set[tuple[str, str]]:
    """Every ``(importer, imported)`` pair between the modules under ``root``, lazy ones too.

    ``from . import x`` counts as importing the submodule ``x`` when there is one, else the
    package; absolute imports of the package (``import onboarding_analysis.x``) count as well.
    """
    modules = module_names(root)
    top = root.name
    edges = set()
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            targets = []
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".") if package else []
                    base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                    if node.level - 1 > len(package.split(".") if package else []):
                        raise AssertionError(f"{path}: import beyond the package: {ast.unparse(node)}")
                    target = ".".join([*base, *([node.module] if node.module else [])])
                elif node.module == top or (node.module or "").startswith(top + "."):
                    target = node.module[len(top) :].lstrip(".")
                else:
                    continue
                for alias in node.names:
                    sub = f"{target}.{alias.name}" if target else alias.name
                    targets.append(sub if sub in modules else target)
            elif isinstance(node, ast.Import):
                targets = [
                    a.name[len(top) :].lstrip(".")
                    for a in node.names
                    if a.name == top or a.name.startswith(top + ".")
                ]
            for target in targets:
                if target not in modules:
                    raise AssertionError(f"{path}: imports {target!r}, which is no module of {top}")
                if target != name:
                    edges.add((name, target))
    return edges


def layer(name: str) -> int:
    """The layer of module ``name`` (by its top-level part)."""
    return LAYERS[name.split(".")[0]]


def upward_imports(edges: set[tuple[str, str]]) -> list[str]:
    """The imports that go to a higher layer, as ``a -> b (layer i -> j)``."""
    return sorted(
        f"{a or '<package>'} -> {b or '<package>'} (layer {layer(a)} -> {layer(b)})"
        for a, b in edges
        if layer(b) > layer(a)
    )


def cycles(edges: set[tuple[str, str]]) -> list[list[str]]:
    """The import cycles: each strongly connected component of more than one module (Tarjan)."""
    graph: dict[str, list[str]] = {}
    for a, b in sorted(edges):
        graph.setdefault(a, []).append(b)
        graph.setdefault(b, [])
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return sorted(found)


def within(edges: set[tuple[str, str]], subpackage: str) -> set[tuple[str, str]]:
    """The edges between modules of ``subpackage``."""
    inside = lambda m: m == subpackage or m.startswith(subpackage + ".")  # noqa: E731
    return {(a, b) for a, b in edges if inside(a) and inside(b)}


EDGES = import_edges(PACKAGE)


def test_every_part_of_the_package_has_a_layer():
    assert {m.split(".")[0] for m in module_names(PACKAGE)} <= set(LAYERS)


def test_imports_only_go_to_the_same_or_a_lower_layer():
    assert upward_imports(EDGES) == []


@pytest.mark.parametrize("subpackage", sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()))
def test_no_cycle_within_a_subpackage(subpackage):
    assert cycles(within(EDGES, subpackage)) == []


def test_no_cycle_across_the_package():
    assert cycles(EDGES) == []


# --- the checker itself, on a fabricated package ------------------------------------------------


def _fake_package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "onboarding_analysis"
    for name, text in {"__init__.py": "", **files}.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def test_checker_finds_an_upward_import_even_inside_a_function(tmp_path):
    root = _fake_package(
        tmp_path,
        {
            "errors.py": "",
            "data/__init__.py": "",
            "data/loading.py": "def f():\n    from ..report import execution\n",
            "report/__init__.py": "",
            "report/execution.py": "from ..data.loading import f\n",
        },
    )
    edges = import_edges(root)
    assert edges == {("data.loading", "report.execution"), ("report.execution", "data.loading")}
    assert upward_imports(edges) == ["data.loading -> report.execution (layer 3 -> 5)"]
    assert cycles(edges) == [["data.loading", "report.execution"]]


def test_checker_finds_a_cycle_within_a_subpackage_and_through_the_package(tmp_path):
    root = _fake_package(
        tmp_path,
        {
            "params.py": "import onboarding_analysis\n",
            "analyses/__init__.py": "",
            "analyses/funnel.py": "from .funnel_posthog import posthog_funnel\n",
            "analyses/funnel_posthog.py": "from . import funnel\nfrom .. import params\n",
        },
    )
    edges = import_edges(root)
    assert within(edges, "analyses") == {
        ("analyses.funnel", "analyses.funnel_posthog"),
        ("analyses.funnel_posthog", "analyses.funnel"),
    }
    assert cycles(within(edges, "analyses")) == [["analyses.funnel", "analyses.funnel_posthog"]]
    assert upward_imports(edges) == ["params -> <package> (layer 2 -> 7)"]


def test_checker_accepts_a_clean_layering(tmp_path):
    root = _fake_package(
        tmp_path,
        {
            "errors.py": "",
            "params.py": "from .errors import ParamsError\n",
            "stats/__init__.py": "from .intervals import wilson\n",
            "stats/intervals.py": "from ..errors import DataError\n",
            "analyses/__init__.py": "",
            "analyses/retention.py": "from ..stats import intervals\nfrom ..params import P\n",
        },
    )
    edges = import_edges(root)
    assert upward_imports(edges) == [] and cycles(edges) == []
    assert ("analyses.retention", "stats.intervals") in edges


def test_checker_rejects_an_import_of_a_missing_module(tmp_path):
    root = _fake_package(tmp_path, {"cli.py": "from .nowhere import main\n"})
    with pytest.raises(AssertionError, match="'nowhere', which is no module"):
        import_edges(root)
