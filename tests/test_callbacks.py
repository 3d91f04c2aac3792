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


# ---------------------------------------------------------------------------
# One-cycle and cyclical callbacks.

reference_one_cycle = _refs.reference_one_cycle
reference_cyclic_torch = _refs.reference_cyclic_torch


@pytest.mark.parametrize(
    ("make", "reference"),
    [
        (
            lambda: callbacks.OneCycle(0.2, warmup_fraction=0.25, three_phase=True),
            lambda t, total: reference_one_cycle(t, 0.2, total, 0.25, three=True),
        ),
        (
            lambda: callbacks.OneCycle(0.1, 30, anneal="linear"),
            lambda t, total: reference_one_cycle(min(t, 29), 0.1, 30, anneal="linear"),
        ),
        (
            lambda: callbacks.Cyclical(0.01, 0.1, 3, mode="triangular2"),
            lambda t, total: reference_cyclic_torch(t, 0.01, 0.1, 3, "triangular2"),
        ),
    ],
)
def test_step_callbacks_set_the_schedule_rate_before_every_batch(make, reference):
    epochs = 6
    model = _model()
    recorder = _BatchRates()
    history = model.fit(
        *_data(),
        batch_size=BATCH,
        epochs=epochs,
        verbose=0,
        shuffle=False,
        callbacks=[make(), recorder],
    )
    total = epochs * STEPS
    expected = [reference(t, total) for t in range(total)]
    np.testing.assert_allclose(recorder.rates, expected, rtol=2e-5, atol=1e-9)
    np.testing.assert_allclose(
        history.history["learning_rate"], expected[STEPS - 1 :: STEPS], rtol=2e-5
    )
    assert _kernel(model) == pytest.approx(-sum(expected), rel=1e-5)


@pytest.mark.parametrize(
    "make",
    [
        lambda: callbacks.OneCycle(0.1, total_steps=6 * STEPS),
        lambda: callbacks.Cyclical(0.001, 0.05, 5, mode="exp_range", gamma=0.9),
    ],
)
def test_step_callbacks_resume_with_initial_epoch(make):
    full, full_rates = _model(), _BatchRates()
    full.fit(
        *_data(),
        batch_size=BATCH,
        epochs=6,
        verbose=0,
        shuffle=False,
        callbacks=[make(), full_rates],
    )
    resumed, rates = _model(), _BatchRates()
    resumed.fit(
        *_data(),
        batch_size=BATCH,
        epochs=2,
        verbose=0,
        shuffle=False,
        callbacks=[make(), rates],
    )
    # Interrupted after 2 of 6 epochs, then resumed: the same rates.
    resumed.fit(
        *_data(),
        batch_size=BATCH,
        epochs=6,
        initial_epoch=2,
        verbose=0,
        shuffle=False,
        callbacks=[make(), rates],
    )
    np.testing.assert_array_equal(rates.rates, full_rates.rates)
    assert _kernel(resumed) == pytest.approx(_kernel(full), rel=1e-6)


def test_step_callbacks_refuse_schedule_valued_optimizers():
    model = _model(keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.9))
    with pytest.raises(TypeError, match="OneCycle"):
        model.fit(*_data(), epochs=1, verbose=0, callbacks=[callbacks.OneCycle(0.1)])


# ---------------------------------------------------------------------------
# Stochastic weight averaging.


class _EpochWeights(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append(
            [
                np.array(keras.ops.convert_to_numpy(v.value), dtype=np.float64)
                for v in self.model.trainable_variables
            ]
        )


def _regression(seed=0, batch_norm=False):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(48, 4)).astype("float32")
    y = (x @ rng.normal(size=(4, 1)) + 0.1).astype("float32")
    layers = [keras.Input((4,)), keras.layers.Dense(6, activation="tanh")]
    if batch_norm:
        layers.append(keras.layers.BatchNormalization(momentum=0.5))
    layers.append(keras.layers.Dense(1))
    model = keras.Sequential(layers)
    model.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.5), loss="mse")
    return model, x, y


def test_swa_average_is_the_mean_of_the_epoch_end_weights():
    model, x, y = _regression()
    recorder = _EpochWeights()
    swa = callbacks.StochasticWeightAveraging(start_epoch=2)
    model.fit(x, y, batch_size=8, epochs=6, verbose=0, callbacks=[recorder, swa])
    assert swa.averaged_count == 4
    for index, variable in enumerate(model.trainable_variables):
        mean = np.mean([epoch[index] for epoch in recorder.weights[2:]], axis=0)
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(variable.value), mean, rtol=1e-6, atol=1e-7
        )


def test_swa_average_agrees_with_torch_averaged_model():
    torch = pytest.importorskip("torch")
    from torch.optim.swa_utils import AveragedModel

    model, x, y = _regression(1)
    recorder = _EpochWeights()
    swa = callbacks.StochasticWeightAveraging(start_epoch=1)
    model.fit(x, y, batch_size=8, epochs=5, verbose=0, callbacks=[recorder, swa])
    holder = torch.nn.ParameterList(
        [
            torch.nn.Parameter(torch.zeros(w.shape, dtype=torch.float64))
            for w in recorder.weights[0]
        ]
    )
    averaged = AveragedModel(holder)
    for epoch in recorder.weights[1:]:
        with torch.no_grad():
            for parameter, value in zip(holder, epoch, strict=True):
                parameter.copy_(torch.from_numpy(value))
        averaged.update_parameters(holder)
    for variable, parameter in zip(
        model.trainable_variables, averaged.module, strict=True
    ):
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(variable.value),
            parameter.detach().numpy(),
            rtol=1e-6,
            atol=1e-7,
        )


def _swalr_reference(start_rate, swa_rate, anneal_epochs, anneal, epochs):
    """PyTorch's SWALR.get_lr, stepped once per epoch, in plain Python."""

    def alpha(t):
        return (1 - math.cos(math.pi * t)) / 2 if anneal == "cos" else t

    rates, rate = [], start_rate
    for step in range(epochs):
        s = max(1, step) if anneal_epochs == 0 else step
        prev_t = max(0, min(1, (s - 1) / max(1, anneal_epochs)))
        prev_alpha = alpha(prev_t)
        initial = (
            swa_rate
            if prev_alpha == 1
            else (rate - prev_alpha * swa_rate) / (1 - prev_alpha)
        )
        t = max(0, min(1, s / max(1, anneal_epochs)))
        rate = swa_rate * alpha(t) + initial * (1 - alpha(t))
        rates.append(rate)
    return rates


@pytest.mark.parametrize(
    ("anneal_epochs", "anneal"), [(3, "cos"), (2, "linear"), (0, "cos")]
)
def test_swa_learning_rate_follows_swalr(anneal_epochs, anneal):
    model, x, y = _regression()
    swa = callbacks.StochasticWeightAveraging(
        start_epoch=2,
        swa_learning_rate=0.01,
        anneal_epochs=anneal_epochs,
        anneal=anneal,
    )
    history = model.fit(x, y, batch_size=8, epochs=7, verbose=0, callbacks=[swa])
    expected = [0.05, 0.05, *_swalr_reference(0.05, 0.01, anneal_epochs, anneal, 5)]
    np.testing.assert_allclose(
        history.history["learning_rate"], expected[2:], rtol=1e-6
    )


def test_swalr_reference_matches_torch():
    torch = pytest.importorskip("torch")
    parameter = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([parameter], lr=0.05)
    scheduler = torch.optim.swa_utils.SWALR(optimizer, swa_lr=0.01, anneal_epochs=3)
    rates = []
    for _ in range(6):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    np.testing.assert_allclose(
        rates, _swalr_reference(0.05, 0.01, 3, "cos", 6), rtol=1e-12
    )


def test_swa_recomputes_batch_norm_statistics_with_one_pass():
    model, x, y = _regression(2, batch_norm=True)
    swa = callbacks.StochasticWeightAveraging(start_epoch=1, data=x, batch_size=16)
    model.fit(x, y, batch_size=8, epochs=4, verbose=0, callbacks=[swa])
    dense = model.layers[0]
    batch_norm = model.layers[1]
    # Recomputation: the BN input for the averaged weights, batch by batch.
    hidden = np.tanh(
        x.astype(np.float64) @ keras.ops.convert_to_numpy(dense.kernel)
        + keras.ops.convert_to_numpy(dense.bias)
    )
    batches = [hidden[i : i + 16] for i in range(0, len(x), 16)]
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(batch_norm.moving_mean),
        np.mean([b.mean(axis=0) for b in batches], axis=0),
        rtol=1e-4,
        atol=1e-6,
    )
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(batch_norm.moving_variance),
        np.mean([b.var(axis=0) for b in batches], axis=0),
        rtol=1e-4,
        atol=1e-6,
    )
    assert batch_norm.momentum == 0.5  # put back


def test_swa_needs_data_for_batch_norm():
    model, x, y = _regression(batch_norm=True)
    swa = callbacks.StochasticWeightAveraging(start_epoch=0)
    with pytest.raises(ValueError, match=r"batch normalization.*`data=`"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[swa])
    kept = callbacks.StochasticWeightAveraging(start_epoch=0, update_batch_norm=False)
    model.fit(x, y, epochs=2, verbose=0, callbacks=[kept])
    assert kept.averaged_count == 2


def test_swa_accepts_a_dataset_of_batches_for_batch_norm():
    model, x, y = _regression(3, batch_norm=True)
    batches = [(x[i : i + 12], y[i : i + 12]) for i in range(0, 48, 12)]
    swa = callbacks.StochasticWeightAveraging(start_epoch=0, data=batches)
    model.fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=[swa])
    array_model, _, _ = _regression(3, batch_norm=True)
    array_model.set_weights(model.get_weights())
    from keras_dlm.callbacks import _batch_norm_layers, _recompute_batch_norm

    _recompute_batch_norm(array_model, _batch_norm_layers(array_model), x, 12)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(model.layers[1].moving_mean),
        keras.ops.convert_to_numpy(array_model.layers[1].moving_mean),
        rtol=1e-6,
        atol=1e-7,
    )


# Table-driven bad values for every public callback.
NAN, INF = float("nan"), float("inf")
BAD_CALLBACK_ARGUMENTS = {
    callbacks.StepDecay: (
        {"initial_learning_rate": 0.1, "drop_every": 2},
        {
            "initial_learning_rate": [NAN, INF, -1.0, 0.0, "0.1"],
            "drop_every": [NAN, INF, 0.0, "2"],
            "warmup": [INF, NAN, -1.0],
            "steps_per_epoch": [0, 2.5, "4", True],
            "per_batch": ["True", "false", 1, None],
            "verbose": [-1, 1.5, "1"],
        },
    ),
    callbacks.CliffDecay: (
        {"initial_learning_rate": 0.1, "cliffs": [2]},
        {
            "cliffs": [[NAN], [INF], [], "2"],
            "decay_rate": [NAN, INF, 0.0, "0.9"],
            "per_batch": ["True", 0],
        },
    ),
    callbacks.OneCycle: (
        {"max_learning_rate": 0.1},
        {
            "max_learning_rate": [NAN, INF, -1.0, 0.0, "0.1"],
            "total_steps": [0, 1, 10.5, "100", True],
            "warmup_fraction": [NAN, INF, -0.1, 1.1],
            "anneal": ["cosine", None],
            "initial_div": [NAN, INF, 0.0],
            "final_div": [NAN, INF, -1.0],
            "three_phase": ["True", 1],
            "steps_per_epoch": [0, -1, 2.0, "10"],
            "cycle_momentum": ["True", 1, None],
            "base_momentum": [NAN, INF, -0.1, 1.0, "0.85"],
            "max_momentum": [NAN, INF, 1.0, 0.5, "0.95"],
        },
    ),
    callbacks.Cyclical: (
        {"base_learning_rate": 0.001, "max_learning_rate": 0.1, "step_size": 4},
        {
            "base_learning_rate": [NAN, INF, -1.0, "0"],
            "max_learning_rate": [NAN, INF, 0.0, 0.0001],
            "step_size": [NAN, INF, 0.0, -2.0, "4"],
            "mode": ["triangle", None],
            "gamma": [NAN, INF, 0.0, 2.0],
            "steps_per_epoch": [0, 1.5],
        },
    ),
    callbacks.StochasticWeightAveraging: (
        {"start_epoch": 3},
        {
            "start_epoch": [-1, 2.0, "3", True, NAN],
            "swa_learning_rate": [NAN, INF, -0.1, 0.0, "0.01"],
            "anneal_epochs": [-1, 2.5, "10", INF],
            "anneal": ["cosine", None],
            "update_batch_norm": ["True", "false", 1],
            "data": ["x.npy"],
            "batch_size": [0, -4, 8.0, "32"],
        },
    ),
    callbacks.LRFinder: (
        {},
        {
            "min_lr": [NAN, INF, 0.0, -1.0, "1e-7"],
            "max_lr": [NAN, INF, 0.0, 1e-9],
            "num_steps": [1, 0, 10.0, "100", True],
            "smoothing": [NAN, INF, 1.0, -0.1],
            "stop_factor": [NAN, INF, 1.0, 0.5],
        },
    ),
}
BAD_CALLBACK_CASES = [
    pytest.param(cls, name, bad, id=f"{cls.__name__}-{name}-{bad!r}")
    for cls, (_, table) in BAD_CALLBACK_ARGUMENTS.items()
    for name, bads in table.items()
    for bad in bads
]


@pytest.mark.parametrize(("cls", "name", "bad"), BAD_CALLBACK_CASES)
def test_every_bad_callback_argument_is_refused_naming_it(cls, name, bad):
    good, _ = BAD_CALLBACK_ARGUMENTS[cls]
    with pytest.raises((ValueError, TypeError)) as caught:
        cls(**{**good, name: bad})
    assert f"`{name}`" in str(caught.value)
    if isinstance(bad, str) and name not in ("anneal", "mode", "decay"):
        assert caught.type is TypeError


def reference_one_cycle_momentum(t, total, pct=0.3, base=0.85, peak=0.95, three=False):
    """PyTorch's OneCycleLR momentum: max -> base -> max (cosine)."""
    rise = pct * total - 1
    phases = [(rise, peak, base)]
    if three:
        phases += [(2 * pct * total - 2, base, peak), (total - 1, peak, peak)]
    else:
        phases += [(total - 1, base, peak)]
    begin = 0.0
    for index, (end_step, start, end) in enumerate(phases):
        if t <= end_step or index == len(phases) - 1:
            fraction = (t - begin) / (end_step - begin)
            return end + (start - end) / 2.0 * (math.cos(math.pi * fraction) + 1)
        begin = end_step
    raise AssertionError("unreachable")


def _momentum_model(optimizer):
    model = keras.Sequential(
        [
            keras.Input((1,)),
            keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros"),
        ]
    )
    model.compile(
        optimizer=optimizer, loss=lambda y_true, y_pred: keras.ops.mean(y_pred)
    )
    return model


@pytest.mark.parametrize("three_phase", [False, True])
def test_one_cycle_momentum_cycling_drives_sgd_updates(three_phase):
    model = _momentum_model(keras.optimizers.SGD(0.1, momentum=0.9))
    # A first fit traces the step with the float momentum: the callback must
    # make the next one read its variable.
    model.fit(*_data(), batch_size=BATCH, epochs=1, verbose=0)
    start = _kernel(model)
    callback = callbacks.OneCycle(0.1, cycle_momentum=True, three_phase=three_phase)
    history = model.fit(
        *_data(),
        batch_size=BATCH,
        epochs=5,
        verbose=0,
        shuffle=False,
        callbacks=[callback],
    )
    total = 5 * STEPS
    rates = [
        reference_one_cycle(t, 0.1, total, three=three_phase) for t in range(total)
    ]
    momenta = [
        reference_one_cycle_momentum(t, total, three=three_phase) for t in range(total)
    ]
    # SGD: v = mu v - lr g (g = 1 here, v carried over from the first fit).
    velocity, weight = 0.0, 0.0
    for _ in range(STEPS):
        velocity = 0.9 * velocity - 0.1
        weight += velocity
    assert start == pytest.approx(weight, rel=1e-5)
    for rate, momentum in zip(rates, momenta, strict=True):
        velocity = momentum * velocity - rate
        weight += velocity
    assert _kernel(model) == pytest.approx(weight, rel=1e-5)
    np.testing.assert_allclose(
        history.history["momentum"], momenta[STEPS - 1 :: STEPS], rtol=1e-6
    )
    # Afterwards the optimizer is as it was: float momentum, same variables.
    assert model.optimizer.momentum == 0.9
    assert len(model.optimizer.variables) == 3


def test_cyclical_momentum_cycling_drives_adam_beta_1():
    model = _momentum_model(keras.optimizers.Adam(0.01))
    callback = callbacks.Cyclical(0.001, 0.01, 3, cycle_momentum=True)
    history = model.fit(
        *_data(),
        batch_size=BATCH,
        epochs=3,
        verbose=0,
        shuffle=False,
        callbacks=[callback],
    )
    total = 3 * STEPS
    rates = [reference_cyclic_torch(t, 0.001, 0.01, 3) for t in range(total)]
    heights = [(r - 0.001) / (0.01 - 0.001) for r in rates]
    betas = [0.9 - 0.1 * h for h in heights]
    # Keras Adam with a per-step beta_1 (epsilon 1e-7, beta_2 0.999), g = 1.
    m = v = weight = 0.0
    for step, (rate, beta) in enumerate(zip(rates, betas, strict=True), start=1):
        m += (1 - beta) * (1 - m)
        v += (1 - 0.999) * (1 - v)
        alpha = rate * math.sqrt(1 - 0.999**step) / (1 - beta**step)
        weight -= alpha * m / (math.sqrt(v) + 1e-7)
    assert _kernel(model) == pytest.approx(weight, rel=1e-5)
    np.testing.assert_allclose(
        history.history["momentum"], betas[STEPS - 1 :: STEPS], rtol=1e-6
    )
    assert model.optimizer.beta_1 == 0.9


def test_one_cycle_momentum_matches_torch():
    torch = pytest.importorskip("torch")
    parameter = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([parameter], lr=0.1, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, 0.1, total_steps=30)
    expected = []
    for _ in range(30):
        expected.append(optimizer.param_groups[0]["momentum"])
        optimizer.step()
        scheduler.step()
    callback = callbacks.OneCycle(0.1, 30, cycle_momentum=True)
    callback.schedule = callback._schedule_for(1, 30)
    got = [callback.momentum_at(t) for t in range(30)]
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_momentum_cycling_is_off_for_optimizers_without_momentum():
    model = _momentum_model(keras.optimizers.SGD(0.1))
    history = model.fit(
        *_data(),
        batch_size=BATCH,
        epochs=2,
        verbose=0,
        callbacks=[callbacks.OneCycle(0.1, cycle_momentum=True)],
    )
    assert "momentum" not in history.history
    assert model.optimizer.momentum == 0.0
