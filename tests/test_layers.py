"""The package's layers (README, "Layout"): imports run one way, and no module imports itself in a circle.

core <- store <- runner, report <- app <- `edujax/__init__.py` (the public façade). Every import counts,
module level or inside a function, except the one lazy import in each `_repr_png_` (Jupyter's hook on a
data class, which draws with the report layer only when a notebook displays the object).
"""
import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "edujax"
#: layer -> the layers it may import (itself included).
ALLOWED = {
    "core": {"core"},
    "store": {"core", "store"},
    "runner": {"core", "store", "runner"},
    "report": {"core", "store", "report"},
    "app": {"core", "store", "runner", "report", "app"},
}
#: The functions whose imports may point upward: the lazy drawing behind Jupyter's display of a data class.
UPWARD_ALLOWED_IN = {"_repr_png_"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in ALLOWED) else None


def imports(path: Path) -> list[tuple[str, int, str | None]]:
    """(imported edujax module, line, enclosing function name) for every import in the file."""
    found = []

    def visit(node, function):
        for child in ast.iter_child_nodes(node):
            inner = child.name if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else function
            if isinstance(child, ast.Import):
                found.extend((a.name, child.lineno, function) for a in child.names if a.name.startswith("edujax"))
            elif isinstance(child, ast.ImportFrom) and child.module and child.module.startswith("edujax"):
                for alias in child.names:
                    sub = f"{child.module}.{alias.name}"
                    found.append((sub if sub in MODULES else child.module, child.lineno, function))
            visit(child, inner)

    visit(ast.parse(path.read_text()), None)
    return found


def edges(include_whitelisted: bool = False) -> dict[str, set[str]]:
    graph = {}
    for module, path in MODULES.items():
        graph[module] = {target for target, _, function in imports(path)
                         if target in MODULES and target != module
                         and (include_whitelisted or function not in UPWARD_ALLOWED_IN)}
    return graph


def test_every_module_sits_in_a_layer():
    loose = [m for m in MODULES if layer(m) is None and m not in ("edujax", "edujax.__main__")]
    assert loose == [], f"modules outside core/store/runner/report/app: {loose}"


def test_imports_run_one_way():
    wrong = []
    for module, path in MODULES.items():
        own = layer(module)
        if own is None:  # the façade (edujax/__init__.py) and `python -m edujax` may import anything
            continue
        for target, line, function in imports(path):
            if function in UPWARD_ALLOWED_IN:
                continue
            theirs = layer(target)
            if theirs is not None and theirs not in ALLOWED[own]:
                wrong.append(f"{module}:{line} ({own}) imports {target} ({theirs})")
    assert wrong == []


def test_the_only_upward_imports_are_the_jupyter_hooks():
    hooks = [(module, target) for module, path in MODULES.items() for target, _, function in imports(path)
             if function in UPWARD_ALLOWED_IN]
    assert {layer(target) for _, target in hooks} <= {"report"}, hooks


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_no_import_circles():
    graph = {m: targets for m, targets in edges().items() if m != "edujax"}  # the façade imports everything
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_no_layer_hides_a_public_name():
    """`import edujax.<layer>` sets that attribute of the package: a layer named like a public function hides it."""
    import edujax

    assert set(ALLOWED) & set(edujax.__all__) == set()


def test_the_cycle_finder_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
