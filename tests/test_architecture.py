"""The house rules a newcomer relies on: no import cycles and no module over 400 lines.

Every module of installation/ and models/ is parsed with ast (nothing is imported): imports at module
level and inside functions both count, relative imports are resolved, and `from pkg import name`
counts as importing pkg.name when that is a module, else pkg.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("installation", "models")
MAX_LINES = 400


def module_files() -> dict[str, Path]:
    """Dotted module name -> file, for every .py under the packages (a package is its __init__)."""
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _resolve_from(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def imports_of(module: str, path: Path, modules: set[str]) -> set[str]:
    """The project modules that `module` imports anywhere in its body (functions included)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    is_package = path.name == "__init__.py"
    targets: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            source = _resolve_from(module, is_package, node)
            for alias in node.names:
                sub = f"{source}.{alias.name}"
                targets.add(sub if sub in modules else source)
    # `import a.b.c` also runs a and a.b; only the deepest project module is the edge that matters here
    edges = set()
    for target in targets:
        while target and target not in modules:
            target = target.rpartition(".")[0]
        if target and target != module and target not in PACKAGES:
            edges.add(target)
    return edges


def import_graph() -> dict[str, set[str]]:
    files = module_files()
    names = set(files)
    return {name: imports_of(name, path, names) for name, path in files.items()}


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component (Tarjan), each as a path a -> b -> ... -> a.

    A component can hold more modules than the cycle shown; `components` lists them all.
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:  # recursion depth is bounded by the module count (~150)
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def cycles_report(graph: dict[str, set[str]]) -> list[str]:
    lines = []
    for component in find_cycles(graph):
        line = " -> ".join(_cycle_path(graph, component))
        if len(component) > 2:
            line += f"   (tangled together: {', '.join(component)})"
        lines.append(line)
    return lines


def _cycle_path(graph: dict[str, set[str]], component: list[str]) -> list[str]:
    """A shortest cycle through the component's first member, for a readable message."""
    members = set(component)
    start = component[0]
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        nxt_frontier = []
        for node in frontier:
            for nxt in sorted(graph[node] & members):
                if nxt == start:
                    return [*paths[node], start]
                if nxt not in paths:
                    paths[nxt] = [*paths[node], nxt]
                    nxt_frontier.append(nxt)
        frontier = nxt_frontier
    return component  # unreachable for a strongly connected component


def test_the_checker_sees_function_level_and_relative_imports(tmp_path: Path) -> None:
    # the rule is only as good as the parser: a cycle closed inside a function must be found
    graph = {"pkg.a": {"pkg.b"}, "pkg.b": {"pkg.c"}, "pkg.c": {"pkg.a"}, "pkg.d": {"pkg.a"}}
    assert cycles_report(graph) == ["pkg.a -> pkg.b -> pkg.c -> pkg.a   (tangled together: pkg.a, pkg.b, pkg.c)"]
    source = tmp_path / "b.py"
    source.write_text("def late():\n    from .c import thing\n    from . import a\n    import pkg.d.x\n")
    assert imports_of("pkg.b", source, {"pkg.a", "pkg.b", "pkg.c", "pkg.d"}) == {"pkg.a", "pkg.c", "pkg.d"}


def test_no_import_cycles() -> None:
    graph = import_graph()
    assert len(graph) > 50 and sum(map(len, graph.values())) > 100  # it really read the project
    cycles = cycles_report(graph)
    assert not cycles, "import cycles (imports inside functions count):\n" + "\n".join(cycles)


def test_no_module_over_400_lines() -> None:
    files = module_files()
    too_long = {name: n for name, path in files.items() if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert not too_long, f"modules over {MAX_LINES} lines (split them by job):\n" + "\n".join(
        f"{name}: {n}" for name, n in sorted(too_long.items(), key=lambda item: -item[1])
    )
