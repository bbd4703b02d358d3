"""AutoGraph-lite: Python ``if``/``while``/``for ... in tf.range(...)`` on tensors become
``tf.cond``/``tf.while_loop``, by rewriting the function's syntax tree as TensorFlow does.

Each statement becomes a call into this module with its blocks as nested functions of the
variables they assign::

    if x > 0:                     def if_true(y): y = x; return (y,)
        y = x            ->       def if_false(y): y = -x; return (y,)
    else:                         (y,) = ag.if_stmt(x > 0, if_true, if_false, (ag.ld(lambda: y),))
        y = -x

At run time a Python or eager condition runs the statement as Python does; a traced tensor
condition becomes ``tf.cond``/``tf.while_loop``, so one trace is valid for every value. Blocks
with ``return``, ``break``, ``continue``, ``yield``, ``global`` or ``nonlocal`` are left alone
(a tensor condition there aborts the trace: the function runs eagerly with one warning).
"""

from __future__ import annotations

import ast
import functools
import inspect
import textwrap
import types

from tapegrad.autodiff.function.control_flow import cond, while_loop
from tapegrad.autodiff.function.host import outside_traces
from tapegrad.autodiff.function.symbolic import SymbolicTensor, Untraceable, user_location


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


def for_range(range_function, range_args: tuple, body_block, values: tuple, names: tuple):
    """``for i in tf.range(...)``: a Python loop over the eager range, or ``tf.while_loop``
    with a counter when a bound is a traced tensor."""
    if not any(type(a) is SymbolicTensor for a in range_args):
        # Known bounds: the loop unrolls over constants (computed outside the trace, so that
        # each index is a value the body may use in Python, as a TensorArray index).
        with outside_traces():
            indices = list(range_function(*range_args))
        for index in indices:
            values = tuple(body_block(index, *values))
        return tuple(values)
    _check_defined(values, names, "for loop")
    start, limit, delta = (0, range_args[0], 1) if len(range_args) == 1 else \
        (range_args[0], range_args[1], range_args[2] if len(range_args) > 2 else 1)
    if isinstance(delta, int) and delta < 0:
        def test(i, *_):
            return i > limit
    elif isinstance(delta, int):
        def test(i, *_):
            return i < limit
    else:
        raise Untraceable("for ... in tf.range with a tensor step", user_location(2))
    counter = range_function(start, start + 1)[0] if not isinstance(start, int) else start

    def body(i, *v):
        return (i + delta, *body_block(i, *v))

    return tuple(while_loop(test, body, (counter, *values))[1:])


# -- the rewrite ------------------------------------------------------------------------------

_UNCONVERTIBLE = (ast.Return, ast.Break, ast.Continue, ast.Yield, ast.YieldFrom, ast.Global,
                  ast.Nonlocal, ast.Await)


_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)


def _convertible(blocks) -> bool:
    """Whether the blocks hold nothing that leaves them early (nested functions aside)."""
    def clean(node) -> bool:
        if isinstance(node, _UNCONVERTIBLE):
            return False
        return isinstance(node, _SCOPES) or all(clean(c) for c in ast.iter_child_nodes(node))
    return all(clean(statement) for block in blocks for statement in block)


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

    def _call(self, function, arguments, names, node):
        call = ast.Call(ast.Attribute(ast.Name("__ag__", ast.Load()), function, ast.Load()),
                        arguments + [ast.Tuple([ast.Constant(n) for n in names], ast.Load())],
                        [])
        return ast.Assign([self._names(names)], call) if names else ast.Expr(call)

    def visit_FunctionDef(self, node):
        return node  # nested functions keep their Python semantics

    visit_AsyncFunctionDef = visit_ClassDef = visit_FunctionDef

    def visit_If(self, node):
        self.generic_visit(node)
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

    def visit_While(self, node):
        self.generic_visit(node)
        if node.orelse or not _convertible([node.body]):
            return node
        self.count += 1
        self.changed = True
        names = _assigned([node.body])
        test_name, body_name = f"__ag_while_test_{self.count}", f"__ag_while_body_{self.count}"
        test = ast.FunctionDef(test_name, _arguments(names), [ast.Return(node.test)], [], None,
                               type_params=[])
        statements = [test, self._block(body_name, names, node.body, names),
                      self._call("while_stmt", [ast.Name(test_name, ast.Load()),
                                                ast.Name(body_name, ast.Load()),
                                                self._loads(names)], names, node)]
        return [ast.copy_location(s, node) for s in statements]

    def visit_For(self, node):
        self.generic_visit(node)
        iterator = node.iter
        if node.orelse or not _convertible([node.body]) or not isinstance(node.target, ast.Name) \
                or not (isinstance(iterator, ast.Call) and not iterator.keywords and
                        isinstance(iterator.func, ast.Attribute) and
                        iterator.func.attr == "range"):
            return node
        self.count += 1
        self.changed = True
        names = [n for n in _assigned([node.body]) if n != node.target.id]
        body_name = f"__ag_for_body_{self.count}"
        statements = [self._block(body_name, [node.target.id, *names], node.body, names),
                      self._call("for_range", [iterator.func,
                                               ast.Tuple(list(iterator.args), ast.Load()),
                                               ast.Name(body_name, ast.Load()),
                                               self._loads(names)], names, node)]
        return [ast.copy_location(s, node) for s in statements]


def _no_arguments():
    return _arguments([])


def _arguments(names):
    return ast.arguments([], [ast.arg(n) for n in names], None, [], [], None, [])


@functools.lru_cache(maxsize=256)
def _converted_code(function_code):
    """The rewritten function's code object, or None when nothing needs converting or the
    source cannot be read (once per function: reading source is slow)."""
    try:
        lines, first_line = inspect.getsourcelines(function_code)
    except (OSError, TypeError, ValueError):
        return None
    source = textwrap.dedent("".join(lines))
    filename = function_code.co_filename
    try:
        tree = ast.parse(source)
    except SyntaxError:  # (a lambda's line, or source changed since import)
        return None
    definition = tree.body[0]
    if not isinstance(definition, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return None
    definition.decorator_list = []
    rewrite = _Rewrite()
    definition.body = [rewrite.visit(s) for s in definition.body]
    definition.body = [s for item in definition.body
                       for s in (item if isinstance(item, list) else [item])]
    if not rewrite.changed:
        return None
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
    if code is None or plain.__name__ == "<lambda>":
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
    converted.__defaults__ = plain.__defaults__
    converted.__kwdefaults__ = plain.__kwdefaults__
    if bound_to is not None:
        return types.MethodType(converted, bound_to)
    return converted


_MODULE = types.SimpleNamespace(ld=ld, if_stmt=if_stmt, while_stmt=while_stmt,
                                for_range=for_range)

__all__ = ["convert", "if_stmt", "while_stmt", "for_range", "ld", "UNDEFINED"]
