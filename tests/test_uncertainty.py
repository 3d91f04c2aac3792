"""mc_predict: only dropout samples, BatchNormalization stays put, digits vs noise."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from keras_dlm.datasets import load_digits
from keras_dlm.layers import DropConnectDense, MCDropout
from keras_dlm.uncertainty import MCPrediction, mc_predict


def to_numpy(value):
    return np.asarray(keras.ops.convert_to_numpy(value))


class _RecordTraining(keras.layers.Layer):
    """Identity that records the `training` flag it is called with."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seen = []

    def call(self, inputs, training=None):
        self.seen.append(training)
        return inputs


def _bn_dropout_model():
    inputs = keras.Input((4,))
    hidden = keras.layers.Dense(16)(inputs)
    hidden = keras.layers.BatchNormalization(name="bn")(hidden)
    hidden = _RecordTraining(name="record")(hidden)
    hidden = keras.layers.Dropout(0.5, name="dropout")(hidden)
    outputs = keras.layers.Dense(3, activation="softmax")(hidden)
    return keras.Model(inputs, outputs)


def test_only_dropout_samples_and_batch_norm_is_untouched():
    model = _bn_dropout_model()
    bn = model.get_layer("bn")
    rng = np.random.default_rng(0)
    bn.set_weights([rng.uniform(0.5, 2, 16).astype("float32") for _ in range(4)])
    before = [to_numpy(w).copy() for w in bn.weights]
    x = rng.normal(size=(6, 4)).astype("float32")

    result = mc_predict(model, x, samples=8)

    for old, weight in zip(before, bn.weights, strict=True):
        np.testing.assert_array_equal(to_numpy(weight), old)
    recorded = model.get_layer("record").seen
    assert recorded and not any(recorded), "non-dropout layers must see training=False"
    assert result.std.max() > 0, "dropout must sample"
    # Afterwards the model is deterministic again (the dropout layers restored).
    np.testing.assert_array_equal(to_numpy(model(x)), to_numpy(model(x)))
    assert "call" not in vars(model.get_layer("dropout"))


def test_samples_follow_the_dropout_distribution():
    # Identity model: every sample element is 0 or 1 / (1 - rate).
    inputs = keras.Input((200,))
    model = keras.Model(inputs, keras.layers.Dropout(0.25)(inputs))
    x = np.ones((3, 200), dtype="float32")
    result = mc_predict(model, x, samples=40)
    np.testing.assert_allclose(result.mean.mean(), 1.0, atol=0.02)
    # Bernoulli(0.75) scaled by 4/3: std = sqrt(0.75 * 0.25) / 0.75.
    np.testing.assert_allclose(
        result.std.mean(), np.sqrt(0.75 * 0.25) / 0.75, rtol=0.05
    )
    assert result.entropy is None and result.mutual_information is None


def test_batch_size_chunks_give_the_same_shapes_and_classifier_scores():
    model = _bn_dropout_model()
    x = np.random.default_rng(1).normal(size=(7, 4)).astype("float32")
    result = mc_predict(model, x, samples=5, batch_size=3)
    assert isinstance(result, MCPrediction)
    assert result.mean.shape == (7, 3) and result.std.shape == (7, 3)
    assert result.samples == 5
    np.testing.assert_allclose(result.mean.sum(axis=1), 1.0, rtol=1e-5)
    assert result.entropy.shape == (7,)
    assert np.all(result.entropy <= np.log(3) + 1e-9)
    assert np.all(result.mutual_information >= -1e-9)
    assert np.all(result.mutual_information <= result.entropy + 1e-9)


def test_other_dropout_layers_are_sampled():
    inputs = keras.Input((5, 3))
    hidden = keras.layers.LSTM(4, dropout=0.5)(inputs)
    outputs = DropConnectDense(2, 0.5)(MCDropout(0.1)(hidden))
    model = keras.Model(inputs, outputs)
    result = mc_predict(model, np.ones((2, 5, 3), "float32"), samples=4)
    assert result.std.max() > 0


def test_bad_arguments_are_rejected():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="no dropout layer"):
        mc_predict(model, np.ones((1, 2), "float32"))
    with pytest.raises(ValueError, match="samples=1"):
        mc_predict(_bn_dropout_model(), np.ones((1, 4), "float32"), samples=1)
    with pytest.raises(ValueError, match="batch_size=0"):
        mc_predict(_bn_dropout_model(), np.ones((1, 4), "float32"), batch_size=0)


def test_digits_noise_images_are_more_uncertain_than_test_digits():
    (x_train, y_train), (x_test, _) = load_digits()
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(8, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dropout(0.3),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dropout(0.3),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(0.01),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    history = model.fit(x_train, y_train, epochs=6, batch_size=64, verbose=0)
    assert history.history["accuracy"][-1] > 0.85

    noise = np.random.default_rng(0).uniform(size=(100, 8, 8, 1)).astype("float32")
    digits = mc_predict(model, x_test[:100], samples=20)
    noisy = mc_predict(model, noise, samples=20)
    # Predictive std over samples, averaged over classes and images.
    assert noisy.std.mean() > digits.std.mean()
    assert noisy.entropy.mean() > digits.entropy.mean()


_BAD_VALUES = {
    "nan": float("nan"),
    "inf": float("inf"),
    "negative": -1,
    "zero": 0,
    "wrong type": [1],
    "string bool": "False",
    "float": 2.0,
}

_INTEGER_ERRORS = (
    TypeError,  # nan
    TypeError,  # inf
    ValueError,  # negative
    ValueError,  # zero
    TypeError,  # wrong type
    TypeError,  # string bool
    TypeError,  # float
)
_ARGUMENT_ERRORS = {"samples": _INTEGER_ERRORS, "batch_size": _INTEGER_ERRORS}


@pytest.mark.parametrize(
    ("argument", "value", "error"),
    [
        pytest.param(argument, value, error, id=f"{argument}-{label}")
        for argument, errors in _ARGUMENT_ERRORS.items()
        for (label, value), error in zip(_BAD_VALUES.items(), errors, strict=True)
    ],
)
def test_mc_predict_refuses_bad_values(argument, value, error):
    with pytest.raises(error, match=f"Argument `{argument}` must be"):
        mc_predict(_bn_dropout_model(), np.ones((1, 4), "float32"), **{argument: value})


@pytest.mark.parametrize("model", [None, "model", lambda x: x])
def test_mc_predict_needs_a_keras_model(model):
    with pytest.raises(TypeError, match="Argument `model` must be a Keras model"):
        mc_predict(model, np.ones((1, 4), "float32"))


@pytest.mark.parametrize(("samples", "error"), [(1, ValueError), (2.0, TypeError)])
def test_mc_prediction_checks_samples(samples, error):
    with pytest.raises(error, match="Argument `samples` must be"):
        MCPrediction(np.zeros(2), np.zeros(2), None, None, samples=samples)
