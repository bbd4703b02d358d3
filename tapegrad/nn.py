"""``tapegrad.nn``: neural-network ops under TensorFlow's ``tf.nn`` names."""

from tapegrad.ops.composite.nn import (  # noqa: F401
    avg_pool,
    avg_pool1d,
    batch_normalization,
    conv1d,
    convolution,
    crelu,
    dropout,
    embedding_lookup,
    gelu,
    l2_loss,
    l2_normalize,
    max_pool,
    max_pool1d,
    moments,
    sigmoid_cross_entropy_with_logits,
    silu,
    softmax_cross_entropy_with_logits,
    swish,
)
from tapegrad.ops.math import sigmoid, softplus, softsign, tanh  # noqa: F401
from tapegrad.ops.nn import (  # noqa: F401
    avg_pool2d,
    bias_add,
    conv2d,
    conv2d_transpose,
    depthwise_conv2d,
    elu,
    leaky_relu,
    log_softmax,
    max_pool2d,
    relu,
    relu6,
    selu,
    softmax,
    sparse_softmax_cross_entropy_with_logits,
)
