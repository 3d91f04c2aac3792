"""A tiny SegNet-style encoder-decoder on the digits, with argmax unpooling.

The encoder max-pools with `MaxPoolingWithArgmax2D` and keeps the indices;
the decoder puts values back with `MaxUnpooling2D` (SegNet's trick: no
learned upsampling, and edges land where they were). The task is a toy
segmentation: predict, per pixel, whether the digit's ink is above 0.5. It
prints the pixel accuracy and IoU on the test digits, against an identical
model that upsamples with `UpSampling2D` instead.

    KERAS_BACKEND=torch python examples/segnet_unpooling.py
"""

from __future__ import annotations

import argparse

import keras
import numpy as np

from keras_dlm.datasets import load_digits
from keras_dlm.layers import MaxPoolingWithArgmax2D, MaxUnpooling2D


def build(unpool: bool) -> keras.Model:
    inputs = keras.Input((8, 8, 1))
    encoded = keras.layers.Conv2D(16, 3, padding="same", activation="relu")(inputs)
    if unpool:
        pooled, argmax = MaxPoolingWithArgmax2D(2)(encoded)
    else:
        pooled = keras.layers.MaxPooling2D(2)(encoded)
    bottleneck = keras.layers.Conv2D(16, 3, padding="same", activation="relu")(pooled)
    if unpool:
        # The reference input gives the unpooled size (8x8).
        upsampled = MaxUnpooling2D(2)((bottleneck, argmax, encoded))
    else:
        upsampled = keras.layers.UpSampling2D(2)(bottleneck)
    decoded = keras.layers.Conv2D(16, 3, padding="same", activation="relu")(upsampled)
    outputs = keras.layers.Conv2D(1, 1, activation="sigmoid")(decoded)
    return keras.Model(inputs, outputs, name="segnet" if unpool else "upsampling")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8)
    args = parser.parse_args()

    keras.utils.set_random_seed(0)
    (x_train, _), (x_test, _) = load_digits()
    y_train = (x_train > 0.5).astype("float32")
    y_test = (x_test > 0.5).astype("float32")
    # Noisy inputs, so that the model has to segment rather than copy.
    rng = np.random.default_rng(0)
    noisy_train = np.clip(x_train + rng.normal(0, 0.3, x_train.shape), 0, 1).astype(
        "float32"
    )
    noisy_test = np.clip(x_test + rng.normal(0, 0.3, x_test.shape), 0, 1).astype(
        "float32"
    )

    for unpool in (True, False):
        model = build(unpool)
        model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="binary_crossentropy")
        model.fit(noisy_train, y_train, epochs=args.epochs, batch_size=64, verbose=0)
        predicted = model.predict(noisy_test, verbose=0) > 0.5
        truth = y_test > 0.5
        accuracy = float(np.mean(predicted == truth))
        iou = float(np.sum(predicted & truth) / np.sum(predicted | truth))
        print(f"{model.name:11} pixel accuracy {accuracy:.3f}  IoU {iou:.3f}")


if __name__ == "__main__":
    main()
