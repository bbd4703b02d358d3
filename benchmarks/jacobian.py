"""Full 128x128 Jacobian of tanh(W @ tanh(W @ x)) in float32, against the peers.

Run by hand: ``python benchmarks/jacobian.py``. Peers run when installed: TensorFlow's
``tape.jacobian`` (pfor), ``torch.autograd.functional.jacobian(vectorize=True)``, ``jax.jacrev``
(eager, not jitted) and autograd's ``jacobian``; the analytic NumPy Jacobian is the floor.
Every result is checked against the analytic one before timing.
"""

from __future__ import annotations

import pathlib
import sys
import timeit

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

N = 128


def best_of(function, repeat: int = 7, number: int = 10) -> float:
    return min(timeit.repeat(function, repeat=repeat, number=number)) / number


def data():
    rng = np.random.default_rng(0)
    w = (rng.standard_normal((N, N)) / np.sqrt(N)).astype(np.float32)
    x = rng.standard_normal((N, 1)).astype(np.float32)
    return w, x


def analytic(w, x):
    h = np.tanh(w @ x)
    y = np.tanh(w @ h)
    return (1 - y * y) * w * (1 - h * h).T @ w


def tf_style_jacobian(tf, w, x):
    """The Jacobian written once against TensorFlow's API (tapegrad or TensorFlow)."""
    wt, xt = tf.constant(w), tf.constant(x)

    def jacobian():
        with tf.GradientTape() as tape:
            tape.watch(xt)
            y = tf.tanh(tf.matmul(wt, tf.tanh(tf.matmul(wt, xt))))
        return tape.jacobian(y, xt)

    return jacobian, lambda: jacobian().numpy().reshape(N, N)


def run_tapegrad(w, x):
    import tapegrad

    return tf_style_jacobian(tapegrad, w, x)


def run_torch(w, x):
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    wt, xt = torch.tensor(w), torch.tensor(x[:, 0])

    def f(v):
        return torch.tanh(wt @ torch.tanh(wt @ v))

    def jacobian():
        return torch.autograd.functional.jacobian(f, xt, vectorize=True)

    return jacobian, lambda: jacobian().numpy()


def run_tensorflow(w, x):
    try:
        import tensorflow
    except ImportError:
        return None
    return tf_style_jacobian(tensorflow, w, x)


def run_jax(w, x):
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    wt = jnp.asarray(w)
    f = jax.jacrev(lambda v: jnp.tanh(wt @ jnp.tanh(wt @ v)))
    xt = jnp.asarray(x[:, 0])

    def jacobian():
        return f(xt).block_until_ready()

    return jacobian, lambda: np.asarray(jacobian())


def run_autograd(w, x):
    try:
        import autograd
        import autograd.numpy as anp
    except ImportError:
        return None
    f = autograd.jacobian(lambda v: anp.tanh(w @ anp.tanh(w @ v)))
    return (lambda: f(x[:, 0])), (lambda: f(x[:, 0]))


def main() -> None:
    w, x = data()
    expected = analytic(w, x)
    floor = best_of(lambda: analytic(w, x))
    print("128x128 Jacobian of tanh(W @ tanh(W @ x)), float32 (ms per Jacobian)\n")
    print(f"{'analytic NumPy (floor)':34s}{floor * 1e3:9.3f}")
    timings = {}
    for name, runner in [("tapegrad tape.jacobian", run_tapegrad),
                         ("TensorFlow tape.jacobian (pfor)", run_tensorflow),
                         ("PyTorch jacobian(vectorize=True)", run_torch),
                         ("JAX jacrev (eager)", run_jax), ("autograd jacobian", run_autograd)]:
        made = runner(w, x)
        if made is None:
            print(f"{name:34s} not installed")
            continue
        jacobian, as_array = made
        np.testing.assert_allclose(as_array(), expected, rtol=2e-3, atol=2e-5)
        timings[name] = best_of(jacobian, number=5 if "tapegrad" in name else 2)
        print(f"{name:34s}{timings[name] * 1e3:9.3f}")
    ours = timings.pop("tapegrad tape.jacobian")
    if timings:
        best_name = min(timings, key=timings.get)
        print(f"\ntapegrad is {timings[best_name] / ours:.1f}x faster than the best peer "
              f"({best_name}); {ours / floor:.1f}x the analytic floor")


if __name__ == "__main__":
    main()
