"""Learning-rate decay on the digits CNN: none vs StepDecay vs CliffDecay.

Trains the same small CNN (same initial weights) on the embedded 8x8 digits
with SGD + momentum three times: at a constant learning rate, with
keras_dlm.callbacks.StepDecay and with keras_dlm.callbacks.CliffDecay. Prints
the final test accuracies and plots the training-loss curves and the learning
rates (recorded by History from the callbacks' `learning_rate` log) into one
PNG.

    KERAS_BACKEND=tensorflow python examples/lr_decay_digits.py [--out lr_decay.png]
"""

from __future__ import annotations

import argparse

import keras

from keras_dlm.callbacks import CliffDecay, StepDecay
from keras_dlm.datasets import load_digits

EPOCHS = 20
LEARNING_RATE = 0.05


def build_model():
    return keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="lr_decay.png", help="output PNG")
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    args = parser.parse_args()

    keras.utils.set_random_seed(0)
    (x_train, y_train), (x_test, y_test) = load_digits()
    initial_weights = build_model().get_weights()
    runs = {
        "no decay": None,
        "StepDecay(drop_every=5, factor=0.5)": StepDecay(LEARNING_RATE, 5, 0.5),
        "CliffDecay(cliffs=[8, 14], cliff_factor=0.1)": CliffDecay(
            LEARNING_RATE, cliffs=[8, 14], cliff_factor=0.1, decay_rate=0.9
        ),
    }
    histories, accuracies = {}, {}
    for name, callback in runs.items():
        keras.utils.set_random_seed(1)
        model = build_model()
        model.set_weights(initial_weights)
        model.compile(
            optimizer=keras.optimizers.SGD(LEARNING_RATE, momentum=0.9),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        history = model.fit(
            x_train,
            y_train,
            batch_size=32,
            epochs=args.epochs,
            verbose=0,
            callbacks=[callback] if callback else [],
        )
        histories[name] = history.history
        accuracies[name] = model.evaluate(x_test, y_test, verbose=0)[1]
        print(
            f"{name:<46} final train loss {history.history['loss'][-1]:.4f}  "
            f"test accuracy {accuracies[name]:.4f}"
        )

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (loss_ax, lr_ax) = plt.subplots(1, 2, figsize=(10, 3.8))
    for name, history in histories.items():
        epochs = range(1, len(history["loss"]) + 1)
        loss_ax.plot(epochs, history["loss"], label=f"{name}: {accuracies[name]:.3f}")
        rates = history.get("learning_rate", [LEARNING_RATE] * len(history["loss"]))
        lr_ax.plot(epochs, rates, drawstyle="steps-mid", label=name)
    loss_ax.set_yscale("log")
    loss_ax.set_xlabel("epoch")
    loss_ax.set_ylabel("training loss")
    loss_ax.legend(title="test accuracy", fontsize=8)
    lr_ax.set_yscale("log")
    lr_ax.set_xlabel("epoch")
    lr_ax.set_ylabel("learning rate")
    lr_ax.legend(fontsize=8)
    figure.suptitle(f"digits CNN, SGD momentum 0.9 — backend {keras.backend.backend()}")
    figure.tight_layout()
    figure.savefig(args.out, dpi=80)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
