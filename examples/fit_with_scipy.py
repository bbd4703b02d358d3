"""Fit a damped oscillator's parameters with scipy.optimize.minimize and tapegrad gradients.

The model ``x(t) = A * exp(-gamma * t) * cos(omega * t + phi)`` is written with tapegrad ops
in float64; a GradientTape gives the exact gradient of the squared error, which SciPy's
BFGS uses (``jac=True``). Run: ``python examples/fit_with_scipy.py``.
"""

from __future__ import annotations

import numpy as np

import tapegrad as tf

TRUE = {"amplitude": 2.0, "gamma": 0.3, "omega": 2.5, "phi": 0.4}


def oscillator(params, t):
    amplitude, gamma, omega, phi = tf.unstack(params)
    return amplitude * tf.exp(-gamma * t) * tf.cos(omega * t + phi)


def make_data(seed: int = 0, n: int = 200, noise: float = 0.05):
    t = np.linspace(0.0, 10.0, n)
    true = np.array([TRUE[k] for k in ("amplitude", "gamma", "omega", "phi")])
    clean = oscillator(tf.constant(true), tf.constant(t)).numpy()
    rng = np.random.default_rng(seed)
    return t, clean + rng.normal(scale=noise, size=n)


def fit(t, x, initial=(1.0, 0.1, 2.3, 0.0)):
    """Least-squares fit; returns scipy's OptimizeResult (``.x``: A, gamma, omega, phi)."""
    from scipy.optimize import minimize

    t_tensor = tf.constant(t)
    x_tensor = tf.constant(x)

    def loss_and_grad(p):
        params = tf.constant(np.asarray(p, dtype=np.float64))
        with tf.GradientTape() as tape:
            tape.watch(params)
            residual = oscillator(params, t_tensor) - x_tensor
            loss = 0.5 * tf.reduce_sum(residual * residual)
        return float(loss), tape.gradient(loss, params).numpy()

    return minimize(loss_and_grad, np.asarray(initial, dtype=np.float64), jac=True,
                    method="BFGS")


def main() -> int:
    t, x = make_data()
    result = fit(t, x)
    names = ("amplitude", "gamma", "omega", "phi")
    print(f"converged: {result.success} ({result.nit} iterations, "
          f"{result.nfev} loss+gradient evaluations)")
    for name, value in zip(names, result.x):
        print(f"  {name:9s} fitted {value: .4f}   true {TRUE[name]: .4f}")
    return 0 if result.success else 1


if __name__ == "__main__":
    raise SystemExit(main())
