"""Neural-network ops (``tf.nn``): activations, softmax and the cross-entropy ops, bias_add,
2-D convolutions and pooling. The ``tf.nn`` functions built from several families (gelu, the
losses, moments, dropout, 1-D convolution and pooling, ...) are in
:mod:`tapegrad.ops.composite.nn`.

Layout is NHWC (``NCHW`` is accepted and transposed). Convolutions and pooling are vectorised:
an im2col view (``as_strided``) times a matrix product forward, and loops over the few kernel
taps (never over pixels) for the scatter of the reverse rules. Every reverse rule is itself made
of ops (``Conv2DBackpropInput``, ``Conv2DBackpropFilter``, ``MaxPoolGrad``, ``AvgPoolGrad`` ...)
whose own rules are convolutions or pools again, so derivatives of any order work.
"""

from __future__ import annotations

from tapegrad._core.backend import np, ones
from tapegrad._core.errors import InvalidArgumentError
from tapegrad._core.registry import REGISTRY, register
from tapegrad._core.tensor import (
    Tensor,
    apply,
    apply1,
    convert_to_tensor,
    wrap,
)
from tapegrad.ops import _vocab as vocab
from tapegrad.ops._sample import Sample
from tapegrad.ops._util import FLOATS, REAL, randn, tensor_of
from tapegrad.ops._vocab import reduce_sum, reshape, run, shape_of, sum_tangents

_as_strided = np.lib.stride_tricks.as_strided


def floating_operand(x, what: str) -> Tensor:
    """``x`` as a float tensor (a Variable read), else InvalidArgumentError naming ``what``."""
    x = tensor_of(x)
    if x._value.dtype.kind != "f":
        raise InvalidArgumentError(f"{what} expects a floating-point tensor (float16/32/64), got "
                        f"{x.dtype.name}; convert it with tapegrad.cast(x, tapegrad.float32).")
    return x


# =============================================================================================
# Elementwise activations: an op and a "Grad" op (upstream, saved) whose rules are closed.
# =============================================================================================

def _activation(name: str, forward, grad_forward, saved: str, samples, grad_samples,
                wrt_saved=None, batchable: bool = False, dtypes=None):
    """Register ``name`` and ``name + 'Grad'``.

    ``grad_forward(g, s)`` is the reverse rule given the saved tensor ``s`` (the op's input or
    output, as ``saved`` says); it is linear in ``g``. ``wrt_saved(g, s, v)`` is
    ``v * d grad_forward(g, s) / ds`` written with ops (None when that derivative is zero).
    """

    def grad_vjp(inputs, output, attrs, upstream, needs):
        g, s = inputs
        dg = apply(GRAD, (upstream, s), attrs) if needs[0] else None
        ds = None
        if needs[1]:
            ds = wrt_saved(g, s, upstream) if wrt_saved is not None else vocab.zeros_like(s)
        return dg, ds

    def grad_jvp(inputs, output, attrs, tangents):
        g, s = inputs
        tg, ts = tangents
        terms = [None if tg is None else apply(GRAD, (tg, s), attrs)]
        if ts is not None and wrt_saved is not None:
            terms.append(wrt_saved(g, s, ts))
        total = sum_tangents(*terms)
        return vocab.zeros_like(output) if total is None else total

    GRAD = register(name + "Grad", grad_forward, grad_vjp, grad_jvp, grad_samples)

    # One rule each, in the rule vocabulary: `run` applies the Grad op (recorded on tensors,
    # its NumPy forward on arrays).
    def vjp(inputs, output, attrs, upstream, needs):
        return (run(GRAD, upstream, output if saved == "output" else inputs[0], **(attrs or {})),)

    def jvp(inputs, output, attrs, tangents):
        return run(GRAD, tangents[0], output if saved == "output" else inputs[0], **(attrs or {}))

    op = register(name, forward, vjp, jvp, samples, batchable=batchable, dtypes=dtypes,
                  array_rules=True)
    return op, GRAD


def _act_samples(*extra):
    def make():
        return [Sample((randn(3),)), Sample((randn(2, 3),)), Sample((np.array(-0.7),)),
                Sample((np.zeros((0, 2)),)), *[Sample((e,), a) for e, a in extra]]
    return make


def _grad_samples(saved=None, attrs=None):
    def make():
        s2 = saved(randn(2, 3, seed=4)) if saved else randn(2, 3, seed=4)
        s3 = saved(randn(3, seed=4)) if saved else randn(3, seed=4)
        return [Sample((randn(3, seed=1), s3), dict(attrs or {})),
                Sample((randn(2, 3, seed=1), s2), dict(attrs or {}))]
    return make


def _relu_forward(x):
    return np.maximum(x, 0)


def _relu_grad_forward(g, y):
    if type(g) is np.ndarray and g.shape == y.shape:
        grad = (y > 0).astype(g.dtype)  # float times float is faster than float times bool
        grad *= g
        return grad
    return g * (y > 0)


RELU, RELU_GRAD = _activation("Relu", _relu_forward, _relu_grad_forward, "output",
                              _act_samples(), _grad_samples(), batchable=True, dtypes=REAL)


def _relu6_forward(x):
    return np.minimum(np.maximum(x, 0), 6)


def _relu6_grad_forward(g, x):
    return g * ((x > 0) & (x < 6))


RELU6, RELU6_GRAD = _activation(
    "Relu6", _relu6_forward, _relu6_grad_forward, "input",
    _act_samples((np.array([-1.0, 0.5, 5.5, 7.0]), {})),
    lambda: [Sample((randn(4, seed=1), np.array([-1.0, 0.5, 5.5, 7.0])))], dtypes=REAL)


def _leaky_relu_forward(x, alpha=0.2):
    return np.where(x > 0, x, x * np.asarray(alpha, x.dtype))


def _leaky_relu_grad_forward(g, x, alpha=0.2):
    return np.where(x > 0, g, g * np.asarray(alpha, g.dtype))


LEAKY_RELU, LEAKY_RELU_GRAD = _activation(
    "LeakyRelu", _leaky_relu_forward, _leaky_relu_grad_forward, "input",
    lambda: [Sample((randn(3),), {"alpha": 0.2}), Sample((randn(2, 3),), {"alpha": 0.01}),
             Sample((randn(2, 3),), {"alpha": 1.5})],
    _grad_samples(attrs={"alpha": 0.3}), dtypes=REAL)


def _select_where_negative(s, value):
    """``value`` where ``s < 0``, else 0 (an op, so it is differentiable in ``value``)."""
    negative = wrap(np.asarray(s._value < 0))
    return vocab.select(negative, value, vocab.zeros_like(value))


def _elu_forward(x):
    return np.where(x < 0, np.expm1(x), x)


def _elu_grad_forward(g, y):
    return np.where(y < 0, g * (y + 1), g)


ELU, ELU_GRAD = _activation(
    "Elu", _elu_forward, _elu_grad_forward, "output", _act_samples(),
    _grad_samples(_elu_forward),
    wrt_saved=lambda g, y, v: _select_where_negative(y, v * g), dtypes=FLOATS)

_SELU_SCALE = 1.0507009873554804934193349852946
_SELU_ALPHA = 1.6732632423543772848170429916717


def _selu_forward(x):
    dtype = x.dtype.type
    return np.where(x < 0, dtype(_SELU_SCALE * _SELU_ALPHA) * np.expm1(x),
                    dtype(_SELU_SCALE) * x)


def _selu_grad_forward(g, y):
    dtype = y.dtype.type
    return np.where(y < 0, g * (y + dtype(_SELU_SCALE * _SELU_ALPHA)), g * dtype(_SELU_SCALE))


SELU, SELU_GRAD = _activation(
    "Selu", _selu_forward, _selu_grad_forward, "output", _act_samples(),
    _grad_samples(_selu_forward),
    wrt_saved=lambda g, y, v: _select_where_negative(y, v * g), dtypes=FLOATS)


def relu(features, name=None) -> Tensor:
    """Rectified linear unit ``max(features, 0)``; the gradient at 0 is 0, as TensorFlow.

    >>> import tapegrad as tf
    >>> tf.nn.relu(tf.constant([-1.0, 0.0, 2.0])).numpy().tolist()
    [0.0, 0.0, 2.0]
    """
    return apply1(RELU, features)


def relu6(features, name=None) -> Tensor:
    """``min(max(features, 0), 6)``; the gradient at 0 and at 6 is 0, as TensorFlow.

    >>> import tapegrad as tf
    >>> tf.nn.relu6(tf.constant([-1.0, 3.0, 9.0])).numpy().tolist()
    [0.0, 3.0, 6.0]
    """
    return apply1(RELU6, features)


def leaky_relu(features, alpha: float = 0.2, name=None) -> Tensor:
    """``features`` where positive, else ``alpha * features`` (gradient ``alpha`` at 0).

    >>> import tapegrad as tf
    >>> tf.nn.leaky_relu(tf.constant([-1.0, 2.0])).numpy().tolist()
    [-0.20000000298023224, 2.0]
    """
    x = tensor_of(features)
    if x._value.dtype.kind == "b":
        raise InvalidArgumentError("leaky_relu: Value for attr 'T' of bool is not in the list "
                                   "of allowed values (numbers); cast it first.")
    if x._value.dtype.kind in "iu":
        x = vocab.cast(x, np.float32)
    return apply1(LEAKY_RELU, x, {"alpha": float(alpha)})


def elu(features, name=None) -> Tensor:
    """Exponential linear unit: ``features`` if >= 0 else ``exp(features) - 1``.

    >>> import tapegrad as tf
    >>> round(float(tf.nn.elu(tf.constant(-1.0))), 4)
    -0.6321
    """
    return apply1(ELU, features)


def selu(features, name=None) -> Tensor:
    """Scaled ELU with the self-normalising constants (scale 1.0507, alpha 1.6733).

    >>> import tapegrad as tf
    >>> round(float(tf.nn.selu(tf.constant(1.0))), 4)
    1.0507
    """
    return apply1(SELU, features)


# =============================================================================================
# Softmax, log-softmax and the cross-entropy losses
# =============================================================================================

def _is_short_rows(x) -> bool:
    """Many short rows (class scores): NumPy reduces those slowly along the last axis."""
    return x.ndim >= 2 and x.shape[-1] <= 32 and x.size >= 512


def _max_kept(x, axis: int = -1):
    """Max over ``axis``, kept (many short last-axis rows: over the columns of a transposed
    copy, several times faster)."""
    if axis in (-1, x.ndim - 1) and _is_short_rows(x):
        width = x.shape[-1]
        columns = np.ascontiguousarray(x.reshape(-1, width).T)
        return np.maximum.reduce(columns, axis=0).reshape(x.shape[:-1] + (1,))
    return np.maximum.reduce(x, axis=axis, keepdims=True)


def _sum_kept(x, axis: int = -1):
    """Sum over ``axis``, kept (many short last-axis float rows: a matrix-vector product)."""
    if axis in (-1, x.ndim - 1) and _is_short_rows(x) and x.dtype.kind == "f" and \
            x.dtype.itemsize >= 4:
        width = x.shape[-1]
        return (x.reshape(-1, width) @ ones((width,), x.dtype)).reshape(x.shape[:-1] + (1,))
    return np.add.reduce(x, axis=axis, keepdims=True)


def _softmax_forward(x, axis):
    if x.size == 0:
        return x.copy()
    e = np.exp(x - _max_kept(x, axis))
    e /= _sum_kept(e, axis)
    return e


def _log_softmax_forward(x, axis):
    if x.size == 0:
        return x.copy()
    shifted = x - _max_kept(x, axis)
    return shifted - np.log(_sum_kept(np.exp(shifted), axis))


def _sum_keep(x, axis):
    return reduce_sum(x, (axis,), keepdims=True)


def _softmax_vjp(inputs, output, attrs, upstream, needs):
    gy = upstream * output
    return (gy - _sum_keep(gy, attrs["axis"]) * output,)


def _softmax_jvp(inputs, output, attrs, tangents):
    return _softmax_vjp(inputs, output, attrs, tangents[0], (True,))[0]


def _log_softmax_vjp(inputs, output, attrs, upstream, needs):
    softmax_ = run(REGISTRY["Exp"], output)
    return (upstream - _sum_keep(upstream, attrs["axis"]) * softmax_,)


def _log_softmax_jvp(inputs, output, attrs, tangents):
    t = tangents[0]
    return t - _sum_keep(t * run(REGISTRY["Exp"], output), attrs["axis"])


def _softmax_samples():
    return [Sample((randn(3),), {"axis": 0}), Sample((randn(2, 3),), {"axis": 1}),
            Sample((randn(2, 3),), {"axis": 0}), Sample((randn(2, 1, 3),), {"axis": 1}),
            Sample((np.array([1.0, 1.0, 1.0]),), {"axis": 0}),
            Sample((np.zeros((0, 3)),), {"axis": 1})]


SOFTMAX = register("Softmax", _softmax_forward, _softmax_vjp, _softmax_jvp, _softmax_samples,
                   dtypes=FLOATS)
LOG_SOFTMAX = register("LogSoftmax", _log_softmax_forward, _log_softmax_vjp, _log_softmax_jvp,
                       _softmax_samples, dtypes=FLOATS)


def checked_axis(x, axis, what: str) -> int:
    """The class axis ``axis`` (None: the last) of ``x`` as a non-negative int."""
    ndim = x._value.ndim
    axis = -1 if axis is None else int(axis)
    if ndim == 0 or not -ndim <= axis < ndim:
        raise InvalidArgumentError(f"{what}: axis {axis} is out of range for a tensor of rank "
                                   f"{ndim}; use an axis in [-{ndim}, {ndim}).")
    return axis % ndim


def softmax(logits, axis: int | None = None, name=None) -> Tensor:
    """``exp(logits) / reduce_sum(exp(logits), axis)``, computed without overflow.

    >>> import tapegrad as tf
    >>> tf.nn.softmax(tf.constant([0.0, 0.0])).numpy().tolist()
    [0.5, 0.5]
    """
    x = floating_operand(logits, "softmax")
    return apply1(SOFTMAX, x, {"axis": checked_axis(x, axis, "softmax")})


def log_softmax(logits, axis: int | None = None, name=None) -> Tensor:
    """``logits - log(reduce_sum(exp(logits), axis))``, computed without overflow.

    >>> import tapegrad as tf
    >>> round(float(tf.nn.log_softmax(tf.constant([0.0, 0.0]))[0]), 5)
    -0.69315
    """
    x = floating_operand(logits, "log_softmax")
    return apply1(LOG_SOFTMAX, x, {"axis": checked_axis(x, axis, "log_softmax")})


def _expand_last(t):
    return reshape(t, t._value.shape + (1,))


def _softmax_parts(logits) -> tuple:
    """``(shifted, exp, total)`` over the last axis: softmax is ``exp / total`` and
    log_softmax ``shifted - log(total)``."""
    shifted = logits - _max_kept(logits)
    exp = np.exp(shifted)
    return shifted, exp, _sum_kept(exp)


def _xent_forward(logits, labels, saved=None):
    """The loss per row. ``saved`` (a one-item list, when given) receives the softmax's parts,
    which the reverse rule reuses as TensorFlow's op returns its backprop."""
    if logits.shape != labels.shape:
        raise InvalidArgumentError(
            f"logits and labels must be broadcastable: logits_size={list(logits.shape)} "
            f"labels_size={list(labels.shape)}; give labels the shape of logits.")
    if logits.size == 0:
        return np.zeros(logits.shape[:-1], logits.dtype)
    parts = _softmax_parts(logits)
    if saved is not None:
        saved[0] = parts
    shifted, _, total = parts
    return _sum_kept(labels * (np.log(total) - shifted))[..., 0]


def _softmax_and_log(logits, attrs) -> tuple:
    """softmax and log_softmax over the last axis: on arrays from the parts the forward saved
    (as TensorFlow's op returns its backprop), on tensors as recorded ops."""
    if type(logits) is np.ndarray:
        saved = attrs.get("saved") if attrs else None
        shifted, exp, total = saved[0] if saved is not None and saved[0] is not None else \
            _softmax_parts(logits)
        return exp / total, shifted - np.log(total)
    last = {"axis": logits._value.ndim - 1}
    return apply1(SOFTMAX, logits, last), apply1(LOG_SOFTMAX, logits, last)


def _xent_vjp(inputs, output, attrs, upstream, needs):
    # TensorFlow's rule: logits get softmax - labels, labels get -log_softmax (both scaled).
    logits, labels = inputs
    g = reshape(upstream, shape_of(upstream) + (1,))
    probabilities, log_probabilities = _softmax_and_log(logits, attrs)
    return (g * (probabilities - labels) if needs[0] else None,
            g * -log_probabilities if needs[1] else None)


def _xent_jvp(inputs, output, attrs, tangents):
    logits, labels = inputs
    t_logits, t_labels = tangents
    probabilities, log_probabilities = _softmax_and_log(logits, attrs)
    last = (len(shape_of(logits)) - 1,)
    return sum_tangents(
        None if t_logits is None else reduce_sum(t_logits * (probabilities - labels), last),
        None if t_labels is None else -reduce_sum(t_labels * log_probabilities, last))


def _distribution(*shape, seed=0):
    weights = randn(*shape, seed=seed, low=0.2)
    return weights / weights.sum(axis=-1, keepdims=True)


SOFTMAX_XENT = register(
    "SoftmaxCrossEntropyWithLogits", _xent_forward, _xent_vjp, _xent_jvp,
    lambda: [Sample((randn(2, 3), _distribution(2, 3, seed=1))),
             Sample((randn(4), _distribution(4, seed=1))),
             Sample((randn(2, 2, 3), np.eye(3)[[[0, 2], [1, 1]]])),
             Sample((np.array([[1.0, 1.0, 3.0]]), np.array([[0.5, 0.5, 0.0]]))),
             Sample((np.zeros((0, 3)), np.zeros((0, 3))))],
    array_rules=True)


def _sparse_xent_forward(logits, labels):
    classes = logits.shape[-1] if logits.ndim else 0
    if labels.size and (labels.min() < 0 or labels.max() >= classes):
        bad = labels[(labels < 0) | (labels >= classes)].ravel()[0]
        raise InvalidArgumentError(
            f"Received a label value of {bad} which is outside the valid range of "
            f"[0, {classes}).  Label values: {' '.join(str(v) for v in labels.ravel())}")
    if logits.size == 0:
        return np.zeros(logits.shape[:-1], logits.dtype)
    shifted = logits - np.max(logits, axis=-1, keepdims=True)
    log_sum = np.log(np.sum(np.exp(shifted), axis=-1))
    picked = np.take_along_axis(shifted, labels[..., None].astype(np.intp), axis=-1)[..., 0]
    return log_sum - picked


def _one_hot_like(logits, labels):
    """One-hot rows of ``labels`` in ``logits``' dtype, from ops (a compiled program
    replays it for new labels)."""
    classes = logits._value.shape[-1]
    hot = run(REGISTRY["Equal"], _expand_last(labels),
              wrap(np.arange(classes, dtype=labels._value.dtype)))
    return vocab.cast(hot, logits._value.dtype)


def _sparse_xent_vjp(inputs, output, attrs, upstream, needs):
    logits, labels = inputs
    last = logits._value.ndim - 1
    diff = apply1(SOFTMAX, logits, {"axis": last}) - _one_hot_like(logits, labels)
    return _expand_last(upstream) * diff, None


def _sparse_xent_jvp(inputs, output, attrs, tangents):
    logits, labels = inputs
    last = logits._value.ndim - 1
    diff = apply1(SOFTMAX, logits, {"axis": last}) - _one_hot_like(logits, labels)
    return reduce_sum(tangents[0] * diff, (last,))


SPARSE_SOFTMAX_XENT = register(
    "SparseSoftmaxCrossEntropyWithLogits", _sparse_xent_forward, _sparse_xent_vjp,
    _sparse_xent_jvp,
    lambda: [Sample((randn(2, 3), np.array([2, 0]))), Sample((randn(4), np.array(1))),
             Sample((randn(2, 2, 3), np.array([[0, 2], [1, 1]]))),
             Sample((np.array([[2.0, 2.0, 1.0]]), np.array([1]))),
             Sample((np.zeros((0, 3)), np.zeros((0,), np.int32)))])


def sparse_softmax_cross_entropy_with_logits(labels, logits, name=None) -> Tensor:
    """Cross-entropy with integer class ``labels`` (shape ``logits.shape[:-1]``).

    >>> import tapegrad as tf
    >>> loss = tf.nn.sparse_softmax_cross_entropy_with_logits([1], [[0.0, 0.0]])
    >>> round(float(loss[0]), 5)
    0.69315
    """
    if labels is None or logits is None:
        raise ValueError("sparse_softmax_cross_entropy_with_logits needs both labels= and "
                         "logits=.")
    logits = floating_operand(logits, "sparse_softmax_cross_entropy_with_logits")
    labels = tensor_of(labels)
    if labels._value.dtype.kind not in "iu":
        raise TypeError(f"sparse_softmax_cross_entropy_with_logits: labels must be int32 or "
                        f"int64, got {labels.dtype.name}; use "
                        "softmax_cross_entropy_with_logits for probability labels.")
    if labels._value.ndim != logits._value.ndim - 1:
        raise ValueError(
            f"Rank mismatch: Rank of labels (received {labels._value.ndim}) should equal rank "
            f"of logits minus 1 (received {logits._value.ndim}).")
    if labels._value.shape != logits._value.shape[:-1]:
        raise ValueError(
            f"Shape mismatch: The shape of labels (received {list(labels.shape)}) should "
            f"equal the shape of logits except for the last dimension (received "
            f"{list(logits.shape)}).")
    return apply(SPARSE_SOFTMAX_XENT, (logits, labels))


# =============================================================================================
# bias_add
# =============================================================================================

def _bias_add_grad_forward(g):
    rows = g.reshape(-1, g.shape[-1])
    if rows.shape[0] >= 64 and g.dtype.kind == "f" and g.dtype.itemsize >= 4:
        # a matrix-vector product sums the rows several times faster than np.sum over axis 0
        return np.ones(rows.shape[0], g.dtype) @ rows
    return rows.sum(axis=0)


def _bias_add_vjp(inputs, output, attrs, upstream, needs):
    return (upstream if needs[0] else None,
            apply1(BIAS_ADD_GRAD, upstream) if needs[1] else None)


def _bias_add_jvp(inputs, output, attrs, tangents):
    tv, tb = tangents
    if tb is None:
        return tv
    if tv is None:
        return vocab.broadcast_to(tb, output._value.shape)
    return apply(BIAS_ADD, (tv, tb))


BIAS_ADD = register("BiasAdd", np.add, _bias_add_vjp, _bias_add_jvp,
                    lambda: [Sample((randn(2, 3), randn(3, seed=1))),
                             Sample((randn(70, 2, 3), randn(3, seed=1))),
                             Sample((randn(0, 2), randn(2, seed=1)))])
BIAS_ADD_GRAD = register(
    "BiasAddGrad", _bias_add_grad_forward,
    lambda inputs, output, attrs, upstream, needs: (
        vocab.broadcast_to(upstream, shape_of(inputs[0])),),
    lambda inputs, output, attrs, tangents: apply1(BIAS_ADD_GRAD, tangents[0]),
    lambda: [Sample((randn(2, 3),)), Sample((randn(70, 2, 3),)), Sample((randn(0, 2),))])


def bias_add(value, bias, data_format: str | None = None, name=None) -> Tensor:
    """``value + bias`` with a 1-D ``bias`` over the channel axis (last, or 1 for NC...).

    >>> import tapegrad as tf
    >>> tf.nn.bias_add(tf.zeros([2, 3]), tf.constant([1.0, 2.0, 3.0])).numpy()[0].tolist()
    [1.0, 2.0, 3.0]
    """
    value = tensor_of(value)
    bias = tensor_of(bias) if isinstance(bias, Tensor) or hasattr(bias, "_read_for_op") else \
        convert_to_tensor(bias, dtype=value.dtype)
    if bias._value.ndim != 1:
        raise ValueError(f"bias_add: bias must be 1-D, got shape {list(bias.shape)}.")
    ndim = value._value.ndim
    if ndim < 2:
        raise InvalidArgumentError(f"bias_add: value must have rank >= 2, got shape "
                                   f"{list(value.shape)}.")
    channels_first = data_format is not None and data_format.startswith("NC")
    axis = 1 if channels_first else ndim - 1
    if value._value.shape[axis] != bias._value.shape[0]:
        raise InvalidArgumentError(
            f"Must provide as many biases as the channel dimension of the input tensor: "
            f"{list(bias.shape)} vs. {list(value.shape)}.")
    if channels_first:
        return value + reshape(bias, shape_of(bias) + (1,) * (ndim - 2))
    return apply(BIAS_ADD, (value, bias), same_dtype=True)


# =============================================================================================
# Convolutions: one trilinear family per kind (forward, backprop input, backprop filter)
# =============================================================================================

def _out_size(in_sizes, kernel, strides, dilations, pads) -> tuple:
    out = []
    for n, k, s, d, (before, after) in zip(in_sizes, kernel, strides, dilations, pads):
        effective = (k - 1) * d + 1
        size = (n + before + after - effective) // s + 1
        if n + before + after < effective:
            raise InvalidArgumentError(
                f"Computed output size would be negative: {size} [input_size: {n}, "
                f"effective_filter_size: {effective}, stride: {s}]; use padding='SAME' or a "
                "smaller filter.")
        out.append(size)
    return tuple(out)


def _pad(x, pads, value=0):
    (top, bottom), (left, right) = pads
    if not (top or bottom or left or right):
        return x
    n, h, w, c = x.shape
    out = np.full((n, h + top + bottom, w + left + right, c), value, dtype=x.dtype)
    out[:, top:top + h, left:left + w, :] = x
    return out


def _windows(xp, kernel, strides, dilations, out):
    """Read-only view (N, Ho, Wo, kh, kw, C) of every kernel window of the padded input."""
    s0, s1, s2, s3 = xp.strides
    return _as_strided(xp, (xp.shape[0], out[0], out[1], kernel[0], kernel[1], xp.shape[3]),
                       (s0, s1 * strides[0], s2 * strides[1], s1 * dilations[0],
                        s2 * dilations[1], s3), writeable=False)


def _tap(array, i, j, strides, dilations, out):
    """The slice of the padded ``array`` that kernel tap (i, j) sees over all windows."""
    r, c = i * dilations[0], j * dilations[1]
    return array[:, r:r + strides[0] * (out[0] - 1) + 1:strides[0],
                 c:c + strides[1] * (out[1] - 1) + 1:strides[1], :]


def _padded_zeros(shape, pads, dtype):
    (top, bottom), (left, right) = pads
    n, h, w, c = shape
    return np.zeros((n, h + top + bottom, w + left + right, c), dtype=dtype)


def _crop(xp, shape, pads):
    (top, _), (left, _) = pads
    if xp.shape == tuple(shape):
        return xp
    return np.ascontiguousarray(xp[:, top:top + shape[1], left:left + shape[2], :])


def _check_channels(x, w, depth_axis=2):
    if x.ndim != 4 or w.ndim != 4:
        raise InvalidArgumentError(f"convolution needs a 4-D input and a 4-D filter, got shapes "
                                   f"{list(x.shape)} and {list(w.shape)}.")
    if x.shape[3] != w.shape[depth_axis]:
        raise InvalidArgumentError(
            f"input depth must be evenly divisible by filter depth: {x.shape[3]} vs "
            f"{w.shape[depth_axis]} (input shape {list(x.shape)}, filter shape "
            f"{list(w.shape)}).")


def _im2col(xp, kernel, strides, dilations, out):
    """The (N*Ho*Wo, kh*kw*C) matrix of windows (columns in (i, j, c) order)."""
    kh, kw = kernel
    n, c = xp.shape[0], xp.shape[3]
    if c <= 2:
        # few channels: copy tap by tap into the transposed layout (contiguous rows), and
        # return its transpose (a view that matmul takes as is)
        cols_t = np.empty((kh, kw, c, n, out[0], out[1]), dtype=xp.dtype)
        for i in range(kh):
            for j in range(kw):
                cols_t[i, j] = _tap(xp, i, j, strides, dilations, out).transpose(3, 0, 1, 2)
        return cols_t.reshape(kh * kw * c, -1).T
    return _windows(xp, kernel, strides, dilations, out).reshape(-1, kh * kw * c)


def _conv_forward(x, w, strides, dilations, pads):
    _check_channels(x, w)
    kh, kw, c, o = w.shape
    out = _out_size(x.shape[1:3], (kh, kw), strides, dilations, pads)
    cols = _im2col(_pad(x, pads), (kh, kw), strides, dilations, out)
    return (cols @ w.reshape(kh * kw * c, o)).reshape(x.shape[0], out[0], out[1], o)


def _conv_input_forward(g, w, strides, dilations, pads, input_shape):
    kh, kw, c, o = w.shape
    n, ho, wo, _ = g.shape
    cols = (g.reshape(-1, o) @ w.reshape(kh * kw * c, o).T).reshape(n, ho, wo, kh, kw, c)
    dxp = _padded_zeros(input_shape, pads, g.dtype)
    for i in range(kh):
        for j in range(kw):
            _tap(dxp, i, j, strides, dilations, (ho, wo))[...] += cols[:, :, :, i, j, :]
    return _crop(dxp, input_shape, pads)


def _conv_filter_forward(x, g, strides, dilations, pads, filter_shape):
    kh, kw, c, o = filter_shape
    cols = _im2col(_pad(x, pads), (kh, kw), strides, dilations, g.shape[1:3])
    return (cols.T @ g.reshape(-1, o)).reshape(filter_shape)


def _depthwise_forward(x, w, strides, dilations, pads):
    _check_channels(x, w)
    kh, kw, c, m = w.shape
    out = _out_size(x.shape[1:3], (kh, kw), strides, dilations, pads)
    xp = _pad(x, pads)
    y = np.zeros((x.shape[0], out[0], out[1], c, m), dtype=np.result_type(x, w))
    for i in range(kh):
        for j in range(kw):
            y += _tap(xp, i, j, strides, dilations, out)[..., None] * w[i, j]
    return y.reshape(x.shape[0], out[0], out[1], c * m)


def _depthwise_input_forward(g, w, strides, dilations, pads, input_shape):
    kh, kw, c, m = w.shape
    n, ho, wo, _ = g.shape
    g5 = g.reshape(n, ho, wo, c, m)
    dxp = _padded_zeros(input_shape, pads, g.dtype)
    for i in range(kh):
        for j in range(kw):
            _tap(dxp, i, j, strides, dilations, (ho, wo))[...] += np.einsum(
                "nhwcm,cm->nhwc", g5, w[i, j])
    return _crop(dxp, input_shape, pads)


def _depthwise_filter_forward(x, g, strides, dilations, pads, filter_shape):
    kh, kw, c, m = filter_shape
    n, ho, wo, _ = g.shape
    g5 = g.reshape(n, ho, wo, c, m)
    xp = _pad(x, pads)
    dw = np.empty(filter_shape, dtype=g.dtype)
    for i in range(kh):
        for j in range(kw):
            dw[i, j] = np.einsum("nhwc,nhwcm->cm", _tap(xp, i, j, strides, dilations, (ho, wo)),
                                 g5)
    return dw


_CONV_KEYS = ("strides", "dilations", "pads")


def _base(attrs) -> dict:
    return {key: attrs[key] for key in _CONV_KEYS}


def _conv_family(name: str, forward, input_forward, filter_forward, samples, input_samples,
                 filter_samples):
    """Register the forward op and its two backprop ops; <conv(x, w), g> is trilinear, so each
    op's rules are the other two ops."""

    def conv(x, w, attrs):
        return apply(CONV, (x, w), _base(attrs))

    def backprop_input(g, w, attrs, input_shape):
        return apply(INPUT, (g, w), {**_base(attrs), "input_shape": tuple(input_shape)})

    def backprop_filter(x, g, attrs, filter_shape):
        return apply(FILTER, (x, g), {**_base(attrs), "filter_shape": tuple(filter_shape)})

    def conv_vjp(inputs, output, attrs, upstream, needs):
        x, w = inputs
        return (backprop_input(upstream, w, attrs, shape_of(x)) if needs[0] else None,
                backprop_filter(x, upstream, attrs, shape_of(w)) if needs[1] else None)

    def conv_jvp(inputs, output, attrs, tangents):
        (x, w), (tx, tw) = inputs, tangents
        return sum_tangents(None if tx is None else conv(tx, w, attrs),
                            None if tw is None else conv(x, tw, attrs))

    def input_vjp(inputs, output, attrs, upstream, needs):
        g, w = inputs
        return (conv(upstream, w, attrs) if needs[0] else None,
                backprop_filter(upstream, g, attrs, shape_of(w)) if needs[1] else None)

    def input_jvp(inputs, output, attrs, tangents):
        (g, w), (tg, tw) = inputs, tangents
        shape = attrs["input_shape"]
        return sum_tangents(None if tg is None else backprop_input(tg, w, attrs, shape),
                            None if tw is None else backprop_input(g, tw, attrs, shape))

    def filter_vjp(inputs, output, attrs, upstream, needs):
        x, g = inputs
        return (backprop_input(g, upstream, attrs, shape_of(x)) if needs[0] else None,
                conv(x, upstream, attrs) if needs[1] else None)

    def filter_jvp(inputs, output, attrs, tangents):
        (x, g), (tx, tg) = inputs, tangents
        shape = attrs["filter_shape"]
        return sum_tangents(None if tx is None else backprop_filter(tx, g, attrs, shape),
                            None if tg is None else backprop_filter(x, tg, attrs, shape))

    CONV = register(name, forward, conv_vjp, conv_jvp, samples)
    INPUT = register(name + "BackpropInput", input_forward, input_vjp, input_jvp, input_samples)
    FILTER = register(name + "BackpropFilter", filter_forward, filter_vjp, filter_jvp,
                      filter_samples)
    return CONV, INPUT, FILTER


def _conv_attrs(strides=(1, 1), dilations=(1, 1), pads=((0, 0), (0, 0))) -> dict:
    return {"strides": tuple(strides), "dilations": tuple(dilations),
            "pads": tuple(tuple(p) for p in pads)}


# (input shape, filter shape, attrs): VALID, SAME with stride, dilation, uneven stride with an
# untouched border, a 1x1 filter, an empty batch
_CONV_CASES = [
    ((1, 4, 4, 2), (2, 2, 2, 3), _conv_attrs()),
    ((2, 5, 4, 1), (3, 3, 1, 2), _conv_attrs((2, 2), pads=((1, 1), (1, 1)))),
    ((1, 5, 5, 2), (2, 2, 2, 1), _conv_attrs(dilations=(2, 2), pads=((1, 1), (1, 1)))),
    ((1, 6, 5, 1), (3, 2, 1, 2), _conv_attrs((3, 2))),
    ((2, 3, 3, 3), (1, 1, 3, 2), _conv_attrs()),
    ((0, 3, 3, 1), (2, 2, 1, 2), _conv_attrs()),
]


def _conv_samples(kind: str, out_channels):
    """Samples of the forward (``kind`` 'conv'), backprop-input or backprop-filter op."""
    def make():
        samples = []
        for index, (x_shape, w_shape, attrs) in enumerate(_CONV_CASES):
            x = randn(*x_shape, seed=index)
            w = randn(*w_shape, seed=index + 10)
            out = _out_size(x_shape[1:3], w_shape[:2], attrs["strides"], attrs["dilations"],
                            attrs["pads"])
            g = randn(x_shape[0], out[0], out[1], out_channels(w_shape), seed=index + 20)
            if kind == "conv":
                samples.append(Sample((x, w), dict(attrs)))
            elif kind == "input":
                samples.append(Sample((g, w), {**attrs, "input_shape": x_shape}))
            else:
                samples.append(Sample((x, g), {**attrs, "filter_shape": w_shape}))
        return samples
    return make


def _conv_out(w_shape):
    return w_shape[3]


def _depthwise_out(w_shape):
    return w_shape[2] * w_shape[3]


CONV2D, CONV2D_INPUT, CONV2D_FILTER = _conv_family(
    "Conv2D", _conv_forward, _conv_input_forward, _conv_filter_forward,
    _conv_samples("conv", _conv_out), _conv_samples("input", _conv_out),
    _conv_samples("filter", _conv_out))
DEPTHWISE, DEPTHWISE_INPUT, DEPTHWISE_FILTER = _conv_family(
    "DepthwiseConv2dNative", _depthwise_forward, _depthwise_input_forward,
    _depthwise_filter_forward, _conv_samples("conv", _depthwise_out),
    _conv_samples("input", _depthwise_out), _conv_samples("filter", _depthwise_out))


def spatial_ints(value, n: int, what: str, default=1) -> tuple:
    """``strides`` / ``dilations`` / ``ksize`` as ``n`` spatial ints (TF's 1, n or n+2 forms)."""
    if value is None:
        return (default,) * n
    if isinstance(value, Tensor):
        value = value._value.tolist()
    if isinstance(value, (int, np.integer)):
        return (int(value),) * n
    value = [int(v) for v in value]
    if len(value) == 1:
        return (value[0],) * n
    if len(value) == n:
        return tuple(value)
    if len(value) == n + 2:
        if value[0] != 1 or value[-1] != 1:
            raise InvalidArgumentError(f"{what} in the batch and depth dimensions must be 1, "
                                       f"got {value}.")
        return tuple(value[1:-1])
    raise ValueError(f"{what} should be of length 1, {n} or {n + 2}, got {value}.")


def _pads(padding, in_sizes, kernel, strides, dilations, what: str) -> tuple:
    """Explicit ((before, after), ...) padding per spatial axis for TF's padding argument."""
    if isinstance(padding, str):
        mode = padding.upper()
        if mode == "VALID":
            return ((0, 0),) * len(in_sizes)
        if mode == "SAME":
            pads = []
            for n, k, s, d in zip(in_sizes, kernel, strides, dilations):
                out = -(-n // s)
                total = max((out - 1) * s + (k - 1) * d + 1 - n, 0)
                pads.append((total // 2, total - total // 2))
            return tuple(pads)
        raise ValueError(f"{what}: padding must be 'SAME', 'VALID' or a list of explicit "
                         f"paddings, got {padding!r}.")
    pairs = [tuple(int(v) for v in pair) for pair in padding]
    if len(pairs) == len(in_sizes) + 2:
        if pairs[0] != (0, 0) or pairs[-1] != (0, 0):
            raise ValueError(f"{what}: explicit padding of the batch and depth dimensions must "
                             f"be 0, got {padding!r}.")
        pairs = pairs[1:-1]
    if len(pairs) != len(in_sizes) or any(len(p) != 2 or min(p) < 0 for p in pairs):
        raise ValueError(f"{what}: explicit padding needs one non-negative (before, after) pair "
                         f"per dimension, got {padding!r}.")
    return tuple(pairs)


def _nhwc(x, data_format, what: str):
    if data_format is None or data_format in ("NHWC", "NWC", "NDHWC"):
        return x, False
    if data_format in ("NCHW", "NCW"):
        perm = [0] + list(range(2, x._value.ndim)) + [1]
        return run(REGISTRY["Transpose"], x, perm=tuple(perm)), True
    raise ValueError(f"{what}: data_format must be 'NHWC' or 'NCHW', got {data_format!r}.")


def _back_to_nchw(y, channels_first: bool):
    if not channels_first:
        return y
    ndim = y._value.ndim
    return run(REGISTRY["Transpose"], y, perm=(0, ndim - 1, *range(1, ndim - 1)))


def conv_operands(input, filters, what: str, rank: int = 4):  # noqa: A002 - TF's name
    """``(input, filters)`` of a convolution as float tensors of one dtype and of ``rank``
    (errors name the function ``what``)."""
    x = floating_operand(input, what)
    if not isinstance(filters, Tensor) and not hasattr(filters, "_read_for_op"):
        filters = convert_to_tensor(filters, dtype=x.dtype)
    w = tensor_of(filters)
    if x._value.ndim != rank or w._value.ndim != rank:
        raise ValueError(f"{what} expects a {rank}-D input and a {rank}-D filter, got shapes "
                         f"{list(x.shape)} and {list(w.shape)}.")
    if w._value.dtype != x._value.dtype:
        raise InvalidArgumentError(f"{what}: input is {x.dtype.name} but the filter is "
                                   f"{w.dtype.name}; cast one with tapegrad.cast.")
    return x, w


def conv2d(input, filters, strides, padding, data_format: str = "NHWC",  # noqa: A002
           dilations=None, name=None) -> Tensor:
    """2-D convolution of an NHWC ``input`` with ``filters`` of shape [h, w, in, out].

    ``padding`` is 'SAME', 'VALID' or explicit [[0, 0], [top, bottom], [left, right], [0, 0]].

    >>> import tapegrad as tf
    >>> tf.nn.conv2d(tf.ones([1, 4, 4, 1]), tf.ones([3, 3, 1, 2]), 1, "SAME").shape.as_list()
    [1, 4, 4, 2]
    """
    x, w = conv_operands(input, filters, "conv2d")
    x, channels_first = _nhwc(x, data_format, "conv2d")
    if channels_first and not isinstance(padding, str):
        padding = [padding[0], padding[2], padding[3], padding[1]]
    strides = spatial_ints(strides, 2, "strides")
    dilations = spatial_ints(dilations, 2, "dilations")
    kernel = shape_of(w)[:2]
    pads = _pads(padding, shape_of(x)[1:3], kernel, strides, dilations, "conv2d")
    _check_channels(x._value, w._value)
    y = apply(CONV2D, (x, w), {"strides": strides, "dilations": dilations, "pads": pads})
    return _back_to_nchw(y, channels_first)


def conv2d_transpose(input, filters, output_shape, strides, padding: str = "SAME",  # noqa: A002
                     data_format: str = "NHWC", dilations=None, name=None) -> Tensor:
    """The transpose (gradient) of ``conv2d``: ``filters`` has shape [h, w, out, in].

    >>> import tapegrad as tf
    >>> y = tf.nn.conv2d_transpose(tf.ones([1, 2, 2, 1]), tf.ones([3, 3, 1, 1]),
    ...                            [1, 4, 4, 1], 2, "SAME")
    >>> y.shape.as_list()
    [1, 4, 4, 1]
    """
    g, w = conv_operands(input, filters, "conv2d_transpose")
    g, channels_first = _nhwc(g, data_format, "conv2d_transpose")
    shape = [int(d) for d in (output_shape._value.tolist() if isinstance(output_shape, Tensor)
                              else output_shape)]
    if len(shape) != 4:
        raise ValueError(f"conv2d_transpose: output_shape must have 4 entries, got {shape}.")
    if channels_first:
        shape = [shape[0], shape[2], shape[3], shape[1]]
        if not isinstance(padding, str):
            padding = [padding[0], padding[2], padding[3], padding[1]]
    strides = spatial_ints(strides, 2, "strides")
    dilations = spatial_ints(dilations, 2, "dilations")
    kernel = shape_of(w)[:2]
    if shape[3] != shape_of(w)[2] or shape_of(g)[3] != shape_of(w)[3]:
        raise InvalidArgumentError(
            f"conv2d_transpose: filters {list(shape_of(w))} must be [h, w, output channels "
            f"({shape[3]}), input channels ({shape_of(g)[3]})].")
    pads = _pads(padding, shape[1:3], kernel, strides, dilations, "conv2d_transpose")
    expected = _out_size(shape[1:3], kernel, strides, dilations, pads)
    if tuple(shape_of(g)[1:3]) != expected or shape[0] != shape_of(g)[0]:
        raise InvalidArgumentError(
            f"conv2d_transpose: input shape {list(shape_of(g))} does not match output_shape "
            f"{shape} (a conv2d of output_shape would give spatial size {list(expected)}).")
    y = apply(CONV2D_INPUT, (g, w), {"strides": strides, "dilations": dilations, "pads": pads,
                                     "input_shape": tuple(shape)})
    return _back_to_nchw(y, channels_first)


def depthwise_conv2d(input, filter, strides, padding, data_format=None,  # noqa: A002
                     dilations=None, name=None) -> Tensor:
    """Depthwise 2-D convolution: ``filter`` [h, w, in, multiplier] gives in*multiplier
    output channels, channel c*multiplier+m from input channel c.

    >>> import tapegrad as tf
    >>> y = tf.nn.depthwise_conv2d(tf.ones([1, 3, 3, 2]), tf.ones([2, 2, 2, 3]),
    ...                            [1, 1, 1, 1], "VALID")
    >>> y.shape.as_list()
    [1, 2, 2, 6]
    """
    x, w = conv_operands(input, filter, "depthwise_conv2d")
    x, channels_first = _nhwc(x, data_format, "depthwise_conv2d")
    strides = spatial_ints(strides, 2, "strides")
    dilations = spatial_ints(dilations, 2, "dilations")
    kernel = shape_of(w)[:2]
    pads = _pads(padding, shape_of(x)[1:3], kernel, strides, dilations, "depthwise_conv2d")
    _check_channels(x._value, w._value)
    y = apply(DEPTHWISE, (x, w), {"strides": strides, "dilations": dilations, "pads": pads})
    return _back_to_nchw(y, channels_first)


# =============================================================================================
# Pooling
# =============================================================================================

def _pool_out(x_shape, ksize, strides, pads):
    return _out_size(x_shape[1:3], ksize, strides, (1, 1), pads)


def _lowest(dtype):
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min


def _max_pool_forward(x, ksize, strides, pads):
    out = _pool_out(x.shape, ksize, strides, pads)
    xp = _pad(x, pads, _lowest(x.dtype))
    result = None
    for i in range(ksize[0]):
        for j in range(ksize[1]):
            tap = _tap(xp, i, j, strides, (1, 1), out)
            result = tap.copy() if result is None else np.maximum(result, tap, out=result)
    return result


def _first_hits(x, y, ksize, strides, pads):
    """Per kernel tap, in row-major order: (tap of the padded ``x``, mask of the windows whose
    first maximal element is at that tap). ``y`` is the pooled maximum of ``x``."""
    xp = _pad(x, pads, _lowest(x.dtype))
    out = y.shape[1:3]
    remaining = None
    for t in range(ksize[0] * ksize[1]):
        i, j = divmod(t, ksize[1])
        hit = _tap(xp, i, j, strides, (1, 1), out) == y
        if remaining is None:
            remaining = ~hit
        else:
            hit &= remaining
            remaining ^= hit
        yield i, j, hit


def _overlap_free(ksize, strides) -> bool:
    return strides[0] >= ksize[0] and strides[1] >= ksize[1]


def _max_pool_grad_forward(x, y, g, ksize, strides, pads):
    out = y.shape[1:3]
    dxp = _padded_zeros(x.shape, pads, g.dtype)
    free = _overlap_free(ksize, strides)
    for i, j, hit in _first_hits(x, y, ksize, strides, pads):
        target = _tap(dxp, i, j, strides, (1, 1), out)
        if free:  # every element is in at most one window: write, do not accumulate
            np.multiply(g, hit, out=target)
        else:
            target += g * hit
    return _crop(dxp, x.shape, pads)


def _max_pool_grad_grad_forward(x, y, u, ksize, strides, pads):
    up = _pad(u, pads)
    out = y.shape[1:3]
    result = np.zeros(y.shape, u.dtype)
    for i, j, hit in _first_hits(x, y, ksize, strides, pads):
        result += _tap(up, i, j, strides, (1, 1), out) * hit
    return result


def _pool_attrs(ksize, strides, pads=((0, 0), (0, 0))) -> dict:
    return {"ksize": tuple(ksize), "strides": tuple(strides),
            "pads": tuple(tuple(p) for p in pads)}


# (input shape, attrs): non-overlapping windows, overlapping SAME windows, a ragged border,
# an empty batch
_POOL_CASES = [
    ((1, 4, 4, 2), _pool_attrs((2, 2), (2, 2))),
    ((2, 3, 4, 1), _pool_attrs((3, 3), (2, 2), ((1, 1), (1, 1)))),
    ((1, 5, 4, 2), _pool_attrs((2, 3), (2, 1))),
    ((0, 2, 2, 1), _pool_attrs((2, 2), (2, 2))),
]


def _pool_samples(kind: str):
    def make():
        samples = []
        for index, (x_shape, attrs) in enumerate(_POOL_CASES):
            x = randn(*x_shape, seed=index)
            out = _pool_out(x_shape, attrs["ksize"], attrs["strides"], attrs["pads"])
            g = randn(x_shape[0], out[0], out[1], x_shape[3], seed=index + 20)
            if kind == "pool":
                samples.append(Sample((x,), dict(attrs)))
            elif kind == "max_grad":
                y = _max_pool_forward(x, **attrs)
                samples.append(Sample((x, y, g), dict(attrs), wrt=(2,)))
            elif kind == "max_grad_grad":
                y = _max_pool_forward(x, **attrs)
                samples.append(Sample((x, y, randn(*x_shape, seed=index + 30)), dict(attrs),
                                      wrt=(2,)))
            else:
                samples.append(Sample((g,), {**attrs, "input_shape": x_shape}))
        # Ties (the first maximum in row-major order gets the gradient, as TensorFlow) cannot
        # be checked by central differences; tests/test_nn.py checks them.
        return samples
    return make


def _max_pool_vjp(inputs, output, attrs, upstream, needs):
    return (apply(MAX_POOL_GRAD, (inputs[0], output, upstream), attrs),)


def _max_pool_jvp(inputs, output, attrs, tangents):
    return apply(MAX_POOL_GRAD_GRAD, (inputs[0], output, tangents[0]), attrs)


def _routing_vjp(other):
    """Reverse rule of MaxPoolGrad / MaxPoolGradGrad (inputs x, y, g): linear in g, with the
    other op as adjoint; the routing is locally constant in x and y (zeros, as TensorFlow)."""
    def vjp(inputs, output, attrs, upstream, needs):
        x, y, _ = inputs
        return (vocab.zeros_like(x) if needs[0] else None,
                vocab.zeros_like(y) if needs[1] else None,
                apply(other(), (x, y, upstream), attrs) if needs[2] else None)
    return vjp


def _routing_jvp(same):
    def jvp(inputs, output, attrs, tangents):
        if tangents[2] is None:
            return vocab.zeros_like(output)
        return apply(same(), (inputs[0], inputs[1], tangents[2]), attrs)
    return jvp


MAX_POOL = register("MaxPool", _max_pool_forward, _max_pool_vjp, _max_pool_jvp,
                    _pool_samples("pool"))
MAX_POOL_GRAD = register("MaxPoolGrad", _max_pool_grad_forward,
                         _routing_vjp(lambda: MAX_POOL_GRAD_GRAD),
                         _routing_jvp(lambda: MAX_POOL_GRAD), _pool_samples("max_grad"))
MAX_POOL_GRAD_GRAD = register("MaxPoolGradGrad", _max_pool_grad_grad_forward,
                              _routing_vjp(lambda: MAX_POOL_GRAD),
                              _routing_jvp(lambda: MAX_POOL_GRAD_GRAD),
                              _pool_samples("max_grad_grad"))


def _window_counts(in_sizes, ksize, strides, pads, out):
    """Number of real (unpadded) elements in each window, shape (Ho, Wo, 1)."""
    counts = []
    for n, k, s, (before, _), o in zip(in_sizes, ksize, strides, pads, out):
        start = np.arange(o) * s - before
        counts.append(np.minimum(start + k, n) - np.maximum(start, 0))
    return (counts[0][:, None] * counts[1][None, :])[:, :, None]


def _avg_pool_forward(x, ksize, strides, pads):
    out = _pool_out(x.shape, ksize, strides, pads)
    xp = _pad(x, pads)
    total = np.zeros((x.shape[0], out[0], out[1], x.shape[3]), x.dtype)
    for i in range(ksize[0]):
        for j in range(ksize[1]):
            total += _tap(xp, i, j, strides, (1, 1), out)
    if any(p for pair in pads for p in pair):
        return total / _window_counts(x.shape[1:3], ksize, strides, pads, out).astype(x.dtype)
    return total / x.dtype.type(ksize[0] * ksize[1])


def _avg_pool_grad_forward(g, ksize, strides, pads, input_shape):
    out = g.shape[1:3]
    if any(p for pair in pads for p in pair):
        share = g / _window_counts(input_shape[1:3], ksize, strides, pads, out).astype(g.dtype)
    else:
        share = g / g.dtype.type(ksize[0] * ksize[1])
    dxp = _padded_zeros(input_shape, pads, g.dtype)
    for i in range(ksize[0]):
        for j in range(ksize[1]):
            _tap(dxp, i, j, strides, (1, 1), out)[...] += share
    return _crop(dxp, input_shape, pads)


def _pool_keys(attrs) -> dict:
    return {key: attrs[key] for key in ("ksize", "strides", "pads")}


AVG_POOL = register(
    "AvgPool", _avg_pool_forward,
    lambda inputs, output, attrs, upstream, needs: (
        apply1(AVG_POOL_GRAD, upstream, {**attrs, "input_shape": shape_of(inputs[0])}),),
    lambda inputs, output, attrs, tangents: apply1(AVG_POOL, tangents[0], attrs),
    _pool_samples("pool"))
AVG_POOL_GRAD = register(
    "AvgPoolGrad", _avg_pool_grad_forward,
    lambda inputs, output, attrs, upstream, needs: (
        apply1(AVG_POOL, upstream, _pool_keys(attrs)),),
    lambda inputs, output, attrs, tangents: apply1(AVG_POOL_GRAD, tangents[0], attrs),
    _pool_samples("avg_grad"))


def pool_windows(op, input, ksize, strides, padding, data_format, what):  # noqa: A002
    """The 2-D pooling op ``op`` (MAX_POOL or AVG_POOL) on a checked rank-4 ``input``."""
    x = tensor_of(input)
    if x._value.ndim != 4:
        raise ValueError(f"{what} expects a 4-D input (batch, height, width, channels), got "
                         f"shape {list(x.shape)}.")
    if op is AVG_POOL and x._value.dtype.kind != "f":
        raise TypeError(f"{what} expects a floating-point input, got {x.dtype.name}.")
    x, channels_first = _nhwc(x, data_format, what)
    ksize = spatial_ints(ksize, 2, "ksize")
    strides = spatial_ints(strides, 2, "strides")
    if isinstance(padding, str) and padding.upper() not in ("SAME", "VALID"):
        raise InvalidArgumentError(f"{what}: padding must be 'SAME' or 'VALID', got "
                                   f"{padding!r}.")
    pads = _pads(padding, shape_of(x)[1:3], ksize, strides, (1, 1), what)
    if op is MAX_POOL and not isinstance(padding, str):
        for (before, after), k in zip(pads, ksize):
            if before >= k or after >= k:
                raise InvalidArgumentError(f"{what}: explicit padding must be smaller than the "
                                           f"window ({pads} vs ksize {list(ksize)}).")
    y = apply1(op, x, {"ksize": ksize, "strides": strides, "pads": pads})
    return _back_to_nchw(y, channels_first)


def max_pool2d(input, ksize, strides, padding, data_format: str = "NHWC",  # noqa: A002
               name=None) -> Tensor:
    """Max over each window of an NHWC ``input``; the gradient goes to the first maximal
    element of each window, as TensorFlow.

    >>> import tapegrad as tf
    >>> tf.nn.max_pool2d(tf.reshape(tf.range(16.0), [1, 4, 4, 1]), 2, 2, "VALID"
    ...                  ).numpy().ravel().tolist()
    [5.0, 7.0, 13.0, 15.0]
    """
    return pool_windows(MAX_POOL, input, ksize, strides, padding, data_format, "max_pool2d")


def avg_pool2d(input, ksize, strides, padding, data_format: str = "NHWC",  # noqa: A002
               name=None) -> Tensor:
    """Mean over each window of an NHWC ``input`` (padding is not counted with 'SAME').

    >>> import tapegrad as tf
    >>> tf.nn.avg_pool2d(tf.reshape(tf.range(16.0), [1, 4, 4, 1]), 2, 2, "VALID"
    ...                  ).numpy().ravel().tolist()
    [2.5, 4.5, 10.5, 12.5]
    """
    return pool_windows(AVG_POOL, input, ksize, strides, padding, data_format, "avg_pool2d")


