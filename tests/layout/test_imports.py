"""The package layout: no import cycle between pesgen's modules, nor between its packages.

Every ``import pesgen...`` / ``from pesgen... import`` (relative ones included) is an edge, also
one inside a function: a deferred import hides a cycle from the interpreter, not from the reader.
Only imports under ``if TYPE_CHECKING:`` (annotations) are left out.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.Module, module: str, is_package: bool) -> set[str]:
    """Absolute names imported anywhere in the module but under ``if TYPE_CHECKING:``."""
    found: set[str] = set()

    def visit(body):
        for node in body:
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    pkg = module.split(".") if is_package else module.split(".")[:-1]
                    pkg = pkg[: len(pkg) - (node.level - 1)]
                    base = ".".join(pkg + ([base] if base else []))
                found.add(base)
                found.update(f"{base}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.If) and _is_type_checking(node):
                visit(node.orelse)
            else:
                visit(list(ast.iter_child_nodes(node)))

    visit(tree.body)
    return found


def import_graph() -> dict[str, set[str]]:
    """Module → the pesgen modules it imports at load time (a package import loads its __init__)."""
    files = {_module_name(p): p for p in SRC.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        names = _imports(ast.parse(path.read_text()), name, path.name == "__init__.py")
        edges = set()
        for imported in names:
            # ``from a.b import c`` names a.b.c, which is a module or an attribute of a.b
            while imported and imported not in files:
                imported = imported.rpartition(".")[0]
            if imported and imported != name:
                edges.add(imported)
        graph[name] = edges
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as a list of modules, or None (iterative depth-first search)."""
    colour = dict.fromkeys(graph, 0)  # 0 unvisited, 1 on the stack, 2 done
    for root in sorted(graph):
        if colour[root]:
            continue
        stack = [(root, iter(sorted(graph[root])))]
        colour[root] = 1
        while stack:
            node, children = stack[-1]
            for child in children:
                if colour.get(child) == 1:
                    path = [n for n, _ in stack]
                    return path[path.index(child):] + [child]
                if colour.get(child) == 0:
                    colour[child] = 1
                    stack.append((child, iter(sorted(graph[child]))))
                    break
            else:
                colour[node] = 2
                stack.pop()
    return None


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_relative_imports_resolve():
    tree = ast.parse("from . import x\nfrom ..y import z\n")
    assert _imports(tree, "pesgen.p.q", False) >= {"pesgen.p.x", "pesgen.y.z"}
    deferred = ast.parse("def f():\n    import pesgen.a\nif TYPE_CHECKING:\n    import pesgen.b\n")
    assert _imports(deferred, "pesgen.p", False) == {"pesgen.a"}


def package_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """The graph between pesgen's first-level packages and modules (pesgen.model, pesgen.cli ...)."""
    def top(module: str) -> str:
        return ".".join(module.split(".")[:2])
    out: dict[str, set[str]] = {top(m): set() for m in graph}
    for module, edges in graph.items():
        out[top(module)].update(top(e) for e in edges if top(e) != top(module))
    return out


def test_no_import_cycle_between_modules():
    graph = import_graph()
    assert len(graph) > 50
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_no_import_cycle_between_packages():
    """The boxes are layered: model/ knows neither the calculator nor the loop, and so on."""
    packages = package_graph(import_graph())
    assert {"pesgen.model", "pesgen.loop", "pesgen.cli"} <= set(packages)
    cycle = find_cycle(packages)
    assert cycle is None, "import cycle between packages: " + " -> ".join(cycle)
