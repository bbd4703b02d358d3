"""Shape/array ops and reductions: values, gradients and errors.

Expected values come from TensorFlow 2.21 runs of the same programs (quoted in the comments as
"TF"), from NumPy's independent implementations, or from hand calculation.
"""

import numpy as np
import pytest

import tapegrad as tf
from tapegrad.errors import InvalidArgumentError


def grad(f, x, dtype=None):
    x = tf.constant(x) if dtype is None else tf.constant(x, dtype=dtype)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = f(x)
    g = tape.gradient(y, x)
    return None if g is None else tf.convert_to_tensor(g).numpy()


def var_grad(f, value):
    v = tf.Variable(value)
    with tf.GradientTape() as tape:
        y = f(v)
    g = tape.gradient(y, v)
    return None if g is None else tf.convert_to_tensor(g).numpy()


X = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]


# -- reductions ------------------------------------------------------------------------------

def test_reduction_dtypes_and_values():
    ints = tf.constant([1, 2], tf.int8)
    assert tf.reduce_sum(ints).dtype == tf.int8  # TF keeps int8
    assert tf.reduce_prod(tf.constant([1, 2])).dtype == tf.int32
    assert int(tf.reduce_mean(tf.constant([-3, 0]))) == -1  # TF truncates toward zero
    assert float(tf.reduce_max(tf.zeros([0]))) == -np.inf  # TF
    assert int(tf.reduce_max(tf.zeros([0], tf.int32))) == np.iinfo(np.int32).min
    np.testing.assert_allclose(tf.math.reduce_variance(tf.constant(X), axis=1).numpy(),
                               np.var(X, axis=1), rtol=1e-6)
    np.testing.assert_allclose(tf.math.reduce_std(tf.constant(X), axis=0).numpy(),
                               np.std(X, axis=0), rtol=1e-6)
    assert float(tf.math.reduce_variance(tf.constant([1 + 1j, 2 - 1j]))) == 1.25  # TF
    assert int(tf.math.reduce_euclidean_norm(tf.constant([3, 4]))) == 5
    assert tf.math.count_nonzero([[0, 1], [2, 0]], axis=1).numpy().tolist() == [1, 1]
    assert int(tf.math.count_nonzero(["", "a"])) == 1
    assert bool(tf.reduce_any([False, True])) and not bool(tf.reduce_all([False, True]))
    assert tf.reduce_sum(tf.constant(2.0), []).numpy() == 2.0


def test_reduction_axis_errors_name_axis_and_rank():
    with pytest.raises(InvalidArgumentError, match=r"5 for input with 2 dimension"):
        tf.reduce_sum(tf.constant(X), 5)
    with pytest.raises(InvalidArgumentError):
        tf.reduce_sum(tf.constant(2.0), 0)  # TF: no axis 0 on a scalar
    with pytest.raises(InvalidArgumentError):
        tf.reduce_sum(tf.constant([True, False]))
    with pytest.raises(TypeError):
        tf.math.reduce_std(tf.constant([1, 2]))
    with pytest.raises(InvalidArgumentError):  # (TensorFlow's kernel refuses it)
        tf.reduce_any(tf.constant([1.0, 0.0]))


def test_reduction_gradients_match_tf():
    assert grad(lambda x: tf.reduce_max(x, axis=1), [[1.0, 1.0], [0.0, 2.0]]).tolist() == \
        [[0.5, 0.5], [0.0, 1.0]]
    assert grad(lambda x: tf.reduce_prod(x), [0.0, 3.0, 4.0]).tolist() == [12.0, 0.0, 0.0]
    assert np.isnan(grad(tf.math.reduce_euclidean_norm, [0.0, 0.0])).all()  # TF: NaN
    assert np.isnan(grad(tf.math.reduce_std, [1.0, 1.0])).all()  # TF: NaN
    # reduce_max of an empty tensor: TF gives 0 gradient to the broadcast scalar.
    c = tf.constant(2.0)
    with tf.GradientTape() as tape:
        tape.watch(c)
        y = tf.reduce_max(tf.zeros([0]) + c)
    assert float(tape.gradient(y, c)) == 0.0


def test_argmax_argmin():
    x = tf.constant(X)
    assert tf.argmax(x).numpy().tolist() == [1, 1, 1]  # TF: axis None means 0
    assert tf.argmax(x).dtype == tf.int64
    assert int(tf.argmax([1.0, 3.0, 3.0])) == 1  # ties: first
    assert tf.argmin(x, axis=1, output_type=tf.int32).numpy().tolist() == [0, 0]
    with pytest.raises(InvalidArgumentError, match="range"):
        tf.argmax(x, 3)
    assert grad(lambda v: tf.cast(tf.argmax(v), tf.float32), [1.0, 3.0, 2.0]) is None


def test_cumulative():
    assert tf.cumsum(tf.constant([1, 2, 3], tf.int8), exclusive=True).numpy().tolist() == \
        [0, 1, 3]
    assert tf.cumsum(tf.constant([1, 2, 3]), exclusive=True).dtype == tf.int32
    assert tf.math.cumprod(tf.constant([1.0, 2.0, 3.0]), reverse=True).numpy().tolist() == \
        [6.0, 6.0, 3.0]
    with pytest.raises(InvalidArgumentError, match="scan axis"):
        tf.cumsum(tf.constant(X), 2)


def test_norms_match_tf():
    x = tf.constant(X)
    assert float(tf.norm(x, 1)) == 21.0
    assert tf.norm(x, np.inf, axis=1).numpy().tolist() == [3.0, 6.0]
    np.testing.assert_allclose(float(tf.norm(x, 3)), 7.611662864685059, rtol=1e-6)
    np.testing.assert_allclose(float(tf.norm(x, "fro", axis=[0, 1])), 9.539392471313477,
                               rtol=1e-6)
    assert float(tf.norm(x, 1, axis=[0, 1])) == 9.0
    assert float(tf.norm(x, np.inf, axis=[0, 1])) == 15.0
    np.testing.assert_allclose(float(tf.norm(x, 2, axis=[0, 1])), 9.508033752441406,
                               rtol=1e-6)  # TF
    u, _, vh = np.linalg.svd(np.array(X))
    np.testing.assert_allclose(var_grad(lambda v: tf.norm(v, 2, axis=[-2, -1]), X),
                               np.outer(u[:, 0], vh[0]), rtol=1e-5)
    assert tf.norm(x, axis=1, keepdims=True).shape == (2, 1)
    with pytest.raises(ValueError):
        tf.norm(x, -1)
    with pytest.raises(ValueError):
        tf.norm(x, "fro")
    assert np.isnan(grad(tf.norm, [0.0, 0.0])).all()
    assert var_grad(lambda v: tf.norm(v, 1), [[1.0, 2.0], [3.0, 4.0]]).tolist() == \
        [[1.0, 1.0], [1.0, 1.0]]
    assert var_grad(lambda v: tf.norm(v, np.inf, axis=[0, 1]), [[1.0, 2.0], [3.0, 4.0]]
                    ).tolist() == [[0.0, 0.0], [1.0, 1.0]]  # TF


def test_clip_by_norm_and_global_norm():
    np.testing.assert_allclose(tf.clip_by_norm(tf.constant(X), 1.0, axes=[1]).numpy(),
                               np.array(X) / np.linalg.norm(X, axis=1, keepdims=True),
                               rtol=1e-6)
    assert grad(lambda x: tf.clip_by_norm(x, 1.0), [0.0, 0.0]).tolist() == [1.0, 1.0]  # TF
    clipped, total = tf.clip_by_global_norm([tf.constant(X), None, tf.constant(3.0)], 2.0)
    assert float(total) == 10.0 and clipped[1] is None  # TF: sqrt(91 + 9)
    np.testing.assert_allclose(clipped[0].numpy(), np.array(X) * 0.2, rtol=1e-6)
    np.testing.assert_allclose(float(clipped[2]), 0.6, rtol=1e-6)
    with pytest.raises(TypeError, match="sequence"):
        tf.clip_by_global_norm(tf.constant(X), 2.0)


# -- shapes, joining, splitting --------------------------------------------------------------

def test_shape_op_errors():
    x = tf.constant(X)
    cases = [
        (lambda: tf.concat([x, tf.ones([3, 2])], 0), InvalidArgumentError, "Dimension 1"),
        (lambda: tf.concat([x, x], 2), InvalidArgumentError, r"\[-2, 2\)"),
        (lambda: tf.stack([tf.ones([2]), tf.ones([3])]), InvalidArgumentError, "must match"),
        (lambda: tf.expand_dims(x, 4), InvalidArgumentError, "expand dim index 4"),
        (lambda: tf.squeeze(x, 3), InvalidArgumentError, "squeeze dim index 3"),
        (lambda: tf.squeeze(x, 0), InvalidArgumentError, "expected a dimension of 1"),
        (lambda: tf.split(x, 2, axis=1), InvalidArgumentError, "evenly divide"),
        (lambda: tf.split(x, [1, 1], axis=1), InvalidArgumentError, "Determined shape"),
        (lambda: tf.unstack(x, num=3), InvalidArgumentError, "must equal 3"),
        (lambda: tf.unstack(tf.constant(1.0)), ValueError, "axis"),
        (lambda: tf.tile(x, [2]), InvalidArgumentError, "length 2"),
        (lambda: tf.tile([1], [-1]), InvalidArgumentError, "multiples"),
        (lambda: tf.reshape(x, [4, -1]), InvalidArgumentError, "multiple of 4"),
        (lambda: tf.transpose(x, [0, 0]), InvalidArgumentError, "permutation"),
        (lambda: tf.broadcast_to(x, [3, 3]), InvalidArgumentError, "Incompatible shapes"),
        (lambda: tf.reverse(x, [0, 0]), InvalidArgumentError, "more than once"),
        (lambda: tf.reverse(x, [3]), InvalidArgumentError, "out of valid range"),
        (lambda: tf.roll(x, 1, 3), InvalidArgumentError, "axis 3"),
        (lambda: tf.slice(x, [0, 1], [1, 5]), InvalidArgumentError, r"size\[1\] in \[0, 2\]"),
        (lambda: tf.range(5, 1), InvalidArgumentError, "start <= limit"),
    ]
    for make, error, message in cases:
        with pytest.raises(error, match=message):
            make()


def test_split_unstack_values_and_gradients():
    parts = tf.split(tf.constant(X), [1, -1], axis=1)
    assert [p.shape.as_list() for p in parts] == [[2, 1], [2, 2]]
    assert len(tf.split(tf.ones([4]), 2, num=3)) == 2  # TF ignores num here
    value = [[1.0, 2.0], [3.0, 4.0]]
    assert var_grad(lambda v: tf.split(v, 2, axis=0)[0], value).tolist() == \
        [[1.0, 1.0], [0.0, 0.0]]
    assert var_grad(lambda v: tf.unstack(v)[1], value).tolist() == [[0.0, 0.0], [1.0, 1.0]]
    assert [t.numpy().tolist() for t in tf.unstack(tf.constant([[1, 2], [3, 4]]), axis=1)] == \
        [[1, 3], [2, 4]]


def test_slice_and_strided_slicing():
    x = tf.reshape(tf.range(12), [3, 4])
    reference = np.arange(12).reshape(3, 4)
    assert tf.slice(x, [0, 1], [-1, -1]).numpy().tolist() == reference[:, 1:].tolist()
    for key in [(slice(None, None, -2),), (Ellipsis, 1), (None, 1, slice(3, 0, -1)),
                (1, slice(None), None), (slice(tf.constant(1), tf.constant(3)),),
                (tf.constant(2), -1)]:
        expected = reference[tuple(int(k) if isinstance(k, tf.Tensor) else
                                   slice(*(int(p) if isinstance(p, tf.Tensor) else p
                                           for p in (k.start, k.stop, k.step)))
                                   if isinstance(k, slice) else k for k in key)]
        assert x[key].numpy().tolist() == expected.tolist()
    assert int(x[[1, 2]]) == 6  # TF: a list is a sequence of indices
    mask = tf.constant([True, False, True])
    assert x[mask].numpy().tolist() == reference[[0, 2]].tolist()
    with pytest.raises(TypeError, match="valid indices"):
        x[1.5]
    with pytest.raises(TypeError, match="valid indices"):
        x[tf.constant([0, 1])]
    with pytest.raises(InvalidArgumentError):
        x[5]
    assert var_grad(lambda v: v[tf.constant([True, False])], [[1.0, 2.0], [3.0, 4.0]]
                    ).tolist() == [[1.0, 1.0], [0.0, 0.0]]
    assert grad(lambda v: v[::-2] * tf.constant([1.0, 2.0]), [1.0, 2.0, 3.0, 4.0]).tolist() == \
        [0.0, 2.0, 0.0, 1.0]


# -- gather / scatter ------------------------------------------------------------------------

def test_gather_forms_match_tf():
    cube = tf.reshape(tf.range(24.0), [2, 3, 4])
    assert tf.gather(cube, [[0, 2], [1, 1]], axis=2, batch_dims=1).numpy().tolist() == \
        [[[0.0, 2.0], [4.0, 6.0], [8.0, 10.0]], [[13.0, 13.0], [17.0, 17.0], [21.0, 21.0]]]
    assert tf.gather_nd(cube, [[[0, 1]], [[2, 3]]], batch_dims=1).numpy().tolist() == \
        [[1.0], [23.0]]
    assert tf.gather_nd(tf.constant([[1, 2], [3, 4]]), [[0, 1], [1, 0]]).numpy().tolist() == \
        [2, 3]
    with pytest.raises(InvalidArgumentError, match=r"indices\[1\] = 5 is not in \[0, 2\)"):
        tf.gather(tf.constant(X), [0, 5])
    with pytest.raises(InvalidArgumentError, match="is not in"):
        tf.gather(tf.constant(X), [-1])
    with pytest.raises(InvalidArgumentError):  # TF: 'Tindices' of float not allowed
        tf.gather(tf.constant(X), [0.0])
    with pytest.raises(InvalidArgumentError, match="does not index into param shape"):
        tf.gather_nd(tf.constant(X), [[0, 5]])
    with pytest.raises(InvalidArgumentError, match="innermost dimension"):
        tf.gather_nd(tf.constant(X), [[0, 1, 1]])


def test_batched_gather_gradient_is_dense_and_sums_duplicates():
    params = np.arange(24.0).reshape(2, 3, 4)
    index = [[0, 2, 0], [1, 1, 3]]
    g = var_grad(lambda v: tf.gather(v, index, axis=2, batch_dims=1), params)
    expected = np.zeros((2, 3, 4))
    for b, row in enumerate(index):
        for i in row:
            expected[b, :, i] += 1
    assert g.tolist() == expected.tolist()


def test_scatter_ops_match_tf():
    assert tf.scatter_nd([[0], [0]], [1.0, 2.0], [3]).numpy().tolist() == [3.0, 0.0, 0.0]
    assert tf.tensor_scatter_nd_add([1.0, 2.0, 3.0], [[0], [0]], [1.0, 1.0]).numpy().tolist() \
        == [3.0, 2.0, 3.0]
    assert tf.tensor_scatter_nd_sub([1, 2, 3], [[2]], [3]).numpy().tolist() == [1, 2, 0]
    with pytest.raises(InvalidArgumentError, match="does not index"):
        tf.scatter_nd([[5]], [1.0], [3])
    with pytest.raises(InvalidArgumentError, match="updates"):
        tf.scatter_nd([[1]], [1.0, 2.0], [3])
    with pytest.raises(InvalidArgumentError, match="updates"):
        tf.tensor_scatter_nd_update(tf.constant(X), [[0]], [[1.0, 2.0]])
    v = tf.Variable([[1.0, 2.0], [3.0, 4.0]])
    c = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        y = tf.tensor_scatter_nd_update(v, [[0, 0]], tf.reshape(c, [1]))
    gv, gc = tape.gradient(y, [v, c])
    assert gv.numpy().tolist() == [[0.0, 1.0], [1.0, 1.0]] and float(gc) == 1.0  # TF
    assert var_grad(lambda w: tf.gather_nd(w, [[0, 1]]), [[1.0, 2.0], [3.0, 4.0]]).tolist() == \
        [[0.0, 1.0], [0.0, 0.0]]  # TF


def test_boolean_mask_and_where():
    x = tf.constant(X)
    assert tf.boolean_mask(x, [True, False, True], axis=1).numpy().tolist() == \
        [[1.0, 3.0], [4.0, 6.0]]
    with pytest.raises(ValueError, match="incompatible"):
        tf.boolean_mask(x, [True, False, True])
    with pytest.raises(ValueError, match="scalar"):
        tf.boolean_mask(x, True)
    g = tf.Variable([[1.0, 2.0], [3.0, 4.0]])
    with tf.GradientTape() as tape:
        y = tf.boolean_mask(g, [True, False])
    dense = tape.gradient(y, g)
    assert isinstance(dense, tf.Tensor)  # TF: dense, not IndexedSlices
    assert dense.numpy().tolist() == [[1.0, 1.0], [0.0, 0.0]]
    assert tf.where([0.0, 1.0, 2.0]).numpy().tolist() == [[1], [2]]


# -- pad, roll, tile, repeat, one_hot --------------------------------------------------------

def test_pad_values_and_gradients_match_tf():
    x = tf.constant(X)
    assert tf.pad(x, [[1, 1], [0, 0]], "reflect").numpy().tolist() == \
        [[4.0, 5.0, 6.0], [1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [1.0, 2.0, 3.0]]
    np.testing.assert_array_equal(
        tf.pad(x, [[2, 1], [3, 2]], "SYMMETRIC").numpy(),
        np.pad(np.array(X, np.float32), [[2, 1], [3, 2]], mode="symmetric"))
    np.testing.assert_array_equal(
        tf.pad(x, [[1, 0], [2, 1]], constant_values=7.0).numpy(),
        np.pad(np.array(X, np.float32), [[1, 0], [2, 1]], constant_values=7.0))
    value = [[1.0, 2.0], [3.0, 4.0]]
    assert var_grad(lambda v: tf.pad(v, [[1, 1], [0, 1]], "REFLECT"), value).tolist() == \
        [[4.0, 2.0], [4.0, 2.0]]  # TF
    weights = tf.reshape(tf.range(20.0), [5, 4])
    assert var_grad(lambda v: tf.pad(v, [[2, 1], [0, 2]], "SYMMETRIC") * weights, value
                    ).tolist() == [[30.0, 30.0], [65.0, 65.0]]  # TF
    c = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        y = tf.pad(tf.constant(value), [[1, 1], [0, 1]], constant_values=c)
    assert tape.gradient(y, c) is None  # TF: no gradient for constant_values
    with pytest.raises(InvalidArgumentError, match="less than the dimension size"):
        tf.pad(x, [[0, 0], [3, 0]], "REFLECT")
    with pytest.raises(InvalidArgumentError, match="rank"):
        tf.pad(x, [[1, 1]])
    with pytest.raises(ValueError, match="CONSTANT"):
        tf.pad(x, [[1, 1], [0, 0]], "WRAP")


def test_roll_tile_repeat_one_hot_match_tf():
    x = tf.constant(X)
    assert tf.roll(x, [1, 1], [1, 1]).numpy().tolist() == [[2.0, 3.0, 1.0], [5.0, 6.0, 4.0]]
    assert tf.repeat(x, [1, 2], axis=0).numpy().tolist() == [X[0], X[1], X[1]]
    assert tf.repeat(x, 2).numpy().tolist() == np.repeat(np.array(X), 2).tolist()
    with pytest.raises(ValueError):
        tf.repeat(x, [1, 2, 3], axis=0)
    g = var_grad(lambda v: tf.repeat(v, [1, 2], axis=0), [[1.0, 2.0], [3.0, 4.0]])
    assert g.tolist() == [[1.0, 1.0], [2.0, 2.0]]  # TF, dense
    b = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        y = tf.tile(tf.reshape(b, [1]), [4]) * tf.constant([1.0, 2.0, 3.0, 4.0])
    assert float(tape.gradient(y, b)) == 10.0
    assert tf.one_hot([0, 2, -1, 5], 3).numpy().tolist() == \
        [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
    on = tf.one_hot([0, 2], 3, on_value=5, off_value=1)
    assert on.dtype == tf.int32 and on.numpy().tolist() == [[5, 1, 1], [1, 1, 5]]
    assert tf.one_hot([0, 2], 3, axis=0).numpy().tolist() == [[1.0, 0.0], [0.0, 0.0],
                                                              [0.0, 1.0]]
    assert tf.one_hot([0, 2], 3, dtype=tf.float64).dtype == tf.float64
    with pytest.raises(TypeError):
        tf.one_hot([0, 2], 3, on_value=5.0, off_value=1)


# -- sorting ---------------------------------------------------------------------------------

def test_sort_argsort_top_k_unique_match_tf():
    assert tf.sort([3, 1, 2], direction="DESCENDING").numpy().tolist() == [3, 2, 1]
    assert tf.argsort([3.0, 1.0, 3.0, 2.0], direction="DESCENDING").numpy().tolist() == \
        [0, 2, 3, 1]
    assert tf.argsort([3.0, 1.0, 3.0, 1.0]).numpy().tolist() == [1, 3, 0, 2]
    values, indices = tf.math.top_k([1.0, 3.0, 3.0, 2.0], 3)
    assert values.numpy().tolist() == [3.0, 3.0, 2.0] and indices.numpy().tolist() == [1, 2, 3]
    with pytest.raises(InvalidArgumentError, match="at least k columns"):
        tf.math.top_k([1.0, 2.0], 3)
    with pytest.raises(ValueError, match="ASCENDING"):
        tf.sort([3.0, 1.0], direction="UP")
    y, idx = tf.unique([3, 1, 3, 2, 1])
    assert y.numpy().tolist() == [3, 1, 2] and idx.numpy().tolist() == [0, 1, 0, 2, 1]
    with pytest.raises(InvalidArgumentError, match="1D"):
        tf.unique([[3, 1]])


def test_sort_and_top_k_gradients_route_to_positions():
    m = [[1.0, 2.0], [3.0, 4.0]]
    weights = tf.constant([[2.0], [3.0]])
    assert grad(lambda x: tf.math.top_k(x, 1).values * weights, m).tolist() == \
        [[0.0, 2.0], [0.0, 3.0]]  # TF
    g = grad(lambda x: tf.sort(x, axis=0) * tf.constant([[1.0, 2.0], [3.0, 4.0]]),
             [[3.0, 1.0], [2.0, 5.0]])
    assert g.tolist() == [[3.0, 2.0], [1.0, 4.0]]
    assert grad(lambda x: tf.sort(x, direction="DESCENDING") * tf.constant([1.0, 2.0, 3.0]),
                [3.0, 1.0, 2.0]).tolist() == [1.0, 3.0, 2.0]


def test_unique_has_no_gradient():
    x = tf.constant([1.0, 1.0, 2.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.unique(x)[0]
    with pytest.raises(LookupError, match="no entry for: Unique"):
        tape.gradient(y, x)


# -- einsum, tensordot, meshgrid, clip_by_value ----------------------------------------------

def test_einsum_and_tensordot():
    a, b = np.arange(6.0).reshape(2, 3), np.arange(6.0).reshape(3, 2)
    assert tf.einsum("ij,jk", tf.constant(a), tf.constant(b)).numpy().tolist() == \
        (a @ b).tolist()
    batched = tf.einsum("...ij,...jk->...ik", tf.ones([2, 1, 2, 3]), tf.ones([3, 3, 2]))
    assert batched.shape == (2, 3, 2, 2)  # TF
    assert tf.einsum("ii->i", tf.constant(a[:, :2])).numpy().tolist() == [0.0, 4.0]
    with pytest.raises(InvalidArgumentError, match="Expected dimension 3"):
        tf.einsum("ij,jk->ik", tf.constant(a), tf.ones([2, 2], tf.float64))
    assert var_grad(lambda v: tf.einsum("ii->", v), [[1.0, 2.0], [3.0, 4.0]]).tolist() == \
        [[1.0, 0.0], [0.0, 1.0]]  # TF
    assert tf.tensordot(tf.constant(a), tf.constant(b), 1).numpy().tolist() == (a @ b).tolist()
    assert tf.tensordot(tf.constant(a), tf.constant(a), [[0], [0]]).numpy().tolist() == \
        (a.T @ a).tolist()
    assert tf.tensordot(tf.ones([2]), tf.ones([3]), 0).shape == (2, 3)
    with pytest.raises(InvalidArgumentError, match="size-incompatible"):
        tf.tensordot(tf.constant(a), tf.ones([2, 2], tf.float64), 1)


def test_meshgrid_linspace_range_fill():
    assert [g.shape.as_list() for g in tf.meshgrid([1, 2, 3], [4, 5], [6, 7, 8, 9])] == \
        [[2, 3, 4]] * 3  # TF
    xs, ys = tf.meshgrid([1, 2, 3], [4, 5], indexing="ij")
    expected = np.meshgrid([1, 2, 3], [4, 5], indexing="ij")
    assert xs.numpy().tolist() == expected[0].tolist()
    assert ys.numpy().tolist() == expected[1].tolist()
    assert tf.linspace(0, 1, 5).dtype == tf.float64  # TF
    assert tf.linspace([0.0, 1.0], [1.0, 3.0], 3, axis=1).numpy().tolist() == \
        [[0.0, 0.5, 1.0], [1.0, 2.0, 3.0]]  # TF
    assert tf.linspace(0.0, 1.0, 1).numpy().tolist() == [0.0]
    assert tf.linspace(0.0, 1.0, 0).shape == (0,)
    c = tf.Variable(2.0)
    with tf.GradientTape(persistent=True) as tape:
        line = tf.linspace(c, 5.0, 4)
        filled = tf.fill([3], c)
    assert float(tape.gradient(line, c)) == 2.0  # TF
    assert float(tape.gradient(filled, c)) == 3.0  # TF
    assert tf.range(1, 5, 0.5).dtype == tf.float32
    assert tf.range(tf.constant(3, tf.int64)).dtype == tf.int64  # TF
    assert tf.range(3, dtype=tf.float64).numpy().tolist() == [0.0, 1.0, 2.0]


def test_clip_by_value():
    assert grad(lambda x: tf.clip_by_value(x, 0.0, 1.0), [-1.0, 0.0, 0.5, 1.0, 2.0]).tolist() \
        == [0.0, 1.0, 1.0, 1.0, 0.0]
    low = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        y = tf.clip_by_value(tf.constant([[1.0, 2.0], [3.0, 4.0]]), low, 3.0)
    assert float(tape.gradient(y, low)) == 1.0  # TF
    with pytest.raises(ValueError, match="incompatible"):
        tf.clip_by_value(tf.constant([1.0, 2.0]), tf.zeros([2, 2]), 1.0)
