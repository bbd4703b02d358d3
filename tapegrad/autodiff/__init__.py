"""The autodiff layer: the GradientTape façade, jacobians, custom gradients and control flow,
and ``tapegrad.autodiff`` itself: ForwardAccumulator (TensorFlow's) and the functional
transforms (JAX's)."""

from tapegrad.autodiff.forward import ForwardAccumulator
from tapegrad.autodiff.functional import grad, hessian, hvp, jacobian, jvp, value_and_grad, vjp

__all__ = ["ForwardAccumulator", "grad", "value_and_grad", "jacobian", "hessian", "hvp", "jvp",
           "vjp", "jit"]


def __getattr__(name):
    # jit lives with tf.function, which imports this package's modules: loaded on first use
    if name == "jit":
        from tapegrad.autodiff.function.core import jit
        return jit
    raise AttributeError(f"module 'tapegrad.autodiff' has no attribute {name!r}")
