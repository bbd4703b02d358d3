"""Weight initializers (``tf.keras.initializers``), with Keras 3's names and defaults.

An initializer built with an integer ``seed`` gives the same values on every call (Keras 3's
rule); without one it draws from ``tapegrad.random``'s global stream, so
``tapegrad.random.set_seed`` makes model initialization reproducible.
"""

from __future__ import annotations

import math

from tapegrad._core import dtypes as _dt
from tapegrad._core.backend import np
from tapegrad._core.tensor import Tensor, to_array, wrap
from tapegrad.ops import random

__all__ = ["Initializer", "Zeros", "Ones", "Constant", "RandomNormal", "RandomUniform",
           "TruncatedNormal", "VarianceScaling", "GlorotUniform", "GlorotNormal", "HeNormal",
           "HeUniform", "LecunNormal", "LecunUniform", "Identity", "Orthogonal", "get",
           "serialize", "zeros", "ones", "glorot_uniform", "glorot_normal", "he_normal",
           "he_uniform", "random_normal", "random_uniform", "truncated_normal"]


def _rng(seed):
    if seed is None:
        return random.global_rng()
    if isinstance(seed, random.Generator):
        return seed._numpy_rng()
    return np.random.default_rng([int(seed), 11])


def _np_dtype(dtype):
    return np.dtype(_dt.as_dtype(dtype or _dt.float32).as_numpy_dtype)


class Initializer:
    """Base class: ``initializer(shape, dtype=None) -> Tensor``."""

    def __call__(self, shape, dtype=None) -> Tensor:
        raise NotImplementedError

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def clone(self):
        return type(self).from_config(self.get_config())


class Zeros(Initializer):
    """All zeros.

    >>> import tapegrad as tf
    >>> tf.keras.initializers.Zeros()((2,)).numpy().tolist()
    [0.0, 0.0]
    """

    def __call__(self, shape, dtype=None) -> Tensor:
        return wrap(np.zeros(tuple(shape), dtype=_np_dtype(dtype)))


class Ones(Initializer):
    """All ones."""

    def __call__(self, shape, dtype=None) -> Tensor:
        return wrap(np.ones(tuple(shape), dtype=_np_dtype(dtype)))


class Constant(Initializer):
    """Every value equal to ``value`` (a scalar, or an array of the requested shape)."""

    def __init__(self, value=0.0):
        self.value = value

    def __call__(self, shape, dtype=None) -> Tensor:
        value = np.asarray(to_array(self.value) if isinstance(self.value, Tensor)
                           else self.value, dtype=_np_dtype(dtype))
        return wrap(np.array(np.broadcast_to(value, tuple(shape))))

    def get_config(self) -> dict:
        return {"value": self.value}


class _Seeded(Initializer):
    def __init__(self, seed=None):
        self.seed = seed

    def _generator(self):
        return _rng(self.seed)


class RandomNormal(_Seeded):
    """Normal samples (Keras 3 defaults mean=0.0, stddev=0.05).

    >>> import tapegrad as tf
    >>> init = tf.keras.initializers.RandomNormal(seed=1)
    >>> bool((init((3,)).numpy() == init((3,)).numpy()).all())
    True
    """

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean = mean
        self.stddev = stddev

    def __call__(self, shape, dtype=None) -> Tensor:
        nd = _np_dtype(dtype)
        draw = self._generator().standard_normal(tuple(shape))
        return wrap((draw * self.stddev + self.mean).astype(nd))

    def get_config(self) -> dict:
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class TruncatedNormal(_Seeded):
    """Normal samples re-drawn beyond two standard deviations (stddev=0.05)."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean = mean
        self.stddev = stddev

    def __call__(self, shape, dtype=None) -> Tensor:
        return wrap((_truncated(self._generator(), tuple(shape)) * self.stddev
                      + self.mean).astype(_np_dtype(dtype)))

    def get_config(self) -> dict:
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


def _truncated(rng, shape):
    draw = rng.standard_normal(shape)
    bad = np.abs(draw) > 2.0
    while bad.any():
        draw[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(draw) > 2.0
    return draw


class RandomUniform(_Seeded):
    """Uniform samples on ``[minval, maxval)`` (Keras 3 defaults -0.05, 0.05)."""

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        super().__init__(seed)
        self.minval = minval
        self.maxval = maxval

    def __call__(self, shape, dtype=None) -> Tensor:
        draw = self._generator().random(tuple(shape))
        return wrap((self.minval + draw * (self.maxval - self.minval)).astype(
            _np_dtype(dtype)))

    def get_config(self) -> dict:
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


def compute_fans(shape) -> tuple[int, int]:
    """(fan_in, fan_out) of a kernel shape, as Keras (conv kernels: receptive field x depth)."""
    shape = tuple(shape)
    if len(shape) < 1:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = 1
    for d in shape[:-2]:
        receptive *= d
    return shape[-2] * receptive, shape[-1] * receptive


class VarianceScaling(_Seeded):
    """Samples scaled to the kernel's fan-in/fan-out (the family behind Glorot and He)."""

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None):
        super().__init__(seed)
        if scale <= 0.0:
            raise ValueError(f"Argument `scale` must be positive float. Received: {scale}")
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(f"Invalid `mode` argument: {mode!r}; use 'fan_in', 'fan_out' or "
                             "'fan_avg'.")
        distribution = distribution.lower()
        if distribution == "normal":
            distribution = "truncated_normal"
        if distribution not in ("uniform", "truncated_normal", "untruncated_normal"):
            raise ValueError(f"Invalid `distribution` argument: {distribution!r}.")
        self.scale = scale
        self.mode = mode
        self.distribution = distribution

    def __call__(self, shape, dtype=None) -> Tensor:
        shape = tuple(shape)
        fan_in, fan_out = compute_fans(shape)
        scale = self.scale
        if self.mode == "fan_in":
            scale /= max(1.0, fan_in)
        elif self.mode == "fan_out":
            scale /= max(1.0, fan_out)
        else:
            scale /= max(1.0, (fan_in + fan_out) / 2.0)
        rng = self._generator()
        if self.distribution == "truncated_normal":
            stddev = math.sqrt(scale) / 0.87962566103423978
            values = _truncated(rng, shape) * stddev
        elif self.distribution == "untruncated_normal":
            values = rng.standard_normal(shape) * math.sqrt(scale)
        else:
            limit = math.sqrt(3.0 * scale)
            values = rng.uniform(-limit, limit, shape)
        return wrap(values.astype(_np_dtype(dtype)))

    def get_config(self) -> dict:
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution,
                "seed": self.seed}


class GlorotUniform(VarianceScaling):
    """Uniform on ``±sqrt(6 / (fan_in + fan_out))``: Keras' default kernel initializer.

    >>> import tapegrad as tf
    >>> w = tf.keras.initializers.GlorotUniform(seed=0)((4, 2)).numpy()
    >>> bool(abs(w).max() <= (6 / 6) ** 0.5)
    True
    """

    def __init__(self, seed=None):
        super().__init__(1.0, "fan_avg", "uniform", seed)

    def get_config(self) -> dict:
        return {"seed": self.seed}


class GlorotNormal(VarianceScaling):
    def __init__(self, seed=None):
        super().__init__(1.0, "fan_avg", "truncated_normal", seed)

    def get_config(self) -> dict:
        return {"seed": self.seed}


class HeNormal(VarianceScaling):
    """Truncated normal with stddev ``sqrt(2 / fan_in)`` (for ReLU networks)."""

    def __init__(self, seed=None):
        super().__init__(2.0, "fan_in", "truncated_normal", seed)

    def get_config(self) -> dict:
        return {"seed": self.seed}


class HeUniform(VarianceScaling):
    def __init__(self, seed=None):
        super().__init__(2.0, "fan_in", "uniform", seed)

    def get_config(self) -> dict:
        return {"seed": self.seed}


class LecunNormal(VarianceScaling):
    def __init__(self, seed=None):
        super().__init__(1.0, "fan_in", "truncated_normal", seed)

    def get_config(self) -> dict:
        return {"seed": self.seed}


class LecunUniform(VarianceScaling):
    def __init__(self, seed=None):
        super().__init__(1.0, "fan_in", "uniform", seed)

    def get_config(self) -> dict:
        return {"seed": self.seed}


class Identity(Initializer):
    """The identity matrix times ``gain`` (2-D shapes only)."""

    def __init__(self, gain=1.0):
        self.gain = gain

    def __call__(self, shape, dtype=None) -> Tensor:
        if len(shape) != 2:
            raise ValueError(f"Identity initializer needs a 2-D shape, got {tuple(shape)}.")
        return wrap((np.eye(*shape) * self.gain).astype(_np_dtype(dtype)))


class Orthogonal(_Seeded):
    """A (semi-)orthogonal matrix times ``gain``."""

    def __init__(self, gain=1.0, seed=None):
        super().__init__(seed)
        self.gain = gain

    def __call__(self, shape, dtype=None) -> Tensor:
        shape = tuple(shape)
        rows = int(np.prod(shape[:-1])) if len(shape) > 1 else 1
        cols = shape[-1]
        flat = self._generator().standard_normal((max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(flat)
        q = q * np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return wrap((self.gain * q[:rows, :cols]).reshape(shape).astype(_np_dtype(dtype)))


_ALIASES = {
    "zeros": Zeros, "ones": Ones, "constant": Constant, "random_normal": RandomNormal,
    "random_uniform": RandomUniform, "uniform": RandomUniform,
    "truncated_normal": TruncatedNormal, "glorot_uniform": GlorotUniform,
    "glorot_normal": GlorotNormal, "he_normal": HeNormal, "he_uniform": HeUniform,
    "lecun_normal": LecunNormal, "lecun_uniform": LecunUniform, "identity": Identity,
    "orthogonal": Orthogonal, "variance_scaling": VarianceScaling,
}
for _cls in list(_ALIASES.values()):
    _ALIASES[_cls.__name__] = _cls
_ALIASES["normal"] = RandomNormal

zeros, ones, glorot_uniform, glorot_normal = Zeros, Ones, GlorotUniform, GlorotNormal
he_normal, he_uniform, random_normal, random_uniform = HeNormal, HeUniform, RandomNormal, \
    RandomUniform
truncated_normal = TruncatedNormal


def get(identifier):
    """An initializer from a name (``"glorot_uniform"``), a config dict, or a callable."""
    if identifier is None:
        return None
    if isinstance(identifier, Initializer) or (callable(identifier)
                                               and not isinstance(identifier, type)):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Initializer):
        return identifier()
    if isinstance(identifier, str):
        if identifier not in _ALIASES:
            raise ValueError(f"Could not interpret initializer identifier: {identifier!r}; "
                             f"known names: {sorted(k for k in _ALIASES if k.islower())}.")
        return _ALIASES[identifier]()
    if isinstance(identifier, dict):
        cls = _ALIASES[identifier["class_name"]]
        return cls.from_config(identifier.get("config", {}))
    raise ValueError(f"Could not interpret initializer identifier: {identifier!r}")


def serialize(initializer) -> dict | None:
    if initializer is None:
        return None
    return {"class_name": type(initializer).__name__, "config": initializer.get_config()}
