"""``tapegrad.config``: ``tf.config``'s device queries (tapegrad computes on the CPU only) and the
switches for compiled functions.

>>> import tapegrad as tf
>>> tf.config.list_physical_devices("GPU")
[]
>>> tf.config.list_logical_devices()
[LogicalDevice(name='/device:CPU:0', device_type='CPU')]
"""

from __future__ import annotations

from typing import NamedTuple

from tapegrad.autodiff.function.config import (  # noqa: F401
    functions_run_eagerly,
    run_functions_eagerly,
)


class PhysicalDevice(NamedTuple):
    name: str
    device_type: str


class LogicalDevice(NamedTuple):
    name: str
    device_type: str


_CPU = PhysicalDevice("/physical_device:CPU:0", "CPU")
_LOGICAL_CPU = LogicalDevice("/device:CPU:0", "CPU")


def list_physical_devices(device_type=None) -> list:
    """The physical devices of ``device_type`` ("CPU", "GPU" ...; None for all): one CPU."""
    return [_CPU] if device_type in (None, "CPU") else []


def list_logical_devices(device_type=None) -> list:
    """The logical devices of ``device_type`` (None for all): one CPU."""
    return [_LOGICAL_CPU] if device_type in (None, "CPU") else []
