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


def under(module: str, packages) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def layer_of(module: str) -> int:
    for rank, (_, prefixes) in enumerate(LAYERS):
        if under(module, prefixes):
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


# -- one public way between the layers ------------------------------------------------------
# Above the op layer, modules reach tensors and variables through the core's public functions
# (``wrap``, ``to_array``, ``array_of``, ``as_value``, ``replace_array``, ``read_value()``...):
# never through a private field of a core object, never through a private name of a core or an
# op module.
LOWER = ("tapegrad._core", "tapegrad.ops")
SHARED_OPS_MODULES = ("_vocab", "_util", "_sample")  # (the op layer's shared modules, by name)
# a tensor's or variable's array, a DType's NumPy dtype, the dispatcher's variable-read hooks
PRIVATE_FIELDS = ("_value", "_np", "_read_for_op", "_read_for_conversion", "_tensor_conversion")
# tf.function's SymbolicTensor overrides the Tensor's `_value` slot with a guard (TensorFlow's
# error when a trace reads a value), which no public hook can express without slowing every
# op's dispatch: symbolic.py alone takes the slot, and the rest of the compiler reads traced
# arrays through its `array_in_trace`.
EXEMPT = {"tapegrad.autodiff.function.symbolic": {"names '_value'"}}


def private_core_uses(path: pathlib.Path) -> list:
    """``line: what`` for each use of a private field (as an attribute or a ``getattr`` string)
    and each private name taken from a core module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    core_aliases, found = set(), []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(LOWER):
            for alias in node.names:
                if alias.name.startswith("_") and alias.name not in SHARED_OPS_MODULES:
                    found.append(f"{node.lineno}: imports {alias.name} from {node.module}")
                elif node.module in LOWER or node.module.startswith("tapegrad.ops.composite"):
                    core_aliases.add(alias.asname or alias.name)  # (a module: tensor, nn, ...)
        elif isinstance(node, ast.Import):
            core_aliases.update(alias.asname for alias in node.names
                                if alias.name.startswith(LOWER) and alias.asname)
        elif isinstance(node, ast.Attribute) and node.attr in PRIVATE_FIELDS:
            found.append(f"{node.lineno}: reads .{node.attr}")
        elif isinstance(node, ast.Constant) and node.value in PRIVATE_FIELDS:
            found.append(f"{node.lineno}: names '{node.value}'")
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and \
                node.value.id in core_aliases and node.attr.startswith("_") and \
                not node.attr.startswith("__"):
            found.append(f"{node.lineno}: uses {node.value.id}.{node.attr}")
    return found


def upper_modules() -> dict:
    files = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: path for name, path in sorted(files.items())
            if not under(name, LOWER)}


def test_upper_layers_use_only_the_cores_public_names():
    problems = [f"{name}:{use}" for name, path in upper_modules().items()
                for use in private_core_uses(path)
                if use.split(": ", 1)[1] not in EXEMPT.get(name, ())]
    assert not problems, ("private core names used above the op layer (use wrap, to_array, "
                          "array_of, as_value, replace_array, a Variable's or a DType's public "
                          "API):\n" + "\n".join(problems))


def test_every_exemption_is_still_needed():
    modules = upper_modules()
    for name, exempt in EXEMPT.items():
        found = {use.split(": ", 1)[1] for use in private_core_uses(modules[name])}
        assert exempt <= found, f"{name} no longer needs its exemption: remove it from EXEMPT"


def test_the_private_use_check_finds_what_it_forbids(tmp_path):
    import textwrap
    sample = textwrap.dedent("""
        from tapegrad._core import tensor as _tensor
        from tapegrad._core.tensor import _as_value, wrap
        x = wrap(1).shape
        y = x._value
        z = getattr(x, "_value", None)
        w = _tensor._input(x, None)
        ok = _tensor.wrap(x), _tensor.__name__, x.dtype.as_numpy_dtype
        kind = x.dtype._np.kind
        from tapegrad.ops import nn as _nn
        from tapegrad.ops.math import _is_complex
        loss = _nn._xent_forward, _nn.relu
    """)
    path = tmp_path / "sample.py"
    path.write_text(sample, encoding="utf-8")
    assert private_core_uses(path) == [
        "3: imports _as_value from tapegrad._core.tensor",
        "11: imports _is_complex from tapegrad.ops.math", "5: reads ._value", "6: names '_value'",
        "9: reads ._np", "7: uses _tensor._input", "12: uses _nn._xent_forward"]
