"""MCDropout and DropConnectDense against their definitions, computed in NumPy."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from keras_dlm.layers import DropConnectDense, MCDropout
from keras_dlm.testing import check_layer


def to_numpy(value):
    return np.asarray(keras.ops.convert_to_numpy(value))


def test_mc_dropout_drops_at_inference_and_scales_kept_units():
    layer = MCDropout(0.25, seed=3)
    x = np.ones((64, 128), dtype="float32")
    first = to_numpy(layer(x))  # training not set: inference
    second = to_numpy(layer(x, training=False))
    for out in (first, second):
        kept = out != 0
        np.testing.assert_allclose(out[kept], 1 / 0.75, rtol=1e-6)
        assert abs(1 - kept.mean() - 0.25) < 0.02
    assert np.any(first != second), "repeated calls must draw new masks"


def test_mc_dropout_noise_shape_shares_the_mask():
    layer = MCDropout(0.5, noise_shape=(None, 1, 6), seed=1)
    out = to_numpy(layer(np.ones((4, 5, 6), dtype="float32")))
    # Same mask at every step of the middle axis.
    np.testing.assert_array_equal(out, np.repeat(out[:, :1, :], 5, axis=1))


def test_mc_dropout_rate_zero_is_identity():
    x = np.random.default_rng(0).normal(size=(3, 4)).astype("float32")
    np.testing.assert_array_equal(to_numpy(MCDropout(0.0)(x)), x)


NAN, INF = float("nan"), float("inf")
_BAD_RATES = [1.0, -0.1, 1.5, NAN, INF, "0.5", True, None]
# (constructor, argument, bad values): a ValueError or TypeError naming it.
_BAD_ARGUMENTS = [
    (MCDropout, "rate", _BAD_RATES),
    (MCDropout, "noise_shape", [(0, 1), (-1,), (2.0,), "(2, 1)", 3, (True,)]),
    (MCDropout, "seed", [-1, 1.5, "1"]),
    (DropConnectDense, "units", [0, -3, 2.0, "3", None, True]),
    (DropConnectDense, "rate", _BAD_RATES),
    (DropConnectDense, "use_bias", ["false", 1, None]),
    (DropConnectDense, "seed", [-1, 1.5, "1"]),
]
_VALID = {
    MCDropout: {"rate": 0.5},
    DropConnectDense: {"units": 3, "rate": 0.5},
}


@pytest.mark.parametrize(
    ("layer_class", "name", "value"),
    [
        (layer_class, name, value)
        for layer_class, name, values in _BAD_ARGUMENTS
        for value in values
    ],
    ids=lambda v: getattr(v, "__name__", repr(v)),
)
def test_bad_arguments_are_refused_naming_the_argument(layer_class, name, value):
    kwargs = {**_VALID[layer_class], name: value}
    with pytest.raises((ValueError, TypeError), match=f"Argument `{name}`"):
        layer_class(**kwargs)


@pytest.mark.parametrize("noise_shape", [(2, 1), (3, 1, 5), (1, 1, 1, 1), (4, 2, 6)])
def test_a_noise_shape_that_cannot_broadcast_is_a_clear_error(noise_shape):
    layer = MCDropout(0.5, noise_shape=noise_shape)
    with pytest.raises(ValueError, match=r"Argument `noise_shape`.*broadcastable"):
        layer(np.ones((4, 5, 6), dtype="float32"))


def test_mc_dropout_passes_the_layer_checks():
    # Random at inference by design: the harness reseeds the generators
    # before each compared call.
    for layer_factory in (
        lambda: MCDropout(0.3, seed=2),
        lambda: MCDropout(0.3, noise_shape=(None, 6), seed=2),
    ):
        report = check_layer(
            layer_factory, input_shape=(4, 6), reseed=True, mixed_precision=True
        )
        assert [c.name for c in report.checks] == [
            "output_shape",
            "config",
            "symbolic",
            "save",
            "gradients",
            "training",
            "mixed_precision",
        ]


def test_mc_dropout_in_a_functional_model_samples_at_inference():
    inputs = keras.Input((50,))
    model = keras.Model(inputs, MCDropout(0.5, seed=1)(inputs))
    x = np.ones((4, 50), dtype="float32")
    first, second = to_numpy(model.predict(x, verbose=0)), to_numpy(model(x))
    assert 0.3 < (first == 0).mean() < 0.7
    assert np.any(first != second)


def test_drop_connect_inference_is_the_dense_product():
    rng = np.random.default_rng(1)
    layer = DropConnectDense(
        5, 0.4, activation="tanh", bias_initializer="random_normal"
    )
    x = rng.normal(size=(7, 3)).astype("float32")
    out = to_numpy(layer(x, training=False))
    kernel, bias = (to_numpy(w) for w in layer.weights)
    np.testing.assert_allclose(out, np.tanh(x @ kernel + bias), rtol=1e-5, atol=1e-6)


def test_drop_connect_training_drops_kernel_entries_for_the_whole_batch():
    rate, units, input_dim = 0.3, 40, 50
    layer = DropConnectDense(units, rate, seed=4)
    eye = np.eye(input_dim, dtype="float32")
    # Identity inputs read the masked kernel row by row; doubling the batch
    # with a copy checks that one mask serves every example.
    out = to_numpy(layer(np.concatenate([eye, eye]), training=True))
    kernel = to_numpy(layer.kernel)
    first, again = out[:input_dim], out[input_dim:]
    np.testing.assert_array_equal(first, again)
    kept = first != 0
    np.testing.assert_allclose(first[kept], kernel[kept] / (1 - rate), rtol=1e-5)
    assert abs(1 - kept.mean() - rate) < 0.05
    second = to_numpy(layer(eye, training=True))
    assert np.any((second != 0) != kept), "each training call draws a new mask"


def test_drop_connect_expected_kernel_is_the_stored_kernel():
    layer = DropConnectDense(3, 0.5, use_bias=False, seed=0)
    eye = np.eye(4, dtype="float32")
    mean = np.mean([to_numpy(layer(eye, training=True)) for _ in range(400)], axis=0)
    np.testing.assert_allclose(mean, to_numpy(layer.kernel), atol=0.15)


def test_drop_connect_passes_the_layer_checks():
    def make():
        return DropConnectDense(3, 0.5, activation="tanh", seed=1)

    check_layer(make, input_shape=(4, 6), mixed_precision=True)
    # Training mode: the same random state in every evaluation, so the
    # gradient through the dropped kernel is checked too.
    check_layer(make, input_shape=(4, 6), gradient_kwargs={"training": True})


def test_drop_connect_trains_in_fit():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = (x @ np.array([1.0, -2.0, 0.5, 0.0], dtype="float32"))[:, None]
    model = keras.Sequential([keras.Input((4,)), DropConnectDense(1, 0.1, seed=0)])
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
    history = model.fit(x, y, epochs=15, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
