"""``tapegrad.config``: the device queries of ``tf.config`` (tapegrad computes on the CPU only).

>>> import tapegrad as tf
>>> tf.config.list_physical_devices("GPU")
[]
>>> tf.config.list_logical_devices()
[LogicalDevice(name='/device:CPU:0', device_type='CPU')]
"""

from __future__ import annotations

from typing import NamedTuple


class PhysicalDevice(NamedTuple):
    name: str
    device_type: str


class LogicalDevice(NamedTuple):
    name: str
    device_type: str


_CPU = PhysicalDevice("/physical_device:CPU:0", "CPU")
_LOGICAL_CPU = LogicalDevice("/device:CPU:0", "CPU")
_run_eagerly = False


def list_physical_devices(device_type=None) -> list:
    """The physical devices of ``device_type`` ("CPU", "GPU" ...; None for all): one CPU."""
    return [_CPU] if device_type in (None, "CPU") else []


def list_logical_devices(device_type=None) -> list:
    """The logical devices of ``device_type`` (None for all): one CPU."""
    return [_LOGICAL_CPU] if device_type in (None, "CPU") else []


def run_functions_eagerly(run_eagerly: bool) -> None:
    """Record the setting (``tf.function`` always runs eagerly in tapegrad)."""
    global _run_eagerly
    _run_eagerly = bool(run_eagerly)


def functions_run_eagerly() -> bool:
    """The value last given to :func:`run_functions_eagerly` (False at first)."""
    return _run_eagerly
