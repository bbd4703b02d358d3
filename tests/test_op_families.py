"""The op layer's own layering.

- An op family (a module of ``tapegrad/ops/`` that declares ops with ``register``) imports
  only the core (``tapegrad._core``) and the shared modules ``_vocab``, ``_util`` and
  ``_sample``: never another family, not even inside a function. Its rules reach other
  families' ops by name through the rule vocabulary (``_vocab.run(REGISTRY[name], ...)``).
- The composite layer (``tapegrad/ops/composite/``: public functions built from several
  families, the composite tensors, the Python operators) imports the families, the shared
  modules and the core, and of its own modules only those below it in ``COMPOSITE_ORDER``;
  it declares no op.
- No private name crosses the modules of the op package (neither imported nor read as an
  attribute of an imported module).
Imports inside functions count too.
"""

import ast
import pathlib

import numpy as np

import tapegrad as tf

SHARED = ("_vocab", "_util", "_sample")
COMPOSITE_ORDER = ["operators", "reduction", "clip", "sparse", "ragged", "strings", "linalg", "nn",
                   "image"]
OPS = pathlib.Path(__file__).resolve().parent.parent / "tapegrad" / "ops"


def op_package_imports(source: str) -> list:
    """``(package, module, name)`` for each import of the op package's modules in ``source``:
    ``package`` is ``"ops"`` or ``"composite"``, ``name`` the imported name (None when the
    module itself is imported)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [_split(alias.name, None) for alias in node.names
                      if alias.name.startswith("tapegrad.ops")]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tapegrad.ops"):
            if node.module in ("tapegrad.ops", "tapegrad.ops.composite"):
                found += [_split(f"{node.module}.{alias.name}", None) for alias in node.names]
            else:
                found += [_split(node.module, alias.name) for alias in node.names]
    return found


def _split(dotted: str, name) -> tuple:
    parts = dotted.split(".")[2:]
    if parts[:1] == ["composite"]:
        return ("composite", parts[1] if len(parts) > 1 else None, name)
    return ("ops", parts[0] if parts else None, name)


def other_imports(source: str) -> list:
    """The ``tapegrad`` modules ``source`` imports from outside the core and the op package."""
    names = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            names.append(node.module or "")
    return [name for name in names if name.split(".")[0] == "tapegrad"
            and not name.startswith(("tapegrad._core", "tapegrad.ops"))]


def declares_ops(source: str) -> bool:
    return any(isinstance(node, ast.Call) and getattr(node.func, "id", None) == "register"
               for node in ast.walk(ast.parse(source)))


def families(ops: pathlib.Path) -> list:
    return sorted(p for p in ops.glob("*.py") if p.stem not in SHARED + ("__init__",))


def composites(ops: pathlib.Path) -> list:
    return sorted(p for p in (ops / "composite").glob("*.py") if p.stem != "__init__")


def layering_violations(ops: pathlib.Path) -> list:
    found = []
    for path in families(ops):
        source = path.read_text(encoding="utf-8")
        found += [f"family {path.stem} imports {module}" for module in other_imports(source)]
        for package, module, _ in op_package_imports(source):
            if package != "ops" or module not in SHARED:
                found.append(f"family {path.stem} imports {package}.{module}")
    for path in composites(ops):
        source = path.read_text(encoding="utf-8")
        found += [f"composite {path.stem} imports {module}" for module in other_imports(source)]
        if declares_ops(source):
            found.append(f"composite {path.stem} declares an op")
        rank = COMPOSITE_ORDER.index(path.stem)
        for package, module, _ in op_package_imports(source):
            if package == "composite" and (module not in COMPOSITE_ORDER
                                           or COMPOSITE_ORDER.index(module) >= rank):
                found.append(f"composite {path.stem} imports composite.{module}")
    return found


def private_crossings(path: pathlib.Path) -> list:
    """Private names ``path`` takes from another module of the op package."""
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source)
    crossing = [f"{path.stem}: {name} from {module}"
                for _, module, name in op_package_imports(source)
                if name is not None and name.startswith("_")]
    aliases = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in ("tapegrad.ops",
                                                                "tapegrad.ops.composite"):
            aliases.update({alias.asname or alias.name: alias.name for alias in node.names})
    crossing += [f"{path.stem}: {node.attr} of {aliases[node.value.id]}"
                 for node in ast.walk(tree)
                 if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                 and node.value.id in aliases and node.attr.startswith("_")
                 and not node.attr.startswith("__")]
    return crossing


def test_every_module_is_a_family_or_a_composite():
    for path in families(OPS):
        assert declares_ops(path.read_text(encoding="utf-8")), \
            f"{path.stem} declares no op: it belongs in ops/composite/ (or is a shared module)"
    assert {p.stem for p in composites(OPS)} <= set(COMPOSITE_ORDER)


def test_families_import_only_the_core_and_the_shared_modules():
    assert not layering_violations(OPS)


def test_no_private_name_crosses_op_modules():
    modules = list(OPS.glob("*.py")) + list((OPS / "composite").glob("*.py"))
    crossing = [line for path in modules for line in private_crossings(path)]
    assert not crossing, crossing


def test_the_checks_find_a_crossing_import_and_a_private_name(tmp_path):
    (tmp_path / "composite").mkdir()
    (tmp_path / "math.py").write_text("def f():\n    from tapegrad.ops import nn\n"
                                      "X = register('X')\n")
    (tmp_path / "nn.py").write_text("from tapegrad.ops.math import _private\n"
                                    "from tapegrad.keras import layers\nY = register('Y')\n")
    (tmp_path / "composite" / "ragged.py").write_text(
        "from tapegrad.ops import math as m\nfrom tapegrad.ops.composite import image\n"
        "m._hidden\nZ = register('Z')\n")
    assert layering_violations(tmp_path) == [
        "family math imports ops.nn", "family nn imports tapegrad.keras",
        "family nn imports ops.math", "composite ragged declares an op",
        "composite ragged imports composite.image"]
    assert private_crossings(tmp_path / "nn.py") == ["nn: _private from math"]
    assert private_crossings(tmp_path / "composite" / "ragged.py") == ["ragged: _hidden of math"]


def test_composites_keep_the_tape_of_a_sliced_variable_read():
    # ``v[0:2]`` is a Tensor subclass (it can assign into v); composites take it as it is
    # (tensor_of), where a conversion would copy it off the tape. Gradients: NumPy formulas.
    start = np.array([0.5, 2.0, -1.0], np.float32)
    v = tf.Variable(start)
    head = start[:2]
    softmax = np.exp(head) / np.exp(head).sum()
    cases = {
        "reduce_logsumexp": (tf.math.reduce_logsumexp, softmax),
        "l2_loss": (tf.nn.l2_loss, head),
        "clip_by_value": (lambda s: tf.reduce_sum(tf.clip_by_value(s, 0.0, 1.0)),
                          np.array([1.0, 0.0])),
        "norm": (tf.norm, head / np.sqrt((head * head).sum())),
    }
    for name, (function, expected) in cases.items():
        with tf.GradientTape() as tape:
            y = function(v[0:2])
        grad = tape.gradient(y, v)
        assert grad is not None, name
        np.testing.assert_allclose(tf.convert_to_tensor(grad).numpy(),
                                   np.append(expected, 0.0), rtol=1e-6, err_msg=name)
