"""keras_dlm.callbacks: decay callbacks agree with the schedules, resume, logs."""

from __future__ import annotations

import csv
import importlib.util
import math
import pathlib

import keras
import numpy as np
import pytest

from keras_dlm import callbacks, schedules

_HERE = pathlib.Path(__file__).parent
_spec = importlib.util.spec_from_file_location(
    "_schedule_refs", _HERE / "test_schedules.py"
)
_refs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_refs)
reference_step, reference_cliff = _refs.reference_step, _refs.reference_cliff

SAMPLES, BATCH = 8, 2  # 4 batches per epoch
STEPS = SAMPLES // BATCH


def _model(learning_rate=0.0):
    """w starts at 0 and the loss is 1 + mean(w * 1): each SGD step subtracts lr,
    and the loss of batch i is 1 + w_i = 1 - (sum of the rates before it)."""
    model = keras.Sequential(
        [
            keras.Input((1,)),
            keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate),
        loss=lambda y_true, y_pred: 1.0 + keras.ops.mean(y_pred),
    )
    return model


def _data():
    x = np.ones((SAMPLES, 1), "float32")
    return x, np.zeros_like(x)


def _kernel(model):
    return float(keras.ops.convert_to_numpy(model.layers[0].kernel)[0, 0])


class _BatchRates(keras.callbacks.Callback):
    """Records the optimizer's rate when each batch starts (after the decay
    callback, which must come first in the list)."""

    def __init__(self):
        super().__init__()
        self.rates = []

    def on_train_batch_begin(self, batch, logs=None):
        self.rates.append(
            float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        )


CASES = {
    "step": (
        dict(
            initial_learning_rate=0.1,
            drop_every=2,
            factor=0.5,
            warmup=1.5,
            min_learning_rate=0.01,
        ),
        lambda t: reference_step(t, 0.1, 2, 0.5, 1.5, 0.01),
    ),
    "cliff-exponential": (
        dict(
            initial_learning_rate=0.1,
            cliffs=[2, 4],
            cliff_factor=[0.5, 0.2],
            decay_rate=0.7,
        ),
        lambda t: reference_cliff(t, 0.1, [2, 4], [0.5, 0.2], "exponential", 0.7),
    ),
    "cliff-cosine": (
        dict(
            initial_learning_rate=0.1,
            cliffs=[1, 3],
            decay="cosine",
            decay_rate=0.6,
            warmup=1,
        ),
        lambda t: reference_cliff(t, 0.1, [1, 3], 0.1, "cosine", 0.6, 1.0),
    ),
}


def _pair(name, **extra):
    kwargs, reference = CASES[name]
    cls_name = "StepDecay" if name == "step" else "CliffDecay"
    callback = getattr(callbacks, cls_name)(**kwargs, **extra)
    schedule = getattr(schedules, cls_name)(**kwargs, steps_per_epoch=STEPS)
    return callback, schedule, reference


@pytest.mark.parametrize("name", sorted(CASES))
def test_callback_matches_schedule_epoch_for_epoch(name):
    callback, schedule, reference = _pair(name)
    epochs = 6
    model = _model()
    recorder = _BatchRates()
    history = model.fit(
        *_data(),
        batch_size=BATCH,
        epochs=epochs,
        verbose=0,
        shuffle=False,
        callbacks=[callback, recorder],
    )
    expected = [reference(e) for e in range(epochs)]
    from_schedule = [
        float(keras.ops.convert_to_numpy(schedule(e * STEPS))) for e in range(epochs)
    ]
    np.testing.assert_allclose(
        history.history["learning_rate"], expected, rtol=1e-6, atol=1e-9
    )
    np.testing.assert_allclose(from_schedule, expected, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(
        recorder.rates, np.repeat(expected, STEPS), rtol=1e-6, atol=1e-9
    )
    # The rates were really used by the updates: w = -(sum of the rates).
    assert _kernel(model) == pytest.approx(-STEPS * sum(expected), rel=1e-5)


@pytest.mark.parametrize("name", sorted(CASES))
def test_per_batch_callback_matches_schedule_step_for_step(name):
    callback, schedule, reference = _pair(name, per_batch=True)
    epochs = 5
    model = _model()
    recorder = _BatchRates()
    model.fit(
        *_data(),
        batch_size=BATCH,
        epochs=epochs,
        verbose=0,
        shuffle=False,
        callbacks=[callback, recorder],
    )
    steps = np.arange(epochs * STEPS)
    expected = [reference(s / STEPS) for s in steps]
    np.testing.assert_allclose(recorder.rates, expected, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(schedule(steps)), expected, rtol=1e-6, atol=1e-9
    )
    assert _kernel(model) == pytest.approx(-sum(expected), rel=1e-5)


def test_resume_with_initial_epoch_gives_same_rates_and_weights():
    kwargs, _ = CASES["cliff-exponential"]
    full = _model()
    full_history = full.fit(
        *_data(),
        batch_size=BATCH,
        epochs=6,
        verbose=0,
        shuffle=False,
        callbacks=[callbacks.CliffDecay(**kwargs)],
    )
    resumed = _model()
    first = resumed.fit(
        *_data(),
        batch_size=BATCH,
        epochs=3,
        verbose=0,
        shuffle=False,
        callbacks=[callbacks.CliffDecay(**kwargs)],
    )
    second = resumed.fit(
        *_data(),
        batch_size=BATCH,
        epochs=6,
        initial_epoch=3,
        verbose=0,
        shuffle=False,
        callbacks=[callbacks.CliffDecay(**kwargs, per_batch=False)],
    )
    np.testing.assert_array_equal(
        first.history["learning_rate"] + second.history["learning_rate"],
        full_history.history["learning_rate"],
    )
    assert _kernel(resumed) == pytest.approx(_kernel(full), rel=1e-6)


class _Interrupt(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 3:
            raise RuntimeError("simulated crash")


@pytest.mark.parametrize("per_batch", [False, True])
def test_resume_with_backup_and_restore(tmp_path, per_batch):
    kwargs, _ = CASES["step"]
    full = _model()
    full_history = full.fit(
        *_data(),
        batch_size=BATCH,
        epochs=6,
        verbose=0,
        shuffle=False,
        callbacks=[callbacks.StepDecay(**kwargs, per_batch=per_batch)],
    )
    backup = tmp_path / "backup"
    model = _model()
    with pytest.raises(RuntimeError, match="simulated crash"):
        model.fit(
            *_data(),
            batch_size=BATCH,
            epochs=6,
            verbose=0,
            shuffle=False,
            callbacks=[
                keras.callbacks.BackupAndRestore(str(backup)),
                callbacks.StepDecay(**kwargs, per_batch=per_batch),
                _Interrupt(),
            ],
        )
    restarted = _model()
    history = restarted.fit(
        *_data(),
        batch_size=BATCH,
        epochs=6,
        verbose=0,
        shuffle=False,
        callbacks=[
            keras.callbacks.BackupAndRestore(str(backup)),
            callbacks.StepDecay(**kwargs, per_batch=per_batch),
        ],
    )
    assert history.epoch == [3, 4, 5]
    np.testing.assert_array_equal(
        history.history["learning_rate"], full_history.history["learning_rate"][3:]
    )
    assert _kernel(restarted) == pytest.approx(_kernel(full), rel=1e-6)


def test_csv_logger_records_learning_rate(tmp_path):
    path = tmp_path / "log.csv"
    _model().fit(
        *_data(),
        batch_size=BATCH,
        epochs=4,
        verbose=0,
        callbacks=[
            callbacks.StepDecay(0.2, drop_every=1, factor=0.5),
            keras.callbacks.CSVLogger(str(path)),
        ],
    )
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    np.testing.assert_allclose(
        [float(r["learning_rate"]) for r in rows], [0.2, 0.1, 0.05, 0.025], rtol=1e-6
    )


def test_verbose_prints_start_and_drops_only(capsys):
    _model().fit(
        *_data(),
        batch_size=BATCH,
        epochs=5,
        verbose=0,
        callbacks=[callbacks.CliffDecay(0.1, cliffs=[3], cliff_factor=0.1, verbose=1)],
    )
    out = capsys.readouterr().out
    assert "Epoch 1: CliffDecay learning rate set to 0.1." in out
    assert "Epoch 4: CliffDecay learning rate dropped from 0.1 to 0.01." in out
    assert out.count("CliffDecay") == 2


@pytest.mark.parametrize("per_batch", [False, True])
def test_schedule_valued_optimizer_raises_type_error(per_batch):
    model = _model(keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.9))
    with pytest.raises(
        TypeError, match=r"schedule \(ExponentialDecay\).*float `learning_rate`"
    ):
        model.fit(
            *_data(),
            batch_size=BATCH,
            epochs=1,
            verbose=0,
            callbacks=[callbacks.StepDecay(0.1, 2, per_batch=per_batch)],
        )


def test_gradient_check_is_reexported():
    from keras_dlm.gradcheck import GradientCheck

    assert callbacks.GradientCheck is GradientCheck


def _finder_with_model(**kwargs):
    finder = callbacks.LRFinder(**kwargs)
    finder.set_model(_model(0.1))
    finder.on_train_begin()
    return finder


def test_lr_finder_smoothing_and_stop_rule_match_numpy():
    losses = [3.0, 2.5, 2.0, 1.2, 1.0, 1.5, 2.6, 5.0, 9.0, 30.0]
    beta, factor = 0.6, 3.0
    finder = _finder_with_model(
        min_lr=1e-4, max_lr=1.0, num_steps=10, smoothing=beta, stop_factor=factor
    )
    for index, loss in enumerate(losses):
        finder.on_train_batch_begin(index)
        finder.on_train_batch_end(index, {"loss": loss})
        if finder.model.stop_training:
            break
    # Independent computation of the bias-corrected moving average.
    average, smoothed, best, stop_at = 0.0, [], math.inf, None
    for i, loss in enumerate(losses):
        average = beta * average + (1 - beta) * loss
        smoothed.append(average / (1 - beta ** (i + 1)))
        if smoothed[-1] > factor * best:
            stop_at = i
            break
        best = min(best, smoothed[-1])
    assert stop_at is not None
    assert finder.stopped_early
    np.testing.assert_allclose(finder.smoothed_losses, smoothed, rtol=1e-12)
    np.testing.assert_allclose(
        finder.learning_rates,
        [1e-4 * 10 ** (4 * i / 9) for i in range(stop_at + 1)],
        rtol=1e-12,
    )


def test_lr_finder_records_each_batch_loss_under_the_swept_rates():
    num_steps = 12
    finder = callbacks.LRFinder(
        min_lr=1e-3, max_lr=1.0, num_steps=num_steps, smoothing=0.0
    )
    model = _model(0.5)
    x = np.ones((40, 1), "float32")
    model.fit(
        x,
        np.zeros_like(x),
        batch_size=2,
        epochs=1,
        verbose=0,
        shuffle=False,
        callbacks=[finder],
    )
    rates = [1e-3 * 1000 ** (i / (num_steps - 1)) for i in range(num_steps)]
    np.testing.assert_allclose(finder.learning_rates, rates, rtol=1e-12)
    # Batch i's loss is 1 - (sum of the earlier rates), not a running mean.
    np.testing.assert_allclose(
        finder.losses,
        1 - np.concatenate([[0.0], np.cumsum(rates)[:-1]]),
        rtol=1e-5,
        atol=1e-7,
    )
    assert len(finder.losses) == num_steps and not finder.stopped_early


def test_lr_finder_rejects_bad_arguments():
    with pytest.raises(ValueError, match="max_lr"):
        callbacks.LRFinder(min_lr=1.0, max_lr=0.5)
    with pytest.raises(ValueError, match="num_steps"):
        callbacks.LRFinder(num_steps=1)
    with pytest.raises(ValueError, match="smoothing"):
        callbacks.LRFinder(smoothing=1.0)
