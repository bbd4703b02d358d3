"""``keras.ops``: Keras 3's backend-agnostic op namespace (NumPy-style names and arguments),
each a thin call of the matching tapegrad op, so gradients flow through the tape.

>>> import tapegrad as tf
>>> ops = tf.keras.ops
>>> ops.mean(ops.square(tf.constant([[1.0, 2.0], [3.0, 4.0]])), axis=-1).numpy().tolist()
[2.5, 12.5]
>>> ops.convert_to_numpy(ops.argmax(tf.constant([[0.1, 0.9]]), axis=1)).tolist()
[1]
"""

from __future__ import annotations

import builtins
import functools

from tapegrad._core import dtypes as _dt
from tapegrad._core.backend import np
from tapegrad._core.tensor import Tensor, convert_to_tensor, to_array
from tapegrad._core.variable import Variable
from tapegrad.keras.functional import KerasTensor, Operation, _leaves
from tapegrad.ops import array as array_ops
from tapegrad.ops import linalg as linalg_ops
from tapegrad.ops import math as math_ops
from tapegrad.ops import nn as nn_ops
from tapegrad.ops import reduction as reduction_ops
from tapegrad.ops.composite import clip as clip_ops
from tapegrad.ops.composite import linalg as linalg_composites
from tapegrad.ops.composite import nn as nn_composites
from tapegrad.ops.composite import reduction as reduction_composites

__all__ = [
    "abs", "absolute", "add", "all", "any", "arange", "argmax", "argmin", "argsort", "cast",
    "clip", "concatenate", "convert_to_numpy", "convert_to_tensor", "cos", "cumsum", "divide",
    "dot", "einsum", "equal", "exp", "expand_dims", "eye", "floor", "greater", "greater_equal",
    "less", "less_equal", "linspace", "log", "log1p", "logical_and", "logical_not",
    "logical_or", "matmul", "max", "maximum", "mean", "min", "minimum", "multiply", "negative",
    "norm", "not_equal", "one_hot", "ones", "ones_like", "power", "prod", "relu", "repeat",
    "reshape", "round", "rsqrt", "shape", "sigmoid", "sign", "sin", "softmax", "softplus",
    "sort", "split", "sqrt", "square", "squeeze", "stack", "std", "stop_gradient", "subtract",
    "sum", "tanh", "tile", "transpose", "var", "where", "zeros", "zeros_like", "log_softmax",
    "leaky_relu", "gelu", "silu", "elu", "selu", "top_k", "take", "flip", "size", "ndim",
    "sparse_categorical_crossentropy", "categorical_crossentropy", "binary_crossentropy",
    "erf", "floor_divide", "mod", "reciprocal", "true_divide", "average", "full", "full_like",
    "identity", "tensordot",
]


def _tensor(x):
    return x if isinstance(x, (Tensor, Variable)) else convert_to_tensor(x)


def _axis(axis):
    return list(axis) if isinstance(axis, tuple) else axis


def convert_to_tensor(x, dtype=None, sparse=None, ragged=None):  # noqa: F811
    """A tapegrad tensor of ``x`` (``dtype`` optional)."""
    from tapegrad._core.tensor import convert_to_tensor as convert
    tensor = convert(x)
    return tensor if dtype is None else math_ops.cast(tensor, dtype)


def convert_to_numpy(x):
    """``x`` as a NumPy array."""
    if isinstance(x, (Tensor, Variable)):
        return np.array(to_array(x))
    return np.asarray(x)


def shape(x) -> tuple:
    """The static shape of ``x`` as a tuple of ints."""
    return tuple(_tensor(x).shape)


def ndim(x) -> int:
    return len(shape(x))


def size(x) -> int:
    return int(np.prod(shape(x)))


def cast(x, dtype):
    return math_ops.cast(_tensor(x), _dt.as_dtype(dtype))


def _reduction(function, keras_name):
    def reduce(x, axis=None, keepdims=False):
        return function(_tensor(x), axis=_axis(axis), keepdims=keepdims)
    reduce.__name__ = keras_name
    return reduce


mean = _reduction(reduction_ops.reduce_mean, "mean")
sum = _reduction(reduction_ops.reduce_sum, "sum")  # noqa: A001 - Keras' name
max = _reduction(reduction_ops.reduce_max, "max")  # noqa: A001
min = _reduction(reduction_ops.reduce_min, "min")  # noqa: A001
prod = _reduction(reduction_ops.reduce_prod, "prod")
all = _reduction(reduction_ops.reduce_all, "all")  # noqa: A001
any = _reduction(reduction_ops.reduce_any, "any")  # noqa: A001
var = _reduction(reduction_composites.reduce_variance, "var")
std = _reduction(reduction_composites.reduce_std, "std")


def _arg(function):
    """Keras's argmax/argmin: int32 positions, over the flattened tensor when ``axis`` is
    None."""

    def arg(x, axis=None, keepdims=False):
        x = _tensor(x)
        if axis is None:
            x, axis = array_ops.reshape(x, (-1,)), 0
        out = function(x, axis=axis, output_type=_dt.int32)
        return array_ops.expand_dims(out, axis) if keepdims else out

    arg.__name__ = function.__name__
    return arg


argmax = _arg(reduction_ops.argmax)
argmin = _arg(reduction_ops.argmin)


def _binary(function):
    def op(x1, x2):
        return function(_tensor(x1), _tensor(x2))
    op.__name__ = function.__name__
    return op


add = _binary(math_ops.add)
subtract = _binary(math_ops.subtract)
multiply = _binary(math_ops.multiply)
divide = true_divide = _binary(math_ops.divide)
maximum = _binary(math_ops.maximum)
minimum = _binary(math_ops.minimum)
power = _binary(math_ops.pow)
equal = _binary(math_ops.equal)
not_equal = _binary(math_ops.not_equal)
greater = _binary(math_ops.greater)
greater_equal = _binary(math_ops.greater_equal)
less = _binary(math_ops.less)
less_equal = _binary(math_ops.less_equal)
logical_and = _binary(math_ops.logical_and)
logical_or = _binary(math_ops.logical_or)
floor_divide = _binary(math_ops.floordiv)
mod = _binary(math_ops.mod)
matmul = _binary(linalg_ops.matmul)


def _unary(function):
    def op(x):
        return function(_tensor(x))
    op.__name__ = function.__name__
    return op


abs = absolute = _unary(math_ops.abs)  # noqa: A001
exp = _unary(math_ops.exp)
log = _unary(math_ops.log)
log1p = _unary(math_ops.log1p)
sqrt = _unary(math_ops.sqrt)
rsqrt = _unary(math_ops.rsqrt)
square = _unary(math_ops.square)
negative = _unary(math_ops.negative)
sign = _unary(math_ops.sign)
floor = _unary(math_ops.floor)
round = _unary(math_ops.round)  # noqa: A001
sin = _unary(math_ops.sin)
cos = _unary(math_ops.cos)
tanh = _unary(math_ops.tanh)
sigmoid = _unary(math_ops.sigmoid)
erf = _unary(math_ops.erf)
reciprocal = _unary(math_ops.reciprocal)
logical_not = _unary(math_ops.logical_not)
stop_gradient = _unary(math_ops.stop_gradient)
identity = _unary(math_ops.identity)
relu = _unary(nn_ops.relu)
softplus = _unary(math_ops.softplus)
gelu = _unary(nn_composites.gelu)
silu = _unary(nn_composites.silu)
elu = _unary(nn_ops.elu)
selu = _unary(nn_ops.selu)


def leaky_relu(x, negative_slope=0.2):
    return nn_ops.leaky_relu(_tensor(x), alpha=negative_slope)


def softmax(x, axis=-1):
    return nn_ops.softmax(_tensor(x), axis=axis)


def log_softmax(x, axis=-1):
    return nn_ops.log_softmax(_tensor(x), axis=axis)


def dot(x1, x2):
    x1, x2 = _tensor(x1), _tensor(x2)
    if len(x1.shape) == 0 or len(x2.shape) == 0:
        return math_ops.multiply(x1, x2)
    second = builtins.max(len(x2.shape) - 2, 0)    # NumPy's dot: last axis by second-to-last
    return array_ops.tensordot(x1, x2, axes=[[len(x1.shape) - 1], [second]])


def tensordot(x1, x2, axes=2):
    return array_ops.tensordot(_tensor(x1), _tensor(x2), axes=axes)


def einsum(subscripts, *operands):
    return array_ops.einsum(subscripts, *[_tensor(o) for o in operands])


def reshape(x, newshape):
    return array_ops.reshape(_tensor(x), newshape)


def transpose(x, axes=None):
    return array_ops.transpose(_tensor(x), perm=axes)


def squeeze(x, axis=None):
    return array_ops.squeeze(_tensor(x), axis=axis)


def expand_dims(x, axis):
    return array_ops.expand_dims(_tensor(x), axis)


def concatenate(xs, axis=0):
    return array_ops.concat([_tensor(x) for x in xs], axis=axis)


def stack(x, axis=0):
    return array_ops.stack([_tensor(t) for t in x], axis=axis)


def split(x, indices_or_sections, axis=0):
    if isinstance(indices_or_sections, int):
        return array_ops.split(_tensor(x), indices_or_sections, axis=axis)
    bounds = [0] + list(indices_or_sections) + [shape(x)[axis]]
    sizes = [b - a for a, b in zip(bounds, bounds[1:])]
    return array_ops.split(_tensor(x), sizes, axis=axis)


def tile(x, repeats):
    return array_ops.tile(_tensor(x), repeats)


def repeat(x, repeats, axis=None):
    return array_ops.repeat(_tensor(x), repeats, axis=axis)


def flip(x, axis=None):
    return array_ops.reverse(_tensor(x), axis=list(range(ndim(x))) if axis is None else
                             [axis] if isinstance(axis, int) else list(axis))


def take(x, indices, axis=None):
    x = _tensor(x)
    if axis is None:
        x, axis = array_ops.reshape(x, (-1,)), 0
    return array_ops.gather(x, _tensor(indices), axis=axis)


def where(condition, x1=None, x2=None):
    if x1 is None and x2 is None:
        return tuple(array_ops.unstack(array_ops.where(_tensor(condition)), axis=1))
    return array_ops.where(_tensor(condition), _tensor(x1), _tensor(x2))


def clip(x, x_min, x_max):
    return clip_ops.clip_by_value(_tensor(x), x_min, x_max)


def one_hot(x, num_classes, axis=-1, dtype=None):
    return array_ops.one_hot(_tensor(x), num_classes, axis=axis, dtype=dtype or _dt.float32)


def zeros(shape, dtype=None):  # noqa: F811
    return array_ops.zeros(shape, dtype=dtype or _dt.float32)


def ones(shape, dtype=None):
    return array_ops.ones(shape, dtype=dtype or _dt.float32)


def full(shape, fill_value, dtype=None):
    return array_ops.fill(shape, math_ops.cast(_tensor(fill_value), dtype or _dt.float32))


def zeros_like(x, dtype=None):
    return math_ops.zeros_like(_tensor(x), dtype=dtype)


def ones_like(x, dtype=None):
    return math_ops.ones_like(_tensor(x), dtype=dtype)


def full_like(x, fill_value, dtype=None):
    return full(shape(x), fill_value, dtype=dtype or _tensor(x).dtype)


def eye(N, M=None, k=0, dtype=None):  # noqa: N803 - Keras' argument names
    if k:
        raise NotImplementedError("keras.ops.eye(k != 0) is not supported by tapegrad.")
    return array_ops.eye(N, M, dtype=dtype or _dt.float32)


def arange(start, stop=None, step=1, dtype=None):
    if stop is None:
        start, stop = 0, start
    return array_ops.range(start, stop, step, dtype=dtype)


def linspace(start, stop, num=50, endpoint=True, dtype=None):
    if not endpoint:
        raise NotImplementedError("keras.ops.linspace(endpoint=False) is not supported.")
    out = array_ops.linspace(float(start), float(stop), num)
    return out if dtype is None else cast(out, dtype)


def sort(x, axis=-1):
    return array_ops.sort(_tensor(x), axis=axis)


def argsort(x, axis=-1):
    return array_ops.argsort(_tensor(x), axis=axis)


def cumsum(x, axis=None, dtype=None):
    x = _tensor(x)
    if axis is None:
        x, axis = array_ops.reshape(x, (-1,)), 0
    return array_ops.cumsum(x, axis=axis)


def top_k(x, k, sorted=True):  # noqa: A002 - Keras' argument name
    result = array_ops.top_k(_tensor(x), k=k, sorted=sorted)
    return result[0], result[1]


def norm(x, ord=None, axis=None, keepdims=False):  # noqa: A002
    return linalg_composites.norm(_tensor(x), ord="euclidean" if ord is None else ord,
                                  axis=_axis(axis), keepdims=keepdims)


def average(x, axis=None, weights=None):
    if weights is None:
        return mean(x, axis=axis)
    x, weights = _tensor(x), _tensor(weights)
    if axis is not None and len(weights.shape) == 1 and len(x.shape) > 1:
        shape_ = [1] * len(x.shape)
        shape_[axis] = -1
        weights = array_ops.reshape(weights, shape_)
    return sum(x * weights, axis=axis) / sum(weights * array_ops.ones_like(x), axis=axis)


def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    from tapegrad.keras import losses
    return losses.sparse_categorical_crossentropy(target, output, from_logits=from_logits)


def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    from tapegrad.keras import losses
    return losses.categorical_crossentropy(target, output, from_logits=from_logits, axis=axis)


def binary_crossentropy(target, output, from_logits=False):
    """Elementwise binary cross-entropy (no mean over the last axis), as ``keras.ops``."""
    target, output = _tensor(target), _tensor(output)
    if from_logits:
        return nn_composites.sigmoid_cross_entropy_with_logits(labels=cast(target, output.dtype),
                                                        logits=output)
    output = clip(output, 1e-7, 1.0 - 1e-7)
    target = cast(target, output.dtype)
    return -(target * log(output) + (1.0 - target) * log(1.0 - output))


def _symbolic_aware(function):
    """Let a keras.ops function take symbolic tensors (it then records a graph node)."""

    @functools.wraps(function)
    def op(*args, **kwargs):
        if builtins.any(isinstance(t, KerasTensor) for t in _leaves((args, kwargs))):
            return Operation(function, function.__name__)(args, **kwargs)
        return function(*args, **kwargs)
    return op


for _name in __all__:
    if _name not in ("convert_to_numpy", "shape", "ndim", "size"):
        globals()[_name] = _symbolic_aware(globals()[_name])
