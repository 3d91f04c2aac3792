"""``keras-dlm tune``: hyperparameter search on the digits (or your own) data."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import sys
import time
import warnings
from typing import Any

from keras_dlm.cli._errors import CommandLineError

_DATASETS_HELP = (
    "'digits' (embedded 8x8 digits), 'sequences' (synthetic remember-the-first-"
    "symbol task) or a .npz file with x_train, y_train and optionally x_test, "
    "y_test, x_val, y_val (integer labels)"
)
_LOOPBACK = ("127.0.0.1", "localhost", "::1")
# The default search (issue 13's measurements, docs/tuning.md): more, shorter
# trials than keras-tuner's usual 10 x 10, a learning-rate range from the
# range test, then the best configuration retrained on all training data.
_DEFAULT_TRIALS = 8
_DEFAULT_EPOCHS = 8
_DEFAULT_RETRAIN_EPOCHS = 30
# --max-trials with --time-budget alone: the budget ends the search.
_UNLIMITED_TRIALS = 1000
_LR_RANGE_FILE = "lr_range.json"
# With --time-budget: the most the range tests may take, and the most kept
# for the retraining (when 30 epochs cost more, fewer are run).
_RANGE_TEST_SHARE = 0.1
_RETRAIN_MAX_SHARE = 0.4
# A budgeted retraining runs at least this many trials' epochs, else the best
# trial's model is kept: on the digits CNN, retrained on all training digits,
# 8 epochs gave 0.983-0.989 test accuracy (no better than the best trial's
# model), 16 and 30 epochs 0.989-0.992 (two seeds, measured).
_RETRAIN_MIN_TRIALS = 2
# Kept after the trials whatever they cost: the end of keras-tuner's search,
# reading the trials back, writing trials.csv and trials.png and saving the
# model took about 1.5 s beyond a trial's fixed cost in a 20 s search on PyTorch
# (where a trial's fixed cost, 0.46 s, has no tracing in it), and overran.
_FINISHING_SECONDS = 2.0
_RESULT_FILES = (
    "best_hyperparameters.json",
    "trials.csv",
    "trials.png",
    "best_model.keras",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds the ``tune`` options to ``parser``."""
    parser.add_argument("--dataset", default="digits", help=_DATASETS_HELP)
    parser.add_argument(
        "--model",
        default="cnn",
        choices=("cnn", "mlp", "lstm", "transfer"),
        help="built-in model family (default: cnn); 'transfer' needs --backbone "
        "and the TensorFlow backend",
    )
    parser.add_argument(
        "--backbone",
        metavar="HANDLE",
        default=None,
        help="TF-Hub handle or SavedModel folder of the 'transfer' model's "
        "frozen backbone (its input: one example of the data set)",
    )
    parser.add_argument(
        "--tuner",
        default="bayesian",
        choices=("bayesian", "random", "hyperband", "grid"),
        help="keras-tuner algorithm (default: bayesian)",
    )
    parser.add_argument(
        "--max-trials",
        type=int,
        default=None,
        help=f"number of trials (default: {_DEFAULT_TRIALS}; no limit but the "
        "time with --time-budget)",
    )
    parser.add_argument(
        "--epochs",
        type=int,
        default=_DEFAULT_EPOCHS,
        help=f"epochs per trial (default: {_DEFAULT_EPOCHS})",
    )
    parser.add_argument(
        "--time-budget",
        metavar="TIME",
        default=None,
        help="wall time for the whole command, e.g. 90, 90s, 2m, 1h. Planned "
        "from measurements: one range-test sweep, further ones only while "
        "they end within 10%% of it; a trial starts only if the trials' measured pace "
        "says it ends in time, leaving the retraining its time (--retrain-epochs "
        "if they cost at most 40%% of the budget, else the epochs that fit; no "
        "retraining if fewer than twice --epochs fit, keeping the best trial's "
        "model); the retraining gets what the trials leave, up to "
        "--retrain-epochs. With it --max-trials has no default limit",
    )
    parser.add_argument(
        "--lr-range",
        metavar="auto|MIN,MAX",
        default="auto",
        help="learning-rate range (log-uniform). 'auto' (default): run the "
        "learning-rate range test 3 times on fresh weights (fastai's valley "
        "rule) and search one decade around the median suggestion",
    )
    parser.add_argument(
        "--retrain-epochs",
        type=int,
        default=_DEFAULT_RETRAIN_EPOCHS,
        help="after the search, train the best configuration afresh on all "
        "training data (validation included) for this many epochs, its "
        "learning rate decaying to 0 along a cosine, and save "
        "that model as best_model.keras unless it scores no higher than the "
        "best trial on the validation examples (seen in its training); 0: "
        "keep the best trial's model "
        f"(default: {_DEFAULT_RETRAIN_EPOCHS})",
    )
    parser.add_argument(
        "--directory",
        default="runs/tune",
        help="keras-tuner's working folder (default: runs/tune)",
    )
    parser.add_argument(
        "--project-name",
        default=None,
        help="project folder inside --directory (default: MODEL-DATASET)",
    )
    parser.add_argument(
        "--output-dir",
        default=None,
        help="where the result files go (default: the project folder)",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue the search in --directory/--project-name instead of "
        "starting afresh",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="start afresh over an existing search in the project folder, "
        "deleting its trials and results (without it, the command refuses)",
    )
    parser.add_argument(
        "--schedules",
        default="none",
        help="comma-separated learning-rate schedules to try: none, step, cliff, "
        "onecycle, cyclical (default: none)",
    )
    parser.add_argument(
        "--optimizers",
        default="adam",
        help="comma-separated optimizers to try: sgd, adam, rmsprop, adamw "
        "(default: adam)",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument(
        "--tensorboard",
        metavar="LOGDIR",
        default=None,
        help="write TensorBoard logs with HParams, one folder per trial "
        "(TensorFlow backend)",
    )
    parser.add_argument(
        "--distributed",
        choices=("chief", "worker"),
        default=None,
        help="distributed search: the chief serves the oracle (and writes the "
        "results), workers run trials; all share --directory",
    )
    parser.add_argument(
        "--oracle",
        metavar="HOST:PORT",
        default="127.0.0.1:8000",
        help="address of the chief's oracle (default: 127.0.0.1:8000). The chief "
        "listens there WITHOUT authentication: keep it on a trusted network",
    )
    parser.add_argument(
        "--tuner-id",
        default=None,
        help="this process's KERASTUNER_TUNER_ID (default: 'chief' for the chief, "
        "'worker-HOST-PID' for a worker, else the environment's or 'tuner0')",
    )
    parser.add_argument(
        "--strategy",
        choices=("mirrored",),
        default=None,
        help="train each trial under tf.distribute.MirroredStrategy (TensorFlow "
        "backend)",
    )
    parser.add_argument(
        "--quiet", action="store_true", help="print only failed trials and the table"
    )


def _split_list(text: str, option: str) -> tuple[str, ...]:
    items = tuple(item.strip() for item in text.split(",") if item.strip())
    if not items:
        raise CommandLineError(f"{option} needs at least one value; received {text!r}.")
    return items


def parse_oracle(address: str) -> tuple[str, int]:
    """Splits ``HOST:PORT`` (or a bare ``PORT``, meaning 127.0.0.1) into host and port."""
    host, _, port = address.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    try:
        number = int(port)
    except ValueError:
        number = -1
    if not 0 < number < 65536:
        raise CommandLineError(
            f"--oracle must be HOST:PORT with a port in 1..65535; received {address!r}."
        )
    return host, number


def configure_distributed(args: argparse.Namespace) -> str | None:
    """Sets keras-tuner's KERASTUNER_* variables for ``--distributed``; returns the tuner id."""
    if args.distributed is None:
        if args.tuner_id:
            os.environ["KERASTUNER_TUNER_ID"] = args.tuner_id
        return os.environ.get("KERASTUNER_TUNER_ID")
    host, port = parse_oracle(args.oracle)
    if args.distributed == "chief":
        tuner_id = args.tuner_id or "chief"
        if "chief" not in tuner_id:
            raise CommandLineError(
                f"--tuner-id of a chief must contain 'chief'; received {tuner_id!r}."
            )
        if host not in _LOOPBACK:
            print(
                f"warning: the chief's oracle listens on {host}:{port} without "
                "authentication or encryption; anyone who can reach it can read "
                "and change the search.",
                file=sys.stderr,
            )
    else:
        tuner_id = args.tuner_id or f"worker-{socket.gethostname()}-{os.getpid()}"
        if "chief" in tuner_id:
            raise CommandLineError(
                f"--tuner-id of a worker must not contain 'chief'; received {tuner_id!r}."
            )
    os.environ["KERASTUNER_ORACLE_IP"] = host
    os.environ["KERASTUNER_ORACLE_PORT"] = str(port)
    os.environ["KERASTUNER_TUNER_ID"] = tuner_id
    return tuner_id


def load_data(dataset: str, *, seed: int = 0) -> dict[str, Any]:
    """Loads ``--dataset``: train, optional validation and test arrays."""
    import numpy as np

    if dataset == "digits":
        from keras_dlm.datasets import load_digits

        (x_train, y_train), (x_test, y_test) = load_digits()
        return {"train": (x_train, y_train), "val": None, "test": (x_test, y_test)}
    if dataset == "sequences":
        from keras_dlm.tuning import make_sequence_task

        x, y = make_sequence_task(2000, seed=seed)
        return {
            "train": (x[:1600], y[:1600]),
            "val": None,
            "test": (x[1600:], y[1600:]),
        }
    if not dataset.endswith(".npz"):
        raise CommandLineError(
            f"--dataset must be {_DATASETS_HELP}; received {dataset!r}."
        )
    if not os.path.isfile(dataset):
        raise CommandLineError(f"--dataset file {dataset!r} does not exist.")
    try:
        archive = np.load(dataset)
    except (OSError, ValueError) as error:
        raise CommandLineError(
            f"--dataset file {dataset!r} is not a readable .npz file: {error}"
        ) from error
    with archive as data:
        keys = set(data.files)
        if not {"x_train", "y_train"} <= keys:
            raise CommandLineError(
                f"--dataset file {dataset!r} must hold x_train and y_train; it holds "
                f"{sorted(keys)}."
            )
        parts = {}
        for part in ("train", "val", "test"):
            if f"x_{part}" in keys and f"y_{part}" in keys:
                parts[part] = (data[f"x_{part}"], data[f"y_{part}"].astype("int32"))
            else:
                parts[part] = None
    return parts


def parse_time_budget(text: str | None) -> float | None:
    """Reads ``--time-budget``: seconds, or a number with ``s``, ``m`` or ``h``."""
    if text is None:
        return None
    units = {"s": 1.0, "m": 60.0, "h": 3600.0}
    number, unit = (text[:-1], text[-1]) if text[-1:] in units else (text, "s")
    try:
        seconds = float(number) * units[unit]
    except ValueError:
        seconds = float("nan")
    if not (seconds > 0 and seconds < float("inf")):
        raise CommandLineError(
            f"--time-budget must be a positive time such as 90, 90s, 2m or 1h; "
            f"received {text!r}."
        )
    return seconds


def parse_lr_range(text: str) -> tuple[float, float] | None:
    """Reads ``--lr-range``: ``auto`` (None) or ``MIN,MAX`` with 0 < MIN <= MAX."""
    if text == "auto":
        return None
    parts = text.split(",")
    try:
        low, high = (float(part) for part in parts)
    except ValueError:
        low = high = float("nan")
    if not (0 < low <= high < float("inf")):
        raise CommandLineError(
            f"--lr-range must be 'auto' or MIN,MAX with 0 < MIN <= MAX; received "
            f"{text!r}."
        )
    return low, high


def _check_folder(option: str, path: str) -> None:
    """Refuses a folder option that names an existing file."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise CommandLineError(f"{option} {path!r} is a file, not a folder.")


def _existing_run(project: str, output_dir: str) -> str | None:
    """Describes what a new search would replace in the project or output folder."""
    if os.path.isdir(project) and set(os.listdir(project)) - {_LR_RANGE_FILE}:
        return f"{project} already holds a search"
    existing = [
        name for name in _RESULT_FILES if os.path.exists(os.path.join(output_dir, name))
    ]
    if existing:
        return f"{output_dir} already holds results ({', '.join(existing)})"
    return None


def _check_project(args: argparse.Namespace, project: str, output_dir: str) -> None:
    """Refuses, before any trial, a run that would lose or fail to keep work."""
    if args.resume and args.overwrite:
        raise CommandLineError("--resume and --overwrite exclude each other.")
    if args.distributed == "worker":
        return  # workers join the chief's project; only the chief resets it
    if args.resume:
        from keras_dlm.tuning import check_resume

        message = check_resume(args.directory, project_name=os.path.basename(project))
        if message is None:
            return
        if _existing_run(project, project) is not None:
            # keras-tuner would start from trial 0 in the same folder and
            # overwrite the trials that --resume was meant to keep.
            raise CommandLineError(
                f"--resume: {message} Not resuming, to keep the existing trials: "
                "use another --project-name, or --overwrite to start afresh."
            )
        print(f"warning: --resume: {message}", file=sys.stderr, flush=True)
        return
    existing = _existing_run(project, output_dir)
    if existing is not None and not args.overwrite:
        raise CommandLineError(
            f"{existing}; pass --resume to continue it or --overwrite to start "
            "afresh and replace it."
        )


def run(args: argparse.Namespace) -> int:
    """Runs the search and writes best_hyperparameters.json, trials.csv, trials.png, best_model.keras."""
    # The time budget counts from here: everything the command does is in it.
    start = time.perf_counter()
    # Every input is checked before the first trial: a mistake must not
    # surface after minutes of training.
    tuner_id = configure_distributed(args)
    schedules = _split_list(args.schedules, "--schedules")
    optimizers = _split_list(args.optimizers, "--optimizers")
    time_budget = parse_time_budget(args.time_budget)
    if args.max_trials is None:
        args.max_trials = _DEFAULT_TRIALS if time_budget is None else _UNLIMITED_TRIALS
    for option, value in (("--max-trials", args.max_trials), ("--epochs", args.epochs)):
        if value < 1:
            raise CommandLineError(
                f"{option} must be a positive integer; received {value}."
            )
    if args.retrain_epochs < 0:
        raise CommandLineError(
            f"--retrain-epochs must be >= 0; received {args.retrain_epochs}."
        )
    lr_range = parse_lr_range(args.lr_range)
    if args.seed < 0:
        raise CommandLineError(f"--seed must be >= 0; received {args.seed}.")
    _check_folder("--directory", args.directory)
    if args.output_dir is not None:
        _check_folder("--output-dir", args.output_dir)
    dataset_name = os.path.splitext(os.path.basename(args.dataset))[0]
    project_name = args.project_name or f"{args.model}-{dataset_name}"
    if not project_name or os.sep in project_name:
        raise CommandLineError(
            f"--project-name must be a folder name; received {project_name!r}."
        )
    project = os.path.join(args.directory, project_name)
    _check_folder("--project-name", project)
    output_dir = args.output_dir or project
    data = load_data(args.dataset, seed=args.seed)
    _check_project(args, project, output_dir)

    import keras
    import numpy as np

    from keras_dlm import _backend
    from keras_dlm._backend import tuning as backend_tuning
    from keras_dlm.tuning import (
        FailedTrialsWarning,
        ResumeWarning,
        SearchSpace,
        TunableModel,
        model_family,
        retrain_reserve,
        search,
    )
    from keras_dlm.tuning._budget import StopAtDeadline

    x_train, y_train = data["train"]
    num_classes = int(np.max(y_train)) + 1
    callbacks = []
    strategy = None
    try:
        if args.tensorboard:
            callbacks.append(backend_tuning.tensorboard_callback(args.tensorboard))
        if args.strategy == "mirrored":
            strategy = backend_tuning.mirrored_strategy()
        SearchSpace(schedules=schedules, optimizers=optimizers)  # checks the names
        build_fn = model_family(
            args.model,
            input_shape=x_train.shape[1:],
            num_classes=num_classes,
            backbone=args.backbone,
        )
    except (RuntimeError, ValueError, TypeError) as error:
        raise CommandLineError(str(error)) from error

    keras.utils.set_random_seed(args.seed)
    role = f" ({args.distributed} {tuner_id})" if args.distributed else ""
    budget = "" if time_budget is None else f", time budget {time_budget:g} s"
    trials = (
        "as many trials as fit"
        if time_budget is not None and args.max_trials == _UNLIMITED_TRIALS
        else f"up to {args.max_trials} trials"
    )
    print(
        f"keras-dlm tune{role}: {args.model} on {args.dataset} ({len(x_train)} training "
        f"examples, {num_classes} classes), {args.tuner} tuner, {trials} x "
        f"{args.epochs} epochs{budget}, backend {_backend.backend_name()}",
        flush=True,
    )
    if args.distributed != "worker" and not args.resume:
        # Checked above: nothing here may be lost (or --overwrite said so).
        shutil.rmtree(project, ignore_errors=True)
    os.makedirs(project, exist_ok=True)
    lr_range = _learning_rate_range(
        args,
        lr_range,
        project,
        build_fn,
        data,
        optimizers,
        max_seconds=None if time_budget is None else _RANGE_TEST_SHARE * time_budget,
    )
    space = SearchSpace(
        schedules=schedules, optimizers=optimizers, learning_rate=lr_range
    )
    if args.distributed == "chief":
        print(
            f"chief: serving the oracle on {os.environ['KERASTUNER_ORACLE_IP']}:"
            f"{os.environ['KERASTUNER_ORACLE_PORT']} (no authentication); start the "
            f"workers with --distributed worker and --directory {args.directory}",
            flush=True,
        )

    hypermodel = TunableModel(
        build_fn, space, loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    remaining = reserve = None
    x_all, y_all = _all_training_data(data)
    data_ratio = len(x_all) / _search_train_size(data)
    if time_budget is not None:
        remaining = max(1e-3, time_budget - (time.perf_counter() - start))

        def reserve(timing: Any) -> float:
            # Kept for the retraining, from the trials' measured cost, and
            # for loading, evaluating and saving the best trial's model
            # first (about a trial's fixed cost: a build and a trace).
            retraining = retrain_reserve(
                timing,
                budget=time_budget,
                data_ratio=data_ratio,
                wanted=args.retrain_epochs,
                minimum=_RETRAIN_MIN_TRIALS * args.epochs,
                max_share=_RETRAIN_MAX_SHARE,
            )
            overhead = 0.0 if timing is None else timing.overhead
            return retraining + overhead + _FINISHING_SECONDS

    with warnings.catch_warnings():
        # The command says these itself: a missing state file (above, with
        # --resume) and failed trials (in the table below).
        warnings.simplefilter("ignore", ResumeWarning)
        warnings.simplefilter("ignore", FailedTrialsWarning)
        result = search(
            hypermodel,
            x_train,
            y_train,
            validation_data=data["val"],
            tuner=args.tuner,
            max_trials=args.max_trials,
            epochs=args.epochs,
            directory=args.directory,
            project_name=project_name,
            # The project folder was reset above when allowed; keras-tuner
            # must not delete it again (it holds the learning-rate range).
            overwrite=False,
            seed=args.seed,
            callbacks=callbacks,
            distribution_strategy=strategy,
            verbose=0 if args.quiet else 1,
            time_budget=remaining,
            time_reserve=reserve,
        )
    search_end = time.perf_counter()
    elapsed = search_end - start

    if args.distributed == "worker":
        print(f"worker {tuner_id} ran {len(result.trials)} trials in {elapsed:.1f} s:")
        print(result.table())
        print("The chief writes the results.")
        return 0 if not result.failed_trials else 1

    print()
    print(result.table())
    stopped = ", stopped by the time budget" if result.stopped_by_budget else ""
    print(
        f"search: {len(result.trials)} trials run{stopped}; {elapsed:.1f} s "
        "(range tests included)"
    )
    if result.timing is not None:
        print(
            f"trial cost: {result.timing.overhead:.2f} s fixed (of which "
            f"{result.timing.trace:.2f} s tracing) + {result.timing.epoch:.3f} s "
            "an epoch (measured)"
        )
    if result.best_trial is None:
        print("error: no trial completed; no result files written.", file=sys.stderr)
        return 1
    os.makedirs(output_dir, exist_ok=True)
    paths = {name: os.path.join(output_dir, name) for name in _RESULT_FILES}
    with open(paths["best_hyperparameters.json"], "w", encoding="utf-8") as handle:
        json.dump(result.best_hyperparameters, handle, indent=2)
        handle.write("\n")
    result.to_csv(paths["trials.csv"])
    try:
        result.plot(paths["trials.png"])
    except ImportError as error:
        # The other files are still worth having; say plainly what is missing.
        print(f"warning: trials.png not written: {error}", file=sys.stderr)
        del paths["trials.png"]
    model = best_trial_model = result.best_model()
    test = data["test"]
    if test is not None:
        scores = model.evaluate(*test, verbose=0, return_dict=True)
        print(
            f"best trial's model (trial {result.best_trial.trial_id}, trained on "
            f"{_trained_on(data)}): test accuracy {scores['accuracy']:.4f} on "
            f"{len(test[0])} test examples"
        )
    retrain_epochs = args.retrain_epochs
    retrain_callbacks = []
    if retrain_epochs > 0 and time_budget is not None:
        deadline = start + time_budget
        # Evaluating and saving the retrained model will cost about what
        # loading, evaluating and saving the best trial's just did.
        now = time.perf_counter()
        finishing = now - search_end
        retrain_epochs = _retrain_epochs_that_fit(
            result, deadline - finishing - now, data_ratio, args
        )
        # A safety net: the estimate comes from the trials' pace, and the
        # machine's load can change.
        retrain_callbacks.append(StopAtDeadline(deadline - finishing))
    if retrain_epochs > 0:
        retrain_start = time.perf_counter()
        keras.utils.set_random_seed(args.seed)
        model = result.retrain_best(
            x_all,
            y_all,
            epochs=retrain_epochs,
            cosine_decay=True,
            callbacks=retrain_callbacks,
        )
        seconds = time.perf_counter() - retrain_start
        text = (
            f"retrained the best configuration on all {len(x_all)} training "
            f"examples (validation included) for {retrain_epochs} epochs, "
            f"cosine decay "
            f"({seconds:.1f} s)"
        )
        if test is not None:
            scores = model.evaluate(*test, verbose=0, return_dict=True)
            text += f": test accuracy {scores['accuracy']:.4f}"
        print(text)
        # Nothing was held out, but a retrained model that does not beat the
        # best trial even on the validation examples it has now seen is no
        # better (measured on the LSTM: 0.42 and 0.87 test accuracy against
        # the best trial's 0.95 and 1.0).
        x_val, y_val = _validation_data(data)
        seen = model.evaluate(x_val, y_val, verbose=0, return_dict=True)["accuracy"]
        if result.objective == "val_accuracy" and seen <= result.best_objective:
            print(
                f"the retrained model scores {seen:.4f} on the validation examples "
                f"(seen in its training), not above the best trial's "
                f"{result.best_objective:.4f}: keeping the "
                "best trial's model as best_model.keras",
                flush=True,
            )
            model = best_trial_model
    model.save(paths["best_model.keras"])
    total = time.perf_counter() - start
    budget_note = "" if time_budget is None else f" (time budget {time_budget:g} s)"
    print(f"total time: {total:.1f} s{budget_note}")
    for path in paths.values():
        print(f"wrote {path}")
    if result.failed_trials:
        print(
            f"error: {len(result.failed_trials)} of {len(result.trials)} trials failed "
            "(see the table above).",
            file=sys.stderr,
        )
        return 1
    return 0


def _retrain_epochs_that_fit(
    result: Any, seconds_left: float, data_ratio: float, args: argparse.Namespace
) -> int:
    """How many retraining epochs fit in the time left, at most ``--retrain-epochs``.

    The cost is the trials' measured one (the first epoch's tracing, and one
    per epoch scaled by how much more data the retraining sees), with one epoch kept
    for evaluating and saving. Fewer than twice a trial's epochs give 0: the
    best trial's model is kept.
    """
    from keras_dlm.tuning import TrialTiming, epochs_that_fit

    timing = result.timing
    if timing is None:
        # Trials of one epoch: no steady epoch time, so all of a trial's.
        rates = [t.seconds for t in result.completed_trials if t.seconds]
        timing = TrialTiming(overhead=0.0, epoch=max(rates, default=0.0), trace=0.0)
    wanted = args.retrain_epochs
    fitting = epochs_that_fit(
        seconds_left - timing.epoch * data_ratio,
        timing,
        data_ratio=data_ratio,
        wanted=wanted,
        minimum=_RETRAIN_MIN_TRIALS * args.epochs,
    )
    if fitting == 0:
        print(
            f"--time-budget: fewer than {_RETRAIN_MIN_TRIALS * args.epochs} "
            f"retraining epochs ({_RETRAIN_MIN_TRIALS}x a trial's) "
            f"fit in the {max(0.0, seconds_left):.0f} s left: not retrained, "
            "keeping the best trial's model",
            flush=True,
        )
    elif fitting < wanted:
        print(
            f"--time-budget: {fitting} retraining epochs fit in the "
            f"{seconds_left:.0f} s left (not {wanted})",
            flush=True,
        )
    return fitting


def _validation_data(data: dict[str, Any]) -> tuple[Any, Any]:
    """The search's validation examples: given, or the last 20% of the training ones."""
    import math

    if data["val"] is not None:
        return data["val"]
    x, y = data["train"]
    split = math.ceil(len(x) * 0.8)
    return x[split:], y[split:]


def _search_train_size(data: dict[str, Any]) -> int:
    """How many examples a trial trains on (80% when no validation set is given)."""
    import math

    count = len(data["train"][0])
    return count if data["val"] is not None else math.ceil(count * 0.8)


def _trained_on(data: dict[str, Any]) -> str:
    if data["val"] is not None:
        return f"{len(data['train'][0])} training examples"
    return "the first 80% of the training examples"


def _all_training_data(data: dict[str, Any]) -> tuple[Any, Any]:
    """The training examples, with the validation ones when they are separate."""
    import numpy as np

    x, y = data["train"]
    if data["val"] is not None:
        x = np.concatenate([x, data["val"][0]])
        y = np.concatenate([y, data["val"][1]])
    return x, y


def _learning_rate_range(
    args: argparse.Namespace,
    given: tuple[float, float] | None,
    project: str,
    build_fn: Any,
    data: dict[str, Any],
    optimizers: tuple[str, ...],
    *,
    max_seconds: float | None = None,
) -> tuple[float, float]:
    """The search's learning-rate range: given, kept from the project, or measured.

    The measured range is saved in the project folder, so that a resumed
    search (and every worker of a distributed one) searches the same range.
    """
    path = os.path.join(project, _LR_RANGE_FILE)
    if given is not None:
        return given
    if os.path.exists(path):
        with open(path, encoding="utf-8") as handle:
            saved = json.load(handle)
        print(f"learning rate {saved['low']:.2g} ... {saved['high']:.2g} (from {path})")
        return float(saved["low"]), float(saved["high"])
    import math

    import keras

    from keras_dlm.tuning import make_optimizer
    from keras_dlm.tuning._lr_range import find_learning_rate_range

    x, y = data["train"]
    if data["val"] is None:
        # The search trains on the first 80%: so do the range tests.
        x, y = x[: math.ceil(len(x) * 0.8)], y[: math.ceil(len(y) * 0.8)]
    ranges = []
    for name in optimizers:

        def build_model(name: str = name) -> keras.Model:
            model = build_fn(0.25)
            values = {"optimizer": name, "learning_rate": 1e-3, "momentum": 0.9}
            model.compile(
                optimizer=make_optimizer(values),
                loss="sparse_categorical_crossentropy",
            )
            return model

        found = find_learning_rate_range(
            build_model,
            x,
            y,
            sweeps=max(1, 3 // len(optimizers)),
            seed=args.seed,
            max_seconds=None if max_seconds is None else max_seconds / len(optimizers),
        )
        print(f"{name}: {found.describe()}", flush=True)
        ranges.append(found)
    low = min(found.low for found in ranges)
    high = max(found.high for found in ranges)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump({"low": low, "high": high}, handle)
    return low, high
