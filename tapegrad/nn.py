"""``tapegrad.nn``: neural-network ops under TensorFlow's ``tf.nn`` names."""

from tapegrad.ops.math import sigmoid, tanh  # noqa: F401
