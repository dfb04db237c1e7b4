"""The floor plan as checks: layering contracts, no import circles, small modules and functions.

The contracts themselves are in pyproject.toml under ``[tool.importlinter]``; each check here
names its offenders, so a failure says what to fix.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("device", "drivers")
SOURCE_DIRS = ("device", "drivers", "models/wakeword/trainer", "models/commands/trainer")
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 60

# Calls that build an argparse command line. A parser function made only of these is a table of
# options, one call each and no branches; cut into 60-line pieces it would read no better.
ARGPARSE_CALLS = {
    "ArgumentParser",
    "add_argument",
    "add_argument_group",
    "add_mutually_exclusive_group",
    "add_parser",
    "add_subparsers",
    "set_defaults",
}


def test_import_contracts_hold() -> None:
    lint_imports = Path(sys.executable).with_name("lint-imports")
    assert lint_imports.exists(), f"no {lint_imports}: pip install -e '.[dev]'"
    result = subprocess.run(
        [str(lint_imports), "--no-cache", "--no-logo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """One shortest circle through each import that closes one, each circle listed once."""
    found: dict[frozenset[str], list[str]] = {}
    for importer in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            back = graph.find_shortest_chain(imported, importer, as_packages=False)
            if back is not None:
                found.setdefault(frozenset(back), [importer, *back])
    return list(found.values())


def test_no_import_cycles() -> None:
    # imports made only for type hints count too: a circle through them is one in the design
    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    cycles = [" -> ".join(cycle) for cycle in _cycles(graph)]
    assert not cycles, "import circles:\n" + "\n".join(cycles)


def test_a_circle_is_found_once_with_its_modules() -> None:
    graph = grimp.ImportGraph()
    for importer, imported in [("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")]:
        graph.add_import(importer=importer, imported=imported)
    assert _cycles(graph) == [["a", "b", "c", "a"]]


def _sources() -> Iterator[Path]:
    for folder in SOURCE_DIRS:
        yield from sorted((ROOT / folder).rglob("*.py"))


def test_no_module_is_over_500_lines() -> None:
    too_long = []
    for path in _sources():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_MODULE_LINES:
            too_long.append(f"{path.relative_to(ROOT)}: {lines} lines")
    assert not too_long, f"modules over {MAX_MODULE_LINES} lines:\n" + "\n".join(too_long)


def _called_name(node: ast.AST) -> str:
    if isinstance(node, ast.Expr | ast.Assign):
        node = node.value
    if not isinstance(node, ast.Call):
        return ""
    func = node.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def _is_argparse_table(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Whether every statement builds a parser: an argparse call, a call of another such
    function (named ``..._parser``/``..._parsers``), a docstring or a return."""
    for statement in function.body:
        if isinstance(statement, ast.Return) or (
            isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant)
        ):
            continue
        name = _called_name(statement)
        if name not in ARGPARSE_CALLS and not name.endswith(("_parser", "_parsers")):
            return False
    return True


def _long_functions(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            lines = (node.end_lineno or node.lineno) - node.lineno + 1
            if lines > MAX_FUNCTION_LINES and not _is_argparse_table(node):
                yield f"{path.relative_to(ROOT)}:{node.lineno} {node.name}: {lines} lines"


def test_no_function_is_over_60_lines() -> None:
    too_long = [found for path in _sources() for found in _long_functions(path)]
    assert not too_long, f"functions over {MAX_FUNCTION_LINES} lines:\n" + "\n".join(too_long)


def test_an_argparse_table_is_told_from_a_long_function() -> None:
    table = ast.parse(
        "def build():\n"
        "    parser = argparse.ArgumentParser()\n"
        "    parser.add_argument('--x')\n"
        "    _wakeword_parsers(parser)\n"
        "    return parser\n"
    ).body[0]
    logic = ast.parse(
        "def build():\n"
        "    parser = argparse.ArgumentParser()\n"
        "    if x:\n"
        "        parser.add_argument('--x')\n"
        "    return parser\n"
    ).body[0]
    assert isinstance(table, ast.FunctionDef) and isinstance(logic, ast.FunctionDef)
    assert _is_argparse_table(table)
    assert not _is_argparse_table(logic)
