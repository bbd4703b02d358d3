"""``tf.config``'s switches for compiled functions.

>>> import tapegrad as tf
>>> tf.config.functions_run_eagerly()
False
"""

from tapegrad.autodiff.function.core import functions_run_eagerly, run_functions_eagerly

__all__ = ["run_functions_eagerly", "functions_run_eagerly"]
