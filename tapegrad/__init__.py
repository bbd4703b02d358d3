"""tapegrad: TensorFlow's GradientTape autodiff on NumPy.

>>> import tapegrad as tf
>>> x = tf.Variable(3.0)
>>> with tf.GradientTape() as tape:
...     y = x * x
>>> float(tape.gradient(y, x))
6.0
"""

from tapegrad import (
    dtypes,
    errors,
    image,
    io,
    linalg,
    math,
    nn,
    ragged,
    sparse,
    strings,
)
from tapegrad import ops as _ops  # registers every op
from tapegrad._core.dtypes import (
    DType,
    as_dtype,
    bool,
    complex64,
    complex128,
    double,
    float16,
    float32,
    float64,
    half,
    int8,
    int16,
    int32,
    int64,
    string,
    uint8,
    uint16,
    uint32,
    uint64,
)
from tapegrad._core.indexed_slices import IndexedSlices
from tapegrad._core.tensor import Tensor, TensorShape, convert_to_tensor
from tapegrad._core.variable import Variable
from tapegrad.autodiff.arguments import UnconnectedGradients
from tapegrad.autodiff.control import cond, device, is_tensor, map_fn, while_loop
from tapegrad.autodiff.custom import custom_gradient, grad_pass_through, recompute_grad
from tapegrad.autodiff.tape import GradientTape
from tapegrad.autodiff.tensor_spec import TensorSpec
from tapegrad.diagnostics.log import get_logger
from tapegrad.ops.array import (
    argsort,
    boolean_mask,
    broadcast_to,
    concat,
    constant,
    cumprod,
    cumsum,
    einsum,
    expand_dims,
    eye,
    fill,
    gather,
    gather_nd,
    linspace,
    meshgrid,
    one_hot,
    ones,
    pad,
    range,
    rank,
    repeat,
    reshape,
    reverse,
    roll,
    scatter_nd,
    shape,
    size,
    sort,
    split,
    squeeze,
    stack,
    tensor_scatter_nd_add,
    tensor_scatter_nd_max,
    tensor_scatter_nd_min,
    tensor_scatter_nd_sub,
    tensor_scatter_nd_update,
    tensordot,
    tile,
    transpose,
    unique,
    unstack,
    where,
    zeros,
)
from tapegrad.ops.array import slice_ as slice
from tapegrad.ops.composite.clip import clip_by_global_norm, clip_by_norm, clip_by_value
from tapegrad.ops.composite.linalg import norm
from tapegrad.ops.composite.ragged import RaggedTensor
from tapegrad.ops.composite.reduction import reduce_logsumexp
from tapegrad.ops.composite.sparse import SparseTensor
from tapegrad.ops.linalg import matmul
from tapegrad.ops.math import (
    abs,
    acos,
    acosh,
    add,
    add_n,
    asin,
    asinh,
    atan,
    atan2,
    atanh,
    cast,
    ceil,
    cos,
    cosh,
    divide,
    equal,
    exp,
    floor,
    floordiv,
    greater,
    greater_equal,
    identity,
    less,
    less_equal,
    log,
    logical_and,
    logical_not,
    logical_or,
    maximum,
    minimum,
    multiply,
    negative,
    not_equal,
    ones_like,
    pow,
    realdiv,
    round,
    sigmoid,
    sign,
    sin,
    sinh,
    sqrt,
    square,
    stop_gradient,
    subtract,
    tan,
    tanh,
    truediv,
    zeros_like,
)
from tapegrad.ops.math import complex_ as complex
from tapegrad.ops.reduction import (
    argmax,
    argmin,
    reduce_all,
    reduce_any,
    reduce_max,
    reduce_mean,
    reduce_min,
    reduce_prod,
    reduce_sum,
)
from tapegrad.training.module import Module, name_scope

__version__ = "0.1.0"


_FUNCTION_NAMES = {"function": "function", "TensorArray": "TensorArray",
                   "init_scope": "init_scope", "py_function": "py_function", "types": "types",
                   "print": "print_"}


def __getattr__(name):
    # Heavier sub-packages load on first use, keeping `import tapegrad` fast.
    import importlib
    if name in ("autodiff", "keras", "random", "data", "train", "debugging", "test", "config",
                "autograph"):
        module = importlib.import_module(f"tapegrad.{name}")
        globals()[name] = module
        return module
    if name in _FUNCTION_NAMES:
        # tf.function's tracing compiler loads on first use, as the sub-packages do
        value = getattr(importlib.import_module("tapegrad.autodiff.function"),
                        _FUNCTION_NAMES[name])
        globals()[name] = value
        return value
    if name in ("losses", "optimizers", "metrics", "initializers"):
        # TensorFlow's shortcuts to Keras's modules (tf.losses is tf.keras.losses)
        module = importlib.import_module(f"tapegrad.keras.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'tapegrad' has no attribute {name!r}")
