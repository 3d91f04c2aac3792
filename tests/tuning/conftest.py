"""Shared fixtures of the tuning tests: a small slice of digits and a tiny model."""

from __future__ import annotations

import keras
import pytest

from keras_dlm.datasets import load_digits


@pytest.fixture(scope="session")
def tiny_digits():
    """160 training and 40 validation digits (flattened to 64 features)."""
    (x, y), _ = load_digits()
    x = x.reshape(len(x), -1)
    return (x[:160], y[:160]), (x[160:200], y[160:200])


def tiny_build(dropout: float) -> keras.Model:
    """A one-layer softmax classifier with input dropout: the cheapest model to tune."""
    return keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dropout(dropout),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )


@pytest.fixture
def build_fn():
    return tiny_build


def _check_values_in_space(
    values: dict, *, dropout, learning_rate, momentum, optimizers, schedules
) -> None:
    """Checks one trial's values against the ranges the test chose (not the code's own)."""
    assert dropout[0] <= values["dropout"] <= dropout[1]
    assert learning_rate[0] <= values["learning_rate"] <= learning_rate[1]
    assert values["optimizer"] in optimizers
    if values["optimizer"] == "sgd":
        assert momentum[0] <= values["momentum"] <= momentum[1]
    else:
        assert values["momentum"] is None
    assert values["schedule"] in schedules
    step_params = ("step_drop_every", "step_factor")
    cliff_params = ("cliff_every", "cliff_factor", "cliff_decay_rate")
    for name in step_params:
        if "step" in schedules:
            assert (values[name] is None) == (values["schedule"] != "step"), name
    for name in cliff_params:
        if "cliff" in schedules:
            assert (values[name] is None) == (values["schedule"] != "cliff"), name


@pytest.fixture
def check_in_space():
    return _check_values_in_space
