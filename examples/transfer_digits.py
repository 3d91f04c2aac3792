"""Transfer learning offline: digits 0-4 -> digits 5-9 with a TF-Hub-format backbone.

No module can be downloaded here, so this script makes its own backbone the
way TF-Hub image modules are made: it pretrains a small CNN with batch
normalization on digits 0-4, exports it as a reusable SavedModel
(``export_hub_module``), loads it back with ``HubBackbone`` and transfers it to
digits 5-9 with 1, 3 and 10 labelled images per class. Three ways are
compared, each over several seeds, on the 5-9 test images:

* frozen: the backbone stays frozen, only the new head trains;
* fine_tune: ``fine_tune`` (head first, then the whole backbone at a tenth of
  the learning rate, batch norms in inference mode);
* scratch: the same architecture trained from random initial weights.

Usage::

    KERAS_BACKEND=tensorflow python examples/transfer_digits.py [--seeds 3]
        [--plot docs/images/transfer-learning-curve.png] [--json results.json]

Needs the extras ``tensorflow`` and ``hub`` (and ``plot`` for ``--plot``).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

import keras
import numpy as np

from keras_dlm.datasets import load_digits
from keras_dlm.transfer import (
    HubBackbone,
    build_transfer_model,
    export_hub_module,
    fine_tune,
)

SHOTS = (1, 3, 10)
METHODS = ("frozen", "fine_tune", "scratch")
HEAD_EPOCHS = 10
FINE_TUNE_EPOCHS = 10
BATCH_SIZE = 8
LEARNING_RATE = 3e-3
# A few labelled images make an epoch of one step; repeating them to this many
# examples per epoch gives every run the same number of optimizer steps.
EPOCH_SIZE = 80


def make_body(seed: int) -> keras.Model:
    """conv(32)-BN-conv(64)-BN-maxpool-dense(128): the backbone architecture."""
    init = keras.initializers.GlorotUniform(seed=seed)
    return keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(32, 3, padding="same", kernel_initializer=init),
            keras.layers.BatchNormalization(),
            keras.layers.ReLU(),
            keras.layers.Conv2D(64, 3, padding="same", kernel_initializer=init),
            keras.layers.BatchNormalization(),
            keras.layers.ReLU(),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dense(128, activation="relu", kernel_initializer=init),
        ],
        name="body",
    )


def pretrain_source_module(path: str, *, epochs: int = 8, seed: int = 0) -> float:
    """Trains the body on digits 0-4, exports it to ``path``; returns test accuracy."""
    (x_train, y_train), (x_test, y_test) = load_digits()
    source_train, source_test = y_train < 5, y_test < 5
    keras.utils.set_random_seed(seed)
    body = make_body(seed)
    classifier = keras.Sequential(
        [body, keras.layers.Dense(5, activation="softmax")], name="source"
    )
    classifier.compile(
        optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    classifier.fit(
        x_train[source_train],
        y_train[source_train],
        epochs=epochs,
        batch_size=32,
        verbose=0,
    )
    _, accuracy = classifier.evaluate(
        x_test[source_test], y_test[source_test], verbose=0
    )
    export_hub_module(body, path)
    return float(accuracy)


def target_split(shots: int, seed: int):
    """``shots`` labelled training images per class of digits 5-9, and the test set."""
    (x_train, y_train), (x_test, y_test) = load_digits()
    rng = np.random.default_rng(seed)
    chosen = np.concatenate(
        [
            rng.choice(np.flatnonzero(y_train == digit), shots, replace=False)
            for digit in range(5, 10)
        ]
    )
    target_test = y_test >= 5
    return (
        (x_train[chosen], y_train[chosen] - 5),
        (x_test[target_test], y_test[target_test] - 5),
    )


def run_method(method: str, module_path: str, shots: int, seed: int) -> float:
    """Trains one model the way ``method`` says; returns its target test accuracy."""
    (x, y), (x_test, y_test) = target_split(shots, seed)
    repeats = -(-EPOCH_SIZE // len(x))
    x, y = np.tile(x, (repeats, 1, 1, 1)), np.tile(y, repeats)
    keras.utils.set_random_seed(seed)
    if method == "scratch":
        backbone = make_body(seed)
    else:
        backbone = HubBackbone(module_path, name="backbone")
    model = build_transfer_model(backbone, 5, input_shape=(8, 8, 1))
    if method == "scratch":
        backbone.trainable = True
        model.compile(
            optimizer=keras.optimizers.Adam(LEARNING_RATE),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        model.fit(
            x,
            y,
            epochs=HEAD_EPOCHS + FINE_TUNE_EPOCHS,
            batch_size=BATCH_SIZE,
            verbose=0,
        )
    else:
        fine_tune(
            model,
            (x, y),
            head_epochs=HEAD_EPOCHS,
            fine_tune_epochs=FINE_TUNE_EPOCHS if method == "fine_tune" else 0,
            optimizer=keras.optimizers.Adam(LEARNING_RATE),
            batch_size=BATCH_SIZE,
            verbose=0,
        )
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    return float(accuracy)


def learning_curve(module_path: str, seeds: int) -> dict[str, dict[int, list[float]]]:
    results: dict[str, dict[int, list[float]]] = {m: {} for m in METHODS}
    for shots in SHOTS:
        for method in METHODS:
            results[method][shots] = [
                run_method(method, module_path, shots, seed) for seed in range(seeds)
            ]
            scores = results[method][shots]
            print(
                f"{shots:>3} per class  {method:<9}  mean {np.mean(scores):.3f}  "
                f"(min {min(scores):.3f}, max {max(scores):.3f})",
                flush=True,
            )
    return results


def plot(results: dict[str, dict[int, list[float]]], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(5.5, 3.6), dpi=110)
    for method, marker in zip(METHODS, "osv", strict=True):
        means = [np.mean(results[method][s]) for s in SHOTS]
        spread = [np.std(results[method][s]) for s in SHOTS]
        axes.errorbar(
            SHOTS,
            means,
            yerr=spread,
            marker=marker,
            capsize=3,
            label=method.replace("_", "-"),
        )
    axes.set_xscale("log")
    axes.set_xticks(SHOTS, [str(s) for s in SHOTS])
    axes.set_xlabel("labelled training images per class (digits 5-9)")
    axes.set_ylabel("test accuracy (digits 5-9)")
    axes.set_ylim(0, 1)
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right")
    axes.set_title("Backbone pretrained on digits 0-4")
    figure.tight_layout()
    figure.savefig(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--plot", help="write the learning curve to this PNG")
    parser.add_argument("--json", help="write the accuracies to this JSON file")
    args = parser.parse_args()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        source_accuracy = pretrain_source_module(folder + "/module")
        print(f"backbone pretrained on digits 0-4: test accuracy {source_accuracy:.3f}")
        results = learning_curve(folder + "/module", args.seeds)
    print(f"total {time.perf_counter() - start:.0f} s")
    if args.plot:
        plot(results, args.plot)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(
                {"source_accuracy": source_accuracy, "results": results},
                handle,
                indent=1,
            )


if __name__ == "__main__":
    main()
