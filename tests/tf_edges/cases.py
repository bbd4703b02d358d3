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
    "xlogy_complex_gradient": """
x = tf.constant([1.0 + 2.0j], tf.complex128); y = tf.constant([2.0 - 1.0j], tf.complex128)
with tf.GradientTape() as tape:
    tape.watch([x, y])
    z = tf.math.xlogy(x, y)
out = tape.gradient(z, [x, y])
""",
    "xdivy_complex_gradient": """
x = tf.constant([1.0 + 2.0j], tf.complex128); y = tf.constant([2.0 - 1.0j], tf.complex128)
with tf.GradientTape() as tape:
    tape.watch([x, y])
    z = tf.math.xdivy(x, y)
out = tape.gradient(z, [x, y])
""",
    "xlog1py_complex_gradient": """
x = tf.constant([1.0 + 2.0j], tf.complex128); y = tf.constant([2.0 - 1.0j], tf.complex128)
with tf.GradientTape() as tape:
    tape.watch([x, y])
    z = tf.math.xlog1py(x, y)
out = tape.gradient(z, [x, y])
""",
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
}
