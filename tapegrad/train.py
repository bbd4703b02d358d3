"""Checkpoints (``tf.train.Checkpoint``): variables and optimizer slots in a NumPy ``.npz``.

* Names are stable: ``<object>/<position>/<short name>`` for a model's or module's variables
  (their position in ``.variables``), ``<object>/iterations`` and ``<object>/slots/<i>/<slot>``
  for an optimizer, ``<object>`` for a bare Variable, plus ``save_counter``.
* Writing is atomic: the archive goes to a temporary file in the same folder, is flushed to
  disk, then renamed over the target (``os.replace``), so a crash never leaves a half-written
  checkpoint behind, and the previous one stays readable.
* Reading never unpickles (``allow_pickle=False``). A missing file raises ``NotFoundError``, a
  truncated or corrupt one ``DataLossError``, and a mismatch (unknown names, missing values,
  other shapes or dtypes) ``ValueError``; all are detected before any variable changes.

>>> import os, tempfile
>>> import tapegrad as tf
>>> v = tf.Variable([1.0, 2.0])
>>> ckpt = tf.train.Checkpoint(v=v)
>>> prefix = os.path.join(tempfile.mkdtemp(), "ckpt")
>>> path = ckpt.save(prefix)
>>> _ = v.assign([0.0, 0.0])
>>> _ = ckpt.restore(path)
>>> v.numpy().tolist()
[1.0, 2.0]
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import zipfile

from tapegrad._core.backend import np
from tapegrad._core.errors import DataLossError, NotFoundError
from tapegrad._core.variable import Variable

__all__ = ["Checkpoint", "CheckpointManager", "latest_checkpoint", "CheckpointNotFoundError"]

_SUFFIX = ".npz"


class CheckpointNotFoundError(NotFoundError, FileNotFoundError):
    """The checkpoint file does not exist (a ``NotFoundError`` and a ``FileNotFoundError``)."""


# ---------------------------------------------------------------------------------------------
# objects <-> named arrays
# ---------------------------------------------------------------------------------------------

def _clean(name: str) -> str:
    name = name[:-2] if name.endswith(":0") else name
    return re.sub(r"[^A-Za-z0-9_.\-]", ".", name.rsplit("/", 1)[-1]) or "variable"


def _is_optimizer(obj) -> bool:
    from tapegrad.keras.optimizers import Optimizer
    return isinstance(obj, Optimizer)


def _object_targets(obj, prefix: str) -> dict:
    """Stable name -> Variable for everything ``obj`` holds."""
    if isinstance(obj, Variable):
        return {prefix: obj}
    if isinstance(obj, Checkpoint):
        out = {}
        for key, child in obj._objects.items():
            out.update(_object_targets(child, f"{prefix}/{key}"))
        return out
    if _is_optimizer(obj):
        return {f"{prefix}/{k}": v for k, v in obj._checkpoint_targets().items()}
    variables = getattr(obj, "variables", None)
    if variables is None:
        raise TypeError(f"Checkpoint cannot save {type(obj).__name__} object {prefix!r}: "
                        "pass Variables, models/layers, Modules, optimizers or metrics.")
    if callable(variables):
        variables = variables()
    return {f"{prefix}/{i}/{_clean(getattr(v, 'name', 'variable'))}": v
            for i, v in enumerate(variables)}


def _object_arrays(obj, prefix: str) -> dict:
    return {name: np.asarray(var._value) for name, var in _object_targets(obj, prefix).items()}


# ---------------------------------------------------------------------------------------------
# files
# ---------------------------------------------------------------------------------------------

def _savez(file, arrays: dict) -> None:
    """Write ``arrays`` as an uncompressed npz archive to the open binary ``file``."""
    np.savez(file, **arrays)


def _write_atomically(path: str, mode: str, write) -> None:
    """Write ``path`` through ``write(file)`` atomically (a temporary file in the same folder,
    fsync, ``os.replace``); on any failure the temporary file is removed and ``path`` is
    untouched."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp",
                               dir=directory)
    try:
        with os.fdopen(fd, mode) as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _write_arrays(path: str, arrays: dict) -> None:
    _write_atomically(path, "wb", lambda file: _savez(file, arrays))


def _write_text(path: str, text: str) -> None:
    _write_atomically(path, "w", lambda file: file.write(text))


def _read_arrays(path: str) -> dict:
    """Every array of the npz at ``path`` (read fully, without pickle)."""
    if not os.path.exists(path):
        raise CheckpointNotFoundError(f"Checkpoint file not found: {path}. Check the path "
                                      "(tapegrad.train.latest_checkpoint(folder) finds the "
                                      "newest one).")
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {name: np.array(archive[name]) for name in archive.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as error:
        raise DataLossError(f"Checkpoint file {path} is truncated or corrupt and cannot be "
                            f"read ({type(error).__name__}: {error}). Restore an earlier "
                            "checkpoint.") from None


def _check_and_assign(arrays: dict, targets: dict, path: str, allow_extra: bool,
                      deferred: dict | None = None) -> None:
    """Validate every name, shape and dtype, then assign all values (nothing on failure)."""
    unknown = sorted(set(arrays) - set(targets) - set(deferred or ()))
    if unknown and not allow_extra:
        raise ValueError(f"Checkpoint {path} holds values with no matching variable: "
                         f"{unknown[:10]}{' ...' if len(unknown) > 10 else ''}. It was written "
                         "for a different model or object layout; nothing was restored.")
    missing = sorted(set(targets) - set(arrays))
    if missing:
        raise ValueError(f"Checkpoint {path} has no value for {missing[:10]}"
                         f"{' ...' if len(missing) > 10 else ''}; it was written for a "
                         "different model or object layout; nothing was restored.")
    problems = []
    for name, var in targets.items():
        array = arrays[name]
        if array.shape != var._value.shape:
            problems.append(f"{name}: checkpoint shape {array.shape}, variable shape "
                            f"{var._value.shape}")
        elif array.dtype != var._value.dtype:
            problems.append(f"{name}: checkpoint dtype {array.dtype}, variable dtype "
                            f"{var._value.dtype}")
    if problems:
        raise ValueError(f"Checkpoint {path} does not match the variables "
                         f"({'; '.join(problems[:10])}); nothing was restored.")
    for name, var in targets.items():
        var._apply_update(np.array(arrays[name], copy=True))


# ---------------------------------------------------------------------------------------------
# Checkpoint
# ---------------------------------------------------------------------------------------------

class _LoadStatus:
    """What ``restore`` returns; every value was already checked and assigned."""

    def assert_consumed(self):
        return self

    def assert_existing_objects_matched(self):
        return self

    def assert_nontrivial_match(self):
        return self

    def expect_partial(self):
        return self

    def run_restore_ops(self, session=None):
        return None


class Checkpoint:
    """Group objects (models, optimizers, variables...) to save and restore together.

    ``save(prefix)`` writes ``prefix-<n>.npz`` (n counts saves) and returns ``prefix-<n>``;
    ``restore(path)`` accepts that path (with or without ``.npz``).
    """

    def __init__(self, root=None, **kwargs):
        objects = dict(kwargs)
        if root is not None:
            objects["root"] = root
        for key in objects:
            if not re.fullmatch(r"[A-Za-z0-9_.\-]+", key):
                raise ValueError(f"Checkpoint object names must be simple identifiers, got "
                                 f"{key!r}.")
        self._objects = objects
        self.save_counter = Variable(np.asarray(0, dtype=np.int64), trainable=False,
                                     name="save_counter")

    def __getattr__(self, name):
        objects = self.__dict__.get("_objects", {})
        if name in objects:
            return objects[name]
        raise AttributeError(name)

    def _targets(self) -> dict:
        targets = {"save_counter": self.save_counter}
        for key, obj in self._objects.items():
            targets.update(_object_targets(obj, key))
        return targets

    def write(self, file_prefix) -> str:
        """Write without counting; returns ``file_prefix``."""
        file_prefix = os.fspath(file_prefix)
        arrays = {name: np.asarray(var._value) for name, var in self._targets().items()}
        _write_arrays(_file_of(file_prefix), arrays)
        return file_prefix

    def save(self, file_prefix, options=None) -> str:
        """Write ``<file_prefix>-<n>.npz`` and record it as the folder's latest checkpoint."""
        file_prefix = os.fspath(file_prefix)
        self.save_counter._apply_update(self.save_counter._value + np.int64(1))
        path = f"{file_prefix}-{int(self.save_counter._value)}"
        try:
            self.write(path)
        except BaseException:
            self.save_counter._apply_update(self.save_counter._value - np.int64(1))
            raise
        _update_state_file(os.path.dirname(os.path.abspath(path)), path)
        return path

    def read(self, save_path):
        """Restore values from ``save_path`` (without touching the save counter)."""
        return self._restore(save_path, include_counter=False)

    def restore(self, save_path, options=None):
        """Restore every object's values from ``save_path`` (None: nothing to do).

        Raises before changing anything when the file is missing, corrupt or mismatched.
        """
        return self._restore(save_path, include_counter=True)

    def _restore(self, save_path, include_counter: bool):
        if save_path is None:
            return _LoadStatus()
        path = _file_of(os.fspath(save_path))
        arrays = _read_arrays(path)
        targets = self._targets()
        if not include_counter:
            targets.pop("save_counter", None)
            arrays = {k: v for k, v in arrays.items() if k != "save_counter"}
        elif "save_counter" not in arrays:
            targets.pop("save_counter", None)
        # Objects that this Checkpoint does not hold are ignored (restoring a subset of what
        # was saved is allowed, as in TensorFlow); names under the objects it holds must match.
        roots = set(self._objects) | {name.split("/", 1)[0] for name in targets}
        relevant = {k: v for k, v in arrays.items() if k.split("/", 1)[0] in roots}
        if not relevant and self._objects:
            raise ValueError(f"Checkpoint {path} holds none of the objects "
                             f"{sorted(self._objects)} (it holds "
                             f"{sorted({k.split('/', 1)[0] for k in arrays})}).")
        _check_built(self._objects, relevant, path)
        deferred = _deferred_slots(self._objects, relevant, targets)
        _check_and_assign(relevant, targets, path, allow_extra=False,
                          deferred={f"{key}/{k}" for key, d in deferred.values() for k in d})
        for optimizer, (_, pending) in deferred.items():
            optimizer._deferred_slots = pending
        return _LoadStatus()


def _check_built(objects: dict, arrays: dict, path: str) -> None:
    from tapegrad.keras.layers import Layer
    for key, obj in objects.items():
        if isinstance(obj, Layer) and not obj.weights and \
                any(k.startswith(key + "/") for k in arrays):
            raise ValueError(f"Cannot restore {key!r} from {path}: the model has no variables "
                             "yet (Keras models create them on their first call). Call it on a "
                             "batch, e.g. model(x[:1]), then restore; nothing was restored.")


def _deferred_slots(objects: dict, arrays: dict, targets: dict) -> dict:
    """Slot values for optimizers not built yet: restored when they build (as TF defers)."""
    out = {}
    for key, obj in objects.items():
        if _is_optimizer(obj) and not obj.built:
            prefix = f"{key}/slots/"
            pending = {k[len(key) + 1:]: v for k, v in arrays.items()
                       if k.startswith(prefix) and k not in targets}
            if pending:
                out[obj] = (key, pending)
    return out


def _file_of(path: str) -> str:
    return path if path.endswith(_SUFFIX) else path + _SUFFIX


# ---------------------------------------------------------------------------------------------
# latest checkpoint, manager
# ---------------------------------------------------------------------------------------------

_STATE = "checkpoint"


def _update_state_file(directory: str, latest: str, all_paths=None) -> None:
    state = os.path.join(directory, _STATE)
    paths = list(all_paths) if all_paths is not None else _read_state(directory)[1]
    rel = os.path.relpath(latest, directory)
    if all_paths is None:
        paths = [p for p in paths if p != rel] + [rel]
    lines = [f'model_checkpoint_path: "{rel}"'] + \
        [f'all_model_checkpoint_paths: "{p}"' for p in paths]
    _write_text(state, "\n".join(lines) + "\n")


def _read_state(directory: str):
    state = os.path.join(directory, _STATE)
    if not os.path.exists(state):
        return None, []
    latest, paths = None, []
    with open(state) as file:
        for line in file:
            match = re.match(r'(\w+): "(.*)"', line.strip())
            if not match:
                continue
            if match.group(1) == "model_checkpoint_path":
                latest = match.group(2)
            elif match.group(1) == "all_model_checkpoint_paths":
                paths.append(match.group(2))
    return latest, paths


def latest_checkpoint(checkpoint_dir, latest_filename=None) -> str | None:
    """The newest checkpoint saved in ``checkpoint_dir`` (None if there is none)."""
    checkpoint_dir = os.fspath(checkpoint_dir)
    latest, _ = _read_state(checkpoint_dir)
    if latest is None:
        return None
    path = latest if os.path.isabs(latest) else os.path.join(checkpoint_dir, latest)
    return path if os.path.exists(_file_of(path)) else None


class CheckpointManager:
    """Save numbered checkpoints in ``directory``, keeping the newest ``max_to_keep``."""

    def __init__(self, checkpoint: Checkpoint, directory, max_to_keep=5,
                 checkpoint_name: str = "ckpt", **unused):
        self._checkpoint = checkpoint
        self.directory = os.fspath(directory)
        self.max_to_keep = max_to_keep
        self._prefix = os.path.join(self.directory, checkpoint_name)
        os.makedirs(self.directory, exist_ok=True)
        _, paths = _read_state(self.directory)
        self._paths = [os.path.join(self.directory, p) for p in paths
                       if os.path.exists(_file_of(os.path.join(self.directory, p)))]

    @property
    def latest_checkpoint(self) -> str | None:
        return self._paths[-1] if self._paths else None

    @property
    def checkpoints(self) -> list:
        return list(self._paths)

    def save(self, checkpoint_number=None) -> str:
        if checkpoint_number is not None:
            self._checkpoint.save_counter._apply_update(
                np.asarray(int(checkpoint_number) - 1, dtype=np.int64))
        path = self._checkpoint.save(self._prefix)
        self._paths = [p for p in self._paths if p != path] + [path]
        if self.max_to_keep is not None:
            while len(self._paths) > self.max_to_keep:
                old = self._paths.pop(0)
                with contextlib.suppress(OSError):
                    os.remove(_file_of(old))
        _update_state_file(self.directory, path,
                           [os.path.relpath(p, self.directory) for p in self._paths])
        return path

    def restore_or_initialize(self):
        if self.latest_checkpoint is not None:
            self._checkpoint.restore(self.latest_checkpoint)
            return self.latest_checkpoint
        return None
