"""keras_dlm.optimizers.Lookahead: the paper's update in NumPy, fit, saving."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from keras_dlm.optimizers import Lookahead

_RNG = np.random.default_rng(0)
X = _RNG.normal(size=(24, 3)).astype("float32")
Y = (X @ np.array([1.0, -2.0, 0.5], "float32"))[:, None]
BATCH = 4


def _model(sync_period=3, slow_step_size=0.5, inner=None):
    model = keras.Sequential(
        [
            keras.Input((3,)),
            keras.layers.Dense(1, kernel_initializer="ones", bias_initializer="zeros"),
        ]
    )
    inner = inner or keras.optimizers.SGD(0.05, momentum=0.9)
    model.compile(Lookahead(inner, sync_period, slow_step_size), "mse")
    return model


def _numpy_lookahead(epochs, k=3, alpha=0.5, learning_rate=0.05, momentum=0.9):
    """Zhang et al.'s Algorithm 1 around SGD with momentum, in float64: the
    slow weights start at the initial weights; after every k-th inner step
    slow += alpha * (fast - slow) and fast = slow."""
    w, b = np.ones((3, 1)), np.zeros(1)
    vw, vb = np.zeros_like(w), np.zeros_like(b)
    slow_w, slow_b = w.copy(), b.copy()
    steps = 0
    for _ in range(epochs):
        for start in range(0, len(X), BATCH):
            xb = X[start : start + BATCH].astype(np.float64)
            yb = Y[start : start + BATCH].astype(np.float64)
            error = xb @ w + b - yb
            grad_w, grad_b = 2 * xb.T @ error / len(xb), 2 * error.mean(axis=0)
            vw, vb = (
                momentum * vw - learning_rate * grad_w,
                momentum * vb - learning_rate * grad_b,
            )
            w, b = w + vw, b + vb
            steps += 1
            if steps % k == 0:
                slow_w = slow_w + alpha * (w - slow_w)
                slow_b = slow_b + alpha * (b - slow_b)
                w, b = slow_w.copy(), slow_b.copy()
    return w, b


def _weights(model):
    layer = model.layers[0]
    return (
        keras.ops.convert_to_numpy(layer.kernel),
        keras.ops.convert_to_numpy(layer.bias),
    )


@pytest.mark.parametrize(("k", "alpha"), [(3, 0.5), (4, 0.8), (1, 0.3)])
def test_fit_follows_the_paper_update(k, alpha):
    model = _model(k, alpha)
    model.fit(X, Y, batch_size=BATCH, epochs=2, shuffle=False, verbose=0)
    w, b = _numpy_lookahead(2, k, alpha)
    kernel, bias = _weights(model)
    np.testing.assert_allclose(kernel, w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(bias, b, rtol=1e-5, atol=1e-6)
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 12


def test_slow_weights_start_at_the_weights_not_at_zero_under_fit():
    # One step with k=1, alpha=0.5: w = w0 + 0.5 (w1 - w0), never 0.5 w1.
    model = _model(1, 0.5, keras.optimizers.SGD(0.05))
    model.fit(X[:BATCH], Y[:BATCH], batch_size=BATCH, epochs=1, verbose=0)
    xb, yb = X[:BATCH].astype(np.float64), Y[:BATCH].astype(np.float64)
    error = xb @ np.ones((3, 1)) - yb
    fast = np.ones((3, 1)) - 0.05 * 2 * xb.T @ error / BATCH
    np.testing.assert_allclose(
        _weights(model)[0], 1 + 0.5 * (fast - 1), rtol=1e-5, atol=1e-6
    )


def test_keras_file_round_trip_resumes_exactly(tmp_path):
    full = _model()
    full.fit(X, Y, batch_size=BATCH, epochs=3, shuffle=False, verbose=0)
    first = _model()
    first.fit(X, Y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
    path = tmp_path / "lookahead.keras"
    first.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded.optimizer, Lookahead)
    assert loaded.optimizer.sync_period == 3
    assert int(keras.ops.convert_to_numpy(loaded.optimizer.iterations)) == 6
    # Slow weights came back too: 6 steps is a sync point, the next is not.
    loaded.fit(X, Y, batch_size=BATCH, epochs=2, shuffle=False, verbose=0)
    for got, expected in zip(_weights(loaded), _weights(full), strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)


def test_learning_rate_belongs_to_the_inner_optimizer():
    inner = keras.optimizers.Adam(1e-3)
    optimizer = Lookahead(inner)
    optimizer.learning_rate = 0.01
    assert float(keras.ops.convert_to_numpy(inner.learning_rate)) == pytest.approx(0.01)
    model = _model(inner=keras.optimizers.Adam(0.01))
    history = model.fit(
        X,
        Y,
        batch_size=BATCH,
        epochs=2,
        verbose=0,
        callbacks=[keras.callbacks.LearningRateScheduler(lambda epoch: 0.02)],
    )
    assert history.history["learning_rate"] == pytest.approx([0.02, 0.02])
    config = model.optimizer.get_config()
    clone = Lookahead.from_config(config)
    assert isinstance(clone.inner_optimizer, keras.optimizers.Adam)


NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"optimizer": 3}, TypeError, "optimizer"),
        ({"optimizer": None}, TypeError, "optimizer"),
        ({"sync_period": 0}, ValueError, "sync_period"),
        ({"sync_period": -2}, ValueError, "sync_period"),
        ({"sync_period": 2.0}, TypeError, "sync_period"),
        ({"sync_period": "6"}, TypeError, "sync_period"),
        ({"sync_period": True}, TypeError, "sync_period"),
        ({"slow_step_size": 0.0}, ValueError, "slow_step_size"),
        ({"slow_step_size": 1.5}, ValueError, "slow_step_size"),
        ({"slow_step_size": -0.5}, ValueError, "slow_step_size"),
        ({"slow_step_size": NAN}, ValueError, "slow_step_size"),
        ({"slow_step_size": INF}, ValueError, "slow_step_size"),
        ({"slow_step_size": "0.5"}, TypeError, "slow_step_size"),
        ({"clipnorm": 1.0}, ValueError, "kwargs"),
    ],
)
def test_bad_arguments_are_refused_naming_them(kwargs, error, name):
    arguments = {"optimizer": keras.optimizers.SGD(0.1), **kwargs}
    with pytest.raises(error, match=f"`{name}`"):
        Lookahead(**arguments)
