# ruff: noqa: E501  (one snippet per line reads best)
"""Named snippets of issue 11 (see probes.py): each reads ``tf``/``np`` and sets ``out``."""

GRAD = """
def grad(f, x):
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = f(x)
    return tape.gradient(y, x)
"""



def _complex_pair_gradient(function: str) -> str:
    """Gradients of ``tf.math.<function>(x, y)`` for complex x and y."""
    return f"""
x = tf.constant([1.0 + 2.0j], tf.complex128); y = tf.constant([2.0 - 1.0j], tf.complex128)
with tf.GradientTape() as tape:
    tape.watch([x, y])
    z = tf.math.{function}(x, y)
out = tape.gradient(z, [x, y])
"""


CASES = {
    # -- silent dtype changes ------------------------------------------------------------------
    "int_times_float": "out = tf.constant([1, 2]) * 2.0",
    "float_times_int": "out = 2.0 * tf.constant([1, 2])",
    "int_plus_float": "out = tf.constant([1, 2]) + 2.0",
    "int_div_float": "out = tf.constant([1, 2]) / 2.0",
    "int_times_whole_float": "out = tf.constant([1, 2]) * 2",
    "int_truediv_int": "out = tf.constant([1, 2]) / 2",
    "float32_times_int": "out = tf.constant([1.5, 2.0]) * 2",
    "math_add_int_scalar_int64": "out = tf.math.add(2, tf.constant([1], tf.int64))",
    "math_add_int64_int_scalar": "out = tf.math.add(tf.constant([1], tf.int64), 2)",
    "math_add_float_scalar_int64": "out = tf.math.add(2.5, tf.constant([1], tf.int64))",
    "range_float_start_int64": "out = tf.range(0.5, 3, dtype=tf.int64)",
    "range_int_int64": "out = tf.range(0, 3, dtype=tf.int64)",
    "range_float_float64": "out = tf.range(0.5, 3, dtype=tf.float64)",
    "math_add_np_float64_scalar": "out = tf.math.add(tf.constant([1.0]), np.float64(2.0))",
    "sqrt_bool": "out = tf.sqrt(tf.constant([True]))",
    "lgamma_int32": "out = tf.math.lgamma(tf.constant([3]))",
    # -- indices -------------------------------------------------------------------------------
    "variable_scatter_nd_update_negative":
        "v = tf.Variable([1.0, 2.0]); v.scatter_nd_update([[-1]], [9.0]); out = v.value()",
    "variable_scatter_nd_update_too_large":
        "v = tf.Variable([1.0, 2.0]); v.scatter_nd_update([[5]], [9.0]); out = v.value()",
    "tensor_scatter_nd_update_negative":
        "out = tf.tensor_scatter_nd_update(tf.constant([1.0, 2.0]), [[-1]], [9.0])",
    "tensor_scatter_nd_update_too_large":
        "out = tf.tensor_scatter_nd_update(tf.constant([1.0, 2.0]), [[2]], [9.0])",
    "tensor_scatter_nd_add_negative":
        "out = tf.tensor_scatter_nd_add(tf.constant([1.0, 2.0]), [[-1]], [9.0])",
    "tensor_scatter_nd_sub_too_large":
        "out = tf.tensor_scatter_nd_sub(tf.constant([1.0, 2.0]), [[3]], [9.0])",
    "scatter_nd_negative": "out = tf.scatter_nd([[-1]], [9.0], [2])",
    "scatter_nd_too_large": "out = tf.scatter_nd([[2]], [9.0], [2])",
    "gather_negative": "out = tf.gather(tf.constant([1.0, 2.0]), [-1])",
    "gather_too_large": "out = tf.gather(tf.constant([1.0, 2.0]), [2])",
    "gather_axis1_too_large": "out = tf.gather(tf.constant([[1.0, 2.0]]), [2], axis=1)",
    "gather_nd_negative": "out = tf.gather_nd(tf.constant([1.0, 2.0]), [[-1]])",
    "gather_nd_too_large": "out = tf.gather_nd(tf.constant([[1.0, 2.0]]), [[0, 2]])",
    "embedding_lookup_too_large":
        "out = tf.nn.embedding_lookup(tf.constant([[1.0], [2.0]]), [2])",
    "one_hot_negative": "out = tf.one_hot([-1, 1], 3)",
    "one_hot_too_large": "out = tf.one_hot([3, 1], 3)",
    "sliced_assign_out_of_range":
        "v = tf.Variable([1.0, 2.0]); v[5].assign(3.0); out = v.value()",
    "sliced_assign_negative":
        "v = tf.Variable([1.0, 2.0]); v[-1].assign(3.0); out = v.value()",
    "slice_assign_range":
        "v = tf.Variable([1.0, 2.0, 3.0]); v[0:2].assign([7.0, 8.0]); out = v.value()",
    # -- values --------------------------------------------------------------------------------
    "trace_non_square": "out = tf.linalg.trace(tf.constant([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]))",
    "trace_tall": "out = tf.linalg.trace(tf.constant([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]))",
    "complex_sign_gradient": GRAD + """
x = tf.constant([3.0 + 4.0j, -1.0 + 0.0j], tf.complex64)
with tf.GradientTape() as tape:
    tape.watch(x)
    y = tf.math.sign(x)
out = tape.gradient(y, x)
""",
    "complex_sign_gradient_weighted": """
x = tf.constant([3.0 + 4.0j, 0.5 - 2.0j], tf.complex128)
w = tf.constant([0.3 - 1.0j, 2.0 + 0.5j], tf.complex128)
with tf.GradientTape() as tape:
    tape.watch(x)
    y = tf.math.sign(x)
out = tape.gradient(y, x, output_gradients=w)
""",
    "cumprod_gradient_at_zero": GRAD + """
out = grad(lambda x: tf.math.cumprod(x), [2.0, 0.0, 3.0, 4.0])
""",
    "cumprod_gradient_two_zeros": GRAD + """
out = grad(lambda x: tf.math.cumprod(x), [2.0, 0.0, 3.0, 0.0, 5.0])
""",
    "cumprod_gradient_exclusive_reverse_zero": GRAD + """
out = grad(lambda x: tf.math.cumprod(x, exclusive=True, reverse=True), [2.0, 0.0, 3.0])
""",
    "moments_empty_axes": "out = tf.nn.moments(tf.constant([[1.0, 2.0], [3.0, 5.0]]), axes=[])",
    "moments_keepdims": "out = tf.nn.moments(tf.constant([[1.0, 2.0], [3.0, 5.0]]), axes=[1], keepdims=True)",
    "linspace_complex":
        "out = tf.linspace(tf.constant(1.0 + 1.0j, tf.complex64), tf.constant(2.0 + 3.0j, tf.complex64), 3)",
    "reduce_std_jvp_at_zero_std": """
x = tf.constant([2.0, 2.0, 2.0])
with tf.autodiff.ForwardAccumulator(x, tf.constant([1.0, 0.0, -0.5])) as acc:
    y = tf.math.reduce_std(x)
out = acc.jvp(y)
""",
    "reduce_std_gradient_at_zero_std": GRAD + """
out = grad(lambda x: tf.math.reduce_std(x), [2.0, 2.0, 2.0])
""",
    # -- assign casts --------------------------------------------------------------------------
    "assign_float64": "v = tf.Variable([1.0, 2.0]); v.assign(tf.constant([3.0, 4.0], tf.float64)); out = v.value()",
    "assign_int32": "v = tf.Variable([1.0, 2.0]); v.assign(tf.constant([3, 4])); out = v.value()",
    "assign_python_ints": "v = tf.Variable([1.0, 2.0]); v.assign([3, 4]); out = v.value()",
    "assign_numpy_float64": "v = tf.Variable([1.0, 2.0]); v.assign(np.array([3.0, 4.0])); out = v.value()",
    "assign_add_float64": "v = tf.Variable([1.0, 2.0]); v.assign_add(tf.constant([3.0, 4.0], tf.float64)); out = v.value()",
    "assign_sub_int32": "v = tf.Variable([1.0, 2.0]); v.assign_sub(tf.constant([3, 4])); out = v.value()",
    "slice_assign_float64": "v = tf.Variable([1.0, 2.0, 3.0]); v[0:2].assign(tf.constant([7.0, 8.0], tf.float64)); out = v.value()",
    "slice_assign_int32": "v = tf.Variable([1.0, 2.0, 3.0]); v[0:2].assign(tf.constant([7, 8])); out = v.value()",
    "int_variable_assign_float": "v = tf.Variable([1, 2]); v.assign([1.5, 2.0]); out = v.value()",
    # -- inputs --------------------------------------------------------------------------------
    "zeros_fractional_shape": "out = tf.zeros([2.5])",
    "zeros_float_whole_shape": "out = tf.zeros([2.0])",
    "ones_string_shape": "out = tf.ones('3')",
    "ones_negative_shape": "out = tf.ones([-1])",
    "reduce_sum_duplicate_axes": "out = tf.reduce_sum(tf.ones([2, 3]), [0, 0])",
    "reduce_sum_duplicate_axes_negative": "out = tf.reduce_sum(tf.ones([2, 3]), [1, -1])",
    "reduce_mean_axis_out_of_range": "out = tf.reduce_mean(tf.ones([2, 3]), 2)",
    "constant_mixed_int_string": "out = tf.constant([1, 'a'])",
    "dataset_skip_negative": "out = list(tf.data.Dataset.range(3).skip(-1).as_numpy_iterator())",
    "dataset_take_negative": "out = list(tf.data.Dataset.range(3).take(-1).as_numpy_iterator())",
    "dataset_skip_more": "out = list(tf.data.Dataset.range(3).skip(5).as_numpy_iterator())",
    "dataset_take_zero": "out = list(tf.data.Dataset.range(3).take(0).as_numpy_iterator())",
    # -- empty tensors -------------------------------------------------------------------------
    "trace_empty_middle": "out = tf.linalg.trace(tf.zeros([3, 0, 3]))",
    "matmul_zero_contraction_broadcast": "out = tf.matmul(tf.zeros([2, 1, 3, 0]), tf.zeros([4, 0, 2]))",
    "conv2d_valid_empty_output": "out = tf.nn.conv2d(tf.ones([1, 2, 2, 1]), tf.ones([3, 3, 1, 1]), 1, 'VALID')",
    "gather_gradient_empty": GRAD + "out = grad(lambda x: tf.gather(x, tf.zeros([0], tf.int32)), np.ones([3, 2], np.float32))",
    "gather_gradient_empty_params": GRAD + "out = grad(lambda x: tf.gather(x, tf.zeros([0], tf.int32)), np.ones([0, 2], np.float32))",
    "embedding_lookup_gradient_empty": GRAD + "out = grad(lambda x: tf.nn.embedding_lookup(x, tf.zeros([0], tf.int32)), np.ones([3, 2], np.float32))",
    "boolean_mask_gradient_empty": GRAD + "out = grad(lambda x: tf.boolean_mask(x, tf.zeros([0], tf.bool)), np.ones([0, 2], np.float32))",
    "reduce_prod_empty": "out = tf.reduce_prod(tf.zeros([0, 3]), axis=0)",
    "reduce_prod_gradient_empty": GRAD + "out = grad(lambda x: tf.reduce_prod(x, axis=0), np.ones([0, 3], np.float32))",
    "reduce_prod_gradient_empty_all": GRAD + "out = grad(lambda x: tf.reduce_prod(x), np.ones([0, 3], np.float32))",
    "cumprod_empty": "out = tf.math.cumprod(tf.zeros([0, 3]), axis=0)",
    "cumprod_gradient_empty": GRAD + "out = grad(lambda x: tf.math.cumprod(x, axis=1), np.ones([2, 0], np.float32))",
    "matmul_gradient_empty": GRAD + "out = grad(lambda x: tf.matmul(x, tf.ones([0, 3])), np.ones([2, 0], np.float32))",
    "matmul_gradient_empty_rows": GRAD + "out = grad(lambda x: tf.matmul(x, tf.ones([2, 3])), np.ones([0, 2], np.float32))",
    "softmax_ce_gradient_empty": GRAD + "out = grad(lambda x: tf.nn.softmax_cross_entropy_with_logits(tf.zeros([0, 3]), x), np.ones([0, 3], np.float32))",
    "sparse_softmax_ce_gradient_empty": GRAD + "out = grad(lambda x: tf.nn.sparse_softmax_cross_entropy_with_logits(tf.zeros([0], tf.int32), x), np.ones([0, 3], np.float32))",
    "bias_add_gradient_empty": GRAD + "out = grad(lambda x: tf.nn.bias_add(tf.zeros([0, 3]), x), np.ones([3], np.float32))",
    "reduce_mean_empty": "out = tf.reduce_mean(tf.zeros([0]))",
    "reduce_max_empty": "out = tf.reduce_max(tf.zeros([0]))",
    "det_empty_batch": "out = tf.linalg.det(tf.zeros([0, 2, 2]))",
    "softmax_empty": "out = tf.nn.softmax(tf.zeros([2, 0]))",
    # -- operators -----------------------------------------------------------------------------
    "xor_bool": "out = tf.constant([True, False]) ^ tf.constant([True, True])",
    "xor_int": "out = tf.constant([5, 3]) ^ tf.constant([1, 1])",
    "invert_int": "out = ~tf.constant([5, -1])",
    "invert_bool": "out = ~tf.constant([True, False])",
    "and_int": "out = tf.constant([5, 3]) & tf.constant([1, 1])",
    "reflected_and": "out = True & tf.constant([True, False])",
    "reflected_or": "out = False | tf.constant([True, False])",
    "reflected_xor": "out = True ^ tf.constant([True, False])",
    "numpy_float_and": "out = np.float32(1.5) & tf.constant([True])",
    "numpy_float_times": "out = np.float32(1.5) * tf.constant([2.0])",
    "numpy_float64_times": "out = tf.constant([2.0]) * np.float64(1.5)",
    "numpy_int_times_int": "out = tf.constant([2]) * np.int32(3)",
    "eq_not_broadcastable": "out = tf.constant([1.0, 2.0]) == tf.constant([1.0, 2.0, 3.0])",
    "ne_not_broadcastable": "out = tf.constant([1.0, 2.0]) != tf.constant([1.0, 2.0, 3.0])",
    "eq_broadcastable": "out = tf.constant([1.0, 2.0]) == tf.constant([1.0])",
    "math_equal_not_broadcastable": "out = tf.math.equal(tf.constant([1.0, 2.0]), tf.constant([1.0, 2.0, 3.0]))",
    "is_inf_gradient": GRAD + "out = grad(lambda x: tf.cast(tf.math.is_inf(x), tf.float32) * x, [1.0, 2.0])",
    "is_nan_gradient": GRAD + "out = grad(lambda x: tf.where(tf.math.is_nan(x), 0.0, x), [1.0, 2.0])",
    "where_one_argument_gradient": GRAD + "out = grad(lambda x: tf.cast(tf.where(x > 1.0), tf.float32), [1.0, 2.0])",
    "is_finite_gradient_only": """
x = tf.constant([1.0, np.inf])
with tf.GradientTape() as tape:
    tape.watch(x)
    y = tf.cast(tf.math.is_finite(x), tf.float32)
out = tape.gradient(y, x)
""",
    "relu_int_list": "out = tf.nn.relu([1, -2])",
    "softmax_int": "out = tf.nn.softmax(tf.constant([1, 2]))",
    "conv2d_int": "out = tf.nn.conv2d(tf.ones([1, 2, 2, 1], tf.int32), tf.ones([1, 1, 1, 1], tf.int32), 1, 'VALID')",
    "bias_add_mismatch": "out = tf.nn.bias_add(tf.ones([2, 3]), tf.ones([2]))",
    "mixed_dtype_divide": "out = tf.constant([1.0]) / tf.constant([1.0], tf.float64)",
    "mixed_dtype_logical_and": "out = tf.math.logical_and(tf.constant([True]), tf.constant([1]))",
    "logical_and_float": "out = tf.math.logical_and(tf.constant([1.0]), tf.constant([1.0]))",
    "pinv_minus_inf": "out = tf.linalg.pinv(tf.constant([[-np.inf, 1.0], [2.0, 3.0]]))",
    "svd_nan": "out = tf.linalg.svd(tf.constant([[np.nan, 1.0], [2.0, 3.0]]), compute_uv=False)",
    "svd_nan_uv": "out = tf.linalg.svd(tf.constant([[np.nan, 1.0], [2.0, 3.0]]))",
    "norm_nan": "out = tf.norm(tf.constant([[np.nan, 1.0], [2.0, 3.0]]), ord=2, axis=[0, 1])",
    "norm_inf_2": "out = tf.norm(tf.constant([[np.inf, 1.0], [2.0, 3.0]]), ord=2, axis=[0, 1])",
    "det_nan": "out = tf.linalg.det(tf.constant([[np.nan, 1.0], [2.0, 3.0]]))",
    "inv_nan": "out = tf.linalg.inv(tf.constant([[np.nan, 1.0], [2.0, 3.0]]))",
    "eigh_nan": "out = tf.linalg.eigvalsh(tf.constant([[np.nan, 1.0], [1.0, 3.0]]))",
    "inv_singular": "out = tf.linalg.inv(tf.constant([[1.0, 2.0], [2.0, 4.0]]))",
    "cholesky_not_pd": "out = tf.linalg.cholesky(tf.constant([[1.0, 2.0], [2.0, 1.0]]))",
    "xlogy_complex_gradient": _complex_pair_gradient("xlogy"),
    "xdivy_complex_gradient": _complex_pair_gradient("xdivy"),
    "xlog1py_complex_gradient": _complex_pair_gradient("xlog1py"),
    "euclidean_norm_complex_gradient": """
x = tf.constant([3.0 + 4.0j, 1.0 - 1.0j], tf.complex128)
with tf.GradientTape() as tape:
    tape.watch(x)
    z = tf.math.reduce_euclidean_norm(x)
out = tape.gradient(z, x, output_gradients=tf.constant(2.0 + 1.0j, tf.complex128))
""",
    "squared_difference_complex_jvp": """
x = tf.constant([1.0 + 2.0j], tf.complex128); y = tf.constant([0.5 - 1.0j], tf.complex128)
with tf.autodiff.ForwardAccumulator(x, tf.constant([1.0 + 0.5j], tf.complex128)) as acc:
    z = tf.math.squared_difference(x, y)
out = acc.jvp(z)
""",
    "squared_difference_complex_gradient": """
x = tf.constant([1.0 + 2.0j], tf.complex128); y = tf.constant([0.5 - 1.0j], tf.complex128)
with tf.GradientTape() as tape:
    tape.watch(x)
    z = tf.math.squared_difference(x, y)
out = tape.gradient(z, x)
""",
    "asin_branch_cut": "out = tf.math.asin(tf.constant([2.0 + 0.0j, 2.0 - 0.0j, -2.0 + 0.0j], tf.complex128))",
    "acos_branch_cut": "out = tf.math.acos(tf.constant([2.0 + 0.0j, -2.0 - 0.0j], tf.complex128))",
    # -- more indices --------------------------------------------------------------------------
    "gather_nd_2d_negative": "out = tf.gather_nd(tf.constant([[1.0, 2.0], [3.0, 4.0]]), [[0, -1]])",
    "tensor_scatter_nd_update_2d_too_large": "out = tf.tensor_scatter_nd_update(tf.zeros([2, 2]), [[0, 2]], [1.0])",
    "tensor_scatter_nd_update_slices_negative": "out = tf.tensor_scatter_nd_update(tf.zeros([2, 2]), [[-1]], [[1.0, 1.0]])",
    "variable_scatter_nd_update_wrong_updates": "v = tf.Variable([1.0, 2.0]); v.scatter_nd_update([[0]], [1.0, 2.0]); out = v.value()",
    "variable_scatter_nd_update_rows": "v = tf.Variable([[1.0, 2.0], [3.0, 4.0]]); v.scatter_nd_update([[1]], [[7.0, 8.0]]); out = v.value()",
    "gather_batch_dims_too_large": "out = tf.gather(tf.constant([[1.0, 2.0], [3.0, 4.0]]), [[0], [2]], batch_dims=1)",
    "gather_negative_axis_index": "out = tf.gather(tf.constant([[1.0, 2.0], [3.0, 4.0]]), [-1], axis=-1)",
    "one_hot_tensor_negative": "out = tf.one_hot(tf.constant([-1, 0]), 2, on_value=5.0)",
    "embedding_lookup_negative": "out = tf.nn.embedding_lookup(tf.constant([[1.0], [2.0]]), [-1])",
    "slice_assign_step": "v = tf.Variable([1.0, 2.0, 3.0]); v[::2].assign([7.0, 8.0]); out = v.value()",
    "slice_assign_wrong_shape": "v = tf.Variable([1.0, 2.0, 3.0]); v[0:2].assign([7.0, 8.0, 9.0]); out = v.value()",
    "scatter_nd_update_int_variable_float": "v = tf.Variable([1, 2]); v.scatter_nd_update([[0]], [1.5]); out = v.value()",
    # -- more values ---------------------------------------------------------------------------
    "complex_sign_jvp": """
x = tf.constant([3.0 + 4.0j, 0.5 - 2.0j], tf.complex128)
with tf.autodiff.ForwardAccumulator(x, tf.constant([1.0 - 0.5j, 0.2 + 1.0j], tf.complex128)) as acc:
    y = tf.math.sign(x)
out = acc.jvp(y)
""",
    "cumprod_jvp_at_zero": """
x = tf.constant([2.0, 0.0, 3.0])
with tf.autodiff.ForwardAccumulator(x, tf.constant([1.0, 1.0, 1.0])) as acc:
    y = tf.math.cumprod(x)
out = acc.jvp(y)
""",
    "sqrt_jvp_zero_tangent_at_zero": """
x = tf.constant([0.0, 4.0])
with tf.autodiff.ForwardAccumulator(x, tf.constant([0.0, 1.0])) as acc:
    y = tf.sqrt(x)
out = acc.jvp(y)
""",
    "moments_axes_none_keepdims": "out = tf.nn.moments(tf.constant([[1.0, 2.0], [3.0, 5.0]]), axes=[0, 1], keepdims=True)",
    "linspace_int": "out = tf.linspace(1, 3, 3)",
    # -- more empty tensors --------------------------------------------------------------------
    "reduce_logsumexp_empty": "out = tf.reduce_logsumexp(tf.zeros([0]))",
    "reduce_min_empty_int": "out = tf.reduce_min(tf.zeros([0], tf.int32))",
    "argmax_empty": "out = tf.argmax(tf.zeros([0]))",
    "top_k_empty_rows": "out = tf.math.top_k(tf.zeros([0, 3]), 2)",
    "concat_empty": "out = tf.concat([tf.zeros([0, 2]), tf.ones([1, 2])], 0)",
    "cumsum_gradient_empty": GRAD + "out = grad(lambda x: tf.cumsum(x, axis=0), np.ones([0, 2], np.float32))",
    "conv2d_empty_batch": "out = tf.nn.conv2d(tf.ones([0, 3, 3, 1]), tf.ones([2, 2, 1, 1]), 1, 'VALID')",
    "max_pool_empty_batch": "out = tf.nn.max_pool2d(tf.ones([0, 4, 4, 1]), 2, 2, 'VALID')",
    "one_hot_empty": "out = tf.one_hot(tf.zeros([0], tf.int32), 3)",
    "gather_nd_empty": "out = tf.gather_nd(tf.ones([2, 3]), tf.zeros([0, 2], tf.int32))",
    "tile_empty": "out = tf.tile(tf.zeros([0, 2]), [3, 1])",
    "pad_empty": "out = tf.pad(tf.zeros([0, 2]), [[1, 1], [0, 0]])",
    "matmul_gradient_empty_batch": GRAD + "out = grad(lambda x: tf.matmul(x, tf.ones([2, 3])), np.ones([0, 4, 2], np.float32))",
    "softmax_gradient_empty": GRAD + "out = grad(lambda x: tf.nn.softmax(x), np.ones([0, 3], np.float32))",
    "reduce_mean_gradient_empty": GRAD + "out = grad(lambda x: tf.reduce_mean(x, axis=1), np.ones([2, 0], np.float32))",
    "reduce_max_gradient_empty_rows": GRAD + "out = grad(lambda x: tf.reduce_max(x, axis=1), np.ones([0, 3], np.float32))",
    "eye_zero": "out = tf.eye(0)",
    "det_gradient_empty_batch": GRAD + "out = grad(lambda x: tf.linalg.det(x), np.ones([0, 2, 2], np.float32))",
    "inv_empty_matrix": "out = tf.linalg.inv(tf.zeros([0, 0]))",
    "cholesky_empty_batch": "out = tf.linalg.cholesky(tf.zeros([0, 2, 2]))",
    "norm_empty": "out = tf.norm(tf.zeros([0]))",
    "l2_normalize_empty": "out = tf.nn.l2_normalize(tf.zeros([0, 2]), axis=1)",
    # -- more operators ------------------------------------------------------------------------
    "or_int": "out = tf.constant([5, 3]) | tf.constant([2, 1])",
    "reflected_and_int": "out = 6 & tf.constant([5, 3])",
    "xor_mixed_dtype": "out = tf.constant([True]) ^ tf.constant([1])",
    "numpy_array_eq_tensor": "out = tf.constant([1.0, 2.0]) == np.array([1.0, 3.0])",
    "eq_none": "out = tf.constant([1.0]) == None",
    "eq_different_dtypes": "out = tf.constant([1.0]) == tf.constant([1])",
    "eq_string_vs_number": "out = tf.constant(['a']) == tf.constant([1])",
    "neg_uint8": "out = -tf.constant([1], tf.uint8)",
    "abs_operator_bool": "out = abs(tf.constant([True]))",
    "pow_int_negative": "out = tf.constant([2]) ** -1",
    "floordiv_float_by_zero": "out = tf.constant([1.0, -1.0, 0.0]) // 0.0",
    "mod_float_by_zero": "out = tf.constant([1.0]) % 0.0",
    "int_division_by_zero": "out = tf.constant([1]) // 0",
    "matmul_int_float": "out = tf.matmul(tf.ones([2, 2], tf.int32), tf.ones([2, 2]))",
    "matmul_rank1": "out = tf.matmul(tf.ones([2]), tf.ones([2, 2]))",
    "matmul_bool": "out = tf.matmul(tf.ones([2, 2], tf.bool), tf.ones([2, 2], tf.bool))",
    "softmax_cross_entropy_shape_mismatch": "out = tf.nn.softmax_cross_entropy_with_logits(tf.ones([2, 3]), tf.ones([2, 4]))",
    "sparse_softmax_label_out_of_range": "out = tf.nn.sparse_softmax_cross_entropy_with_logits(tf.constant([3]), tf.ones([1, 3]))",
    "conv2d_channel_mismatch": "out = tf.nn.conv2d(tf.ones([1, 3, 3, 2]), tf.ones([2, 2, 1, 1]), 1, 'VALID')",
    "max_pool_bad_padding": "out = tf.nn.max_pool2d(tf.ones([1, 4, 4, 1]), 2, 2, 'SOMETIMES')",
    "bias_add_rank1": "out = tf.nn.bias_add(tf.ones([3]), tf.ones([3]))",
    "reshape_bad_size": "out = tf.reshape(tf.ones([2, 3]), [4, 2])",
    "reshape_two_unknown": "out = tf.reshape(tf.ones([2, 3]), [-1, -1])",
    "transpose_bad_perm": "out = tf.transpose(tf.ones([2, 3]), [0, 0])",
    "concat_rank_mismatch": "out = tf.concat([tf.ones([2, 3]), tf.ones([3])], 0)",
    "stack_shape_mismatch": "out = tf.stack([tf.ones([2]), tf.ones([3])])",
    "split_uneven": "out = tf.split(tf.ones([5]), 2)",
    "squeeze_non_one": "out = tf.squeeze(tf.ones([2, 3]), 0)",
    "expand_dims_out_of_range": "out = tf.expand_dims(tf.ones([2]), 3)",
    "broadcast_to_incompatible": "out = tf.broadcast_to(tf.ones([3]), [2, 2])",
    "solve_singular": "out = tf.linalg.solve(tf.constant([[1.0, 2.0], [2.0, 4.0]]), tf.ones([2, 1]))",
    "det_non_square": "out = tf.linalg.det(tf.ones([2, 3]))",
    "lstsq_rank_deficient": "out = tf.linalg.lstsq(tf.constant([[1.0, 2.0], [2.0, 4.0], [3.0, 6.0]]), tf.ones([3, 1]))",
    "cholesky_nan": "out = tf.linalg.cholesky(tf.constant([[np.nan, 0.0], [0.0, 1.0]]))",
    "qr_nan": "out = tf.linalg.qr(tf.constant([[np.nan, 1.0], [2.0, 3.0]]))",
    "eigh_inf": "out = tf.linalg.eigh(tf.constant([[np.inf, 1.0], [1.0, 3.0]]))",
    "pinv_nan_batch": "out = tf.linalg.pinv(np.full([2, 3, 4], -np.inf, np.float32))",
    "norm_fro_inf": "out = tf.norm(tf.constant([[np.inf, 1.0], [2.0, 3.0]]), ord='fro', axis=[0, 1])",
    "norm_nuclear_nan": "out = tf.norm(tf.constant([[np.nan, 1.0], [2.0, 3.0]]), ord='nuc', axis=[0, 1])" if False else "out = tf.norm(tf.constant([[np.nan, 1.0], [2.0, 3.0]]), ord=1, axis=[0, 1])",
    "slogdet_nan": "out = tf.linalg.slogdet(tf.constant([[np.nan, 1.0], [2.0, 3.0]]))",
    "logdet_inf": "out = tf.linalg.logdet(tf.constant([[np.inf, 0.0], [0.0, 1.0]]))",
    "matrix_solve_nan": "out = tf.linalg.solve(tf.constant([[np.nan, 1.0], [2.0, 3.0]]), tf.ones([2, 1]))",
    "expm_nan": "out = tf.linalg.expm(tf.constant([[np.nan, 1.0], [2.0, 3.0]]))",
    # -- more inputs ---------------------------------------------------------------------------
    "zeros_float_tensor_shape": "out = tf.zeros(tf.constant([2.0]))",
    "zeros_numpy_float_shape": "out = tf.zeros(np.float32(2))",
    "fill_fractional_dims": "out = tf.fill([2.5], 1.0)",
    "reshape_float_shape": "out = tf.reshape(tf.ones([4]), [2.0, 2])",
    "reduce_sum_float_axis": "out = tf.reduce_sum(tf.ones([2, 3]), 2.0)",
    "slice_assign_scalar": "v = tf.Variable([1.0, 2.0, 3.0]); v[0:2].assign(5.0); out = v.value()",
    "constant_ragged": "out = tf.constant([[1], [2, 3]])",
    "dataset_take_minus_five": "out = list(tf.data.Dataset.range(3).take(-5).as_numpy_iterator())",
    "dataset_skip_minus_five": "out = list(tf.data.Dataset.range(3).skip(-5).as_numpy_iterator())",
    "dataset_skip_negative_cardinality": "out = int(tf.data.Dataset.range(3).skip(-1).cardinality())",
    # -- found by the fuzz test ---------------------------------------------------------------
    "softmax_ce_labels_row_broadcast": "out = tf.nn.softmax_cross_entropy_with_logits(labels=tf.constant([0.3, 0.7]), logits=tf.constant([[1.0, 2.0], [0.5, -1.0]]))",
    "softmax_ce_labels_column_broadcast": "out = tf.nn.softmax_cross_entropy_with_logits(labels=tf.constant([[0.5]]), logits=tf.constant([[1.0, 2.0, 3.0]]))",
    "softmax_ce_logits_broadcast": "out = tf.nn.softmax_cross_entropy_with_logits(labels=tf.constant([0.4, 0.6]), logits=tf.constant([1.5]))",
    "softmax_ce_scalar_labels": "out = tf.nn.softmax_cross_entropy_with_logits(labels=tf.constant(0.5), logits=tf.constant([1.0, 2.0]))",
    "softmax_ce_3d_no_broadcast": "out = tf.nn.softmax_cross_entropy_with_logits(labels=tf.ones([2, 1, 2]), logits=tf.ones([2, 2, 2]))",
    "l2_normalize_complex": "out = tf.math.l2_normalize(tf.constant([1 + 2j, 3 - 1j]))",
    "l2_normalize_int": "out = tf.math.l2_normalize(tf.constant([2, 0, 5]))",
    "bool_greater_than_number": "out = tf.constant([True]) > 0",
    "bool_times_bool": "out = tf.constant([True, True]) * tf.constant([True, False])",
    "matmul_empty_jacobian": """
x = tf.zeros([0, 4], tf.float64)
with tf.GradientTape() as tape:
    tape.watch(x)
    y = tf.matmul(x, x, transpose_b=True)
out = tape.jacobian(y, x)
""",
    "reduce_prod_gradient_kept_axis_empty": GRAD + "out = grad(lambda x: tf.reduce_prod(x, axis=1), np.ones([0, 3], np.float64))",
}
