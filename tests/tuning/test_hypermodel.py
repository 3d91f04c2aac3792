from __future__ import annotations

import math

import keras
import keras_tuner
import numpy as np
import pytest

from keras_dlm.tuning import SearchSpace, TunableModel, make_optimizer


def _values(**overrides):
    values = {
        "dropout": 0.1,
        "learning_rate": 0.05,
        "optimizer": "sgd",
        "momentum": 0.5,
        "schedule": "none",
        "step_drop_every": None,
        "step_factor": None,
        "cliff_every": None,
        "cliff_factor": None,
        "cliff_decay_rate": None,
        "cyclical_step_epochs": None,
    }
    values.update(overrides)
    return values


def _rate(optimizer, step):
    # Keras optimizers report the learning rate at their current iteration.
    optimizer.iterations.assign(step)
    return float(keras.ops.convert_to_numpy(optimizer.learning_rate))


def test_plain_optimizers():
    sgd = make_optimizer(_values())
    assert isinstance(sgd, keras.optimizers.SGD)
    assert math.isclose(float(sgd.momentum), 0.5)
    assert math.isclose(_rate(sgd, 0), 0.05, rel_tol=1e-6)
    adam = make_optimizer(_values(optimizer="adam", momentum=None, learning_rate=1e-3))
    assert isinstance(adam, keras.optimizers.Adam)
    assert math.isclose(_rate(adam, 0), 1e-3, rel_tol=1e-6)
    for name, cls in (
        ("rmsprop", keras.optimizers.RMSprop),
        ("adamw", keras.optimizers.AdamW),
    ):
        assert isinstance(make_optimizer(_values(optimizer=name, momentum=None)), cls)


def test_step_schedule_counts_epochs():
    spe = 7
    optimizer = make_optimizer(
        _values(schedule="step", step_drop_every=2, step_factor=0.3),
        steps_per_epoch=spe,
    )
    for step in (0, 6, 13, 14, 27, 28, 60):
        # Independent reference: lr0 * factor ** floor(epoch / drop_every).
        expected = 0.05 * 0.3 ** math.floor((step / spe) / 2)
        assert math.isclose(_rate(optimizer, step), expected, rel_tol=1e-5), step


def test_cliff_schedule_counts_epochs():
    spe = 4
    optimizer = make_optimizer(
        _values(
            schedule="cliff", cliff_every=3, cliff_factor=0.5, cliff_decay_rate=0.9
        ),
        steps_per_epoch=spe,
        epochs=10,
    )
    # Cliffs at epochs 3, 6, 9: flat before the first, level 0.05 * 0.5**k right
    # at cliff k, then x0.9 per epoch, never below the next level.
    expected = {
        0: 0.05,
        2: 0.05,
        3: 0.025,
        4: 0.025 * 0.9,
        5: 0.025 * 0.81,
        6: 0.0125,
        7: 0.0125 * 0.9,
        9: 0.00625,
    }
    for epoch, rate in expected.items():
        assert math.isclose(_rate(optimizer, epoch * spe), rate, rel_tol=1e-5), epoch


def _torch_one_cycle(step, *, max_rate, total_steps):
    # PyTorch's OneCycleLR (pct_start 0.3, div 25, final div 1e4, cosine),
    # written out: warm-up ends at 0.3 * total - 1, the end at total - 1.
    initial = max_rate / 25.0
    final = initial / 1e4
    warm_end = 0.3 * total_steps - 1
    if step <= warm_end:
        start, end, fraction = initial, max_rate, step / warm_end
    else:
        start, end = max_rate, final
        fraction = (step - warm_end) / (total_steps - 1 - warm_end)
    return end + (start - end) / 2.0 * (math.cos(math.pi * fraction) + 1.0)


def test_onecycle_schedule_spans_the_trial():
    spe, epochs = 4, 5
    optimizer = make_optimizer(
        _values(schedule="onecycle"), steps_per_epoch=spe, epochs=epochs
    )
    for step in (0, 3, 5, 6, 12, 19):
        expected = _torch_one_cycle(step, max_rate=0.05, total_steps=spe * epochs)
        assert math.isclose(_rate(optimizer, step), expected, rel_tol=1e-4), step


def test_cyclical_schedule_counts_epochs():
    spe = 4
    optimizer = make_optimizer(
        _values(schedule="cyclical", cyclical_step_epochs=2), steps_per_epoch=spe
    )
    size = 2 * spe
    for step in (0, 4, 8, 12, 16, 24, 40):
        # Independent reference: Smith's triangular2 between lr / 10 and lr.
        cycle = math.floor(1 + step / (2 * size))
        x = abs(step / size - 2 * cycle + 1)
        expected = 0.005 + 0.045 * max(0.0, 1 - x) / 2 ** (cycle - 1)
        assert math.isclose(_rate(optimizer, step), expected, rel_tol=1e-5), step


def test_schedule_needs_steps_per_epoch():
    with pytest.raises(ValueError, match="steps_per_epoch"):
        make_optimizer(_values(schedule="step", step_drop_every=1, step_factor=0.5))


def test_unknown_optimizer():
    with pytest.raises(ValueError, match="lbfgs"):
        make_optimizer(_values(optimizer="lbfgs"))


def _one_arg(dropout):
    return keras.Sequential(
        [keras.Input((3,)), keras.layers.Dropout(dropout), keras.layers.Dense(2)]
    )


def test_build_accepts_both_signatures_and_compiles():
    space = SearchSpace(dropout=0.3, optimizers=("adam",), schedules=("none",))
    seen = {}

    def two_args(hp, dropout):
        seen["hp"] = hp
        seen["dropout"] = dropout
        return _one_arg(dropout)

    for build_fn in (_one_arg, two_args):
        hypermodel = TunableModel(build_fn, space, loss="mse", metrics=["mae"])
        model = hypermodel.build(keras_tuner.HyperParameters())
        assert isinstance(model.optimizer, keras.optimizers.Adam)
        assert model.layers[0].rate == 0.3
    assert isinstance(seen["hp"], keras_tuner.HyperParameters)
    assert seen["dropout"] == 0.3


def test_build_with_schedule_uses_train_size():
    space = SearchSpace(
        optimizers=("sgd",),
        schedules=("step",),
        step_drop_every=1,
        step_factor=0.5,
        learning_rate=0.1,
        batch_sizes=(10,),
    )
    hypermodel = TunableModel(_one_arg, space, loss="mse", train_size=25)
    model = hypermodel.build(keras_tuner.HyperParameters())
    # 25 samples in batches of 10: 3 steps per epoch, so step 3 is epoch 1.
    assert math.isclose(_rate(model.optimizer, 2), 0.1, rel_tol=1e-6)
    assert math.isclose(_rate(model.optimizer, 3), 0.05, rel_tol=1e-6)
    with pytest.raises(ValueError, match="train_size"):
        TunableModel(_one_arg, space, loss="mse").build(keras_tuner.HyperParameters())


@pytest.mark.parametrize(
    ("build_fn", "match"),
    [("not callable", "callable"), (lambda a, b, c: None, "positional")],
)
def test_bad_build_fn(build_fn, match):
    with pytest.raises(TypeError, match=match):
        TunableModel(build_fn, loss="mse")


def test_build_fn_must_return_a_model():
    hypermodel = TunableModel(
        lambda dropout: "model", SearchSpace(schedules=("none",)), loss="mse"
    )
    with pytest.raises(TypeError, match=r"keras\.Model"):
        hypermodel.build(keras_tuner.HyperParameters())


class _CountBatches(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.batches = 0
        self.epochs = []

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1

    def on_epoch_begin(self, epoch, logs=None):
        self.epochs.append(epoch)


def test_fit_uses_the_tuned_batch_size_and_passes_kwargs_through():
    space = SearchSpace(
        optimizers=("sgd",),
        schedules=("step",),
        step_drop_every=1,
        step_factor=0.5,
        learning_rate=0.1,
        batch_sizes=(8,),
    )
    hypermodel = TunableModel(_one_arg, space, loss="mse", train_size=20)
    hp = keras_tuner.HyperParameters()
    model = hypermodel.build(hp)
    x = np.zeros((20, 3), "float32")
    y = np.zeros((20, 2), "float32")
    counter = _CountBatches()
    # Hyperband resumes trials at initial_epoch: the schedule must continue there.
    history = hypermodel.fit(
        hp, model, x, y, epochs=3, initial_epoch=1, callbacks=[counter], verbose=0
    )
    assert counter.epochs == [1, 2]
    assert counter.batches == 2 * 3  # ceil(20 / 8) = 3 batches per epoch
    assert len(history.history["loss"]) == 2
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 3 * 3
