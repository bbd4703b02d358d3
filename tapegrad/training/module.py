"""``tapegrad.Module``: a container of variables and sub-modules, as ``tf.Module``.

Variables and sub-modules are found by walking the module's attributes (sorted by name) and
every list, tuple and dict inside them (dicts in sorted key order), direct properties first,
then each sub-module in turn, exactly as TensorFlow's ``tf.Module._flatten`` does.
"""

from __future__ import annotations

import functools
import re

from tapegrad._core import nest
from tapegrad._core.naming import current_name_scope, name_scope
from tapegrad._core.variable import Variable

__all__ = ["Module", "name_scope", "current_name_scope"]

_IGNORED = frozenset(("_self_unconditional_checkpoint_dependencies",
                      "_self_unconditional_dependency_names"))


def _camel_to_snake(value: str) -> str:
    value = re.sub(r"(.)([A-Z][a-z0-9]+)", r"\1_\2", value)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", value).lower()


def _is_variable(obj) -> bool:
    return isinstance(obj, Variable)


def _is_trainable_variable(obj) -> bool:
    return isinstance(obj, Variable) and obj.trainable


def _is_module(obj) -> bool:
    return isinstance(obj, Module)


def _leaves_with_paths(structure, path=()):
    """(path, leaf) pairs of a nest of lists, tuples and dicts, dicts in sorted key order."""
    if isinstance(structure, dict):
        for key in nest.sorted_keys(structure):
            yield from _leaves_with_paths(structure[key], path + (key,))
    elif isinstance(structure, (list, tuple)):
        for index, item in enumerate(structure):
            yield from _leaves_with_paths(item, path + (index,))
    else:
        yield path, structure


def _flatten_module(module, recursive, predicate, attribute_traversal_key, attributes_to_ignore,
                    with_path, module_path=(), seen=None, recursion_stack=None):
    module_id = id(module)
    if seen is None:
        seen = {module_id}
    if recursion_stack is None:
        recursion_stack = []
    if module_id in recursion_stack:
        recursive = False
    module_dict = vars(module)
    submodules = []
    for key in sorted(module_dict, key=attribute_traversal_key):
        if key in attributes_to_ignore:
            continue
        for leaf_path, leaf in _leaves_with_paths(module_dict[key], (key,)):
            if not with_path:
                if id(leaf) in seen:
                    continue
                seen.add(id(leaf))
            if predicate(leaf):
                yield (module_path + leaf_path, leaf) if with_path else leaf
            if recursive and _is_module(leaf):
                submodules.append((module_path + leaf_path, leaf))
    recursion_stack.append(module_id)
    for sub_path, submodule in submodules:
        yield from _flatten_module(submodule, recursive, predicate, attribute_traversal_key,
                                   attributes_to_ignore, with_path, sub_path, seen,
                                   recursion_stack)
    recursion_stack.pop()


class Module:
    """Base class of objects that own variables and other modules, as ``tf.Module``.

    >>> import tapegrad as tf
    >>> class Linear(tf.Module):
    ...     def __init__(self, n_in, n_out, name=None):
    ...         super().__init__(name=name)
    ...         self.w = tf.Variable(tf.ones([n_in, n_out]), name="w")
    ...         self.b = tf.Variable(tf.zeros([n_out]), name="b")
    ...     def __call__(self, x):
    ...         return tf.matmul(x, self.w) + self.b
    >>> layer = Linear(2, 3)
    >>> [v.name for v in layer.trainable_variables]
    ['b:0', 'w:0']
    >>> layer.name
    'linear'
    """

    _TF_MODULE_IGNORED_PROPERTIES = _IGNORED

    def __init__(self, name: str | None = None):
        if name is None:
            name = _camel_to_snake(type(self).__name__)
        elif not _valid_identifier(name):
            raise ValueError(f"{name!r} is not a valid module name. Module names must be valid "
                             "Python identifiers (e.g. 'dense_1').")
        self._name = name
        self._scope_name = current_name_scope() + name + "/"

    @property
    def name(self) -> str:
        """The module's name (the snake-cased class name unless one was given)."""
        return self._name

    @property
    def name_scope(self) -> name_scope:
        """A ``name_scope`` for this module; variables made inside it get its prefix."""
        return name_scope(self._scope_name)

    @property
    def variables(self) -> tuple:
        """Every variable owned by this module and its sub-modules (deterministic order)."""
        return tuple(self._flatten(predicate=_is_variable))

    @property
    def trainable_variables(self) -> tuple:
        """The trainable variables of this module and its sub-modules."""
        return tuple(self._flatten(predicate=_is_trainable_variable))

    @property
    def non_trainable_variables(self) -> tuple:
        return tuple(self._flatten(predicate=lambda v: _is_variable(v) and not v.trainable))

    @property
    def submodules(self) -> tuple:
        """Every module reachable from this one (not including itself)."""
        return tuple(self._flatten(predicate=_is_module))

    def _flatten(self, recursive: bool = True, predicate=None, attribute_traversal_key=None,
                 with_path: bool = False, expand_composites: bool = False):
        """Leaves of this module's attributes that satisfy ``predicate`` (``tf.Module``'s)."""
        if predicate is None:
            predicate = lambda _: True  # noqa: E731
        return _flatten_module(self, recursive, predicate, attribute_traversal_key,
                               self._TF_MODULE_IGNORED_PROPERTIES, with_path)

    @classmethod
    def with_name_scope(cls, method):
        """Decorator running ``method`` inside the module's name scope."""
        @functools.wraps(method)
        def wrapped(self, *args, **kwargs):
            with self.name_scope:
                return method(self, *args, **kwargs)
        return wrapped

    def __setattr__(self, name: str, value) -> None:
        object.__setattr__(self, name, value)
        if attribute_observers:
            for observer in tuple(attribute_observers):
                observer(self)

    # (no __repr__: TensorFlow's tf.Module keeps Python's default object repr)


#: Called as ``observer(module)`` after any attribute of a Module is set, while the list is not
#: empty: a checkpoint restore that waits for variables not created yet completes this way
#: (tapegrad.train), as TensorFlow restores a variable when it is attached.
attribute_observers: list = []


def _valid_identifier(name: str) -> bool:
    return bool(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name))
