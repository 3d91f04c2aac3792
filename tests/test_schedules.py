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

from keras_dlm.schedules import CliffDecay, Cyclical, OneCycle, StepDecay


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
        OneCycle(0.2, 40, warmup_fraction=0.25, anneal="linear", three_phase=True),
        Cyclical(0.01, 0.1, 5, mode="exp_range", gamma=0.97),
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


# ---------------------------------------------------------------------------
# One-cycle and cyclical schedules.


def reference_one_cycle(
    t, max_lr, total, pct=0.3, anneal="cos", div=25.0, final_div=1e4, three=False
):
    """PyTorch's OneCycleLR.get_lr written out in float64 (no shared code)."""
    initial = max_lr / div
    minimum = initial / final_div
    if three:
        phases = [
            (pct * total - 1, initial, max_lr),
            (2 * pct * total - 2, max_lr, initial),
            (total - 1, initial, minimum),
        ]
    else:
        phases = [(pct * total - 1, initial, max_lr), (total - 1, max_lr, minimum)]
    begin = 0.0
    for index, (end_step, start, end) in enumerate(phases):
        if t <= end_step or index == len(phases) - 1:
            fraction = (t - begin) / (end_step - begin)
            if anneal == "cos":
                return end + (start - end) / 2.0 * (math.cos(math.pi * fraction) + 1)
            return (end - start) * fraction + start
        begin = end_step
    raise AssertionError("unreachable")


def reference_cyclic_torch(t, base, peak, step_size, mode="triangular", gamma=1.0):
    """PyTorch's CyclicLR.get_lr (step_size_down = step_size_up) in float64."""
    total = 2.0 * step_size
    cycle = math.floor(1 + t / total)
    x = 1.0 + t / total - cycle
    factor = x / 0.5 if x <= 0.5 else (x - 1) / (0.5 - 1)
    scale = {"triangular": 1.0, "triangular2": 1 / 2.0 ** (cycle - 1)}.get(
        mode, gamma**t
    )
    return base + (peak - base) * factor * scale


def reference_cyclic_tfa(t, base, peak, step_size, mode="triangular", gamma=1.0):
    """TensorFlow Addons' CyclicalLearningRate.__call__ in float64."""
    cycle = math.floor(1 + t / (2 * step_size))
    x = abs(t / step_size - 2 * cycle + 1)
    mode_step = t if mode == "exp_range" else cycle
    scale = {"triangular": 1.0, "triangular2": 1 / 2.0 ** (mode_step - 1)}.get(
        mode, gamma**mode_step
    )
    return base + (peak - base) * max(0.0, 1 - x) * scale


ONE_CYCLE_CASES = [
    (0.1, 100, {}),
    (0.3, 57, {"pct": 0.25, "anneal": "linear"}),
    (0.05, 64, {"pct": 0.2, "three": True}),
    (1.0, 40, {"pct": 0.4, "anneal": "linear", "three": True, "div": 10.0}),
    (0.02, 30, {"final_div": 100.0}),
]


def _one_cycle(max_lr, total, options):
    return OneCycle(
        max_lr,
        total,
        warmup_fraction=options.get("pct", 0.3),
        anneal=options.get("anneal", "cos"),
        initial_div=options.get("div", 25.0),
        final_div=options.get("final_div", 1e4),
        three_phase=options.get("three", False),
    )


@pytest.mark.parametrize(("max_lr", "total", "options"), ONE_CYCLE_CASES)
def test_one_cycle_matches_numpy_reference_every_step(max_lr, total, options):
    schedule = _one_cycle(max_lr, total, options)
    steps = np.arange(total)
    expected = [reference_one_cycle(t, max_lr, total, **options) for t in steps]
    np.testing.assert_allclose(values(schedule, steps), expected, rtol=2e-5)
    vectorised = keras.ops.convert_to_numpy(schedule.rate_at(steps))
    np.testing.assert_allclose(vectorised, expected, rtol=2e-5)
    # After the cycle the rate stays at its minimum.
    last = values(schedule, [total - 1, total, total + 50])
    np.testing.assert_allclose(last, schedule.min_learning_rate, rtol=2e-5)


@pytest.mark.parametrize("mode", ["triangular", "triangular2", "exp_range"])
@pytest.mark.parametrize("step_size", [1, 4, 7.5])
def test_cyclical_matches_torch_and_tfa_formulas(mode, step_size):
    gamma = 0.98 if mode == "exp_range" else 1.0
    schedule = Cyclical(0.001, 0.1, step_size, mode=mode, gamma=gamma)
    steps = np.arange(80)
    torch_form = [
        reference_cyclic_torch(t, 0.001, 0.1, step_size, mode, gamma) for t in steps
    ]
    tfa_form = [
        reference_cyclic_tfa(t, 0.001, 0.1, step_size, mode, gamma) for t in steps
    ]
    np.testing.assert_allclose(torch_form, tfa_form, rtol=1e-12)
    np.testing.assert_allclose(values(schedule, steps), torch_form, rtol=2e-5)


def test_one_cycle_and_cyclical_hand_computed_values():
    schedule = OneCycle(0.1, 10, warmup_fraction=0.5, anneal="linear", final_div=2.0)
    # initial 0.004 rising over steps 0..4, then 0.1 -> 0.002 over steps 4..9.
    np.testing.assert_allclose(
        values(schedule, [0, 2, 4, 9]), [0.004, 0.052, 0.1, 0.002], rtol=1e-6
    )
    cyclical = Cyclical(0.0, 1.0, 2, mode="triangular2")
    np.testing.assert_allclose(
        values(cyclical, range(9)), [0, 0.5, 1, 0.5, 0, 0.25, 0.5, 0.25, 0], atol=1e-7
    )


def test_one_cycle_and_cyclical_match_torch_schedulers():
    torch = pytest.importorskip("torch")

    def torch_rates(make, steps):
        parameter = torch.nn.Parameter(torch.zeros(1))
        optimizer = torch.optim.SGD([parameter], lr=1.0, momentum=0.9)
        scheduler = make(optimizer)
        rates = []
        for _ in range(steps):
            rates.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            scheduler.step()
        return np.array(rates)

    for max_lr, total, options in ONE_CYCLE_CASES:
        expected = torch_rates(
            lambda optimizer, max_lr=max_lr, total=total, options=options: (
                torch.optim.lr_scheduler.OneCycleLR(
                    optimizer,
                    max_lr,
                    total_steps=total,
                    pct_start=options.get("pct", 0.3),
                    anneal_strategy=options.get("anneal", "cos"),
                    div_factor=options.get("div", 25.0),
                    final_div_factor=options.get("final_div", 1e4),
                    three_phase=options.get("three", False),
                )
            ),
            total,
        )
        got = values(_one_cycle(max_lr, total, options), range(total))
        np.testing.assert_allclose(got, expected, rtol=2e-5)
    for mode in ("triangular", "triangular2", "exp_range"):
        expected = torch_rates(
            lambda optimizer, mode=mode: torch.optim.lr_scheduler.CyclicLR(
                optimizer, 0.001, 0.1, step_size_up=6, mode=mode, gamma=0.97
            ),
            50,
        )
        got = values(Cyclical(0.001, 0.1, 6, mode=mode, gamma=0.97), range(50))
        np.testing.assert_allclose(got, expected, rtol=2e-5)


def test_one_cycle_inside_jit_compiled_fit_applies_every_step():
    schedule = OneCycle(0.1, 12, warmup_fraction=0.25)
    model = _constant_gradient_model(schedule, jit_compile=True)
    x = np.ones((8, 1), "float32")
    model.fit(x, np.zeros_like(x), batch_size=2, epochs=3, verbose=0, shuffle=False)
    expected = -sum(reference_one_cycle(t, 0.1, 12, pct=0.25) for t in range(12))
    kernel = keras.ops.convert_to_numpy(model.layers[0].kernel)[0, 0]
    assert kernel == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize(
    "schedule",
    [OneCycle(0.1, 20, three_phase=True), Cyclical(0.001, 0.01, 3, mode="triangular2")],
)
def test_cyclical_schedules_survive_keras_file(tmp_path, schedule):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer=keras.optimizers.SGD(schedule, momentum=0.9), loss="mse")
    x = np.ones((8, 3), "float32")
    model.fit(x, np.zeros((8, 2), "float32"), batch_size=4, epochs=2, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    restored = loaded.optimizer._learning_rate
    assert type(restored) is type(schedule)
    assert restored.get_config() == schedule.get_config()
    assert float(keras.ops.convert_to_numpy(loaded.optimizer.learning_rate)) == (
        pytest.approx(float(keras.ops.convert_to_numpy(schedule(4))), rel=1e-6)
    )


# Table-driven bad values: every public argument, its bad values, the error.
NAN, INF = float("nan"), float("inf")
BAD_ARGUMENTS = {
    StepDecay: (
        {"initial_learning_rate": 0.1, "drop_every": 2},
        {
            "initial_learning_rate": [NAN, INF, -1.0, 0.0, "0.1"],
            "drop_every": [NAN, INF, -1.0, 0.0, "2"],
            "factor": [NAN, INF, -0.5, 0.0, 1.5, "half"],
            "steps_per_epoch": [0, -3, 2.5, "10", True],
            "warmup": [NAN, INF, -1.0, "1"],
            "min_learning_rate": [NAN, INF, -1.0, 0.2, "0"],
        },
    ),
    CliffDecay: (
        {"initial_learning_rate": 0.1, "cliffs": [3, 6]},
        {
            "initial_learning_rate": [NAN, INF, -1.0, 0.0, "0.1"],
            "cliffs": [5, [], [6, 3], [NAN], [INF], [-1], "3"],
            "cliff_factor": [NAN, INF, 0.0, -0.1, 1.5, [0.1], "0.1"],
            "decay": ["step", 1, None],
            "decay_rate": [NAN, INF, 0.0, 1.2, "0.9"],
            "steps_per_epoch": [0, 2.5, True],
            "warmup": [NAN, INF, -1.0],
            "min_learning_rate": [NAN, INF, -1.0, 0.5],
        },
    ),
    OneCycle: (
        {"max_learning_rate": 0.1, "total_steps": 100},
        {
            "max_learning_rate": [NAN, INF, -1.0, 0.0, "0.1"],
            "total_steps": [0, 1, -5, 10.0, "100", True],
            "warmup_fraction": [NAN, INF, -0.1, 1.5, "0.3"],
            "anneal": ["cosine", "", None],
            "initial_div": [NAN, INF, 0.5, 0.0, -2.0, "25"],
            "final_div": [NAN, INF, 0.5, -1.0, "1e4"],
            "three_phase": ["True", "false", 1, None],
        },
    ),
    Cyclical: (
        {"base_learning_rate": 0.001, "max_learning_rate": 0.1, "step_size": 5},
        {
            "base_learning_rate": [NAN, INF, -1.0, "0.001"],
            "max_learning_rate": [NAN, INF, -1.0, 0.0, 0.0005, "0.1"],
            "step_size": [NAN, INF, -1.0, 0.0, "5"],
            "mode": ["triangle", None, 2],
            "gamma": [NAN, INF, 0.0, -0.5, 1.5, "0.9"],
        },
    ),
}
BAD_CASES = [
    pytest.param(cls, name, bad, id=f"{cls.__name__}-{name}-{bad!r}")
    for cls, (_, table) in BAD_ARGUMENTS.items()
    for name, bads in table.items()
    for bad in bads
]


@pytest.mark.parametrize(("cls", "name", "bad"), BAD_CASES)
def test_every_bad_argument_is_refused_naming_it(cls, name, bad):
    good, _ = BAD_ARGUMENTS[cls]
    with pytest.raises((ValueError, TypeError)) as caught:
        cls(**{**good, name: bad})
    assert f"`{name}`" in str(caught.value)
    # A wrong type is a TypeError, a number out of range a ValueError.
    if isinstance(bad, str) and name not in ("anneal", "mode", "decay"):
        assert caught.type is TypeError
    if isinstance(bad, float) and name not in ("total_steps", "steps_per_epoch"):
        assert caught.type is ValueError


def test_one_cycle_three_phase_limits_the_warmup_to_half():
    with pytest.raises(ValueError, match="warmup_fraction"):
        OneCycle(0.1, 100, warmup_fraction=0.6, three_phase=True)


hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=25, deadline=None)
@given(
    max_lr=st.floats(1e-4, 10.0),
    total=st.integers(10, 500),
    pct=st.floats(0.05, 0.5),
    three=st.booleans(),
    anneal=st.sampled_from(["cos", "linear"]),
)
def test_one_cycle_properties(max_lr, total, pct, three, anneal):
    schedule = OneCycle(
        max_lr, total, warmup_fraction=pct, anneal=anneal, three_phase=three
    )
    steps = np.arange(total + 3)
    rates = keras.ops.convert_to_numpy(schedule.rate_at(steps)).astype(np.float64)
    assert np.all(np.isfinite(rates))
    assert np.all(rates <= max_lr * (1 + 1e-5))
    # float32 carries ~1e-7 of max_lr in absolute terms.
    assert np.all(rates >= schedule.min_learning_rate - 2e-7 * max_lr)
    expected = [
        reference_one_cycle(min(t, total - 1), max_lr, total, pct, anneal, three=three)
        for t in steps
    ]
    np.testing.assert_allclose(rates, expected, rtol=5e-5, atol=2e-7 * max_lr)
    # The rate falls monotonically after the last rise.
    fall_start = int(np.ceil(pct * total * (2 if three else 1)))
    tail = rates[fall_start:]
    assert np.all(np.diff(tail) <= 1e-6 * max_lr)


@settings(max_examples=25, deadline=None)
@given(
    base=st.floats(0.0, 1.0),
    span=st.floats(1e-3, 1.0),
    step_size=st.floats(0.5, 50.0),
    mode=st.sampled_from(["triangular", "triangular2", "exp_range"]),
    gamma=st.floats(0.9, 1.0),
)
def test_cyclical_properties(base, span, step_size, mode, gamma):
    peak = base + span
    schedule = Cyclical(base, peak, step_size, mode=mode, gamma=gamma)
    steps = np.arange(200)
    rates = keras.ops.convert_to_numpy(schedule.rate_at(steps)).astype(np.float64)
    assert np.all(rates >= base - 1e-6) and np.all(rates <= peak + 1e-6)
    expected = [
        reference_cyclic_tfa(t, base, peak, step_size, mode, gamma) for t in steps
    ]
    np.testing.assert_allclose(rates, expected, rtol=1e-4, atol=1e-6)
