"""The package's code rules: module and function size, numpydoc docstrings, ruff's docstring rules.

- No module over 500 lines and no function over 80 lines (from ``def`` to its end, without its
  docstring), unless the code says why: a ``# size-exception: <reason>`` comment line in the
  module's first 40 lines, or on the line directly above the ``def`` (or its decorators).
- Every public function, class and method has a numpydoc docstring that documents its
  parameters and what it returns (``numpydoc lint`` with the checks of pyproject.toml's
  ``[tool.numpydoc_validation]``), and ruff's ``D`` rules (numpy convention) pass.

Each checker is shown to fail on a small bad example, so a pass means something.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "onboarding_analysis"
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80
MARK = "# size-exception:"


def _reason(line: str) -> bool:
    text = line.strip()
    return text.startswith(MARK) and len(text) > len(MARK) + 3


def size_violations(path: Path) -> list[str]:
    """Where ``path`` breaks the size rule without a stated reason: one line per breach."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found = []
    if len(lines) > MAX_MODULE_LINES and not any(_reason(line) for line in lines[:40]):
        found.append(f"{path}: {len(lines)} lines (over {MAX_MODULE_LINES}, no '{MARK}' reason)")
    for node in ast.walk(ast.parse("\n".join(lines), filename=str(path))):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        length = node.end_lineno - node.lineno + 1
        first = node.body[0]
        if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
            length -= first.end_lineno - first.lineno + 1
        top = min([d.lineno for d in node.decorator_list] + [node.lineno])
        if length > MAX_FUNCTION_LINES and not (top >= 2 and _reason(lines[top - 2])):
            found.append(f"{path}:{node.lineno}: {node.name} is {length} lines (over {MAX_FUNCTION_LINES})")
    return found


def _package_files() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_no_module_or_function_over_the_size_limit_without_a_reason():
    found = [v for path in _package_files() for v in size_violations(path)]
    assert found == [], "\n".join(found)


def test_the_size_checker_finds_a_long_module_and_a_long_function_and_reads_reasons(tmp_path):
    body = "\n".join(f"    x{i} = {i}" for i in range(80))  # with the def line: 81
    long_function = tmp_path / "f.py"
    long_function.write_text(f'def f():\n    """Doc."""\n{body}\n', encoding="utf-8")
    assert [v.split(": ", 1)[1] for v in size_violations(long_function)] == ["f is 81 lines (over 80)"]
    long_function.write_text(f"# size-exception: one table of constants\ndef f():\n{body}\n", encoding="utf-8")
    assert size_violations(long_function) == []
    # The docstring does not count: 80 code lines and a long docstring pass.
    doc = '    """' + "\n".join(["Doc."] * 30) + '"""'
    short = "\n".join(f"    x{i} = {i}" for i in range(79))
    long_function.write_text(f"def f():\n{doc}\n{short}\n", encoding="utf-8")
    assert size_violations(long_function) == []
    module = tmp_path / "m.py"
    module.write_text("\n".join(f"x{i} = {i}" for i in range(501)) + "\n", encoding="utf-8")
    assert len(size_violations(module)) == 1
    module.write_text("# size-exception:\n" + module.read_text(encoding="utf-8"), encoding="utf-8")
    assert len(size_violations(module)) == 1  # a marker without a reason is no reason
    module.write_text("# size-exception: generated constants\n" + module.read_text(encoding="utf-8"))
    assert size_violations(module) == []


def _numpydoc(files: list[Path]) -> subprocess.CompletedProcess:
    # ``numpydoc lint`` reads [tool.numpydoc_validation] from the pyproject.toml above the files.
    return subprocess.run(
        [sys.executable, "-m", "numpydoc", "lint", *map(str, files)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def test_every_public_function_has_a_numpydoc_docstring():
    done = _numpydoc(_package_files())
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_numpydoc_check_finds_an_undocumented_parameter_and_return(tmp_path):
    project = tmp_path / "project"
    (project / "pkg").mkdir(parents=True)
    (project / "pyproject.toml").write_text(
        (ROOT / "pyproject.toml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    bad = project / "pkg" / "bad.py"
    bad.write_text('"""A module."""\n\n\ndef f(x):\n    """Do it."""\n    return x\n', encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "numpydoc", "lint", str(bad)], cwd=project, capture_output=True, text=True
    )
    assert done.returncode != 0
    assert "PR01" in done.stdout + done.stderr and "RT01" in done.stdout + done.stderr
    good = project / "pkg" / "good.py"
    good.write_text(
        '"""A module."""\n\n\ndef f(x):\n    """Do it.\n\n    Parameters\n    ----------\n    x : int\n'
        "        The value.\n\n    Returns\n    -------\n    int\n        The same value.\n"
        '    """\n    return x\n\n\ndef _private(y):\n    return y\n',
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-m", "numpydoc", "lint", str(good)], cwd=project, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_ruff_docstring_rules_pass_on_the_package():
    # pyproject.toml's rule selection (D included, D401/D105 ignored); ``--select`` on the
    # command line would replace it and bring the ignored rules back.
    ruff = Path(sys.executable).parent / "ruff"
    done = subprocess.run([str(ruff), "check", str(PACKAGE)], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
