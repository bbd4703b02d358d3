"""Layers checked against real Keras 3 outputs: (name, layer class, constructor arguments,
input shape), shared by record_keras_layers.py and test_keras_layers_against_keras.py."""

CASES = [
    ("conv2d_transpose_same_s2", "Conv2DTranspose",
     dict(filters=2, kernel_size=3, strides=2, padding="same"), (1, 3, 3, 4)),
    ("conv2d_transpose_k4_s2", "Conv2DTranspose",
     dict(filters=2, kernel_size=4, strides=2, padding="same", activation="relu"),
     (2, 5, 5, 3)),
    ("conv2d_transpose_valid", "Conv2DTranspose",
     dict(filters=3, kernel_size=3, padding="valid"), (1, 4, 4, 2)),
    ("conv1d_causal", "Conv1D", dict(filters=2, kernel_size=3, padding="causal"), (1, 6, 3)),
    ("conv1d_same_s2", "Conv1D", dict(filters=2, kernel_size=3, strides=2, padding="same"),
     (1, 7, 3)),
    ("lstm_sequences", "LSTM", dict(units=4, return_sequences=True), (2, 5, 3)),
    ("gru_last", "GRU", dict(units=4), (2, 5, 3)),
    ("simple_rnn_backwards", "SimpleRNN", dict(units=4, go_backwards=True), (2, 5, 3)),
    ("leaky_relu_default", "LeakyReLU", {}, (2, 4)),
    ("leaky_relu_slope", "LeakyReLU", dict(negative_slope=0.1), (2, 4)),
    ("upsampling2d", "UpSampling2D", dict(size=(2, 3)), (1, 2, 3, 2)),
    ("global_average_pooling1d", "GlobalAveragePooling1D", {}, (2, 5, 3)),
    ("max_pooling1d", "MaxPooling1D", dict(pool_size=2), (1, 6, 2)),
    ("layer_normalization", "LayerNormalization", {}, (2, 5)),
]
