"""The import graph, derived from the source (ast): no cycles, and every arrow points down the
layers. Imports at every depth count: module level, function-local and `if TYPE_CHECKING:` ones.

Catches: a driver importing the orchestrator again (training -> sweeps), a library module importing
the CLI, `rlscale.analysis` importing JAX-side code, or any new import cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "rlscale"

# Each top-level part of rlscale and its layer: a module may import its own part or a lower layer.
LAYERS = {
    "types": 0,
    "results": 0,
    "provenance": 0,
    "nets": 1,
    "losses": 1,
    "envs": 1,
    "replay": 1,
    "agents": 2,
    "config": 3,
    "training": 4,
    "sweeps": 5,
    "analysis": 5.5,  # beside the JAX side, and below what combines the two
    "reproduce": 6,
    "bench": 6,
    "cli": 7,
    "": 8,  # rlscale/__init__.py: the public surface, above everything it re-exports
}
ANALYSIS_MAY_IMPORT = {"analysis", "results", "types"}  # so the analysis runs without JAX


def _modules() -> dict[str, Path]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = ["rlscale", *path.relative_to(PACKAGE).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _targets(node: ast.AST, module: str, is_package: bool) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    assert isinstance(node, ast.ImportFrom)
    base = node.module or ""
    if node.level:
        anchor = module.split(".")[: len(module.split(".")) - node.level + is_package]
        base = ".".join([*anchor, *([node.module] if node.module else [])])
    # `from rlscale.x import y` imports the submodule rlscale.x.y when there is one.
    return [f"{base}.{alias.name}" for alias in node.names] + [base]


def import_graph() -> dict[str, set[str]]:
    """module -> the rlscale modules it imports anywhere in its source."""
    modules = _modules()
    graph = {}
    for module, path in modules.items():
        edges = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            is_package = path.name == "__init__.py"
            for target in _targets(node, module, is_package):
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                # Every `from rlscale import x` runs rlscale/__init__.py, which only re-exports
                # lazily: an edge to it would say nothing.
                if target.startswith("rlscale.") and target != module:
                    edges.add(target)
        graph[module] = edges
    return graph


def part(module: str) -> str:
    return module.split(".")[1] if "." in module else ""


def cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(frozenset(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


@pytest.fixture(scope="module")
def graph():
    return import_graph()


def test_the_graph_sees_function_local_imports(graph):
    """Catches: a parser that reads module-level imports only (this edge is nested)."""
    assert "rlscale.training.host_loop" in graph["rlscale.sweeps.plan"]  # inside run_bytes


def test_every_part_has_a_layer(graph):
    assert {part(m) for m in graph} <= set(LAYERS), {part(m) for m in graph} - set(LAYERS)


def test_every_arrow_points_down(graph):
    upward = [
        f"{source} -> {target}"
        for source, targets in graph.items()
        for target in targets
        if part(source) != part(target) and LAYERS[part(target)] >= LAYERS[part(source)]
    ]
    assert not upward, "imports against the layers:\n" + "\n".join(sorted(upward))


def test_analysis_imports_only_results_types_and_itself(graph):
    outside = [
        f"{source} -> {target}"
        for source, targets in graph.items()
        if part(source) == "analysis"
        for target in targets
        if part(target) not in ANALYSIS_MAY_IMPORT
    ]
    assert not outside, outside


def test_no_import_cycles(graph):
    found = cycles(graph)
    assert not found, [sorted(c) for c in found]


def test_the_cycle_finder_finds_a_cycle():
    """Catches: a Tarjan that never reports (the no-cycle test would then pass on anything)."""
    toy = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(toy) == [frozenset({"a", "b", "c"})]


def test_no_library_module_imports_argparse():
    """Parsing belongs to rlscale.cli; the library takes plain arguments."""
    offenders = [
        str(path.relative_to(PACKAGE))
        for module, path in _modules().items()
        if part(module) != "cli" and "argparse" in _stdlib_imports(path)
    ]
    assert not offenders, offenders


def _stdlib_imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names
