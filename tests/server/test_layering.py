"""The server's packages import each other without cycles, and only the top level loads the domains' demos.

Every module under ``server/`` is parsed (no import is run): its imports, at module level and inside
functions, become edges between packages (``server.case.views`` importing ``server.grid.models`` is
``server.case -> server.grid``). The shared base that every package may use is left out of the graph."""

from __future__ import annotations

import ast
from collections import defaultdict
from itertools import pairwise
from pathlib import Path

SERVER = Path(__file__).resolve().parents[2] / "server"
BASE = {
    "server.cli_common",
    "server.config",
    "server.database",
    "server.deps",
    "server.errors",
    "server.http_errors",
    "server.limits",
    "server.localdb",
    "server.models",
    "server.tenant",
    "server.types",
}
DEMO_LOADERS = {"server.demo", "server.cli"}  # the top level: may load every package's demo

Site = tuple[str, int]  # a module's file (relative to the repository) and the line of an import
Graph = dict[str, dict[str, list[Site]]]  # package -> imported package -> where


def _module_name(path: Path) -> str:
    parts = path.relative_to(SERVER.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[str, int]]:
    """The modules ``path`` imports, anywhere in it, with their lines: ``from a.b import c`` gives both
    ``a.b`` and ``a.b.c`` (``c`` may be a module); relative imports are resolved."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            found.append((base, node.lineno))
            found += [(f"{base}.{alias.name}", node.lineno) for alias in node.names if alias.name != "*"]
    return found


def _package(module: str) -> str | None:
    """The node of the graph ``module`` belongs to: ``server.<first name>``, None outside the server and
    for the shared base."""
    parts = module.split(".")
    if parts[0] != "server" or len(parts) < 2:
        return None
    package = f"server.{parts[1]}"
    return None if package in BASE else package


def _sources() -> list[Path]:
    return sorted(p for p in SERVER.rglob("*.py") if "node_modules" not in p.parts)


def import_graph() -> Graph:
    graph: Graph = defaultdict(lambda: defaultdict(list))
    for path in _sources():
        source = _package(_module_name(path))
        if source is None:
            continue
        site = str(path.relative_to(SERVER.parent))
        for imported, line in _imports(path):
            target = _package(imported)
            if target is not None and target != source and (site, line) not in graph[source][target]:
                graph[source][target].append((site, line))
    return graph


def find_cycle(graph: Graph) -> list[str] | None:
    """A cycle of packages (the first package repeated at the end), or None."""
    state: dict[str, str] = {}  # "open" while on the depth-first path, "done" once fully explored
    path: list[str] = []

    def visit(package: str) -> list[str] | None:
        state[package] = "open"
        path.append(package)
        for target in sorted(graph.get(package, {})):
            if state.get(target) == "open":
                return [*path[path.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[package] = "done"
        return None

    for package in sorted(graph):
        if package not in state and (cycle := visit(package)):
            return cycle
    return None


def describe(graph: Graph, cycle: list[str]) -> str:
    lines = [" -> ".join(cycle)]
    for source, target in pairwise(cycle):
        sites = ", ".join(f"{file}:{line}" for file, line in graph[source][target])
        lines.append(f"  {source} -> {target}: {sites}")
    return "\n".join(lines)


def test_the_server_packages_import_each_other_without_a_cycle():
    graph = import_graph()
    packages = set(graph) | {target for targets in graph.values() for target in targets}
    assert {"server.auth", "server.grid", "server.patrol", "server.events", "server.users"} <= packages
    cycle = find_cycle(graph)
    assert cycle is None, f"import cycle between packages:\n{describe(graph, cycle)}"


def test_a_cycle_is_found_and_shown_with_its_imports():
    """The events stream imports the patrol package: an import back, as there was, closes a cycle."""
    graph = import_graph()
    graph["server.patrol"]["server.events"].append(("server/patrol/service.py", 1))
    pair = {package: graph[package] for package in ("server.events", "server.patrol")}
    cycle = find_cycle(pair)
    assert cycle is not None and set(cycle) == {"server.patrol", "server.events"}
    assert "server/patrol/service.py:1" in describe(graph, cycle)


def test_only_the_top_level_loads_another_packages_demo():
    offenders = []
    for path in _sources():
        module = _module_name(path)
        if module in DEMO_LOADERS:
            continue
        own = module.rsplit(".", 1)[0] if path.name != "__init__.py" else module
        for imported, line in _imports(path):
            if imported.endswith(".demo") and imported.rsplit(".", 1)[0] != own:
                offenders.append(f"{path.relative_to(SERVER.parent)}:{line} imports {imported}")
    assert not offenders, "\n".join(offenders)
