"""The rooms' import rules and no import circles, counting imports inside functions.

The import graph is built from the source with ``ast``: every import, at module level or inside a
function (a function-level import is a dependency all the same, only a later one), except under
``if TYPE_CHECKING:``, plus one edge from ``config.cli`` to every module of its COMMANDS table
(loaded by importlib). A circle fails the test with its path.

Who may import whom (ARCHITECTURE.md):

| room | may import |
|---|---|
| leaf helpers (``common``) | nothing of ours |
| the contract (``protocol``) | leaf |
| station data and devices (``content``, ``printer``, ``idcard``) | each other, contract, leaf |
| faces (``kiosk``, ``display``) | station data, devices, contract, leaf |
| the centre (``hub``) | contract, leaf |
| ``deploy`` | contract, leaf |
| ``config`` | everything |

A station command module (``cli.py`` or ``*_cli.py`` of the station data, the devices or
``deploy/``: an entry point that ``config.cli`` loads) stands on config's floor and may import it;
the hub's command modules keep the hub's rule (their framework is :mod:`common.command`), and the
faces have none: ``yizhan kiosk`` and ``yizhan display`` live under config/ and hand them their parts. Edges the rules do not yet allow are
named one by one in :data:`ALLOWED_EDGES`, each with its reason.
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


def _imports(name: str, path: Path, modules: dict[str, Path], *, inside_functions: bool) -> set[str]:
    """Our modules that ``name`` imports: at import time only, or anywhere in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    if inside_functions:
        skipped = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and _is_type_checking(node)
                   for n in ast.walk(node)}
        nodes = [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom) and id(n) not in skipped]
    else:
        nodes = _top_level_imports(tree)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            for alias in node.names:
                found |= _with_parents(alias.name, modules)
            continue
        base = node.module or ""
        if node.level:
            anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
            base = ".".join(anchor + ([base] if base else []))
        found |= _with_parents(base, modules)
        for alias in node.names:  # ``from pkg import submodule``
            found |= _with_parents(f"{base}.{alias.name}", modules)
    return found


def _commands_table() -> dict[str, tuple[str, str]]:
    from config.cli import COMMANDS

    return COMMANDS


def import_graph(*, inside_functions: bool = True) -> dict[str, set[str]]:
    """Module -> the modules of ours it imports (by default counting imports inside functions)."""
    modules = _sources()
    graph = {name: _imports(name, path, modules, inside_functions=inside_functions)
             for name, path in modules.items()}
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
    graph = import_graph(inside_functions=False)
    assert "idcard" not in graph["idcard.simulation.model"]  # its own package: no edge
    assert "idcard.simulation.model" in graph["idcard.simulator"]
    assert {"idcard.cli", "printer.cli", "config.config_cli"} <= graph["config.cli"]
    assert "config.command" in graph["idcard.cli"]
    assert "config.cli" not in graph["idcard.cli"]


def test_graph_counts_imports_inside_functions() -> None:
    """``config.doctor`` imports ``deploy.install`` only inside a function: still an edge."""
    assert "deploy.install" not in import_graph(inside_functions=False)["config.doctor"]
    assert "deploy.install" in import_graph()["config.doctor"]


def test_subcommand_modules_do_not_import_config_cli() -> None:
    graph = import_graph()
    importers = {name for name, targets in graph.items() if "config.cli" in targets}
    assert not importers, (f"{sorted(importers)} import config.cli: import add_command, CommandError and "
                           "Context from config.command instead (config.cli loads these modules, so this is a cycle)")


def test_no_import_cycles() -> None:
    cycles = find_cycles(import_graph())
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def _reached(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    pending = [start]
    while pending:
        name = pending.pop()
        if name not in seen:
            seen.add(name)
            pending.extend(graph[name])
    return seen


def test_command_module_is_a_leaf() -> None:
    """Every command module imports the framework, so it must pull in nothing but the settings:
    the settings' own module, the sealed credentials they read, and the leaf helpers and the
    contract (rooms that import nothing above them, so they cannot drag in a station's part, a
    face or the hub). The framework itself is a leaf helper."""
    graph = import_graph()
    beyond = {name for name in _reached(graph, "config.command") if _room(name) not in ("common", "protocol")}
    assert beyond <= {"config", "config.command", "config.settings", "content", "content.credentials"}, sorted(beyond)
    assert {_room(name) for name in _reached(graph, "common.command")} == {"common"}


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


# Which rooms each room may import (besides itself). None: everything.
RULES: dict[str, frozenset[str] | None] = {
    "common": frozenset(),
    "protocol": frozenset({"common"}),
    "content": frozenset({"printer", "idcard", "protocol", "common"}),
    "printer": frozenset({"content", "idcard", "protocol", "common"}),
    "idcard": frozenset({"content", "printer", "protocol", "common"}),
    "kiosk": frozenset({"content", "printer", "idcard", "protocol", "common"}),
    "display": frozenset({"content", "printer", "idcard", "protocol", "common"}),
    "hub": frozenset({"protocol", "common"}),
    "deploy": frozenset({"protocol", "common"}),
    "config": None,
}

# Edges the rules do not allow yet, each a real dependency still to be moved; the test fails
# when one is no longer needed, so that this list only shrinks.
ALLOWED_EDGES: dict[tuple[str, str], str] = {
    # The station's health report names the last upgrade; its state file's reader lives with the upgrader.
    ("content.health", "deploy.upgrade"): "read_state of the upgrade state file",
    # The hub's example feed is the station demo's sample content (content.sample imports only
    # the contract and leaf helpers: it could become the contract's example).
    ("hub.example", "content.sample"): "sample content for the example feed",
    # The installer and the backup set up and carry the station's data: sealed credentials
    # (systemd-creds), the outbox key, the feed's trust state.
    ("deploy.backup", "content.credentials"): "seal/unseal the outbox key and token",
    ("deploy.install", "content.credentials"): "seal the outbox key and token",
    ("deploy.install", "content.outbox"): "the outbox key's place",
    ("deploy.install", "content.trust_store"): "the station's trust state, to verify a bundle",
    ("deploy.install", "config.settings"): "the station.toml it writes and reads back",
    # The upgrader waits for a visit to end and keeps the media cache's room.
    ("deploy.upgrade", "content.media"): "bounded downloads with resume",
    ("deploy.upgrade", "content.visit_lock"): "wait for a resident's visit to end",
}


def _room(name: str) -> str:
    return name.split(".")[0]


def _is_station_command(name: str) -> bool:
    leaf = name.rpartition(".")[2]
    return _room(name) not in ("hub", "kiosk", "display") and (leaf == "cli" or leaf.endswith("_cli"))


def rule_breaks(graph: dict[str, set[str]]) -> set[tuple[str, str]]:
    """Every edge from a room to a room its rule does not name (station command modules excepted)."""
    breaks = set()
    for name, targets in graph.items():
        allowed = RULES[_room(name)]
        if allowed is None or _is_station_command(name):
            continue
        for target in targets:
            if _room(target) != _room(name) and _room(target) not in allowed:
                breaks.add((name, target))
    return breaks


def test_rule_checker_names_the_edge() -> None:
    graph = {"hub.cli": {"config.command", "common.command"}, "common.files": set(), "config.cli": {"hub.cli"},
             "content.sync_cli": {"config.station"}, "kiosk.app": {"config.station", "content.store"}}
    assert rule_breaks(graph) == {("hub.cli", "config.command"), ("kiosk.app", "config.station")}


def test_every_room_has_a_rule() -> None:
    assert set(PACKAGES) == set(RULES)


def _allowed(edge: tuple[str, str]) -> bool:
    """Named in ALLOWED_EDGES, or the package of a module named there (importing a.b runs a)."""
    return edge in ALLOWED_EDGES or any(a == edge[0] and b.startswith(edge[1] + ".") for a, b in ALLOWED_EDGES)


def test_rooms_import_only_what_their_rule_allows() -> None:
    breaks = {edge for edge in rule_breaks(import_graph()) if not _allowed(edge)}
    assert not breaks, "imports the rooms' rules do not allow (see this module's docstring):\n" + "\n".join(
        f"  {a} -> {b}" for a, b in sorted(breaks))


def test_the_allow_list_only_names_edges_that_exist() -> None:
    graph = import_graph()
    stale = [edge for edge in ALLOWED_EDGES if edge[1] not in graph.get(edge[0], set())]
    assert not stale, f"no longer imported, remove from ALLOWED_EDGES: {stale}"


@pytest.mark.parametrize("room", ["kiosk", "display", "hub"])
def test_faces_and_the_hub_never_import_config(room: str) -> None:
    """The faces are handed their parts by the entry points (``config.faces``, the ``yizhan kiosk`` and
    ``yizhan display`` command modules under config/); the hub has its own command framework. Not one
    import of config/ in these rooms, not even for annotations (a Protocol names what they need)."""
    offenders = {}
    for name, path in _sources().items():
        if _room(name) != room:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        named = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        named |= {node.module for node in ast.walk(tree)
                  if isinstance(node, ast.ImportFrom) and not node.level and node.module}
        if found := sorted(m for m in named if _room(m) == "config"):
            offenders[name] = found
    assert not offenders, offenders
