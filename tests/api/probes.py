"""Small code snippets run under TensorFlow 2.21 and under tapegrad; their results are compared.

Each probe is a snippet whose last expression is its result (``tf`` and ``np`` are defined, and
``grad(f, *xs)`` gives the gradients of ``reduce_sum(f(*xs))`` for the tensors ``xs``). A result
is described as plain JSON: tensors by dtype, shape and values, exceptions by their type name.
"""

from __future__ import annotations

import numpy as np

PRELUDE = """
def kind(value):
    # what NumPy handed back: tensor, ndarray, NumPy scalar (or the type), and its dtype
    sort = ("ndarray" if isinstance(value, np.ndarray) else "numpy scalar"
            if isinstance(value, np.generic) else "tensor" if hasattr(value, "numpy")
            else type(value).__name__)
    dtype = getattr(value, "dtype", None)
    return sort if dtype is None else f"{sort} {getattr(dtype, 'name', dtype)}"

def grad(f, *xs):
    xs = [tf.convert_to_tensor(x) for x in xs]
    with tf.GradientTape() as tape:
        for x in xs:
            tape.watch(x)
        y = tf.reduce_sum(f(*xs))
    return tape.gradient(y, xs)
"""


def describe(value):
    """A JSON-able description of a probe's result."""
    if isinstance(value, BaseException):
        return {"raises": type(value).__name__}
    if type(value).__name__ == "IndexedSlices":  # compared as the dense gradient it stands for
        dense = np.zeros(value.dense_shape.numpy(), dtype=value.values.numpy().dtype)
        np.add.at(dense, value.indices.numpy(), value.values.numpy())
        return {"dtype": value.values.dtype.name, "shape": list(dense.shape),
                "value": describe(dense.tolist())}
    if hasattr(value, "numpy") and hasattr(value, "dtype") and hasattr(value, "shape"):
        return {"dtype": value.dtype.name, "shape": list(value.shape),
                "value": describe(value.numpy().tolist() if value.ndim else value.numpy())}
    if isinstance(value, np.generic):
        return describe(value.item())
    if isinstance(value, np.ndarray):
        return {"ndarray": str(value.dtype), "value": describe(value.tolist())}
    if isinstance(value, (list, tuple)):
        return [describe(item) for item in value]
    if isinstance(value, dict):
        return {"dict": {str(key): describe(item) for key, item in value.items()}}
    if isinstance(value, bytes):
        return {"bytes": value.decode("latin-1")}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return {"repr": repr(value)}


def run_probe(tf, source: str):
    """The description of ``source``'s result (its last line is the result expression)."""
    namespace = {"tf": tf, "np": np}
    exec(PRELUDE, namespace)
    lines = source.strip().splitlines()
    try:
        exec("\n".join(lines[:-1]), namespace)
        return describe(eval(lines[-1], namespace))
    except Exception as error:
        return describe(error)


def same(expected, actual, rtol: float = 1e-5, atol: float = 1e-6) -> bool:
    """Whether two descriptions agree (floats to a relative ``rtol``)."""
    if isinstance(expected, float) and isinstance(actual, (int, float)):
        return bool(np.isclose(expected, actual, rtol=rtol, atol=atol, equal_nan=True))
    if isinstance(expected, list) and isinstance(actual, list):
        return len(expected) == len(actual) and all(
            same(e, a, rtol, atol) for e, a in zip(expected, actual))
    if isinstance(expected, dict) and isinstance(actual, dict):
        return expected.keys() == actual.keys() and all(
            same(expected[key], actual[key], rtol, atol) for key in expected)
    return type(expected) is type(actual) and expected == actual


# two small text files for the TextLineDataset probes (CRLF, an empty line, no final newline)
TEXT_FILES = """import os, tempfile
folder = tempfile.mkdtemp()
first, second = os.path.join(folder, "a.txt"), os.path.join(folder, "b.txt")
_ = open(first, "wb").write(b"hello world\\nsecond line\\r\\nthird\\n\\nlast no newline")
_ = open(second, "wb").write(b"x\\ny\\n")
"""

# NumPy on tensors: as on TensorFlow's eager tensors, a NumPy function or ufunc returns a NumPy
# value (its kind and dtype are compared too), off the tape; a Python operator with a NumPy value
# on the left goes to the tensor and returns a tensor.
NUMPY_VALUES = "t = tf.constant([[1.0, 2.0], [3.0, 4.0]])\nv = tf.Variable([1.5, -2.0])\n" \
               "i = tf.constant([1, 2])\n"
NUMPY_CALLS = {
    "add_scalar": "np.add(t, 1)", "add_int_tensor": "np.add(i, 1)",
    "add_two_tensors": "np.add(t, t)",
    "add_out": "np.add(t, t, out=np.zeros((2, 2), np.float32))",
    "sin_variable": "np.sin(v)", "square_variable": "np.square(v)",
    "exp_scalar_tensor": "np.exp(tf.constant(1.0))",
    "maximum_tensor_array": "np.maximum(t, np.full((2, 2), 2.5, np.float32))",
    "greater": "np.greater(t, 2.0)", "add_reduce": "np.add.reduce(t, axis=1)",
    "mean": "np.mean(t)", "mean_axis": "np.mean(t, axis=0)", "mean_int_tensor": "np.mean(i)",
    "mean_variable": "np.mean(v)", "mean_list_of_tensors": "np.mean([t, t])",
    "sum_axis": "np.sum(t, axis=0)", "max": "np.max(t)", "argmax": "np.argmax(t)",
    "reshape": "np.reshape(t, [4])", "transpose": "np.transpose(t)",
    "concatenate": "np.concatenate([t, t])", "where": "np.where(t > 2.0, t, 0.0)",
    "clip": "np.clip(t, 0.0, 2.0)", "round": "np.round(t * 1.26, 1)", "dot": "np.dot(t, t)",
    "median": "np.median(t)", "shape": "repr(np.shape(t))", "asarray": "np.asarray(t)",
    "array_variable": "np.array(v)", "asarray_dtype": "np.asarray(t, dtype=np.float64)",
    # np.flip indexes whatever has an `ndim`: the tensor's own __getitem__ answers
    "flip": "np.flip(t, 1)", "rot90": "np.rot90(t)",
    "ndarray_plus_tensor": "np.ones((2, 2), np.float32) + t",
    "ndarray_matmul_tensor": "np.ones((2, 2), np.float32) @ t",
    "float64_ndarray_plus_tensor": "np.ones((2, 2)) + t",
    "numpy_float32_times_tensor": "np.float32(2.0) * t",
    "numpy_float64_times_tensor": "np.float64(2.0) * t",
    "ndarray_times_variable": "np.full(2, 3.0, np.float32) * v",
}

# tf.keras.losses / tf.keras.metrics: TF 2.21's tf.keras (Keras 3's legacy namespace) lacks the
# long names of some loss functions (tensorflow/tensorflow#69851) but keeps their aliases and
# their string identifiers
KERAS_LONG_NAMES = ["mean_squared_error", "mean_absolute_error", "mean_absolute_percentage_error",
                    "mean_squared_logarithmic_error", "kl_divergence", "log_cosh"]
KERAS_ALIASES = ["mse", "MSE", "mae", "MAE", "mape", "MAPE", "msle", "MSLE", "kld", "KLD",
                 "kullback_leibler_divergence", "logcosh"]
KERAS_SHARED = ["binary_crossentropy", "categorical_crossentropy",
                "sparse_categorical_crossentropy", "hinge", "huber"]  # in both namespaces too
KERAS_IDENTIFIERS = KERAS_LONG_NAMES + KERAS_ALIASES + [
    "MeanSquaredError", "MeanSquaredLogarithmicError", "KLDivergence", "LogCosh", "LogCoshError"]
KERAS_PAIRS = ("y_true = tf.constant([[0.2, 0.8], [0.5, 0.5], [1.0, 0.0]])\n"
               "y_pred = tf.constant([[0.3, 0.7], [0.9, 0.1], [0.6, 0.4]])\n")
KERAS_GET = ("def got(module, identifier):\n"
             "    try:\n"
             "        found = module.get(identifier)\n"
             "    except ValueError as error:\n"
             "        return str(error)\n"
             "    return getattr(found, '__name__', None) or [type(found).__name__, found.name]\n")
KERAS_MODEL = ("x = tf.constant([[0.0], [1.0], [2.0], [3.0]])\ny = 3.0 * x + 2.0\n"
               "model = tf.keras.Sequential([\n"
               "    tf.keras.layers.Dense(1, kernel_initializer='ones')])\n")

PROBES: dict[str, str] = {
    # formatting and printing
    "format_scalar_spec": 'f"{tf.constant(3.14159):.3f}"',
    "format_vector_empty_spec": '"{}".format(tf.constant([1, 2]))',
    "format_vector_spec": 'f"{tf.constant([1.0, 2.0]):.2f}"',
    "format_int_spec": 'f"{tf.constant(7):04d}"',
    "format_variable_spec": 'f"{tf.Variable(1.5):.1f}"',
    "format_variable_empty_spec": '"{}".format(tf.Variable([1, 2]))',
    "str_float_matrix": "str(tf.constant([[1.0, 2.5], [3.0, 4.0]]))",
    "repr_float_matrix": "repr(tf.constant([[1.0, 2.5], [3.0, 4.0]]))",
    "repr_int_scalar": "repr(tf.constant(3))",
    "repr_bool_vector": "repr(tf.constant([True, False]))",
    "repr_variable": "repr(tf.Variable([1.0, 2.0], name='v'))",
    "str_dtype": "str(tf.float32)",
    "repr_dtype": "repr(tf.int64)",
    # string tensors hold bytes
    "string_numpy": 'tf.constant("ab").numpy()',
    "string_vector_numpy": 'tf.constant(["ab", "c"]).numpy().tolist()',
    "string_str": 'str(tf.constant("ab"))',
    "string_repr": 'repr(tf.constant("ab"))',
    "string_vector_str": 'str(tf.constant(["ab", "c"]))',
    "string_unicode_repr": 'repr(tf.constant("é"))',
    "string_from_bytes": 'tf.constant(b"\\xff").numpy()',
    "string_from_numpy_str": 'tf.constant(np.array(["x", "yz"])).numpy().tolist()',
    "string_dtype_arg": 'tf.constant(["a"], dtype=tf.string).numpy().tolist()',
    "string_variable_numpy": 'tf.Variable("ab").numpy()',
    "string_bad_element": 'tf.constant(["a", 1])',
    "string_index_element": 't = tf.constant(["ab", "c"])\n(t[0], t[1:], repr(t[0]))',
    "string_iterate_and_unstack": 't = tf.constant(["ab", "c"])\n'
                                  '([x.numpy() for x in t], [x.numpy() for x in tf.unstack(t)])',
    "string_gather_reshape": 't = tf.constant(["a", "b", "c"])\n'
                             '(tf.gather(t, [2, 0]), tf.gather(t, 1), tf.reshape(t, [3, 1]))',
    "string_equal": 'tf.constant(["a", "b"]) == tf.constant(["a", "c"])',
    "string_variable_assign": 'v = tf.Variable(["a", "b"])\n_ = v.assign(["c", "d"])\n'
                              'repr(v)',
    "string_dataset_elements": 'ds = tf.data.Dataset.from_tensor_slices(["a", "bc"])\n'
                               '([x for x in ds], list(ds.batch(2).as_numpy_iterator()))',
    "string_dataset_pairs": 'list(tf.data.Dataset.from_tensor_slices((["a", "b"], [1, 2]))'
                            '.as_numpy_iterator())',
    # TensorSpec
    "spec_repr": 'repr(tf.TensorSpec([None, 3], tf.float32, name="x"))',
    "spec_str": 'str(tf.TensorSpec([None, 3], tf.int32))',
    "spec_unknown_repr": "repr(tf.TensorSpec(None))",
    "spec_unknown_shape": "(str(tf.TensorSpec(None).shape), repr(tf.TensorSpec(None).shape), "
                          "tf.TensorSpec(None).shape.rank)",
    "spec_scalar_repr": "repr(tf.TensorSpec([]))",
    "spec_int_shape": "repr(tf.TensorSpec(4, 'int64'))",
    "spec_fields": 'spec = tf.TensorSpec([None, 3], "float64", name="x")\n'
                   "(spec.shape.as_list(), repr(spec.shape), str(spec.dtype), spec.name)",
    "spec_compatible_tensor": "tf.TensorSpec([None, 3]).is_compatible_with(tf.zeros([2, 3]))",
    "spec_incompatible_shape": "tf.TensorSpec([None, 3]).is_compatible_with(tf.zeros([2, 4]))",
    "spec_incompatible_dtype": "tf.TensorSpec([None, 3]).is_compatible_with("
                               "tf.zeros([2, 3], tf.int32))",
    "spec_unknown_compatible": "tf.TensorSpec(None).is_compatible_with(tf.zeros([2, 3, 4]))",
    "spec_compatible_spec": "(tf.TensorSpec([None, 3]).is_compatible_with(tf.TensorSpec([5, 3])),"
                            " tf.TensorSpec([5, 3]).is_compatible_with(tf.TensorSpec([None, 3])),"
                            " tf.TensorSpec([5]).is_compatible_with(tf.TensorSpec([5, 1])))",
    "spec_compatible_python_value": "tf.TensorSpec([]).is_compatible_with(3.0)",
    "spec_compatible_variable": "tf.TensorSpec([]).is_compatible_with(tf.Variable(3.0))",
    "spec_from_tensor": 'repr(tf.TensorSpec.from_tensor(tf.zeros([2, 3]), name="z"))',
    "spec_from_tensor_int": "repr(tf.TensorSpec.from_tensor(tf.constant(1)))",
    "spec_from_spec": 'repr(tf.TensorSpec.from_spec(tf.TensorSpec([2], name="a"), name="b"))',
    "spec_eq": 'tf.TensorSpec([None, 3], name="x") == tf.TensorSpec((None, 3), tf.float32, "x")',
    "spec_ne_name": 'tf.TensorSpec([None, 3], name="x") == tf.TensorSpec([None, 3])',
    "spec_ne_shape": "tf.TensorSpec([1]) != tf.TensorSpec([2])",
    "spec_hash": 'hash(tf.TensorSpec([None, 3], name="x")) == '
                 'hash(tf.TensorSpec([None, 3], name="x"))',
    "spec_bad_shape_text": 'tf.TensorSpec("a")',
    "spec_bad_shape_float": "tf.TensorSpec([1.5])",
    "spec_bad_shape_negative": "tf.TensorSpec([-2])",
    "spec_bad_dtype": 'tf.TensorSpec([2], "foo")',
    "spec_shape_fully_defined": "(tf.TensorSpec([None, 3]).shape.is_fully_defined(), "
                                "tf.TensorSpec([2, 3]).shape.is_fully_defined())",
    "function_signature_runs": "f = tf.function(lambda x: x * 2.0, "
                               "input_signature=[tf.TensorSpec(None)])\nf(tf.constant(2.0))",
    "function_signature_not_sequence": "tf.function(lambda x: x, "
                                       "input_signature=tf.TensorSpec(None))",
    "function_signature_not_specs": "tf.function(lambda x: x, input_signature=[3])",
    # device
    "device_cpu": 'with tf.device("CPU:0"):\n    x = tf.constant(1.0)\nx.device',
    "device_names": "names = ['/CPU:0', 'cpu:0', 'GPU:0', '/device:CPU:0', 'cpu', '', None,\n"
                    "         '/job:localhost/replica:0/task:0/device:CPU:0', '/gpu:1']\n"
                    "for n in names:\n    with tf.device(n):\n        pass\nTrue",
    "device_unknown_attribute": 'tf.device("foo").__enter__()',
    "device_bad_index": 'tf.device("CPU:x").__enter__()',
    "device_not_string": "tf.device(3).__enter__()",
    "device_two_types": 'tf.device("/CPU:0/GPU:0").__enter__()',
    # map_fn
    "map_fn_square": "tf.map_fn(lambda x: x * x, tf.constant([1.0, 2.0, 3.0]))",
    "map_fn_rows": "tf.map_fn(tf.reduce_sum, tf.constant([[1, 2], [3, 4]]))",
    "map_fn_tuple_signature": "tf.map_fn(lambda p: p[0] + p[1], "
                              "(tf.constant([1, 2]), tf.constant([10, 20])), "
                              "fn_output_signature=tf.int32)",
    "map_fn_two_outputs": "tf.map_fn(lambda x: (x, x * 2.0), (tf.constant([1.0, 2.0]), "
                          "tf.constant([3.0, 4.0])))",
    "map_fn_dtype_change": "tf.map_fn(lambda x: tf.cast(x, tf.int32), tf.constant([1.0, 2.0]), "
                           "fn_output_signature=tf.int32)",
    "map_fn_spec_signature": "tf.map_fn(lambda x: tf.cast(x, tf.int32), tf.constant([1.0]), "
                             "fn_output_signature=tf.TensorSpec([], tf.int32))",
    "map_fn_python_list": "tf.map_fn(lambda x: x * 2, [1.0, 2.0])",
    "map_fn_empty": "tf.map_fn(lambda x: x, tf.zeros([0, 2]))",
    "map_fn_scalar": "tf.map_fn(lambda x: x, tf.constant(1.0))",
    "map_fn_dtype_change_unsigned": "tf.map_fn(lambda x: tf.cast(x, tf.int32), "
                                    "tf.constant([1.0, 2.0]))",
    "map_fn_mismatched_sizes": "tf.map_fn(lambda p: p[0], (tf.constant([1.0, 2.0]), "
                               "tf.constant([1.0])))",
    "map_fn_structure_mismatch": "tf.map_fn(lambda x: (x, x), tf.constant([1.0, 2.0]))",
    "map_fn_dict": "tf.map_fn(lambda d: d['a'] * d['b'], {'a': tf.constant([1.0, 2.0]), "
                   "'b': tf.constant([3.0, 4.0])}, fn_output_signature=tf.float32)",
    "map_fn_gradient": "grad(lambda x: tf.map_fn(lambda r: tf.reduce_sum(r * r), x), "
                       "tf.constant([[1.0, 2.0], [3.0, 4.0]]))",
    # tensor_scatter_nd_min / max
    "scatter_max_values": "tf.tensor_scatter_nd_max([1, 5, 3], [[0], [1], [0]], [4, 2, 7])",
    "scatter_min_values": "tf.tensor_scatter_nd_min([[1.0, 5.0], [3.0, 0.0]], [[0, 1], [1, 1]], "
                          "[2.0, -1.0])",
    "scatter_max_rows": "tf.tensor_scatter_nd_max(tf.zeros([3, 2]), [[2], [0]], "
                        "[[1.0, -1.0], [-2.0, 3.0]])",
    "scatter_max_gradient": "grad(lambda t, u: tf.tensor_scatter_nd_max(t, [[0], [2], [0]], u) "
                            "* [1.0, 2.0, 3.0], tf.constant([0.5, 1.0, 4.0]), "
                            "tf.constant([0.2, 9.0, 3.0]))",
    "scatter_min_gradient_ties": "grad(lambda t, u: tf.tensor_scatter_nd_min(t, [[0], [1], [1]], "
                                 "u) * [1.0, 2.0], tf.constant([1.0, 2.0]), "
                                 "tf.constant([1.0, 2.0, 2.0]))",
    "scatter_max_bad_index": "tf.tensor_scatter_nd_max([1, 2], [[5]], [3])",
    "scatter_max_dtype_mismatch": "tf.tensor_scatter_nd_max(tf.constant([1.0, 2.0]), [[0]], "
                                  "tf.constant([3], tf.int32))",
    # tf.sparse
    "sparse_repr": "repr(tf.sparse.SparseTensor(indices=[[0, 0], [1, 2]], values=[1, 2], "
                   "dense_shape=[3, 4]))",
    "sparse_str": "str(tf.SparseTensor([[0, 1]], [2.5], [2, 2]))",
    "sparse_fields": "st = tf.sparse.SparseTensor([[0, 1], [2, 0]], [1.0, 2.0], [3, 2])\n"
                     "(st.indices, st.values, st.dense_shape, st.shape.as_list(), st.dtype.name)",
    "sparse_to_dense": "tf.sparse.to_dense(tf.sparse.SparseTensor([[0, 0], [1, 2]], [1, 2], "
                       "[3, 4]))",
    "sparse_to_dense_default": "tf.sparse.to_dense(tf.sparse.SparseTensor([[1]], [5.0], [3]), "
                               "default_value=-1.0)",
    "sparse_to_dense_unordered": "tf.sparse.to_dense(tf.sparse.SparseTensor([[1, 0], [0, 0]], "
                                 "[1, 2], [2, 2]))",
    "sparse_to_dense_repeated": "tf.sparse.to_dense(tf.sparse.SparseTensor([[0, 0], [0, 0]], "
                                "[1, 2], [2, 2]))",
    "sparse_to_dense_out_of_bounds": "tf.sparse.to_dense(tf.sparse.SparseTensor([[0, 5]], [1], "
                                     "[2, 2]))",
    "sparse_bad_values_count": "tf.sparse.SparseTensor([[1, 0], [0, 0]], [1, 2, 3], [2, 2])",
    "sparse_bad_rank": "tf.sparse.SparseTensor([[1, 0]], [1], [2, 2, 2])",
    "sparse_to_dense_gradient": "grad(lambda v: tf.sparse.to_dense(tf.sparse.SparseTensor("
                                "[[0, 1], [2, 0]], v, [3, 2])) * [[1.0, 2.0], [3.0, 4.0], "
                                "[5.0, 6.0]], tf.constant([1.0, 1.0]))",
    "sparse_from_dense": "st = tf.sparse.from_dense(tf.constant([[0, 1], [2, 0]]))\n"
                         "(st.indices, st.values, st.dense_shape)",
    "sparse_from_dense_gradient": "grad(lambda x: tf.sparse.from_dense(x).values * [2.0, 3.0], "
                                  "tf.constant([[0.0, 1.5], [-2.0, 0.0]]))",
    "sparse_reorder": "st = tf.sparse.reorder(tf.sparse.SparseTensor([[1, 0], [0, 1]], [1, 2], "
                      "[2, 2]))\n(st.indices, st.values)",
    "sparse_add_sparse": "a = tf.sparse.SparseTensor([[0, 0], [1, 2]], [1.0, 2.0], [3, 4])\n"
                         "b = tf.sparse.SparseTensor([[0, 1], [1, 2]], [5.0, 7.0], [3, 4])\n"
                         "s = tf.sparse.add(a, b)\n(s.indices, s.values, s.dense_shape)",
    "sparse_add_dense": "tf.sparse.add(tf.sparse.SparseTensor([[0, 0], [1, 2]], [1.0, 2.0], "
                        "[2, 3]), tf.ones([2, 3]))",
    "sparse_add_threshold": "a = tf.sparse.SparseTensor([[0, 0], [0, 1]], [1.0, 0.1], [1, 2])\n"
                            "s = tf.sparse.add(a, a, threshold=0.5)\n(s.indices, s.values)",
    "sparse_add_gradients": "grad(lambda v, d: tf.sparse.add(tf.sparse.SparseTensor([[0, 0], "
                            "[1, 2]], v, [2, 3]), d) * [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], "
                            "tf.constant([1.0, 2.0]), tf.ones([2, 3]))",
    "sparse_add_sparse_gradients": "grad(lambda v, w: tf.sparse.to_dense(tf.sparse.add("
                                   "tf.sparse.SparseTensor([[0, 0], [1, 2]], v, [2, 3]), "
                                   "tf.sparse.SparseTensor([[1, 2]], w, [2, 3]))) * 3.0, "
                                   "tf.constant([1.0, 2.0]), tf.constant([4.0]))",
    "sparse_add_shape_mismatch": "tf.sparse.add(tf.sparse.SparseTensor([[0, 0]], [1.0], [2, 2]),"
                                 " tf.sparse.SparseTensor([[0, 0]], [1.0], [3, 2]))",
    "sparse_matmul": "tf.sparse.sparse_dense_matmul(tf.sparse.SparseTensor([[0, 1], [1, 0], "
                     "[1, 2]], [2.0, 3.0, 4.0], [2, 3]), tf.constant([[1.0, 2.0], [10.0, 20.0], "
                     "[100.0, 200.0]]))",
    "sparse_matmul_adjoints": "tf.sparse.sparse_dense_matmul(tf.sparse.SparseTensor([[0, 1], "
                              "[1, 0]], [2.0, 3.0], [2, 3]), tf.constant([[1.0, 2.0], "
                              "[3.0, 4.0]]), adjoint_a=True, adjoint_b=True)",
    "sparse_matmul_gradients": "grad(lambda v, b: tf.sparse.sparse_dense_matmul("
                               "tf.sparse.SparseTensor([[0, 1], [1, 0], [1, 2]], v, [2, 3]), b) "
                               "* [[1.0, 2.0], [3.0, 4.0]], tf.constant([2.0, 3.0, 4.0]), "
                               "tf.constant([[1.0, 2.0], [10.0, 20.0], [100.0, 200.0]]))",
    "sparse_matmul_bad_shape": "tf.sparse.sparse_dense_matmul(tf.sparse.SparseTensor([[0, 1]], "
                               "[2.0], [2, 3]), tf.ones([2, 2]))",
    # tf.ragged
    "ragged_repr": "repr(tf.ragged.constant([[1.0, 2.0], [], [3.5]]))",
    "ragged_str_float32": "str(tf.ragged.constant([[0.1, 1.4142135]]))",
    "ragged_str_strings": "str(tf.ragged.constant([[b'a', 'bc'], []]))",
    "ragged_fields": "rt = tf.ragged.constant([[1, 2, 3], [], [4]])\n"
                     "(str(rt.shape), rt.dtype.name, rt.ragged_rank, rt.row_lengths(), "
                     "rt.row_splits, rt.values, rt.flat_values, rt.nrows(), rt.to_list())",
    "ragged_nested": "rt = tf.ragged.constant([[[1, 2], [3]], [[4]]])\n"
                     "(str(rt), str(rt.shape), rt.ragged_rank, rt.row_lengths(), "
                     "str(rt.row_lengths(axis=2)), rt.to_tensor())",
    "ragged_ragged_rank_1": "rt = tf.ragged.constant([[[1, 2]], [[3, 4], [5, 6]]], "
                            "ragged_rank=1)\n(str(rt.shape), rt.to_tensor())",
    "ragged_to_tensor": "tf.ragged.constant([[1.0, 2.0], [], [3.5]]).to_tensor()",
    "ragged_to_tensor_default": "tf.ragged.constant([[1.0, 2.0], [], [3.5]]).to_tensor("
                                "default_value=-1.0)",
    "ragged_to_tensor_shape": "tf.ragged.constant([[1, 2, 3], [4]]).to_tensor(shape=[3, 2])",
    "ragged_to_tensor_gradient": "grad(lambda v: tf.RaggedTensor.from_row_lengths(v, [2, 0, 1])"
                                 ".to_tensor() * [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], "
                                 "tf.constant([1.0, 2.0, 3.0]))",
    "ragged_from_row_splits": "str(tf.RaggedTensor.from_row_splits([1, 2, 3], [0, 2, 2, 3]))",
    "ragged_from_value_rowids": "str(tf.RaggedTensor.from_value_rowids([1, 2, 3], [0, 0, 2]))",
    "ragged_bad_splits": "tf.RaggedTensor.from_row_splits([1, 2, 3], [0, 2])",
    "ragged_add_scalar": "str(tf.ragged.constant([[1.0, 2.0], [3.0]]) + 1.0)",
    "ragged_mul_ragged": "rt = tf.ragged.constant([[1.0, 2.0], [3.0]])\nstr(rt * rt)",
    "ragged_sub_rsub_div": "rt = tf.ragged.constant([[1.0, 2.0], [4.0]])\n"
                           "(str(rt - 1.0), str(10.0 - rt), str(rt / 2.0), str(-rt))",
    "ragged_compare": "str(tf.ragged.constant([[1, 5], [3]]) > 2)",
    "ragged_mismatched_rows": "tf.ragged.constant([[1.0, 2.0], [3.0]]) + "
                              "tf.ragged.constant([[1.0], [2.0, 3.0]])",
    "ragged_sqrt": "str(tf.math.sqrt(tf.ragged.constant([[1.0, 2.0], [], [3.5]])))",
    "ragged_unary_math": "rt = tf.ragged.constant([[0.5, 2.0], [], [-1.5]])\n"
                         "(str(tf.math.reciprocal(rt)), str(tf.math.atan(rt)), str(tf.abs(rt)), "
                         "str(tf.math.softplus(rt)))",
    "ragged_map_flat_values": "str(tf.ragged.map_flat_values(tf.square, "
                              "tf.ragged.constant([[1, 2], [3]])))",
    "ragged_reduce_max_rows": "tf.reduce_max(tf.ragged.constant([[1.0, 2.0], [], [3.5]]), "
                              "axis=1)",
    "ragged_reduce_min_rows_int": "tf.reduce_min(tf.ragged.constant([[1, 2], [], [-3]]), axis=1)",
    "ragged_reduce_mean_rows": "tf.reduce_mean(tf.ragged.constant([[1.0, 2.0], [], [3.5]]), "
                               "axis=1)",
    "ragged_reduce_mean_int": "tf.reduce_mean(tf.ragged.constant([[1, 2], [-7, 2]]), axis=1)",
    "ragged_reduce_sum_columns": "tf.reduce_sum(tf.ragged.constant([[1.0, 2.0], [], [3.5]]), "
                                 "axis=0)",
    "ragged_reduce_sum_all": "tf.reduce_sum(tf.ragged.constant([[1.0, 2.0], [], [3.5]]))",
    "ragged_reduce_sum_keepdims": "tf.reduce_sum(tf.ragged.constant([[1.0, 2.0], [3.5]]), "
                                  "axis=1, keepdims=True)",
    "ragged_reduce_sum_gradient": "grad(lambda v: tf.reduce_sum(tf.RaggedTensor."
                                  "from_row_lengths(v, [2, 1]), axis=1) * [2.0, 5.0], "
                                  "tf.constant([1.0, 2.0, 3.0]))",
    "ragged_reduce_max_gradient": "grad(lambda v: tf.reduce_max(tf.RaggedTensor."
                                  "from_row_lengths(v, [2, 1]), axis=1) * [2.0, 5.0], "
                                  "tf.constant([1.0, 2.0, 3.0]))",
    "ragged_reduce_mean_gradient": "grad(lambda v: tf.reduce_mean(tf.RaggedTensor."
                                   "from_row_lengths(v, [2, 1]), axis=1), "
                                   "tf.constant([1.0, 2.0, 3.0]))",
    "ragged_numpy": "rt = tf.ragged.constant([[1, 2], [3]])\n"
                    "[row.tolist() for row in rt.numpy()], str(rt.numpy().dtype)",
    "ragged_numpy_nested": "rt = tf.ragged.constant([[[1, 2], [3]], [[4]]])\n"
                           "[[r.tolist() for r in row] for row in rt.numpy()]",
    "ragged_bounding_shape_rowids": "rt = tf.ragged.constant([[1, 2], [3], []])\n"
                                    "(rt.bounding_shape(), rt.value_rowids())",
    "ragged_getitem": "rt = tf.ragged.constant([[1, 2], [3]])\n(rt[0], rt[-1])",
    "ragged_constant_mixed_depth": "tf.ragged.constant([[1, [2]], [3]])",
    # tf.strings and tf.io.decode_raw
    "strings_split_scalar": 'tf.strings.split(tf.constant("Gray wolf"), sep=" ")',
    "strings_split_whitespace": 'tf.strings.split(tf.constant(" a  bc d "))',
    "strings_split_sep_keeps_empty": 'tf.strings.split(tf.constant("a,,b"), sep=",")',
    "strings_split_maxsplit": 'tf.strings.split(tf.constant("a b c"), maxsplit=1)',
    "strings_split_vector": 'str(tf.strings.split(tf.constant(["Gray wolf", "Quick brown fox",'
                            ' "Lazy dog"])))',
    "strings_split_numbers": "tf.strings.split(tf.constant([1, 2]))",
    "strings_to_number_split": 'tf.strings.to_number(tf.strings.split(tf.constant("1 10 100"), '
                               '" "))',
    "strings_to_number_int": 'tf.strings.to_number(["7", "-3"], out_type=tf.int64)',
    "strings_to_number_bad": 'tf.strings.to_number(["x1"])',
    "strings_to_number_ragged": 'str(tf.strings.to_number(tf.strings.split(["1 2", "3"])))',
    "strings_bytes_split": 'tf.strings.bytes_split(tf.constant("Duck"))',
    "strings_bytes_split_vector": 'str(tf.strings.bytes_split(["ab", "c"]))',
    "strings_unicode_split": 'tf.strings.unicode_split(tf.constant("アヒル 🦆"), "UTF-8")',
    "strings_unicode_decode": 'tf.strings.unicode_decode(tf.constant("アヒル 🦆"), "UTF-8")',
    "strings_unicode_decode_vector": 'str(tf.strings.unicode_decode(["añ", "b"], "UTF-8"))',
    "strings_length": 'tf.strings.length(["ab", "ñ", ""])',
    "strings_length_chars": 'tf.strings.length(["ab", "ñ"], unit="UTF8_CHAR")',
    "strings_length_bad_unit": 'tf.strings.length(["ab"], unit="WORD")',
    "strings_lower_upper": '(tf.strings.lower(["AbC", "ÑA"]), tf.strings.upper(["abc"]))',
    "strings_lower_utf8": 'tf.strings.lower(["ÑA"], encoding="utf-8")',
    "strings_join": 'tf.strings.join(["a", ["x", "y"]], separator="-")',
    "strings_join_two": 'tf.strings.join([["a", "b"], ["c", "d"]])',
    "strings_join_mismatch": 'tf.strings.join([["a", "b"], ["c", "d", "e"]])',
    "strings_as_string_float": "tf.strings.as_string([1.5, -2.0, 3.14159])",
    "strings_as_string_precision": "tf.strings.as_string([1.5, 2.0], precision=2)",
    "strings_as_string_int": "tf.strings.as_string(tf.constant([7, -3]))",
    "strings_as_string_width": "tf.strings.as_string(tf.constant([7, 42]), width=4, fill='0')",
    "strings_as_string_scientific": "tf.strings.as_string([1234.5], scientific=True)",
    "strings_as_string_shortest": "tf.strings.as_string([0.5, 100.0], shortest=True)",
    "strings_as_string_bool": "tf.strings.as_string([True, False])",
    "strings_as_string_of_string": 'tf.strings.as_string(["a"])',
    "strings_numbers_rejected": "tf.strings.upper(tf.constant([1, 2]))",
    "io_decode_raw": 'tf.io.decode_raw(tf.constant("Duck"), tf.uint8)',
    "io_decode_raw_int16": 'tf.io.decode_raw(tf.constant(["abcd", "efgh"]), tf.int16)',
    "io_decode_raw_bad_length": 'tf.io.decode_raw(tf.constant("abc"), tf.int16)',
    # tf.image
    "image_resize_bilinear_up": "tf.image.resize(tf.reshape(tf.range(12.0), [1, 3, 4, 1]), "
                                "[5, 7])",
    "image_resize_bilinear_down": "tf.image.resize(tf.reshape(tf.range(48.0), [4, 6, 2]), "
                                  "[3, 4])",
    "image_resize_nearest_up": "tf.image.resize(tf.reshape(tf.range(12.0), [3, 4, 1]), [5, 7], "
                               "method='nearest')",
    "image_resize_nearest_down": "tf.image.resize(tf.reshape(tf.range(30.0), [5, 6, 1]), [2, 4],"
                                 " method=tf.image.ResizeMethod.NEAREST_NEIGHBOR)",
    "image_resize_nearest_int": "tf.image.resize(tf.cast(tf.reshape(tf.range(12), [3, 4, 1]), "
                                "tf.uint8), [2, 6], method='nearest')",
    "image_resize_bilinear_int": "tf.image.resize(tf.reshape(tf.range(12, dtype=tf.int32), "
                                 "[3, 4, 1]), [2, 3])",
    "image_resize_bilinear_float64": "tf.image.resize(tf.ones([2, 2, 1], tf.float64), [3, 3])",
    "image_resize_gradient_bilinear": "grad(lambda x: tf.image.resize(x, [5, 3]) * "
                                      "tf.reshape(tf.range(15.0), [1, 5, 3, 1]), "
                                      "tf.ones([1, 3, 4, 1]))",
    "image_resize_gradient_nearest": "grad(lambda x: tf.image.resize(x, [5, 3], "
                                     "method='nearest') * tf.reshape(tf.range(15.0), "
                                     "[1, 5, 3, 1]), tf.ones([1, 3, 4, 1]))",
    "image_resize_bad_rank": "tf.image.resize(tf.ones([3, 4]), [2, 2])",
    "image_resize_bad_method": "tf.image.resize(tf.ones([3, 4, 1]), [2, 2], method='cubicx')",
    "image_flip_left_right": "tf.image.flip_left_right(tf.reshape(tf.range(12), [2, 3, 2]))",
    "image_flip_up_down": "tf.image.flip_up_down(tf.reshape(tf.range(12), [1, 2, 3, 2]))",
    "image_flip_gradient": "grad(lambda x: tf.image.flip_left_right(x) * "
                           "tf.reshape(tf.range(6.0), [1, 3, 2]), tf.ones([1, 3, 2]))",
    "image_flip_bad_rank": "tf.image.flip_left_right(tf.ones([3]))",
    "image_grayscale_float": "tf.image.rgb_to_grayscale([[[1.0, 0.5, 0.25], [0.0, 1.0, 0.0]]])",
    "image_grayscale_uint8": "tf.image.rgb_to_grayscale(tf.constant([[[255, 128, 0]]], "
                             "tf.uint8))",
    "image_grayscale_gradient": "grad(tf.image.rgb_to_grayscale, "
                                "tf.constant([[[1.0, 0.5, 0.25]]]))",
    "image_grayscale_bad_channels": "tf.image.rgb_to_grayscale(tf.ones([2, 2, 4]))",
    "image_convert_uint8_float": "tf.image.convert_image_dtype(tf.constant([0, 128, 255], "
                                 "tf.uint8), tf.float32)",
    "image_convert_float_uint8": "tf.image.convert_image_dtype(tf.constant([0.0, 0.5, 1.0]), "
                                 "tf.uint8)",
    "image_convert_float_uint8_saturate": "tf.image.convert_image_dtype(tf.constant([-0.5, 2.0]),"
                                          " tf.uint8, saturate=True)",
    "image_convert_int8_int16": "tf.image.convert_image_dtype(tf.constant([1, 127], tf.int8), "
                                "tf.int16)",
    "image_convert_int16_uint8": "tf.image.convert_image_dtype(tf.constant([1000, 4000], "
                                 "tf.int16), tf.uint8)",
    "image_convert_float_float": "tf.image.convert_image_dtype(tf.constant([0.25]), tf.float64)",
    "image_convert_gradient": "grad(lambda x: tf.image.convert_image_dtype(x, tf.float64), "
                              "tf.constant([0.25, 0.5]))",
    "image_convert_bad_dtype": "tf.image.convert_image_dtype(tf.constant([0.25]), tf.string)",
    "image_adjust_contrast": "tf.image.adjust_contrast(tf.reshape(tf.range(8.0), [2, 2, 2]), "
                             "2.0)",
    "image_adjust_contrast_no_gradient": "grad(lambda x: tf.image.adjust_contrast(x, 2.0), "
                                         "tf.ones([2, 2, 1]))",
    # tf.data.TextLineDataset
    "textline_lines": TEXT_FILES + "list(tf.data.TextLineDataset(first).as_numpy_iterator())",
    "textline_two_files": TEXT_FILES + "list(tf.data.TextLineDataset([first, second])"
                                       ".as_numpy_iterator())",
    "textline_tensor_of_names": TEXT_FILES + "list(tf.data.TextLineDataset(tf.constant("
                                             "[second, first])).as_numpy_iterator())",
    "textline_element": TEXT_FILES + "next(iter(tf.data.TextLineDataset(first)))",
    "textline_cardinality": TEXT_FILES + "tf.data.TextLineDataset(first).cardinality()",
    "textline_pipeline": TEXT_FILES + "list(tf.data.TextLineDataset(first).skip(1)"
                                      ".map(tf.strings.upper).batch(2).as_numpy_iterator())",
    "textline_gzip": TEXT_FILES + "import gzip\nzipped = os.path.join(folder, 'c.gz')\n"
                                  "_ = open(zipped, 'wb').write(gzip.compress(b'p\\nq\\n'))\n"
                                  "list(tf.data.TextLineDataset(zipped, compression_type='GZIP')"
                                  ".as_numpy_iterator())",
    "textline_missing_file": TEXT_FILES + "list(tf.data.TextLineDataset(os.path.join(folder, "
                                          "'none.txt')))",
    # tf.config
    "config_physical_devices": "[repr(d) for d in tf.config.list_physical_devices()]",
    "config_physical_gpus": "tf.config.list_physical_devices('GPU')",
    "config_physical_lowercase": "tf.config.list_physical_devices('cpu')",
    "config_logical_devices": "[repr(d) for d in tf.config.list_logical_devices('CPU')]",
    "config_device_fields": "d = tf.config.list_physical_devices('CPU')[0]\n"
                            "(d.name, d.device_type, isinstance(d, tuple))",
    "config_run_eagerly": "before = tf.config.functions_run_eagerly()\n"
                          "tf.config.run_functions_eagerly(True)\n"
                          "after = tf.config.functions_run_eagerly()\n"
                          "tf.config.run_functions_eagerly(False)\n(before, after)",
    # more shapes and edge cases of the new families
    "ragged_empty_rows": "rt = tf.ragged.constant([[], []])\n"
                         "(str(rt), rt.dtype.name, str(rt.shape))",
    "ragged_nested_to_tensor_default": "tf.ragged.constant([[[1, 2], [3]], [[4]]]).to_tensor("
                                       "default_value=9)",
    "ragged_float_dtype_arg": "str(tf.ragged.constant([[1, 2], [3]], dtype=tf.float64))",
    "sparse_to_dense_3d": "tf.sparse.to_dense(tf.sparse.SparseTensor([[0, 1, 1], [1, 0, 2]], "
                          "[5, 6], [2, 2, 3]))",
    "sparse_from_dense_float": "st = tf.sparse.from_dense(tf.constant([[0.0, 1.5], [0.0, 0.0]]))"
                               "\n(st.indices, st.values, st.dense_shape)",
    "sparse_empty": "tf.sparse.to_dense(tf.sparse.SparseTensor(tf.zeros([0, 2], tf.int64), "
                    "tf.zeros([0]), [2, 2]))",
    "image_resize_batch_tensor_size": "tf.image.resize(tf.reshape(tf.range(16.0), [2, 2, 2, 2]),"
                                      " tf.constant([3, 1]))",
    "image_resize_same_size": "tf.image.resize(tf.reshape(tf.range(4.0), [2, 2, 1]), (2, 2))",
    "image_grayscale_batch": "tf.image.rgb_to_grayscale(tf.reshape(tf.range(12.0), "
                             "[2, 2, 1, 3]) / 12.0)",
    "image_flip_batch": "tf.image.flip_left_right(tf.reshape(tf.range(8), [2, 1, 2, 2]))",
    "image_convert_uint8_float64": "tf.image.convert_image_dtype(tf.constant([51], tf.uint8), "
                                   "tf.float64)",
    "image_convert_float_int32": "tf.image.convert_image_dtype(tf.constant([0.5]), tf.int32)",
    "strings_split_empty_string": 'tf.strings.split(tf.constant(""))',
    "strings_join_numbers": "tf.strings.join([tf.constant([1, 2])])",
    "strings_length_ragged": 'str(tf.strings.length(tf.strings.split(["a bc", "def"])))',
    "strings_unicode_decode_bad_utf8_strict": 'tf.strings.unicode_decode(tf.constant(b"\\xff"), '
                                              '"UTF-8", errors="strict")',
    "strings_unicode_decode_bad_utf8_replace": 'tf.strings.unicode_decode(tf.constant(b"a\\xff"),'
                                               ' "UTF-8")',
    "spec_from_tensorshape": "repr(tf.TensorSpec(tf.zeros([2, 3]).shape, tf.int32))",
    "format_int_tensor_width": "f'{tf.constant(5):>4}|{tf.constant(2.5):e}'",
    "format_bool_tensor": "f'{tf.constant(True)}'",
    "format_string_tensor": 'f"{tf.constant(\'ab\')}"',
    **{f"numpy_{name}": f"{NUMPY_VALUES}r = {call}\n(kind(r), r)"
       for name, call in NUMPY_CALLS.items()},
    "numpy_gradient_through_np_mean": "x = tf.Variable([[1.0, 2.0], [3.0, 4.0]])\n"
                                      "with tf.GradientTape() as tape:\n"
                                      "    y = np.mean(x ** 2, axis=0)\n"
                                      "    y = tf.reduce_mean(y, axis=0)\n"
                                      "tape.gradient(y, x)",
    "numpy_gradient_through_np_sin": "x = tf.constant([0.5, 1.0])\n"
                                     "with tf.GradientTape() as tape:\n"
                                     "    tape.watch(x)\n"
                                     "    y = tf.reduce_sum(tf.constant(np.sin(x)) * 2.0)\n"
                                     "tape.gradient(y, x)",
    "numpy_gradient_through_ndarray_operator": "x = tf.Variable([1.0, 2.0])\n"
                                               "with tf.GradientTape() as tape:\n"
                                               "    y = tf.reduce_sum(np.array([3.0, 4.0], "
                                               "np.float32) * x)\n"
                                               "tape.gradient(y, x)",
    # tf.keras.losses / tf.keras.metrics namespaces (see KERAS_LONG_NAMES)
    "keras_losses_names": f"{{n: hasattr(tf.keras.losses, n) for n in "
                          f"{KERAS_LONG_NAMES + KERAS_ALIASES}}}",
    "keras_metrics_names": f"{{n: hasattr(tf.keras.metrics, n) for n in "
                           f"{KERAS_LONG_NAMES + KERAS_ALIASES}}}",
    "keras_losses_long_name": "tf.keras.losses.mean_squared_error",
    "keras_metrics_long_name": "tf.keras.metrics.mean_absolute_error",
    "keras_alias_functions": f"{{n: getattr(tf.keras.losses, n).__name__ "
                             f"for n in {KERAS_ALIASES}}}",
    "keras_metrics_aliases_are_the_losses": f"[getattr(tf.keras.metrics, n) is getattr("
                                            f"tf.keras.losses, n) for n in "
                                            f"{KERAS_ALIASES + KERAS_SHARED}]",
    "keras_alias_values": KERAS_PAIRS + f"{{n: getattr(tf.keras.losses, n)(y_true, y_pred) "
                                        f"for n in {KERAS_ALIASES}}}",
    "keras_alias_gradients": KERAS_PAIRS + "[grad(lambda p: f(y_true, p), y_pred) for f in "
                                           "(tf.keras.losses.msle, tf.keras.losses.logcosh)]",
    "keras_new_loss_classes": KERAS_PAIRS + "[(c.name, c(y_true, y_pred)) for c in "
                                            "(tf.keras.losses.MeanSquaredLogarithmicError(), "
                                            "tf.keras.losses.LogCosh())]",
    "keras_new_metric_classes": KERAS_PAIRS + "ms = [tf.keras.metrics."
                                              "MeanSquaredLogarithmicError(), "
                                              "tf.keras.metrics.LogCoshError(), "
                                              "tf.keras.metrics.KLDivergence()]\n"
                                              "for m in ms:\n    m.update_state(y_true, y_pred)\n"
                                              "[(m.name, m.result()) for m in ms]",
    "keras_losses_get": KERAS_GET + f"{{n: got(tf.keras.losses, n) "
                                    f"for n in {KERAS_IDENTIFIERS}}}",
    "keras_metrics_get": KERAS_GET + f"{{n: got(tf.keras.metrics, n) "
                                     f"for n in {KERAS_IDENTIFIERS}}}",
    "keras_compile_strings_fit": KERAS_MODEL + "model.compile(optimizer="
                                 "tf.keras.optimizers.SGD(0.01), loss='mean_squared_error', "
                                 "metrics=['mean_absolute_error', 'msle', 'kl_divergence', "
                                 "tf.keras.metrics.mse])\n"
                                 "model.fit(x, y, epochs=3, batch_size=2, shuffle=False, "
                                 "verbose=0).history",
    "keras_compile_alias_loss_fit": KERAS_MODEL + "model.compile(optimizer='sgd', "
                                    "loss=tf.keras.losses.logcosh, metrics=['mse', 'MAE'])\n"
                                    "model.fit(x, y, epochs=2, verbose=0).history",
    "keras_fit_without_compile": KERAS_MODEL + "try:\n    model.fit(x, y, verbose=0)\n"
                                 "except Exception as error:\n"
                                 "    raised = (type(error).__name__, str(error))\nraised",
}
