"""Every public argument of SearchSpace, TunableModel and search() fed its bad values.

Each case asserts the error type and that the message names the argument
(Keras's wording: "Argument `name` must be ..."). search() checks everything
before its first trial, so these cases train nothing.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest

from keras_dlm.tuning import SearchSpace, TunableModel, search

NAN, INF = math.nan, math.inf
TE, VE = TypeError, ValueError

# Values no number-valued argument accepts.
_NOT_A_NUMBER = [("0.1", TE), ("true", TE), (True, TE), (None, TE), ([0.1], TE)]
_NOT_FINITE = [(NAN, VE), (INF, VE), (-INF, VE)]
# Values no integer size accepts (floats, even whole ones, are refused too).
_NOT_AN_INTEGER = [(NAN, TE), (INF, TE), (1.5, TE), (2.0, TE), ("3", TE), ("true", TE),
                   (True, TE)]  # fmt: skip
_NOT_A_BOOL = [("true", TE), ("false", TE), (1, TE), (0, TE), (None, TE), (NAN, TE)]


def _cases(table):
    return [
        pytest.param(argument, value, error, id=f"{argument}={value!r}")
        for argument, values in table.items()
        for value, error in values
    ]


_SPACE_BAD = {
    "dropout": [*_NOT_A_NUMBER[:-2], *_NOT_FINITE, (-0.1, VE), (1.0, VE),
                ((0.4, 0.1), VE), ((0.1, NAN), VE), ((0.1,), TE)],
    "learning_rate": [*_NOT_A_NUMBER[:-2], *_NOT_FINITE, (0.0, VE), (-1e-3, VE),
                      ((0.0, 0.1), VE), ((1e-3, INF), VE), ((0.1, 1e-3), VE)],
    "momentum": [*_NOT_A_NUMBER[:-2], *_NOT_FINITE, (-0.5, VE), (1.0, VE)],
    "step_drop_every": [*_NOT_AN_INTEGER, (0, VE), (-1, VE), ((1, 2.5), TE),
                        ((4, 2), VE)],
    "step_factor": [*_NOT_A_NUMBER[:-2], *_NOT_FINITE, (0.0, VE), (-0.5, VE),
                    (1.5, VE)],
    "cliff_every": [*_NOT_AN_INTEGER, (0, VE), (-2, VE)],
    "cyclical_step_epochs": [*_NOT_AN_INTEGER, (0, VE), (-1, VE), ((3, 1), VE)],
    "cliff_factor": [*_NOT_A_NUMBER[:-2], *_NOT_FINITE, (0.0, VE), (-0.1, VE),
                     (2.0, VE)],
    "cliff_decay_rate": [*_NOT_A_NUMBER[:-2], *_NOT_FINITE, (0.0, VE), (-1.0, VE),
                         (1.1, VE)],
    "schedules": [("true", VE), ((), TE), (5, TE), (None, TE), (("none", "none"), VE),
                  (("none", "linear"), VE)],
    "optimizers": [("true", VE), ((), TE), (0, TE), (("adam", "lbfgs"), VE)],
    "batch_sizes": [((0,), VE), ((-8,), VE), ((NAN,), TE), ((INF,), TE), ((8.0,), TE),
                    ("true", TE), ((True,), TE), ((), TE)],
    "extra": [("true", TE), (5, TE), ({"dropout": (0.1, 0.2)}, VE),
              ({"tuner/epochs": [1]}, VE)],
    "extra['units']": [(NAN, TE), ("true", TE), ((NAN, 2.0), VE), ((1.0, INF), VE),
                       ((8, 4), VE), ([], TE)],
}  # fmt: skip


@pytest.mark.parametrize(("argument", "value", "error"), _cases(_SPACE_BAD))
def test_search_space_refuses_bad_values(argument, value, error):
    kwargs = (
        {"extra": {"units": value}}
        if argument == "extra['units']"
        else {argument: value}
    )
    with pytest.raises(error) as info:
        SearchSpace(**kwargs)
    assert f"`{argument}`" in str(info.value), str(info.value)


def _build(dropout):
    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])


_MODEL_BAD = {
    "build_fn": [(None, TE), ("true", TE), (3, TE), (NAN, TE),
                 (lambda a, b, c: None, TE)],
    "search_space": [("true", TE), ({}, TE), (3, TE)],
    "loss": [(None, TE), (True, TE), (NAN, TE), (0, TE)],
    "metrics": [("accuracy", TE), (5, TE), (NAN, TE)],
    "train_size": [*_NOT_AN_INTEGER, (0, VE), (-10, VE)],
    "epochs": [*_NOT_AN_INTEGER, (0, VE), (-1, VE)],
    "name": [(5, TE), (NAN, TE), (True, TE)],
}  # fmt: skip


@pytest.mark.parametrize(("argument", "value", "error"), _cases(_MODEL_BAD))
def test_tunable_model_refuses_bad_values(argument, value, error):
    kwargs = {"build_fn": _build, "loss": "mse", argument: value}
    with pytest.raises(error) as info:
        TunableModel(**kwargs)
    assert f"`{argument}`" in str(info.value), str(info.value)


_SEARCH_BAD = {
    "hypermodel": [("true", TE), (None, TE), (_build, TE)],
    "tuner": [("true", VE), ("evolution", VE), (None, VE), (5, VE)],
    "max_trials": [*_NOT_AN_INTEGER, (0, VE), (-3, VE)],
    "epochs": [*_NOT_AN_INTEGER, (0, VE), (-1, VE)],
    "executions_per_trial": [*_NOT_AN_INTEGER, (0, VE), (-1, VE)],
    "max_consecutive_failed_trials": [*_NOT_AN_INTEGER, (0, VE), (-1, VE)],
    "verbose": [(NAN, TE), (1.0, TE), ("true", TE), (True, TE), (-1, VE), (3, VE)],
    "seed": [(NAN, TE), (INF, TE), (1.5, TE), ("true", TE), (True, TE), (-1, VE)],
    "overwrite": _NOT_A_BOOL,
    "validation_split": [*_NOT_A_NUMBER, *_NOT_FINITE, (0.0, VE), (-0.2, VE),
                         (1.0, VE)],
    "directory": [(5, TE), (None, TE), ("", TE), (NAN, TE)],
    "project_name": [(5, TE), (NAN, TE), ("", VE), ("a/b", VE), ("..", VE)],
    "objective": [(5, TE), (NAN, TE), ("", TE)],
    "callbacks": [("true", TE), ([1], TE), (NAN, TE), (keras.callbacks.History(), TE)],
}  # fmt: skip


class _NeverFit(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        raise AssertionError("a trial ran although an argument was invalid")


@pytest.mark.parametrize(("argument", "value", "error"), _cases(_SEARCH_BAD))
def test_search_refuses_bad_values_before_any_trial(tmp_path, argument, value, error):
    hypermodel = TunableModel(_build, loss="mse")
    kwargs = {"directory": tmp_path, "callbacks": [_NeverFit()], "verbose": 0}
    kwargs[argument] = value
    if argument == "hypermodel":
        hypermodel = value
        del kwargs["hypermodel"]
    x = np.zeros((4, 4), "float32")
    with pytest.raises(error) as info:
        search(hypermodel, x, np.zeros((4, 2), "float32"), **kwargs)
    assert f"`{argument}`" in str(info.value), str(info.value)
    assert not any(tmp_path.iterdir())  # not even a project folder


def test_search_refuses_a_file_as_directory(tmp_path):
    path = tmp_path / "file"
    path.write_text("not a folder")
    with pytest.raises(ValueError, match="`directory` must be a folder, not a file"):
        search(TunableModel(_build, loss="mse"), np.zeros((4, 4)), directory=path)
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "taken").write_text("")
    with pytest.raises(ValueError, match="`project_name`"):
        search(
            TunableModel(_build, loss="mse"),
            np.zeros((4, 4)),
            directory=tmp_path / "runs",
            project_name="taken",
        )
