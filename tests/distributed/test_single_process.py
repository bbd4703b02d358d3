"""tapegrad.distribute in one process (no mpiexec): results equal plain single-process ones,
bad arguments give clear errors, and the pieces under the collectives work on their own."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tapegrad as tf
import tapegrad.distribute as hvd
from tapegrad._core.tensor import to_array
from tapegrad.distribute import _engine, _objects, collectives

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def initialized():
    hvd.init()
    yield
    hvd.init(fusion_threshold=_engine.DEFAULT_FUSION_THRESHOLD, timeout=_engine.DEFAULT_TIMEOUT,
             cache_capacity=_engine.DEFAULT_CACHE_CAPACITY)


def test_one_process_topology():
    assert (hvd.size(), hvd.rank(), hvd.local_size(), hvd.local_rank(), hvd.cross_size(),
            hvd.cross_rank()) == (1, 0, 1, 0, 1, 0)
    assert hvd.is_initialized()


def test_calls_before_init_say_to_call_init():
    hvd.shutdown()
    try:
        assert not hvd.is_initialized()
        with pytest.raises(ValueError, match=r"call hvd.init\(\) first"):
            hvd.size()
        with pytest.raises(ValueError, match="hvd.init"):
            hvd.allreduce(tf.constant(1.0))
    finally:
        hvd.init()


@pytest.mark.parametrize("op", [hvd.Sum, hvd.Average, hvd.Min, hvd.Max, hvd.Product])
def test_allreduce_of_one_process_is_the_input(op):
    x = tf.constant([[1.5, -2.0]], dtype=tf.float64)
    got = hvd.allreduce(x, op=op)
    assert got.dtype == tf.float64
    np.testing.assert_array_equal(got.numpy(), [[1.5, -2.0]])


def test_scale_factors_and_deprecated_average_flag():
    x = tf.constant([2.0, 4.0])
    np.testing.assert_allclose(hvd.allreduce(x, prescale_factor=0.5, postscale_factor=3.0),
                               [3.0, 6.0])
    np.testing.assert_array_equal(hvd.allreduce(x, average=False).numpy(), [2.0, 4.0])
    with pytest.raises(ValueError, match="supersedes"):
        hvd.allreduce(x, average=True, op=hvd.Sum)


def test_unsupported_reductions_are_clear_errors():
    with pytest.raises(TypeError, match="Average of int32 tensors is not exact"):
        hvd.allreduce(tf.constant([1, 2]))
    with pytest.raises(TypeError, match="boolean"):
        hvd.allreduce(tf.constant([True]), op=hvd.Sum)
    np.testing.assert_array_equal(hvd.allreduce(tf.constant([True, False]), op=hvd.Max),
                                  [True, False])
    with pytest.raises(TypeError, match="cannot scale an integer"):
        hvd.allreduce(tf.constant([1, 2]), op=hvd.Sum, prescale_factor=2.0)
    with pytest.raises(TypeError, match="Min and Max are not defined for complex"):
        hvd.allreduce(tf.constant([1 + 2j]), op=hvd.Min)
    with pytest.raises(TypeError, match="carry numeric and boolean tensors; got dtype object"):
        hvd.broadcast(tf.constant(["text"]), 0)
    with pytest.raises(TypeError, match="got dtype object"):
        hvd.allgather(tf.constant(["text"]))
    with pytest.raises(NotImplementedError, match="Adasum"):
        hvd.allreduce(tf.constant([1.0]), op=hvd.Adasum)
    with pytest.raises(NotImplementedError, match="process set"):
        hvd.allreduce(tf.constant([1.0]), process_set=object())


def embedding_gradient():
    table = tf.Variable(np.arange(8.0, dtype=np.float32).reshape(4, 2))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.gather(table, [1, 1, 3]) * 2.0)
    return table, tape, loss


def test_indexed_slices_are_gathered_not_densified():
    table, tape, loss = embedding_gradient()
    grad = tape.gradient(loss, table)
    got = hvd.allreduce(grad)
    assert isinstance(got, tf.IndexedSlices)
    np.testing.assert_array_equal(got.indices.numpy(), [1, 1, 3])
    np.testing.assert_array_equal(tf.convert_to_tensor(got).numpy(),
                                  [[0, 0], [4, 4], [0, 0], [2, 2]])
    with pytest.raises(NotImplementedError, match="Only Sum and Average"):
        hvd.allreduce(grad, op=hvd.Max)
    integer_rows = tf.IndexedSlices(tf.constant([[1, 2]]), tf.constant([0]), tf.constant([3, 2]))
    with pytest.raises(TypeError, match="Average of int32 tensors is not exact"):
        hvd.allreduce(integer_rows)
    summed = hvd.allreduce(integer_rows, op=hvd.Sum)
    assert summed.values.dtype == tf.int32


def test_distributed_tape_gives_the_plain_gradients():
    w = tf.Variable([[1.0, -2.0], [0.5, 3.0]], name="w")
    b = tf.Variable([0.1, 0.2], name="b")
    unused = tf.Variable(1.0, name="unused")
    x = tf.constant([[1.0, 2.0]])
    with tf.GradientTape(persistent=True) as tape:
        loss = tf.reduce_sum(tf.tanh(tf.matmul(x, w) + b))
    expected = tape.gradient(loss, {"w": w, "b": b, "u": unused})
    wrapped = hvd.DistributedGradientTape(tape)
    assert isinstance(wrapped, tf.GradientTape)
    got = wrapped.gradient(loss, {"w": w, "b": b, "u": unused})
    assert got["u"] is None
    for key in ("w", "b"):
        np.testing.assert_array_equal(got[key].numpy(), expected[key].numpy())


def test_sparse_as_dense_and_fp16_compression():
    table, tape, loss = embedding_gradient()
    got = hvd.DistributedGradientTape(tape, sparse_as_dense=True,
                                      compression=hvd.Compression.fp16).gradient(loss, [table])
    assert not isinstance(got[0], tf.IndexedSlices)
    assert got[0].dtype == tf.float32
    np.testing.assert_array_equal(got[0].numpy(), [[0, 0], [4, 4], [0, 0], [2, 2]])


def test_fp16_rounds_to_half_precision_and_refuses_overflow():
    value = np.float32(1.0 + 2 ** -12)              # not representable in float16
    got = hvd.allreduce(tf.constant([value]), compression=hvd.Compression.fp16)
    assert got.dtype == tf.float32 and got.numpy()[0] == np.float16(value)
    with pytest.raises(ValueError, match="65504"):
        hvd.allreduce(tf.constant([1e5]), compression=hvd.Compression.fp16)


def test_gradient_predivide_factor_keeps_the_average():
    w = tf.Variable([3.0])
    with tf.GradientTape() as tape:
        loss = w * w
    got = hvd.DistributedGradientTape(tape, gradient_predivide_factor=4.0).gradient(loss, w)
    np.testing.assert_allclose(got.numpy(), [6.0])
    with pytest.raises(ValueError, match="only supported with op=hvd.Average"):
        hvd.DistributedGradientTape(tape, op=hvd.Sum, gradient_predivide_factor=2.0)


@pytest.mark.parametrize("make", [lambda: tf.keras.optimizers.SGD(0.1, momentum=0.9),
                                  lambda: tf.keras.optimizers.Adam(0.1)])
def test_distributed_optimizer_applies_like_the_plain_one(make):
    runs = []
    for wrap in (False, True):
        w = tf.Variable([1.0, -1.0], name="w")
        opt = hvd.DistributedOptimizer(make()) if wrap else make()
        for _ in range(3):
            opt.minimize(lambda w=w: tf.reduce_sum(w * w * w), [w])
        runs.append(w.numpy())
    np.testing.assert_array_equal(runs[0], runs[1])


def test_distributed_optimizer_keeps_its_class_and_refuses_others():
    opt = hvd.DistributedOptimizer(tf.keras.optimizers.Adam(0.01), name="dist")
    assert isinstance(opt, tf.keras.optimizers.Adam) and opt.name == "dist"
    with pytest.raises(TypeError, match="wraps a tapegrad.keras.optimizers optimizer"):
        hvd.DistributedOptimizer(object())
    with pytest.raises(ValueError, match="Adam is already distributed"):
        hvd.DistributedOptimizer(opt)
    with tf.GradientTape() as tape:
        pass
    with pytest.raises(ValueError, match="GradientTape is already distributed"):
        hvd.DistributedGradientTape(hvd.DistributedGradientTape(tape))
    with pytest.raises(NotImplementedError, match="backward_passes_per_step"):
        hvd.DistributedOptimizer(tf.keras.optimizers.SGD(), backward_passes_per_step=2)


def test_other_collectives_of_one_process():
    x = tf.constant([[1, 2], [3, 4]])
    np.testing.assert_array_equal(hvd.allgather(x).numpy(), x.numpy())
    np.testing.assert_array_equal(hvd.broadcast(x, 0).numpy(), x.numpy())
    np.testing.assert_array_equal(hvd.alltoall(x).numpy(), x.numpy())
    grouped = hvd.grouped_allreduce([tf.constant(1.0), tf.constant([2.0, 3.0])], op=hvd.Sum)
    assert [g.numpy().tolist() for g in grouped] == [1.0, [2.0, 3.0]]
    assert hvd.grouped_allreduce([]) == []
    hvd.barrier()
    v = tf.Variable([1.0])
    hvd.broadcast_variables([v], 0)
    assert v.numpy().tolist() == [1.0]


def test_collective_argument_errors():
    with pytest.raises(ValueError, match=r"root_rank must be an integer rank in \[0, 0\]"):
        hvd.broadcast(tf.constant(1.0), root_rank=1)
    with pytest.raises(ValueError, match="rank >= 1"):
        hvd.allgather(tf.constant(1.0))
    with pytest.raises(ValueError, match="adding up to the first dimension 3"):
        hvd.alltoall(tf.constant([1, 2, 3]), splits=[2])


def test_objects_travel_as_json_not_pickle():
    value = {"epoch": 3, (1, "k"): [None, True, 2.5, b"\x00"], "w": np.arange(3.0),
             "t": tf.constant([1, 2]), "s": np.float32(1.5)}
    got = hvd.broadcast_object(value)
    assert got["epoch"] == 3 and got[(1, "k")] == [None, True, 2.5, b"\x00"]
    np.testing.assert_array_equal(got["w"], np.arange(3.0))
    assert got["t"].dtype == np.int32 and got["s"] == np.float32(1.5)
    assert hvd.allgather_object("x") == ["x"]
    assert b"pickle" not in _objects.encode(value)

    class Opaque:
        pass
    with pytest.raises(TypeError, match="got Opaque"):
        hvd.broadcast_object(Opaque())
    with pytest.raises(TypeError, match="dtype object"):
        _objects.encode(np.array([None, 1], dtype=object))


def test_fusion_buckets_group_by_dtype_under_the_threshold():
    arrays = [np.zeros(4, np.float32), np.zeros(2, np.float64), np.zeros(4, np.float32),
              np.zeros(100, np.float32), np.zeros(1, np.float32)]
    assert list(_engine._buckets(arrays, 32)) == [[0, 2], [3], [4], [1]]
    assert list(_engine._buckets(arrays, 0)) == [[0], [2], [3], [4], [1]]
    assert list(_engine._buckets(arrays, 1 << 20)) == [[0, 2, 3, 4], [1]]


def _address(tensor) -> int:
    return to_array(tensor).__array_interface__["data"][0]


def test_a_result_still_held_is_never_overwritten_by_a_later_call():
    x = tf.constant(np.arange(4.0, dtype=np.float32))
    first = hvd.allreduce(x, op=hvd.Sum)
    second = hvd.allreduce(x * 2.0, op=hvd.Sum)
    view = to_array(second)[1:]          # a NumPy view holds the buffer as well
    del second
    third = hvd.allreduce(x * 3.0, op=hvd.Sum)
    fourth = hvd.allreduce(x * 4.0, op=hvd.Sum)
    assert first.numpy().tolist() == [0, 1, 2, 3] and view.tolist() == [2, 4, 6]
    assert third.numpy().tolist() == [0, 3, 6, 9] and fourth.numpy().tolist() == [0, 4, 8, 12]
    assert len({_address(first), view.ctypes.data - 4, _address(third), _address(fourth)}) == 4


def test_the_output_buffer_of_a_dropped_result_is_reused():
    x = tf.constant(np.ones(8, np.float32))
    address = _address(hvd.allreduce(x))            # the result is dropped at once
    assert _address(hvd.allreduce(x)) == address
    held = hvd.allreduce(x)
    assert _address(hvd.allreduce(x)) != _address(held)
    # Fused results are views of one buffer: one of them held keeps the whole buffer busy.
    group = [tf.constant([1.0, 2.0]), tf.constant([3.0])]
    first = hvd.grouped_allreduce(group)[1]
    second = hvd.grouped_allreduce(group)
    assert first.numpy().tolist() == [3.0] and second[1].numpy().tolist() == [3.0]
    assert _address(second[0]) not in (_address(first) - 8, _address(first))


def test_large_results_come_in_huge_page_buffers_never_overwritten_while_held():
    big = 1 << 18                                        # float32: 1 MiB, from which on
    x = tf.constant(np.arange(big, dtype=np.float32))
    kept_before = _engine._Outputs.kept_bytes            # of earlier tests' plans
    first = hvd.allreduce(x, op=hvd.Sum)
    fused = hvd.grouped_allreduce([x, tf.constant([1.0, 2.0])], op=hvd.Sum)
    held = fused[1]                                      # a view of the fused buffer
    del fused
    again = hvd.grouped_allreduce([x * 2.0, tf.constant([3.0, 4.0])], op=hvd.Sum)
    second = hvd.allreduce(x * 3.0, op=hvd.Sum)
    np.testing.assert_array_equal(first, np.arange(big))
    assert held.numpy().tolist() == [1.0, 2.0] and again[1].numpy().tolist() == [3.0, 4.0]
    np.testing.assert_array_equal(second, 3.0 * np.arange(big))
    np.testing.assert_array_equal(again[0], 2.0 * np.arange(big))
    if _engine._HUGE_PAGES:
        assert [_address(t) % (2 << 20) for t in (first, second, again[0])] == [0, 0, 0]
        # Two buffers kept per plan, each counted as the whole huge page it takes.
        assert _engine._Outputs.kept_bytes - kept_before == 4 * (2 << 20)


def test_a_loop_holding_the_previous_result_takes_turns_with_two_buffers():
    x = tf.constant(np.ones(4, np.float32))
    previous, addresses = hvd.allreduce(x * 10.0), set()
    for step in range(1, 6):
        current = hvd.allreduce(x * float(step))
        assert previous.numpy().tolist() == [10.0 if step == 1 else step - 1.0] * 4
        addresses.add(_address(current))
        previous = current
    assert len(addresses) == 2


def test_repeated_compressed_and_prescaled_calls_use_each_call_s_values():
    for step in range(3):
        x = tf.constant([1.0 + step, 2.0])
        got = hvd.allreduce(x, op=hvd.Sum, compression=hvd.Compression.fp16)
        assert got.dtype == tf.float32 and got.numpy().tolist() == [1.0 + step, 2.0]
        got = hvd.allreduce(x, prescale_factor=0.5, postscale_factor=4.0)
        assert got.numpy().tolist() == [2.0 + 2 * step, 4.0]


def test_a_new_fusion_threshold_makes_new_buckets():
    group = [tf.constant([1.0, 2.0]), tf.constant([3.0])]
    fused = hvd.grouped_allreduce(group)
    assert _address(fused[1]) == _address(fused[0]) + 8          # one buffer
    hvd.init(fusion_threshold=0)
    alone = hvd.grouped_allreduce(group)
    assert _address(alone[1]) != _address(alone[0]) + 8
    assert [t.numpy().tolist() for t in alone] == [[1.0, 2.0], [3.0]]


def test_a_scale_factor_that_may_change_is_read_on_every_call():
    factor, x = tf.Variable(2.0), tf.constant([1.0, 2.0])
    assert hvd.allreduce(x, op=hvd.Sum, prescale_factor=factor).numpy().tolist() == [2.0, 4.0]
    factor.assign(3.0)
    assert hvd.allreduce(x, op=hvd.Sum, prescale_factor=factor).numpy().tolist() == [3.0, 6.0]
    half = np.array(0.5)                                       # not hashable: no short path
    assert hvd.allreduce(x, op=hvd.Sum, postscale_factor=half).numpy().tolist() == [0.5, 1.0]


def _cached_shapes():
    return [key[-1] for key in collectives._PLANS]     # of one-tensor allreduce calls


def test_the_plan_cache_keeps_the_most_recent_calls_up_to_its_capacity():
    hvd.init(cache_capacity=2)
    for shape in [(2,), (3,), (2,), (4,)]:
        np.testing.assert_array_equal(hvd.allreduce(tf.ones(shape), op=hvd.Sum), np.ones(shape))
    assert _cached_shapes() == [(2,), (4,)]         # (3,) was the least recently used
    hvd.init(cache_capacity=0)
    assert _cached_shapes() == [] and _engine._Outputs.kept_bytes == 0
    np.testing.assert_array_equal(hvd.allreduce(tf.ones([2]), op=hvd.Sum), [1.0, 1.0])
    assert _cached_shapes() == [] and _engine._Outputs.kept_bytes == 0


def test_kept_output_buffers_stay_under_twice_the_fusion_threshold():
    hvd.init(fusion_threshold=4096)
    for rows in (1, 2, 3, 1):
        x = tf.ones([rows, 512])                     # 2, 4, 6, 2 KB
        np.testing.assert_array_equal(hvd.allreduce(x, op=hvd.Sum), np.ones([rows, 512]))
        assert _engine._Outputs.kept_bytes <= 8192
    assert _engine._Outputs.kept_bytes > 0


def test_mismatch_messages_name_the_tensor_and_the_ranks():
    header = {"collective": "allreduce", "op": "Average"}
    f32 = lambda *shape: ["<f4", list(shape)]   # noqa: E731
    every = [[header, [["a", f32(2)], ["b", f32(3)]]],
             [header, [["a", f32(2)], ["b2", f32(4)], ["c", f32(1)]]],
             [header, [["a", None], ["b", f32(3)]]]]
    text = _engine._mismatch_message(every)
    assert "tensor 'a' (#0) has dtype float32 shape (2,) on ranks [0, 1]; no gradient (None) " \
           "on rank 2" in text
    assert "tensor 'b' / 'b2' (#1) has dtype float32 shape (3,) on ranks [0, 2]; dtype float32 " \
           "shape (4,) on rank 1" in text
    assert "tensor 'c' (#2) is present on rank 1 only (missing on ranks [0, 2])" in text
    other = [[header, []], [{"collective": "barrier"}, []]]
    assert "Ranks called different collectives" in _engine._mismatch_message(other)


def test_settings_are_validated(monkeypatch):
    with pytest.raises(ValueError, match="must be >= 0"):
        hvd.init(fusion_threshold=-1)
    monkeypatch.setenv("TAPEGRAD_COLLECTIVE_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="TAPEGRAD_COLLECTIVE_TIMEOUT='soon'"):
        hvd.init()
    monkeypatch.setenv("TAPEGRAD_COLLECTIVE_TIMEOUT", "2.5")
    monkeypatch.setenv("HOROVOD_FUSION_THRESHOLD", "1024")
    monkeypatch.setenv("HOROVOD_CACHE_CAPACITY", "lots")
    with pytest.raises(ValueError, match="HOROVOD_CACHE_CAPACITY='lots'"):
        hvd.init()
    monkeypatch.setenv("HOROVOD_CACHE_CAPACITY", "7")
    hvd.init()
    assert (_engine.state.timeout, _engine.state.fusion_threshold,
            _engine.state.cache_capacity) == (2.5, 1024, 7)


def test_launched_under_mpiexec_without_mpi4py_is_an_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)
    monkeypatch.setenv("PMI_SIZE", "4")
    with pytest.raises(ImportError, match=r"one of 4 started by an MPI launcher.*tapegrad\[mpi\]"):
        _engine._import_mpi()
    monkeypatch.setenv("PMI_SIZE", "1")
    assert _engine._import_mpi() is None


def test_distributed_digits_example_runs_in_one_process():
    pytest.importorskip("sklearn", reason="the digits example needs scikit-learn")
    path = ROOT / "examples" / "distributed_digits.py"
    spec = importlib.util.spec_from_file_location("distributed_digits", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    lines = []
    result = example.train(epochs=1, log=lines.append)
    assert result["identical"] and result["accuracy"] > 0.7
    assert "1 process(es), 44 steps of 32 x 1 images" in lines[0]


def test_callbacks_in_one_process():
    model = tf.keras.Sequential([tf.keras.Input((2,)), tf.keras.layers.Dense(1)])
    model.compile(hvd.DistributedOptimizer(tf.keras.optimizers.SGD(0.1, momentum=0.5)), "mse")
    broadcast = hvd.callbacks.BroadcastGlobalVariablesCallback(0)
    warmup = hvd.LearningRateWarmupCallback(initial_lr=0.2, warmup_epochs=1)
    history = model.fit(np.ones((4, 2)), np.ones((4, 1)), batch_size=2, epochs=2, verbose=0,
                        callbacks=[broadcast, hvd.MetricAverageCallback(), warmup])
    assert broadcast.broadcast_done and model.optimizer.built
    assert len(history.history["loss"]) == 2
    assert warmup.multiplier(0.0) == 1.0          # one process: no warmup needed
    assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(0.2)
    assert model.optimizer.momentum == 0.5


def test_warmup_without_known_steps_asks_for_them():
    model = tf.keras.Sequential([tf.keras.Input((1,)), tf.keras.layers.Dense(1)])
    model.compile(tf.keras.optimizers.SGD(0.1), "mse")
    data = tf.data.Dataset.from_generator(lambda: iter([(np.ones((1, 1)), np.ones((1, 1)))]),
                                          output_signature=None)
    with pytest.raises(ValueError, match="needs steps_per_epoch"):
        model.fit(data, epochs=1, verbose=0,
                  callbacks=[hvd.callbacks.LearningRateWarmupCallback(0.1, warmup_epochs=1)])


def test_tensorflow_strategies_are_pointed_to_the_horovod_api():
    with pytest.raises(AttributeError, match="Horovod's API"):
        hvd.MirroredStrategy()
    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        hvd.nonsense  # noqa: B018


def test_a_launcher_of_another_mpi_is_detected(monkeypatch):
    pytest.importorskip("mpi4py", reason="needs mpi4py")
    hvd.shutdown()
    monkeypatch.setenv("PMI_SIZE", "3")
    try:
        with pytest.raises(RuntimeError, match="started 3 processes but MPI reports 1"):
            hvd.init()
    finally:
        monkeypatch.delenv("PMI_SIZE")
        hvd.init()
    assert hvd.size() == 1


def test_the_installation_check_runs_in_one_process():
    done = subprocess.run([sys.executable, "-m", "tapegrad.distribute"], capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("tapegrad.distribute: 1 process(es) on 1 host(s)")
    assert done.stdout.endswith("allreduce ok\n")
