"""``tapegrad.random``: random tensors, reproducible under a seed (as ``tf.random``).

After ``set_seed(s)`` the sequence of random calls of a program gives the same values on every
run; an op-level ``seed`` makes that call's stream depend on (global seed, op seed) only. The
values are NumPy's (PCG64), not TensorFlow's Philox streams: the same seed gives a
reproducible run, not TensorFlow's exact numbers.
"""

from __future__ import annotations

import contextlib

from tapegrad._core import dtypes as _dt
from tapegrad._core.backend import np
from tapegrad._core.registry import register
from tapegrad._core.tensor import Tensor, apply, to_array, wrap

__all__ = ["set_seed", "get_global_generator", "set_global_generator", "Generator", "normal",
           "uniform", "truncated_normal", "shuffle", "categorical", "stateless_normal",
           "stateless_uniform", "stateless_truncated_normal", "experimental", "global_rng",
           "global_seed"]

_DEFAULT_OP_SEED = 87654321


class _GlobalState:
    def __init__(self):
        self.seed: int | None = None
        self.rng = np.random.default_rng()
        self.op_streams: dict = {}
        self.on_copies = 0  # > 0 inside draws_on_copies()


_state = _GlobalState()


def set_seed(seed: int | None) -> None:
    """Set the global random seed: the program's random values become reproducible.

    >>> import tapegrad as tf
    >>> tf.random.set_seed(7); a = tf.random.normal([2])
    >>> tf.random.set_seed(7); b = tf.random.normal([2])
    >>> bool((a.numpy() == b.numpy()).all())
    True
    """
    _state.seed = None if seed is None else int(seed)
    _state.rng = np.random.default_rng(None if seed is None else [int(seed), 0])
    _state.op_streams = {}
    global _global_generator
    _global_generator = None


def global_rng() -> np.random.Generator:
    """The NumPy generator of the global stream (reseeded by :func:`set_seed`)."""
    return _state.rng


def global_seed() -> int | None:
    """The global seed set by :func:`set_seed` (None when unset)."""
    return _state.seed


def op_seeded_streams() -> dict:
    """The generators of the op-seeded streams, by key (the live table: a trace that drew from
    one undoes it here)."""
    return _state.op_streams


def _rng(seed, keep: bool = True) -> np.random.Generator:
    """The NumPy generator an op with op-level ``seed`` draws from (``keep=False``: a new
    stream is not stored)."""
    if seed is None:
        return _state.rng
    key = int(seed)
    rng = _state.op_streams.get(key)
    if rng is None:
        global_seed = _state.seed if _state.seed is not None else _DEFAULT_OP_SEED
        rng = np.random.default_rng([global_seed, key, 1])
        if keep:
            _state.op_streams[key] = rng
    return rng


@contextlib.contextmanager
def draws_on_copies():
    """Meanwhile the ``RandomUniform`` op draws from copies of the generators, leaving them
    as they were: a ``tf.function`` trace records the op, and each replay draws anew.

    >>> import tapegrad as tf
    >>> from tapegrad.ops import random
    >>> tf.random.set_seed(1)
    >>> with random.draws_on_copies():
    ...     a = random.uniform_unit((2,), "float32", None)
    >>> bool((a.numpy() == random.uniform_unit((2,), "float32", None).numpy()).all())
    True
    """
    _state.on_copies += 1
    try:
        yield
    finally:
        _state.on_copies -= 1


def _uniform_unit_forward(*, shape, dtype, seed, generator):
    rng = generator if generator is not None else _rng(seed, keep=not _state.on_copies)
    if _state.on_copies:
        copy = np.random.Generator(type(rng.bit_generator)())
        copy.bit_generator.state = rng.bit_generator.state
        rng = copy
    return rng.random(shape, dtype=np.float64).astype(dtype, copy=False)


#: Uniform [0, 1) draws as an op (what dropout masks come from): a compiled tf.function
#: replays it, drawing new values on every call in eager execution's order.
RANDOM_UNIFORM = register("RandomUniform", _uniform_unit_forward, None, None, samples=(),
                          differentiable=False,
                          sample_note="draws random values: tests/test_function_keras.py")


def uniform_unit(shape, dtype, seed=None, generator: np.random.Generator | None = None):
    """Uniform [0, 1) draws of ``shape`` and float ``dtype`` from the RandomUniform op: the
    values ``uniform(shape, dtype=dtype, seed=seed)`` gives, or ``generator.random(shape)``
    (cast) when a NumPy generator is given."""
    return apply(RANDOM_UNIFORM, (), {"shape": tuple(shape), "dtype": np.dtype(
        _float_dtype(dtype, "uniform")._np), "seed": None if seed is None else int(seed),
        "generator": generator})


def _shape(shape) -> tuple:
    if isinstance(shape, Tensor) or hasattr(shape, "_read_for_conversion"):
        shape = np.asarray(to_array(shape)).tolist()
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    return tuple(int(d) for d in shape)


def _float_dtype(dtype, what: str):
    dtype = _dt.as_dtype(dtype)
    if np.dtype(dtype._np).kind != "f":
        raise ValueError(f"{what} needs a floating dtype, got {dtype.name}.")
    return dtype


def _scalar(value, np_dtype):
    return np.asarray(to_array(value) if isinstance(value, Tensor) else value, dtype=np_dtype)


def _normal(rng, shape, mean, stddev, dtype):
    dtype = _float_dtype(dtype, "normal")
    nd = dtype._np
    draw = rng.standard_normal(_shape(shape), dtype=np.float64).astype(nd)
    return wrap(np.asarray(draw * _scalar(stddev, nd) + _scalar(mean, nd), dtype=nd))


def _uniform(rng, shape, minval, maxval, dtype):
    dtype = _dt.as_dtype(dtype)
    nd = np.dtype(dtype._np)
    shape = _shape(shape)
    if nd.kind in "iu":
        if maxval is None:
            raise ValueError("Must specify maxval for integer dtype in tapegrad.random.uniform.")
        return wrap(rng.integers(int(minval), int(maxval), size=shape).astype(nd))
    if maxval is None:
        maxval = 1
    low, high = _scalar(minval, nd), _scalar(maxval, nd)
    draw = rng.random(shape, dtype=np.float64).astype(nd)
    return wrap(np.asarray(low + draw * (high - low), dtype=nd))


def _truncated(rng, shape, mean, stddev, dtype):
    dtype = _float_dtype(dtype, "truncated_normal")
    nd = dtype._np
    shape = _shape(shape)
    draw = rng.standard_normal(shape)
    bad = np.abs(draw) > 2.0
    while bad.any():  # resample the (few) values outside two standard deviations
        draw[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(draw) > 2.0
    return wrap(np.asarray(draw.astype(nd) * _scalar(stddev, nd) + _scalar(mean, nd),
                            dtype=nd))


def normal(shape, mean=0.0, stddev=1.0, dtype=_dt.float32, seed=None, name=None) -> Tensor:
    """Samples from a normal distribution (``tf.random.normal``).

    >>> import tapegrad as tf
    >>> tf.random.normal([2, 3], seed=1).shape
    TensorShape([2, 3])
    """
    return _normal(_rng(seed), shape, mean, stddev, dtype)


def uniform(shape, minval=0, maxval=None, dtype=_dt.float32, seed=None, name=None) -> Tensor:
    """Samples from a uniform distribution on ``[minval, maxval)`` (``tf.random.uniform``).

    >>> import tapegrad as tf
    >>> float(tf.random.uniform([], seed=3)) < 1.0
    True
    """
    return _uniform(_rng(seed), shape, minval, maxval, dtype)


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=_dt.float32, seed=None,
                     name=None) -> Tensor:
    """Normal samples re-drawn when more than two standard deviations from the mean.

    >>> import tapegrad as tf
    >>> bool(abs(tf.random.truncated_normal([100], seed=2).numpy()).max() <= 2.0)
    True
    """
    return _truncated(_rng(seed), shape, mean, stddev, dtype)


def shuffle(value, seed=None, name=None) -> Tensor:
    """Randomly shuffle a tensor along its first dimension (``tf.random.shuffle``).

    >>> import tapegrad as tf
    >>> sorted(tf.random.shuffle(tf.constant([1, 2, 3]), seed=4).numpy().tolist())
    [1, 2, 3]
    """
    array = np.asarray(to_array(value))
    if array.ndim == 0:
        raise ValueError("tapegrad.random.shuffle needs a tensor of rank >= 1.")
    return wrap(array[_rng(seed).permutation(array.shape[0])])


def categorical(logits, num_samples: int, dtype=None, seed=None, name=None) -> Tensor:
    """Draw class indices from unnormalized log-probabilities ``[batch, classes]``.

    >>> import tapegrad as tf
    >>> tf.random.categorical([[0.0, -1e9]], 3, seed=1).numpy().tolist()
    [[0, 0, 0]]
    """
    logits = np.asarray(to_array(logits), dtype=np.float64)
    gumbel = -np.log(-np.log(_rng(seed).random((logits.shape[0], int(num_samples),
                                                logits.shape[1]))))
    out = np.argmax(logits[:, None, :] + gumbel, axis=-1)
    return wrap(out.astype(_dt.as_dtype(dtype or _dt.int64)._np))


def _stateless_rng(seed) -> np.random.Generator:
    pair = np.asarray(to_array(seed)).astype(np.int64).ravel().tolist()
    if len(pair) != 2:
        raise ValueError(f"A stateless seed must be a shape [2] tensor, got {pair!r}.")
    return np.random.default_rng([int(p) & 0xFFFFFFFFFFFFFFFF for p in pair] + [2])


def stateless_normal(shape, seed, mean=0.0, stddev=1.0, dtype=_dt.float32, name=None,
                     alg="auto_select") -> Tensor:
    """Normal samples that depend only on the shape ``[2]`` ``seed``."""
    return _normal(_stateless_rng(seed), shape, mean, stddev, dtype)


def stateless_uniform(shape, seed, minval=0, maxval=None, dtype=_dt.float32, name=None,
                      alg="auto_select") -> Tensor:
    """Uniform samples that depend only on the shape ``[2]`` ``seed``."""
    return _uniform(_stateless_rng(seed), shape, minval, maxval, dtype)


def stateless_truncated_normal(shape, seed, mean=0.0, stddev=1.0, dtype=_dt.float32,
                               name=None, alg="auto_select") -> Tensor:
    """Truncated-normal samples that depend only on the shape ``[2]`` ``seed``."""
    return _truncated(_stateless_rng(seed), shape, mean, stddev, dtype)


class Generator:
    """A random number generator with its own state (``tf.random.Generator``).

    >>> import tapegrad as tf
    >>> g1 = tf.random.Generator.from_seed(5)
    >>> g2 = tf.random.Generator.from_seed(5)
    >>> bool((g1.normal([3]).numpy() == g2.normal([3]).numpy()).all())
    True
    """

    def __init__(self, copy_from=None, state=None, alg=None, *, _rng=None, _seed=None):
        if copy_from is not None:
            _rng = np.random.default_rng()
            _rng.bit_generator.state = copy_from._rng.bit_generator.state
            _seed = copy_from._seed
        self._rng = _rng if _rng is not None else np.random.default_rng()
        self._seed = _seed

    @classmethod
    def from_seed(cls, seed: int, alg=None) -> Generator:
        """A generator whose stream depends only on ``seed``."""
        return cls(_rng=np.random.default_rng([int(seed), 3]), _seed=int(seed))

    @classmethod
    def from_non_deterministic_state(cls, alg=None) -> Generator:
        return cls(_rng=np.random.default_rng())

    def reset_from_seed(self, seed: int) -> None:
        self._rng = np.random.default_rng([int(seed), 3])
        self._seed = int(seed)

    def normal(self, shape, mean=0.0, stddev=1.0, dtype=_dt.float32, name=None) -> Tensor:
        return _normal(self._rng, shape, mean, stddev, dtype)

    def uniform(self, shape, minval=0, maxval=None, dtype=_dt.float32, name=None) -> Tensor:
        return _uniform(self._rng, shape, minval, maxval, dtype)

    def truncated_normal(self, shape, mean=0.0, stddev=1.0, dtype=_dt.float32,
                         name=None) -> Tensor:
        return _truncated(self._rng, shape, mean, stddev, dtype)

    def uniform_full_int(self, shape, dtype=_dt.uint64, name=None) -> Tensor:
        nd = np.dtype(_dt.as_dtype(dtype)._np)
        info = np.iinfo(nd)
        return wrap(self._rng.integers(info.min, info.max, size=_shape(shape), dtype=nd,
                                        endpoint=True))

    def make_seeds(self, count: int = 1) -> Tensor:
        """A ``[2, count]`` int64 tensor of seeds for the stateless functions."""
        return wrap(self._rng.integers(0, 2 ** 62, size=(2, int(count)), dtype=np.int64))

    def split(self, count: int = 1) -> list:
        """``count`` new independent generators (this one's state advances)."""
        seeds = self._rng.integers(0, 2 ** 62, size=int(count))
        return [Generator(_rng=np.random.default_rng([int(s), 4])) for s in seeds]

    def _numpy_rng(self) -> np.random.Generator:
        return self._rng


_global_generator: Generator | None = None


def get_global_generator() -> Generator:
    """The global Generator (seeded from the global seed when one is set)."""
    global _global_generator
    if _global_generator is None:
        _global_generator = (Generator.from_seed(_state.seed) if _state.seed is not None
                             else Generator.from_non_deterministic_state())
    return _global_generator


def set_global_generator(generator: Generator) -> None:
    global _global_generator
    _global_generator = generator


class _Experimental:
    Generator = Generator
    get_global_generator = staticmethod(get_global_generator)
    set_global_generator = staticmethod(set_global_generator)
    stateless_split = None


experimental = _Experimental()
