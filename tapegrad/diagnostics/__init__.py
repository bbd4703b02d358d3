"""Diagnostics beyond TensorFlow: explained gradients, NaN origins, graph drawing, memory use."""
