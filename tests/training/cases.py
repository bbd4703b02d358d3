"""Training-stack probes run unchanged on TensorFlow (to record) and on tapegrad (to test).

Each ``case_*`` function takes the framework module (``tensorflow`` or ``tapegrad``) and returns
plain JSON data (nested lists of floats). ``record_tf.py`` runs them on TF 2.21 / Keras 3 and
writes ``expected_tf_training.json``; ``test_against_tf.py`` runs them on tapegrad and compares.
"""

from __future__ import annotations

import warnings

import numpy as np

W0 = np.array([[0.5, -1.0], [1.5, 0.25], [-0.75, 2.0]], dtype=np.float32)
B0 = np.array([0.1, -0.2], dtype=np.float32)
_rng = np.random.default_rng(1234)
GRADS = [(_rng.normal(size=(3, 2)).astype(np.float32), _rng.normal(size=(2,)).astype(np.float32))
         for _ in range(5)]
GRADS[3] = (GRADS[3][0] * 5.0, GRADS[3][1] * 0.01)   # one large step for clipping
GRADS[4] = (GRADS[4][0], np.zeros(2, np.float32))    # a zero gradient


def _values(x):
    return np.asarray(x).astype(np.float64).ravel().tolist()


def _schedules(tf):
    s = tf.keras.optimizers.schedules
    return {
        "exp": lambda: s.ExponentialDecay(0.1, decay_steps=2, decay_rate=0.5),
        "exp_stair": lambda: s.ExponentialDecay(0.1, decay_steps=2, decay_rate=0.5,
                                                staircase=True),
        "cosine": lambda: s.CosineDecay(0.1, decay_steps=4),
        "cosine_warmup": lambda: s.CosineDecay(0.1, decay_steps=4, alpha=0.1,
                                               warmup_target=0.2, warmup_steps=2),
        "piecewise": lambda: s.PiecewiseConstantDecay([1, 3], [0.1, 0.05, 0.01]),
    }


def optimizer_configs(tf):
    o = tf.keras.optimizers
    sch = _schedules(tf)
    return {
        "sgd": lambda: o.SGD(0.1),
        "sgd_default": lambda: o.SGD(),
        "sgd_momentum": lambda: o.SGD(0.1, momentum=0.9),
        "sgd_nesterov": lambda: o.SGD(0.1, momentum=0.9, nesterov=True),
        "sgd_clipnorm": lambda: o.SGD(0.05, clipnorm=0.5),
        "sgd_clipvalue": lambda: o.SGD(0.05, clipvalue=0.3),
        "sgd_global_clipnorm": lambda: o.SGD(0.05, global_clipnorm=0.7),
        "sgd_weight_decay": lambda: o.SGD(0.1, weight_decay=0.1),
        "sgd_exp": lambda: o.SGD(sch["exp"]()),
        "sgd_exp_stair": lambda: o.SGD(sch["exp_stair"]()),
        "sgd_cosine": lambda: o.SGD(sch["cosine"]()),
        "sgd_cosine_warmup": lambda: o.SGD(sch["cosine_warmup"]()),
        "sgd_piecewise": lambda: o.SGD(sch["piecewise"]()),
        "sgd_momentum_exp": lambda: o.SGD(sch["exp"](), momentum=0.5),
        "adam": lambda: o.Adam(0.01),
        "adam_default": lambda: o.Adam(),
        "adam_amsgrad": lambda: o.Adam(0.01, amsgrad=True),
        "adam_betas_eps": lambda: o.Adam(0.01, beta_1=0.5, beta_2=0.9, epsilon=1e-3),
        "adam_clipnorm": lambda: o.Adam(0.01, clipnorm=1.0),
        "adam_global_clipnorm": lambda: o.Adam(0.01, global_clipnorm=1.0),
        "adam_cosine": lambda: o.Adam(sch["cosine"]()),
        "adamw": lambda: o.AdamW(0.01),
        "adamw_wd": lambda: o.AdamW(0.01, weight_decay=0.1),
        "rmsprop": lambda: o.RMSprop(0.01),
        "rmsprop_momentum": lambda: o.RMSprop(0.01, momentum=0.9),
        "rmsprop_centered": lambda: o.RMSprop(0.01, centered=True),
        "rmsprop_all": lambda: o.RMSprop(0.01, rho=0.8, momentum=0.5, centered=True),
        "adagrad": lambda: o.Adagrad(0.1),
        "adagrad_init_eps": lambda: o.Adagrad(0.1, initial_accumulator_value=0.5,
                                              epsilon=1e-3),
    }


def run_optimizer(tf, name, dtype="float32"):
    """Five steps of fixed gradients on two variables; values after each step."""
    opt = optimizer_configs(tf)[name]()
    w = tf.Variable(W0.astype(dtype))
    b = tf.Variable(B0.astype(dtype))
    out = []
    for gw, gb in GRADS:
        opt.apply_gradients([(tf.constant(gw.astype(dtype)), w),
                             (tf.constant(gb.astype(dtype)), b)])
        out.append(_values(w.numpy()) + _values(b.numpy()))
    return {"steps": out, "iterations": int(opt.iterations.numpy())}


SPARSE_CONFIGS = ("sgd", "sgd_momentum", "adam", "adagrad", "rmsprop", "sgd_clipnorm")


def run_sparse(tf, name):
    """Gradients of a gather with a duplicate index (IndexedSlices) for three steps."""
    opt = optimizer_configs(tf)[name]()
    table = tf.Variable(np.arange(12, dtype=np.float32).reshape(4, 3) / 4.0)
    coef = tf.constant(np.array([[1.0, -2.0, 0.5], [0.25, 1.0, 3.0], [2.0, 0.0, -1.0]],
                                dtype=np.float32))
    out = []
    for _ in range(3):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.gather(table, [0, 2, 0]) * coef)
        grad = tape.gradient(loss, table)
        opt.apply_gradients([(grad, table)])
        out.append(_values(table.numpy()))
    return out


def case_schedules(tf):
    return {name: [float(make()(step)) for step in range(8)]
            for name, make in _schedules(tf).items()}


def case_optimizer_float64(tf):
    return {name: run_optimizer(tf, name, "float64")["steps"]
            for name in ("sgd_momentum", "adam", "rmsprop_all", "adagrad")}


def case_some_none_warning(tf):
    a = tf.Variable(1.0, name="a")
    b = tf.Variable(2.0, name="b")
    opt = tf.keras.optimizers.Adam(0.1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        opt.apply_gradients([(tf.constant(0.5), a), (None, b)])
        opt.apply_gradients([(tf.constant(0.5), a), (None, b)])
    messages = [str(w.message) for w in caught if "Gradients do not exist" in str(w.message)]
    return {"a": float(a.numpy()), "b": float(b.numpy()), "iterations": int(opt.iterations),
            "message": messages[0] if messages else None,
            "slots_built_for_b": len(opt.variables)}


# -- layers with fixed weights ----------------------------------------------------------------

def _image(shape=(2, 5, 5, 3)):
    return (np.sin(np.arange(np.prod(shape), dtype=np.float64) * 0.7) * 2).reshape(shape).astype(
        np.float32)


def _set(layer, x, weights):
    layer(x)
    layer.set_weights([np.asarray(w, np.float32) for w in weights])
    return layer


def _fixed(shape, scale=0.3, offset=0.0):
    return (np.cos(np.arange(np.prod(shape)) * 1.3 + offset) * scale).reshape(shape).astype(
        np.float32)


def case_layers(tf):
    L = tf.keras.layers
    out = {}
    x2 = tf.constant(_fixed((4, 3), 1.5, 0.2))
    dense = _set(L.Dense(2, activation="relu"), x2, [_fixed((3, 2)), [0.05, -0.1]])
    out["dense_relu"] = _values(dense(x2))
    dense_t = _set(L.Dense(2, activation="tanh"), x2, [_fixed((3, 2), 1.0), [0.1, 0.2]])
    out["dense_tanh"] = _values(dense_t(x2))
    x3 = tf.constant(_fixed((2, 3, 3), 1.0, 0.4))
    dense3 = _set(L.Dense(2), x3, [_fixed((3, 2)), [0.0, 0.5]])
    out["dense_rank3"] = _values(dense3(x3))
    img = tf.constant(_image())
    for name, layer in {
        "conv_valid": L.Conv2D(4, 3),
        "conv_same_stride2": L.Conv2D(4, (3, 2), strides=2, padding="same"),
        "conv_relu": L.Conv2D(2, 2, activation="relu"),
    }.items():
        kernel_shape = layer.kernel_size + (3, layer.filters)
        layer = _set(layer, img, [_fixed(kernel_shape, 0.4), _fixed((layer.filters,), 0.1)])
        out[name] = _values(layer(img))
    out["maxpool"] = _values(L.MaxPooling2D()(img))
    out["maxpool_same_s1"] = _values(L.MaxPooling2D(3, strides=1, padding="same")(img))
    out["avgpool"] = _values(L.AveragePooling2D(2)(img))
    out["avgpool_same"] = _values(L.AveragePooling2D(2, padding="same")(img))
    out["gap"] = _values(L.GlobalAveragePooling2D()(img))
    out["flatten"] = _values(L.Flatten()(img))[:20]
    out["flatten_shape"] = list(L.Flatten()(img).shape)
    bn = _set(L.BatchNormalization(), img,
              [[1.0, 2.0, 0.5], [0.0, 0.1, -0.1], [0.2, -0.3, 0.0], [1.5, 0.5, 2.0]])
    out["bn_inference"] = _values(bn(img, training=False))
    out["bn_training"] = _values(bn(img, training=True))
    out["bn_moving"] = _values(bn.moving_mean.numpy()) + _values(bn.moving_variance.numpy())
    out["bn_default_call_is_inference"] = _values(bn(img))[:10]
    ln = _set(L.LayerNormalization(), x2, [[1.0, 0.5, 2.0], [0.1, 0.0, -0.1]])
    out["layernorm"] = _values(ln(x2))
    emb = _set(L.Embedding(5, 3), tf.constant([[0, 1]]), [_fixed((5, 3))])
    out["embedding"] = _values(emb(tf.constant([[4, 0, 2], [1, 1, 3]])))
    out["softmax"] = _values(L.Activation("softmax")(x2))
    out["relu_options"] = _values(L.ReLU(max_value=1.0, negative_slope=0.1, threshold=0.5)(x2))
    out["relu_plain"] = _values(L.ReLU()(x2))
    out["dropout_inference"] = _values(L.Dropout(0.5)(x2))
    return out


def case_losses(tf):
    losses = tf.keras.losses
    y_true = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]], np.float32)
    probs = np.array([[0.1, 0.7, 0.2], [0.3, 0.3, 0.4]], np.float32)
    logits = np.array([[1.0, 3.0, -1.0], [0.5, -0.5, 2.0]], np.float32)
    reg_t = np.array([[1.0, 2.0], [3.0, -1.0]], np.float32)
    reg_p = np.array([[1.5, 0.5], [3.0, 2.0]], np.float32)
    bin_t = np.array([[1.0], [0.0], [1.0]], np.float32)
    bin_p = np.array([[0.9], [0.2], [0.4]], np.float32)
    bin_l = np.array([[2.0], [-1.0], [-0.3]], np.float32)
    sparse = np.array([1, 2])
    sw = np.array([0.5, 2.0], np.float32)
    out = {}
    for reduction in ("sum_over_batch_size", "sum", None):
        key = str(reduction)
        out[f"mse_{key}"] = _values(losses.MeanSquaredError(reduction=reduction)(reg_t, reg_p))
        out[f"mae_{key}"] = _values(losses.MeanAbsoluteError(reduction=reduction)(reg_t, reg_p))
        out[f"huber_{key}"] = _values(losses.Huber(reduction=reduction)(reg_t, reg_p))
        out[f"cce_{key}"] = _values(
            losses.CategoricalCrossentropy(reduction=reduction)(y_true, probs))
        out[f"cce_logits_{key}"] = _values(
            losses.CategoricalCrossentropy(from_logits=True, reduction=reduction)(y_true, logits))
        out[f"scce_{key}"] = _values(
            losses.SparseCategoricalCrossentropy(reduction=reduction)(sparse, probs))
        out[f"scce_logits_{key}"] = _values(losses.SparseCategoricalCrossentropy(
            from_logits=True, reduction=reduction)(sparse, logits))
        out[f"bce_{key}"] = _values(losses.BinaryCrossentropy(reduction=reduction)(bin_t, bin_p))
        out[f"bce_logits_{key}"] = _values(
            losses.BinaryCrossentropy(from_logits=True, reduction=reduction)(bin_t, bin_l))
    out["huber_delta"] = _values(losses.Huber(delta=0.7)(reg_t, reg_p))
    out["cce_smoothing"] = _values(losses.CategoricalCrossentropy(label_smoothing=0.2)(
        y_true, probs))
    out["bce_smoothing"] = _values(losses.BinaryCrossentropy(label_smoothing=0.1)(bin_t, bin_p))
    out["mse_sample_weight"] = _values(losses.MeanSquaredError()(reg_t, reg_p, sample_weight=sw))
    out["scce_logits_sample_weight"] = _values(losses.SparseCategoricalCrossentropy(
        from_logits=True)(sparse, logits, sample_weight=sw))
    out["fn_mse"] = _values(losses.mse(reg_t, reg_p))
    out["fn_scce_logits"] = _values(losses.sparse_categorical_crossentropy(
        sparse, logits, from_logits=True))
    out["fn_cce"] = _values(losses.categorical_crossentropy(y_true, probs))
    out["fn_bce"] = _values(losses.binary_crossentropy(bin_t, bin_p))
    out["fn_huber"] = _values(losses.huber(reg_t, reg_p))
    out["scce_labels_column"] = _values(losses.SparseCategoricalCrossentropy(from_logits=True)(
        sparse[:, None], logits))
    # gradients of a loss
    x = tf.Variable(logits)
    with tf.GradientTape() as tape:
        value = losses.SparseCategoricalCrossentropy(from_logits=True)(sparse, x)
    out["scce_logits_grad"] = _values(tape.gradient(value, x))
    p = tf.Variable(probs)
    with tf.GradientTape() as tape:
        value = losses.CategoricalCrossentropy()(y_true, p)
    out["cce_probs_grad"] = _values(tape.gradient(value, p))
    return out


def case_metrics(tf):
    m = tf.keras.metrics
    out = {}
    mean = m.Mean()
    mean.update_state([1.0, 2.0, 3.0])
    mean.update_state([10.0], sample_weight=[0.5])
    out["mean"] = float(mean.result())
    mean.reset_state()
    out["mean_reset"] = float(mean.result())
    acc = m.Accuracy()
    acc.update_state([1, 2, 3, 4], [1, 2, 0, 4])
    out["accuracy"] = float(acc.result())
    sca = m.SparseCategoricalAccuracy()
    sca.update_state([1, 0, 2], [[0.1, 0.8, 0.1], [0.6, 0.3, 0.1], [0.5, 0.4, 0.1]])
    sca.update_state([[2]], [[0.0, 0.1, 0.9]])
    out["sparse_categorical_accuracy"] = float(sca.result())
    ca = m.CategoricalAccuracy()
    ca.update_state([[0, 1], [1, 0], [1, 0]], [[0.2, 0.8], [0.3, 0.7], [0.9, 0.1]])
    out["categorical_accuracy"] = float(ca.result())
    return out


# -- Module / model variable order ------------------------------------------------------------

def _make_modules(tf):
    class Mod(tf.Module):
        def __init__(self, base, name=None):
            super().__init__(name=name)
            self.zeta = tf.Variable(base + 1.0, name="zeta")
            self.alpha = [tf.Variable(base + 2.0, name="a0"),
                          {"y": tf.Variable(base + 3.0, name="y"),
                           "b": tf.Variable(base + 4.0, name="b", trainable=False)}]
            with self.name_scope:
                self.inner = tf.Variable(base + 5.0, name="inner")

    class Outer(tf.Module):
        def __init__(self):
            super().__init__()
            self.m2 = Mod(10.0, name="second")
            self.c = tf.Variable(0.0, name="c")
            self.m1 = [Mod(20.0)]
            self.t = (tf.Variable(30.0, name="t0"), tf.Variable(31.0, name="t1"))
    return Outer()


def case_module_order(tf):
    outer = _make_modules(tf)
    return {"variables": [float(v.numpy()) for v in outer.variables],
            "trainable": [float(v.numpy()) for v in outer.trainable_variables],
            "submodules": [s.name for s in outer.submodules],
            "name": outer.name}


def case_module_names(tf):
    outer = _make_modules(tf)
    return [v.name for v in outer.variables]


def case_model_order(tf):
    L = tf.keras.layers

    class Block(tf.keras.layers.Layer):
        def __init__(self):
            super().__init__()
            self.second = L.Dense(2, kernel_initializer="ones")
            self.first = L.Dense(3, kernel_initializer="zeros")
            self.norm = L.BatchNormalization()

        def call(self, x, training=None):
            return self.norm(self.second(self.first(x)), training=training)

    class Net(tf.keras.Model):
        def __init__(self):
            super().__init__()
            self.zz = L.Dense(4)
            self.block = Block()
            self.aa = [L.Dense(1), L.Dense(2)]

        def call(self, x, training=False):
            return self.aa[1](self.aa[0](self.block(self.zz(x), training=training)))

    net = Net()
    net(tf.ones([1, 5]))
    return {"trainable": [[v.name, list(v.shape)] for v in net.trainable_variables],
            "all": [[v.name, list(v.shape)] for v in net.variables],
            "count": int(sum(np.prod(v.shape) for v in net.variables))}


# -- a short training loop --------------------------------------------------------------------

def case_training_loop(tf):
    L = tf.keras.layers
    x = _fixed((16, 4), 1.0, 0.3)
    y = np.arange(16) % 3
    model = tf.keras.Sequential([L.Dense(6, activation="relu"), L.Dense(3)])
    model(x[:1])
    model.set_weights([_fixed((4, 6), 0.5), np.zeros(6), _fixed((6, 3), 0.5, 1.0), np.zeros(3)])
    opt = tf.keras.optimizers.Adam(0.05)
    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    losses = []
    for _ in range(15):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
        losses.append(float(loss))
    return {"losses": losses, "final_kernel": _values(model.trainable_variables[2].numpy())}


def all_cases():
    cases = {name[5:]: fn for name, fn in globals().items() if name.startswith("case_")}
    return cases


def record(tf) -> dict:
    results = {name: fn(tf) for name, fn in all_cases().items()}
    results["optimizers"] = {name: run_optimizer(tf, name) for name in optimizer_configs(tf)}
    results["sparse"] = {name: run_sparse(tf, name) for name in SPARSE_CONFIGS}
    return results
