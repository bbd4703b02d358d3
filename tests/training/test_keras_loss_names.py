"""The long loss-function names that TF 2.21's tf.keras lacks fail with a message naming the fix.

Which names exist, and what the aliases, classes and strings give, is compared with TF's
recording in tests/api (the ``keras_*`` probes); this checks the message of the missing ones.
"""

from __future__ import annotations

import pytest

import tapegrad as tf

MISSING = {"mean_squared_error": ("mse", "MeanSquaredError", "MeanSquaredError"),
           "mean_absolute_error": ("mae", "MeanAbsoluteError", "MeanAbsoluteError"),
           "mean_absolute_percentage_error": ("mape", "MeanAbsolutePercentageError",
                                              "MeanAbsolutePercentageError"),
           "mean_squared_logarithmic_error": ("msle", "MeanSquaredLogarithmicError",
                                              "MeanSquaredLogarithmicError"),
           "kl_divergence": ("kld", "KLDivergence", "KLDivergence"),
           "log_cosh": ("logcosh", "LogCosh", "LogCoshError")}


@pytest.mark.parametrize("module", ["losses", "metrics"])
@pytest.mark.parametrize("name", sorted(MISSING))
def test_missing_long_name_says_what_to_use(module, name):
    alias, loss_class, metric_class = MISSING[name]
    namespace = getattr(tf.keras, module)
    with pytest.raises(AttributeError) as raised:
        getattr(namespace, name)
    message = str(raised.value)
    assert f"tf.keras.{module}.{alias} " in message
    assert f"tf.keras.{module}.{loss_class if module == 'losses' else metric_class}()" in message
    assert "tensorflow/tensorflow#69851" in message
    assert callable(getattr(namespace, alias)) and getattr(namespace, alias).__name__ == name


def test_other_missing_names_raise_the_plain_attribute_error():
    with pytest.raises(AttributeError, match="has no attribute 'no_such_loss'$"):
        tf.keras.losses.no_such_loss  # noqa: B018
