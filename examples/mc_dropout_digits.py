"""Monte Carlo dropout on the digits: uncertainty on test digits vs noise images.

Trains a small CNN with dropout on keras_dlm's embedded 8x8 digits, then
samples 30 predictions per image with `keras_dlm.uncertainty.mc_predict`
(dropout on, batch normalization in inference mode) for 200 test digits and
200 uniform-noise images, prints the mean predictive std and entropy of each
group and saves a histogram of the entropies (needs matplotlib: the "plot"
extra).

    KERAS_BACKEND=jax python examples/mc_dropout_digits.py [--output mc_dropout.png]
"""

from __future__ import annotations

import argparse

import keras
import numpy as np

from keras_dlm.datasets import load_digits
from keras_dlm.layers import MCDropout
from keras_dlm.uncertainty import mc_predict


def build_model() -> keras.Model:
    return keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(8, 3, padding="same"),
            # mc_predict keeps this in inference mode while dropout samples.
            keras.layers.BatchNormalization(),
            keras.layers.Activation("relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            MCDropout(0.3, seed=1),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dropout(0.3),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default="mc_dropout_digits.png")
    parser.add_argument("--epochs", type=int, default=8)
    args = parser.parse_args()

    keras.utils.set_random_seed(0)
    (x_train, y_train), (x_test, y_test) = load_digits()
    model = build_model()
    model.compile(
        optimizer=keras.optimizers.Adam(0.01),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(x_train, y_train, epochs=args.epochs, batch_size=64, verbose=0)

    digits = x_test[:200]
    noise = np.random.default_rng(0).uniform(size=(200, 8, 8, 1)).astype("float32")
    on_digits = mc_predict(model, digits, samples=30, batch_size=100)
    on_noise = mc_predict(model, noise, samples=30, batch_size=100)
    accuracy = float(np.mean(on_digits.mean.argmax(axis=1) == y_test[:200]))

    print(f"MC accuracy on 200 test digits: {accuracy:.3f}")
    print(f"{'':12} {'mean std':>9} {'entropy':>8} {'mutual info':>12}")
    for name, result in (("test digits", on_digits), ("noise", on_noise)):
        print(
            f"{name:12} {result.std.mean():9.3f} {result.entropy.mean():8.3f} "
            f"{result.mutual_information.mean():12.3f}"
        )

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(5, 3))
    bins = np.linspace(0, np.log(10), 30)
    axis.hist(on_digits.entropy, bins=bins, alpha=0.6, label="test digits")
    axis.hist(on_noise.entropy, bins=bins, alpha=0.6, label="uniform noise")
    axis.set_xlabel("predictive entropy (nats), 30 MC dropout samples")
    axis.set_ylabel("images")
    axis.legend()
    figure.tight_layout()
    figure.savefig(args.output, dpi=100)
    print(f"saved {args.output}")


if __name__ == "__main__":
    main()
