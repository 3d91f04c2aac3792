"""Plain SGD vs one-cycle vs SWA vs Lookahead, on the digits CNN and an LSTM.

Trains, for each of 3 seeds and the same number of epochs, with SGD +
momentum 0.9 at a constant rate, with keras_dlm.callbacks.OneCycle (momentum
cycled 0.95 -> 0.85 -> 0.95), with keras_dlm.callbacks.StochasticWeightAveraging
over the last quarter of the epochs, and with keras_dlm.optimizers.Lookahead
around the same SGD. Two tasks: the package's digits CNN
(keras_dlm.cli.lr_find.build_digits_cnn) and a small LSTM (keras_dlm.layers.
LSTM, 32 units) reading each 8x8 digit as a sequence of 8 rows. Prints the
test accuracy of every run and a table of means and standard deviations.

With ``--plots DIR`` it also draws the rate (and momentum) of the one-cycle,
cyclical and SWA runs over training into DIR.

    KERAS_BACKEND=tensorflow python examples/sgd_comparison.py [--epochs 20]
"""

from __future__ import annotations

import argparse
import time

import keras
import numpy as np

from keras_dlm.callbacks import Cyclical, OneCycle, StochasticWeightAveraging
from keras_dlm.cli.lr_find import build_digits_cnn
from keras_dlm.datasets import load_digits
from keras_dlm.layers import LSTM
from keras_dlm.optimizers import Lookahead

LEARNING_RATE = 0.05
MOMENTUM = 0.9
BATCH_SIZE = 32
METHODS = ("SGD", "SGD + one-cycle", "SGD + SWA", "Lookahead(SGD)")


def build_lstm() -> keras.Model:
    return keras.Sequential(
        [
            keras.Input((8, 8)),
            LSTM(32),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )


def build_cnn() -> keras.Model:
    # The CLI's digits CNN, recompiled below with each method's optimizer.
    return build_digits_cnn("sgd", MOMENTUM)


def _setup(method: str, epochs: int) -> tuple[keras.optimizers.Optimizer, list]:
    sgd = keras.optimizers.SGD(LEARNING_RATE, momentum=MOMENTUM)
    if method == "SGD":
        return sgd, []
    if method == "SGD + one-cycle":
        return sgd, [OneCycle(LEARNING_RATE, cycle_momentum=True)]
    if method == "SGD + SWA":
        start = epochs - max(1, epochs // 4)
        swa = StochasticWeightAveraging(
            start, swa_learning_rate=LEARNING_RATE / 5, anneal_epochs=2
        )
        return sgd, [swa]
    return Lookahead(sgd, sync_period=6, slow_step_size=0.5), []


def run(task: str, method: str, seed: int, epochs: int, data: tuple) -> float:
    (x_train, y_train), (x_test, y_test) = data
    if task == "LSTM (digit rows)":
        x_train, x_test = x_train.reshape(-1, 8, 8), x_test.reshape(-1, 8, 8)
    keras.utils.set_random_seed(seed)
    model = build_lstm() if task.startswith("LSTM") else build_cnn()
    optimizer, callbacks = _setup(method, epochs)
    model.compile(
        optimizer=optimizer,
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(
        x_train,
        y_train,
        batch_size=BATCH_SIZE,
        epochs=epochs,
        verbose=0,
        callbacks=callbacks,
    )
    return float(model.evaluate(x_test, y_test, verbose=0)[1])


def plot_rates(directory: str, epochs: int, steps_per_epoch: int) -> None:
    """The rate and momentum of the one-cycle, cyclical and SWA callbacks."""
    from matplotlib.figure import Figure

    steps = np.arange(epochs * steps_per_epoch)
    one_cycle = OneCycle(LEARNING_RATE, cycle_momentum=True)
    one_cycle.schedule = one_cycle._schedule_for(epochs, steps_per_epoch)
    cyclical = Cyclical(
        LEARNING_RATE / 10, LEARNING_RATE, 2 * steps_per_epoch, cycle_momentum=True
    )
    cyclical.schedule = cyclical._schedule_for(epochs, steps_per_epoch)
    figure = Figure(figsize=(10, 6))
    axes = figure.subplots(2, 2, sharex=True)
    for column, (name, callback) in enumerate(
        [("OneCycle", one_cycle), ("Cyclical (triangular)", cyclical)]
    ):
        rates = [callback.rate_at(t) for t in steps]
        momenta = [callback.momentum_at(t) for t in steps]
        axes[0, column].plot(steps / steps_per_epoch, rates)
        axes[0, column].set_title(name)
        axes[1, column].plot(steps / steps_per_epoch, momenta, color="C1")
        axes[1, column].set_xlabel("epoch")
    axes[0, 0].set_ylabel("learning rate")
    axes[1, 0].set_ylabel("momentum (SGD) / beta_1 (Adam)")
    for ax in axes.flat:
        ax.grid(True, alpha=0.3)
    figure.savefig(f"{directory}/cyclical_rates.png", dpi=100, bbox_inches="tight")

    swa = StochasticWeightAveraging(
        epochs - max(1, epochs // 4),
        swa_learning_rate=LEARNING_RATE / 5,
        anneal_epochs=2,
    )
    swa._start_rate = LEARNING_RATE
    rates = [swa.rate_at(e) or LEARNING_RATE for e in range(epochs)]
    figure = Figure(figsize=(6, 3.5))
    ax = figure.subplots()
    ax.step(range(epochs), rates, where="post", label="learning rate")
    ax.axvspan(swa.start_epoch, epochs, color="C2", alpha=0.15, label="averaged epochs")
    ax.set_xlabel("epoch")
    ax.set_ylabel("learning rate")
    ax.grid(True, alpha=0.3)
    ax.legend()
    figure.savefig(f"{directory}/swa_rate.png", dpi=100, bbox_inches="tight")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--plots", metavar="DIR", default=None)
    args = parser.parse_args()
    data = load_digits()
    if args.plots:
        steps_per_epoch = -(-len(data[0][0]) // BATCH_SIZE)
        plot_rates(args.plots, args.epochs, steps_per_epoch)
    results: dict[tuple[str, str], list[float]] = {}
    for task in ("digits CNN", "LSTM (digit rows)"):
        for method in METHODS:
            for seed in range(args.seeds):
                started = time.perf_counter()
                accuracy = run(task, method, seed, args.epochs, data)
                results.setdefault((task, method), []).append(accuracy)
                print(
                    f"{task:<18} {method:<16} seed {seed}: test accuracy "
                    f"{accuracy:.4f} ({time.perf_counter() - started:.0f} s)",
                    flush=True,
                )
    print(
        f"\ntest accuracy after {args.epochs} epochs, mean ± std over "
        f"{args.seeds} seeds (backend {keras.backend.backend()})"
    )
    print(f"| {'method':<16} | {'digits CNN':<15} | {'LSTM (digit rows)':<17} |")
    print(f"|{'-' * 18}|{'-' * 17}|{'-' * 19}|")
    for method in METHODS:
        cells = []
        for task in ("digits CNN", "LSTM (digit rows)"):
            values = np.array(results[(task, method)])
            cells.append(f"{values.mean():.4f} ± {values.std():.4f}")
        print(f"| {method:<16} | {cells[0]:<15} | {cells[1]:<17} |")


if __name__ == "__main__":
    main()
