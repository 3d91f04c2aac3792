"""Tests for keras_dlm.gradcheck: back-prop against finite differences."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import keras_dlm
from keras_dlm.gradcheck import (
    GradientCheck,
    GradientCheckError,
    GradientCheckReport,
    check_gradients,
)


def _normal(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


@keras.saving.register_keras_serializable(package="keras_dlm_tests")
class WrongKernelGradDense(keras.layers.Layer):
    """y = x @ W + b, whose custom gradient for W is off by a factor `scale`.

    The gradients for x and b are right, so a correct checker must blame the
    kernel and only the kernel.
    """

    def __init__(self, units: int, scale: float = 2.0, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.scale = scale

    def build(self, input_shape):
        self.kernel = self.add_weight(
            shape=(input_shape[-1], self.units), name="kernel"
        )
        self.bias = self.add_weight(
            shape=(self.units,), initializer="normal", name="bias"
        )

    def call(self, x):
        scale = self.scale

        @keras.ops.custom_gradient
        def matmul(a, w):
            def grad(*args, upstream=None):
                if upstream is None:
                    (upstream,) = args
                grad_a = keras.ops.matmul(upstream, keras.ops.transpose(w))
                grad_w = keras.ops.matmul(keras.ops.transpose(a), upstream)
                return grad_a, grad_w * scale

            return keras.ops.matmul(a, w), grad

        return matmul(x, keras.ops.copy(self.kernel)) + self.bias

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "scale": self.scale}


@keras.ops.custom_gradient
def _square_wrong_at_last_element(x):
    # The gradient of x**2 is 2x; this one says 3x at the last element only.
    def grad(*args, upstream=None):
        if upstream is None:
            (upstream,) = args
        last = keras.ops.cast(keras.ops.arange(x.shape[-1]) == x.shape[-1] - 1, x.dtype)
        return upstream * (2.0 + last) * x

    return x * x, grad


# ---------------------------------------------------------------- correct layers


def test_dense_passes_and_checks_every_weight_and_input():
    layer = keras.layers.Dense(3, activation="tanh", name="dense")
    for mode, counts in (("full", [15, 3, 20]), ("fast", [8, 8, 8])):
        report = check_gradients(layer, _normal(4, 5), mode=mode)
        assert report.passed, str(report)
        assert [t.name for t in report.tensors] == [
            "dense/kernel",
            "dense/bias",
            "inputs",
        ]
        assert [t.kind for t in report.tensors] == ["weight", "weight", "input"]
        assert report["dense/kernel"].shape == (5, 3)
        assert [t.num_checked for t in report.tensors] == counts
        assert max(t.max_abs_error for t in report.tensors) < 1e-6


def test_conv_passes():
    layer = keras.layers.Conv2D(
        2, 3, padding="same", activation="sigmoid", name="conv2d"
    )
    report = check_gradients(layer, _normal(1, 4, 4, 2), mode="full", max_elements=12)
    assert report.passed, str(report)
    assert report["inputs"].num_checked == 12
    assert report["conv2d/kernel"].num_checked == 12
    assert report["conv2d/bias"].num_checked == 2  # fewer elements than max_elements


def test_simple_rnn_passes_in_fast_mode():
    layer = keras.layers.SimpleRNN(2)
    report = check_gradients(layer, _normal(2, 3, 2), mode="fast", num_directions=3)
    assert report.passed, str(report)
    assert {t.name for t in report.tensors} == {
        "simple_rnn/simple_rnn_cell/kernel",
        "simple_rnn/simple_rnn_cell/recurrent_kernel",
        "simple_rnn/simple_rnn_cell/bias",
        "inputs",
    }


def test_loss_value_and_gradient_match_numpy():
    x, y = _normal(6, 3, seed=1), _normal(6, 2, seed=2)
    layer = keras.layers.Dense(2, name="dense")
    layer.build((None, 3))
    report = check_gradients(layer, x, targets=y, loss="mse")
    w = keras.ops.convert_to_numpy(layer.kernel).astype(np.float64)
    b = keras.ops.convert_to_numpy(layer.bias).astype(np.float64)
    residual = x.astype(np.float64) @ w + b - y
    # mse = mean over samples of the mean over outputs of residual**2
    assert report.value == pytest.approx(np.mean(residual**2), rel=1e-12)
    grad_w = 2 * x.astype(np.float64).T @ residual / residual.size
    kernel = report["dense/kernel"]
    assert kernel.backprop_at_worst == pytest.approx(
        grad_w[kernel.worst_index], rel=1e-9
    )
    assert kernel.numeric_at_worst == pytest.approx(
        grad_w[kernel.worst_index], rel=1e-6
    )


def test_loss_object_is_evaluated_in_float64():
    x, y = _normal(4, 3, seed=3), _normal(4, 1, seed=4)
    layer = keras.layers.Dense(1)
    report = check_gradients(
        layer, x, targets=y, loss=keras.losses.MeanSquaredError(), mode="full"
    )
    assert report.passed, str(report)
    assert report.notes == ()
    assert max(t.max_abs_error for t in report.tensors) < 1e-7


def test_function_target_with_positional_and_integer_inputs():
    def weighted(a, b, index):
        return keras.ops.sin(a) * b + keras.ops.cast(index, a.dtype)

    a, b = _normal(2, 3, seed=5), _normal(2, 3, seed=6)
    index = np.array([[1, 2, 3], [4, 5, 6]], dtype="int32")
    report = check_gradients(weighted, (a, b, index))
    assert report.passed, str(report)
    assert [t.name for t in report.tensors] == ["inputs[0]", "inputs[1]"]


def test_dict_inputs_are_named_by_key():
    report = check_gradients(
        lambda d: d["u"] * d["v"], {"u": _normal(3), "v": _normal(3, seed=1)}
    )
    assert [t.name for t in report.tensors] == ["inputs['u']", "inputs['v']"]
    assert report.passed


# ---------------------------------------------------------------- wrong gradients


def test_wrong_custom_gradient_fails_and_names_the_kernel():
    layer = WrongKernelGradDense(3, name="bad")
    for mode in ("full", "fast"):
        report = check_gradients(layer, _normal(4, 5), mode=mode)
        assert not report.passed
        assert [t.name for t in report.failed] == ["bad/kernel"]
        kernel = report["bad/kernel"]
        assert kernel.non_differentiable == ()
        # In either mode the worst element is located, and there back-prop
        # is twice the finite difference.
        assert kernel.worst_index is not None
        assert kernel.backprop_at_worst == pytest.approx(
            2 * kernel.numeric_at_worst, rel=1e-5
        )
        text = str(report)
        assert "FAILED" in text and "bad/kernel" in text


def test_wrong_gradient_raises_with_the_table():
    with pytest.raises(GradientCheckError, match="bad/kernel") as caught:
        check_gradients(
            WrongKernelGradDense(2, name="bad"), _normal(3, 4), raise_on_failure=True
        )
    assert isinstance(caught.value, AssertionError)
    assert isinstance(caught.value.report, GradientCheckReport)
    assert "max abs err" in str(caught.value)


def test_wrong_gradient_of_a_function_is_found_element_by_element():
    x = np.array([[0.5, -1.0, 2.0]])
    report = check_gradients(_square_wrong_at_last_element, x, mode="full")
    tensor = report["inputs"]
    assert not tensor.passed
    assert tensor.worst_index == (0, 2)
    # back-prop says 3x * c where finite differences find 2x * c
    assert tensor.backprop_at_worst == pytest.approx(
        1.5 * tensor.numeric_at_worst, rel=1e-6
    )


def test_small_errors_pass_within_tolerance_and_fail_below_it():
    layer = WrongKernelGradDense(2, scale=1.0 + 1e-4, name="almost")
    x = _normal(3, 4)
    assert check_gradients(layer, x).passed
    assert not check_gradients(layer, x, rtol=1e-6, atol=1e-9).passed


# ---------------------------------------------------------------- non-differentiable points


def test_relu_at_zero_is_reported_not_failed():
    x = np.array([[0.0, 1.5, -0.5, 0.0]])
    report = check_gradients(keras.ops.relu, x, mode="full")
    assert report.passed, str(report)
    assert report["inputs"].non_differentiable == ((0, 0), (0, 3))
    assert report.num_non_differentiable == 2
    assert "non-differentiable points in inputs" in str(report)


def test_relu_kink_does_not_hide_a_wrong_gradient_elsewhere():
    def relu_then_bad_square(x):
        return _square_wrong_at_last_element(x) + keras.ops.relu(x)

    x = np.array([[0.0, 1.5, 2.0]])
    report = check_gradients(relu_then_bad_square, x, mode="full")
    assert not report.passed
    assert report["inputs"].non_differentiable == ((0, 0),)
    assert report["inputs"].worst_index == (0, 2)


def test_max_pooling_ties_are_reported_not_failed():
    x = np.array([[[1.0], [1.0], [0.2], [0.7]]])  # the first window ties
    report = check_gradients(keras.layers.MaxPooling1D(2), x, mode="full")
    assert report.passed, str(report)
    assert report["inputs"].non_differentiable != ()
    assert set(report["inputs"].non_differentiable) <= {(0, 0, 0), (0, 1, 0)}


def test_fast_mode_reports_kinks_as_directions():
    x = np.array([[0.0, 1.5, -0.5]])
    report = check_gradients(keras.ops.relu, x, mode="fast", num_directions=6)
    assert report.passed, str(report)
    assert all(isinstance(d, int) for d in report["inputs"].non_differentiable)


# ---------------------------------------------------------------- leaves the model as found


def _snapshot(model):
    return [
        (v.path, v.dtype, keras.ops.convert_to_numpy(v).copy()) for v in model.variables
    ]


def test_model_weights_optimizer_and_dtypes_are_restored_bit_for_bit():
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(5, activation="relu"),
            keras.layers.BatchNormalization(),
            keras.layers.Dropout(0.5, seed=3),
            keras.layers.Dense(2),
        ]
    )
    x, y = _normal(8, 4), _normal(8, 2, seed=1)
    # Non-trivial state: moved batch-norm statistics, an advanced dropout
    # seed, and Adam slots after one update.
    model(x, training=True)
    optimizer = keras.optimizers.Adam()
    optimizer.apply(
        [keras.ops.ones(tuple(v.shape)) for v in model.trainable_variables],
        model.trainable_variables,
    )
    weights = _snapshot(model)
    slots = [keras.ops.convert_to_numpy(v).copy() for v in optimizer.variables]
    policies = [layer.dtype_policy.name for layer in model.layers]
    result_type = keras.backend.result_type("float64", "float64")

    for training in (False, True):
        report = check_gradients(
            model,
            x[:4],
            targets=y[:4],
            loss="mse",
            mode="fast",
            num_directions=2,
            training=training,
        )
        assert report.passed, str(report)

    for (path, dtype, before), (path_after, dtype_after, after) in zip(
        weights, _snapshot(model), strict=True
    ):
        assert (path, dtype) == (path_after, dtype_after)
        assert after.dtype == before.dtype
        assert np.array_equal(before, after), path
    for before, variable in zip(slots, optimizer.variables, strict=True):
        assert np.array_equal(before, keras.ops.convert_to_numpy(variable))
    assert [layer.dtype_policy.name for layer in model.layers] == policies
    assert keras.backend.result_type("float64", "float64") == result_type
    assert keras.backend.standardize_dtype(model(x).dtype) == "float32"


def test_unbuilt_layer_is_built():
    layer = keras.layers.Dense(2)
    assert not layer.built
    assert check_gradients(layer, _normal(3, 4), mode="fast").passed
    assert layer.built


def test_same_seed_gives_the_same_report_and_default_seed_is_fixed():
    layer = keras.layers.Dense(2)
    x = _normal(3, 4)
    first = check_gradients(layer, x, mode="full", max_elements=3)
    second = check_gradients(layer, x, mode="full", max_elements=3, seed=0)
    other = check_gradients(layer, x, mode="full", max_elements=3, seed=7)
    assert first.value == second.value
    assert [t.worst_index for t in first.tensors] == [
        t.worst_index for t in second.tensors
    ]
    assert first.value != other.value  # a different cotangent


# ---------------------------------------------------------------- arguments


_BAD_ARGUMENTS = [
    ({"mode": "medium"}, ValueError, "`mode`.*'medium'"),
    ({"eps": 0}, ValueError, "`eps`.*positive.*0"),
    ({"eps": float("nan")}, ValueError, "`eps`"),
    ({"rtol": -1.0}, ValueError, "`rtol`.*non-negative.*-1.0"),
    # A wrong type is a TypeError (keras_dlm._checks, issue 12).
    ({"atol": "1e-5"}, TypeError, "`atol`"),
    ({"max_elements": 0}, ValueError, "`max_elements`.*positive integer"),
    ({"max_elements": 2.5}, TypeError, "`max_elements`"),
    ({"num_directions": 0}, ValueError, "`num_directions`"),
    ({"seed": "zero"}, TypeError, "`seed`"),
    ({"targets": np.zeros((2, 2))}, ValueError, "`targets`.*`loss` is None"),
    ({"loss": "mse"}, ValueError, "`loss`.*`targets` is None"),
    ({"loss": 3, "targets": np.zeros((2, 2))}, TypeError, "`loss`"),
]


def test_bad_arguments_raise_clear_errors():
    layer = keras.layers.Dense(2)
    for kwargs, error, match in _BAD_ARGUMENTS:
        with pytest.raises(error, match=match):
            check_gradients(layer, _normal(2, 3), **kwargs)
    with pytest.raises(TypeError, match=r"`target`.*int"):
        check_gradients(42, _normal(2, 3))
    with pytest.raises(ValueError, match="Nothing to check"):
        check_gradients(lambda i: i * 2, np.array([1, 2], dtype="int32"))


def test_top_level_lazy_export():
    assert keras_dlm.check_gradients is check_gradients


# ---------------------------------------------------------------- the callback


def _small_model(layer=None):
    model = keras.Sequential([keras.Input((4,)), layer or keras.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    return model


def test_callback_checks_at_train_begin_and_every_n_epochs():
    x, y = _normal(8, 4), _normal(8, 2, seed=1)
    model = _small_model()
    callback = GradientCheck((x[:2], y[:2]), every_n_epochs=2)
    model.fit(x, y, epochs=4, batch_size=4, verbose=0, callbacks=[callback])
    assert [epoch for epoch, _ in callback.reports] == [-1, 1, 3]
    assert all(report.passed for _, report in callback.reports)
    assert all(report.mode == "fast" for _, report in callback.reports)


def test_callback_full_mode_checks_weights_and_inputs():
    x, y = _normal(8, 4), _normal(8, 2, seed=1)
    model = _small_model()
    callback = GradientCheck((x[:3], y[:3]), mode="full")
    model.fit(x, y, epochs=1, batch_size=8, verbose=0, callbacks=[callback])
    _, report = callback.reports[0]
    assert report.passed and report.mode == "full"
    assert [t.num_checked for t in report.tensors] == [8, 2, 12]


def test_callback_value_is_the_mse_of_the_untrained_model():
    x, y = _normal(8, 4), _normal(8, 2, seed=1)
    model = _small_model()
    expected = np.mean((keras.ops.convert_to_numpy(model(x[:3])) - y[:3]) ** 2)
    callback = GradientCheck((x[:3], y[:3]))
    model.fit(x, y, epochs=1, batch_size=8, verbose=0, callbacks=[callback])
    assert callback.reports[0][1].value == pytest.approx(expected, rel=1e-5)


def test_callback_stops_training_on_a_wrong_gradient():
    x, y = _normal(8, 4), _normal(8, 2, seed=1)
    model = _small_model(WrongKernelGradDense(2, name="bad"))
    with pytest.raises(GradientCheckError, match="bad/kernel"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[GradientCheck((x[:2], y[:2]))])


def test_callback_without_raising_prints_and_trains_on(capsys):
    x, y = _normal(8, 4), _normal(8, 2, seed=1)
    model = _small_model(WrongKernelGradDense(2, name="bad"))
    callback = GradientCheck((x[:2], y[:2]), raise_on_failure=False)
    history = model.fit(x, y, epochs=2, verbose=0, callbacks=[callback])
    assert len(history.history["loss"]) == 2
    assert not callback.reports[0][1].passed
    assert "bad/kernel" in capsys.readouterr().out


def test_callback_bad_arguments():
    with pytest.raises(ValueError, match=r"`sample`.*length 3"):
        GradientCheck((1, 2, 3))
    with pytest.raises(ValueError, match="`mode`"):
        GradientCheck((1, 2), mode="slow")
    with pytest.raises(ValueError, match="`every_n_epochs`"):
        GradientCheck((1, 2), every_n_epochs=0)
    with pytest.raises(TypeError, match=r"unexpected keyword.*'tolerance'"):
        GradientCheck((1, 2), tolerance=1)


def test_callback_needs_a_compiled_loss():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    callback = GradientCheck((_normal(2, 4), _normal(2, 2)))
    callback.set_model(model)
    with pytest.raises(ValueError, match="compiled model with a loss"):
        callback.on_train_begin()


# ---------------------------------------------------------------- non-finite values (issue 12)


@keras.ops.custom_gradient
def _square_with_nan_gradient_at_last_element(x):
    # x**2 with a back-prop gradient of NaN at the last element only.
    def grad(*args, upstream=None):
        if upstream is None:
            (upstream,) = args
        last = keras.ops.arange(x.shape[-1]) == x.shape[-1] - 1
        return keras.ops.where(last, float("nan"), upstream * 2.0 * x)

    return x * x, grad


@pytest.mark.parametrize("mode", ["full", "fast"])
def test_nan_output_fails_and_names_the_output_element(mode):
    x = np.array([[1.0, -1.0, 2.0]])  # log(-1) is NaN
    report = check_gradients(keras.ops.log, x, mode=mode)
    assert not report.passed
    assert len(report.non_finite) == 1
    assert "nan at (0, 1)" in report.non_finite[0]
    assert "1 of 3 elements" in report.non_finite[0]
    assert "non-finite: " in str(report)
    with pytest.raises(GradientCheckError, match="not finite"):
        check_gradients(keras.ops.log, x, mode=mode, raise_on_failure=True)


@pytest.mark.parametrize("mode", ["full", "fast"])
def test_nan_backprop_gradient_fails_at_its_element(mode):
    # 600 elements: more than a random subset (max_elements in full mode, the
    # 256 elements fast mode localizes with) would be sure to include.
    x = np.linspace(0.5, 1.5, 600).reshape(1, 600)
    report = check_gradients(
        _square_with_nan_gradient_at_last_element, x, mode=mode, max_elements=20
    )
    tensor = report["inputs"]
    assert not report.passed and not tensor.passed
    assert report.non_finite == ()  # the output itself is finite
    assert tensor.worst_index == (0, 599)
    assert np.isnan(tensor.backprop_at_worst)
    # The finite difference there is the true derivative, 2x * cotangent.
    assert np.isfinite(tensor.numeric_at_worst)
    assert any("back-prop gradient is nan at (0, 599)" in p for p in tensor.non_finite)


@pytest.mark.parametrize("mode", ["full", "fast"])
def test_infinite_finite_difference_fails(mode):
    # f(x) = x where x <= 0.5, inf above: finite value and gradient at 0.5,
    # but f(0.5 + eps) is infinite.
    def jump(x):
        return keras.ops.where(x > 0.5, float("inf"), x)

    x = np.array([[0.5, 0.1]])
    report = check_gradients(jump, x, mode=mode, num_directions=2)
    tensor = report["inputs"]
    assert report.non_finite == ()
    assert not report.passed and not tensor.passed
    assert any("finite difference is" in p for p in tensor.non_finite)
    if mode == "full":
        assert tensor.worst_index == (0, 0)
        assert np.isinf(tensor.numeric_at_worst)


def test_callback_fails_on_a_nan_loss_and_names_the_cause():
    x, y = _normal(8, 4), _normal(8, 2, seed=1)
    bad_x = x[:2].copy()
    bad_x[1, 2] = np.nan
    with pytest.raises(GradientCheckError, match="not finite") as caught:
        _small_model().fit(
            x, y, epochs=1, verbose=0, callbacks=[GradientCheck((bad_x, y[:2]))]
        )
    assert "non-finite: the output is nan at (1, " in str(caught.value)


# ---------------------------------------------------------------- bad values (issue 12)

_BAD_VALUES = {
    "nan": float("nan"),
    "inf": float("inf"),
    "negative": -1,
    "zero": 0,
    "wrong type": [1],
    "string bool": "False",
}

# The error each bad value above must raise (None: a valid value), by kind
# of argument.
_POSITIVE_NUMBER = (
    ValueError,
    ValueError,
    ValueError,
    ValueError,
    TypeError,
    TypeError,
)
_TOLERANCE = (ValueError, ValueError, ValueError, None, TypeError, TypeError)
_POSITIVE_INTEGER = (TypeError, TypeError, ValueError, ValueError, TypeError, TypeError)
_SEED = (TypeError, TypeError, ValueError, None, TypeError, TypeError)
_CHOICE = (ValueError,) * 6
_FLAG = (TypeError,) * 6

_ARGUMENT_ERRORS = {
    "eps": _POSITIVE_NUMBER,
    "rtol": _TOLERANCE,
    "atol": _TOLERANCE,
    "max_elements": _POSITIVE_INTEGER,
    "num_directions": _POSITIVE_INTEGER,
    "seed": _SEED,
    "mode": _CHOICE,
    "training": _FLAG,
    "raise_on_failure": _FLAG,
}


def _bad_cases(arguments):
    for argument, errors in arguments.items():
        for (label, value), error in zip(_BAD_VALUES.items(), errors, strict=True):
            if error is not None:
                yield pytest.param(argument, value, error, id=f"{argument}-{label}")


@pytest.mark.parametrize(("argument", "value", "error"), _bad_cases(_ARGUMENT_ERRORS))
def test_check_gradients_refuses_bad_values(argument, value, error):
    with pytest.raises(error, match=f"Argument `{argument}` must be"):
        check_gradients(keras.layers.Dense(2), _normal(2, 3), **{argument: value})


_CALLBACK_ERRORS = {
    **_ARGUMENT_ERRORS,
    "every_n_epochs": _POSITIVE_INTEGER,
}
del _CALLBACK_ERRORS["raise_on_failure"]


@pytest.mark.parametrize(("argument", "value", "error"), _bad_cases(_CALLBACK_ERRORS))
def test_callback_refuses_bad_values_when_created(argument, value, error):
    with pytest.raises(error, match=f"Argument `{argument}` must be"):
        GradientCheck((_normal(2, 4), _normal(2, 2)), **{argument: value})


@pytest.mark.parametrize("value", ["True", 1, None])
def test_callback_raise_on_failure_must_be_a_bool(value):
    with pytest.raises(TypeError, match="Argument `raise_on_failure` must be True or"):
        GradientCheck((_normal(2, 4), _normal(2, 2)), raise_on_failure=value)
    with pytest.raises(TypeError, match="Argument `sample` must be an"):
        GradientCheck(_normal(2, 4))


# ---------------------------------------------------------------- TensorFlow's logs


_ONEDNN_SCRIPT = """
import sys
import numpy as np, keras, tensorflow as tf
from keras_dlm.gradcheck import check_gradients

x = np.random.default_rng(0).normal(size=(4, 5))
layer = keras.layers.Dense(3, activation="relu")
print("==check", file=sys.stderr, flush=True)
assert check_gradients(layer, x, mode="fast", num_directions=2).passed
print("==after", tf.config.optimizer.get_experimental_options().get("remapping", True),
      file=sys.stderr, flush=True)
# The same float64 pattern outside the check: the warning the check avoids.
w = tf.constant(np.ones((5, 3)))
b = tf.constant(np.ones(3))
tf.function(lambda a: tf.nn.relu(tf.nn.bias_add(tf.matmul(a, w), b)))(tf.constant(x))
print("==end", file=sys.stderr, flush=True)
"""


@pytest.mark.tf_only
def test_no_onednn_float64_warnings_and_the_remapper_is_restored():
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        "TF_ENABLE_ONEDNN_OPTS": "1",
        "TF_CPP_MIN_LOG_LEVEL": "0",
        "KERAS_BACKEND": "tensorflow",
    }
    done = subprocess.run(
        [sys.executable, "-c", _ONEDNN_SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    during = done.stderr.split("==check", 1)[1].split("==after", 1)[0]
    after = done.stderr.split("==after", 1)[1]
    assert "Not handling type DT_DOUBLE" not in during
    assert after.split()[0] == "True"  # the remapper is on again
    assert "Not handling type DT_DOUBLE" in after  # the control
