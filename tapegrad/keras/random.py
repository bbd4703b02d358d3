"""``keras.random``: random tensors drawn from a seed, an int or a :class:`SeedGenerator`.

The values are reproducible for a given seed but are not Keras' bit streams.

>>> import tapegrad as tf
>>> gen = tf.keras.random.SeedGenerator(1337)
>>> tf.keras.random.normal((2, 3), seed=gen).shape
TensorShape([2, 3])
>>> x = tf.keras.random.dropout(tf.ones([1000]), rate=0.5, seed=1)
>>> sorted(set(x.numpy().tolist()))
[0.0, 2.0]
"""

from __future__ import annotations

from tapegrad._core import dtypes as _dt
from tapegrad._core.backend import np
from tapegrad._core.tensor import Tensor, to_array, wrap
from tapegrad.ops import random as random_ops

__all__ = ["SeedGenerator", "normal", "uniform", "truncated_normal", "randint", "dropout",
           "shuffle", "categorical"]


class SeedGenerator:
    """A stateful source of seeds: each draw advances it (``keras.random.SeedGenerator``)."""

    def __init__(self, seed=None, name=None, **kwargs):
        if seed is not None and not isinstance(seed, int):
            raise ValueError(f"Argument `seed` must be an integer. Received: seed={seed}")
        self._initial_seed = seed
        self.name = name or "seed_generator"
        self._rng = np.random.default_rng(None if seed is None else [seed, 0x6B])

    def next(self) -> np.random.Generator:
        return self._rng

    def get_config(self) -> dict:
        return {"seed": self._initial_seed}


def _rng(seed) -> np.random.Generator:
    if isinstance(seed, SeedGenerator):
        return seed.next()
    if seed is None:
        return random_ops.global_rng()
    if isinstance(seed, int):
        return np.random.default_rng([seed, 0x6B])
    raise ValueError("Argument `seed` must be either an integer or an instance of "
                     f"`SeedGenerator`. Received: seed={seed} (of type {type(seed)})")


def _float(dtype):
    dtype = _dt.as_dtype(dtype or "float32")
    if not dtype.is_floating:
        raise ValueError(f"Expected a float dtype; got {dtype.name}.")
    return np.dtype(dtype.as_numpy_dtype)


def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None) -> Tensor:
    """Samples of a normal distribution."""
    dtype = _float(dtype)
    return wrap((_rng(seed).standard_normal(tuple(shape)) * stddev + mean).astype(dtype))


def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None) -> Tensor:
    """Samples of a uniform distribution on ``[minval, maxval)``."""
    dtype = _float(dtype)
    return wrap(_rng(seed).uniform(minval, maxval, tuple(shape)).astype(dtype))


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None) -> Tensor:
    """Normal samples redrawn until within two standard deviations of the mean."""
    dtype = _float(dtype)
    rng = _rng(seed)
    values = rng.standard_normal(tuple(shape))
    bad = np.abs(values) > 2
    while bad.any():
        values[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(values) > 2
    return wrap((values * stddev + mean).astype(dtype))


def randint(shape, minval, maxval, dtype="int32", seed=None) -> Tensor:
    """Integers uniform on ``[minval, maxval)``."""
    return wrap(_rng(seed).integers(minval, maxval, tuple(shape)).astype(
        _dt.as_dtype(dtype).as_numpy_dtype))


def categorical(logits, num_samples, dtype="int32", seed=None) -> Tensor:
    """Class indices drawn from the softmax of each row of ``logits``."""
    values = np.asarray(to_array(logits) if isinstance(logits, Tensor) else logits,
                        dtype=np.float64)
    probs = np.exp(values - values.max(axis=-1, keepdims=True))
    probs /= probs.sum(axis=-1, keepdims=True)
    rng = _rng(seed)
    draws = [rng.choice(probs.shape[-1], size=num_samples, p=row) for row in probs]
    return wrap(np.asarray(draws).astype(_dt.as_dtype(dtype).as_numpy_dtype))


def dropout(inputs, rate, noise_shape=None, seed=None):
    """Zero each value with probability ``rate`` and scale the rest by ``1 / (1 - rate)``."""
    if not 0 <= rate < 1:
        raise ValueError(f"Invalid value received for argument `rate`. Expected a float value "
                         f"between 0 and 1 (exclusive). Received: rate={rate}")
    shape = tuple(inputs.shape) if noise_shape is None else tuple(
        s if n is None else n for s, n in zip(inputs.shape, noise_shape))
    dtype = np.dtype(getattr(inputs.dtype, "as_numpy_dtype", np.float32))
    keep = (_rng(seed).random(shape) >= rate).astype(dtype) / dtype.type(1.0 - rate)
    return inputs * wrap(keep)


def shuffle(x, axis=0, seed=None) -> Tensor:
    """``x`` with its slices along ``axis`` in a random order (not differentiable)."""
    array = np.asarray(to_array(x) if isinstance(x, Tensor) else x)
    order = _rng(seed).permutation(array.shape[axis])
    return wrap(np.take(array, order, axis=axis))
