"""Random op programs for the differential fuzz test, as plain data (the same under tapegrad
and TensorFlow): ``generate(seed)`` gives a program, ``execute(tf, program)`` runs it with a
framework module and ``reference(program)`` with NumPy alone.

A program is a chain: input 0 goes through 1-3 ops; a binary op takes a fresh input whose
shape broadcasts against the running value. Shapes include empty and size-1 dimensions;
dtypes are mostly float32/float64, sometimes float16, int32, int64, bool or complex128;
inputs sometimes hold edge values (0, +-inf, nan, huge).
"""

from __future__ import annotations

import math
import random

import numpy as np

_erf_float64 = np.vectorize(math.erf, otypes=[float])


def _erf(x):
    return _erf_float64(x).astype(x.dtype) if x.size else x


def _mean(x, axis, keepdims):
    """TensorFlow's mean: integer tensors divide with truncation, in their own dtype."""
    if x.dtype.kind not in "iu":
        return np.mean(x, axis=axis, keepdims=keepdims)
    count = max(x.size // max(np.sum(x, axis=axis, keepdims=keepdims).size, 1), 1)
    return np.trunc(np.sum(x, axis=axis, keepdims=keepdims) / count).astype(x.dtype)


def _logsumexp(x, axis, keepdims):
    if x.size == 0:
        return np.log(np.sum(np.exp(x), axis=axis, keepdims=keepdims))
    shift = np.max(x, axis=axis, keepdims=True)
    shift = np.where(np.isfinite(shift), shift, 0)
    out = np.log(np.sum(np.exp(x - shift), axis=axis, keepdims=True)) + shift
    return out if keepdims else np.squeeze(out, axis=axis)


# name -> (call on the framework ``tf``, NumPy reference, smooth: twice differentiable at
# random points; domain-limited ops see ``x**2 + 0.5`` so every chain stays in their domain)
UNARY = {
    "sin": (lambda tf, x: tf.math.sin(x), np.sin, True),
    "cos": (lambda tf, x: tf.math.cos(x), np.cos, True),
    "tanh": (lambda tf, x: tf.math.tanh(x), np.tanh, True),
    "exp": (lambda tf, x: tf.math.exp(x), np.exp, True),
    "square": (lambda tf, x: tf.math.square(x), np.square, True),
    "negative": (lambda tf, x: tf.math.negative(x), np.negative, True),
    "abs": (lambda tf, x: tf.math.abs(x), np.abs, False),
    "sigmoid": (lambda tf, x: tf.math.sigmoid(x), lambda x: 1 / (1 + np.exp(-x)), True),
    "softplus": (lambda tf, x: tf.math.softplus(x), lambda x: np.logaddexp(0, x), True),
    "atan": (lambda tf, x: tf.math.atan(x), np.arctan, True),
    "asinh": (lambda tf, x: tf.math.asinh(x), np.arcsinh, True),
    "erf": (lambda tf, x: tf.math.erf(x), _erf, True),
    "expm1": (lambda tf, x: tf.math.expm1(x), np.expm1, True),
    "relu": (lambda tf, x: tf.nn.relu(x), lambda x: np.maximum(x, 0), False),
    "elu": (lambda tf, x: tf.nn.elu(x), lambda x: np.where(x > 0, x, np.expm1(x)), False),
    "softsign": (lambda tf, x: tf.math.softsign(x), lambda x: x / (1 + np.abs(x)), False),
    "log": (lambda tf, x: tf.math.log(tf.math.square(x) + 0.5),
            lambda x: np.log(np.square(x) + 0.5), True),
    "sqrt": (lambda tf, x: tf.math.sqrt(tf.math.square(x) + 0.5),
             lambda x: np.sqrt(np.square(x) + 0.5), True),
    "rsqrt": (lambda tf, x: tf.math.rsqrt(tf.math.square(x) + 0.5),
              lambda x: 1 / np.sqrt(np.square(x) + 0.5), True),
    "reciprocal": (lambda tf, x: tf.math.reciprocal(tf.math.square(x) + 0.5),
                   lambda x: 1 / (np.square(x) + 0.5), True),
    "cumsum": (lambda tf, x: tf.math.cumsum(x, axis=-1) if len(x.shape) else x,
               lambda x: np.cumsum(x, axis=-1, dtype=x.dtype) if x.ndim else x, True),
    "softmax": (lambda tf, x: tf.nn.softmax(x) if len(x.shape) else x,
                lambda x: _softmax(x) if x.ndim else x, True),
    "transpose": (lambda tf, x: tf.transpose(x), lambda x: np.transpose(x), True),
    "cumprod": (lambda tf, x: tf.math.cumprod(x, axis=-1) if len(x.shape) else x,
                lambda x: np.cumprod(x, axis=-1, dtype=x.dtype) if x.ndim else x, True),
    "reverse": (lambda tf, x: tf.reverse(x, [-1]) if len(x.shape) else x,
                lambda x: np.flip(x, -1) if x.ndim else x, True),
    "tile": (lambda tf, x: tf.tile(x, [2] * len(x.shape)), lambda x: np.tile(x, [2] * x.ndim),
             True),
    "pad": (lambda tf, x: tf.pad(x, [[1, 0]] * len(x.shape)),
            lambda x: np.pad(x, [(1, 0)] * x.ndim), True),
    "sort": (lambda tf, x: tf.sort(x) if len(x.shape) else x,
             lambda x: np.sort(x) if x.ndim else x, False),
    "clip": (lambda tf, x: tf.clip_by_value(x, -0.5, 0.5), lambda x: np.clip(x, -0.5, 0.5),
             False),
    "l2_normalize": (lambda tf, x: tf.math.l2_normalize(x, axis=-1) if len(x.shape) else x,
                     lambda x: x / np.sqrt(np.maximum(np.sum(np.abs(x) ** 2, -1, keepdims=True),
                                                      1e-12)).astype(x.dtype)
                     if x.ndim else x, True),
    "log_softmax": (lambda tf, x: tf.nn.log_softmax(x) if len(x.shape) else x,
                    lambda x: _log_softmax(x) if x.ndim else x, True),
    "matmul_self": (lambda tf, x: tf.matmul(x, x, transpose_b=True) if len(x.shape) >= 2 else x,
                    lambda x: x @ np.swapaxes(x, -1, -2) if x.ndim >= 2 else x, True),
    "det": (lambda tf, x: tf.linalg.det(_spd(tf, x)) if len(x.shape) >= 2 else x,
            lambda x: np.linalg.det(_spd_np(x)).astype(x.dtype) if x.ndim >= 2 else x, True),
    "inv": (lambda tf, x: tf.linalg.inv(_spd(tf, x)) if len(x.shape) >= 2 else x,
            lambda x: np.linalg.inv(_spd_np(x)).astype(x.dtype) if x.ndim >= 2 else x, True),
    "cholesky": (lambda tf, x: tf.linalg.cholesky(_spd(tf, x)) if len(x.shape) >= 2 else x,
                 lambda x: np.linalg.cholesky(_spd_np(x)).astype(x.dtype) if x.ndim >= 2 else x,
                 True),
    "logdet": (lambda tf, x: tf.linalg.logdet(_spd(tf, x)) if len(x.shape) >= 2 else x,
               lambda x: np.linalg.slogdet(_spd_np(x))[1].astype(np.abs(x[..., :0]).dtype)
               if x.ndim >= 2
               else x, True),
    "singular_values": (lambda tf, x: tf.linalg.svd(x, compute_uv=False) if len(x.shape) >= 2
                        else x, lambda x: np.linalg.svd(x, compute_uv=False).astype(
                            np.abs(x[..., :0]).dtype) if x.ndim >= 2 else x, False),
    "gather_first": (lambda tf, x: tf.gather(x, [0, 0], axis=-1) if len(x.shape) else x,
                     lambda x: np.take(x, [0, 0], axis=-1) if x.ndim else x, True),
    "avg_pool": (lambda tf, x: tf.nn.avg_pool2d(x, 2, 1, "VALID") if _pooling(x) else x,
                 lambda x: _windows(x).mean(axis=(-2, -1)).astype(x.dtype) if _pooling(x)
                 else x, True),
    "max_pool": (lambda tf, x: tf.nn.max_pool2d(x, 2, 1, "VALID") if _pooling(x) else x,
                 lambda x: _windows(x).max(axis=(-2, -1)) if _pooling(x) else x, False),
    "conv2d": (lambda tf, x: tf.nn.conv2d(x, tf.ones([2, 2, x.shape[-1], 1], x.dtype), 1,
                                          "VALID") if _pooling(x) else x,
               lambda x: _windows(x).sum(axis=(-3, -2, -1))[..., None].astype(x.dtype)
               if _pooling(x) else x, True),
    "logical_not": (lambda tf, x: tf.math.logical_not(x), np.logical_not, False),
    "sign": (lambda tf, x: tf.math.sign(x), np.sign, False),
    "round": (lambda tf, x: tf.math.round(x), np.round, False),
    "boolean_mask": (lambda tf, x: tf.boolean_mask(x, x > 0), lambda x: x[x > 0], False),
    "where_positive": (lambda tf, x: tf.where(x > 0, x, tf.zeros_like(x)),
                       lambda x: np.where(x > 0, x, np.zeros_like(x)), False),
    "flatten": (lambda tf, x: tf.reshape(x, [-1]), lambda x: np.reshape(x, -1), True),
}

BINARY = {
    "add": (lambda tf, x, y: x + y, np.add, True),
    "subtract": (lambda tf, x, y: x - y, np.subtract, True),
    "multiply": (lambda tf, x, y: x * y, np.multiply, True),
    "divide": (lambda tf, x, y: x / (y * y + 0.5), lambda x, y: x / (y * y + 0.5), True),
    "maximum": (lambda tf, x, y: tf.math.maximum(x, y), np.maximum, False),
    "minimum": (lambda tf, x, y: tf.math.minimum(x, y), np.minimum, False),
    "squared_difference": (lambda tf, x, y: tf.math.squared_difference(x, y),
                           lambda x, y: (x - y) * np.conj(x - y), True),
    "atan2": (lambda tf, x, y: tf.math.atan2(x, y * y + 0.5),
              lambda x, y: np.arctan2(x, y * y + 0.5), True),
    "matmul": (lambda tf, x, y: tf.matmul(x, y, transpose_b=True),
               lambda x, y: np.matmul(x, np.swapaxes(y, -1, -2)), True),
    "concat": (lambda tf, x, y: tf.concat([x, y], axis=-1),
               lambda x, y: np.concatenate([x, y], axis=-1), True),
    "logical_and": (lambda tf, x, y: tf.math.logical_and(x, y), np.logical_and, False),
    "floordiv": (lambda tf, x, y: tf.math.floordiv(x, y * y + 0.5),
                 lambda x, y: np.floor_divide(x, y * y + 0.5), False),
    "floormod": (lambda tf, x, y: tf.math.floormod(x, y * y + 0.5),
                 lambda x, y: np.mod(x, y * y + 0.5), False),
    "xlogy": (lambda tf, x, y: tf.math.xlogy(x, y * y + 0.5),
              lambda x, y: np.where(x == 0, 0, x * np.log(y * y + 0.5)).astype(x.dtype), True),
    "sigmoid_cross_entropy": (
        lambda tf, x, y: tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.math.sigmoid(y),
                                                                  logits=x),
        lambda x, y: _sigmoid_cross_entropy(x, 1 / (1 + np.exp(-y))), True),
    "softmax_cross_entropy": (
        lambda tf, x, y: tf.nn.softmax_cross_entropy_with_logits(
            labels=tf.nn.softmax(y) if len(y.shape) else y, logits=x),
        lambda x, y: _softmax_cross_entropy(x, _softmax(y) if y.ndim else y), True),
    "pow": (lambda tf, x, y: tf.math.pow(x * x + 0.5, y),
            lambda x, y: np.power(x * x + 0.5, y), True),
}

REDUCTIONS = {
    "reduce_sum": (lambda tf, x, a, k: tf.reduce_sum(x, a, k),
                   lambda x, axis, keepdims: np.sum(x, axis, x.dtype, keepdims=keepdims), True),
    "reduce_mean": (lambda tf, x, a, k: tf.reduce_mean(x, a, k), _mean, True),
    "reduce_max": (lambda tf, x, a, k: tf.reduce_max(x, a, k), None, False),
    "reduce_min": (lambda tf, x, a, k: tf.reduce_min(x, a, k), None, False),
    "reduce_prod": (lambda tf, x, a, k: tf.reduce_prod(x, a, k),
                    lambda x, axis, keepdims: np.prod(x, axis, x.dtype, keepdims=keepdims), True),
    "reduce_logsumexp": (lambda tf, x, a, k: tf.reduce_logsumexp(x, a, k), _logsumexp, True),
    "reduce_any": (lambda tf, x, a, k: tf.reduce_any(x, a, k), np.any, False),
    "reduce_std": (lambda tf, x, a, k: tf.math.reduce_std(x, a, k), np.std, False),
    "reduce_variance": (lambda tf, x, a, k: tf.math.reduce_variance(x, a, k), np.var, True),
    "reduce_euclidean_norm": (lambda tf, x, a, k: tf.math.reduce_euclidean_norm(x, a, k),
                              lambda x, axis, keepdims: np.sqrt(np.sum(
                                  x * np.conj(x), axis, keepdims=keepdims)).astype(x.dtype),
                              False),
}


#: Ops on LAPACK, whose NumPy references cannot take inf/nan (edge values skip them; tests/
#: test_tf_edges.py records TensorFlow's answers for those). Bool programs skip them too:
#: TensorFlow's error type for a bool matrix depends on its rank (conj or the kernel refuses).
_LAPACK = {"det", "inv", "cholesky", "logdet", "singular_values"}


def _pooling(x) -> bool:
    """A 2x2 VALID window fits: rank 4 (NHWC) with height and width of 2 or more."""
    shape = tuple(x.shape)
    return len(shape) == 4 and shape[1] >= 2 and shape[2] >= 2 and shape[3] >= 1


def _windows(x):
    """The 2x2 windows of an NHWC array: [N, H-1, W-1, C, 2, 2]."""
    return np.lib.stride_tricks.sliding_window_view(x, (2, 2), axis=(1, 2))


def _spd(tf, x):
    """``x x^H + 1``: a Hermitian positive definite matrix for any square-able ``x``."""
    square = tf.matmul(x, x, adjoint_b=True)
    return square + tf.eye(square.shape[-1], dtype=x.dtype)


def _spd_np(x):
    if x.dtype == np.float16:  # (NumPy's LAPACK has no float16; compute in float32)
        x = x.astype(np.float32)
    square = x @ np.conj(np.swapaxes(x, -1, -2))
    return square + np.eye(square.shape[-1], dtype=x.dtype)


def _softmax(x):
    shifted = np.exp(x - np.max(x, axis=-1, keepdims=True)) if x.size else x
    return shifted / np.sum(shifted, axis=-1, keepdims=True) if x.size else x


def _sigmoid_cross_entropy(x, z):
    if x.shape != z.shape:
        _refuse()
    return np.maximum(x, 0) - x * z + np.log1p(np.exp(-np.abs(x)))


def _softmax_cross_entropy(x, z):
    """TensorFlow's: logits and labels broadcast as [rows, classes] matrices."""
    if x.ndim == 0 or z.ndim == 0:
        _refuse()
    x_matrix = (int(np.prod(x.shape[:-1])), x.shape[-1])
    z_matrix = (int(np.prod(z.shape[:-1])), z.shape[-1])
    rows, classes = np.broadcast_shapes(x_matrix, z_matrix)
    shape = (x.shape if x_matrix[0] == rows else z.shape)[:-1] + (classes,)
    x = np.broadcast_to(np.reshape(x, x_matrix), (rows, classes)).reshape(shape)
    z = np.broadcast_to(np.reshape(z, z_matrix), (rows, classes)).reshape(shape)
    return -np.sum(z * _log_softmax(x), axis=-1)


def _refuse():
    raise ValueError("TensorFlow requires equal shapes here")


def _log_softmax(x):
    if not x.size:
        return x
    shifted = x - np.max(x, axis=-1, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))


def _extreme(function, x, axis, keepdims):
    if x.size == 0:  # TensorFlow: the identity of max/min (-inf/inf, or the dtype's limit)
        identity = -np.inf if function is np.max else np.inf
        if x.dtype.kind in "iu":
            info = np.iinfo(x.dtype)
            identity = info.min if function is np.max else info.max
        shape = np.sum(np.zeros(x.shape), axis=axis, keepdims=keepdims).shape
        return np.full(shape, identity, x.dtype)
    return function(x, axis=axis, keepdims=keepdims)


def _shape(rng: random.Random) -> list:
    rank = rng.choice([0, 1, 1, 2, 2, 3, 4])
    return [rng.choice([0, 1, 2, 3, 3]) if rng.random() < 0.1 else rng.choice([1, 2, 3, 4])
            for _ in range(rank)]


def _broadcasting(shape: list, rng: random.Random) -> list:
    """A shape that broadcasts against ``shape``: equal, with some dims 1, fewer dims, or
    (rarely) incompatible."""
    choice = rng.random()
    if choice < 0.5:
        return list(shape)
    if choice < 0.75:
        return [1 if rng.random() < 0.5 else d for d in shape]
    if choice < 0.95:
        return list(shape[rng.randint(0, len(shape)):])
    return [d + 1 for d in shape] or [2]


def _values(shape: list, dtype: str, rng: random.Random, edges: bool) -> list:
    generator = np.random.default_rng(rng.randrange(2 ** 32))
    size = int(np.prod(shape)) if shape else 1
    if dtype == "bool":
        values = generator.random(size) < 0.5
    elif dtype in ("int32", "int64"):
        values = generator.integers(-5, 6, size)
    else:
        values = generator.standard_normal(size)
        if dtype == "complex128":
            values = values + 1j * generator.standard_normal(size)
        if edges and size:
            for index in generator.integers(0, size, max(1, size // 3)):
                values[index] = rng.choice([0.0, -0.0, np.inf, -np.inf, np.nan, 1e30, -1e-30])
    values = np.asarray(values).reshape(shape)
    if dtype == "complex128":  # (JSON has no complex numbers)
        return {"re": values.real.tolist(), "im": values.imag.tolist()}
    return values.tolist()


def _array(spec: dict, dtype: str) -> np.ndarray:
    values = spec["values"]
    if isinstance(values, dict):
        values = np.asarray(values["re"]) + 1j * np.asarray(values["im"])
    return np.asarray(values, dtype).reshape(spec["shape"])


def generate(seed: int) -> dict:
    """Program ``seed`` (deterministic, JSON-able)."""
    rng = random.Random(seed)
    dtype = rng.choices(["float32", "float64", "int32", "bool", "complex128", "float16",
                         "int64"], [46, 33, 6, 3, 6, 3, 3])[0]
    edges = rng.random() < 0.15
    shape = _shape(rng)
    inputs = [{"shape": shape, "values": _values(shape, dtype, rng, edges)}]
    steps = []
    current = list(shape)
    for _ in range(rng.randint(1, 3)):
        kind = rng.choices(["unary", "binary", "reduction"], [50, 30, 20])[0]
        if kind == "unary":
            name = rng.choice(sorted(set(UNARY) - (_LAPACK if edges or dtype == "bool" else
                                                   set())))
            steps.append({"op": name})
            if name == "transpose":
                current = current[::-1]
            elif name in ("avg_pool", "max_pool", "conv2d") and len(current) == 4 and \
                    current[1] >= 2 and current[2] >= 2 and current[3] >= 1:
                current = [current[0], current[1] - 1, current[2] - 1,
                           1 if name == "conv2d" else current[3]]
            elif name == "gather_first" and current:
                current = current[:-1] + [2]
            elif name == "tile":
                current = [2 * d for d in current]
            elif name == "pad":
                current = [d + 1 for d in current]
            elif name in ("matmul_self", "inv", "cholesky") and len(current) >= 2:
                current = current[:-1] + current[-2:-1]
            elif name in ("det", "logdet") and len(current) >= 2:
                current = current[:-2]
            elif name == "singular_values" and len(current) >= 2:
                current = current[:-2] + [min(current[-2:])]
            elif name == "boolean_mask":
                current = [rng.randint(0, 2)]  # (data dependent: only the rank matters)
            elif name == "flatten":
                current = [int(np.prod(current))] if current else [1]
        elif kind == "binary":
            other = _broadcasting(current, rng)
            inputs.append({"shape": other, "values": _values(other, dtype, rng, edges)})
            steps.append({"op": rng.choice(sorted(BINARY)), "input": len(inputs) - 1,
                          "broadcast": other != current})
            try:
                if steps[-1]["op"] == "matmul" and len(current) >= 2:
                    current = current[:-1] + other[-2:-1]
                elif steps[-1]["op"] == "softmax_cross_entropy" and current:
                    current = current[:-1]
                elif steps[-1]["op"] == "concat" and current and len(other) == len(current):
                    current = current[:-1] + [current[-1] + other[-1]]
                else:
                    current = list(np.broadcast_shapes(tuple(current), tuple(other)))
            except (ValueError, IndexError):
                pass
        else:
            axis = None if not current or rng.random() < 0.4 else rng.randrange(-len(current),
                                                                               len(current))
            keepdims = rng.random() < 0.3
            steps.append({"op": rng.choice(sorted(REDUCTIONS)), "axis": axis,
                          "keepdims": keepdims})
            if axis is None:
                current = [1] * len(current) if keepdims else []
            else:
                current = [1 if i == axis % len(current) else d for i, d in enumerate(current)] \
                    if keepdims else [d for i, d in enumerate(current) if i != axis % len(current)]
    return {"seed": seed, "dtype": dtype, "edges": edges, "inputs": inputs, "steps": steps}


def smooth(program: dict) -> bool:
    """Every op of the program is twice differentiable at random points."""
    for step in program["steps"]:
        table = UNARY if step["op"] in UNARY else BINARY if step["op"] in BINARY else REDUCTIONS
        if not table[step["op"]][2]:
            return False
    return True


def execute(tf, program: dict, sources=None):
    """The program's result under the framework module ``tf``; ``sources`` replaces the
    inputs (tensors to differentiate)."""
    if sources is None:
        sources = [tf.constant(_array(i, program["dtype"])) for i in program["inputs"]]
    value = sources[0]
    for step in program["steps"]:
        name = step["op"]
        if name in UNARY:
            value = UNARY[name][0](tf, value)
        elif name in BINARY:
            value = BINARY[name][0](tf, value, sources[step["input"]])
        else:
            value = REDUCTIONS[name][0](tf, value, step["axis"], step["keepdims"])
    return value


def reference(program: dict):
    """The program's result computed with NumPy (float64 inside for float32 programs)."""
    arrays = [_array(i, program["dtype"]) for i in program["inputs"]]
    value = arrays[0]
    with np.errstate(all="ignore"):
        for step in program["steps"]:
            name = step["op"]
            if name in UNARY:
                value = UNARY[name][1](value)
            elif name in BINARY:
                value = BINARY[name][1](value, arrays[step["input"]])
            else:
                function = REDUCTIONS[name][1]
                axis, keepdims = step["axis"], step["keepdims"]
                if function is None:
                    function = np.max if name == "reduce_max" else np.min
                    value = _extreme(function, value, axis, keepdims)
                else:
                    value = function(value, axis=axis, keepdims=keepdims)
            value = np.asarray(value)
    return value
