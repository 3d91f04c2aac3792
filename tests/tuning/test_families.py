from __future__ import annotations

import keras
import numpy as np
import pytest

from keras_dlm.tuning import MODEL_FAMILIES, make_sequence_task, model_family


@pytest.mark.parametrize("name", ["cnn", "mlp", "lstm"])
@pytest.mark.parametrize("input_shape", [(8, 8, 1), (12, 4)])
def test_families_build_uncompiled_classifiers(name, input_shape):
    model = model_family(name, input_shape=input_shape, num_classes=5)(0.3)
    assert isinstance(model, keras.Model)
    assert not model.compiled  # TunableModel compiles it
    assert model.output_shape == (None, 5)
    rates = [
        layer.rate for layer in model.layers if isinstance(layer, keras.layers.Dropout)
    ]
    assert rates and all(rate == 0.3 for rate in rates)
    # A direct call runs eagerly: no compilation of a predict function.
    probabilities = keras.ops.convert_to_numpy(
        model(np.zeros((2, *input_shape), "float32"), training=False)
    )
    np.testing.assert_allclose(probabilities.sum(axis=-1), 1.0, rtol=1e-5)


def test_cnn_has_batch_norm_and_max_pooling():
    model = model_family("cnn", input_shape=(8, 8, 1), num_classes=10)(0.1)
    kinds = {type(layer).__name__ for layer in model.layers}
    assert {"Conv2D", "BatchNormalization", "MaxPooling2D", "Dropout"} <= kinds


@pytest.mark.parametrize(
    ("name", "kwargs", "match"),
    [
        ("resnet", {"input_shape": (8, 8), "num_classes": 3}, "name"),
        ("cnn", {"input_shape": (64,), "num_classes": 3}, "cnn"),
        ("lstm", {"input_shape": (64,), "num_classes": 3}, "lstm"),
        ("mlp", {"input_shape": (8, 0), "num_classes": 3}, "input_shape"),
        ("mlp", {"input_shape": (8,), "num_classes": 1}, "num_classes"),
        ("transfer", {"input_shape": (8, 8, 1), "num_classes": 3}, "backbone"),
        ("cnn", {"input_shape": (8, 8), "num_classes": 3, "backbone": "m"}, "backbone"),
    ],
)
def test_family_errors(name, kwargs, match):
    with pytest.raises(ValueError, match=match):
        model_family(name, **kwargs)


def test_families_listed():
    assert set(MODEL_FAMILIES) == {"cnn", "mlp", "lstm", "transfer"}


@pytest.mark.skipif(
    keras.backend.backend() == "tensorflow", reason="checks the non-TensorFlow refusal"
)
def test_transfer_family_needs_tensorflow():
    with pytest.raises(RuntimeError, match="'tensorflow' Keras backend"):
        model_family("transfer", input_shape=(8, 8, 1), num_classes=3, backbone="m")


@pytest.mark.tf_only
def test_transfer_family_freezes_a_hub_backbone(tmp_path):
    from keras_dlm.transfer import HubBackbone, export_hub_module

    body = keras.Sequential(
        [keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(6)]
    )
    handle = export_hub_module(body, str(tmp_path / "module"))
    model = model_family(
        "transfer", input_shape=(8, 8, 1), num_classes=4, backbone=handle
    )(0.2)
    (backbone,) = [layer for layer in model.layers if isinstance(layer, HubBackbone)]
    assert not backbone.trainable and model.output_shape == (None, 4)
    # Only the head trains: the Dense(4) kernel and bias.
    assert [tuple(w.shape) for w in model.trainable_weights] == [(6, 4), (4,)]
    # The backbone computes what the exported body computed.
    x = np.random.default_rng(0).uniform(size=(3, 8, 8, 1)).astype("float32")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(backbone(x)),
        body.predict(x, verbose=0),
        rtol=1e-5,
        atol=1e-6,
    )


def test_sequence_task_labels_are_the_first_symbol():
    x, y = make_sequence_task(600, steps=9, num_symbols=3, seed=1)
    assert x.shape == (600, 9, 3) and x.dtype == np.float32 and y.dtype == np.int32
    np.testing.assert_array_equal(x.sum(axis=-1), 1.0)  # one-hot at every step
    np.testing.assert_array_equal(np.argmax(x[:, 0], axis=-1), y)
    # The later steps carry no information about the label.
    counts = np.bincount(y, minlength=3) / len(y)
    np.testing.assert_allclose(counts, 1 / 3, atol=0.06)
    again, _ = make_sequence_task(600, steps=9, num_symbols=3, seed=1)
    np.testing.assert_array_equal(x, again)
    with pytest.raises(ValueError, match="num_symbols"):
        make_sequence_task(10, num_symbols=1)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (
            lambda: model_family("mlp", input_shape=5, num_classes=3),
            TypeError,
            r"Argument `input_shape` must be a non-empty tuple .* Received: input_shape=5",
        ),
        (
            lambda: model_family("mlp", input_shape=(8,), num_classes=2.0),
            TypeError,
            "Argument `num_classes` must be an integer >= 2",
        ),
        (
            lambda: model_family("mlp", input_shape=(True,), num_classes=3),
            ValueError,
            "input_shape",
        ),
        (
            lambda: model_family(None, input_shape=(8,), num_classes=3),
            ValueError,
            "Argument `name` must be one of",
        ),
        (lambda: make_sequence_task(float("nan")), TypeError, "num_samples"),
        (lambda: make_sequence_task(0), ValueError, "num_samples"),
        (lambda: make_sequence_task(5, steps="3"), TypeError, "steps"),
        (lambda: make_sequence_task(5, seed=-1), ValueError, "seed"),
    ],
)
def test_bad_values_name_the_argument(call, error, match):
    with pytest.raises(error, match=match):
        call()
