"""``tf.TensorSpec``: the shape (dims may be None), dtype and name a tensor argument must have."""

from __future__ import annotations

import operator

from tapegrad._core import dtypes as _dt
from tapegrad._core.tensor import Tensor, TensorShape


class UnknownShape(TensorShape):
    """The shape of unknown rank (``TensorShape(None)`` in TensorFlow), as a spec may have it.

    >>> from tapegrad.autodiff.tensor_spec import UnknownShape
    >>> str(UnknownShape()), UnknownShape().rank
    ('<unknown>', None)
    """

    __slots__ = ()

    @property
    def rank(self) -> None:
        return None

    ndims = rank

    def as_list(self) -> list:
        raise ValueError("as_list() is not defined on an unknown TensorShape.")

    def num_elements(self) -> None:
        return None

    def is_fully_defined(self) -> bool:
        return False

    def is_compatible_with(self, other) -> bool:
        return True

    def __repr__(self) -> str:
        return "TensorShape(None)"

    def __str__(self) -> str:
        return "<unknown>"

    def __eq__(self, other) -> bool:
        return isinstance(other, UnknownShape)

    def __hash__(self) -> int:
        return hash(UnknownShape)


def _as_shape(shape) -> TensorShape:
    """``shape`` (None, an int, or a sequence of ints and Nones) as a TensorShape."""
    if shape is None or isinstance(shape, UnknownShape):
        return UnknownShape()
    if isinstance(shape, TensorShape):
        return shape
    if isinstance(shape, (str, bytes)) or not hasattr(shape, "__iter__"):
        shape = [shape]
    dims = []
    for dim in shape:
        if dim is not None:
            try:
                dim = operator.index(dim)
            except TypeError:
                raise TypeError(f"Dimension value must be integer or None or have an __index__ "
                                f"method, got value {dim!r} with type {type(dim)}.") from None
            if dim < 0:
                raise ValueError(f"Dimension {dim} must be >= 0")
        dims.append(dim)
    return TensorShape(dims)


class TensorSpec:
    """Describes a tensor: shape (None for an unknown dim or rank), dtype and an optional name.

    >>> import tapegrad as tf
    >>> spec = tf.TensorSpec([None, 3], tf.float32, name="x")
    >>> spec
    TensorSpec(shape=(None, 3), dtype=tf.float32, name='x')
    >>> spec.is_compatible_with(tf.zeros([5, 3])), spec.is_compatible_with(tf.zeros([5, 4]))
    (True, False)
    >>> tf.TensorSpec.from_tensor(tf.constant([1, 2]))
    TensorSpec(shape=(2,), dtype=tf.int32, name=None)
    """

    __slots__ = ("_shape", "_dtype", "_name")

    def __init__(self, shape, dtype=_dt.float32, name=None):
        self._shape = _as_shape(shape)
        self._dtype = _dt.as_dtype(dtype)
        self._name = name

    @property
    def shape(self) -> TensorShape:
        return self._shape

    @property
    def dtype(self) -> _dt.DType:
        return self._dtype

    @property
    def name(self):
        return self._name

    @property
    def value_type(self) -> type:
        return Tensor

    @classmethod
    def from_tensor(cls, tensor, name=None) -> TensorSpec:
        """The spec of ``tensor`` (its own shape and dtype)."""
        if not hasattr(tensor, "dtype") or not hasattr(tensor, "shape"):
            raise ValueError(f"`tensor` should be a tf.Tensor, but got type {type(tensor)}.")
        return cls(tensor.shape, tensor.dtype, name)

    @classmethod
    def from_spec(cls, spec, name=None) -> TensorSpec:
        """A copy of ``spec`` with ``name`` (or ``spec``'s name when ``name`` is None)."""
        return cls(spec.shape, spec.dtype, spec.name if name is None else name)

    def is_compatible_with(self, spec_or_tensor) -> bool:
        """Whether a Tensor or TensorSpec has this dtype and a shape that fits this one."""
        if not isinstance(spec_or_tensor, (Tensor, TensorSpec)):
            return False  # TensorFlow answers False for Python values and variables too
        return (spec_or_tensor.dtype == self._dtype
                and self._shape.is_compatible_with(spec_or_tensor.shape))

    def __repr__(self) -> str:
        return f"TensorSpec(shape={self._shape}, dtype={self._dtype!r}, name={self._name!r})"

    def __eq__(self, other) -> bool:
        return (type(other) is type(self) and self._shape == other._shape
                and self._dtype == other._dtype and self._name == other._name)

    def __hash__(self) -> int:
        return hash((self._shape, self._dtype, self._name))
