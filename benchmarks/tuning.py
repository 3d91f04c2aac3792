"""Hyperparameter search: keras-dlm tune's default vs keras-tuner and Optuna.

Two parts, each in one invocation so that its figures share the machine's
load:

* ``default``: ``keras-dlm tune`` with no options against today's former
  default invoked by its explicit options (Bayesian, 10 trials x 10 epochs,
  SGD/Adam, learning rate 1e-4...1e-1, schedules none/step/cliff, no
  retraining), one seed after the other, interleaved: wall time and the test
  accuracy of the saved best model.
* ``tools``: at an equal wall-time budget (``--budget`` seconds each), the
  default search (range tests, Bayesian search, retraining, all inside the
  budget's time) against keras-tuner's ``RandomSearch``,
  ``BayesianOptimization`` and ``Hyperband`` on the same hypermodel (the
  model family with keras_dlm's wide default ``SearchSpace``: SGD/Adam,
  1e-4...1e-1, schedules, dropout) and Optuna (TPE sampler and median
  pruner over the same ranges): trials run, wall time, best validation and
  test accuracy (of the best model each tool produced); median over seeds.

Usage::

    python benchmarks/tuning.py default [--seeds 0 1 2] [--command PATH/keras-dlm]
    python benchmarks/tuning.py tools [--budget 60] [--family cnn] [--seeds 0 1 2]
    python benchmarks/tuning.py all --quick

Writes ``benchmarks/results/tuning_<part>.json`` and, for ``tools``,
``benchmarks/results/tuning_tools_<family>.png`` (best-so-far validation
accuracy against wall time). Needs the extras ``tuner``, ``plot`` and
``bench`` (optuna).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
_RESULTS = Path(__file__).resolve().parent / "results"
_FORMER_DEFAULT = [
    "--tuner", "bayesian", "--max-trials", "10", "--epochs", "10",
    "--optimizers", "sgd,adam", "--schedules", "none,step,cliff",
    "--lr-range", "1e-4,1e-1", "--retrain-epochs", "0",
]  # fmt: skip
_TOOLS = ("keras_dlm", "kt_random", "kt_bayesian", "kt_hyperband", "optuna")


def _load(family: str):
    """(x, y) training, (x, y) test of a family's task: digits, or sequences for lstm."""
    if family == "lstm":
        from keras_dlm.tuning import make_sequence_task

        x, y = make_sequence_task(2000, seed=0)
        return (x[:1600], y[:1600]), (x[1600:], y[1600:])
    from keras_dlm.datasets import load_digits

    return load_digits()


def _dataset_option(family: str) -> str:
    return "sequences" if family == "lstm" else "digits"


def _run_cli(argv: list[str]) -> tuple[float, str]:
    """Runs keras-dlm in this process; returns (wall seconds, stdout)."""
    from keras_dlm.cli import main

    buffer = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(buffer):
        status = main(argv)
    seconds = time.perf_counter() - start
    if status != 0:
        raise RuntimeError(
            f"keras-dlm {' '.join(argv)} exited {status}:\n{buffer.getvalue()}"
        )
    return seconds, buffer.getvalue()


def _run_command(command: str, argv: list[str]) -> tuple[float, str, float]:
    """Runs an installed keras-dlm as its own process, as a user would.

    Returns (wall seconds, stdout, CPU seconds of the process and its children).
    """
    import resource
    import subprocess

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    process = subprocess.run(
        [command, *argv], capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if process.returncode != 0:
        raise RuntimeError(
            f"{command} {' '.join(argv)} exited {process.returncode}:\n"
            f"{process.stdout}\n{process.stderr}"
        )
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return seconds, process.stdout, cpu


def _accuracies(output: str) -> list[float]:
    return [float(v) for v in re.findall(r"test accuracy (\d\.\d+)", output)]


def _saved_model_accuracy(output: str) -> float:
    """The test accuracy of the model keras-dlm tune saved as best_model.keras.

    That is the retrained model's (the last figure printed), unless the
    command kept the best trial's model (the first).
    """
    accuracies = _accuracies(output)
    if "keeping the best trial's model as best_model.keras" in output:
        return accuracies[0]
    return accuracies[-1]


def run_default(
    seeds: list[int], family: str, quick: bool, command: str | None = None
) -> list[dict]:
    """Former default against default, interleaved per seed.

    With `command` (the path of an installed `keras-dlm`), each search runs
    as its own process, as from a fresh install; otherwise in this process.
    """
    rows = []
    extra = ["--max-trials", "2", "--epochs", "2"] if quick else []
    for seed in seeds:
        for name, options in (("former default", _FORMER_DEFAULT), ("default", [])):
            cpu = None
            with tempfile.TemporaryDirectory() as folder:
                argv = ["tune", "--model", family, "--dataset", _dataset_option(family),
                        "--directory", folder, "--seed", str(seed), "--quiet",
                        *options, *extra]  # fmt: skip
                if quick and name == "default":
                    argv += ["--retrain-epochs", "2"]
                if command is None:
                    import keras

                    keras.backend.clear_session()
                    seconds, output = _run_cli(argv)
                else:
                    seconds, output, cpu = _run_command(command, argv)
            accuracies = _accuracies(output)
            rows.append(
                {
                    "setting": name,
                    "seed": seed,
                    "seconds": round(seconds, 1),
                    "cores_used": None if cpu is None else round(cpu / seconds, 2),
                    "search_model_test_accuracy": accuracies[0],
                    "test_accuracy": _saved_model_accuracy(output),
                    "load": os.getloadavg()[0],
                    "output": output[-3000:],
                }
            )
            print(json.dumps({k: v for k, v in rows[-1].items() if k != "output"}))
            print(output[-1500:], flush=True)
    return rows


def _wide_hypermodel(family: str, input_shape, num_classes: int):
    from keras_dlm.tuning import SearchSpace, TunableModel, model_family

    build = model_family(family, input_shape=input_shape, num_classes=num_classes)
    return TunableModel(
        build,
        SearchSpace(),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )


def _run_keras_tuner(tool, seed, budget, family, data, folder):
    from keras_dlm.tuning import search

    (x, y), (x_test, y_test) = data
    hypermodel = _wide_hypermodel(family, x.shape[1:], int(y.max()) + 1)
    start = time.perf_counter()
    result = search(
        hypermodel, x, y, tuner=tool.split("_")[1], max_trials=1000, epochs=10,
        directory=folder, seed=seed, verbose=0, time_budget=budget,
    )  # fmt: skip
    seconds = time.perf_counter() - start
    model = result.best_model()
    test = model.evaluate(x_test, y_test, verbose=0, return_dict=True)["accuracy"]
    curve, elapsed, best = [], 0.0, 0.0
    for trial in result.trials:
        elapsed += trial.seconds or 0.0
        if trial.objective is not None:
            best = max(best, trial.objective)
        curve.append((round(elapsed, 2), best))
    return {
        "trials": len(result.trials),
        "seconds": seconds,
        "best_val_accuracy": result.best_objective,
        "test_accuracy": test,
        "curve": curve,
    }


def _run_keras_dlm(seed, budget, family, folder):
    import csv

    # The whole default pipeline inside the budget (--time-budget: range
    # tests and trials 65% of it, the retraining cut to fit the rest).
    argv = ["tune", "--model", family, "--dataset", _dataset_option(family),
            "--directory", folder, "--seed", str(seed), "--quiet",
            "--time-budget", f"{budget:g}"]  # fmt: skip
    seconds, output = _run_cli(argv)
    accuracies = _accuracies(output)
    ranges = [float(s) for s in re.findall(r"median \S+; (\d+\.\d+) s\)", output)]
    project = Path(folder) / f"{family}-{_dataset_option(family)}"
    with open(project / "trials.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    curve, elapsed, best = [], sum(ranges), 0.0
    for row in rows:
        elapsed += float(row["seconds"] or 0)
        if row["val_accuracy"]:
            best = max(best, float(row["val_accuracy"]))
        curve.append((round(elapsed, 2), best))
    return {
        "trials": len(rows),
        "seconds": seconds,
        "best_val_accuracy": best,
        "test_accuracy": _saved_model_accuracy(output),
        "search_model_test_accuracy": accuracies[0],
        "retrained": "retrained the best configuration" in output,
        "curve": curve,
        "output": output[-4000:],
    }


def _run_optuna(seed, budget, family, data):
    import keras
    import numpy as np
    import optuna

    from keras_dlm.tuning import make_optimizer, model_family

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    (x_all, y_all), (x_test, y_test) = data
    split = math.ceil(len(x_all) * 0.8)
    x, y, x_val, y_val = x_all[:split], y_all[:split], x_all[split:], y_all[split:]
    build = model_family(family, input_shape=x.shape[1:], num_classes=int(y.max()) + 1)
    best = {"val": -1.0, "weights": None, "values": None}
    curve = []
    start = time.perf_counter()

    class Report(keras.callbacks.Callback):
        def __init__(self, trial):
            super().__init__()
            self.trial = trial
            self.best = -1.0

        def on_epoch_end(self, epoch, logs=None):
            value = float(logs["val_accuracy"])
            if value > self.best:
                self.best = value
                if value > best["val"]:
                    best.update(val=value, weights=self.model.get_weights(),
                                values=dict(self.trial.params))  # fmt: skip
            self.trial.report(value, epoch)
            if self.trial.should_prune() or time.perf_counter() - start > budget:
                self.model.stop_training = True
                self.pruned = self.trial.should_prune()

    def objective(trial):
        values = {
            "dropout": trial.suggest_float("dropout", 0.0, 0.5),
            "learning_rate": trial.suggest_float("learning_rate", 1e-4, 1e-1, log=True),
            "optimizer": trial.suggest_categorical("optimizer", ["sgd", "adam"]),
        }
        if values["optimizer"] == "sgd":
            values["momentum"] = trial.suggest_float("momentum", 0.0, 0.95)
        model = build(values["dropout"])
        model.compile(optimizer=make_optimizer(values), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])  # fmt: skip
        report = Report(trial)
        report.pruned = False
        model.fit(x, y, validation_data=(x_val, y_val), epochs=10, verbose=0,
                  callbacks=[report])  # fmt: skip
        curve.append((round(time.perf_counter() - start, 2), max(best["val"], 0.0)))
        if report.pruned:
            raise optuna.TrialPruned()
        return report.best

    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=2),
    )
    keras.utils.set_random_seed(seed)
    study.optimize(objective, timeout=budget)
    seconds = time.perf_counter() - start
    model = build(best["values"]["dropout"])
    model.compile(
        optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    model.set_weights(best["weights"])
    test = model.evaluate(x_test, y_test, verbose=0, return_dict=True)["accuracy"]
    return {
        "trials": len(study.trials),
        "seconds": seconds,
        "best_val_accuracy": best["val"],
        "test_accuracy": float(np.float64(test)),
        "curve": curve,
    }


def run_one(tool: str, seed: int, family: str, budget: float) -> dict:
    """One search of one tool, in this process (``tools`` starts one process per run)."""
    import keras

    data = _load(family)
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as folder:
        if tool == "keras_dlm":
            row = _run_keras_dlm(seed, budget, family, folder)
        elif tool == "optuna":
            row = _run_optuna(seed, budget, family, data)
        else:
            row = _run_keras_tuner(tool, seed, budget, family, data, folder)
    row.update(tool=tool, seed=seed, family=family, budget=budget,
               load_start=load, load_end=os.getloadavg()[0])  # fmt: skip
    return row


def run_tools(
    seeds: list[int], family: str, budget: float, cores: list[int], tools: list[str]
) -> list[dict]:
    """Every tool on every seed, each run in a fresh process pinned to one core.

    At most ``len(cores)`` runs at once, one per core, so that the tools
    compete under equal conditions; the order of the tools rotates from seed
    to seed (and so does which runs share the machine), so that load drift
    and the core a run lands on affect all tools alike.
    """
    import subprocess

    jobs = []
    for index, seed in enumerate(seeds):
        shift = index % len(tools)
        jobs += [(tool, seed) for tool in tools[shift:] + tools[:shift]]
    rows: list[dict] = []
    running: dict[int, tuple] = {}
    folder = Path(tempfile.mkdtemp(prefix="tuning_bench_"))
    partial = _RESULTS / f"tuning_tools_{family}.partial.json"
    while jobs or running:
        free = [core for core in cores if core not in running]
        while jobs and free:
            tool, seed = jobs.pop(0)
            core = free.pop(0)
            out = folder / f"{tool}_{seed}.json"
            command = ["taskset", "-c", str(core), sys.executable, __file__, "one",
                       "--tool", tool, "--seeds", str(seed), "--family", family,
                       "--budget", f"{budget:g}", "--out", str(out)]  # fmt: skip
            log = open(folder / f"{tool}_{seed}.log", "w")  # noqa: SIM115
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
            running[core] = (process, out, log, tool, seed)
        time.sleep(0.5)
        for core, (process, out, log, tool, seed) in list(running.items()):
            if process.poll() is None:
                continue
            log.close()
            del running[core]
            if process.returncode != 0 or not out.exists():
                text = Path(log.name).read_text()[-3000:]
                print(f"{tool} seed {seed} failed:\n{text}", flush=True)
                continue
            row = json.loads(out.read_text())
            row["core"] = core
            rows.append(row)
            shown = {k: v for k, v in row.items() if k not in ("curve", "output")}
            print(json.dumps(shown), flush=True)
            # Kept after every run, so that a benchmark cut short keeps its rows.
            partial.write_text(json.dumps(rows, indent=1))
    return rows


def _table(rows: list[dict], key: str, columns: list[str]) -> str:
    """A Markdown table: the median of each column, then each seed's values."""
    groups: dict[str, list[dict]] = {}
    for row in sorted(rows, key=lambda r: r["seed"]):
        groups.setdefault(row[key], []).append(row)
    lines = [
        "| " + " | ".join([key, *(f"{c} (median; per seed)" for c in columns)]) + " |",
        "|" + " --- |" * (len(columns) + 1),
    ]
    for name, group in groups.items():
        cells = [name]
        for column in columns:
            values = [r[column] for r in group if r.get(column) is not None]
            median = statistics.median(values) if values else float("nan")
            shown = ", ".join(_format(v) for v in values)
            cells.append(f"**{_format(median)}** ({shown})")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _format(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    return f"{value:.4f}" if value < 2 else f"{value:.1f}"


def _plot(rows: list[dict], path: Path, family: str, budget: float) -> None:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7, 4.2), dpi=100)
    axes = figure.add_subplot(1, 1, 1)
    colours = dict(zip(_TOOLS, ["C3", "C0", "C1", "C2", "C4"], strict=True))
    lowest = 1.0
    for tool in _TOOLS:
        for index, row in enumerate(r for r in rows if r["tool"] == tool):
            if not row["curve"]:
                continue
            times, values = zip(*row["curve"], strict=True)
            lowest = min(lowest, *(v for v in values if v > 0))
            axes.step(times, values, where="post", color=colours[tool], alpha=0.8,
                      label=tool if index == 0 else None)  # fmt: skip
    axes.set_xlabel("wall time (s)")
    axes.set_ylabel("best validation accuracy so far")
    axes.set_ylim(max(0.0, lowest - 0.05), 1.0)
    axes.axvline(budget, color="0.5", linestyle=":", linewidth=1)
    axes.set_title(
        f"{family}: budget {budget:g} s per search (one core each), one line per seed"
    )
    axes.grid(True, alpha=0.3)
    axes.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(path)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "part",
        nargs="?",
        default="all",
        choices=("default", "tools", "all", "one", "report"),
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--budget", type=float, default=60.0)
    parser.add_argument("--family", default="cnn", choices=("cnn", "mlp", "lstm"))
    parser.add_argument("--quick", action="store_true", help="one seed, tiny budgets")
    parser.add_argument(
        "--cores", type=int, nargs="+", default=[0, 1],
        help="cores to pin the runs to, one run per core at a time (tools)",
    )  # fmt: skip
    parser.add_argument(
        "--command",
        help="(default) an installed keras-dlm to run as its own process per "
        "search, e.g. a fresh environment's bin/keras-dlm",
    )
    parser.add_argument("--tools", nargs="+", default=list(_TOOLS), choices=_TOOLS)
    parser.add_argument("--tool", choices=_TOOLS, help="(one) the tool to run")
    parser.add_argument("--out", type=Path, help="(one) where its JSON row goes")
    parser.add_argument(
        "--inputs", type=Path, nargs="+",
        help="(report) tools JSON files; a later file's run of a tool and seed "
        "replaces an earlier one's",
    )  # fmt: skip
    parser.add_argument(
        "--plot-dir", type=Path, default=_RESULTS,
        help="where tuning_tools_<family>.png goes (tools)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.part == "one":
        row = run_one(args.tool, args.seeds[0], args.family, args.budget)
        args.out.write_text(json.dumps(row))
        return 0
    if args.part == "report":
        runs: dict[tuple, dict] = {}
        for path in args.inputs:
            for row in json.loads(path.read_text()):
                if row["tool"] == "keras_dlm":
                    row["test_accuracy"] = _saved_model_accuracy(row["output"])
                runs[row["tool"], row["seed"]] = row
        rows = sorted(runs.values(), key=lambda r: (_TOOLS.index(r["tool"]), r["seed"]))
        budget = rows[0]["budget"]
        print(f"{args.family}, budget {budget:g} s per search, one core each")
        print(_table(rows, "tool", ["trials", "seconds", "best_val_accuracy",
                                    "test_accuracy"]))  # fmt: skip
        loads = [r[k] for r in rows for k in ("load_start", "load_end")]
        print(f"load average (1 min) at the runs' starts and ends: "
              f"{min(loads):.1f}-{max(loads):.1f}")  # fmt: skip
        out = _RESULTS / f"tuning_tools_{args.family}.json"
        out.write_text(json.dumps(rows, indent=1))
        args.plot_dir.mkdir(parents=True, exist_ok=True)
        _plot(rows, args.plot_dir / f"tuning_tools_{args.family}.png", args.family,
              budget)  # fmt: skip
        print("wrote", out)
        return 0
    if args.quick:
        args.seeds, args.budget = args.seeds[:1], 20.0
    _RESULTS.mkdir(parents=True, exist_ok=True)
    if args.part != "one":
        print(
            f"load average at start: {os.getloadavg()}, cpus: {os.cpu_count()}",
            flush=True,
        )
    if args.part in ("default", "all"):
        rows = run_default(args.seeds, args.family, args.quick, args.command)
        print(_table(rows, "setting", ["seconds", "cores_used",
                                       "search_model_test_accuracy",
                                       "test_accuracy"]))  # fmt: skip
        seeds = "_".join(str(seed) for seed in args.seeds)
        out = _RESULTS / f"tuning_default_{args.family}_seeds{seeds}.json"
        out.write_text(json.dumps(rows, indent=1))
        print("wrote", out)
    if args.part in ("tools", "all"):
        rows = run_tools(args.seeds, args.family, args.budget, args.cores, args.tools)
        print(f"{args.family}, budget {args.budget:g} s per search, one core each")
        print(_table(rows, "tool", ["trials", "seconds", "best_val_accuracy",
                                    "test_accuracy"]))  # fmt: skip
        out = _RESULTS / f"tuning_tools_{args.family}.json"
        out.write_text(json.dumps(rows, indent=1))
        args.plot_dir.mkdir(parents=True, exist_ok=True)
        plot = args.plot_dir / f"tuning_tools_{args.family}.png"
        _plot(rows, plot, args.family, args.budget)
        print("wrote", plot)
        print("wrote", out)
    print(f"load average at end: {os.getloadavg()}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
