"""``tf.nn``'s functions built from several op families (TensorFlow's ``nn_impl``): gelu,
silu, crelu, the softmax and sigmoid cross-entropies, l2 loss and normalization, moments, batch
normalization, dropout, embedding lookup, 1-D convolution and pooling over the 2-D ops of
:mod:`tapegrad.ops.nn`."""

from __future__ import annotations

import numbers

from tapegrad._core.backend import np
from tapegrad._core.errors import InvalidArgumentError
from tapegrad._core.tensor import Tensor, apply2, convert_to_tensor, wrap
from tapegrad.ops import array, math, nn, reduction
from tapegrad.ops._util import tensor_of
from tapegrad.ops._vocab import shape_of


def gelu(features, approximate: bool = False, name=None) -> Tensor:
    """Gaussian error linear unit, ``x * Phi(x)`` (``approximate=True``: the tanh form).

    >>> import tapegrad as tf
    >>> round(float(tf.nn.gelu(tf.constant(1.0))), 4)
    0.8413
    """
    x = nn.floating_operand(features, "gelu")
    if approximate:
        cubic = apply2(math.MUL, apply2(math.POW, x, 3.0), 0.044715)
        inner = apply2(math.MUL, apply2(math.ADD, x, cubic), 0.7978845608028654)
        return apply2(math.MUL, apply2(math.MUL, x, 0.5), apply2(math.ADD, math.tanh(inner), 1.0))
    scaled = apply2(math.DIV, x, 1.4142135623730951)
    return apply2(math.MUL, apply2(math.MUL, x, 0.5), apply2(math.ADD, math.erf(scaled), 1.0))


def silu(features, beta: float = 1.0) -> Tensor:
    """``features * sigmoid(beta * features)`` (also ``tf.nn.swish``).

    >>> import tapegrad as tf
    >>> round(float(tf.nn.silu(tf.constant(1.0))), 4)
    0.7311
    """
    x = tensor_of(features)
    if x._value.dtype.kind not in "fc":  # (TensorFlow's silu takes complex values too)
        nn.floating_operand(x, "silu")
    inner = x if isinstance(beta, (int, float)) and beta == 1.0 else apply2(math.MUL, x, beta)
    return apply2(math.MUL, x, math.sigmoid(inner))


swish = silu


def crelu(features, axis: int = -1, name=None) -> Tensor:
    """``concat([relu(features), relu(-features)], axis)``.

    >>> import tapegrad as tf
    >>> tf.nn.crelu(tf.constant([1.0, -2.0])).numpy().tolist()
    [1.0, 0.0, 0.0, 2.0]
    """
    x = tensor_of(features)
    return array.concat([nn.relu(x), nn.relu(math.negative(x))], axis)


def _move_last(x, axis: int):
    ndim = x._value.ndim
    if axis == ndim - 1:
        return x
    perm = [i for i in range(ndim) if i != axis] + [axis]
    return array.transpose(x, perm)


def softmax_cross_entropy_with_logits(labels, logits, axis: int = -1, name=None) -> Tensor:
    """Cross-entropy between ``labels`` (a distribution per row) and ``softmax(logits)``.

    The gradient for ``logits`` is ``softmax(logits) - labels``; ``labels`` get one too,
    ``-log_softmax(logits)`` (wrap them in ``stop_gradient`` to avoid it), as TensorFlow.

    >>> import tapegrad as tf
    >>> loss = tf.nn.softmax_cross_entropy_with_logits([[0.0, 1.0]], [[0.0, 0.0]])
    >>> round(float(loss[0]), 5)
    0.69315
    """
    if labels is None or logits is None:
        raise ValueError("softmax_cross_entropy_with_logits needs both labels= and logits=.")
    logits = nn.floating_operand(logits, "softmax_cross_entropy_with_logits")
    if not isinstance(labels, Tensor) and not hasattr(labels, "_read_for_op"):
        labels = convert_to_tensor(labels, dtype=logits.dtype)
    labels = tensor_of(labels)
    if labels._value.dtype != logits._value.dtype:
        raise InvalidArgumentError(
            f"softmax_cross_entropy_with_logits: labels are {labels.dtype.name} but logits are "
            f"{logits.dtype.name}; cast the labels with tapegrad.cast(labels, logits.dtype).")
    axis = nn.checked_axis(logits, axis, "softmax_cross_entropy_with_logits")
    if shape_of(labels) != shape_of(logits) and axis == len(shape_of(logits)) - 1:
        logits, labels = _broadcast_rows_and_classes(logits, labels)
    return apply2(nn.SOFTMAX_XENT, _move_last(logits, axis), _move_last(labels, axis),
                  {"saved": [None]})


def _as_matrix_shape(shape) -> tuple:
    return int(np.prod(shape[:-1], dtype=np.int64)), shape[-1]


def _broadcast_rows_and_classes(logits, labels):
    """Logits and labels as TensorFlow's kernel broadcasts them: both as (rows, classes)
    matrices, a row or column of size 1 repeated ([2] labels for [4, 2] logits)."""
    logits_shape, labels_shape = tuple(shape_of(logits)), tuple(shape_of(labels))
    if not labels_shape:
        raise InvalidArgumentError("softmax_cross_entropy_with_logits: labels must have rank "
                                   ">= 1 (one distribution per row).")
    try:
        rows, classes = np.broadcast_shapes(_as_matrix_shape(logits_shape),
                                            _as_matrix_shape(labels_shape))
    except ValueError:
        raise InvalidArgumentError(
            f"softmax_cross_entropy_with_logits: logits of shape {list(logits_shape)} and "
            f"labels of shape {list(labels_shape)} do not broadcast (as [rows, classes] "
            "matrices); give labels the logits' shape.") from None
    longer = logits_shape if _as_matrix_shape(logits_shape)[0] == rows else labels_shape
    shape = longer[:-1] + (classes,)

    def spread(tensor, original):
        matrix = array.reshape(tensor, _as_matrix_shape(original))
        return array.reshape(array.broadcast_to(matrix, (rows, classes)), shape)

    return spread(logits, logits_shape), spread(labels, labels_shape)


def sigmoid_cross_entropy_with_logits(labels=None, logits=None, name=None) -> Tensor:
    """Elementwise logistic loss ``max(x, 0) - x * z + log(1 + exp(-|x|))``.

    >>> import tapegrad as tf
    >>> round(float(tf.nn.sigmoid_cross_entropy_with_logits(1.0, 0.0)), 5)
    0.69315
    """
    if labels is None or logits is None:
        raise ValueError("sigmoid_cross_entropy_with_logits needs both labels= and logits=.")
    logits = nn.floating_operand(logits, "sigmoid_cross_entropy_with_logits")
    if not isinstance(labels, Tensor) and not hasattr(labels, "_read_for_op"):
        labels = convert_to_tensor(labels, dtype=logits.dtype)
    labels = tensor_of(labels)
    if labels._value.shape != logits._value.shape:
        raise ValueError(f"logits and labels must have the same shape ({list(logits.shape)} "
                         f"vs {list(labels.shape)}).")
    zeros = math.zeros_like(logits)
    cond = math.greater_equal(logits, zeros)
    relu_logits = array.where(cond, logits, zeros)
    neg_abs_logits = array.where(cond, math.negative(logits), logits)
    log1p = getattr(math, "log1p", None)
    soft = log1p(math.exp(neg_abs_logits)) if log1p is not None else math.log(
        apply2(math.ADD, math.exp(neg_abs_logits), 1.0))
    return apply2(math.ADD, apply2(math.SUB, relu_logits, apply2(math.MUL, logits, labels)), soft)


def l2_loss(t, name=None) -> Tensor:
    """``sum(t ** 2) / 2``.

    >>> import tapegrad as tf
    >>> float(tf.nn.l2_loss(tf.constant([1.0, 2.0])))
    2.5
    """
    t = nn.floating_operand(t, "l2_loss")
    return apply2(math.MUL, reduction.reduce_sum(apply2(math.MUL, t, t)), 0.5)


def l2_normalize(x, axis=None, epsilon: float = 1e-12, name=None, dim=None) -> Tensor:
    """``x / sqrt(max(sum(x ** 2, axis), epsilon))``.

    >>> import tapegrad as tf
    >>> tf.nn.l2_normalize(tf.constant([3.0, 4.0])).numpy().tolist()
    [0.6000000238418579, 0.800000011920929]
    """
    if dim is not None:
        axis = dim
    x = tensor_of(x)
    if x._value.dtype.kind == "c":  # the norm of the moduli, applied to the complex values
        magnitude = math.abs(x)
        square_sum = reduction.reduce_sum(math.square(magnitude), axis, keepdims=True)
        inv_norm = math.reciprocal(math.sqrt(math.maximum(square_sum, epsilon)))
        return apply2(math.MUL, x, math.complex_(inv_norm, math.zeros_like(inv_norm)))
    if x._value.dtype.kind == "b":
        nn.floating_operand(x, "l2_normalize")  # (InvalidArgumentError, as TensorFlow's Square)
    if x._value.dtype.kind != "f":
        raise TypeError(f"Cannot convert {epsilon!r} to EagerTensor of dtype {x.dtype.name}: "
                        "l2_normalize needs a float or complex tensor; cast it first "
                        "(tapegrad.cast(x, tapegrad.float32)).")
    square_sum = reduction.reduce_sum(math.square(x), axis, keepdims=True)
    inv_norm = math.reciprocal(math.sqrt(math.maximum(square_sum, epsilon)))
    return apply2(math.MUL, x, inv_norm)


def moments(x, axes, shift=None, keepdims: bool = False, name=None) -> tuple:
    """Mean and variance of ``x`` over ``axes`` (the variance sees the mean as a constant,
    as TensorFlow).

    >>> import tapegrad as tf
    >>> mean, var = tf.nn.moments(tf.constant([1.0, 3.0]), axes=[0])
    >>> float(mean), float(var)
    (2.0, 1.0)
    """
    x = nn.floating_operand(x, "moments")
    mean = reduction.reduce_mean(x, axes, keepdims=True)
    centered = apply2(math.SUB, x, math.stop_gradient(mean))
    variance = reduction.reduce_mean(math.square(centered), axes, keepdims=True)
    if not keepdims:
        axes = reduction.normalize_axis(axes, x._value.ndim)
        mean = array.squeeze(mean, axes)
        variance = array.squeeze(variance, axes)
    return mean, variance


def batch_normalization(x, mean, variance, offset, scale, variance_epsilon,
                        name=None) -> Tensor:
    """``(x - mean) * scale / sqrt(variance + variance_epsilon) + offset``.

    >>> import tapegrad as tf
    >>> y = tf.nn.batch_normalization(tf.constant([1.0, 3.0]), 2.0, 1.0, None, None, 0.0)
    >>> y.numpy().tolist()
    [-1.0, 1.0]
    """
    x = nn.floating_operand(x, "batch_normalization")
    inv = math.reciprocal(math.sqrt(apply2(math.ADD, variance, variance_epsilon)))
    if scale is not None:
        inv = apply2(math.MUL, inv, scale)
    shift = math.negative(apply2(math.MUL, mean, inv)) if offset is None else apply2(
        math.SUB, offset, apply2(math.MUL, mean, inv))
    return apply2(math.ADD, apply2(math.MUL, x, inv), shift)


def _uniform(shape, dtype, seed) -> Tensor:
    """Uniform [0, 1) draws from ``tapegrad.random`` (reproducible under ``set_seed`` and an
    op ``seed``, as TensorFlow's stateful random ops), as an op a compiled function replays."""
    from tapegrad.ops import random
    return random.uniform_unit(shape, dtype, seed)


def dropout(x, rate, noise_shape=None, seed=None, name=None) -> Tensor:
    """Zero each element with probability ``rate`` and scale the kept ones by
    ``1 / (1 - rate)``. Masks come from ``tapegrad.random``: reproducible after
    ``tf.random.set_seed`` (and an op ``seed``), as TensorFlow.

    >>> import tapegrad as tf
    >>> y = tf.nn.dropout(tf.ones([4]), rate=0.5, seed=1)
    >>> sorted(set(y.numpy().tolist())) in ([0.0, 2.0], [0.0], [2.0])
    True
    """
    if isinstance(rate, Tensor):
        rate = float(rate._value)
    if not isinstance(rate, numbers.Real):
        raise ValueError(f"`rate` must be a scalar or scalar tensor. Received: rate={rate}")
    if rate < 0 or rate >= 1:
        raise ValueError(f"`rate` must be a scalar tensor or a float in the range [0, 1). "
                         f"Received: rate={rate}")
    x = tensor_of(x)
    if x._value.dtype.kind != "f":
        raise ValueError(f"`x.dtype` must be a floating point tensor as `x` will be scaled. "
                         f"Received: x_dtype={x.dtype.name}")
    if rate == 0:
        return x
    shape = x._value.shape
    if noise_shape is not None:
        noise = [int(d) if d is not None else shape[i] for i, d in enumerate(
            noise_shape._value.tolist() if isinstance(noise_shape, Tensor) else noise_shape)]
        shape = tuple(noise)
    dtype = x._value.dtype
    keep = apply2(math.GREATER_EQUAL, _uniform(shape, dtype, seed),
                  wrap(np.asarray(rate, dtype)))
    factor = apply2(math.MUL, math.cast(keep, dtype), wrap(np.asarray(1.0 / (1.0 - rate), dtype)))
    return apply2(math.MUL, x, factor)


def embedding_lookup(params, ids, max_norm=None, name=None) -> Tensor:
    """Rows of ``params`` picked by ``ids`` (a ``gather`` on axis 0: its gradient is an
    ``IndexedSlices``). A list of shards is split by the "div" strategy, as TensorFlow 2.

    >>> import tapegrad as tf
    >>> tf.nn.embedding_lookup(tf.constant([[1.0], [2.0]]), [1, 1]).numpy().ravel().tolist()
    [2.0, 2.0]
    """
    if isinstance(params, (list, tuple)):
        if not params:
            raise ValueError("embedding_lookup needs at least one params tensor.")
        params = params[0] if len(params) == 1 else array.concat(list(params), 0)
    result = array.gather(params, ids)
    if max_norm is not None:
        ndim = result._value.ndim
        ids_ndim = tensor_of(ids)._value.ndim
        axes = list(range(ids_ndim, ndim)) or None
        norm = math.sqrt(reduction.reduce_sum(math.square(result), axes, keepdims=True))
        scale = apply2(math.DIV, max_norm, math.maximum(norm, max_norm))
        result = apply2(math.MUL, result, scale)
    return result


def convolution(input, filters, strides=None, padding: str = "VALID",  # noqa: A002
                data_format=None, dilations=None, name=None) -> Tensor:
    """N-D convolution for 1-D (NWC) and 2-D (NHWC) inputs, as ``tf.nn.convolution``.

    >>> import tapegrad as tf
    >>> tf.nn.convolution(tf.ones([1, 5, 1]), tf.ones([2, 1, 1])).shape.as_list()
    [1, 4, 1]
    """
    ndim = len(shape_of(tensor_of(input)))
    if ndim == 3:
        return conv1d(input, filters, 1 if strides is None else strides, padding,
                      data_format or "NWC", dilations)
    return nn.conv2d(input, filters, 1 if strides is None else strides, padding,
                  data_format or "NHWC", dilations)


def conv1d(input, filters, stride, padding, data_format: str = "NWC",  # noqa: A002
           dilations=None, name=None) -> Tensor:
    """1-D convolution of an NWC ``input`` with ``filters`` of shape [w, in, out].

    >>> import tapegrad as tf
    >>> tf.nn.conv1d(tf.ones([1, 5, 1]), tf.ones([3, 1, 1]), 1, "VALID").numpy().ravel().tolist()
    [3.0, 3.0, 3.0]
    """
    x, w = nn.conv_operands(input, filters, "conv1d", rank=3)
    channels_first = data_format == "NCW"
    if data_format not in ("NWC", "NCW", None):
        raise ValueError(f"conv1d: data_format must be 'NWC' or 'NCW', got {data_format!r}.")
    if channels_first:
        x = array.transpose(x, [0, 2, 1])
    stride = nn.spatial_ints(stride, 1, "stride")[0]
    dilation = nn.spatial_ints(dilations, 1, "dilations")[0]
    if not isinstance(padding, str):
        pairs = [tuple(p) for p in padding]
        padding = [[0, 0]] + [list(p) for p in (pairs[1:-1] if len(pairs) == 3 else pairs)]
    y = nn.conv2d(array.expand_dims(x, 1), array.expand_dims(w, 0), [1, stride],
               padding, "NHWC", [1, dilation])
    y = array.squeeze(y, [1])
    return array.transpose(y, [0, 2, 1]) if channels_first else y


def _pool1d(op, input, ksize, strides, padding, data_format, what):  # noqa: A002
    x = tensor_of(input)
    if x._value.ndim != 3:
        raise ValueError(f"{what} expects a 3-D input (batch, width, channels), got shape "
                         f"{list(x.shape)}.")
    channels_first = data_format == "NCW"
    if channels_first:
        x = array.transpose(x, [0, 2, 1])
    ksize = nn.spatial_ints(ksize, 1, "ksize")
    strides = nn.spatial_ints(strides, 1, "strides")
    if not isinstance(padding, str):
        pairs = [tuple(p) for p in padding]
        padding = [[0, 0]] + [list(p) for p in (pairs[1:-1] if len(pairs) == 3 else pairs)]
    y = nn.pool_windows(op, array.expand_dims(x, 1), (1,) + ksize, (1,) + strides, padding, "NHWC",
                what)
    y = array.squeeze(y, [1])
    return array.transpose(y, [0, 2, 1]) if channels_first else y


def max_pool1d(input, ksize, strides, padding, data_format: str = "NWC",  # noqa: A002
               name=None) -> Tensor:
    """Max over windows of an NWC ``input``.

    >>> import tapegrad as tf
    >>> tf.nn.max_pool1d(tf.constant([[[1.0], [3.0], [2.0], [0.0]]]), 2, 2, "VALID"
    ...                  ).numpy().ravel().tolist()
    [3.0, 2.0]
    """
    return _pool1d(nn.MAX_POOL, input, ksize, strides, padding, data_format, "max_pool1d")


def avg_pool1d(input, ksize, strides, padding, data_format: str = "NWC",  # noqa: A002
               name=None) -> Tensor:
    """Mean over windows of an NWC ``input``.

    >>> import tapegrad as tf
    >>> tf.nn.avg_pool1d(tf.constant([[[1.0], [3.0], [2.0], [0.0]]]), 2, 2, "VALID"
    ...                  ).numpy().ravel().tolist()
    [2.0, 1.0]
    """
    return _pool1d(nn.AVG_POOL, input, ksize, strides, padding, data_format, "avg_pool1d")


def _pool_nd(op, input, ksize, strides, padding, data_format, what):  # noqa: A002
    ndim = len(shape_of(tensor_of(input)))
    if ndim == 3:
        return _pool1d(op, input, ksize, strides, padding, data_format or "NWC", what)
    if ndim == 4:
        return nn.pool_windows(op, input, ksize, strides, padding, data_format or "NHWC", what)
    raise ValueError(f"{what}: only 1-D (rank 3) and 2-D (rank 4) pooling are supported, got an "
                     f"input of rank {ndim}.")


def max_pool(input, ksize, strides, padding, data_format=None, name=None) -> Tensor:  # noqa: A002
    """Max pooling over a rank-3 (NWC) or rank-4 (NHWC) input.

    >>> import tapegrad as tf
    >>> tf.nn.max_pool(tf.ones([1, 4, 4, 1]), 2, 2, "SAME").shape.as_list()
    [1, 2, 2, 1]
    """
    return _pool_nd(nn.MAX_POOL, input, ksize, strides, padding, data_format, "max_pool")


def avg_pool(input, ksize, strides, padding, data_format=None, name=None) -> Tensor:  # noqa: A002
    """Average pooling over a rank-3 (NWC) or rank-4 (NHWC) input.

    >>> import tapegrad as tf
    >>> tf.nn.avg_pool(tf.ones([1, 4, 4, 1]), 2, 2, "SAME").shape.as_list()
    [1, 2, 2, 1]
    """
    return _pool_nd(nn.AVG_POOL, input, ksize, strides, padding, data_format, "avg_pool")
