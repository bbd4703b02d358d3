"""Checkpoints (``tf.train.Checkpoint``): variables and optimizer slots in a NumPy ``.npz``.

* Names are stable: ``<object>/<position>/<short name>`` for a model's or module's variables
  (their position in ``.variables``), ``<object>/iterations`` and ``<object>/slots/<i>/<slot>``
  for an optimizer, ``<object>`` for a bare Variable, plus ``save_counter``.
* Writing is atomic: the archive goes to a new temporary file in the same folder (mode 0666
  less the umask, as NumPy and TensorFlow write), is flushed to disk, renamed over the target
  (``os.replace``) and the folder is synced, so a crash never leaves a half-written checkpoint
  behind and the previous one stays readable. Temporaries of writers that were killed are
  removed by the next write into the folder.
* Reading never unpickles and never trusts the file: the zip directory and each needed
  member's ``.npy`` header are read first (bounded reads) and checked against the variables
  before any data is read; members nothing asks for are never read; exactly the declared
  bytes are decompressed and the zip CRC is verified. A missing file raises ``NotFoundError``;
  a truncated, corrupt or hostile one (non-numeric dtypes, sizes that disagree, odd member
  names, not a regular file, a plain ``.npy``) ``DataLossError`` naming the file and member;
  a mismatch (unknown names under a restored object, other shapes or dtypes) ``ValueError``.
  All are detected before any variable changes.
* ``restore`` returns a status whose ``assert_consumed()`` / ``assert_existing_objects_matched()``
  report, as TensorFlow's do, objects the file lacks and values no object took.

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
import io
import math
import os
import re
import secrets
import stat
import struct
import weakref
import zipfile
import zlib
from typing import NamedTuple

from tapegrad._core.backend import np
from tapegrad._core.errors import DataLossError, NotFoundError
from tapegrad._core.tensor import array_of
from tapegrad._core.variable import Variable, replace_array
from tapegrad.training import module as module_layer

__all__ = ["Checkpoint", "CheckpointManager", "latest_checkpoint", "list_variables",
           "load_variable", "CheckpointNotFoundError"]

_SUFFIX = ".npz"


class CheckpointNotFoundError(NotFoundError, FileNotFoundError):
    """The checkpoint file does not exist (a ``NotFoundError`` and a ``FileNotFoundError``)."""


# ---------------------------------------------------------------------------------------------
# objects <-> named arrays
# ---------------------------------------------------------------------------------------------

def _clean(name: str) -> str:
    name = name[:-2] if name.endswith(":0") else name
    cleaned = re.sub(r"[^A-Za-z0-9_.\-]", ".", name.rsplit("/", 1)[-1])
    return cleaned if cleaned.strip(".") else "variable"     # never "", "." or ".."


# The checkpointable protocol. A Checkpoint saves, for each object it holds: a Variable itself;
# a nested Checkpoint; an object with ``checkpoint_variables()`` (name -> Variable: optimizers,
# whose slots are named by position); anything else through its ``variables`` (Modules, Keras
# layers and models, metrics). An object whose variables come later says so with
# ``built = False``: if it has ``defer_restore(values)`` (optimizers), the values it cannot
# place yet wait there until it builds, as TensorFlow defers them; otherwise a restore into it
# is refused before anything changes (a Keras model builds on its first call).

def _names_its_variables(obj) -> bool:
    return callable(getattr(obj, "checkpoint_variables", None))


def _object_targets(obj, prefix: str) -> dict:
    """Stable name -> Variable for everything ``obj`` holds."""
    if isinstance(obj, Variable):
        return {prefix: obj}
    if isinstance(obj, Checkpoint):
        out = {}
        for key, child in obj._objects.items():
            out.update(_object_targets(child, f"{prefix}/{key}"))
        return out
    if _names_its_variables(obj):
        return {f"{prefix}/{k}": v for k, v in obj.checkpoint_variables().items()}
    if _is_plain_module(obj):
        return _module_targets(obj, prefix)
    variables = getattr(obj, "variables", None)
    if variables is None:
        raise TypeError(f"Checkpoint cannot save {type(obj).__name__} object {prefix!r}: "
                        "pass Variables, models/layers, Modules, optimizers or metrics.")
    if callable(variables):
        variables = variables()
    return {f"{prefix}/{i}/{_clean(getattr(v, 'name', 'variable'))}": v
            for i, v in enumerate(variables)}


def _is_plain_module(obj) -> bool:
    from tapegrad.keras.layers import Layer
    from tapegrad.training.module import Module
    return isinstance(obj, Module) and not isinstance(obj, Layer)


def _module_targets(module, prefix: str) -> dict:
    """A tf.Module's variables named by attribute path (``model/dense_1/w``), as TensorFlow's
    object graph names them, so a value can find its variable before the others exist."""
    targets: dict = {}
    seen: set = set()
    for path, variable in module._flatten(predicate=lambda v: isinstance(v, Variable),
                                          with_path=True):
        if id(variable) not in seen:
            seen.add(id(variable))
            targets["/".join([prefix, *(_clean(str(part)) for part in path)])] = variable
    return targets


# Restores waiting for tf.Module variables that do not exist yet: completed when they are
# attached (the Module calls _complete_deferred after every Module attribute assignment).
_DEFERRED: list = []


class _DeferredRestore:
    """Checkpoint values for variables of ``module`` (object ``key``) not created yet."""

    def __init__(self, module, key: str, values: dict):
        self.module = weakref.ref(module)
        self.key = key
        self.values = values  # checkpoint name -> array, removed once assigned

    def complete(self) -> None:
        module = self.module()
        if module is None:
            self.values.clear()
            return
        ready = {name: var for name, var in _module_targets(module, self.key).items()
                 if name in self.values}
        for name, var in ready.items():
            array = self.values[name]
            current = array_of(var)
            if array.shape != current.shape or array.dtype != current.dtype:
                raise ValueError(f"Deferred checkpoint value {name} has shape {array.shape} "
                                 f"and dtype {array.dtype}, but the variable created for it "
                                 f"has {current.shape} and {current.dtype}.")
        for name, var in ready.items():
            replace_array(var, self.values.pop(name))


def _complete_deferred(_module) -> None:
    for restore in tuple(_DEFERRED):
        restore.complete()
        if not restore.values:
            _DEFERRED.remove(restore)
    if not _DEFERRED and _complete_deferred in module_layer.attribute_observers:
        module_layer.attribute_observers.remove(_complete_deferred)


def _defer(module, key: str, values: dict) -> _DeferredRestore:
    restore = _DeferredRestore(module, key, values)
    _DEFERRED.append(restore)
    if _complete_deferred not in module_layer.attribute_observers:
        module_layer.attribute_observers.append(_complete_deferred)
    return restore


def _object_arrays(obj, prefix: str) -> dict:
    return {name: np.asarray(array_of(var)) for name, var in _object_targets(obj, prefix).items()}


# ---------------------------------------------------------------------------------------------
# files: writing
# ---------------------------------------------------------------------------------------------

def _savez(file, arrays: dict) -> None:
    """Write ``arrays`` as an uncompressed npz archive to the open binary ``file``."""
    np.savez(file, **arrays)


# Temporary files are named ".<target>.<pid>-<random>.tmp": a writer killed mid-write leaves
# one behind, and the next write into the folder removes those whose process is gone.
_TEMPORARY = re.compile(r"\..+\.(\d+)-[0-9a-f]+\.tmp")


def _process_is_gone(pid: int) -> bool:
    if os.name != "posix" or pid == os.getpid():
        return False     # POSIX only; this process: another thread may be writing it
    try:
        os.kill(pid, 0)  # signal 0 only asks whether the process exists
    except ProcessLookupError:
        return True
    except OSError:
        pass             # alive but someone else's, or unknown: keep its file
    return False


def _remove_stale_temporaries(directory: str) -> None:
    with contextlib.suppress(OSError):
        for name in os.listdir(directory):
            match = _TEMPORARY.fullmatch(name)
            if match and _process_is_gone(int(match.group(1))):
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(directory, name))


def _create_temporary(directory: str, target: str) -> tuple[int, str]:
    """Create a new temporary file for ``target``; mode 0666 less the umask, as NumPy and
    TensorFlow write their files (``mkstemp`` would make it 0600)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = os.path.join(directory, f".{target}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue


def _sync_directory(directory: str) -> None:
    """Make a rename in ``directory`` durable (POSIX; Windows cannot open folders)."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomically(path: str, mode: str, write) -> None:
    """Write ``path`` through ``write(file)`` atomically (a temporary file in the same folder,
    fsync, ``os.replace``, fsync of the folder); on any failure the temporary file is removed
    and ``path`` is untouched. Temporaries left by killed writers are removed first."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    _remove_stale_temporaries(directory)
    fd, tmp = _create_temporary(directory, os.path.basename(path))
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
    _sync_directory(directory)


def _write_arrays(path: str, arrays: dict) -> None:
    _write_atomically(path, "wb", lambda file: _savez(file, arrays))


def _write_text(path: str, text: str) -> None:
    _write_atomically(path, "w", lambda file: file.write(text))


# ---------------------------------------------------------------------------------------------
# files: reading (hostile files fail fast, in bounded memory, before any variable changes)
# ---------------------------------------------------------------------------------------------

_MAX_HEADER = 10_000        # bytes of a member's .npy header dict (NumPy's own safety limit)
_NUMERIC_KINDS = "biufc"    # bool, signed/unsigned integers, floats, complex
_KEY = re.compile(r"[A-Za-z0-9_.\-]+(?:/[A-Za-z0-9_.\-]+)*")
_READ_CHUNK = 1 << 20
# Everything zipfile/zlib/NumPy may raise on damaged bytes (RuntimeError: "encrypted").
_DAMAGE = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, ValueError, OSError, EOFError,
           KeyError, RuntimeError, NotImplementedError, struct.error, UnicodeDecodeError,
           SyntaxError, RecursionError, OverflowError)


def _damaged(path: str, what: str) -> DataLossError:
    return DataLossError(f"Checkpoint file {path} is truncated or corrupt and cannot be read: "
                         f"{what}. Nothing was restored; restore an earlier checkpoint.")


class _Header(NamedTuple):
    dtype: object
    shape: tuple
    fortran_order: bool


class _Archive:
    """A checkpoint file opened for reading: its zip directory is read and checked (names,
    compression, sizes) when it opens; a member's header and data only when asked for."""

    def __init__(self, path: str):
        self.path = path
        # O_NONBLOCK: opening a FIFO must not wait for a writer (no effect on regular files)
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
        try:
            fd = os.open(path, flags)
        except FileNotFoundError:
            raise CheckpointNotFoundError(
                f"Checkpoint file not found: {path}. Check the path "
                "(tapegrad.train.latest_checkpoint(folder) finds the newest one).") from None
        except OSError as error:     # a symlink loop, a folder we may not enter...
            raise _damaged(path, f"it cannot be opened ({error})") from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):   # a folder, a FIFO, a device (/dev/zero)
            os.close(fd)
            raise _damaged(path, "it is not a regular file")
        self._file = os.fdopen(fd, "rb")
        try:
            self._zip = self._open_zip()
            self._members = self._directory()
        except BaseException:
            self._file.close()
            raise

    def _open_zip(self):
        magic = self._file.read(6)
        if magic == b"\x93NUMPY":
            raise _damaged(self.path, "it is a single .npy array, not a checkpoint archive "
                           "(checkpoints are .npz archives written by Checkpoint.save)")
        self._file.seek(0)
        try:
            return zipfile.ZipFile(self._file)
        except _DAMAGE as error:
            raise _damaged(self.path, f"not a valid zip archive ({error})") from None

    def _directory(self) -> dict:
        """key -> ZipInfo, every entry checked from the directory alone."""
        size = os.fstat(self._file.fileno()).st_size
        members = {}
        for info in self._zip.infolist():
            name = info.filename
            key = name[:-4] if name.endswith(".npy") else None
            where = f"member {name!r}"
            if key is None or not _KEY.fullmatch(key) or \
                    any(part in (".", "..") for part in key.split("/")):
                raise _damaged(self.path, f"{where} is not a checkpoint value name (names are "
                               "<object>/<...>/<name>.npy, without '..' or absolute paths)")
            if key in members:
                raise _damaged(self.path, f"{where} appears twice")
            if info.flag_bits & 0x61:           # encrypted / patched / strongly encrypted
                raise _damaged(self.path, f"{where} is encrypted or patched")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise _damaged(self.path, f"{where} uses an unsupported compression method")
            if info.compress_size > size or (info.compress_type == zipfile.ZIP_STORED
                                             and info.compress_size != info.file_size):
                raise _damaged(self.path, f"{where} declares sizes the file cannot hold")
            members[key] = info
        return members

    def keys(self) -> set:
        return set(self._members)

    def close(self) -> None:
        self._zip.close()
        self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- members --------------------------------------------------------------------------------
    def _where(self, key: str) -> str:
        return f"member {self._members[key].filename!r}"

    def header(self, key: str) -> _Header:
        """The member's dtype, shape and order, from its .npy header (a few bounded reads);
        the declared array size must be exactly what the zip says the member holds."""
        info = self._members[key]
        try:
            with self._zip.open(info) as member:
                header, header_size = self._parse_header(key, member)
        except DataLossError:
            raise
        except _DAMAGE as error:
            raise _damaged(self.path, f"{self._where(key)}: {type(error).__name__}: "
                           f"{error}") from None
        dtype, shape = header.dtype, header.shape
        if dtype.kind not in _NUMERIC_KINDS or dtype.itemsize == 0 or dtype.fields is not None:
            raise _damaged(self.path, f"{self._where(key)} holds dtype {dtype.str!r}; "
                           "checkpoints hold only numbers (bool, integers, floats, complex)")
        if len(shape) > 64 or any(d < 0 for d in shape):
            raise _damaged(self.path, f"{self._where(key)} declares an invalid shape {shape}")
        declared = header_size + dtype.itemsize * math.prod(shape)
        if declared != info.file_size:
            raise _damaged(self.path, f"{self._where(key)} declares {dtype.str} {shape} "
                           f"({declared} bytes with its header) but the archive says it holds "
                           f"{info.file_size} bytes")
        return header

    def _parse_header(self, key: str, member) -> tuple[_Header, int]:
        start = _read_exactly(member, 8)
        if start[:6] != b"\x93NUMPY":
            raise _damaged(self.path, f"{self._where(key)} is not a .npy array")
        version = (start[6], start[7])
        if version not in ((1, 0), (2, 0)):
            raise _damaged(self.path, f"{self._where(key)} has .npy format version "
                           f"{version}, expected 1.0 or 2.0")
        length_bytes = _read_exactly(member, 2 if version == (1, 0) else 4)
        length = int.from_bytes(length_bytes, "little")
        if length > _MAX_HEADER:
            raise _damaged(self.path, f"{self._where(key)} declares a {length}-byte header")
        raw = start + length_bytes + _read_exactly(member, length)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
            np.lib.format.read_array_header_2_0
        stream = io.BytesIO(raw[8:])
        shape, fortran_order, dtype = read(stream, max_header_size=_MAX_HEADER)
        return _Header(dtype, tuple(shape), fortran_order), len(raw)

    def read(self, key: str, header: _Header) -> np.ndarray:
        """The member's array: exactly the size its (already checked) header declares is
        decompressed, and the zip CRC is verified."""
        info = self._members[key]
        data = np.empty(header.dtype.itemsize * math.prod(header.shape), np.uint8)
        try:
            with self._zip.open(info) as member:
                self._parse_header(key, member)
                view, filled = memoryview(data), 0
                # zipfile checks the CRC as the last declared byte arrives
                while filled < len(data):
                    count = member.readinto(view[filled:filled + _READ_CHUNK])
                    if not count:
                        raise EOFError("the member ends early")
                    filled += count
        except DataLossError:
            raise
        except _DAMAGE as error:
            raise _damaged(self.path, f"{self._where(key)}: {type(error).__name__}: "
                           f"{error}") from None
        array = data.view(header.dtype).reshape(header.shape,
                                                order="F" if header.fortran_order else "C")
        return np.asarray(array, order="C")       # copies only a Fortran-order member


def _read_exactly(stream, size: int) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise EOFError("the member ends early")
    return data


def _check_names(keys: set, targets: dict, path: str, deferred=()) -> None:
    """Every checkpoint name has a variable and every variable a value (names only)."""
    unknown = sorted(keys - set(targets) - set(deferred))
    if unknown:
        raise ValueError(f"Checkpoint {path} holds values with no matching variable: "
                         f"{unknown[:10]}{' ...' if len(unknown) > 10 else ''}. It was written "
                         "for a different model or object layout; nothing was restored.")
    missing = sorted(set(targets) - keys)
    if missing:
        raise ValueError(f"Checkpoint {path} has no value for {missing[:10]}"
                         f"{' ...' if len(missing) > 10 else ''}; it was written for a "
                         "different model or object layout; nothing was restored.")


def _read_checked(archive: _Archive, targets: dict, deferred=()) -> dict:
    """The arrays for ``targets`` (name -> Variable) and the ``deferred`` names: every header
    is read and compared with its variable's shape and dtype before any data is read."""
    headers = {key: archive.header(key) for key in [*targets, *deferred]}
    problems = []
    for name, var in targets.items():
        header, current = headers[name], array_of(var)
        if header.shape != current.shape:
            problems.append(f"{name}: checkpoint shape {header.shape}, variable shape "
                            f"{current.shape}")
        elif header.dtype != current.dtype:
            problems.append(f"{name}: checkpoint dtype {header.dtype}, variable dtype "
                            f"{current.dtype}")
    if problems:
        raise ValueError(f"Checkpoint {archive.path} does not match the variables "
                         f"({'; '.join(problems[:10])}); nothing was restored.")
    return {key: archive.read(key, header) for key, header in headers.items()}


def _assign(arrays: dict, targets: dict) -> None:
    for name, var in targets.items():
        replace_array(var, arrays[name])


def _load_weights(model, path: str) -> None:
    """``Model.load_weights``: exactly the model's weights, all checked before any changes."""
    with _Archive(path) as archive:
        _check_built({"model": model}, archive.keys(), path)
        targets = _object_targets(model, "model")
        _check_names(archive.keys(), targets, path)
        arrays = _read_checked(archive, targets)
    _assign(arrays, targets)


# ---------------------------------------------------------------------------------------------
# Checkpoint
# ---------------------------------------------------------------------------------------------

class _LoadStatus:
    """What ``restore`` returns. Every value that matched was already checked and assigned; the
    assertions report, as TensorFlow's do, what was left over: checkpoint values of objects this
    Checkpoint does not hold, objects the file has no values for, and optimizer slots still
    waiting for their optimizer to build."""

    def __init__(self, path, unused=(), unmatched=(), pending=None, deferred=()):
        self._path = path
        self._unused = sorted(unused)
        self._unmatched = sorted(unmatched)
        self._pending = pending or {}    # optimizer -> (object name, the values it waits with)
        self._deferred = list(deferred)  # _DeferredRestore of Modules still to build variables

    def _require_path(self):
        if self._path is None:
            raise AssertionError("No checkpoint specified (save_path=None); nothing is being "
                                 "restored.")

    def assert_consumed(self):
        """Raise AssertionError unless every value in the file went to a variable (deferred
        optimizer slots count once the optimizer has built) and every object got values."""
        self.assert_existing_objects_matched()
        if self._unused:
            raise AssertionError(f"Unresolved values in checkpoint {self._path}: "
                                 f"{self._unused[:10]}: this Checkpoint holds no object for "
                                 "them. Add the objects, or call status.expect_partial() "
                                 "when restoring part of a checkpoint is intended.")
        waiting = sorted(key for optimizer, (key, values) in self._pending.items()
                         if optimizer.pending_restore is values)
        if waiting:
            raise AssertionError(f"Optimizer slot values for {waiting} from {self._path} wait "
                                 "for the optimizer's first apply_gradients (they are restored "
                                 "when it creates its slots).")
        unbuilt = sorted(name for restore in self._deferred for name in restore.values)
        if unbuilt:
            raise AssertionError(f"Values {unbuilt[:10]} from {self._path} wait for variables "
                                 "their modules have not created yet (each is restored when "
                                 "its variable is attached, e.g. on the module's first call).")
        return self

    def assert_existing_objects_matched(self):
        """Raise AssertionError unless every object of the Checkpoint got values."""
        self._require_path()
        if self._unmatched:
            raise AssertionError(f"Checkpoint {self._path} holds no values for the objects "
                                 f"{self._unmatched}; they keep their current values.")
        return self

    def assert_nontrivial_match(self):
        """Raise AssertionError for ``restore(None)`` (TensorFlow counts the save counter as a
        match, so any file passes)."""
        self._require_path()
        return self

    def expect_partial(self):
        """Mark a partial restore as intended (tapegrad warns about nothing later)."""
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
            if not re.fullmatch(r"[A-Za-z0-9_.\-]+", key) or key in (".", ".."):
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
        """Write without counting; returns ``file_prefix``. As TensorFlow, the save counter is
        written only once a ``save()`` has created it (counted)."""
        file_prefix = os.fspath(file_prefix)
        arrays = {name: np.asarray(array_of(var)) for name, var in self._targets().items()
                  if name != "save_counter" or int(array_of(var))}
        _write_arrays(_file_of(file_prefix), arrays)
        return file_prefix

    def save(self, file_prefix, options=None) -> str:
        """Write ``<file_prefix>-<n>.npz`` and record it as the folder's latest checkpoint."""
        path = self._save_numbered(os.fspath(file_prefix))
        _update_state_file(os.path.dirname(os.path.abspath(path)), path)
        return path

    def _save_numbered(self, file_prefix: str, number=None) -> str:
        """Count the save, write ``<file_prefix>-<number or count>``; a failed write does not
        count."""
        counter = self.save_counter
        replace_array(counter, array_of(counter) + np.int64(1))
        path = f"{file_prefix}-{int(array_of(counter)) if number is None else int(number)}"
        try:
            self.write(path)
        except BaseException:
            replace_array(counter, array_of(counter) - np.int64(1))
            raise
        return path

    def read(self, save_path):
        """Restore values from ``save_path`` (without touching the save counter)."""
        return self._restore(save_path, include_counter=False)

    def restore(self, save_path, options=None):
        """Restore every object's values from ``save_path`` (None: nothing to do).

        Raises before changing anything when the file is missing, corrupt or mismatched.
        Objects the file has no values for keep theirs, and values of objects this Checkpoint
        does not hold are ignored, as in TensorFlow: the returned status's
        ``assert_consumed()`` / ``assert_existing_objects_matched()`` report them.
        """
        return self._restore(save_path, include_counter=True)

    def _restore(self, save_path, include_counter: bool):
        if save_path is None:
            return _LoadStatus(None)
        path = _file_of(os.fspath(save_path))
        with _Archive(path) as archive:
            keys = archive.keys()
            saved_objects = {_object_of(k) for k in keys}
            targets = self._targets()
            if not include_counter or "save_counter" not in keys:
                del targets["save_counter"]
            unmatched = {key for key in self._objects if key not in saved_objects and
                         any(_object_of(name) == key for name in targets)}
            targets = {n: v for n, v in targets.items() if _object_of(n) not in unmatched}
            wanted = {k for k in keys if _object_of(k) in self._objects} | \
                ({"save_counter"} & set(targets))
            unused = {k for k in keys if _object_of(k) not in self._objects} - {"save_counter"}
            _check_built(self._objects, wanted, path)
            deferred = _deferred_slots(self._objects, wanted, targets)
            deferred_names = [name for _, names in deferred.values() for name in names]
            waiting = _waiting_module_values(self._objects, wanted, targets)
            deferred_names += [name for names in waiting.values() for name in names]
            _check_names(wanted, targets, path, deferred_names)
            arrays = _read_checked(archive, targets, deferred_names)
        _assign(arrays, targets)
        restores = [_defer(self._objects[key], key, {name: arrays[name] for name in names})
                    for key, names in waiting.items()]
        pending = {}
        for optimizer, (key, names) in deferred.items():
            values = {name[len(key) + 1:]: arrays[name] for name in names}
            optimizer.defer_restore(values)
            pending[optimizer] = (key, values)
        return _LoadStatus(path, unused, unmatched, pending, restores)


def _object_of(name: str) -> str:
    return name.split("/", 1)[0]


def _check_built(objects: dict, names, path: str) -> None:
    for key, obj in objects.items():
        if getattr(obj, "built", True) is False and not hasattr(obj, "defer_restore") and \
                any(k.startswith(key + "/") for k in names):
            raise ValueError(f"Cannot restore {key!r} from {path}: the model has no variables "
                             "yet (Keras models create them on their first call). Call it on a "
                             "batch, e.g. model(x[:1]), then restore; nothing was restored.")


def _waiting_module_values(objects: dict, names, targets: dict) -> dict:
    """Values of tf.Modules' variables that do not exist yet: object name -> checkpoint names
    (restored when the module attaches those variables, as TensorFlow defers them)."""
    out = {}
    for key, obj in objects.items():
        if _is_plain_module(obj):
            waiting = sorted(k for k in names if _object_of(k) == key and k not in targets)
            if waiting:
                out[key] = waiting
    return out


def _deferred_slots(objects: dict, names, targets: dict) -> dict:
    """Slot values for optimizers not built yet: optimizer -> (its object name, the checkpoint
    names of its slots); they are restored, after checks, when it builds (as TF defers)."""
    out = {}
    for key, obj in objects.items():
        if hasattr(obj, "defer_restore") and not obj.built:
            prefix = f"{key}/slots/"
            pending = sorted(k for k in names if k.startswith(prefix) and k not in targets)
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


# TensorFlow's names for the values of a checkpoint: each variable's object path with this
# suffix, beside the serialized object graph (tapegrad's files key values by the path alone).
_TF_VALUE_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"
_TF_OBJECT_GRAPH = "_CHECKPOINTABLE_OBJECT_GRAPH"


def _checkpoint_file(ckpt_dir_or_file) -> str:
    """The checkpoint file of a prefix, or of a folder's latest checkpoint."""
    path = os.fspath(ckpt_dir_or_file)
    if os.path.isdir(path):
        latest = latest_checkpoint(path)
        if latest is None:
            raise ValueError(f"Couldn't find 'checkpoint' file or checkpoints in given "
                             f"directory {path}")
        path = latest
    return _file_of(path)


def list_variables(ckpt_dir_or_file) -> list:
    """``(name, shape)`` of every value in a checkpoint (a folder means its latest one), sorted
    by name, with TensorFlow's names (``model/dense_1/w/.ATTRIBUTES/VARIABLE_VALUE``, and the
    object graph's entry).

    >>> import os, tempfile
    >>> import tapegrad as tf
    >>> prefix = os.path.join(tempfile.mkdtemp(), "ckpt")
    >>> tf.train.list_variables(tf.train.Checkpoint(v=tf.Variable([1.0, 2.0])).write(prefix))
    [('_CHECKPOINTABLE_OBJECT_GRAPH', []), ('v/.ATTRIBUTES/VARIABLE_VALUE', [2])]
    """
    with _Archive(_checkpoint_file(ckpt_dir_or_file)) as archive:
        return [(_TF_OBJECT_GRAPH, [])] + sorted(
            (key + _TF_VALUE_SUFFIX, list(archive.header(key).shape)) for key in archive.keys())


def load_variable(ckpt_dir_or_file, name: str):
    """The NumPy value of one variable of a checkpoint, by a name ``list_variables`` gives.

    >>> import os, tempfile
    >>> import tapegrad as tf
    >>> prefix = os.path.join(tempfile.mkdtemp(), "ckpt")
    >>> path = tf.train.Checkpoint(v=tf.Variable([1.0, 2.0])).write(prefix)
    >>> tf.train.load_variable(path, "v/.ATTRIBUTES/VARIABLE_VALUE").tolist()
    [1.0, 2.0]
    """
    key = name[:-len(_TF_VALUE_SUFFIX)] if name.endswith(_TF_VALUE_SUFFIX) else name
    with _Archive(_checkpoint_file(ckpt_dir_or_file)) as archive:
        if key not in archive.keys():
            raise NotFoundError(f"Key {name} not found in checkpoint "
                                f"{_checkpoint_file(ckpt_dir_or_file)}; "
                                "tf.train.list_variables lists the names it holds.")
        return archive.read(key, archive.header(key))


class CheckpointManager:
    """Save numbered checkpoints in ``directory``, keeping the newest ``max_to_keep`` (None:
    keep all).

    >>> import tempfile
    >>> import tapegrad as tf
    >>> manager = tf.train.CheckpointManager(tf.train.Checkpoint(v=tf.Variable(1.0)),
    ...                                      tempfile.mkdtemp(), max_to_keep=2)
    >>> [manager.save().rsplit("-", 1)[1] for _ in range(3)]
    ['1', '2', '3']
    >>> [p.rsplit("-", 1)[1] for p in manager.checkpoints]
    ['2', '3']
    """

    def __init__(self, checkpoint: Checkpoint, directory, max_to_keep=5,
                 checkpoint_name: str = "ckpt", **unused):
        if max_to_keep is not None and max_to_keep <= 0:
            raise ValueError("Expected a positive integer or `None` for `max_to_keep`, got "
                             f"{max_to_keep}.")
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
        """Write the next checkpoint; ``checkpoint_number`` names it (``save_counter`` still
        counts one more save, as in TensorFlow)."""
        path = self._checkpoint._save_numbered(self._prefix, checkpoint_number)
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
