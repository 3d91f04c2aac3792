"""keras_dlm.lr_find: the sweep, the suggestion, and bit-for-bit restoration."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import keras_dlm
from keras_dlm import lr_finder
from keras_dlm.lr_finder import LRFinderResult, lr_find


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
    assert not result.stopped_early and result.completed
    assert result.suggestion in set(result.learning_rates.tolist())
    assert set(result.suggestions) == {"valley", "slide", "minimum", "steep"}
    assert "suggested learning rate" in str(result) and "completed" in str(result)


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
    assert result.stopped_early and not result.completed
    assert len(result.learning_rates) < 100
    assert "diverged" in str(result)


# fastai's suggestion functions, transcribed independently (fastai 2.7,
# fastai/callback/schedule.py) on plain lists.
def fastai_valley(lrs, losses):
    n = len(losses)
    max_start, max_end = 0, 0
    lds = [1] * n
    for i in range(1, n):
        for j in range(0, i):
            if (losses[i] < losses[j]) and (lds[i] < lds[j] + 1):
                lds[i] = lds[j] + 1
            if lds[max_end] < lds[i]:
                max_end = i
                max_start = max_end - lds[max_end]
    sections = (max_end - max_start) / 3
    idx = max_start + int(sections) + int(sections / 2)
    return float(lrs[idx])


def fastai_slide(lrs, losses, lr_diff=15, thresh=0.005, adjust_value=1.0):
    loss_grad = np.gradient(np.asarray(losses))
    r_idx = -1
    l_idx = r_idx - lr_diff
    local_min_lr = lrs[l_idx]
    while (l_idx >= -len(losses)) and (
        abs(loss_grad[r_idx] - loss_grad[l_idx]) > thresh
    ):
        local_min_lr = lrs[l_idx]
        r_idx -= 1
        l_idx -= 1
    return float(local_min_lr) * adjust_value


def fastai_minimum(lrs, losses):
    return float(lrs[int(np.argmin(losses))]) / 10


def fastai_steep(lrs, losses):
    lrs, losses = np.asarray(lrs), np.asarray(losses)
    grads = (losses[1:] - losses[:-1]) / (np.log(lrs[1:]) - np.log(lrs[:-1]))
    return float(lrs[int(np.argmin(grads))])


@pytest.mark.parametrize("seed", range(4))
def test_suggestions_match_fastai_on_its_window(seed):
    rng = np.random.default_rng(seed)
    num_steps = 100
    rates = np.geomspace(1e-7, 10, num_steps)
    log_rates = np.log10(rates)
    centre = rng.uniform(-4, -1)
    smoothed = (
        2.0
        - np.tanh(rng.uniform(1, 3) * (log_rates - centre))
        + np.maximum(0, log_rates - centre - 1.5) ** 2
        + rng.normal(0, 0.01, num_steps)
    )
    got = lr_finder._suggest_all(rates, smoothed, num_steps)
    # fastai: lrs[num_it // 10 : -5], losses likewise.
    window_rates, window = rates[10:-5], smoothed[10:-5]
    assert got["valley"][0] == fastai_valley(window_rates, window)
    assert got["slide"][0] == fastai_slide(window_rates, window)
    assert got["minimum"][0] == fastai_minimum(window_rates, window)
    assert got["steep"][0] == fastai_steep(window_rates, window)


def test_suggestions_stop_at_the_first_non_finite_loss():
    rates = np.geomspace(1e-5, 1.0, 60)
    smoothed = np.linspace(3.0, 1.0, 60)
    smoothed[40] = np.nan
    got = lr_finder._suggest_all(rates, smoothed, 60)
    assert max(value for value, _ in got.values()) < rates[40]
    assert lr_finder._suggest_all(rates[:9], smoothed[:9], 60) == {}


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


def test_finite_dataset_is_cycled_to_cover_the_whole_range():
    x, y = _data(64)
    batches = [(x[i : i + 16], y[i : i + 16]) for i in range(0, 64, 16)]  # 4
    result = lr_find(_model(), batches, min_lr=1e-4, max_lr=1e-1, num_steps=10)
    assert result.completed and len(result.learning_rates) == 10
    assert result.learning_rates[-1] == pytest.approx(1e-1)


def test_exhausted_one_shot_iterator_is_reported_not_completed():
    x, y = _data(64)
    stream = ((x[i : i + 16], y[i : i + 16]) for i in range(0, 64, 16))
    result = lr_find(_model(), stream, min_lr=1e-4, max_lr=1e-1, num_steps=10)
    assert not result.completed and not result.stopped_early
    assert len(result.learning_rates) == 4
    assert "data ran out after 4 of 10 steps" in str(result)


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"max_lr": float("inf")}, ValueError, "max_lr"),
        ({"max_lr": float("nan")}, ValueError, "max_lr"),
        ({"min_lr": 0.0}, ValueError, "min_lr"),
        ({"min_lr": -1.0}, ValueError, "min_lr"),
        ({"min_lr": 1.0, "max_lr": 0.5}, ValueError, "max_lr"),
        ({"min_lr": "1e-5"}, TypeError, "min_lr"),
        ({"num_steps": 1}, ValueError, "num_steps"),
        ({"num_steps": 10.0}, TypeError, "num_steps"),
        ({"num_steps": True}, TypeError, "num_steps"),
        ({"smoothing": 1.0}, ValueError, "smoothing"),
        ({"smoothing": float("nan")}, ValueError, "smoothing"),
        ({"stop_factor": 1.0}, ValueError, "stop_factor"),
        ({"stop_factor": float("inf")}, ValueError, "stop_factor"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"batch_size": "32"}, TypeError, "batch_size"),
        ({"method": "fastest"}, ValueError, "method"),
    ],
)
def test_bad_arguments_are_refused_naming_them(kwargs, error, name):
    x, y = _data(32)
    with pytest.raises(error, match=f"`{name}`"):
        lr_find(_model(), x, y, **kwargs)


def test_empty_or_mismatched_arrays_are_clear_value_errors():
    x, y = _data(32)
    with pytest.raises(ValueError, match="at least one sample"):
        lr_find(_model(), x[:0], y[:0])
    with pytest.raises(ValueError, match=r"same number of samples.*\[20, 32\]"):
        lr_find(_model(), x, y[:20])


def test_plot_leaves_out_the_blow_up_and_marks_every_suggestion(tmp_path):
    pytest.importorskip("matplotlib")
    rates = np.geomspace(1e-5, 1.0, 50)
    smoothed = np.concatenate([np.linspace(2.0, 1.0, 45), [5, 20, 80, 300, 1000.0]])
    marks = lr_finder._suggest_all(rates, smoothed, 50)
    result = LRFinderResult(
        learning_rates=rates,
        losses=smoothed,
        smoothed_losses=smoothed,
        suggestions={name: value for name, (value, _) in marks.items()},
        method="valley",
        stopped_early=False,
        completed=True,
        num_steps=50,
        _marks={name: point for name, (_, point) in marks.items()},
    )
    axes = result.plot().axes[0]
    assert axes.get_ylim()[1] < 5.0  # the last five points are not drawn
    labels = axes.get_legend_handles_labels()[1]
    for name in ("valley", "slide", "minimum", "steep"):
        assert any(label.startswith(name) for label in labels)
