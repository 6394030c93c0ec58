"""The package's modules import each other without loops, counting imports inside functions too (a loop hidden in
a function is still a loop: it only moves the failure to the first call in an unusual order)."""

import ast
import pathlib

import pytest

PACKAGE_ROOT = pathlib.Path(__file__).resolve().parents[1] / "keras_resnets"


def module_names():
    """{dotted module name: file} of every module of keras_resnets (a package is its __init__.py)."""
    modules = {}
    for path in PACKAGE_ROOT.rglob("*.py"):
        parts = path.relative_to(PACKAGE_ROOT.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def _absolute(node, module, is_package):
    """The module a `from ... import` statement reads from, relative imports resolved."""
    if not node.level:
        return node.module
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[:len(base) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(module, path, modules):
    """The keras_resnets modules `module` imports anywhere in its file: `from a import b` counts as importing
    the module a.b when b is one, else a."""
    found = set()
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            source = _absolute(node, module, is_package)
            for alias in node.names:
                found.add(f"{source}.{alias.name}" if f"{source}.{alias.name}" in modules else source)
    return {name for name in found if name in modules and name != module}


def import_graph():
    modules = module_names()
    return {module: imports_of(module, path, modules) for module, path in modules.items()}


def find_cycle(graph):
    """One import loop as [m1, m2, ..., m1], or None."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                return stack[stack.index(target):] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_package_has_no_import_loops():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import loop: " + " -> ".join(cycle)


def test_the_walk_sees_the_package_and_reports_a_loop():
    graph = import_graph()
    assert "keras_resnets.export.converter" in graph["keras_resnets.export"]
    assert "keras_resnets.export.tfmot.qat" in graph["keras_resnets.export.tfmot.__main__"]
    looped = {**graph, "keras_resnets.export.litert": graph["keras_resnets.export.litert"] | {
        "keras_resnets.export.converter"}}  # converter -> litert -> converter
    assert find_cycle(looped) is not None


@pytest.mark.parametrize("source, expected", [
    ("from keras_resnets.models import registry", "keras_resnets.models.registry"),
    ("from keras_resnets.models.registry import create_model", "keras_resnets.models.registry"),
    ("def f():\n    from . import registry", "keras_resnets.models.registry"),
    ("import keras_resnets.graph", "keras_resnets.graph"),
])
def test_import_statements_resolve_to_modules(tmp_path, source, expected):
    path = tmp_path / "resnet.py"
    path.write_text(source)
    assert imports_of("keras_resnets.models.resnet", path, module_names()) == {expected}
