"""Train-step time of keras_dlm's layers against the Keras layers they extend.

For each backend (TensorFlow, JAX, PyTorch; each in its own process with
KERAS_BACKEND set) it times `train_on_batch` of small models that differ only
in the layer under test, and reports candidate / reference ratios:

- `keras_dlm.layers.LSTM` with options off, `peephole=True` and
  `layer_norm=True` against `keras.layers.LSTM` (units 64, sequence 50,
  batch 64, 32 features); goals 1.2x off, 1.5x on.
- `GhostBatchNormalization(virtual_batch_size=32)` against
  `BatchNormalization` (Dense 256 -> norm -> Dense 10, batch 512); goal 1.3x.
- `MaxPoolingWithArgmax2D` against `MaxPooling2D` (Conv2D 32 -> pool ->
  Dense 10 on 32x32x16 images, batch 64; the argmax is consumed so that no
  compiler can drop it); goal 2x.

Reference and candidate steps alternate one by one, and each figure is the
median over all pairs of the step time (or of the candidate / reference
ratio of a pair), so that a noisy shared machine affects both sides alike.
Usage:

    python benchmarks/layers.py [--quick] [--backends tensorflow jax torch]
        [--only LSTM]

Writes benchmarks/results/layers.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

_HERE = Path(__file__).resolve().parent
_BACKENDS = ("tensorflow", "jax", "torch")
_GOALS = {
    "LSTM (options off)": 1.2,
    "LSTM (peephole)": 1.5,
    "LSTM (layer_norm)": 1.5,
    "GhostBatchNormalization": 1.3,
    "MaxPoolingWithArgmax2D": 2.0,
}


def _models():
    """(name, reference model, candidate model, x, y) for each comparison."""
    import keras
    import numpy as np

    from keras_dlm import layers

    rng = np.random.default_rng(0)

    def lstm_model(layer):
        inputs = keras.Input((50, 32), batch_size=64)
        return keras.Model(inputs, keras.layers.Dense(1)(layer(inputs)))

    seq_x = rng.normal(size=(64, 50, 32)).astype("float32")
    seq_y = rng.normal(size=(64, 1)).astype("float32")
    yield (
        "LSTM (options off)",
        lstm_model(keras.layers.LSTM(64)),
        lstm_model(layers.LSTM(64)),
        seq_x,
        seq_y,
    )
    reference = lstm_model(keras.layers.LSTM(64))
    for option in ("peephole", "layer_norm"):
        yield (
            f"LSTM ({option})",
            reference,
            lstm_model(layers.LSTM(64, **{option: True})),
            seq_x,
            seq_y,
        )

    def norm_model(layer):
        inputs = keras.Input((256,), batch_size=512)
        hidden = layer(keras.layers.Dense(256)(inputs))
        return keras.Model(inputs, keras.layers.Dense(10)(hidden))

    yield (
        "GhostBatchNormalization",
        norm_model(keras.layers.BatchNormalization()),
        norm_model(layers.GhostBatchNormalization(32)),
        rng.normal(size=(512, 256)).astype("float32"),
        rng.normal(size=(512, 10)).astype("float32"),
    )

    def pool_model(with_argmax):
        inputs = keras.Input((32, 32, 16), batch_size=64)
        features = keras.layers.Conv2D(32, 3, padding="same")(inputs)
        if with_argmax:
            pooled, argmax = layers.MaxPoolingWithArgmax2D(2)(features)
            # Consume the indices (adds 2 cheap element-wise ops).
            pooled = pooled + keras.ops.cast(argmax, pooled.dtype) * 0.0
        else:
            pooled = keras.layers.MaxPooling2D(2)(features)
        flat = keras.layers.Flatten()(pooled)
        return keras.Model(inputs, keras.layers.Dense(10)(flat))

    yield (
        "MaxPoolingWithArgmax2D",
        pool_model(False),
        pool_model(True),
        rng.normal(size=(64, 32, 32, 16)).astype("float32"),
        rng.normal(size=(64, 10)).astype("float32"),
    )


def _worker(repeats: int, steps: int, only: str | None) -> list[dict]:
    import keras

    results = []
    for name, reference, candidate, x, y in _models():
        if only is not None and only not in name:
            continue
        for model in (reference, candidate):
            model.compile(optimizer="adam", loss="mse")
            for _ in range(2):  # trace / compile, then one warm step
                model.train_on_batch(x, y)
        times = {"reference": [], "candidate": []}
        for _ in range(repeats * steps):
            for role, model in (("reference", reference), ("candidate", candidate)):
                start = time.perf_counter()
                model.train_on_batch(x, y)
                times[role].append(time.perf_counter() - start)
        ratios = [
            c / r for c, r in zip(times["candidate"], times["reference"], strict=True)
        ]
        results.append(
            {
                "benchmark": name,
                "backend": keras.backend.backend(),
                "reference_ms": 1e3 * statistics.median(times["reference"]),
                "candidate_ms": 1e3 * statistics.median(times["candidate"]),
                "ratio": statistics.median(ratios),
                "goal": _GOALS[name],
                "repeats": repeats,
                "steps": steps,
            }
        )
        print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    return results


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run")
    parser.add_argument(
        "--backends", nargs="+", default=list(_BACKENDS), choices=_BACKENDS
    )
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument(
        "--only", default=None, help="run the benchmarks whose name contains this"
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    repeats = args.repeats or (3 if args.quick else 7)
    steps = args.steps or (3 if args.quick else 10)

    if args.worker:
        print(json.dumps(_worker(repeats, steps, args.only)))
        return 0

    rows, failed = [], []
    for backend in args.backends:
        env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
        completed = subprocess.run(
            [
                sys.executable,
                __file__,
                "--worker",
                "--repeats",
                str(repeats),
                "--steps",
                str(steps),
                *(["--only", args.only] if args.only else []),
            ],
            env=env,
            capture_output=True,
            text=True,
        )
        if completed.returncode != 0:
            failed.append(backend)
            print(f"{backend}: failed\n{completed.stderr[-3000:]}", file=sys.stderr)
            continue
        rows += json.loads(completed.stdout.strip().splitlines()[-1])

    header = f"{'benchmark':26} {'backend':11} {'keras ms':>9} {'keras_dlm ms':>12} {'ratio':>6} {'goal':>5}  met"
    print(header)
    print("-" * len(header))
    for row in rows:
        met = "yes" if row["ratio"] <= row["goal"] else "NO"
        print(
            f"{row['benchmark']:26} {row['backend']:11} {row['reference_ms']:9.1f} "
            f"{row['candidate_ms']:12.1f} {row['ratio']:6.2f} {row['goal']:5.1f}  {met}"
        )
    results_dir = _HERE / "results"
    results_dir.mkdir(exist_ok=True)
    machine = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "date": time.strftime("%Y-%m-%d"),
    }
    (results_dir / "layers.json").write_text(
        json.dumps({"machine": machine, "quick": args.quick, "rows": rows}, indent=2)
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
