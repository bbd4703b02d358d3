"""tf.function semantics probed under TensorFlow 2.21 and under tapegrad: retracing counts,
Python side effects at trace time against tf.print on every call, variable creation, signature
mismatches, leaked tensors, control flow.

Each probe is a snippet whose last line is its result expression; ``tf``, ``np`` and a flushing
``print`` are defined. A probe's description is its result (tests/api/probes.describe) and the
text it printed (stdout and stderr together, in order).
"""

from __future__ import annotations

import linecache

import numpy as np

from tests.api.probes import describe

PRELUDE = """
import functools
print = functools.partial(print, flush=True)
"""

PROBES: dict[str, str] = {
    "trace_print_vs_tf_print": """
@tf.function
def f(x):
    print("Traced with", x)
    tf.print("Executed with", x)
f(1)
f(1)
f(2)
f.experimental_get_tracing_count()""",
    "symbolic_tensor_str_and_repr": """
@tf.function
def f(x):
    print(x)
    print(repr(x))
    return x
f(tf.constant([1, 2]))
f.experimental_get_tracing_count()""",
    "retrace_per_dtype_and_shape": """
f = tf.function(lambda x: x + x)
f(tf.constant(1.0)); f(tf.constant(2.0)); f(tf.constant([1.0])); f(tf.constant(1))
f(tf.constant([[1.0]])); f(tf.constant([3.0]))
f.experimental_get_tracing_count()""",
    "python_values_by_value": """
@tf.function
def f(x, n):
    return x * n
x = tf.constant(2.0)
r = [f(x, 1), f(x, 1.0), f(x, True), f(x, 2), f(x, 2)]
(r, f.experimental_get_tracing_count())""",
    "lists_and_dicts": """
@tf.function
def f(pair, d):
    return pair[0] + pair[1] + d["a"]
a = tf.constant(1.0)
r = [f([a, a], {"a": a}), f((a, a), {"a": a}), f([a, a], {"a": a})]
(r, f.experimental_get_tracing_count())""",
    "return_python_value_is_a_tensor": """
tf.function(lambda: 1)()""",
    "return_float_and_none": """
tf.function(lambda x: (x, None, 2.5))(tf.constant(1.0))""",
    "return_object_raises": """
tf.function(lambda: object())()""",
    "input_signature_none_dims": """
f = tf.function(lambda x: tf.reduce_sum(x), input_signature=[tf.TensorSpec([None], tf.float32)])
r = [f(tf.constant([1.0, 2.0])), f(tf.constant([1.0, 2.0, 3.0])), f([4.0, 5.0])]
(r, f.experimental_get_tracing_count())""",
    "input_signature_dtype_mismatch": """
f = tf.function(lambda x: x, input_signature=[tf.TensorSpec([None], tf.float32)])
f(tf.constant([1, 2]))""",
    "input_signature_rank_mismatch": """
f = tf.function(lambda x: x, input_signature=[tf.TensorSpec([None], tf.float32)])
f(tf.constant([[1.0]]))""",
    "input_signature_not_specs": """
tf.function(lambda x: x, input_signature=[1.0])""",
    "reduce_retracing": """
f = tf.function(lambda x: x * 2.0, reduce_retracing=True)
r = [f(tf.ones([n])) for n in (1, 2, 3, 4, 5)]
(r[-1], f.experimental_get_tracing_count())""",
    "variable_created_once": """
class Counter:
    def __init__(self):
        self.v = None
    @tf.function
    def __call__(self, x):
        if self.v is None:
            self.v = tf.Variable(0.0)
        self.v.assign_add(x)
        return self.v.read_value()
c = Counter()
[c(tf.constant(1.0)), c(tf.constant(2.0)), c(tf.constant(3.0))]""",
    "variable_created_on_second_trace": """
@tf.function
def f(x):
    v = tf.Variable(1.0)
    return x * v
f(tf.constant(1.0))
f(tf.constant([1.0]))""",
    "variable_created_on_every_trace": """
@tf.function
def f(x):
    print("tracing")
    v = tf.Variable(1.0)
    return v
f(1.0)""",
    "variable_reads_replay_current_value": """
v = tf.Variable(1.0)
f = tf.function(lambda x: x * v)
r = [f(tf.constant(2.0))]
v.assign(5.0)
r.append(f(tf.constant(2.0)))
(r, f.experimental_get_tracing_count())""",
    "assign_in_function": """
v = tf.Variable(1.0)
@tf.function
def step(x):
    v.assign_add(x)
    v.assign(v * 2.0)
    return v.read_value() + 1.0
[step(tf.constant(1.0)), step(tf.constant(2.0)), v.read_value()]""",
    "leaked_tensor_raises": """
leak = []
@tf.function
def f(x):
    leak.append(x * 2.0)
    return x
f(tf.constant(1.0))
leak[0] + 1.0""",
    "numpy_inside_raises": """
@tf.function
def f(x):
    return x.numpy()
f(tf.constant(1.0))""",
    "get_concrete_function_signature": """
@tf.function
def f(x):
    return x * 2
c = f.get_concrete_function(tf.TensorSpec([None, 3], tf.float32))
(c(tf.ones([2, 3])), f.pretty_printed_concrete_signatures(), f.experimental_get_tracing_count())""",
    "python_function_attribute": """
f = tf.function(lambda x: x + 1)
f.python_function(2)""",
    "gradient_through_a_call": """
w = tf.Variable([[1.0, 2.0], [3.0, 4.0]])
f = tf.function(lambda x: tf.reduce_sum(tf.matmul(x, w) ** 2))
x = tf.constant([[1.0, 1.0]])
with tf.GradientTape() as tape:
    loss = f(x)
tape.gradient(loss, w)""",
    "tape_inside_the_function": """
@tf.function
def g(x):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.sin(x) * x
    return tape.gradient(y, x)
[g(tf.constant(1.0)), g(tf.constant(2.0)), g.experimental_get_tracing_count()]""",
    "cond_in_function": """
f = tf.function(lambda x: tf.cond(x > 0, lambda: x * x, lambda: -x))
r = []
for v in (3.0, -2.0):
    x = tf.constant(v)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = f(x)
    r.append((y, tape.gradient(y, x)))
(r, f.experimental_get_tracing_count())""",
    "while_loop_in_function": """
f = tf.function(lambda n: tf.while_loop(lambda i, s: i < n, lambda i, s: (i + 1, s + i), (0, 0)))
([f(tf.constant(4)), f(tf.constant(5))], f.experimental_get_tracing_count())""",
    "autograph_if_and_while": """
@tf.function
def f(x):
    if tf.reduce_sum(x) > 0:
        y = x * 2.0
    else:
        y = -x
    while tf.reduce_sum(y) < 100.0:
        y = y * 3.0
    return y
([f(tf.constant([1.0, 2.0])), f(tf.constant([-1.0, -2.0]))], f.experimental_get_tracing_count())""",
    "autograph_for_range": """
@tf.function
def f(n):
    s = 0
    for i in tf.range(n):
        s = s + i * i
    return s
([f(tf.constant(3)), f(tf.constant(6))], f.experimental_get_tracing_count())""",
    "run_functions_eagerly": """
calls = []
@tf.function
def f(x):
    calls.append(1)
    return x
tf.config.run_functions_eagerly(True)
try:
    f(tf.constant(1.0)); f(tf.constant(1.0))
finally:
    tf.config.run_functions_eagerly(False)
(len(calls), f.experimental_get_tracing_count())""",
    "autograph_return_inside_if": """
@tf.function
def f(x, flag):
    y = x * 2.0
    if flag:
        return y
    if tf.reduce_sum(x) > 0:
        z = y + 1.0
        if tf.reduce_sum(x) > 10:
            return z * 100.0
        else:
            return z
    y = y - 1.0
    return y
r = [f(tf.constant(v), b) for v in (1.0, 20.0, -1.0) for b in (False, True)]
(r, f.experimental_get_tracing_count())""",
    "autograph_return_python_zero_in_one_branch": """
def simple_relu(x):
    if tf.greater(x, 0):
        return x
    else:
        return 0
f = tf.function(simple_relu)
([f(tf.constant(1)), f(tf.constant(-1))], f.experimental_get_tracing_count())""",
    "autograph_break_and_continue_in_while": """
@tf.function
def f(x):
    i = tf.constant(0)
    while i < 10:
        i += 1
        if i % 2 == 0:
            continue
        if i > 7:
            break
        x = x + tf.cast(i, tf.float32)
    return x, i
([f(tf.constant(0.0)), f(tf.constant(1.0))], f.experimental_get_tracing_count())""",
    "autograph_break_and_continue_in_for_range": """
@tf.function
def f(n):
    s = 0
    for i in tf.range(n):
        if i > 5:
            break
        if i % 3 == 0:
            continue
        s += i
    return s
([f(tf.constant(10)), f(tf.constant(4)), f(tf.constant(0))], f.experimental_get_tracing_count())""",
    "autograph_break_in_a_range_with_known_bounds": """
@tf.function
def f(x):
    s = x
    for i in tf.range(6):
        if i == 4:
            break
        if i % 2 == 1:
            continue
        s = s + tf.cast(i, tf.float32)
    for j in tf.range(6):
        if s > 3.0:
            break
        s = s + 1.0
    return s
([f(tf.constant(0.0)), f(tf.constant(10.0))], f.experimental_get_tracing_count())""",
    "autograph_break_on_a_tensor_condition": """
@tf.function
def f(x):
    while x < 1000.0:
        x = x * 2.0
        if x > 100.0:
            break
    return x
([f(tf.constant(3.0)), f(tf.constant(1000.0))], f.experimental_get_tracing_count())""",
    "autograph_for_over_a_dataset": """
@tf.function
def f(dataset):
    total = tf.constant(0.0)
    for x in dataset:
        if x > 2.5:
            break
        total += x
    return total * 2.0
ds = tf.data.Dataset.from_tensor_slices([1.0, 2.0, 3.0, 4.0])
([f(ds), f(ds)], f.experimental_get_tracing_count())""",
    "autograph_for_over_batches_with_a_short_last_one": """
@tf.function
def f(data):
    s = tf.constant(0)
    for batch in data:
        s += tf.reduce_sum(batch) * tf.shape(batch)[0]
    return s
ds = tf.data.Dataset.range(5).batch(2).map(lambda b: tf.cast(b, tf.int32))
([f(ds), f(ds)], f.experimental_get_tracing_count())""",
    "autograph_for_over_a_dataset_prints_every_call": """
@tf.function
def f(dataset):
    for x, y in dataset:
        tf.print(x, y)
ds = tf.data.Dataset.from_tensor_slices(([1, 2], [3, 4]))
f(ds)
f(ds)
f.experimental_get_tracing_count()""",
    "autograph_for_over_a_tensor": """
@tf.function
def f(x):
    total = tf.zeros([3])
    for row in x:
        if tf.reduce_sum(row) > 5:
            break
        total += row
    return total
x = tf.constant([[1., 2., 0.], [0., 1., 1.], [5., 5., 5.], [1., 1., 1.]])
with tf.GradientTape() as tape:
    tape.watch(x)
    y = tf.reduce_sum(f(x) ** 2)
(f(x), f(x[:1]), tape.gradient(y, x), f.experimental_get_tracing_count())""",
    "gather_with_a_traced_index": """
f = tf.function(lambda x, i: tf.gather(x, i) * 2.0)
x = tf.constant([[1., 2.], [3., 4.]])
r = [f(x, tf.constant(1)), f(x, tf.constant(0))]
try:
    f(x, tf.constant(5))
except Exception as error:
    r.append(type(error).__name__)
(r, f.experimental_get_tracing_count())""",
    "next_on_a_dataset_iterator_argument": """
@tf.function
def f(iterator):
    tf.print("Value:", next(iterator))
iterator = iter(tf.data.Dataset.from_tensor_slices([1, 2, 3]))
f(iterator)
f(iterator)
f(iterator)
f.experimental_get_tracing_count()""",
    "next_past_the_end_raises": """
@tf.function
def f(iterator):
    return next(iterator)
iterator = iter(tf.data.Dataset.from_tensor_slices([1]))
f(iterator)
f(iterator)""",
    "recursion_traces_each_python_value_and_fails_on_a_tensor": """
@tf.function
def f(n):
    if n > 0:
        return f(n - 1)
    else:
        return 1
r = [f(3), f.experimental_get_tracing_count()]
try:
    f(tf.constant(5))  # (both branches are traced: the recursion never ends)
except Exception as error:
    r.append(type(error).__name__)
r""",
    "string_add_in_function": """
f = tf.function(lambda a: a + a)
([f(tf.constant("a")), f(tf.constant(["x", "yz"]))], f.experimental_get_tracing_count())""",
    "integer_mean_in_function": """
f = tf.function(lambda a, b: tf.reduce_mean(tf.pow(a - b, 2)))
f(tf.constant([1, 5, 2]), tf.constant([4, 1, 2]))""",
    "py_function_as_a_decorator": """
@tf.py_function(Tout=tf.float32)
def plus(x, y):
    print("Executing eagerly.")
    return x + y
@tf.function
def f(x, y):
    print("Tracing.")
    return plus(x, y)
[f(tf.constant(1.0), tf.constant(2.0)), f(tf.constant(3.0), tf.constant(2.0))]""",
    "py_function_without_inputs_runs_every_call": """
count = [0]
def source():
    count[0] += 1
    return float(count[0])
f = tf.function(lambda: tf.py_function(source, [], tf.float32) * 2.0)
[f(), f(), f()]""",
    "trace_type_protocol": """
class Kind(tf.types.experimental.TraceType):
    def __init__(self, fruit):
        self.kind = type(fruit)
        self.fruit = fruit
    def is_subtype_of(self, other):
        return type(other) is Kind and self.kind is other.kind
    def most_specific_common_supertype(self, others):
        return self if all(self == other for other in others) else None
    def placeholder_value(self, placeholder_context=None):
        return self.fruit
    def __eq__(self, other):
        return type(other) is Kind and self.kind is other.kind
    def __hash__(self):
        return hash(self.kind)
class Fruit:
    def __tf_tracing_type__(self, context):
        return Kind(self)
class Apple(Fruit):
    flavor = tf.constant([1, 2])
class Mango(Fruit):
    flavor = tf.constant([3, 4])
f = tf.function(lambda a, b: a.flavor + b.flavor)
r = [f(Apple(), Mango()), f(Apple(), Mango()), f(Mango(), Mango())]
(r, f.experimental_get_tracing_count())""",
    "concrete_function_signatures": """
@tf.function
def f(x, n):
    return x * n
c = f.get_concrete_function(tf.TensorSpec([None, 3], tf.float32, name="x"), 2)
d = f.get_concrete_function(tf.constant([1, 2]), 3)
texts = (str(c.function_type), str(c.structured_outputs), f.pretty_printed_concrete_signatures())
(texts, repr(c.structured_input_signature), c(tf.ones([2, 3])), d(tf.constant([4, 5])))""",
    "list_argument_is_a_literal_signature": """
@tf.function
def f(x):
    return tf.maximum(0., x)
r = [f([1, -1]), f([1, -1]), f([2, -1])]
(r, f.experimental_get_tracing_count(), f.pretty_printed_concrete_signatures())""",
    "dtypes_namespace": """
names = (tf.dtypes.as_dtype("float64").name, tf.dtypes.double.name, tf.dtypes.string.name)
(tf.dtypes.int32 is tf.int32, names, tf.dtypes.cast(tf.constant(2.7), tf.dtypes.int32))""",
    "retracing_warning": """
import logging
messages = []
class Collect(logging.Handler):
    def emit(self, record):
        messages.append(record.getMessage())
handler = Collect()
logger, level = tf.get_logger(), tf.get_logger().level
logger.addHandler(handler)
logger.setLevel(logging.WARNING)
f = tf.function(lambda x: x + 1)
for n in range(1, 9):
    f(tf.ones([n]))
logger.removeHandler(handler)
logger.setLevel(level)
[(m.split(" calls to ")[0], m.split(" triggered ")[1][:27]) for m in messages if "retrac" in m]""",
    "tf_print_formats": """
tf.print(tf.constant(0.1234567), tf.constant([1.5, 2.0]), tf.range(10), "text", 2.5, [1, 2])
tf.print(tf.constant([[1, 2], [3, 4]]))
tf.print(tf.constant(True), tf.constant(1e-5), tf.constant(0.1, tf.float64))
None""",
}


def run_probe(tf, name: str, source: str, capture) -> dict:
    """``{"result": ..., "output": ...}`` for ``source``; ``capture(thunk)`` runs the thunk and
    returns (its result, the text printed meanwhile). The snippet gets a file name in the line
    cache, so AutoGraph (TensorFlow's and tapegrad's) can read its functions' source."""
    namespace = {"tf": tf, "np": np}
    exec(PRELUDE, namespace)
    lines = source.strip().splitlines()
    body = "\n".join(lines[:-1]) + "\n"
    filename = f"<function probe {name}>"
    linecache.cache[filename] = (len(body), None, body.splitlines(keepends=True), filename)

    def run():
        try:
            exec(compile(body, filename, "exec"), namespace)
            return describe(eval(lines[-1], namespace))
        except Exception as error:
            return describe(error)

    result, text = capture(run)
    return {"result": result, "output": text}
