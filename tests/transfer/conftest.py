"""Backbones for the transfer tests, made offline the way TF-Hub modules are made.

Every fixture here imports TensorFlow only when a (tf_only) test asks for it.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from keras_dlm.datasets import load_digits


def _make_body(
    seed: int = 0,
    *,
    l2: float = 0.0,
    filters: tuple[int, int] = (8, 16),
    units: int = 32,
) -> keras.Model:
    """A conv-BN-conv-BN-maxpool-dense digits backbone (tiny by default)."""
    init = keras.initializers.GlorotUniform(seed=seed)
    regularizer = keras.regularizers.L2(l2) if l2 else None
    return keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(
                filters[0],
                3,
                padding="same",
                kernel_initializer=init,
                kernel_regularizer=regularizer,
            ),
            keras.layers.BatchNormalization(),
            keras.layers.ReLU(),
            keras.layers.Conv2D(filters[1], 3, padding="same", kernel_initializer=init),
            keras.layers.BatchNormalization(),
            keras.layers.ReLU(),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dense(units, activation="relu", kernel_initializer=init),
        ],
        name="body",
    )


@pytest.fixture(scope="session")
def make_body():
    """The function that builds the tiny backbone: make_body(seed, l2=0.0)."""
    return _make_body


@pytest.fixture(scope="session")
def digits():
    return load_digits()


@pytest.fixture(scope="session")
def tiny_module(tmp_path_factory):
    """An exported body whose batch-norm statistics are not at their initial values.

    Returns (path, body, sample images).
    """
    from keras_dlm.transfer import export_hub_module

    keras.utils.set_random_seed(7)
    body = _make_body(7, l2=1e-2)
    x = np.random.default_rng(7).random((32, 8, 8, 1)).astype("float32")
    # Moving statistics away from (0, 1), so "unchanged" is a real check.
    for _ in range(5):
        body(x, training=True)
    path = export_hub_module(body, tmp_path_factory.mktemp("hub") / "tiny")
    return path, body, x


@pytest.fixture(scope="session")
def digits_module(tmp_path_factory, digits):
    """The example's body pretrained on digits 0-4, as a reusable SavedModel.

    Same architecture and training as examples/transfer_digits.py: a tinier
    backbone pretrained for less did not transfer better than training from
    scratch.
    """
    from keras_dlm.transfer import export_hub_module

    (x_train, y_train), _ = digits
    source = y_train < 5
    keras.utils.set_random_seed(0)
    body = _make_body(0, filters=(32, 64), units=128)
    classifier = keras.Sequential([body, keras.layers.Dense(5, activation="softmax")])
    classifier.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    classifier.fit(x_train[source], y_train[source], epochs=8, batch_size=32, verbose=0)
    return export_hub_module(body, tmp_path_factory.mktemp("hub") / "digits")
