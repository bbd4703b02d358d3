"""The op families' own layering: each family imports only families below it in ``ORDER`` (the
shared rule vocabulary and helpers, ``_vocab``, ``_util`` and ``_sample``, sit under all of
them) and takes no private name from another module of the op package. Rules that take arrays
(``array_rules``) are written in the vocabulary alone; public composite functions
(``tf.image``'s, ``tf.nn``'s) and the other rules build on the public functions of lower
families, as TensorFlow's ``nn_ops`` build on ``math_ops`` and ``array_ops``. Imports inside
functions count too.
"""

import ast
import pathlib

ORDER = ["math", "array", "reduction", "random", "scatter", "linalg", "nn", "image", "sparse",
         "ragged", "strings", "operators"]
SHARED = ("_vocab", "_util", "_sample")
OPS = pathlib.Path(__file__).resolve().parent.parent / "tapegrad" / "ops"


def op_imports(source: str) -> list:
    """``(module, name)`` for each import of the op package's modules in ``source``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module == "tapegrad.ops":
            found += [(alias.name, None) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tapegrad.ops."):
            found += [(node.module.split(".")[2], alias.name) for alias in node.names]
    return found


def upward_imports(ops: pathlib.Path) -> list:
    upward = []
    for path in ops.glob("*.py"):
        if path.stem == "__init__":
            continue
        rank = ORDER.index(path.stem) if path.stem in ORDER else -1
        for module, _ in op_imports(path.read_text(encoding="utf-8")):
            if module not in SHARED and module != path.stem and ORDER.index(module) >= rank:
                upward.append(f"{path.stem} imports {module}")
    return upward


def test_every_family_is_placed():
    assert {p.stem for p in OPS.glob("*.py")} - {"__init__"} == set(ORDER) | set(SHARED)


def test_families_import_only_lower_families():
    assert not upward_imports(OPS)


def test_no_private_name_crosses_op_modules():
    crossing = [f"{path.stem}: {name} from {module}" for path in OPS.glob("*.py")
                for module, name in op_imports(path.read_text(encoding="utf-8"))
                if name is not None and name.startswith("_")]
    assert not crossing, crossing


def test_the_checks_find_an_upward_import_and_a_private_name(tmp_path):
    (tmp_path / "math.py").write_text("def f():\n    from tapegrad.ops import nn\n")
    (tmp_path / "nn.py").write_text("from tapegrad.ops.math import _private\n")
    assert upward_imports(tmp_path) == ["math imports nn"]
    assert op_imports((tmp_path / "nn.py").read_text()) == [("math", "_private")]
