"""AutoGraph-lite: Python control flow on tensors becomes ``tf.cond``/``tf.while_loop``."""

from __future__ import annotations


def convert(function):
    """``function`` with its tensor-dependent control flow converted (identity for now)."""
    return function
