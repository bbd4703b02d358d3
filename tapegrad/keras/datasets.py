"""``keras.datasets``: present so that code naming it gets a clear error, not an
AttributeError. tapegrad downloads nothing: load the data yourself (for instance
scikit-learn's bundled digits, as ``tapegrad.examples.digits`` does) and pass NumPy arrays.

>>> import tapegrad as tf
>>> tf.keras.datasets.mnist.load_data()
Traceback (most recent call last):
    ...
RuntimeError: keras.datasets.mnist.load_data() downloads its data; tapegrad downloads nothing...
"""

from __future__ import annotations

import types

__all__ = ["mnist", "fashion_mnist", "cifar10", "cifar100", "imdb", "reuters",
           "boston_housing", "california_housing"]


def _offline(name: str) -> types.SimpleNamespace:
    def load_data(*args, **kwargs):
        raise RuntimeError(f"keras.datasets.{name}.load_data() downloads its data; tapegrad "
                           "downloads nothing. Load the arrays yourself (e.g. from a local "
                           "file with numpy.load) and pass them to fit().")
    return types.SimpleNamespace(load_data=load_data)


mnist = _offline("mnist")
fashion_mnist = _offline("fashion_mnist")
cifar10 = _offline("cifar10")
cifar100 = _offline("cifar100")
imdb = _offline("imdb")
reuters = _offline("reuters")
boston_housing = _offline("boston_housing")
california_housing = _offline("california_housing")
