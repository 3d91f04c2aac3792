"""keras_dlm.schedules: exact rates, plain-Python reference, jit, serialization."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from keras_dlm.schedules import CliffDecay, StepDecay


# Plain-Python transcription of the formulas documented in keras_dlm.schedules
# (no keras, no shared code), in float64.
def reference_step(t, lr0, drop_every, factor=0.5, warmup=0.0, min_lr=0.0):
    rate = max(min_lr, lr0 * factor ** math.floor(t / drop_every))
    return rate * (min(1.0, t / warmup) if warmup > 0 else 1.0)


def reference_cliff(
    t, lr0, cliffs, factor=0.1, decay="exponential", rate=0.95, warmup=0.0, min_lr=0.0
):
    factors = (
        list(factor) if isinstance(factor, list | tuple) else [factor] * len(cliffs)
    )
    passed = sum(1 for c in cliffs if t >= c)
    if passed == 0:
        g = lr0
    else:
        level = lr0 * math.prod(factors[:passed])
        floor = (
            lr0 * math.prod(factors[: passed + 1]) if passed < len(cliffs) else min_lr
        )
        floor = min(floor, level)
        tau = t - cliffs[passed - 1]
        if rate == 1.0 or floor == level:
            g = level
        elif decay == "exponential":
            g = max(floor, level * rate**tau)
        elif decay == "linear":
            g = max(floor, level * (1 - (1 - rate) * tau))
        else:
            horizon = (1 - floor / level) / (1 - rate)
            progress = min(1.0, tau / horizon)
            g = floor + (level - floor) * (1 + math.cos(math.pi * progress)) / 2
    return max(min_lr, g) * (min(1.0, t / warmup) if warmup > 0 else 1.0)


def values(schedule, steps):
    return np.array([float(keras.ops.convert_to_numpy(schedule(s))) for s in steps])


def test_step_decay_hand_computed_values():
    schedule = StepDecay(0.1, drop_every=3, factor=0.5, steps_per_epoch=10)
    steps = [0, 29, 30, 59, 60, 95]
    np.testing.assert_allclose(
        values(schedule, steps), [0.1, 0.1, 0.05, 0.05, 0.025, 0.0125], rtol=1e-6
    )


def test_step_decay_counts_steps_without_steps_per_epoch():
    schedule = StepDecay(1.0, drop_every=2, factor=0.1, min_learning_rate=0.005)
    np.testing.assert_allclose(
        values(schedule, [0, 1, 2, 3, 4, 6, 100]),
        [1.0, 1.0, 0.1, 0.1, 0.01, 0.005, 0.005],
        rtol=1e-6,
    )


def test_step_decay_warmup_is_linear_from_zero():
    schedule = StepDecay(0.2, drop_every=4, factor=0.5, warmup=2, steps_per_epoch=5)
    np.testing.assert_allclose(
        values(schedule, [0, 1, 5, 10, 19, 20]),
        [0.0, 0.02, 0.1, 0.2, 0.2, 0.1],
        rtol=1e-6,
        atol=1e-9,
    )


def test_cliff_decay_hand_computed_exponential():
    schedule = CliffDecay(
        0.1, cliffs=[10, 20], cliff_factor=0.1, decay_rate=0.9, steps_per_epoch=10
    )
    # 0.1 before epoch 10; 0.01 at the cliff, x0.9 per epoch, 0.001 at epoch 20;
    # at epoch 10.5 the exponent is fractional: 0.01 * 0.9 ** 0.5.
    np.testing.assert_allclose(
        values(schedule, [0, 99, 100, 105, 110, 130, 200, 210]),
        [0.1, 0.1, 0.01, 0.01 * 0.9**0.5, 0.009, 0.01 * 0.9**3, 0.001, 0.0009],
        rtol=1e-6,
    )


def test_cliff_decay_hand_computed_linear_and_cosine():
    kwargs = dict(cliffs=[2, 5], cliff_factor=[0.5, 0.2], decay_rate=0.8)
    linear = CliffDecay(0.1, decay="linear", warmup=1, min_learning_rate=1e-3, **kwargs)
    np.testing.assert_allclose(
        values(linear, [0, 1, 2, 3, 4, 5, 6, 9, 30]),
        [0.0, 0.1, 0.05, 0.04, 0.03, 0.01, 0.008, 0.002, 0.001],
        rtol=1e-6,
        atol=1e-9,
    )
    cosine = CliffDecay(0.1, decay="cosine", **kwargs)
    # Level 0.05 down to the next level 0.01 over H = (1 - 0.2) / 0.2 = 4 epochs,
    # so the midpoint (epoch 4) is 0.03 and the next cliff arrives first.
    np.testing.assert_allclose(
        values(cosine, [2, 3, 4, 5]),
        [0.05, 0.01 + 0.02 * (1 + math.cos(math.pi / 4)), 0.03, 0.01],
        rtol=1e-6,
    )


def test_cliff_decay_exponential_stops_at_next_level():
    schedule = CliffDecay(1.0, cliffs=[1, 30], cliff_factor=0.5, decay_rate=0.5)
    # 0.5 * 0.5 ** 28 would be far below the next level 0.25: it is floored.
    np.testing.assert_allclose(
        values(schedule, [1, 2, 29, 30]), [0.5, 0.25, 0.25, 0.25]
    )


@pytest.mark.parametrize("decay", ["exponential", "linear", "cosine"])
def test_schedules_match_reference_on_random_configurations(decay):
    rng = np.random.default_rng(7)
    for _ in range(4):
        lr0 = float(rng.uniform(0.01, 1.0))
        cliffs = sorted(
            float(c) for c in rng.choice(np.arange(1, 20), 3, replace=False)
        )
        factor = [float(f) for f in rng.uniform(0.05, 0.9, 3)]
        rate = float(rng.uniform(0.5, 0.99))
        warmup = float(rng.choice([0.0, 1.5]))
        min_lr = float(rng.choice([0.0, lr0 * 1e-3]))
        spe = int(rng.integers(1, 6))
        steps = np.arange(0, 25 * spe)
        cliff = CliffDecay(
            lr0,
            cliffs,
            factor,
            decay=decay,
            decay_rate=rate,
            steps_per_epoch=spe,
            warmup=warmup,
            min_learning_rate=min_lr,
        )
        expected = [
            reference_cliff(s / spe, lr0, cliffs, factor, decay, rate, warmup, min_lr)
            for s in steps
        ]
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(cliff(steps)), expected, rtol=2e-5, atol=1e-10
        )
        drop_every = float(rng.choice([1.0, 2.0, 3.0]))
        step = StepDecay(
            lr0,
            drop_every,
            factor[0],
            steps_per_epoch=spe,
            warmup=warmup,
            min_learning_rate=min_lr,
        )
        expected = [
            reference_step(s / spe, lr0, drop_every, factor[0], warmup, min_lr)
            for s in steps
        ]
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(step(steps)), expected, rtol=2e-5, atol=1e-10
        )


@pytest.mark.parametrize("decay", ["exponential", "linear", "cosine"])
def test_cliff_decay_never_increases_after_warmup(decay):
    schedule = CliffDecay(0.5, [3, 4, 9], [0.3, 0.9, 0.5], decay=decay, decay_rate=0.7)
    rates = keras.ops.convert_to_numpy(schedule(np.arange(40)))
    assert np.all(np.diff(rates) <= 1e-9)
    assert rates[2] == pytest.approx(0.5) and rates[3] == pytest.approx(0.15)


def test_vectorised_call_equals_scalar_calls():
    schedule = CliffDecay(0.1, [2, 4], decay="cosine", steps_per_epoch=3, warmup=1)
    steps = np.arange(20)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(schedule(steps)), values(schedule, steps), rtol=1e-6
    )


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        (lambda: StepDecay(0.0, 2), "initial_learning_rate"),
        (lambda: StepDecay(0.1, 0), "drop_every"),
        (lambda: StepDecay(0.1, 2, factor=1.5), "factor"),
        (lambda: StepDecay(0.1, 2, steps_per_epoch=2.5), "steps_per_epoch"),
        (lambda: StepDecay(0.1, 2, min_learning_rate=0.2), "min_learning_rate"),
        (lambda: StepDecay(0.1, 2, warmup=-1), "warmup"),
        (lambda: CliffDecay(0.1, []), "cliffs"),
        (lambda: CliffDecay(0.1, [5, 3]), "cliffs"),
        (lambda: CliffDecay(0.1, [3, 5], cliff_factor=[0.1]), "cliff_factor"),
        (lambda: CliffDecay(0.1, [3], cliff_factor=0.0), "cliff_factor"),
        (lambda: CliffDecay(0.1, [3], decay="step"), "decay"),
        (lambda: CliffDecay(0.1, [3], decay_rate=1.2), "decay_rate"),
    ],
)
def test_invalid_arguments_name_the_argument(factory, message):
    with pytest.raises(ValueError, match=message):
        factory()


def test_non_numeric_arguments_raise_type_error():
    with pytest.raises(TypeError, match="cliffs"):
        CliffDecay(0.1, 5)
    with pytest.raises(TypeError, match="factor"):
        StepDecay(0.1, 2, factor="half")


@pytest.mark.parametrize(
    "schedule",
    [
        StepDecay(0.1, 3, 0.25, steps_per_epoch=7, warmup=1, min_learning_rate=1e-4),
        CliffDecay(0.1, [2, 5], [0.5, 0.1], decay="linear", decay_rate=0.8),
        CliffDecay(0.1, [2], 0.3, decay="cosine", steps_per_epoch=4, warmup=0.5),
    ],
)
def test_config_round_trip(schedule):
    config = schedule.get_config()
    json.dumps(config)
    clone = type(schedule).from_config(config)
    assert clone.get_config() == config
    restored = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(schedule)
    )
    assert type(restored) is type(schedule)
    np.testing.assert_allclose(values(restored, range(40)), values(schedule, range(40)))


def _constant_gradient_model(learning_rate, *, jit_compile=False):
    """w starts at 0 and the loss is mean(w * 1): each SGD step subtracts lr."""
    model = keras.Sequential(
        [
            keras.Input((1,)),
            keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate),
        loss=lambda y_true, y_pred: keras.ops.mean(y_pred),
        jit_compile=jit_compile,
    )
    return model


def test_schedule_inside_jit_compiled_fit_applies_every_step():
    spe, epochs = 4, 6
    schedule = CliffDecay(
        0.1, [2, 4], 0.5, decay_rate=0.8, steps_per_epoch=spe, warmup=1
    )
    model = _constant_gradient_model(schedule, jit_compile=True)
    x = np.ones((spe * 2, 1), "float32")
    model.fit(
        x, np.zeros_like(x), batch_size=2, epochs=epochs, verbose=0, shuffle=False
    )
    expected = -sum(
        reference_cliff(s / spe, 0.1, [2, 4], 0.5, "exponential", 0.8, 1.0)
        for s in range(spe * epochs)
    )
    kernel = keras.ops.convert_to_numpy(model.layers[0].kernel)[0, 0]
    assert kernel == pytest.approx(expected, rel=1e-5)


def test_schedule_survives_keras_file(tmp_path):
    schedule = CliffDecay(0.05, [1, 3], [0.5, 0.2], decay="cosine", steps_per_epoch=2)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer=keras.optimizers.SGD(schedule, momentum=0.9), loss="mse")
    x = np.ones((8, 3), "float32")
    model.fit(x, np.zeros((8, 2), "float32"), batch_size=4, epochs=2, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    restored = loaded.optimizer._learning_rate
    assert isinstance(restored, CliffDecay)
    assert restored.get_config() == schedule.get_config()
    assert float(
        keras.ops.convert_to_numpy(loaded.optimizer.learning_rate)
    ) == pytest.approx(
        reference_cliff(2.0, 0.05, [1, 3], [0.5, 0.2], "cosine", 0.95), rel=1e-6
    )


def test_schedules_and_callbacks_import_nothing_optional():
    script = textwrap.dedent(
        """
        import json, sys
        import keras
        before = set(sys.modules)
        import keras_dlm.schedules, keras_dlm.callbacks
        print(json.dumps(sorted(set(sys.modules) - before)))
        """
    )
    completed = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        env=dict(os.environ),
    )
    added = {
        name.split(".")[0] for name in json.loads(completed.stdout.splitlines()[-1])
    }
    forbidden = {"matplotlib", "keras_tuner", "tensorflow_hub", "gensim", "tf_keras"}
    if os.environ.get("KERAS_BACKEND") != "tensorflow":
        forbidden.add("tensorflow")
    assert not added & forbidden
