"""keras.callbacks: every hook's order, and each built-in callback's effect."""

import csv
import math

import numpy as np
import pytest

import tapegrad as tf

keras = tf.keras


def _model(lr=0.1, optimizer=None):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, kernel_initializer="zeros")])
    model.compile(optimizer or keras.optimizers.SGD(lr), "mse")
    return model


X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.5, 0.5]], np.float32)
Y = np.array([[1.0], [2.0], [3.0], [1.5]], np.float32)


class Recorder(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.calls = []

    def __getattribute__(self, name):
        attr = object.__getattribute__(self, name)
        if name.startswith("on_") and callable(attr):
            def record(*args, **kwargs):
                self.calls.append(name)
                return attr(*args, **kwargs)
            return record
        return attr


def test_hooks_run_in_keras_order_with_model_and_params():
    recorder = Recorder()
    model = _model()
    model.fit(X, Y, batch_size=2, epochs=2, verbose=0, callbacks=[recorder],
              validation_data=(X, Y))
    epoch = ["on_epoch_begin"] + ["on_train_batch_begin", "on_train_batch_end"] * 2 + \
        ["on_test_begin"] + ["on_test_batch_begin", "on_test_batch_end"] * 2 + \
        ["on_test_end", "on_epoch_end"]
    fit_hooks = [c for c in recorder.calls if c not in ("on_batch_begin", "on_batch_end")]
    assert fit_hooks == ["on_train_begin"] + epoch * 2 + ["on_train_end"]
    assert recorder.model is model
    assert recorder.params == {"verbose": 0, "epochs": 2, "steps": 2}
    recorder.calls.clear()
    model.predict(X, verbose=0, callbacks=[recorder])
    assert recorder.calls == ["on_predict_begin", "on_predict_batch_begin",
                              "on_predict_batch_end", "on_predict_end"]


def test_early_stopping_restores_the_best_weights():
    model = _model(lr=0.3)

    class Worsen(keras.callbacks.Callback):      # after epoch 1 make every later epoch worse
        def on_epoch_end(self, epoch, logs=None):
            if epoch >= 1:
                kernel = self.model.layers[0].kernel
                kernel.assign(kernel.numpy() + 5.0)

    stop = keras.callbacks.EarlyStopping(monitor="loss", patience=1, restore_best_weights=True)
    history = model.fit(X, Y, epochs=10, verbose=0, shuffle=False, callbacks=[stop, Worsen()])
    losses = history.history["loss"]
    best = int(np.argmin(losses))
    assert len(losses) == best + 2                      # stops after `patience` bad epochs
    assert stop.stopped_epoch == len(losses) - 1 and stop.best == pytest.approx(losses[best])
    assert model.evaluate(X, Y, verbose=0) < losses[-1]


def test_early_stopping_modes_and_unknown_direction():
    model = _model()
    model.compile("sgd", "mse", metrics=["mae"])
    with pytest.raises(ValueError, match="isn't able to automatically determine"):
        model.fit(X, Y, epochs=1, verbose=0,
                  callbacks=[keras.callbacks.EarlyStopping(monitor="custom")])
    stop = keras.callbacks.EarlyStopping(monitor="mae", mode="max", patience=0)
    history = model.fit(X, Y, epochs=5, verbose=0, callbacks=[stop])
    assert len(history.history["mae"]) == 2            # mae falls: "max" sees no improvement


def test_model_checkpoint_weights_best_only(tmp_path):
    model = _model()
    path = str(tmp_path / "ckpt-{epoch:02d}.weights.h5")
    saver = keras.callbacks.ModelCheckpoint(path, monitor="loss", save_best_only=True,
                                            save_weights_only=True)

    class Spoil(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 2:
                self.model.layers[0].kernel.assign(np.full((2, 1), 50.0, np.float32))

    model.fit(X, Y, epochs=3, verbose=0, callbacks=[Spoil(), saver])
    saved = sorted(p.name for p in tmp_path.iterdir())
    assert saved == ["ckpt-01.weights.h5", "ckpt-02.weights.h5"]   # epoch 3 got worse
    fresh = _model()
    fresh.load_weights(str(tmp_path / "ckpt-02.weights.h5"))
    assert fresh.evaluate(X, Y, verbose=0) < 10
    with pytest.raises(ValueError, match=r"must end in `\.weights\.h5`"):
        keras.callbacks.ModelCheckpoint(str(tmp_path / "x.h5"), save_weights_only=True)


def test_learning_rate_scheduler_sets_and_logs_the_rate():
    model = _model()
    scheduler = keras.callbacks.LearningRateScheduler(lambda epoch, lr: 0.1 / (epoch + 1))
    history = model.fit(X, Y, epochs=3, verbose=0, callbacks=[scheduler])
    np.testing.assert_allclose(history.history["learning_rate"], [0.1, 0.05, 0.1 / 3],
                               rtol=1e-6)
    only_epoch = keras.callbacks.LearningRateScheduler(lambda epoch: 0.01)
    model.fit(X, Y, epochs=1, verbose=0, callbacks=[only_epoch])
    assert float(model.optimizer.learning_rate) == pytest.approx(0.01)


def test_reduce_lr_on_plateau_multiplies_by_factor():
    model = _model(lr=0.0)                # the loss never moves: a plateau from epoch 1
    reduce = keras.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1,
                                               min_lr=0.0)
    model.optimizer.learning_rate = 0.8
    model.optimizer.learning_rate = 0.8

    class Freeze(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            self.model.layers[0].kernel.assign(np.zeros((2, 1), np.float32))
            self.model.layers[0].bias.assign(np.zeros(1, np.float32))

    history = model.fit(X, Y, epochs=4, verbose=0, callbacks=[Freeze(), reduce])
    np.testing.assert_allclose(history.history["learning_rate"], [0.8, 0.8, 0.4, 0.2])
    with pytest.raises(ValueError, match="does not support a factor >= 1.0"):
        keras.callbacks.ReduceLROnPlateau(factor=1.5)


def test_csv_logger_writes_one_row_per_epoch(tmp_path):
    path = tmp_path / "log.csv"
    model = _model()
    history = model.fit(X, Y, epochs=2, verbose=0, validation_data=(X, Y),
                        callbacks=[keras.callbacks.CSVLogger(str(path))])
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["epoch", "loss", "val_loss"]
    assert [int(r["epoch"]) for r in rows] == [0, 1]
    assert float(rows[1]["loss"]) == pytest.approx(history.history["loss"][1])
    model.fit(X, Y, epochs=1, verbose=0,
              callbacks=[keras.callbacks.CSVLogger(str(path), append=True)])
    with open(path, newline="") as handle:
        assert len(list(csv.reader(handle))) == 4      # one header, three rows


def test_terminate_on_nan_stops_at_the_first_bad_batch(capsys):
    model = _model(lr=1e30)
    big = X * 1e20
    history = model.fit(big, Y, batch_size=1, epochs=5, verbose=0,
                        callbacks=[keras.callbacks.TerminateOnNaN()])
    assert len(history.history["loss"]) == 1
    assert "Invalid loss, terminating training" in capsys.readouterr().out
    assert not math.isfinite(history.history["loss"][0])


def test_lambda_callback_and_unknown_hook():
    seen = []
    callback = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: seen.append((epoch, sorted(logs))),
        on_train_end=lambda logs: seen.append("end"))
    _model().fit(X, Y, epochs=2, verbose=0, callbacks=[callback])
    assert seen == [(0, ["loss"]), (1, ["loss"]), "end"]
    with pytest.raises(ValueError, match="Unrecognized LambdaCallback hook"):
        keras.callbacks.LambdaCallback(on_everything=print)


def test_progbar_logger_and_history_are_added_once(capsys):
    model = _model()
    history = keras.callbacks.History()
    result = model.fit(X, Y, epochs=1, verbose=2, callbacks=[history,
                                                             keras.callbacks.ProgbarLogger()])
    assert result is history
    assert capsys.readouterr().out.count(" - loss: ") == 1
    model.evaluate(X, Y, verbose=1)
    out = capsys.readouterr().out
    assert out.startswith("1/1 ") and "loss: " in out
