"""Every accessor of keras_dlm._backend.keras_internals on real Keras objects.

Each test fails if the private Keras name it relies on moved or changed
meaning; each accessor is also shown to raise a RuntimeError naming the Keras
version and the missing name when the name is gone.
"""

from __future__ import annotations

import importlib
from typing import ClassVar

import keras
import numpy as np
import pytest

from keras_dlm._backend import keras_internals


def _model() -> keras.Model:
    inner = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(2, name="inner_dense")], name="inner"
    )
    return keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(3, name="first"),
            keras.layers.Dropout(0.5, seed=1, name="drop"),
            inner,
        ],
        name="outer",
    )


def _moved(name: str):
    return pytest.raises(
        RuntimeError, match=rf"`{name}`.*Keras {keras.__version__} does not have"
    )


class _Bare:
    """An object without any of the private names."""


def test_flatten_layers_walks_nested_layers_in_tracking_order():
    model = _model()
    names = [layer.name for layer in keras_internals.flatten_layers(model)]
    assert names[0] == "outer"
    assert {"first", "drop", "inner", "inner_dense"} <= set(names)
    assert names.index("inner") < names.index("inner_dense")
    without_self = keras_internals.flatten_layers(model, include_self=False)
    assert model not in without_self
    top_only = keras_internals.flatten_layers(model, recursive=False)
    assert "inner_dense" not in [layer.name for layer in top_only]
    with _moved("_flatten_layers"):
        keras_internals.flatten_layers(_Bare())


def test_sequential_functional_is_the_model_sequential_runs():
    model = _model()
    functional = keras_internals.sequential_functional(model)
    assert isinstance(functional, keras.Model)
    assert functional.inputs == model.inputs
    x = np.ones((2, 4), "float32")
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(functional(x)), keras.ops.convert_to_numpy(model(x))
    )
    assert keras_internals.sequential_functional(keras.layers.Dense(2)) is None
    assert keras_internals.sequential_functional(keras.Sequential()) is None


def test_sequential_functional_fails_loudly_when_moved(monkeypatch):
    model = _model()
    monkeypatch.delattr(model, "_functional")
    with _moved("_functional"):
        keras_internals.sequential_functional(model)


def test_layer_seed_generators_are_the_layers_own():
    dropout = keras.layers.Dropout(0.5, seed=3)
    generators = keras_internals.layer_seed_generators(dropout)
    assert len(generators) == 1
    assert isinstance(generators[0], keras.random.SeedGenerator)
    assert generators[0] is dropout.seed_generator
    assert keras_internals.layer_seed_generators(keras.layers.Dense(2)) == []
    with _moved("_seed_generators"):
        keras_internals.layer_seed_generators(_Bare())


def test_dtype_policy_and_declared_dtypes_switch_and_restore():
    model = _model()
    model.build((None, 4))
    dense = model.layers[0]
    kernel = dense.kernel
    input_tensor = model.inputs[0]
    input_layer = keras_internals.sequential_functional(model).layers[0]
    assert isinstance(input_layer, keras.layers.InputLayer)

    original_policy = dense.dtype_policy
    keras_internals.set_layer_dtype_policy(dense, keras.DTypePolicy("float64"))
    assert dense.dtype_policy.name == "float64"
    assert dense.compute_dtype == "float64"
    keras_internals.set_layer_dtype_policy(dense, original_policy)
    assert dense.dtype_policy is original_policy

    for obj in (kernel, input_tensor, input_layer):
        original = keras_internals.declared_dtype(obj)
        assert original == "float32"
        keras_internals.set_declared_dtype(obj, "float64")
        assert obj.dtype == "float64"  # the public property follows
        keras_internals.set_declared_dtype(obj, original)
        assert obj.dtype == "float32"
    with _moved("_dtype"):
        keras_internals.declared_dtype(_Bare())
    with _moved("_dtype"):
        keras_internals.set_declared_dtype(_Bare(), "float64")
    with _moved("_dtype_policy"):
        keras_internals.set_layer_dtype_policy(_Bare(), original_policy)


def test_bit64_table_drives_float64_promotion():
    table = keras_internals.bit64_to_bit32_dtype_table()
    if keras.backend.backend() == "tensorflow":
        # Keras keeps float64 on TensorFlow through this very table.
        assert table["float64"] == "float64"
        assert keras.backend.result_type("float64", "float64") == "float64"
        return
    assert table["float64"] == "float32"
    assert keras.backend.result_type("float64", "float64") == "float32"
    table["float64"] = "float64"
    try:
        assert keras.backend.result_type("float64", "float64") == "float64"
    finally:
        table["float64"] = "float32"


def test_bit64_table_fails_loudly_when_moved(monkeypatch):
    module = importlib.import_module("keras.src.backend.common.dtypes")
    monkeypatch.delattr(module, "BIT64_TO_BIT32_DTYPE")
    with _moved("BIT64_TO_BIT32_DTYPE"):
        keras_internals.bit64_to_bit32_dtype_table()


def test_learning_rate_settable_only_for_a_float_rate():
    sgd = keras.optimizers.SGD(0.1)
    assert keras_internals.learning_rate_is_settable(sgd)
    assert isinstance(keras_internals.optimizer_learning_rate(sgd), keras.Variable)
    sgd.learning_rate = 0.05  # what "settable" promises
    assert float(keras.ops.convert_to_numpy(sgd.learning_rate)) == pytest.approx(0.05)

    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5)
    scheduled = keras.optimizers.SGD(schedule)
    assert not keras_internals.learning_rate_is_settable(scheduled)
    assert keras_internals.optimizer_learning_rate(scheduled) is schedule
    with pytest.raises(TypeError):
        scheduled.learning_rate = 0.05  # Keras refuses, as promised

    def rate():
        return 0.1

    assert not keras_internals.learning_rate_is_settable(keras.optimizers.SGD(rate))
    with _moved("_learning_rate"):
        keras_internals.learning_rate_is_settable(_Bare())


def test_optimizer_own_variables_are_the_tracked_list():
    optimizer = keras.optimizers.SGD(0.1, momentum=0.9)
    weights = [keras.Variable(np.zeros((2,), "float32"))]
    optimizer.build(weights)
    own = keras_internals.optimizer_own_variables(optimizer)
    # The iteration count, the learning rate and one momentum slot, all of
    # which the public `variables` lists too, and the same list object.
    assert {id(v) for v in own} == {id(v) for v in optimizer.variables}
    assert keras_internals.optimizer_own_variables(optimizer) is own
    with _moved("_variables"):
        keras_internals.optimizer_own_variables(_Bare())


@keras.saving.register_keras_serializable(package="keras_dlm_internals_tests")
class _RecordsSafeMode(keras.layers.Layer):
    seen: ClassVar[list[bool]] = []

    @classmethod
    def from_config(cls, config):
        cls.seen.append(keras_internals.in_safe_mode())
        return cls(**config)


def test_in_safe_mode_follows_deserialization():
    assert keras_internals.in_safe_mode() is True  # nothing set it
    config = keras.saving.serialize_keras_object(_RecordsSafeMode())
    _RecordsSafeMode.seen.clear()
    keras.saving.deserialize_keras_object(config, safe_mode=False)
    keras.saving.deserialize_keras_object(config, safe_mode=True)
    assert _RecordsSafeMode.seen == [False, True]
    assert keras_internals.in_safe_mode() is True


def test_in_safe_mode_fails_loudly_when_moved(monkeypatch):
    module = importlib.import_module("keras.src.saving.serialization_lib")
    monkeypatch.delattr(module, "in_safe_mode")
    with _moved("in_safe_mode"):
        keras_internals.in_safe_mode()
