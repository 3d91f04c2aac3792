"""Every public argument of keras_dlm.transfer refuses its bad values.

Runs on every backend: the arguments are checked before TensorFlow is needed.
Each case asserts the error's type and that its message names the argument
in Keras's wording ("Argument `name` must be ...").
"""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest

from keras_dlm.transfer import (
    HubBackbone,
    build_transfer_model,
    export_hub_module,
    fine_tune,
)
from keras_dlm.transfer._resolve import TIMEOUT_VARIABLE, resolve_timeout

V, T = ValueError, TypeError
NAN, INF = math.nan, math.inf

# Bad values shared by many arguments, with the error each must raise.
_POSITIVE_NUMBER = [
    (NAN, V),
    (INF, V),
    (-INF, V),
    (-1.0, V),
    (0, V),
    ("0.1", T),
    ("True", T),
    (True, T),
    (None, T),
    ([0.1], T),
]
_RATE = [
    (NAN, V),
    (INF, V),
    (-0.1, V),
    (1.0, V),
    (1.5, V),
    ("0.2", T),
    ("False", T),
    (True, T),
    (None, T),
]
_COUNT_FROM_ZERO = [
    (NAN, T),
    (INF, T),
    (-1, V),
    (1.5, T),
    (2.0, T),
    ("1", T),
    ("True", T),
    (True, T),
    (None, T),
]
_SIZE = [
    (NAN, T),
    (INF, T),
    (-1, V),
    (0, V),
    (1.5, T),
    ("8", T),
    ("True", T),
    (True, T),
]
_BOOL = [("True", T), ("false", T), (1, T), (0, T), (None, T), (NAN, T), (1.0, T)]
_OPTIONAL_STRING = [(3, T), (True, T), (NAN, T), (["a"], T)]
_NOT_A_LAYER = [(3, T), (True, T), (NAN, T), ("True", T), (None, T)]

HUB_BACKBONE = {
    "handle": [(None, T), (3, T), (True, T), (NAN, T), ("", V), ("  ", V)],
    "trainable": _BOOL,
    "train_batchnorm": _BOOL,
    "signature": _OPTIONAL_STRING,
    "output_key": _OPTIONAL_STRING,
    "arguments": [("x", T), ([1], T), (True, T), (NAN, T)],
    "download_timeout": [*_POSITIVE_NUMBER[:-3], (True, T), ([1], T)],
}

BUILD_TRANSFER_MODEL = {
    "backbone": [(3, T), (True, T), (NAN, T), (None, T), (["x"], T)],
    "num_classes": [*_SIZE, (1, V)],
    "input_shape": [
        (8, T),
        ("8", T),
        ((), V),
        ((0, 8), V),
        ((NAN, 8), T),
        ((-1, 8), V),
        ((True, 8), T),
        ((8.0, 8), T),
    ],
    "dropout": _RATE,
    "head_units": [
        (3, T),
        ("8", T),
        ((0,), V),
        ((-1,), V),
        ((NAN,), T),
        ((1.5,), T),
        ((True,), T),
        (("8",), T),
    ],
    "preprocessing": [(3, T), ("x", T), ([3], T), (True, T), (NAN, T)],
    "activation": [(3, T), (True, T), (NAN, T)],
}

FINE_TUNE = {
    "model": [(None, T), ("m", T), (3, T), (keras.layers.Dense(2), T)],
    "head_epochs": _COUNT_FROM_ZERO,
    "fine_tune_epochs": _COUNT_FROM_ZERO,
    "unfreeze": [
        (NAN, V),
        (INF, V),
        (-1, V),
        (0.0, V),
        (1.5, V),
        (-0.5, V),
        ("top", V),
        ("True", V),
        (True, T),
        (None, T),
        ([1], T),
    ],
    "fine_tune_lr_factor": _POSITIVE_NUMBER,
    "optimizer": [(3, T), (True, T), (NAN, T), (["sgd"], T)],
    "callbacks": [("x", T), ([3], T), (True, T), (NAN, T)],
    "metrics": [("accuracy", T), (3, T), (True, T), (NAN, T)],
    "backbone": [(3, T), (True, T), (NAN, T)],
    "batch_size": _SIZE,
    "verbose": [
        (NAN, V),
        (INF, V),
        (-1, V),
        (3, V),
        ("True", V),
        ("2", V),
        (True, T),
        (None, V),
    ],
}

EXPORT_HUB_MODULE = {
    "model": [(None, T), (3, T), ("m", T), (True, T)],
    "path": [(None, T), (3, T), (True, T), (NAN, T)],
    "input_shape": [
        (8, T),
        ("8", T),
        ((), V),
        ((None, 0), V),
        ((None, NAN), T),
        ((None, -1), V),
        ((None, True), T),
    ],
    "input_dtype": [(3, T), (None, T), (True, T), (NAN, T)],
    "overwrite": _BOOL,
}


def _cases(table):
    return [
        pytest.param(name, value, error, id=f"{name}={value!r}")
        for name, bad_values in table.items()
        for value, error in bad_values
    ]


def _assert_names(info, name):
    message = str(info.value)
    assert f"Argument `{name}" in message, message
    assert "Received: " in message, message


def _body():
    return keras.Sequential(
        [keras.Input((4, 4, 1)), keras.layers.Conv2D(2, 3)], name="body"
    )


@pytest.mark.parametrize(("name", "value", "error"), _cases(HUB_BACKBONE))
def test_hub_backbone_refuses(name, value, error):
    arguments = {"handle": "/no/such/module", name: value}
    with pytest.raises(error) as info:
        HubBackbone(**arguments)
    _assert_names(info, name)


@pytest.mark.parametrize(("name", "value", "error"), _cases(BUILD_TRANSFER_MODEL))
def test_build_transfer_model_refuses(name, value, error):
    arguments = {"backbone": _body(), "num_classes": 3, "input_shape": (4, 4, 1)}
    arguments[name] = value
    with pytest.raises(error) as info:
        build_transfer_model(**arguments)
    _assert_names(info, name)


@pytest.fixture(scope="module")
def transfer_model():
    return build_transfer_model(_body(), 2, input_shape=(4, 4, 1))


@pytest.mark.parametrize(("name", "value", "error"), _cases(FINE_TUNE))
def test_fine_tune_refuses(name, value, error, transfer_model):
    x, y = np.zeros((2, 4, 4, 1), "float32"), np.array([0, 1])
    arguments = {"model": transfer_model, "train_data": (x, y), name: value}
    weights = [w.copy() for w in transfer_model.get_weights()]
    with pytest.raises(error) as info:
        fine_tune(**arguments)
    _assert_names(info, name)
    # Refused before anything trained.
    for got, want in zip(transfer_model.get_weights(), weights, strict=True):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize(("name", "value", "error"), _cases(EXPORT_HUB_MODULE))
def test_export_hub_module_refuses(name, value, error, tmp_path):
    arguments = {"model": _body(), "path": str(tmp_path / "module"), name: value}
    with pytest.raises(error) as info:
        export_hub_module(**arguments)
    _assert_names(info, name)
    assert not (tmp_path / "module").exists()


@pytest.mark.parametrize("text", ["abc", "nan", "inf", "-1", "0", "1s"])
def test_timeout_variable_refuses(text, monkeypatch):
    monkeypatch.setenv(TIMEOUT_VARIABLE, text)
    with pytest.raises(ValueError) as info:
        resolve_timeout()
    _assert_names(info, TIMEOUT_VARIABLE)


def test_timeout_comes_from_argument_then_variable_then_default(monkeypatch):
    monkeypatch.delenv(TIMEOUT_VARIABLE, raising=False)
    assert resolve_timeout() == 10.0
    monkeypatch.setenv(TIMEOUT_VARIABLE, "2.5")
    assert resolve_timeout() == 2.5
    assert resolve_timeout(4) == 4.0


def test_number_of_bad_inputs_tried():
    """The count quoted in the issue's closing note (one per case above)."""
    counts = {
        "HubBackbone": sum(map(len, HUB_BACKBONE.values())),
        "build_transfer_model": sum(map(len, BUILD_TRANSFER_MODEL.values())),
        "fine_tune": sum(map(len, FINE_TUNE.values())),
        "export_hub_module": sum(map(len, EXPORT_HUB_MODULE.values())),
    }
    assert all(count >= 25 for count in counts.values()), counts
