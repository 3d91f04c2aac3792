"""Train-step time: HubBackbone(trainable=True) vs native Keras 3 vs tf_keras + hub.

The same CNN backbone (conv-BN-conv-BN-pool-dense, 32x32x3 inputs) is timed
three ways, each training backbone and head with SGD:

* native: the Keras 3 model itself (the reference, ratio 1.0);
* hub_backbone: the model exported with ``export_hub_module`` and loaded with
  ``keras_dlm.transfer.HubBackbone(trainable=True)`` in a Keras 3 model;
* legacy_keras_layer: the same module in ``tensorflow_hub.KerasLayer`` inside a
  tf_keras model, run in a separate process with ``TF_USE_LEGACY_KERAS=1``.

Each figure is the median over repeats of the mean step time of one epoch
(after a warm-up epoch). Usage: ``python benchmarks/transfer.py [--quick]``;
writes ``benchmarks/results/transfer.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
_RESULTS = Path(__file__).resolve().parent / "results" / "transfer.json"
_SHAPE = (32, 32, 3)
_BATCH = 64


def _data(steps: int):
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.random((steps * _BATCH, *_SHAPE)).astype("float32")
    return x, rng.integers(0, 10, len(x))


def _median_step_time(fit_epoch, repeats: int, steps: int) -> float:
    import statistics

    fit_epoch()  # warm-up: traces the train function
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fit_epoch()
        times.append((time.perf_counter() - start) / steps)
    return statistics.median(times)


def _legacy(module: str, repeats: int, steps: int) -> None:
    """Runs in the child process (TF_USE_LEGACY_KERAS=1): prints seconds a step."""
    import tensorflow as tf
    import tensorflow_hub as hub

    x, y = _data(steps)
    model = tf.keras.Sequential(
        [
            tf.keras.Input(_SHAPE),
            hub.KerasLayer(module, trainable=True),
            tf.keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=tf.keras.optimizers.SGD(0.01), loss="sparse_categorical_crossentropy"
    )
    step = _median_step_time(
        lambda: model.fit(x, y, batch_size=_BATCH, epochs=1, verbose=0), repeats, steps
    )
    print(json.dumps({"step_s": step}))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--legacy-child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    repeats, steps = (3, 10) if args.quick else (7, 30)
    if args.legacy_child:
        _legacy(args.legacy_child, repeats, steps)
        return 0

    import keras

    from keras_dlm.transfer import HubBackbone, export_hub_module

    keras.utils.set_random_seed(0)
    body = keras.Sequential(
        [
            keras.Input(_SHAPE),
            keras.layers.Conv2D(32, 3, padding="same"),
            keras.layers.BatchNormalization(),
            keras.layers.ReLU(),
            keras.layers.Conv2D(64, 3, padding="same"),
            keras.layers.BatchNormalization(),
            keras.layers.ReLU(),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dense(128, activation="relu"),
        ],
        name="body",
    )
    x, y = _data(steps)
    results: dict[str, dict[str, float | str]] = {}
    with tempfile.TemporaryDirectory() as folder:
        module = export_hub_module(body, Path(folder) / "module")
        for name in ("native", "hub_backbone"):
            backbone = body if name == "native" else HubBackbone(module, trainable=True)
            model = keras.Sequential(
                [
                    keras.Input(_SHAPE),
                    backbone,
                    keras.layers.Dense(10, activation="softmax"),
                ]
            )
            model.compile(
                optimizer=keras.optimizers.SGD(0.01),
                loss="sparse_categorical_crossentropy",
            )
            step = _median_step_time(
                lambda model=model: model.fit(
                    x, y, batch_size=_BATCH, epochs=1, verbose=0
                ),
                repeats,
                steps,
            )
            results[name] = {"step_ms": 1000 * step}
        child = subprocess.run(
            [sys.executable, __file__, "--legacy-child", module]
            + (["--quick"] if args.quick else []),
            capture_output=True,
            text=True,
            env={**os.environ, "TF_USE_LEGACY_KERAS": "1"},
        )
        if child.returncode == 0:
            step = json.loads(child.stdout.strip().splitlines()[-1])["step_s"]
            results["legacy_keras_layer"] = {"step_ms": 1000 * step}
        else:
            reason = (child.stderr.strip().splitlines() or ["unknown error"])[-1]
            results["legacy_keras_layer"] = {"error": reason}
    reference = results["native"]["step_ms"]
    print(f"train step, batch {_BATCH}, {repeats} repeats x {steps} steps (median)")
    print(f"{'variant':<20} {'ms/step':>9} {'vs native':>10}")
    for name, row in results.items():
        if "step_ms" in row:
            row["ratio_to_native"] = row["step_ms"] / reference
            print(f"{name:<20} {row['step_ms']:>9.2f} {row['ratio_to_native']:>9.2f}x")
        else:
            print(f"{name:<20} failed: {row['error']}")
    _RESULTS.parent.mkdir(exist_ok=True)
    _RESULTS.write_text(
        json.dumps(
            {"batch": _BATCH, "repeats": repeats, "steps": steps, "results": results},
            indent=1,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
