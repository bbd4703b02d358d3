"""Small helpers the op families share: TensorFlow's dtype sets, the direct path of Python
operators, sample builders."""

from __future__ import annotations

from tapegrad._core.backend import np
from tapegrad._core.registry import Op
from tapegrad._core.tensor import (
    RefusedScalar,
    Tensor,
    _as_array_result,
    _shape_error,
    apply2,
    convert_to_tensor,
    recording_threads,
    state,
)

_ndarray = np.ndarray

# The dtypes of TensorFlow's kernels, as ``register(..., dtypes=...)`` takes them.
FLOATS = "f"
INEXACT = "fc"  # floats and complex
REAL = "iuf"  # TensorFlow's "realnumbertypes": no bool, no complex
NUMBERS = "iufc"  # no bool
SIGNED = "ifc"  # numbers without unsigned integers
FLOAT32_64 = frozenset({"float32", "float64"})


def binary_operator(op: Op, refused_operand=TypeError, on_bool=None, on_string=None):
    """A Python operator method running the two-input ``op``: two Tensors of one dtype run the
    forward and are recorded directly; anything else goes through :func:`apply2`.
    ``refused_operand`` is the error type for an operand that cannot take the tensor's dtype
    (TensorFlow's ``+`` raises InvalidArgumentError where the other operators raise
    TypeError). ``on_bool(x, y)`` runs instead for a bool tensor (TensorFlow's ``*`` is
    logical_and there); ``on_string(x, y)`` likewise for a string tensor (``+`` concatenates)."""
    forward = op.forward
    accepted = op.dtypes
    usual = op.usual_dtype

    def general(self, other):
        """Every case but two Tensors of one accepted dtype (off the hot path)."""
        if on_bool is not None and \
                (self._raw if isinstance(self, Tensor) else self._value).dtype.kind == "b":
            return on_bool(self, other)
        if on_string is not None and self._value.dtype.kind == "O":
            return on_string(self, other)
        if refused_operand is TypeError:
            return apply2(op, self, other)  # (converts, or raises the mismatch or dtype)
        try:
            return apply2(op, self, other)
        except RefusedScalar as error:
            raise refused_operand(str(error)) from None

    def method(self, other):
        if type(other) is not Tensor or type(self) is not Tensor:
            return general(self, other)
        xv = self._value
        yv = other._value
        dtype = xv.dtype
        if dtype is not yv.dtype or (dtype is not usual and accepted is not None and
                                     dtype not in accepted):
            return general(self, other)
        try:
            out = forward(xv, yv)
        except ValueError as error:
            _shape_error(op, (xv, yv), error)
        result = Tensor()
        result._value = out if type(out) is _ndarray else _as_array_result(out)
        if recording_threads:
            for recorder in state.recorders:
                recorder._record2(op, self, other, result, None)
        return result

    return method


def rng(seed: int = 0):
    return np.random.default_rng(seed)


def randn(*shape, seed: int = 0, low=None):
    """Float64 sample array (standard normal, or uniform on [low, low + 1.5] when low given)."""
    generator = rng(seed + 7 * len(shape) + sum(shape))
    if low is not None:
        return generator.uniform(low, low + 1.5, size=shape)
    return generator.standard_normal(shape)


def tensor_of(value) -> Tensor:
    """``value`` as a Tensor: a Tensor (a subclass too) as it is, a Variable read (a recorded
    read), anything else converted by TensorFlow's rules."""
    if isinstance(value, Tensor):
        return value
    return convert_to_tensor(value)
