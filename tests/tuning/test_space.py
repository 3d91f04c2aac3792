from __future__ import annotations

import keras_tuner
import numpy as np
import pytest

from keras_dlm.tuning import SearchSpace


def _declared(space: SearchSpace, **values):
    hp = keras_tuner.HyperParameters()
    space.declare(hp)
    hp.values.update(values)
    # As keras-tuner's oracles do: give newly active parameters their defaults.
    hp.ensure_active_values()
    return hp


def test_names_follow_the_choices():
    space = SearchSpace(optimizers=("adam",), schedules=("none", "cliff"))
    assert space.names() == [
        "dropout",
        "learning_rate",
        "optimizer",
        "schedule",
        "cliff_every",
        "cliff_factor",
        "cliff_decay_rate",
    ]
    space = SearchSpace(batch_sizes=(16, 32), extra={"units": (8, 64)})
    assert space.names()[-2:] == ["batch_size", "units"]
    assert "momentum" in space.names()


def test_one_cycle_and_cyclical_are_opt_in():
    assert "cyclical" not in SearchSpace().schedules
    space = SearchSpace(schedules=("onecycle", "cyclical"), optimizers=("adam",))
    assert space.names()[-2:] == ["schedule", "cyclical_step_epochs"]
    with pytest.raises(ValueError, match="schedules"):
        SearchSpace(schedules=("one-cycle",))


def test_declare_registers_types_ranges_and_log_sampling():
    space = SearchSpace(
        dropout=(0.1, 0.4),
        learning_rate=(1e-3, 1e-1),
        extra={"units": (8, 64), "act": ["relu", "tanh"], "scale": (0.5, 2.0)},
    )
    hp = keras_tuner.HyperParameters()
    space.declare(hp)
    configs = {p.name: (type(p).__name__, p.get_config()) for p in hp.space}
    assert configs["dropout"][0] == "Float"
    assert (configs["dropout"][1]["min_value"], configs["dropout"][1]["max_value"]) == (
        0.1,
        0.4,
    )
    assert configs["learning_rate"][1]["sampling"] == "log"
    assert configs["units"][0] == "Int"
    assert configs["act"][0] == "Choice"
    assert configs["scale"][0] == "Float"
    assert configs["momentum"][1]["conditions"]  # exists only under a condition


def test_learning_rate_is_log_uniform():
    space = SearchSpace(learning_rate=(1e-4, 1e-1))
    hp = keras_tuner.HyperParameters()
    space.declare(hp)
    (learning_rate,) = [p for p in hp.space if p.name == "learning_rate"]
    rng = np.random.default_rng(0)
    samples = np.array([learning_rate.prob_to_value(p) for p in rng.uniform(size=4000)])
    assert samples.min() >= 1e-4 and samples.max() <= 1e-1
    # Log-uniform on [1e-4, 1e-1]: each decade holds a third of the samples,
    # and the median is the geometric mean 10**-2.5.
    decades = np.histogram(np.log10(samples), bins=[-4, -3, -2, -1])[0] / len(samples)
    np.testing.assert_allclose(decades, [1 / 3] * 3, atol=0.03)
    assert abs(np.log10(np.median(samples)) + 2.5) < 0.05


def test_inactive_parameters_are_none():
    space = SearchSpace(optimizers=("sgd", "adam"), schedules=("none", "step", "cliff"))
    values = space.values(_declared(space, optimizer="adam", schedule="step"))
    assert values["momentum"] is None
    assert values["step_drop_every"] is not None and values["step_factor"] is not None
    assert values["cliff_every"] is None and values["cliff_decay_rate"] is None
    values = space.values(_declared(space, optimizer="sgd", schedule="none"))
    assert values["momentum"] is not None
    assert all(
        values[name] is None
        for name in ("step_drop_every", "step_factor", "cliff_every", "cliff_factor")
    )


def test_values_leave_out_tuner_bookkeeping():
    space = SearchSpace()
    values = space.values({"dropout": 0.1, "tuner/epochs": 3, "tuner/round": 0})
    assert "tuner/epochs" not in values and values["dropout"] == 0.1
    assert set(values) == set(space.names())


def test_fixed_values():
    space = SearchSpace(
        dropout=0.25, momentum=0.9, optimizers="sgd", schedules=("none",)
    )
    hp = keras_tuner.HyperParameters()
    values = space.declare(hp)
    assert values["dropout"] == 0.25 and values["momentum"] == 0.9
    assert values["optimizer"] == "sgd"


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"dropout": (0.6, 0.2)}, ValueError, "dropout"),
        ({"dropout": (0.0, 1.5)}, ValueError, "dropout"),
        ({"dropout": "high"}, TypeError, "dropout"),
        ({"learning_rate": (0.0, 0.1)}, ValueError, "learning_rate"),
        ({"optimizers": ("sgd", "lbfgs")}, ValueError, "lbfgs"),
        ({"schedules": ("none", "exponential")}, ValueError, "exponential"),
        ({"schedules": ()}, TypeError, "schedules"),
        ({"step_drop_every": (1.5, 3)}, TypeError, "step_drop_every"),
        ({"batch_sizes": (0, 32)}, ValueError, "batch_sizes"),
        ({"extra": {"dropout": (0, 1)}}, ValueError, "dropout"),
        ({"extra": {"units": "many"}}, TypeError, "units"),
    ],
)
def test_invalid_arguments_name_the_argument(kwargs, error, match):
    with pytest.raises(error, match=match):
        SearchSpace(**kwargs)
