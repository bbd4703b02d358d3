"""Run under ``mpiexec -n 2`` by test_mpi.py: ``python mpi_worker.py SCENARIO [OUTPUT]``.

``checks`` runs every collective and training comparison and writes, from rank 0, a JSON file
``{check name: [passed, detail]}``; expected values come from NumPy on the known inputs of each
rank, or from plain single-process training on the whole global batch. The other scenarios
make a rank fail (raise, die, hang) to show the job ends quickly with a clear message.
"""

import json
import os
import signal
import sys
import time

import numpy as np

import tapegrad as tf
import tapegrad.distribute as hvd
from tapegrad.distribute import _engine as hvd_engine
from tapegrad.distribute import collectives as hvd_collectives

RESULTS: dict = {}


def check(name, passed, detail=""):
    RESULTS[name] = [bool(passed), str(detail)]


def same_on_all_ranks(arrays) -> bool:
    """Whether every rank holds bit-identical ``arrays``."""
    gathered = hvd.allgather_object([np.asarray(a) for a in arrays])
    return all(all(np.array_equal(a, b) for a, b in zip(gathered[0], other))
               for other in gathered[1:])


# -- collectives -----------------------------------------------------------------------------

def collectives(rank, size):
    check("topology", (hvd.size(), hvd.local_size(), hvd.cross_size(), hvd.local_rank(),
                       hvd.cross_rank()) == (2, 2, 1, rank, 0))
    inputs = [np.array([1.0, -2.0, 3.0], np.float32) * (r + 1) for r in range(size)]
    mine = tf.constant(inputs[rank])
    expected = {hvd.Sum: np.sum(inputs, 0), hvd.Average: np.mean(inputs, 0),
                hvd.Min: np.min(inputs, 0), hvd.Max: np.max(inputs, 0),
                hvd.Product: np.prod(inputs, 0)}
    # Each call twice: the second repeats the first, so it runs allreduce's cached short path.
    for op, value in expected.items():
        got = [hvd.allreduce(mine, op=op).numpy() for _ in range(2)]
        check(f"allreduce {op.name}", all(np.allclose(g, value) and g.dtype == np.float32
                                          for g in got), got)
    halves = [np.array([1.5, -2.25, 100.0], np.float16) * (r + 1) for r in range(size)]
    for op, ufunc in ((hvd.Sum, np.add), (hvd.Min, np.minimum), (hvd.Max, np.maximum),
                      (hvd.Product, np.multiply)):
        got = [hvd.allreduce(tf.constant(halves[rank]), op=op).numpy() for _ in range(2)]
        want = ufunc.reduce(np.stack(halves), axis=0)     # float16 arithmetic, as MPI's
        check(f"allreduce float16 {op.name}", all(g.dtype == np.float16
                                                  and np.array_equal(g, want) for g in got), got)
    flags = tf.constant([rank == 0, True, False])
    got = [[hvd.allreduce(flags, op=op).numpy().tolist() for _ in range(2)]
           for op in (hvd.Max, hvd.Min)]
    check("allreduce bool Max and Min", got == [[[True, True, False]] * 2,
                                                [[False, True, False]] * 2], got)
    big = np.arange(1 << 18, dtype=np.float32)           # 1 MiB: output on huge pages
    held = [hvd.allreduce(tf.constant(big * (rank + 1)), op=hvd.Sum) for _ in range(3)]
    check("allreduce 1 MiB repeated, every result held", all(
        np.array_equal(h.numpy(), 3 * big) for h in held), [h.numpy()[:3] for h in held])
    # From 256 KiB a scaled reduction goes in chunks, one per rank, when they can be equal.
    for extra, label in ((2, "in chunks"), (3, "odd size")):
        larges = [np.random.default_rng(r).standard_normal((1 << 17) + extra).astype(np.float32)
                  for r in range(size)]
        total = larges[0] + larges[1]                      # float32, as MPI adds two values
        got = [hvd.allreduce(tf.constant(larges[rank])) for _ in range(2)]
        got += hvd.grouped_allreduce([tf.constant(larges[rank]), tf.constant([rank, 1.0])])[:1]
        got.append(hvd.allreduce(tf.constant(larges[rank]), op=hvd.Sum, postscale_factor=3.0))
        want = [total * np.float32(0.5)] * 3 + [total * np.float32(3.0)]
        check(f"allreduce 512 KiB scaled, {label}", all(np.array_equal(g.numpy(), w)
                                                        for g, w in zip(got, want))
              and same_on_all_ranks(got), [g.numpy()[:3] for g in got])
    # Small chunks too: MPICH leaves a large in-place chunk where it lies as well as first in
    # the buffer (where MPI puts it), a small one only first.
    hvd_engine._CHUNKED_MIN_BYTES, saved = 0, hvd_engine._CHUNKED_MIN_BYTES
    got = hvd.grouped_allreduce([tf.constant(np.arange(6, dtype=np.float32) + rank),
                                 tf.constant([2.0 * rank, 4.0])])
    got.append(hvd.allreduce(tf.constant(np.arange(8, dtype=np.float32) * (rank + 1))))
    hvd_engine._CHUNKED_MIN_BYTES = saved
    check("allreduce small chunks", [g.numpy().tolist() for g in got] == [
        [0.5, 1.5, 2.5, 3.5, 4.5, 5.5], [1.0, 4.0], [0.0, 1.5, 3.0, 4.5, 6.0, 7.5, 9.0, 10.5]],
        [g.numpy() for g in got])
    got = hvd.allreduce(mine, op=hvd.Sum, prescale_factor=0.5, postscale_factor=3.0).numpy()
    check("allreduce pre/postscale", np.allclose(got, 1.5 * np.sum(inputs, 0)), got)

    hvd.init(fusion_threshold=16)          # several fused buffers per dtype
    group = [tf.constant(np.arange(6, dtype=np.float64).reshape(2, 3) + rank),
             tf.constant([rank, 10], dtype=tf.int32), tf.constant(2.0 * rank),
             tf.constant(np.full(5, rank + 1.0, np.float32))]
    got = [t.numpy() for t in hvd.grouped_allreduce(group, op=hvd.Sum)]
    want = [2 * np.arange(6).reshape(2, 3) + 1, np.array([1, 20]), np.array(2.0),
            np.full(5, 3.0)]
    check("grouped_allreduce fused", all(np.array_equal(g, w) for g, w in zip(got, want))
          and [g.dtype for g in got] == [np.float64, np.int32, np.float32, np.float32], got)
    hvd.init(fusion_threshold=128 * 1024 * 1024)

    rows = tf.constant(np.full((rank + 1, 2), rank, np.int64))
    got = hvd.allgather(rows).numpy()
    check("allgather uneven", np.array_equal(got, [[0, 0], [1, 1], [1, 1]]), got)
    got = hvd.allgather(tf.constant([rank == 0, True])).numpy()
    check("allgather bool", got.tolist() == [True, True, False, True], got)

    got = hvd.broadcast(tf.constant([float(rank), 7.0]), root_rank=1).numpy()
    check("broadcast root 1", np.array_equal(got, [1.0, 7.0]), got)

    data = tf.constant(np.arange(4) + 10 * rank)
    splits = [1, 3] if rank == 0 else [2, 2]
    out, received = hvd.alltoall(data, splits=splits)
    want = [0, 10, 11] if rank == 0 else [1, 2, 3, 12, 13]
    check("alltoall splits", out.numpy().tolist() == want
          and received.numpy().tolist() == ([1, 2] if rank == 0 else [3, 2]), out)
    got = hvd.alltoall(tf.constant([rank * 2, rank * 2 + 1])).numpy()
    check("alltoall equal", got.tolist() == [0, 2] if rank == 0 else got.tolist() == [1, 3], got)

    variables = [tf.Variable(np.full((2, 2), rank + 1.0, np.float32), name="a"),
                 tf.Variable([rank], dtype=tf.int64, name="b")]
    hvd.broadcast_variables(variables, root_rank=1)
    check("broadcast_variables", np.array_equal(variables[0].numpy(), np.full((2, 2), 2.0))
          and variables[1].numpy().tolist() == [1], [v.numpy() for v in variables])

    got = hvd.broadcast_object({"rank": rank, "t": (1, "x")} if rank == 0 else None, 0)
    check("broadcast_object", got == {"rank": 0, "t": (1, "x")}, got)
    got = hvd.allgather_object({"rank": rank})
    check("allgather_object", got == [{"rank": 0}, {"rank": 1}], got)
    hvd.barrier()


# -- training ----------------------------------------------------------------------------------

GLOBAL_BATCH = 8


def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(GLOBAL_BATCH, 5)).astype(np.float32)
    ids = rng.integers(0, 6, size=GLOBAL_BATCH)
    y = rng.normal(size=(GLOBAL_BATCH, 1)).astype(np.float32)
    return x, ids, y


def make_model():
    rng = np.random.default_rng(1)
    return [tf.Variable(rng.normal(size=(6, 3)).astype(np.float32), name="embedding"),
            tf.Variable(rng.normal(size=(8, 1)).astype(np.float32), name="kernel"),
            tf.Variable(np.zeros(1, np.float32), name="bias")]


def loss_of(model, x, ids, y):
    embedding, kernel, bias = model
    features = tf.concat([tf.constant(x), tf.gather(embedding, tf.constant(ids))], axis=1)
    prediction = tf.matmul(tf.tanh(features), kernel) + bias
    return tf.reduce_mean((prediction - tf.constant(y)) ** 2)


def train(optimizer, steps, rank=None, size=1, wrap=None, densify=False):
    """Train a fresh model; with ``rank`` each process takes its slice of the global batch and
    ``wrap(tape, optimizer)`` returns (tape, optimizer) to use. ``densify``: apply the
    embedding's IndexedSlices gradient as a dense tensor (Adam treats duplicate rows
    differently in the two forms)."""
    model = make_model()
    x, ids, y = data()
    if rank is not None:
        part = slice(rank * GLOBAL_BATCH // size, (rank + 1) * GLOBAL_BATCH // size)
        x, ids, y = x[part], ids[part], y[part]
        if rank == 1:      # ranks start apart: broadcast_variables must make them equal
            model[1].assign(model[1] + 1.0)
        hvd.broadcast_variables(model, root_rank=0)
    for _ in range(steps):
        with tf.GradientTape() as tape:
            loss = loss_of(model, x, ids, y)
        tape, opt = wrap(tape, optimizer) if wrap else (tape, optimizer)
        grads = tape.gradient(loss, model)
        if densify:
            grads = [tf.convert_to_tensor(g) for g in grads]
        opt.apply_gradients(zip(grads, model))
    return [v.numpy() for v in model]


OPTIMIZERS = {"sgd": lambda: tf.keras.optimizers.SGD(0.1, momentum=0.9),
              "adam": lambda: tf.keras.optimizers.Adam(0.05)}
# fp16 rounds each gradient to 11 significant bits: after 5 steps the weights stay within this.
FP16_TOLERANCE = 2e-3


def training(rank, size):
    model = make_model()
    x, ids, y = data()
    part = slice(rank * GLOBAL_BATCH // size, (rank + 1) * GLOBAL_BATCH // size)
    with tf.GradientTape() as tape:
        loss = loss_of(model, x[part], ids[part], y[part])
    grads = hvd.DistributedGradientTape(tape).gradient(loss, model)
    check("gradients identical on ranks", isinstance(grads[0], tf.IndexedSlices)
          and same_on_all_ranks([tf.convert_to_tensor(g).numpy() for g in grads]))
    for name, make in OPTIMIZERS.items():
        references = {dense: train(make(), 5, densify=dense) for dense in (False, True)}
        for sparse_as_dense, reference in references.items():
            for compression in ("none", "fp16"):
                def wrap_tape(tape, opt, s=sparse_as_dense, c=compression):
                    return hvd.DistributedGradientTape(
                        tape, sparse_as_dense=s, compression=getattr(hvd.Compression, c)), opt
                got = train(make(), 5, rank, size, wrap_tape)
                tolerance = FP16_TOLERANCE if compression == "fp16" else 1e-5
                error = max(float(np.max(np.abs(g - r))) for g, r in zip(got, reference))
                label = f"tape {name} sparse_as_dense={sparse_as_dense} {compression}"
                check(label, error <= tolerance, f"max error {error:g}")
                check(label + " identical on ranks", same_on_all_ranks(got))
        optimizer = hvd.DistributedOptimizer(make())
        got = train(optimizer, 5, rank, size, lambda tape, opt: (tape, opt))
        error = max(float(np.max(np.abs(g - r))) for g, r in zip(got, references[False]))
        check(f"DistributedOptimizer {name}", error <= 1e-5 and same_on_all_ranks(got),
              f"max error {error:g}")


# -- Keras fit with the callbacks ------------------------------------------------------------

def fit_model(rank, optimizer, x, y, batch_size, callbacks=(), epochs=3):
    model = tf.keras.Sequential([tf.keras.Input((5,)), tf.keras.layers.Dense(
        1, kernel_initializer=tf.keras.initializers.Constant(0.1 * (rank + 1)))])
    model.compile(optimizer, "mse")
    history = model.fit(x, y, batch_size=batch_size, epochs=epochs, shuffle=False, verbose=0,
                        callbacks=list(callbacks))
    return model, history.history


def keras_fit(rank, size):
    x, _, y = data()
    part = slice(rank * GLOBAL_BATCH // size, (rank + 1) * GLOBAL_BATCH // size)
    sgd = lambda: tf.keras.optimizers.SGD(0.05, momentum=0.9)   # noqa: E731
    reference, _ = fit_model(0, sgd(), x, y, GLOBAL_BATCH)
    model, history = fit_model(rank, hvd.DistributedOptimizer(sgd()), x[part], y[part],
                               GLOBAL_BATCH // size,
                               [hvd.callbacks.BroadcastGlobalVariablesCallback(0),
                                hvd.callbacks.MetricAverageCallback()])
    got = [v.numpy() for v in model.variables]
    error = max(float(np.max(np.abs(g - r.numpy()))) for g, r in zip(got, reference.variables))
    check("fit with DistributedOptimizer and broadcast", error <= 1e-5, f"max error {error:g}")
    check("fit weights identical on ranks", same_on_all_ranks(got))
    losses = hvd.allgather_object(history["loss"])
    # The shards differ, so equal logged losses on both ranks come from the averaging.
    check("MetricAverageCallback averages the loss", losses[0] == losses[1], losses)

    # Warmup: 2 batches per epoch over 2 epochs; lr = initial/size * (p (size-1)/2 + 1).
    seen = []

    class Record(tf.keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            seen.append(float(self.model.optimizer.learning_rate.numpy()))

    record = Record()
    warmup = hvd.callbacks.LearningRateWarmupCallback(initial_lr=0.4, warmup_epochs=2)
    model2, _ = fit_model(rank, hvd.DistributedOptimizer(sgd()), x[part], y[part], 2,
                          [warmup, record], epochs=3)
    progress = [e + (b + 1) / 2 for e in range(2) for b in range(2)]
    want = [0.4 / size * (p * (size - 1) / 2 + 1) for p in progress] + [0.4, 0.4]
    check("LearningRateWarmupCallback ramps the learning rate", np.allclose(seen, want),
          [seen, want])
    check("momentum restored after warmup", model2.optimizer.momentum == 0.9)


# -- mismatches ------------------------------------------------------------------------------

def mismatch(label, call, *expected_parts):
    try:
        call()
    except hvd.TensorMismatchError as error:
        text = str(error)
        check(f"mismatch {label}", all(p in text for p in expected_parts), text)
        return
    check(f"mismatch {label}", False, "no error raised")


def local_failure(rank, label, error_type, call, text):
    """A call that fails on one rank only raises on both (the failing one its own error, the
    other the same type naming it) instead of leaving one waiting in the collective."""
    try:
        call()
    except error_type as error:
        check(f"one rank's failure raises on all: {label}", text in str(error)
              and ("failed on rank" in str(error)) != (rank == failing_rank(label)), str(error))
        return
    check(f"one rank's failure raises on all: {label}", False, "no error raised")


def failing_rank(label):
    return 0 if label == "fp16 overflow" else 1


def mismatches(rank):
    mismatch("shape", lambda: hvd.allreduce(tf.zeros([2 + rank]), name="w"),
             "tensor 'w' (#0) has dtype float32 shape (2,) on rank 0",
             "dtype float32 shape (3,) on rank 1")
    mismatch("dtype", lambda: hvd.allreduce(tf.zeros([2], dtype=[tf.float32, tf.float64][rank]),
                                            name="w"), "float64 shape (2,) on rank 1")
    variables = [tf.Variable(1.0, name="shared")] + (
        [tf.Variable(2.0, name="only_on_rank_1")] if rank == 1 else [])
    with tf.GradientTape() as tape:
        loss = tf.add_n([v * v for v in variables])
    mismatch("missing variable",
             lambda: hvd.DistributedGradientTape(tape).gradient(loss, variables),
             "tensor 'only_on_rank_1' (#1) is present on rank 1 only (missing on rank 0)")
    a, b = tf.Variable(1.0, name="a"), tf.Variable(2.0, name="b")
    with tf.GradientTape() as tape:
        loss = a * a + (b * b if rank == 0 else 0.0)
    mismatch("None gradient", lambda: hvd.DistributedGradientTape(tape).gradient(loss, [a, b]),
             "tensor 'b' (#1) has dtype float32 shape () on rank 0; no gradient (None) on rank 1")
    mismatch("different collectives",
             lambda: hvd.broadcast(tf.zeros([1]), 0) if rank else hvd.allreduce(tf.zeros([1])),
             "different collectives", "rank 0", "rank 1")
    local_failure(rank, "fp16 overflow", ValueError, lambda: hvd.allreduce(
        tf.constant([1e5 if rank == 0 else 1.0]), compression=hvd.Compression.fp16),
        "Compression.fp16 cannot carry values of magnitude 100000")
    local_failure(rank, "string tensor", TypeError, lambda: hvd.broadcast(
        tf.constant(["text"]) if rank == 1 else tf.constant([1.0]), root_rank=0),
        "got dtype object")
    hvd.allreduce(tf.zeros([4]))                      # cached, then repeated by rank 0 only
    local_failure(rank, "Average of integers, the other rank's call cached", TypeError,
                  lambda: hvd.allreduce(tf.zeros([4], dtype=[tf.float32, tf.int32][rank])),
                  "Average of int32 tensors is not exact")
    got = hvd.allreduce(tf.constant(1.0), op=hvd.Sum).numpy()
    check("collectives work after a mismatch", got == 2.0, got)
    # Layers built in another order get other automatic names: positions, not names, match.
    got = hvd.allreduce(tf.constant(1.0), op=hvd.Sum, name=f"layer_{rank}").numpy()
    check("names may differ across ranks", got == 2.0, got)


# -- the response cache ------------------------------------------------------------------------

def cached_calls(rank):
    """A repeated call reuses its plan; a new shape makes a new one; ranks whose calls hit
    different cached plans (or one hits, the other misses) still get a mismatch error."""
    plans = hvd_collectives._PLANS
    x = tf.constant(np.full(3, rank + 1.0, np.float32))
    first = hvd.allreduce(x, op=hvd.Sum, name="c")
    count = len(plans)
    second = hvd.allreduce(x, op=hvd.Sum, name="c")
    check("cache hit", len(plans) == count and first.numpy().tolist() == [3.0] * 3
          and second.numpy().tolist() == [3.0] * 3, [first, second, len(plans), count])
    got = hvd.allreduce(tf.constant(np.full(5, rank + 1.0, np.float32)), op=hvd.Sum, name="c")
    check("cache miss after a shape change", len(plans) == count + 1
          and got.numpy().tolist() == [3.0] * 5, [got, len(plans), count])
    mismatch("after a cached hit on every rank",
             lambda: hvd.allreduce(tf.zeros([3 + 2 * rank]), op=hvd.Sum, name="c"),
             "tensor 'c' (#0) has dtype float32 shape (3,) on rank 0",
             "dtype float32 shape (5,) on rank 1")
    mismatch("after a cached hit on one rank",
             lambda: hvd.allreduce(tf.zeros([3 + 4 * rank]), op=hvd.Sum, name="c"),
             "dtype float32 shape (3,) on rank 0", "dtype float32 shape (7,) on rank 1")
    got = hvd.allreduce(x, op=hvd.Sum, name="c")
    check("cached plan works after a mismatch", got.numpy().tolist() == [3.0] * 3
          and first.numpy().tolist() == [3.0] * 3, [got, first])


# -- faults ----------------------------------------------------------------------------------

def faults(scenario, rank):
    if rank == 1:
        if scenario == "raise":
            raise RuntimeError("boom on purpose")
        if scenario == "die":
            os.kill(os.getpid(), signal.SIGKILL)
        if scenario == "hang":
            time.sleep(60)
    hvd.allreduce(tf.constant(1.0))
    print("rank 0 was not stopped", flush=True)


def main():
    scenario = sys.argv[1]
    hvd.init(timeout=1.0 if scenario == "hang" else None)
    rank, size = hvd.rank(), hvd.size()
    if scenario != "checks":
        faults(scenario, rank)
        return
    collectives(rank, size)
    training(rank, size)
    keras_fit(rank, size)
    mismatches(rank)
    cached_calls(rank)
    if rank == 0:
        with open(sys.argv[2], "w") as f:
            json.dump(RESULTS, f, indent=1)


if __name__ == "__main__":
    main()
