"""keras_dlm.plot_schedule."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import keras_dlm
from keras_dlm import callbacks, schedules
from keras_dlm.plotting import _schedule_curve, plot_schedule


def test_curve_of_schedule_uses_its_steps_per_epoch():
    schedule = schedules.StepDecay(0.1, drop_every=2, factor=0.5, steps_per_epoch=3)
    epoch, rates = _schedule_curve(schedule, epochs=5)
    np.testing.assert_allclose(epoch, np.arange(15) / 3)
    np.testing.assert_allclose(rates, [0.1] * 6 + [0.05] * 6 + [0.025] * 3, rtol=1e-6)


def test_curve_of_callback_is_per_epoch_unless_per_batch():
    per_epoch = callbacks.CliffDecay(0.1, cliffs=[1], decay_rate=0.5)
    _, rates = _schedule_curve(per_epoch, epochs=3, steps_per_epoch=2)
    np.testing.assert_allclose(rates, [0.1, 0.1, 0.01, 0.01, 0.005, 0.005], rtol=1e-6)
    per_batch = callbacks.CliffDecay(0.1, cliffs=[1], decay_rate=0.5, per_batch=True)
    _, rates = _schedule_curve(per_batch, epochs=3, steps_per_epoch=2)
    np.testing.assert_allclose(
        rates, [0.1, 0.1, 0.01, 0.01 * 0.5**0.5, 0.005, 0.005 * 0.5**0.5], rtol=1e-6
    )


def test_curve_of_a_keras_schedule():
    schedule = keras.optimizers.schedules.ExponentialDecay(
        1.0, decay_steps=1, decay_rate=0.5
    )
    _, rates = _schedule_curve(schedule, epochs=4)
    np.testing.assert_allclose(rates, [1.0, 0.5, 0.25, 0.125], rtol=1e-6)


def test_rejects_other_objects():
    with pytest.raises(TypeError, match="schedule_or_callback"):
        _schedule_curve(lambda step: 0.1, epochs=3)
    with pytest.raises(ValueError, match="epochs"):
        _schedule_curve(schedules.StepDecay(0.1, 2), epochs=0)


def test_plot_schedule_writes_png(tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "schedule.png"
    figure = keras_dlm.plot_schedule(
        schedules.CliffDecay(0.1, [3, 6], decay="cosine"), 10, 4, path, log_scale=True
    )
    assert keras_dlm.plot_schedule is plot_schedule
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    (line,) = figure.axes[0].get_lines()
    assert len(line.get_xdata()) == 41 and line.get_xdata()[-1] == 10
    assert figure.axes[0].get_yscale() == "log"


def test_curve_of_one_cycle_and_cyclical_callbacks_and_schedules():
    callback = callbacks.OneCycle(0.1, warmup_fraction=0.25)
    _, rates = _schedule_curve(callback, epochs=4, steps_per_epoch=5)
    expected = keras.ops.convert_to_numpy(
        schedules.OneCycle(0.1, 20, warmup_fraction=0.25).rate_at(np.arange(20))
    )
    np.testing.assert_allclose(rates, expected, rtol=1e-6)
    _, rates = _schedule_curve(
        schedules.Cyclical(0.0, 1.0, 2), epochs=1, steps_per_epoch=5
    )
    np.testing.assert_allclose(rates, [0, 0.5, 1, 0.5, 0], atol=1e-7)
    _, rates = _schedule_curve(
        callbacks.Cyclical(0.0, 1.0, 2), epochs=1, steps_per_epoch=5
    )
    np.testing.assert_allclose(rates, [0, 0.5, 1, 0.5, 0], atol=1e-7)


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"epochs": 0}, ValueError, "epochs"),
        ({"epochs": 2.5}, TypeError, "epochs"),
        ({"epochs": True}, TypeError, "epochs"),
        ({"steps_per_epoch": 0}, ValueError, "steps_per_epoch"),
        ({"steps_per_epoch": "4"}, TypeError, "steps_per_epoch"),
        ({"log_scale": "yes"}, TypeError, "log_scale"),
    ],
)
def test_plot_schedule_refuses_bad_values_naming_them(kwargs, error, name):
    pytest.importorskip("matplotlib")
    arguments = {"epochs": 3, **kwargs}
    with pytest.raises(error, match=f"`{name}`"):
        plot_schedule(schedules.StepDecay(0.1, 2), **arguments)


def test_one_axes_helper_labels_scales_and_saves(tmp_path):
    pytest.importorskip("matplotlib")
    from keras_dlm.plotting import _finish_axes, _new_axes

    figure, ax = _new_axes(None, feature="test")
    ax.plot([1, 10, 100], [3, 2, 1], label="curve")
    path = tmp_path / "axes.png"
    returned = _finish_axes(
        figure, ax, xlabel="x", ylabel="y", title="t", xscale="log", path=path
    )
    assert returned is figure
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == ("x", "y", "t")
    assert ax.get_xscale() == "log" and ax.get_legend() is not None
    assert path.read_bytes()[:4] == b"\x89PNG"
