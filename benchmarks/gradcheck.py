"""Gradient-check time: keras_dlm.check_gradients vs torch.autograd.gradcheck.

The same function, a dense layer with tanh, ``tanh(x @ W + b)`` with 10 units
and a batch of 8, is checked at about 1k, 10k and 100k parameters (input
width 99, 999 and 9999), with respect to W, b and x, in float64:

* ``check_gradients(mode="full")`` against ``torch.autograd.gradcheck``;
* ``check_gradients(mode="fast")`` (8 random directions per tensor) against
  ``torch.autograd.gradcheck(fast_mode=True)``.

Full mode costs two forward passes per checked element. At 100k parameters
keras_dlm's full mode is run with ``max_elements`` (a random subset per
tensor, as a user would) and its time is also scaled up linearly to every
element; torch's full gradcheck is measured when ``--torch-full-100k`` is
given, and otherwise left out (it checks every element and takes minutes).

Times are medians over repeats; each ratio is keras_dlm time / torch time,
measured in the same process, single-threaded (see ``_SINGLE_THREAD``).
Each Keras backend runs in its own process
(``--backends``, default all installed; torch is the fair comparison, since
both sides then compute with PyTorch). Usage:
``python benchmarks/gradcheck.py [--quick] [--backends torch,jax,tensorflow]``;
writes ``benchmarks/results/gradcheck.json``.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

# One thread everywhere: on a shared 2-core machine multi-threaded BLAS
# spins and a small matmul can take 500x longer (measured here: 32 ms
# against 65 us); single-threaded times are stable and comparable.
_SINGLE_THREAD = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "TF_NUM_INTRAOP_THREADS": "1",
    "TF_NUM_INTEROP_THREADS": "1",
    "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
}
_RESULTS = Path(__file__).resolve().parent / "results" / "gradcheck.json"
_UNITS = 10
_BATCH = 8
_WIDTHS = {"1k": 99, "10k": 999, "100k": 9999}
# keras_dlm full mode at 100k parameters checks this many elements per tensor.
_MAX_ELEMENTS_100K = 2000


def _median_time(fn, repeats: int) -> float:
    fn()  # warm-up: compiles (JAX), fills caches
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _measure(size: str, repeats: int, torch_full_100k: bool) -> dict:
    """Times both checkers on one size of the dense+tanh function."""
    import keras
    import numpy as np

    from keras_dlm.gradcheck import check_gradients

    width = _WIDTHS[size]
    rng = np.random.default_rng(0)
    x = rng.normal(size=(_BATCH, width))
    kernel = rng.normal(size=(width, _UNITS)) / np.sqrt(width)
    bias = rng.normal(size=(_UNITS,))
    layer = keras.layers.Dense(_UNITS, activation="tanh", dtype="float64")
    layer.build((None, width))
    layer.set_weights([kernel, bias])
    num_params = width * _UNITS + _UNITS
    num_elements = num_params + x.size
    row = {"size": size, "parameters": num_params, "checked_elements": num_elements}

    # Full mode is timed once at the larger sizes (it is O(elements) and
    # long); a one-element check first compiles (JAX) and warms caches.
    max_elements = _MAX_ELEMENTS_100K if size == "100k" else None
    full_repeats = 1 if size != "1k" else repeats
    check_gradients(layer, x, mode="full", max_elements=1)
    times, report = [], None
    for _ in range(full_repeats):
        start = time.perf_counter()
        report = check_gradients(layer, x, mode="full", max_elements=max_elements)
        times.append(time.perf_counter() - start)
    assert report.passed, str(report)
    checked = sum(t.num_checked for t in report.tensors)
    row["keras_dlm_full_s"] = statistics.median(times)
    row["keras_dlm_full_checked"] = checked
    row["keras_dlm_full_all_elements_s"] = (
        row["keras_dlm_full_s"] * num_elements / checked
    )
    row["keras_dlm_fast_s"] = _median_time(
        lambda: check_gradients(layer, x, mode="fast"), repeats
    )

    if importlib.util.find_spec("torch") is None:
        return row
    import torch

    inputs = (
        torch.tensor(x, requires_grad=True),
        torch.tensor(kernel, requires_grad=True),
        torch.tensor(bias, requires_grad=True),
    )

    def dense_tanh(a, w, b):
        return torch.tanh(a @ w + b)

    if size != "100k" or torch_full_100k:
        torch.autograd.gradcheck(dense_tanh, inputs)  # warm-up
        times = []
        for _ in range(full_repeats):
            start = time.perf_counter()
            torch.autograd.gradcheck(dense_tanh, inputs)
            times.append(time.perf_counter() - start)
        row["torch_full_s"] = statistics.median(times)
        row["full_ratio"] = row["keras_dlm_full_all_elements_s"] / row["torch_full_s"]
    row["torch_fast_s"] = _median_time(
        lambda: torch.autograd.gradcheck(dense_tanh, inputs, fast_mode=True), repeats
    )
    row["fast_ratio"] = row["keras_dlm_fast_s"] / row["torch_fast_s"]
    return row


def _child(sizes: list[str], repeats: int, torch_full_100k: bool) -> dict:
    """Runs under one Keras backend; returns the measured rows."""
    import keras

    if importlib.util.find_spec("torch") is not None:
        import torch

        torch.set_num_threads(1)
    rows = []
    for size in sizes:
        rows.append(_measure(size, repeats, torch_full_100k))
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    return {"backend": keras.backend.backend(), "rows": rows}


def _format(value: float | None, unit: str = "s") -> str:
    if value is None:
        return "-"
    if unit == "x":
        return f"{value:.2f}x"
    return f"{value:.3g} s"


def _table(results: list[dict]) -> str:
    header = (
        "| backend | params | keras_dlm full | torch gradcheck | full ratio "
        "| keras_dlm fast | torch fast_mode | fast ratio |"
    )
    lines = [header, "|" + "---|" * 8]
    for result in results:
        for row in result["rows"]:
            full = _format(row["keras_dlm_full_s"])
            if row["keras_dlm_full_checked"] < row["checked_elements"]:
                full = (
                    f"{full} ({row['keras_dlm_full_checked']} of "
                    f"{row['checked_elements']} elements; all: "
                    f"~{_format(row['keras_dlm_full_all_elements_s'])})"
                )
            lines.append(
                f"| {result['backend']} | {row['parameters']} | {full} "
                f"| {_format(row.get('torch_full_s'))} | {_format(row.get('full_ratio'), 'x')} "
                f"| {_format(row['keras_dlm_fast_s'])} | {_format(row.get('torch_fast_s'))} "
                f"| {_format(row.get('fast_ratio'), 'x')} |"
            )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="1k and 10k only, fewer repeats"
    )
    parser.add_argument(
        "--backends",
        default="torch,jax,tensorflow",
        help="comma-separated Keras backends, each in its own process",
    )
    parser.add_argument(
        "--torch-full-100k",
        action="store_true",
        help="also time torch's full gradcheck at 100k parameters (minutes)",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sizes = ["1k", "10k"] if args.quick else ["1k", "10k", "100k"]
    repeats = 2 if args.quick else 5

    if args.child:
        print(json.dumps(_child(sizes, repeats, args.torch_full_100k)))
        return 0

    results = []
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        if importlib.util.find_spec(backend) is None:
            print(f"skipping backend {backend}: not installed")
            continue
        command = [
            sys.executable,
            __file__,
            "--child",
            *(a for a in argv if a != "--child"),
        ]
        print(f"running backend {backend} ...", flush=True)
        completed = subprocess.run(
            command,
            env={**os.environ, **_SINGLE_THREAD, "KERAS_BACKEND": backend},
            stdout=subprocess.PIPE,
            text=True,
        )
        if completed.returncode != 0:
            return 1
        results.append(json.loads(completed.stdout.strip().splitlines()[-1]))

    print(_table(results))
    _RESULTS.parent.mkdir(parents=True, exist_ok=True)
    _RESULTS.write_text(
        json.dumps(
            {
                "date": datetime.date.today().isoformat(),
                "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.python_version()}",
                "quick": args.quick,
                "function": f"tanh(x @ W + b), {_UNITS} units, batch {_BATCH}, float64",
                "max_elements_100k": _MAX_ELEMENTS_100K,
                "results": results,
            },
            indent=2,
        )
    )
    print(f"wrote {_RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
