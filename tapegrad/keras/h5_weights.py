"""Keras 3's ``.weights.h5`` files: ``save_weights``/``load_weights`` in the layout real Keras
writes and reads (needs h5py: ``pip install 'tapegrad[keras-files]'``).

The layout (the same walk as Keras's ``saving_lib``): every layer and optimizer has a group
``<path>/vars`` (attribute ``name``: the object's name) holding its own variables as datasets
``"0"``, ``"1"``, ... (trainable ones first, in creation order). Paths follow attributes, not
layer names: a Sequential or functional model's layers sit under ``layers/<class>``,
``layers/<class>_1``, ... (numbered per class in Keras's layer order), a subclassed model's
under the attribute that holds them (``block/dense``), the compiled optimizer under
``optimizer``, the root's own variables in ``vars``.

Loading validates the whole file first (every group and dataset is a plain, local HDF5 object
with a numeric dtype and exactly the variable's shape) and changes nothing when anything is
wrong; only the datasets the model needs are read, so the memory used is bounded by the
model's own size whatever the file declares.

>>> import os, tempfile
>>> import tapegrad as tf
>>> model = tf.keras.Sequential([tf.keras.Input((3,)), tf.keras.layers.Dense(2)])
>>> path = os.path.join(tempfile.mkdtemp(), "m.weights.h5")
>>> model.save_weights(path)
>>> [path for path, _ in keras_paths(model)]
['', 'layers/dense']
>>> clone = tf.keras.Sequential([tf.keras.Input((3,)), tf.keras.layers.Dense(2)])
>>> clone.load_weights(path)
>>> bool((clone.layers[0].kernel.numpy() == model.layers[0].kernel.numpy()).all())
True
"""

from __future__ import annotations

import io
import itertools
import os
import re
import warnings

from tapegrad._core.backend import np
from tapegrad._core.tensor import array_of
from tapegrad._core.variable import replace_array
from tapegrad.keras import layers as layers_module
from tapegrad.keras.optimizers import Optimizer
from tapegrad.keras.trainer import Trainer

__all__ = ["keras_paths", "own_variables", "write_h5", "save_weights", "load_weights",
           "require_h5py", "read_checked", "open_h5", "assign", "check_built"]

_NUMERIC_KINDS = "biuf"
_MAX_OBJECTS = 100_000       # groups and datasets listed when looking for unused weights
_INTERNAL_ATTRIBUTES = {"_layers"}   # the tracking list; layers are reached by attribute


def require_h5py():
    """The ``h5py`` module, or an ImportError that names the extra to install."""
    try:
        import h5py
    except ImportError:
        raise ImportError("Keras weight and model files (.weights.h5, .keras) need h5py: "
                          "pip install 'tapegrad[keras-files]' (or pip install h5py). "
                          "Without it, save weights as .npz instead.") from None
    return h5py


# -- Keras's walk over a model ----------------------------------------------------------------

def _snake(name: str) -> str:
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _is_saveable(obj) -> bool:
    return isinstance(obj, (layers_module.Layer, Optimizer))


def _is_graph(model) -> bool:
    return getattr(model, "_is_graph", False) and hasattr(model, "_nodes")


def _is_sequential(obj) -> bool:
    # by name: tapegrad.keras.models imports this module (its save/load hooks)
    return any(cls.__name__ == "Sequential" and cls.__module__ == "tapegrad.keras.models"
               for cls in type(obj).__mro__)


def _keras_graph_layers(model) -> list:
    """A functional model's layers in Keras 3's order: a depth-first walk from the outputs
    numbers the layers, which are then sorted by depth (inputs first), ties by that number."""
    inputs = model._flat_inputs
    input_ids = {id(t) for t in inputs}
    first_seen: dict = {}            # id(layer) -> traversal index
    layer_of: dict = {}
    finished: set = set()
    ordered: list = []               # (node key, layer, parent keys), inputs -> outputs

    def key_of(tensor):
        return ("input", id(tensor)) if tensor._node is None else ("node", id(tensor._node))

    def visit(output):
        # depth-first, parents in order, without recursion (deep models); a tensor is
        # numbered when first entered and listed when all its parents are
        stack = [(output, False)]
        while stack:
            tensor, parents_done = stack.pop()
            key = key_of(tensor)
            parents = [] if tensor._node is None else tensor._node.input_tensors
            layer = tensor._input_layer if tensor._node is None else tensor._node.layer
            if parents_done:
                if key not in finished:
                    finished.add(key)
                    ordered.append((key, layer, [key_of(p) for p in parents]))
                continue
            if key in finished:
                continue
            if tensor._node is not None and id(tensor) in input_ids:
                finished.add(key)
                continue
            first_seen.setdefault(id(layer), len(first_seen))
            layer_of[id(layer)] = layer
            stack.append((tensor, True))
            stack.extend((parent, False) for parent in reversed(parents))

    from tapegrad._core import nest
    for tensor in nest.flatten(model._outputs_structure):
        visit(tensor)
    in_graph = {key for key, _, _ in ordered}
    node_depth: dict = {}
    layer_depth: dict = {}
    for key, layer, parents in reversed(ordered):
        depth = max(node_depth.setdefault(key, 0), layer_depth.get(id(layer), 0))
        layer_depth[id(layer)] = node_depth[key] = depth
        for parent in parents:
            if parent in in_graph:
                node_depth[parent] = max(depth + 1, node_depth.get(parent, 0))
    for tensor in inputs:          # inputs that no output depends on
        layer = tensor._input_layer
        if id(layer) not in layer_depth:
            layer_depth[id(layer)], first_seen[id(layer)] = 0, -1
            layer_of[id(layer)] = layer
    return sorted((layer_of[i] for i in layer_depth),
                  key=lambda layer: (-layer_depth[id(layer)], first_seen[id(layer)]))


def _children(obj):
    """(attribute, value) pairs in the order Keras visits them: a Sequential or functional
    model's ``layers`` first, then attributes alphabetically, private ones last."""
    if isinstance(obj, Optimizer):
        return
    names = {name for name in vars(obj)
             if name not in _INTERNAL_ATTRIBUTES and not name.startswith("__")}
    if isinstance(obj, Trainer):        # a Model
        names |= {"layers", "optimizer"}
        if _is_graph(obj) or _is_sequential(obj):   # their layers first, as Keras does
            names.discard("layers")
            yield "layers", _keras_graph_layers(obj) if _is_graph(obj) else obj.layers
    for name in sorted(names, key=lambda n: "~" + n if n.startswith("_") else n):
        yield name, getattr(obj, name, None)


def _join(path: str, name: str) -> str:
    return f"{path}/{name}" if path else name


def keras_paths(model) -> list:
    """``[(path, object)]``: every layer and optimizer of ``model`` (the model first, path
    ``""``) at the path Keras 3 gives it in a weights file."""
    found: list = []
    visited: set = set()

    def walk(obj, path):
        if id(obj) in visited:
            return
        visited.add(id(obj))
        found.append((path, obj))
        for name, child in _children(obj):
            visit(child, _join(path, name))

    def visit(value, path):
        if _is_saveable(value):
            walk(value, path)
        elif isinstance(value, (list, tuple, dict)):
            walk_container(value, path, set())

    def walk_container(container, path, seen_containers):
        if id(container) in seen_containers:
            return
        seen_containers.add(id(container))
        used: dict = {}
        items = container.values() if isinstance(container, dict) else container
        for item in items:
            if _is_saveable(item):
                walk(item, _join(path, _unique(_snake(type(item).__name__), used)))
            elif isinstance(item, (list, tuple, dict)):
                walk_container(item, _join(path, _unique("container", used)),
                               seen_containers)

    walk(model, "")
    return found


def _unique(name: str, used: dict) -> str:
    if name in used:
        used[name] += 1
        return f"{name}_{used[name]}"
    used[name] = 0
    return name


def own_variables(obj) -> list:
    """The variables Keras stores in ``obj``'s ``vars`` group, in its order."""
    if isinstance(obj, Optimizer):
        return list(obj.variables)
    own = obj._own_variables
    return [v for v in own if v.trainable] + [v for v in own if not v.trainable]


def _group_name(obj) -> str:
    return str(getattr(obj, "name", type(obj).__name__))


# -- writing ----------------------------------------------------------------------------------

def write_h5(model) -> bytes:
    """The bytes of ``model``'s ``.weights.h5`` file."""
    h5py = require_h5py()
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as file:
        for path, obj in keras_paths(model):
            group = file.create_group(_join(path, "vars"))
            group.attrs["name"] = _group_name(obj)
            for index, variable in enumerate(own_variables(obj)):
                group.create_dataset(str(index), data=np.asarray(array_of(variable)))
    return buffer.getvalue()


def check_built(model) -> None:
    """Loading weights needs the model's variables: refuse an unbuilt model clearly."""
    if not model.built:
        raise ValueError(f"Model {model.name!r} has no weights yet: build it first (call it "
                         "on a batch, or give it an Input) before loading weights.")


def save_weights(model, filepath, overwrite: bool = True) -> None:
    """Write ``model``'s weights (and its optimizer's state) to a Keras 3 ``.weights.h5``
    file, atomically."""
    from tapegrad.training import checkpoint as train
    filepath = os.fspath(filepath)
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(f"{filepath} exists; pass overwrite=True to replace it.")
    data = write_h5(model)
    train._write_atomically(filepath, "wb", lambda file: file.write(data))


# -- reading ----------------------------------------------------------------------------------

class _Hostile(ValueError):
    """The file is not a weights file this model can take (raised before any change)."""


def _child(group, name: str, kind, where: str):
    """``group[name]`` if it is a hard link to a ``kind`` object, else None; soft and
    external links (which could point outside the file) are refused."""
    h5py = require_h5py()
    link = group.get(name, getlink=True)
    if link is None:
        return None
    if not isinstance(link, h5py.HardLink):
        raise _Hostile(f"{where}/{name} is a {type(link).__name__}; weights files hold only "
                       "plain groups and datasets")
    obj = group[name]
    if not isinstance(obj, kind):
        raise _Hostile(f"{where}/{name} is a {type(obj).__name__}, expected a "
                       f"{kind.__name__}")
    return obj


def _vars_group(file, path: str):
    h5py = require_h5py()
    group = file
    parts = [p for p in path.split("/") if p] + ["vars"]
    for depth, part in enumerate(parts):
        group = _child(group, part, h5py.Group, "/" + "/".join(parts[:depth]))
        if group is None:
            return None
    return group


def _check_dataset(dataset, where: str, variable) -> None:
    if dataset.is_virtual or dataset.external:
        raise _Hostile(f"{where} keeps its data outside the file (a virtual or external "
                       "dataset); weights files must hold their own data")
    dtype = dataset.dtype
    if dtype.kind not in _NUMERIC_KINDS or dtype.fields is not None or dtype.subdtype:
        raise _Hostile(f"{where} holds dtype {dtype}; weights are numbers (bool, integer, "
                       "float)")
    current = array_of(variable)
    expected = np.dtype(current.dtype)
    if dataset.shape != current.shape:
        raise _Hostile(f"{where} has shape {dataset.shape}, but variable {variable.name!r} "
                       f"has shape {current.shape}")
    if not np.can_cast(dtype, expected, casting="same_kind"):
        raise _Hostile(f"{where} holds {dtype}, which cannot become variable "
                       f"{variable.name!r}'s {expected}")


def _stored_names(group, expected: int) -> list:
    """The dataset names of a ``vars`` group (listed only when their number is plausible)."""
    if group is None:
        return []
    count = len(group)
    if count != expected:
        return [*itertools.islice(group.keys(), 8)] + (["..."] if count > 8 else [])
    return sorted(group.keys())


def _plan_object(file, path: str, obj) -> list | None:
    """[(variable, dataset)] for ``obj``'s own variables, checked; None for an optimizer
    whose saved state does not fit (Keras skips it with a warning)."""
    h5py = require_h5py()
    variables = own_variables(obj)
    where = "/" + _join(path, "vars")
    group = _vars_group(file, path)
    stored = _stored_names(group, len(variables))
    if isinstance(obj, Optimizer) and len(stored) != len(variables):
        if stored:
            warnings.warn(f"Skipping variable loading for optimizer {obj.name!r}, because it "
                          f"has {len(variables)} variables whereas the saved optimizer has "
                          f"{len(group)} variables.", stacklevel=5)
        return None
    if stored != sorted(str(i) for i in range(len(variables))):
        count = 0 if group is None else len(group)
        raise _Hostile(f"{where} holds {count} values {stored}, but {type(obj).__name__} "
                       f"{_group_name(obj)!r} has {len(variables)} variables "
                       f"{[v.name for v in variables]}")
    entries = []
    for index, variable in enumerate(variables):
        dataset = _child(group, str(index), h5py.Dataset, where)
        if dataset is None:           # listed by the group, yet not there: a damaged file
            raise _Hostile(f"{where}/{index} is listed but cannot be found")
        _check_dataset(dataset, f"{where}/{index}", variable)
        entries.append((variable, dataset))
    return entries


def _plan(file, model, skip_mismatch: bool) -> tuple[list, set]:
    """[(variable, dataset)] for every variable, every problem checked; and the paths used.
    """
    plan, used, problems = [], set(), []
    for path, obj in keras_paths(model):
        try:
            plan.extend(_plan_object(file, path, obj) or ())
        except _Hostile as problem:
            if not skip_mismatch:
                problems.append(str(problem))
                continue
            warnings.warn(f"Skipping loading weights for {_group_name(obj)!r}: {problem}",
                          stacklevel=4)
        used.add(path)
    if problems:
        raise _Hostile("; ".join(problems[:10]) + (" ..." if len(problems) > 10 else ""))
    return plan, used


def _unused_paths(file, used: set) -> list:
    """Paths of ``vars`` groups in the file that hold data the model has no place for."""
    h5py = require_h5py()
    unused, pending, count = [], [("", file)], 0
    while pending:
        path, group = pending.pop()
        for name in group:
            count += 1
            if count > _MAX_OBJECTS:
                raise _Hostile(f"the file holds more than {_MAX_OBJECTS} groups and datasets")
            link = group.get(name, getlink=True)
            if not isinstance(link, h5py.HardLink):
                continue
            child = group[name]
            if not isinstance(child, h5py.Group):
                continue
            if name == "vars":
                if len(child) and path not in used and path != "optimizer":
                    unused.append(path or "/")
            else:
                pending.append((_join(path, name), child))
    return sorted(unused)


def read_checked(file, model, source: str, skip_mismatch: bool = False) -> list:
    """``[(variable, array)]`` for every weight of ``model`` from an open h5py ``file``;
    raises ValueError (changing nothing) when the file does not fit the model."""
    try:
        if "layer_names" in file.attrs or "model_weights" in file:
            raise _Hostile("it is a legacy Keras 2 HDF5 file, which tapegrad does not read. "
                           "Load it in Keras and save it again as Keras 3 files: "
                           "model.save_weights('model.weights.h5') or "
                           "model.save('model.keras')")
        plan, used = _plan(file, model, skip_mismatch)
        unused = _unused_paths(file, used)
        if unused and not skip_mismatch:
            raise _Hostile(f"it holds weights for {unused[:10]}, which model "
                           f"{model.name!r} has no layer for (a different architecture?)")
        values = []
        for variable, dataset in plan:
            current = array_of(variable)
            array = np.empty(current.shape, dtype=dataset.dtype)
            if array.size:
                dataset.read_direct(array)
            values.append((variable, array.astype(current.dtype, copy=False)))
        return values
    except _Hostile as problem:
        raise ValueError(f"Cannot load weights from {source}: {problem}. Nothing was "
                         "loaded.") from None
    except (OSError, RuntimeError, KeyError, TypeError, ValueError) as error:
        raise ValueError(f"Cannot load weights from {source}: the HDF5 data is damaged "
                         f"({type(error).__name__}: {error}). Nothing was loaded.") from None


def open_h5(source, where: str):
    """An h5py File over a path or bytes, with a clear error for what is not HDF5."""
    h5py = require_h5py()
    try:
        return h5py.File(io.BytesIO(source) if isinstance(source, bytes) else source, "r")
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as error:
        raise ValueError(f"{where} is not a readable HDF5 weights file (truncated or "
                         f"damaged: {error}). Nothing was loaded.") from None


def assign(values: list) -> None:
    for variable, array in values:
        replace_array(variable, array)


def load_weights(model, filepath, skip_mismatch: bool = False) -> None:
    """Load a Keras 3 ``.weights.h5`` file into ``model``; everything is checked before any
    weight changes."""
    filepath = os.fspath(filepath)
    if not os.path.isfile(filepath):
        if not os.path.exists(filepath):
            raise FileNotFoundError(f"No weights file at {filepath}.")
        raise ValueError(f"{filepath} is not a regular file.")
    check_built(model)
    with open_h5(filepath, filepath) as file:
        values = read_checked(file, model, filepath, skip_mismatch)
    assign(values)
