"""Tests for keras_dlm.testing.check_layer, the layer test harness."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from keras_dlm.testing import LayerCheckReport, check_layer

_PACKAGE = "keras_dlm_testing_tests"


@keras.saving.register_keras_serializable(package=_PACKAGE)
class Scale(keras.layers.Layer):
    """A correct custom layer: y = x * w + b with per-feature weights."""

    def __init__(self, factor: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="w")
        self.b = self.add_weight(
            shape=(input_shape[-1],), initializer="zeros", name="b"
        )

    def call(self, x):
        return keras.ops.tanh(x * self.w * self.factor + self.b)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class WrongOutputShape(Scale):
    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] + 1)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class ForgetfulConfig(Scale):
    def get_config(self):
        # Leaves out `factor`: from_config rebuilds a layer with factor 1.
        return keras.layers.Layer.get_config(self)


class Unregistered(Scale):
    pass


@keras.saving.register_keras_serializable(package=_PACKAGE)
class WrongGradient(Scale):
    """Scale whose custom gradient for `w` is off by a factor of 3."""

    def call(self, x):
        @keras.ops.custom_gradient
        def multiply(a, w):
            def grad(*args, upstream=None):
                if upstream is None:
                    (upstream,) = args
                grad_w = keras.ops.sum(
                    upstream * a, axis=tuple(range(len(a.shape) - 1))
                )
                return upstream * w, 3.0 * grad_w

            return a * w, grad

        return keras.ops.tanh(
            multiply(x, keras.ops.copy(self.w)) * self.factor + self.b
        )


@keras.saving.register_keras_serializable(package=_PACKAGE)
class BrokenInTraining(Scale):
    def call(self, x, training=None):
        if training:
            return keras.ops.reshape(x, (-1,))  # the wrong shape
        return super().call(x)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class CallCounter(Scale):
    """Multiplies by how often it was called: eager and symbolic calls differ."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.calls = 0

    def call(self, x):
        self.calls += 1
        return x * float(self.calls)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class Overflows(Scale):
    def call(self, x):
        return x * 1e6  # beyond float16's range (65504)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class UpcastsOutput(Scale):
    def call(self, x):
        # Under mixed_float16 the output should stay in the compute dtype.
        return keras.ops.cast(super().call(x), "float32")


@keras.saving.register_keras_serializable(package=_PACKAGE)
class NoisyScale(Scale):
    """Scale plus Gaussian noise at every call, inference included."""

    def __init__(self, factor: float = 1.0, seed: int | None = None, **kwargs):
        super().__init__(factor, **kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, x):
        noise = keras.random.normal(
            keras.ops.shape(x), seed=self.seed_generator, dtype=x.dtype
        )
        return super().call(x) + noise

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


def _failed(layer_factory, **kwargs) -> LayerCheckReport:
    report = check_layer(layer_factory, raise_on_failure=False, **kwargs)
    assert isinstance(report, LayerCheckReport)
    return report


# ---------------------------------------------------------------- layers that pass


@pytest.mark.parametrize(
    ("factory", "input_shape"),
    [
        (lambda: keras.layers.Dense(3, activation="tanh"), (2, 4)),
        (lambda: keras.layers.Conv1D(2, 3, padding="same"), (2, 5, 3)),
        (lambda: keras.layers.BatchNormalization(), (4, 3)),
        (lambda: keras.layers.Dropout(0.5, seed=1), (4, 3)),
        (lambda: Scale(0.5), (3, 4)),
    ],
    ids=["dense", "conv1d", "batchnorm", "dropout", "custom"],
)
def test_standard_and_custom_layers_pass(factory, input_shape):
    report = check_layer(factory, input_shape)
    assert report.passed, str(report)
    assert [c.name for c in report.checks] == [
        "output_shape",
        "config",
        "symbolic",
        "save",
        "gradients",
        "training",
    ]
    assert report.gradient_report is not None and report.gradient_report.passed


def test_recurrent_layer_passes():
    report = check_layer(
        lambda: keras.layers.SimpleRNN(2, return_sequences=True),
        (2, 3, 2),
        gradient_kwargs={"num_directions": 2},
    )
    assert report.passed, str(report)


def test_integer_inputs_and_list_inputs():
    ids = np.array([[1, 2], [3, 4]], dtype="int32")
    assert check_layer(lambda: keras.layers.Embedding(6, 3), inputs=ids).passed
    report = check_layer(lambda: keras.layers.Add(), [(2, 3), (2, 3)])
    assert report.passed, str(report)
    # Add has no weights; its two float inputs are checked.
    assert [t.name for t in report.gradient_report.tensors] == [
        "inputs[0]",
        "inputs[1]",
    ]


def test_layer_instance_and_mixed_precision():
    layer = Scale(2.0)
    report = check_layer(layer, (2, 3), mixed_precision=True)
    assert report.passed, str(report)
    assert report.checks[-1].name == "mixed_precision"
    assert layer.built  # the given instance is the one checked


# ---------------------------------------------------------------- bugs it catches


def test_wrong_compute_output_shape_fails():
    report = _failed(lambda: WrongOutputShape(), input_shape=(2, 3))
    # The functional model takes its output shape from compute_output_shape.
    assert [c.name for c in report.failed] == ["output_shape", "symbolic"]
    assert "(2, 4)" in report["output_shape"].message
    assert "(2, 3)" in report["output_shape"].message


def test_incomplete_get_config_fails():
    report = _failed(lambda: ForgetfulConfig(3.0), input_shape=(2, 3))
    assert "config" in [c.name for c in report.failed]
    assert "differs" in report["config"].message


def test_unregistered_layer_fails_save_unless_custom_objects_given():
    report = _failed(lambda: Unregistered(), input_shape=(2, 3))
    assert [c.name for c in report.failed] == ["save"]
    passing = check_layer(
        lambda: Unregistered(),
        (2, 3),
        custom_objects={"Unregistered": Unregistered},
    )
    assert passing.passed


def test_wrong_custom_gradient_fails_naming_the_weight():
    report = _failed(lambda: WrongGradient(name="wrong"), input_shape=(3, 4))
    assert [c.name for c in report.failed] == ["gradients"]
    assert [t.name for t in report.gradient_report.failed] == ["wrong/w"]
    assert "wrong/w" in report["gradients"].message
    assert check_layer(lambda: WrongGradient(), (3, 4), skip=("gradients",)).passed


def test_broken_training_call_fails():
    report = _failed(lambda: BrokenInTraining(), input_shape=(2, 3))
    assert [c.name for c in report.failed] == ["training"]
    assert "training=True" in report["training"].message


def test_symbolic_and_eager_disagreement_fails():
    report = _failed(lambda: CallCounter(), input_shape=(2, 3))
    assert "symbolic" in [c.name for c in report.failed]


def test_mixed_precision_overflow_fails():
    report = _failed(lambda: Overflows(), input_shape=(2, 3), mixed_precision=True)
    assert [c.name for c in report.failed] == ["mixed_precision"]
    assert "non-finite" in report["mixed_precision"].message


def test_mixed_precision_output_in_float32_fails():
    report = _failed(lambda: UpcastsOutput(), input_shape=(2, 3), mixed_precision=True)
    assert [c.name for c in report.failed] == ["mixed_precision"]
    assert "float32" in report["mixed_precision"].message
    assert "float16" in report["mixed_precision"].message


def test_layer_random_at_inference_needs_reseed():
    # Every call draws new noise: without reseeding the compared calls differ.
    report = _failed(lambda: NoisyScale(seed=4), input_shape=(3, 4))
    assert {"config", "symbolic"} <= {c.name for c in report.failed}
    report = check_layer(lambda: NoisyScale(seed=4), (3, 4), reseed=True)
    assert report.passed, str(report)
    assert [c.name for c in report.checks] == [
        "output_shape",
        "config",
        "symbolic",
        "save",
        "gradients",
        "training",
    ]


def test_reseed_still_catches_a_random_layer_whose_output_is_wrong():
    # Reseeding makes the draws equal, not the layers: a forgotten factor in
    # the config still shows up.
    @keras.saving.register_keras_serializable(package=_PACKAGE)
    class NoisyForgetful(NoisyScale):
        def get_config(self):
            config = super().get_config()
            del config["factor"]
            return config

    report = _failed(
        lambda: NoisyForgetful(3.0, seed=1), input_shape=(3, 4), reseed=True
    )
    assert "config" in [c.name for c in report.failed]
    assert "differs" in report["config"].message


def test_assertion_error_lists_the_failed_checks():
    with pytest.raises(
        AssertionError, match=r"check_layer\(WrongOutputShape\) failed output_shape"
    ):
        check_layer(lambda: WrongOutputShape(), (2, 3))


# ---------------------------------------------------------------- arguments


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match="exactly one of `input_shape` and `inputs`"):
        check_layer(lambda: Scale())
    with pytest.raises(ValueError, match="exactly one of `input_shape` and `inputs`"):
        check_layer(lambda: Scale(), (2, 3), inputs=np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"`skip`.*'grads'"):
        check_layer(lambda: Scale(), (2, 3), skip=("grads",))
    with pytest.raises(ValueError, match="`gradient_mode`"):
        check_layer(lambda: Scale(), (2, 3), gradient_mode="slow")
    with pytest.raises(ValueError, match="`input_shape`"):
        check_layer(lambda: Scale(), "2x3")
    with pytest.raises(ValueError, match="fully defined"):
        check_layer(lambda: Scale(), (None, 3))
    with pytest.raises(TypeError, match="returned int"):
        check_layer(lambda: 3, (2, 3))
    with pytest.raises(TypeError, match="`layer_or_factory`"):
        check_layer("Dense", (2, 3))


def test_rnn_wrapper_passes_the_config_check():
    # keras.layers.RNN.from_config pops "cell" from the dictionary it is given;
    # the harness must compare against an untouched copy.
    report = check_layer(
        lambda: keras.layers.RNN(keras.layers.LSTMCell(3)),
        (2, 4, 5),
        skip=("gradients",),
    )
    assert report.passed, str(report)


# ---------------------------------------------------------------- non-finite values (issue 12)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class SqrtOfSquare(Scale):
    """|x * w| written as sqrt((x * w)**2): finite output, NaN gradient at 0."""

    def call(self, x):
        return keras.ops.sqrt(keras.ops.square(x * self.w)) + self.b


@keras.saving.register_keras_serializable(package=_PACKAGE)
class LogLayer(Scale):
    def call(self, x):
        return keras.ops.log(x * self.w)


def test_nan_gradient_fails_the_gradient_check_and_names_it():
    # d/du sqrt(u) at u = 0 is infinite, times du/dx = 0: NaN (by hand).
    x = np.array([[0.0, 1.0, -2.0]], dtype="float32")
    for mode in ("fast", "full"):
        report = _failed(lambda: SqrtOfSquare(name="s"), inputs=x, gradient_mode=mode)
        assert [c.name for c in report.failed] == ["gradients"]
        message = report["gradients"].message
        assert "back-prop gradient is nan at (0, 0)" in message
        assert "FAILED" in str(report)


def test_nan_output_is_named_as_the_cause():
    x = np.array([[1.0, -1.0]], dtype="float32")  # log(-1) is NaN
    report = _failed(lambda: LogLayer(), inputs=x)
    assert {"config", "symbolic", "save", "gradients"} <= {
        c.name for c in report.failed
    }
    assert "output 0 is not finite: nan at (0, 1)" in report["config"].message
    assert "the output is nan at (0, 1)" in report["gradients"].message


# ---------------------------------------------------------------- bad values (issue 12)

_BAD_VALUES = {
    "nan": float("nan"),
    "inf": float("inf"),
    "negative": -1,
    "zero": 0,
    "wrong type": [1],
    "string bool": "False",
}

# The error each bad value raises (None: a valid value).
_ARGUMENT_ERRORS = {
    "rtol": (ValueError, ValueError, ValueError, None, TypeError, TypeError),
    "atol": (ValueError, ValueError, ValueError, None, TypeError, TypeError),
    "seed": (TypeError, TypeError, ValueError, None, TypeError, TypeError),
    "gradient_mode": (ValueError,) * 6,
    "mixed_precision": (TypeError,) * 6,
    "reseed": (TypeError,) * 6,
    "raise_on_failure": (TypeError,) * 6,
    "skip": (TypeError,) * 4 + (ValueError, TypeError),
    "gradient_kwargs": (TypeError,) * 6,
    "custom_objects": (TypeError,) * 6,
}


@pytest.mark.parametrize(
    ("argument", "value", "error"),
    [
        pytest.param(argument, value, error, id=f"{argument}-{label}")
        for argument, errors in _ARGUMENT_ERRORS.items()
        for (label, value), error in zip(_BAD_VALUES.items(), errors, strict=True)
        if error is not None
    ],
)
def test_check_layer_refuses_bad_values(argument, value, error):
    with pytest.raises(error, match=f"Argument `{argument}` must be"):
        check_layer(lambda: Scale(), (2, 3), **{argument: value})


@pytest.mark.parametrize(
    ("gradient_kwargs", "error", "argument"),
    [
        ({"eps": float("nan")}, ValueError, "eps"),
        ({"eps": -1.0}, ValueError, "eps"),
        ({"num_directions": 0}, ValueError, "num_directions"),
        ({"training": "False"}, TypeError, "training"),
        ({"seed": 1}, ValueError, "gradient_kwargs"),
        ({"tolerance": 1}, ValueError, "gradient_kwargs"),
    ],
)
def test_check_layer_checks_gradient_kwargs(gradient_kwargs, error, argument):
    with pytest.raises(error, match=f"Argument `{argument}` must be"):
        check_layer(lambda: Scale(), (2, 3), gradient_kwargs=gradient_kwargs)
