"""The registry of custom Keras objects (``keras.saving.register_keras_serializable``,
``get_custom_objects``, ``custom_object_scope``), apart from :mod:`saving` so that losses,
metrics and layers can look names up without importing the serialization code.

>>> import tapegrad as tf
>>> with tf.keras.saving.custom_object_scope({"my_fn": abs}):
...     tf.keras.saving.get_registered_object("my_fn") is abs
True
"""

from __future__ import annotations

import threading

__all__ = ["register_keras_serializable", "get_custom_objects", "custom_object_scope",
           "CustomObjectScope", "get_registered_name", "get_registered_object", "BUILTINS"]

_GLOBAL_CUSTOM_OBJECTS: dict = {}
_GLOBAL_CUSTOM_NAMES: dict = {}
BUILTINS: dict = {}     # class name -> class, filled by the modules that define them


class _ScopeState(threading.local):
    def __init__(self):
        self.stack: list = []


_scopes = _ScopeState()


def get_custom_objects() -> dict:
    """The global registry (name -> class or function); registering adds to it."""
    return _GLOBAL_CUSTOM_OBJECTS


def register_keras_serializable(package: str = "Custom", name=None):
    """Decorator registering a class or function under ``"package>name"``."""
    if ">" in package:
        raise ValueError(f"Invalid package name: the '>' character is reserved. Received: "
                         f"package={package}")

    def decorator(obj):
        registered = f"{package}>{name or obj.__name__}"
        if isinstance(obj, type) and not hasattr(obj, "get_config"):
            raise ValueError("Cannot register a class that does not have a get_config() "
                             "method.")
        _GLOBAL_CUSTOM_OBJECTS[registered] = obj
        _GLOBAL_CUSTOM_NAMES[obj] = registered
        return obj
    return decorator


def get_registered_name(obj) -> str:
    """The name ``obj`` was registered under (its own name when not registered)."""
    return _GLOBAL_CUSTOM_NAMES.get(obj, getattr(obj, "__name__", type(obj).__name__))


def get_registered_object(name, custom_objects=None, module_objects=None):
    """The object registered (or in scope, or in ``custom_objects``) under ``name``."""
    for source in reversed(_scopes.stack):
        if name in source:
            return source[name]
    for source in (custom_objects or {}, _GLOBAL_CUSTOM_OBJECTS, module_objects or {}):
        if name in source:
            return source[name]
    return None


class CustomObjectScope:
    """Make ``custom_objects`` visible to deserialization inside a ``with`` block."""

    def __init__(self, custom_objects):
        self.custom_objects = dict(custom_objects or {})

    def __enter__(self):
        _scopes.stack.append(self.custom_objects)
        return self

    def __exit__(self, *exc):
        _scopes.stack.pop()


custom_object_scope = CustomObjectScope
