"""AutoGraph: Python ``if``/``while``/``for`` on tensors become ``tf.cond``/``tf.while_loop``
(``for ... in dataset``: one dataset loop), by rewriting the function's syntax tree as
TensorFlow does.

Each statement becomes a call into this module with its blocks as nested functions of the
variables they assign::

    if x > 0:                     def if_true(y): y = x; return (y,)
        y = x            ->       def if_false(y): y = -x; return (y,)
    else:                         (y,) = ag.if_stmt(x > 0, if_true, if_false, (ag.ld(lambda: y),))
        y = -x

At run time a Python or eager condition runs the statement as Python does; a traced tensor
condition becomes ``tf.cond``/``tf.while_loop``, so one trace is valid for every value. Before
that, ``return`` inside an ``if`` is normalised (the statements after the ``if`` move into its
branches, so both end the function: ``ag.if_return``), and a loop's own ``break``/``continue``
become flags that guard the statements after them (TensorFlow's lowering). Blocks with
``yield``, ``global`` or ``nonlocal``, and returns inside loops, are left alone (a tensor
condition there aborts the trace: the function runs eagerly with one warning)."""

from __future__ import annotations

import ast
import copy
import functools
import inspect
import textwrap
import types

from tapegrad._core.errors import OpError
from tapegrad._core.tensor import apply
from tapegrad.autodiff.function.control_flow import cond, dataset_loop, is_dataset, while_loop
from tapegrad.autodiff.function.host import outside_traces
from tapegrad.autodiff.function.symbolic import SymbolicTensor, Untraceable, user_location
from tapegrad.autodiff.function.tracer import active_tracer
from tapegrad.ops import array as _array
from tapegrad.ops import math as _math


class StagingError(Exception):
    """An error of a kind AutoGraph does not re-raise as itself, raised while tracing a
    converted function (TensorFlow's ``StagingError``: a RecursionError, an IndexError, an
    exception whose constructor takes other arguments than a message)."""


# The error types that TensorFlow's AutoGraph re-raises as themselves (with their message)
_KEPT_ERRORS = (AssertionError, AttributeError, NameError, NotImplementedError, RuntimeError,
                StopIteration, TypeError, UnboundLocalError, ValueError, KeyError)


def staging_error(error: Exception) -> StagingError | None:
    """The StagingError that replaces ``error`` raised while tracing a converted function, or
    None where it propagates as it is (as TensorFlow's AutoGraph decides)."""
    kind = type(error)
    if isinstance(error, (OpError, Untraceable, StagingError)) or kind in _KEPT_ERRORS or \
            kind.__init__ is Exception.__init__:
        return None
    return StagingError(f"in user code:\n\n    {kind.__name__}: {error}")


class _Undefined:
    """A variable a block assigns that had no value before the statement."""

    def __repr__(self) -> str:
        return "<undefined>"


UNDEFINED = _Undefined()


def ld(thunk):
    """The value of a variable (``lambda: name``), or UNDEFINED when it has none yet."""
    try:
        return thunk()
    except NameError:  # (UnboundLocalError included)
        return UNDEFINED


def _check_defined(values, names, statement: str):
    for value, name in zip(values, names):
        if value is UNDEFINED:
            raise Untraceable(f"'{name}' must have a value before this {statement} (a tensor "
                              "condition runs every block)", user_location(3))


def if_stmt(test, true_block, false_block, values: tuple, names: tuple):
    """An ``if`` statement: Python's for a Python or eager condition, else ``tf.cond``."""
    if type(test) is not SymbolicTensor:
        return true_block(*values) if test else false_block(*values)

    def branch(block):
        def run():
            result = block(*values)
            _check_defined(result, names, "if statement")
            return result
        return run

    if not names:
        cond(test, branch(true_block), branch(false_block))
        return ()
    return tuple(cond(test, branch(true_block), branch(false_block)))


def if_return(test, true_block, false_block, values: tuple, names: tuple):
    """An ``if`` whose branches both end the function (``return``): the returned value, from
    Python's choice for a Python or eager condition, else from ``tf.cond``."""
    if type(test) is not SymbolicTensor:
        return true_block(*values) if test else false_block(*values)
    return cond(test, lambda: true_block(*values), lambda: false_block(*values))


def while_stmt(test_block, body_block, values: tuple, names: tuple):
    """A ``while`` statement: Python's while the condition is a Python or eager value, then
    ``tf.while_loop`` from the current values once it is a traced tensor."""
    values = tuple(values)
    test = test_block(*values)
    while type(test) is not SymbolicTensor:
        if not test:
            return values
        values = tuple(body_block(*values))
        test = test_block(*values)
    _check_defined(values, names, "while loop")
    if not values:
        raise Untraceable("a while loop on a tensor must assign a variable", user_location(2))
    return tuple(while_loop(lambda *v: test_block(*v), lambda *v: tuple(body_block(*v)),
                            tuple(values)))


def not_any(flags: tuple):
    """``not any(flags)`` for Python flags, its tensor for traced ones (a guard after a lowered
    ``break``/``continue``)."""
    if not any(type(flag) is SymbolicTensor for flag in flags):
        return not any(flags)
    result = _math.logical_not(flags[0])
    for flag in flags[1:]:
        result = _math.logical_and(result, _math.logical_not(flag))
    return result


def _both(first, second):
    """``first and second`` for Python values, ``tf.logical_and`` for traced ones."""
    if type(first) is not SymbolicTensor and type(second) is not SymbolicTensor:
        return bool(first) and bool(second)
    return _math.logical_and(first, second)


def loop_test(broken, test):
    """A loop's condition once ``break`` is a flag: ``not broken and test()``."""
    if type(broken) is not SymbolicTensor:
        return False if broken else test()
    return _both(_math.logical_not(broken), test())


def _python_loop(items, body_block, values: tuple, extra_test):
    """Python's loop over ``items`` (a lowered ``break`` ends it through ``extra_test``, asked
    after each iteration: no item is taken after the break)."""
    for item in items:
        values = tuple(body_block(item, *values))
        going = True if extra_test is None else extra_test(*values)
        if type(going) is SymbolicTensor:
            raise Untraceable("a break on a tensor condition in a loop over Python values",
                              user_location(3))
        if not going:
            break
    return tuple(values)


def for_stmt(iterable, body_block, values: tuple, names: tuple, extra_test=None):
    """``for item in iterable``: a tf.data Dataset inside a trace is one dataset loop (its body
    traced once); any other iterable is Python's loop."""
    if active_tracer() is not None and is_dataset(iterable):
        _check_defined(values, names, "for loop")
        return tuple(dataset_loop(iterable, body_block, values, extra_test))
    if type(iterable) is SymbolicTensor:  # its rows, in one tf.while_loop (as TensorFlow)
        if not iterable.shape.rank:
            raise TypeError("Cannot iterate over a scalar tensor.")
        count = _array.shape(iterable)[0]
        return for_range(_array.range, (count,),
                         lambda i, *v: body_block(_row(iterable, i), *v),
                         values, names, extra_test)
    return _python_loop(iterable, body_block, values, extra_test)


def _row(tensor, index):
    """``tensor[index]`` for a traced index (a gather whose gradient is dense, as TensorFlow's
    TensorArray unstack)."""
    return apply(_array.GATHER, (tensor, index), {"axis": 0, "batch_dims": 0, "dense": True})


def for_range(range_function, range_args: tuple, body_block, values: tuple, names: tuple,
              extra_test=None):
    """``for i in tf.range(...)``: a Python loop over the eager range, or ``tf.while_loop``
    with a counter when a bound is a traced tensor (or, from there on, once a ``break``
    depends on one)."""
    start, limit, delta = (0, range_args[0], 1) if len(range_args) == 1 else \
        (range_args[0], range_args[1], range_args[2] if len(range_args) > 2 else 1)
    counter = None
    if not any(type(a) is SymbolicTensor for a in range_args):
        # Known bounds: the loop unrolls over constants (computed outside the trace, so that
        # each index is a value the body may use in Python, as a TensorArray index).
        with outside_traces():
            indices = list(range_function(*range_args))
        for position, index in enumerate(indices):
            values = tuple(body_block(index, *values))
            going = True if extra_test is None else extra_test(*values)
            if type(going) is SymbolicTensor and position + 1 < len(indices):
                counter = indices[position + 1]  # the rest: one tf.while_loop
                break
            if type(going) is SymbolicTensor or not going:
                return tuple(values)
        else:
            return tuple(values)
    _check_defined(values, names, "for loop")
    if not isinstance(delta, int):
        raise Untraceable("for ... in tf.range with a tensor step", user_location(2))

    def test(i, *v):
        within = i > limit if delta < 0 else i < limit
        return within if extra_test is None else _both(within, extra_test(*v))
    if counter is None:
        counter = range_function(start, start + 1)[0] if not isinstance(start, int) else start

    def body(i, *v):
        return (i + delta, *body_block(i, *v))

    return tuple(while_loop(test, body, (counter, *values))[1:])


# -- the rewrite ------------------------------------------------------------------------------

_UNCONVERTIBLE = (ast.Return, ast.Break, ast.Continue, ast.Yield, ast.YieldFrom, ast.Global,
                  ast.Nonlocal, ast.Await)


_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)


def _convertible(blocks) -> bool:
    """Whether the blocks hold nothing that leaves them early (nested functions aside; the
    ``break``/``continue`` of a loop inside them stay in it)."""
    def clean(node, in_loop: bool) -> bool:
        if isinstance(node, (ast.Break, ast.Continue)):
            return in_loop
        if isinstance(node, _UNCONVERTIBLE):
            return False
        if isinstance(node, (ast.For, ast.AsyncFor, ast.While)):
            return all(clean(c, True) for c in node.body) and \
                all(clean(c, in_loop) for c in node.orelse) and \
                clean(node.iter if not isinstance(node, ast.While) else node.test, in_loop)
        return isinstance(node, _SCOPES) or all(clean(c, in_loop)
                                                for c in ast.iter_child_nodes(node))
    return all(clean(statement, False) for block in blocks for statement in block)


def _assigned(blocks) -> list:
    """Names the blocks assign (outside nested functions), in first-assignment order."""
    names: dict = {}

    def visit(node):
        if isinstance(node, _SCOPES):
            if not isinstance(node, ast.Lambda):
                names.setdefault(node.name, None)
            return
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.setdefault(node.id, None)
        for child in ast.iter_child_nodes(node):
            visit(child)

    for block in blocks:
        for statement in block:
            visit(statement)
    return [n for n in names if not n.startswith("__ag")]


def _has_return(statements) -> bool:
    """Whether a ``return`` is among the statements (nested functions aside)."""
    def visit(node) -> bool:
        if isinstance(node, ast.Return):
            return True
        return not isinstance(node, _SCOPES) and any(visit(c) for c in ast.iter_child_nodes(node))
    return any(visit(statement) for statement in statements)


def _ends_with_return(block) -> bool:
    return bool(block) and isinstance(block[-1], ast.Return)


def _single_exit(block: list) -> list:
    """``block`` rewritten so that every ``if`` holding a ``return`` returns from both branches
    and is the block's last statement: the statements after it move into both branches (only
    one of them runs, so this is the same program). Returns inside loops are left alone."""
    for index, statement in enumerate(block):
        if isinstance(statement, ast.Return):
            return block[:index + 1]  # (what follows never runs)
        if isinstance(statement, ast.If) and _has_return([statement]):
            rest = block[index + 1:]
            statement.body = _single_exit(statement.body + copy.deepcopy(rest))
            statement.orelse = _single_exit(statement.orelse + rest)
            return block[:index + 1]
    return block


_LOOPS = (ast.For, ast.AsyncFor, ast.While)


def _has_exit(node) -> bool:
    """Whether ``node`` holds a ``break``/``continue`` of the enclosing loop (not of a loop or
    function nested in it)."""
    if isinstance(node, (ast.Break, ast.Continue)):
        return True
    if isinstance(node, _LOOPS + _SCOPES):
        return False
    return any(_has_exit(child) for child in ast.iter_child_nodes(node))


def _flag(name: str, value: bool) -> ast.Assign:
    return ast.Assign([ast.Name(name, ast.Store())], ast.Constant(value))


def _guard(flags: list) -> ast.expr:
    """``__ag__.not_any((flag, ...))``"""
    return ast.Call(ast.Attribute(ast.Name("__ag__", ast.Load()), "not_any", ast.Load()),
                    [ast.Tuple([ast.Name(f, ast.Load()) for f in flags], ast.Load())], [])


def _lower_exits(block: list, flags: dict):
    """``block`` with its loop's ``break``/``continue`` set flags instead (``flags``: Break and
    Continue -> flag name), the statements after one guarded by the flags; None when an exit
    sits where this cannot follow it (inside ``try`` or ``with``)."""
    lowered = []
    for index, statement in enumerate(block):
        if isinstance(statement, (ast.Break, ast.Continue)):
            lowered.append(ast.copy_location(_flag(flags[type(statement)], True), statement))
            return lowered  # (what follows in this block never runs)
        if not _has_exit(statement):
            lowered.append(statement)
            continue
        if not isinstance(statement, ast.If):
            return None
        body, orelse = _lower_exits(statement.body, flags), _lower_exits(statement.orelse, flags)
        if body is None or orelse is None:
            return None
        statement.body, statement.orelse = body or [ast.Pass()], orelse
        lowered.append(statement)
        rest = _lower_exits(block[index + 1:], flags)
        if rest is None:
            return None
        if rest:
            lowered.append(ast.copy_location(
                ast.If(_guard(sorted(set(flags.values()))), rest, []), statement))
        return lowered
    return lowered


class _Rewrite(ast.NodeTransformer):
    def __init__(self):
        self.count = 0
        self.changed = False

    def _names(self, names):
        return ast.Tuple([ast.Name(n, ast.Store()) for n in names], ast.Store())

    def _loads(self, names):
        return ast.Tuple([ast.Call(ast.Attribute(ast.Name("__ag__", ast.Load()), "ld",
                                                 ast.Load()),
                                   [ast.Lambda(_no_arguments(), ast.Name(n, ast.Load()))], [])
                          for n in names], ast.Load())

    def _block(self, name, parameters, body, returns):
        body = list(body) or [ast.Pass()]
        body.append(ast.Return(ast.Tuple([ast.Name(n, ast.Load()) for n in returns],
                                         ast.Load())))
        return ast.FunctionDef(name, _arguments(parameters), body, [], None, type_params=[])

    def _call(self, function, arguments, names, node, extra=()):
        call = ast.Call(ast.Attribute(ast.Name("__ag__", ast.Load()), function, ast.Load()),
                        arguments + [ast.Tuple([ast.Constant(n) for n in names], ast.Load()),
                                     *extra], [])
        return ast.Assign([self._names(names)], call) if names else ast.Expr(call)

    def visit_FunctionDef(self, node):
        return node  # nested functions keep their Python semantics

    visit_AsyncFunctionDef = visit_ClassDef = visit_FunctionDef

    def visit_If(self, node):
        self.generic_visit(node)
        if _ends_with_return(node.body) and _ends_with_return(node.orelse) and \
                _convertible([node.body[:-1], node.orelse[:-1]]):
            return self._returning_if(node)
        if not _convertible([node.body, node.orelse]):
            return node
        self.count += 1
        self.changed = True
        names = _assigned([node.body, node.orelse])
        true_name, false_name = f"__ag_if_true_{self.count}", f"__ag_if_false_{self.count}"
        statements = [self._block(true_name, names, node.body, names),
                      self._block(false_name, names, node.orelse, names),
                      self._call("if_stmt", [node.test, ast.Name(true_name, ast.Load()),
                                             ast.Name(false_name, ast.Load()),
                                             self._loads(names)], names, node)]
        return [ast.copy_location(s, node) for s in statements]

    def _returning_if(self, node):
        """``if test: ...; return a else: ...; return b`` -> ``return if_return(...)``."""
        self.count += 1
        self.changed = True
        names = _assigned([node.body, node.orelse])
        true_name, false_name = f"__ag_if_true_{self.count}", f"__ag_if_false_{self.count}"

        def block(name, statements):
            value = statements[-1].value or ast.Constant(None)
            return ast.FunctionDef(name, _arguments(names), statements[:-1] + [ast.Return(value)],
                                   [], None, type_params=[])

        call = ast.Call(ast.Attribute(ast.Name("__ag__", ast.Load()), "if_return", ast.Load()),
                        [node.test, ast.Name(true_name, ast.Load()),
                         ast.Name(false_name, ast.Load()), self._loads(names),
                         ast.Tuple([ast.Constant(n) for n in names], ast.Load())], [])
        statements = [block(true_name, node.body), block(false_name, node.orelse),
                      ast.Return(call)]
        return [ast.copy_location(s, node) for s in statements]

    def _lower(self, node):
        """(statements to put before the loop, the name of its break flag or None): the loop's
        own ``break``/``continue`` become flags (TensorFlow's lowering), so that the loop can
        be converted."""
        if node.orelse or not any(_has_exit(s) for s in node.body):
            return [], None
        count = self.count + 1
        flags = {ast.Break: f"ag__break_{count}", ast.Continue: f"ag__continue_{count}"}
        body = _lower_exits(node.body, flags)
        if body is None:
            return [], None
        node.body = body
        used = {n.id for n in ast.walk(ast.Module(body, [])) if isinstance(n, ast.Name)}
        prelude = [_flag(flag, False) for flag in flags.values() if flag in used]
        if flags[ast.Continue] in used:  # (reset at every iteration)
            node.body = [_flag(flags[ast.Continue], False), *node.body]
        broken = flags[ast.Break] if flags[ast.Break] in used else None
        return [ast.copy_location(s, node) for s in prelude], broken

    def _extra_test(self, names: list, broken: str | None):
        """(the definition of ``extra_test(*names)``: ``not broken``, its name), or ([], None)."""
        if broken is None:
            return [], None
        name = f"__ag_extra_test_{self.count}"
        definition = ast.FunctionDef(name, _arguments(names), [ast.Return(_guard([broken]))],
                                     [], None, type_params=[])
        return [definition], name

    def _as_python(self, original):
        """A loop that cannot be converted after all, as it was written (its break/continue
        unlowered: a Python loop needs them), its inner statements converted."""
        self.generic_visit(original)
        return original

    def visit_While(self, node):
        original = copy.deepcopy(node)
        prelude, broken = self._lower(node)
        self.generic_visit(node)
        if node.orelse or not _convertible([node.body]):
            return self._as_python(original)
        self.count += 1
        self.changed = True
        names = _assigned([node.body])
        if broken is not None:  # while not broken and test
            node.test = ast.Call(ast.Attribute(ast.Name("__ag__", ast.Load()), "loop_test",
                                               ast.Load()),
                                 [ast.Name(broken, ast.Load()), ast.Lambda(_no_arguments(),
                                                                          node.test)], [])
        test_name, body_name = f"__ag_while_test_{self.count}", f"__ag_while_body_{self.count}"
        test = ast.FunctionDef(test_name, _arguments(names), [ast.Return(node.test)], [], None,
                               type_params=[])
        statements = [test, self._block(body_name, names, node.body, names),
                      self._call("while_stmt", [ast.Name(test_name, ast.Load()),
                                                ast.Name(body_name, ast.Load()),
                                                self._loads(names)], names, node)]
        return prelude + [ast.copy_location(s, node) for s in statements]

    def visit_For(self, node):
        iterator = node.iter
        is_range = isinstance(iterator, ast.Call) and not iterator.keywords and \
            isinstance(iterator.func, ast.Attribute) and iterator.func.attr == "range"
        # Other iterables (a tf.data Dataset) convert too, unless the loop is plainly over
        # Python values or defines functions (closures in a converted body would capture each
        # iteration's values, not the loop's last).
        if not is_range and (_over_python_values(iterator) or any(
                isinstance(n, _SCOPES) for s in node.body for n in ast.walk(s))):
            self.generic_visit(node)
            return node
        original = copy.deepcopy(node)
        prelude, broken = self._lower(node)
        self.generic_visit(node)
        targets = [node.target] if isinstance(node.target, ast.Name) else \
            node.target.elts if isinstance(node.target, ast.Tuple) else None
        if node.orelse or not _convertible([node.body]) or targets is None or \
                not all(isinstance(t, ast.Name) for t in targets) or \
                (is_range and len(targets) != 1):
            return self._as_python(original)
        self.count += 1
        self.changed = True
        target_names = [t.id for t in targets]
        names = [n for n in _assigned([node.body]) if n not in target_names]
        body_name = f"__ag_for_body_{self.count}"
        if len(targets) == 1:
            body = self._block(body_name, [target_names[0], *names], node.body, names)
        else:  # for x, y in ...: the item is unpacked first
            item = f"__ag_item_{self.count}"
            unpack = ast.Assign([node.target], ast.Name(item, ast.Load()))
            body = self._block(body_name, [item, *names], [unpack, *node.body], names)
        extra, extra_name = self._extra_test(names, broken)
        extra_argument = [ast.Name(extra_name, ast.Load())] if extra_name else []
        if is_range:
            call = self._call("for_range", [iterator.func,
                                            ast.Tuple(list(iterator.args), ast.Load()),
                                            ast.Name(body_name, ast.Load()),
                                            self._loads(names)], names, node, extra_argument)
        else:
            call = self._call("for_stmt", [iterator, ast.Name(body_name, ast.Load()),
                                           self._loads(names)], names, node, extra_argument)
        return prelude + [ast.copy_location(s, node) for s in [body, *extra, call]]


_PYTHON_ITERATION = frozenset({"range", "enumerate", "zip", "reversed", "sorted", "len", "items",
                               "keys", "values", "list", "tuple", "dict", "set"})


def _over_python_values(iterator) -> bool:
    """Whether a loop plainly iterates Python values (a literal, ``range(...)``, ``zip(...)``,
    ``d.items()``...): such loops keep Python's semantics."""
    if isinstance(iterator, (ast.List, ast.Tuple, ast.Set, ast.Dict, ast.ListComp,
                             ast.GeneratorExp, ast.Constant, ast.JoinedStr)):
        return True
    if isinstance(iterator, ast.Call):
        function = iterator.func
        name = function.id if isinstance(function, ast.Name) else \
            function.attr if isinstance(function, ast.Attribute) else None
        return name in _PYTHON_ITERATION and not (isinstance(function, ast.Attribute) and
                                                   name == "range")
    return False


def _no_arguments():
    return _arguments([])


def _arguments(names):
    return ast.arguments([], [ast.arg(n) for n in names], None, [], [], None, [])


def _rewritten(function_code):
    """(the function's definition rewritten, its first line) or None when nothing needs
    converting or the source cannot be read."""
    try:
        lines, first_line = inspect.getsourcelines(function_code)
    except (OSError, TypeError, ValueError):
        return None
    source = textwrap.dedent("".join(lines))
    try:
        tree = ast.parse(source)
    except SyntaxError:  # (a lambda's line, or source changed since import)
        return None
    definition = tree.body[0]
    if not isinstance(definition, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return None
    definition.decorator_list = []
    if any(isinstance(s, ast.If) and _has_return([s]) for s in ast.walk(definition)):
        if not _ends_with_return(definition.body):
            definition.body.append(ast.Return(ast.Constant(None)))  # (the implicit return)
        definition.body = _single_exit(definition.body)
    rewrite = _Rewrite()
    definition.body = [rewrite.visit(s) for s in definition.body]
    definition.body = [s for item in definition.body
                       for s in (item if isinstance(item, list) else [item])]
    if not rewrite.changed:
        return None
    return definition, first_line


def to_code(entity, recursive: bool = True, experimental_optional_features=None) -> str:
    """The Python source of ``entity`` as AutoGraph converts it (``tf.autograph.to_code``):
    tapegrad's own rewrite, calls into its helpers (``__ag__.if_stmt``...), not TensorFlow's
    text.

    >>> import tapegrad as tf
    >>> def relu(x):
    ...     if x > 0:
    ...         return x
    ...     return 0 * x
    >>> "__ag__.if_return(x > 0" in tf.autograph.to_code(relu)
    True
    """
    function = getattr(entity, "python_function", entity)
    function = getattr(function, "__func__", function)
    rewritten = _rewritten(function.__code__)
    if rewritten is None:
        return textwrap.dedent(inspect.getsource(function))
    definition, _ = rewritten
    definition.name = function.__name__
    return ast.unparse(ast.fix_missing_locations(definition)) + "\n"


def do_not_convert(func=None):
    """Leave ``func``'s control flow as Python (``tf.autograph.experimental.do_not_convert``):
    a tensor condition in it then makes the calling signature run eagerly.

    >>> import tapegrad as tf
    >>> @tf.autograph.experimental.do_not_convert
    ... def f(x):
    ...     return x + 1
    >>> int(tf.function(f)(tf.constant(1)))
    2
    """
    if func is None:
        return do_not_convert
    func.__tapegrad_do_not_convert__ = True
    return func


@functools.lru_cache(maxsize=256)
def _converted_code(function_code):
    """The rewritten function's code object, or None when nothing needs converting or the
    source cannot be read (once per function: reading source is slow)."""
    rewritten = _rewritten(function_code)
    if rewritten is None:
        return None
    definition, first_line = rewritten
    filename = function_code.co_filename
    # (renamed: under its own name, a recursive call inside would reach this raw function
    # instead of the tf.function the name refers to)
    definition.name = "__ag_converted"
    freevars = function_code.co_freevars
    # The factory's parameters are the function's closure variables, and __ag__ (this module's
    # helpers): the rewritten function closes over them, the user's module is left alone.
    factory = ast.FunctionDef("__ag_factory", _arguments(["__ag__", *freevars]),
                              [definition, ast.Return(ast.Name(definition.name, ast.Load()))],
                              [], None, type_params=[])
    module = ast.Module([factory], [])
    ast.fix_missing_locations(module)
    ast.increment_lineno(module, first_line - 1)
    return compile(module, filename, "exec")


def convert(function):
    """``function`` with its tensor-dependent control flow converted; itself when nothing needs
    converting or its source is not available."""
    bound_to = getattr(function, "__self__", None)
    plain = getattr(function, "__func__", function)
    code = getattr(plain, "__code__", None)
    if code is None or plain.__name__ == "<lambda>" or \
            getattr(plain, "__tapegrad_do_not_convert__", False):
        return function
    compiled = _converted_code(code)
    if compiled is None:
        return function
    try:
        cells = [cell.cell_contents for cell in (plain.__closure__ or ())]
    except ValueError:  # a closure variable without a value yet
        return function
    namespace: dict = {}
    exec(compiled, plain.__globals__, namespace)
    converted = namespace["__ag_factory"](_MODULE, *cells)
    converted.__name__, converted.__qualname__ = plain.__name__, plain.__qualname__
    converted.__defaults__ = plain.__defaults__
    converted.__kwdefaults__ = plain.__kwdefaults__
    if bound_to is not None:
        return types.MethodType(converted, bound_to)
    return converted


_MODULE = types.SimpleNamespace(ld=ld, if_stmt=if_stmt, if_return=if_return,
                                while_stmt=while_stmt, for_range=for_range, for_stmt=for_stmt,
                                loop_test=loop_test, not_any=not_any)

__all__ = ["convert", "to_code", "do_not_convert", "if_stmt", "while_stmt", "for_range", "ld",
           "UNDEFINED"]
