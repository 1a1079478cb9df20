"""No import cycles in the project, counting the subcommands ``config.cli`` loads by importlib.

The import graph is built from the source with ``ast`` (module-level imports, the ones that
run when a module is imported; imports inside functions run later and cannot cycle at import
time) plus one edge from ``config.cli`` to every module of its COMMANDS table. A cycle fails
the test with its path. Subcommand modules must import :mod:`config.command`, not
``config.cli``: ``config.cli`` re-exports its names so that older modules still run, but such
a module closes a cycle through the importlib load and is named here so it can be moved over.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("config", "content", "protocol", "common", "hub", "idcard", "printer", "kiosk", "display", "deploy")



def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[_module_name(path)] = path
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _top_level_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """Imports that run at import time: module level, also inside if/try, not in functions."""
    out: list[ast.Import | ast.ImportFrom] = []
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        node = pending.pop(0)
        if isinstance(node, ast.Import | ast.ImportFrom):
            out.append(node)
        elif isinstance(node, ast.If):
            if not _is_type_checking(node):
                pending.extend(node.body + node.orelse)
        elif isinstance(node, ast.Try):
            pending.extend(node.body + node.orelse + node.finalbody)
            for handler in node.handlers:
                pending.extend(handler.body)
        elif isinstance(node, ast.With):
            pending.extend(node.body)
    return out


def _with_parents(name: str, modules: dict[str, Path]) -> set[str]:
    """Importing a.b.c runs a, a.b and a.b.c: each is an edge if it is one of ours."""
    parts = name.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts) + 1)} & modules.keys()


def _commands_table() -> dict[str, tuple[str, str]]:
    from config.cli import COMMANDS

    return COMMANDS


def import_graph() -> dict[str, set[str]]:
    modules = _sources()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        package = name if is_package else name.rpartition(".")[0]
        for node in _top_level_imports(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    graph[name] |= _with_parents(alias.name, modules)
                continue
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            graph[name] |= _with_parents(base, modules)
            for alias in node.names:  # ``from pkg import submodule``
                graph[name] |= _with_parents(f"{base}.{alias.name}", modules)
    for module_name, _help in _commands_table().values():  # the importlib loads
        if module_name in graph:
            graph["config.cli"].add(module_name)
    for name in graph:
        # A module's own parent packages are already imported (or importing) when it runs, so an
        # edge to them is no cycle: hub.console.core importing hub.console.schema.
        graph[name] -= {name, *(".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1))}
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One path per cycle found by depth-first search: [a, b, ..., a]."""
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return cycles


def test_cycle_finder_reports_the_path() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycles(graph) == [["a", "b", "c", "a"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_graph_sees_the_importlib_loads_and_relative_imports() -> None:
    graph = import_graph()
    assert "idcard" not in graph["idcard.simulation.model"]  # its own package: no edge
    assert "idcard.simulation.model" in graph["idcard.simulator"]
    assert {"idcard.cli", "printer.cli", "config.config_cli"} <= graph["config.cli"]
    assert "config.command" in graph["idcard.cli"]
    assert "config.cli" not in graph["idcard.cli"]


def test_subcommand_modules_do_not_import_config_cli() -> None:
    graph = import_graph()
    importers = {name for name, targets in graph.items() if "config.cli" in targets}
    assert not importers, (f"{sorted(importers)} import config.cli: import add_command, CommandError and "
                           "Context from config.command instead (config.cli loads these modules, so this is a cycle)")


def test_no_import_cycles() -> None:
    cycles = find_cycles(import_graph())
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_command_module_is_a_leaf() -> None:
    graph = import_graph()
    seen: set[str] = set()
    pending = ["config.command"]
    while pending:
        name = pending.pop()
        if name not in seen:
            seen.add(name)
            pending.extend(graph[name])
    assert seen <= {"config", "config.command", "config.settings", "content", "common.exitcodes",
                    "common.netutil", "content.credentials"}, sorted(seen)


KIVY_FREE = ("config", "content", "idcard", "printer")


@pytest.mark.parametrize("package", KIVY_FREE)
def test_every_module_imports(package: str) -> None:
    """Every module of the Kivy-free packages imports (the graph above covers kiosk/ and display/)."""
    names = sorted(n for n in _sources() if n == package or n.startswith(package + "."))
    failed = {}
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            failed[name] = str(exc)
    assert not failed, failed


def test_python_dash_m_config_cli_uses_one_command_error() -> None:
    cli = importlib.import_module("config.cli")
    command = importlib.import_module("config.command")
    assert cli.CommandError is command.CommandError and cli.Context is command.Context


LIBRARIES = ("content", "idcard", "printer")


def _all_imports(tree: ast.Module) -> set[str]:
    """Every module named by an import anywhere in the file (also inside functions), except
    under ``if TYPE_CHECKING:`` (annotations only)."""
    skipped = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and _is_type_checking(node)
               for n in ast.walk(node)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.add(node.module)
    return found


def test_libraries_do_not_import_config() -> None:
    """config/ stands on top: it reads the settings and wires the parts. The libraries below it
    take typed arguments and never import it, not even inside a function; only their command
    modules (``cli.py``, ``*_cli.py``) do, being entry points."""
    offenders = {}
    for name, path in _sources().items():
        leaf = name.rpartition(".")[2]
        if name.split(".")[0] not in LIBRARIES or leaf == "cli" or leaf.endswith("_cli"):
            continue
        imports = {m for m in _all_imports(ast.parse(path.read_text(encoding="utf-8"), str(path)))
                   if m == "config" or m.startswith("config.")}
        if imports:
            offenders[name] = sorted(imports)
    assert not offenders, f"library modules that import config/: {offenders}"
