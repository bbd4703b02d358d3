"""Name scopes: the prefix variables take when they are created inside ``tf.name_scope``."""

from __future__ import annotations

import threading


class _ScopeState(threading.local):
    def __init__(self):
        self.stack: list[str] = []


_scopes = _ScopeState()


def current_name_scope() -> str:
    """The active name-scope prefix, e.g. ``"outer/inner/"`` (``""`` outside any scope).

    Variables created inside a scope (``tf.name_scope``, :meth:`Module.name_scope`) take this
    prefix.
    """
    return _scopes.stack[-1] if _scopes.stack else ""


class name_scope:  # noqa: N801 - TensorFlow's public name
    """A context manager naming the ops and variables created inside it (``tf.name_scope``).

    >>> import tapegrad as tf
    >>> with tf.Module(name="block").name_scope as scope:
    ...     scope
    'block/'
    """

    def __init__(self, name: str):
        if name and not name.endswith("/"):
            name = current_name_scope() + name + "/"
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    def __enter__(self) -> str:
        _scopes.stack.append(self._name)
        return self._name

    def __exit__(self, *exc) -> None:
        _scopes.stack.pop()
