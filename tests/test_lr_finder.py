"""keras_dlm.lr_find: the sweep, the suggestion, and bit-for-bit restoration."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import keras_dlm
from keras_dlm.lr_finder import LRFinderResult, _suggest, lr_find


def _data(n=96):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 6)).astype("float32")
    y = (x[:, :3].sum(axis=1) > 0).astype("int32")
    return x, y


def _model(optimizer=None):
    model = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.BatchNormalization(),
            keras.layers.Dropout(0.2),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=optimizer or keras.optimizers.SGD(0.05, momentum=0.9),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def _state(model):
    return [
        np.array(keras.ops.convert_to_numpy(v.value), copy=True)
        for v in model.variables + model.optimizer.variables + model.metrics_variables
    ]


def test_restores_trained_model_and_optimizer_bit_for_bit():
    x, y = _data()
    model = _model(keras.optimizers.Adam(3e-3))
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    before = _state(model)
    history = model.history
    result = lr_find(model, x, y, batch_size=16, num_steps=20, max_lr=1.0)
    assert len(result.learning_rates) > 2
    after = _state(model)
    assert len(before) == len(after)
    for old, new in zip(before, after, strict=True):
        np.testing.assert_array_equal(old, new)
    assert model.history is history
    assert float(
        keras.ops.convert_to_numpy(model.optimizer.learning_rate)
    ) == pytest.approx(3e-3)


def test_unbuilt_optimizer_comes_back_in_its_initial_state():
    x, y = _data()
    model = _model()
    weights = [w.copy() for w in model.get_weights()]
    lr_find(model, x, y, batch_size=16, num_steps=15, max_lr=1.0)
    for old, new in zip(weights, model.get_weights(), strict=True):
        np.testing.assert_array_equal(old, new)
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 0
    for variable in model.optimizer.variables:
        if "momentum" in variable.path:
            assert not np.any(keras.ops.convert_to_numpy(variable))
    assert float(
        keras.ops.convert_to_numpy(model.optimizer.learning_rate)
    ) == pytest.approx(0.05)


def test_sweep_is_exponential_and_suggestion_lies_on_it():
    x, y = _data(200)
    model = _model()
    result = lr_find(
        model,
        x,
        y,
        batch_size=20,
        min_lr=1e-4,
        max_lr=1.0,
        num_steps=40,
        stop_factor=100.0,
    )
    assert isinstance(result, LRFinderResult)
    np.testing.assert_allclose(
        result.learning_rates, np.geomspace(1e-4, 1.0, 40), rtol=1e-10
    )
    assert result.losses.shape == result.smoothed_losses.shape == (40,)
    assert not result.stopped_early
    assert result.suggestion in set(result.learning_rates.tolist())
    assert "suggested learning rate" in str(result)


def test_stops_when_loss_diverges():
    x, y = _data()
    model = _model(keras.optimizers.SGD(0.01))
    result = lr_find(
        model,
        x * 50,
        y,
        batch_size=16,
        min_lr=1e-3,
        max_lr=1e6,
        num_steps=100,
        smoothing=0.5,
    )
    assert result.stopped_early
    assert len(result.learning_rates) < 100


def test_suggestion_is_steepest_descent_of_smoothed_loss():
    rates = np.geomspace(1e-5, 1.0, 60)
    # A sigmoid drop in log(lr) centred at 1e-2, then a rise: steepest at 1e-2.
    log_rates = np.log10(rates)
    smoothed = 2.0 - np.tanh(3 * (log_rates + 2)) + np.maximum(0, log_rates + 0.5) * 4
    suggestion = _suggest(rates, smoothed, stopped=False)
    assert suggestion == pytest.approx(rates[np.argmin(np.abs(log_rates + 2))])
    # The point that triggered the stop is ignored: a final crash is not "descent".
    crashed = np.append(smoothed, -100.0)
    assert _suggest(np.append(rates, 2.0), crashed, stopped=True) == suggestion
    assert _suggest(rates[:3], smoothed[:3], stopped=True) is None


def test_rejects_uncompiled_models_and_schedule_learning_rates():
    x, y = _data()
    raw = keras.Sequential([keras.Input((6,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="compiled"):
        lr_find(raw, x, y)
    scheduled = _model(
        keras.optimizers.SGD(keras.optimizers.schedules.ExponentialDecay(0.1, 5, 0.5))
    )
    with pytest.raises(TypeError, match="schedule"):
        lr_find(scheduled, x, y, num_steps=5)


def test_lazy_top_level_attribute():
    assert keras_dlm.lr_find is lr_find


def test_plot_writes_png(tmp_path):
    pytest.importorskip("matplotlib")
    x, y = _data()
    result = lr_find(_model(), x, y, batch_size=16, num_steps=20, max_lr=1.0)
    path = tmp_path / "lr.png"
    figure = result.plot(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert figure.axes[0].get_xscale() == "log"
