"""``tapegrad.random`` (as ``tf.random``): random tensors, reproducible under a seed."""

from tapegrad.ops.random import (
    Generator,
    categorical,
    experimental,
    get_global_generator,
    normal,
    set_global_generator,
    set_seed,
    shuffle,
    stateless_normal,
    stateless_truncated_normal,
    stateless_uniform,
    truncated_normal,
    uniform,
)

__all__ = ["Generator", "categorical", "experimental", "get_global_generator", "normal",
           "set_global_generator", "set_seed", "shuffle", "stateless_normal",
           "stateless_truncated_normal", "stateless_uniform", "truncated_normal", "uniform"]
