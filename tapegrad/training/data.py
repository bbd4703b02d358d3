"""``tapegrad.data.Dataset``: input pipelines (``tf.data.Dataset``) for training loops.

A dataset made by ``from_tensor_slices`` is a list of row indices into NumPy arrays until it is
batched: ``shuffle``, ``take``, ``skip`` and ``repeat`` work on those indices, and ``batch``
slices every array once per batch, so there is no Python work per element. ``map`` after
``batch`` runs once per batch (vectorized); ``map`` before ``batch`` runs once per element, as
in TensorFlow.

>>> import tapegrad as tf
>>> ds = tf.data.Dataset.from_tensor_slices(([1.0, 2.0, 3.0, 4.0], [0, 1, 0, 1]))
>>> [(x.numpy().tolist(), y.numpy().tolist()) for x, y in ds.batch(3)]
[([1.0, 2.0, 3.0], [0, 1, 0]), ([4.0], [1])]
"""

from __future__ import annotations

import itertools
import sys

from tapegrad._core import nest
from tapegrad._core.backend import np
from tapegrad._core.errors import (
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
)
from tapegrad._core.tensor import Tensor, as_value, to_array, wrap
from tapegrad._core.variable import Variable
from tapegrad.ops import random

__all__ = ["Dataset", "TextLineDataset", "AUTOTUNE", "INFINITE_CARDINALITY",
           "UNKNOWN_CARDINALITY", "experimental"]

AUTOTUNE = -1
INFINITE_CARDINALITY = -1
UNKNOWN_CARDINALITY = -2


def _leaf_array(value):
    if isinstance(value, (Tensor, Variable)):
        return np.asarray(to_array(value))
    return np.asarray(to_array(value))


def _split(structure):
    """(structure skeleton, flat list of arrays); lists count as tensors, as tf.data does."""
    def normalize(node):
        if isinstance(node, dict):
            return {k: normalize(v) for k, v in node.items()}
        if isinstance(node, tuple):
            return type(node)(*[normalize(v) for v in node]) if hasattr(type(node), "_fields") \
                else tuple(normalize(v) for v in node)
        return _Leaf(_leaf_array(node))

    skeleton = normalize(structure)
    leaves = nest.flatten(skeleton)
    return skeleton, [leaf.array for leaf in leaves]


class _Leaf:
    __slots__ = ("array",)

    def __init__(self, array):
        self.array = array


def _pack(skeleton, arrays):
    return nest.pack_sequence_as(skeleton, [wrap(as_value(a)) for a in arrays])


def _call(fn, element):
    if isinstance(element, tuple) and not hasattr(type(element), "_fields"):
        return fn(*element)
    return fn(element)


class Dataset:
    """A sequence of elements (tensors or tuples/dicts of tensors), iterated with ``for``.

    Build one with :meth:`from_tensor_slices`, :meth:`from_tensors`, :meth:`range` or
    :meth:`zip`, then chain ``shuffle``, ``batch``, ``map``, ``take``, ``repeat`` and
    ``prefetch``.
    """

    # -- sources ----------------------------------------------------------------------------
    @staticmethod
    def from_tensor_slices(tensors, name=None) -> Dataset:
        """One element per row (first dimension) of ``tensors`` (a tensor, tuple or dict).

        >>> import tapegrad as tf
        >>> ds = tf.data.Dataset.from_tensor_slices({"a": [1, 2], "b": [3, 4]})
        >>> [sorted((k, int(v)) for k, v in e.items()) for e in ds]
        [[('a', 1), ('b', 3)], [('a', 2), ('b', 4)]]
        """
        skeleton, arrays = _split(tensors)
        if not arrays:
            raise ValueError("from_tensor_slices needs at least one tensor.")
        rows = {a.shape[0] if a.ndim else None for a in arrays}
        if None in rows:
            raise ValueError("from_tensor_slices: every component must have rank >= 1 (one "
                             "element per row); use from_tensors for a single element.")
        if len(rows) != 1:
            raise ValueError("Dimensions of the components must agree: got first dimensions "
                             f"{[a.shape[0] for a in arrays]}.")
        return _SliceDataset(skeleton, arrays, np.arange(rows.pop()))

    @staticmethod
    def from_tensors(tensors, name=None) -> Dataset:
        """A dataset with ``tensors`` as its only element."""
        skeleton, arrays = _split(tensors)
        return _SliceDataset(skeleton, [a[None] for a in arrays], np.arange(1))

    @staticmethod
    def range(*args, output_type=None, name=None) -> Dataset:  # noqa: A003
        """Integers like Python's ``range`` (int64 scalars).

        >>> import tapegrad as tf
        >>> [int(x) for x in tf.data.Dataset.range(3)]
        [0, 1, 2]
        """
        values = np.arange(*args, dtype=np.int64)
        return _SliceDataset(_Leaf(values), [values], np.arange(values.shape[0]))

    @staticmethod
    def zip(*datasets, name=None) -> Dataset:
        """Elements of several datasets side by side (stops at the shortest)."""
        if len(datasets) == 1 and isinstance(datasets[0], (tuple, dict)):
            datasets = datasets[0]
        return _GeneratorDataset(lambda: _zip_iter(datasets))

    @staticmethod
    def from_generator(generator, output_types=None, output_shapes=None, args=None,
                       output_signature=None, name=None) -> Dataset:
        """Elements produced by calling ``generator()`` (converted to tensors)."""
        def make():
            for item in generator(*(args or ())):
                yield nest.map_structure(lambda v: wrap(_leaf_array(v)), item)
        return _GeneratorDataset(make)

    # -- iteration --------------------------------------------------------------------------
    def __iter__(self):
        tracing = sys.modules.get("tapegrad.autodiff.function.symbolic")
        if tracing is not None and tracing.tracing.stack:
            # (inside a tf.function trace the elements would be frozen into the program:
            # AutoGraph's `for ... in dataset` and iterator arguments read them at every call)
            raise tracing.Untraceable("iterating a tf.data Dataset in Python (its elements are "
                                      "read afresh at every call)", tracing.user_location(2))
        return _Iterator(self)

    def _elements(self):
        raise NotImplementedError

    def as_numpy_iterator(self):
        """Iterate with NumPy values instead of tensors."""
        for element in self:
            yield nest.map_structure(lambda t: t.numpy(), element)

    def cardinality(self) -> Tensor:
        """Number of elements (-1 infinite, -2 unknown) as an int64 scalar tensor."""
        return wrap(np.asarray(self._cardinality(), dtype=np.int64))

    def _cardinality(self) -> int:
        return UNKNOWN_CARDINALITY

    def __len__(self) -> int:
        n = self._cardinality()
        if n == INFINITE_CARDINALITY:
            raise TypeError("The dataset is infinite.")
        if n == UNKNOWN_CARDINALITY:
            raise TypeError("The dataset length is unknown.")
        return n

    # -- transformations --------------------------------------------------------------------
    def batch(self, batch_size: int, drop_remainder: bool = False, num_parallel_calls=None,
              deterministic=None, name=None) -> Dataset:
        """Combine consecutive elements into batches (the last may be smaller)."""
        batch_size = int(batch_size)
        if batch_size <= 0:
            raise ValueError(f"batch_size must be positive, got {batch_size}.")
        return _BatchDataset(self, batch_size, drop_remainder)

    def shuffle(self, buffer_size: int, seed=None, reshuffle_each_iteration=True,
                name=None) -> Dataset:
        """Randomly shuffle elements with a buffer of ``buffer_size`` (a full shuffle when the
        buffer holds the whole dataset); a new order on each iteration unless
        ``reshuffle_each_iteration=False``."""
        global_seed = random.global_seed()
        if seed is not None:
            rng = np.random.default_rng([int(seed), 31] if global_seed is None
                                        else [int(seed), global_seed, 31])
        elif global_seed is not None:
            rng = np.random.default_rng(random.global_rng().integers(0, 2 ** 62))
        else:
            rng = np.random.default_rng()
        return _ShuffleDataset(self, int(buffer_size), rng, reshuffle_each_iteration)

    def map(self, map_func, num_parallel_calls=None, deterministic=None, name=None) -> Dataset:
        """Apply ``map_func`` to each element (tuples are unpacked into arguments)."""
        return _MapDataset(self, map_func)

    def filter(self, predicate, name=None) -> Dataset:
        """Keep the elements for which ``predicate`` is true."""
        return _GeneratorDataset(lambda: (e for e in self if bool(_call(predicate, e))))

    def take(self, count: int, name=None) -> Dataset:
        """The first ``count`` elements (all of them when ``count`` is -1)."""
        return _TakeDataset(self, int(count), skip=False)

    def skip(self, count: int, name=None) -> Dataset:
        """All but the first ``count`` elements (none when ``count`` is negative, as
        TensorFlow: -1 skips the whole dataset)."""
        return _TakeDataset(self, int(count), skip=True)

    def shard(self, num_shards, index, name=None) -> Dataset:
        """Every ``num_shards``-th element, starting at ``index`` (each of ``num_shards``
        workers takes its own disjoint part, e.g. ``shard(hvd.size(), hvd.rank())``).

        >>> import tapegrad as tf
        >>> [int(x) for x in tf.data.Dataset.range(10).shard(3, 1)]
        [1, 4, 7]
        """
        num_shards, index = _int64_scalar(num_shards), _int64_scalar(index)
        if num_shards != _SHARD_HINT:
            if num_shards <= 0:
                raise InvalidArgumentError("Number of shards must be greater than zero "
                                           f"(currently num_shards = {num_shards}).")
            if not 0 <= index < num_shards:
                raise InvalidArgumentError(f"Index must be between 0 and {num_shards - 1} "
                                           f"(currently index = {index}).")
        return _ShardDataset(self, num_shards, index)

    def repeat(self, count=None, name=None) -> Dataset:
        """Repeat the dataset ``count`` times (forever when None or -1)."""
        count = None if count is None or int(count) < 0 else int(count)
        return _RepeatDataset(self, count)

    def prefetch(self, buffer_size, name=None) -> Dataset:
        """No-op (tapegrad runs the pipeline in the training thread)."""
        return self

    def cache(self, filename="", name=None) -> Dataset:
        """No-op for in-memory sources."""
        return self

    def enumerate(self, start=0, name=None) -> Dataset:
        """Pairs ``(index, element)``."""
        def make():
            for i, element in enumerate(self, start):
                yield wrap(np.asarray(i, dtype=np.int64)), element
        return _GeneratorDataset(make, self._cardinality())

    def unbatch(self, name=None) -> Dataset:
        """Split each batch back into elements."""
        def make():
            for element in self:
                flat = [t.numpy() for t in nest.flatten(element)]
                for i in range(flat[0].shape[0]):
                    yield nest.pack_sequence_as(element, [wrap(as_value(a[i])) for a in flat])
        return _GeneratorDataset(make)

    def apply(self, transformation_func) -> Dataset:
        return transformation_func(self)

    def concatenate(self, dataset, name=None) -> Dataset:
        return _GeneratorDataset(lambda: itertools.chain(self, dataset))

    def reduce(self, initial_state, reduce_func):
        state = initial_state
        for element in self:
            state = reduce_func(state, element)
        return state


def _zip_iter(datasets):
    if isinstance(datasets, dict):
        keys = list(datasets)
        for values in zip(*(datasets[k] for k in keys)):
            yield dict(zip(keys, values))
    else:
        yield from zip(*datasets)


class _Iterator:
    """``iter(dataset)``: the dataset's elements, one by one; it knows its dataset (a
    tf.function reads the elements' shapes there without taking one)."""

    __slots__ = ("dataset", "_elements")

    def __init__(self, dataset: Dataset):
        self.dataset = dataset
        self._elements = iter(dataset._elements())

    def __iter__(self):
        return self

    def __next__(self):
        return next(self._elements)


class _GeneratorDataset(Dataset):
    def __init__(self, make, cardinality=UNKNOWN_CARDINALITY):
        self._make = make
        self._card = cardinality

    def _elements(self):
        return self._make()

    def _cardinality(self) -> int:
        return self._card


class _SliceDataset(Dataset):
    """Rows ``order`` of ``arrays`` (structured as ``skeleton``)."""

    def __init__(self, skeleton, arrays, order):
        self._skeleton = skeleton
        self._arrays = arrays
        self._order = order

    def _index_blocks(self):
        yield self._order

    def _elements(self):
        return _elements_of_blocks(self)

    def _cardinality(self) -> int:
        return int(self._order.shape[0])


def _source(dataset):
    """The slice source under a chain of index-only transformations, or None."""
    while dataset is not None and not isinstance(dataset, _SliceDataset):
        dataset = getattr(dataset, "_parent", None) if getattr(dataset, "_index_only", False) \
            else None
    return dataset


def _elements_of_blocks(dataset):
    source = _source(dataset)
    arrays, skeleton = source._arrays, source._skeleton
    for block in dataset._index_blocks():
        for i in block:
            yield _pack(skeleton, [a[i] for a in arrays])


class _IndexOnly(Dataset):
    """A transformation that only reorders/selects rows of a slice source when it has one."""

    _index_only = True

    def __init__(self, parent):
        self._parent = parent
        if _source(parent) is None:
            self._index_only = False

    def _elements(self):
        if self._index_only:
            return _elements_of_blocks(self)
        return self._generic()


class _ShuffleDataset(_IndexOnly):
    def __init__(self, parent, buffer_size, rng, reshuffle):
        super().__init__(parent)
        self._buffer = buffer_size
        self._rng = rng
        self._reshuffle = reshuffle
        self._fixed_state = None if reshuffle else rng.bit_generator.state

    def _iteration_rng(self):
        if self._reshuffle:
            return self._rng
        rng = np.random.default_rng()
        rng.bit_generator.state = self._fixed_state
        return rng

    def _index_blocks(self):
        rng = self._iteration_rng()
        for block in self._parent._index_blocks():
            yield _buffer_shuffle(block, self._buffer, rng)

    def _generic(self):
        rng = self._iteration_rng()
        buffer = []
        for element in self._parent:
            if len(buffer) < self._buffer:
                buffer.append(element)
                continue
            j = int(rng.integers(len(buffer)))
            yield buffer[j]
            buffer[j] = element
        while buffer:
            yield buffer.pop(int(rng.integers(len(buffer))))

    def _cardinality(self) -> int:
        return self._parent._cardinality()


def _buffer_shuffle(indices, buffer_size, rng):
    n = indices.shape[0]
    if buffer_size >= n:
        return indices[rng.permutation(n)]
    out = np.empty_like(indices)
    buffer = list(indices[:buffer_size])
    k = 0
    for item in indices[buffer_size:]:
        j = int(rng.integers(len(buffer)))
        out[k] = buffer[j]
        k += 1
        buffer[j] = item
    while buffer:
        out[k] = buffer.pop(int(rng.integers(len(buffer))))
        k += 1
    return out


class _TakeDataset(_IndexOnly):
    def __init__(self, parent, count, skip):
        super().__init__(parent)
        self._count = count
        self._skip = skip

    def _index_blocks(self):
        remaining = self._count
        if self._skip and remaining < 0:
            return
        for block in self._parent._index_blocks():
            if self._skip:
                if remaining >= block.shape[0]:
                    remaining -= block.shape[0]
                    continue
                yield block[max(remaining, 0):]
                remaining = 0
            else:
                if remaining < 0:
                    yield block
                    continue
                if remaining == 0:
                    return
                yield block[:remaining]
                remaining -= min(remaining, block.shape[0])

    def _generic(self):
        if self._skip:
            if self._count < 0:
                return iter(())
            return itertools.islice(self._parent, self._count, None)
        if self._count < 0:
            return iter(self._parent)
        return itertools.islice(self._parent, self._count)

    def _cardinality(self) -> int:
        n = self._parent._cardinality()
        if n == UNKNOWN_CARDINALITY:
            return n
        if self._skip:
            if self._count < 0:
                return 0
            return n if n == INFINITE_CARDINALITY else max(n - self._count, 0)
        if self._count < 0:
            return n
        return self._count if n == INFINITE_CARDINALITY else min(n, self._count)


_SHARD_HINT = -1


def _int64_scalar(value) -> int:
    """An integer argument as TensorFlow takes it (a Python or NumPy int, or a scalar integer
    tensor); anything else is the TypeError TensorFlow raises."""
    array = np.asarray(to_array(value)) if isinstance(value, (Tensor, Variable)) else None
    if array is not None and array.ndim == 0 and array.dtype.kind in "iu":
        return int(array)
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    raise TypeError(f"Cannot convert {value!r} to EagerTensor of dtype int64")


class _ShardDataset(_IndexOnly):
    def __init__(self, parent, num_shards, index):
        super().__init__(parent)
        self._num_shards = num_shards
        self._index = index

    def _check_not_hint(self):
        if self._num_shards == _SHARD_HINT:
            raise FailedPreconditionError(
                "`tf.data.Dataset.shard(SHARD_HINT, ...)` can only be used in "
                "`tf.distribute.Strategy.experimental_distribute_dataset()` with "
                "`tf.data.experimental.AutoShardPolicy.HINT` policy, or tf.data service with "
                "`tf.data.experimental.service.ShardingPolicy.HINT` processing mode.")

    def _index_blocks(self):
        self._check_not_hint()
        position = 0        # of the block's first element in the parent's sequence
        for block in self._parent._index_blocks():
            start = (self._index - position) % self._num_shards
            yield block[start::self._num_shards]
            position += block.shape[0]

    def _generic(self):
        self._check_not_hint()
        return itertools.islice(self._parent, self._index, None, self._num_shards)

    def _cardinality(self) -> int:
        n = self._parent._cardinality()
        if n < 0 or self._num_shards == _SHARD_HINT:
            return n
        return n // self._num_shards + (self._index < n % self._num_shards)


class _RepeatDataset(_IndexOnly):
    def __init__(self, parent, count):
        super().__init__(parent)
        self._count = count

    def _index_blocks(self):
        for _ in itertools.count() if self._count is None else range(self._count):
            yield from self._parent._index_blocks()

    def _generic(self):
        for _ in itertools.count() if self._count is None else range(self._count):
            yield from self._parent

    def _cardinality(self) -> int:
        n = self._parent._cardinality()
        if self._count is None:
            return INFINITE_CARDINALITY if n != 0 else 0
        if n < 0:
            return n
        return n * self._count


class _BatchDataset(Dataset):
    def __init__(self, parent, batch_size, drop_remainder):
        self._parent = parent
        self._size = batch_size
        self._drop = drop_remainder

    def _elements(self):
        source = _source(self._parent)
        if source is not None:
            return self._sliced(source)
        return self._stacked()

    def _sliced(self, source):
        arrays, skeleton, size = source._arrays, source._skeleton, self._size
        pending = []
        count = 0
        for block in self._parent._index_blocks():
            start = 0
            if pending:  # complete a batch begun in the previous block (after repeat)
                need = size - count
                pending.append(block[:need])
                count += min(need, block.shape[0])
                start = min(need, block.shape[0])
                if count < size:
                    continue
                yield _pack(skeleton, [a[np.concatenate(pending)] for a in arrays])
                pending, count = [], 0
            n = block.shape[0]
            full_end = start + (n - start) // size * size
            for lo in range(start, full_end, size):
                index = block[lo:lo + size]
                yield _pack(skeleton, [_rows(a, index) for a in arrays])
            if full_end < n:
                pending = [block[full_end:]]
                count = n - full_end
        if pending and not self._drop:
            yield _pack(skeleton, [a[np.concatenate(pending)] for a in arrays])

    def _stacked(self):
        batch = []
        for element in self._parent:
            batch.append(element)
            if len(batch) == self._size:
                yield _stack(batch)
                batch = []
        if batch and not self._drop:
            yield _stack(batch)

    def _cardinality(self) -> int:
        n = self._parent._cardinality()
        if n < 0:
            return n
        return n // self._size if self._drop else -(-n // self._size)


def _rows(array, index):
    """``array[index]`` for a contiguous run of indices as a cheap slice copy."""
    if index.shape[0] and index[-1] - index[0] == index.shape[0] - 1 and \
            (index.shape[0] == 1 or bool(np.all(np.diff(index) == 1))):
        return array[int(index[0]):int(index[-1]) + 1].copy()
    return array[index]


def _stack(elements):
    first = elements[0]
    flat = [nest.flatten(e) for e in elements]
    stacked = [np.stack([np.asarray(to_array(item[i])) for item in flat])
               for i in range(len(flat[0]))]
    return nest.pack_sequence_as(first, [wrap(a) for a in stacked])


class _MapDataset(Dataset):
    def __init__(self, parent, fn):
        self._parent = parent
        self._fn = fn

    def _elements(self):
        fn = self._fn
        for element in self._parent:
            yield _normalize_output(_call(fn, element))

    def _cardinality(self) -> int:
        return self._parent._cardinality()


def _normalize_output(value):
    if isinstance(value, list):
        value = tuple(value)
    return nest.map_structure(
        lambda v: v if isinstance(v, Tensor) else wrap(_leaf_array(v)), value)


class TextLineDataset(_GeneratorDataset):
    """The lines of one or more text files, as scalar string tensors (without the line end,
    ``\\n`` or ``\\r\\n``); files are read when the dataset is iterated.

    >>> import os, tempfile
    >>> import tapegrad as tf
    >>> path = os.path.join(tempfile.mkdtemp(), "lines.txt")
    >>> _ = open(path, "w").write("first\\nsecond\\n")
    >>> list(tf.data.TextLineDataset(path).as_numpy_iterator())
    [b'first', b'second']
    """

    def __init__(self, filenames, compression_type=None, buffer_size=None,
                 num_parallel_reads=None, name=None):
        paths = _file_names(filenames)
        opener = _OPENERS.get(compression_type or "")
        if opener is None:
            raise InvalidArgumentError(f"Unsupported compression_type {compression_type!r}: "
                                       f"use None, '', 'GZIP' or 'ZLIB'.")

        def make():
            # a final newline ends the last line rather than starting an empty one
            for path in paths:
                content = opener(path)
                parts = content.split(b"\n")
                if parts and parts[-1] == b"":
                    parts.pop()
                for line in parts:
                    yield wrap(np.array(line[:-1] if line.endswith(b"\r") else line,
                                         dtype=object))

        super().__init__(make)


def _file_names(filenames) -> list:
    value = filenames.numpy() if isinstance(filenames, Tensor) else filenames
    items = [value] if isinstance(value, (str, bytes)) or np.ndim(value) == 0 else \
        list(np.asarray(value, dtype=object).reshape(-1))
    names = []
    for item in items:
        item = item.item() if isinstance(item, np.ndarray) else item
        if not isinstance(item, (str, bytes)):
            raise TypeError(f"filenames must be strings, got {type(item).__name__}.")
        names.append(item.decode() if isinstance(item, bytes) else item)
    return names


def _read_file(path: str, decompress=None) -> bytes:
    try:
        with open(path, "rb") as file:
            content = file.read()
    except FileNotFoundError:
        raise NotFoundError(f"{path}; No such file or directory") from None
    return decompress(content) if decompress else content


def _gunzip(content: bytes) -> bytes:
    import gzip
    return gzip.decompress(content)


def _inflate(content: bytes) -> bytes:
    import zlib
    return zlib.decompress(content)


_OPENERS = {"": _read_file, "GZIP": lambda path: _read_file(path, _gunzip),
            "ZLIB": lambda path: _read_file(path, _inflate)}


class _Experimental:
    AUTOTUNE = AUTOTUNE
    INFINITE_CARDINALITY = INFINITE_CARDINALITY
    UNKNOWN_CARDINALITY = UNKNOWN_CARDINALITY

    @staticmethod
    def cardinality(dataset) -> Tensor:
        return dataset.cardinality()


experimental = _Experimental()
