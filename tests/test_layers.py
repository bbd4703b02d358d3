"""The package's layers import only downward, and no modules import each other in a loop.

Layers, lowest first: ``_core`` <- ``ops`` <- ``diagnostics`` <- ``autodiff`` <- training
(``training``, ``keras``, ``distribute``) <- the public fronts
(``tapegrad`` itself, ``math``, ``nn``, ``random``, ...), which may import anything below them.
Imports inside functions count too: a lazy import is still a dependency.
"""

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "tapegrad"

LAYERS = [
    ("core", ("tapegrad._core",)),
    ("ops", ("tapegrad.ops",)),
    ("diagnostics", ("tapegrad.diagnostics",)),
    ("autodiff", ("tapegrad.autodiff",)),
    ("training", ("tapegrad.training", "tapegrad.keras", "tapegrad.distribute")),
]
FRONT = len(LAYERS)


def layer_of(module: str) -> int:
    for rank, (_, prefixes) in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return rank
    return FRONT


def module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: pathlib.Path, known: set) -> set:
    """The tapegrad modules ``path`` imports (the longest known prefix of each name)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            # (a module's own parent packages load with it; the root package is a front)
            if target and target != name and (target == "tapegrad"
                                              or not name.startswith(target + ".")):
                found.add(target)
                break
    return found


def import_graph() -> dict:
    files = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: imports_of(path, set(files)) for name, path in files.items()}


def test_every_import_points_down_or_sideways():
    upward = []
    for module, targets in import_graph().items():
        for target in targets:
            if layer_of(target) > layer_of(module):
                upward.append(f"{module} ({LAYERS[layer_of(module)][0]}) imports {target}")
    assert not upward, "upward imports:\n" + "\n".join(sorted(upward))


def test_no_import_cycles():
    graph = import_graph()
    cycles = []
    for start in graph:
        stack, seen = [(start, [start])], set()
        while stack:
            node, path = stack.pop()
            for target in graph.get(node, ()):
                if target == start:
                    cycles.append(" -> ".join(path + [start]))
                elif target not in seen:
                    seen.add(target)
                    stack.append((target, path + [target]))
    assert not cycles, "import cycles:\n" + "\n".join(sorted(set(cycles))[:10])


@pytest.mark.parametrize("module,expected", [
    ("tapegrad._core.tape", 0), ("tapegrad.ops.math", 1), ("tapegrad.diagnostics.explain", 2),
    ("tapegrad.autodiff.tape", 3), ("tapegrad.keras.layers", 4), ("tapegrad.math", FRONT),
])
def test_layer_table(module, expected):
    assert layer_of(module) == expected


def test_an_op_cannot_be_changed_after_its_declaration():
    import tapegrad  # noqa: F401  (registers every op)
    from tapegrad._core.registry import REGISTRY

    op = REGISTRY["Tanh"]
    with pytest.raises(AttributeError, match="declare 'batchable' in its register"):
        op.batchable = False
    assert op.batchable and op.array_rules
