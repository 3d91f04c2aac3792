"""search(): runs a keras-tuner search and gathers every trial into a SearchResult."""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import keras

from keras_dlm._checks import (
    check_bool,
    check_choice,
    check_integer,
    check_number,
    invalid_argument,
)
from keras_dlm.tuning._budget import TrialTiming
from keras_dlm.tuning._hypermodel import TunableModel
from keras_dlm.tuning._result import SearchResult, TrialRecord
from keras_dlm.tuning._tuners import SECONDS_METRIC, TUNER_CLASSES

TUNERS = tuple(TUNER_CLASSES)


class ResumeWarning(UserWarning):
    """keras-tuner cannot resume the search in a folder and would start it afresh."""


class FailedTrialsWarning(RuntimeWarning):
    """Some trials of a search did not complete (the result lists them)."""


def _is_distributed_worker() -> bool:
    # A worker keeps no oracle state (the chief does), so it has nothing to resume.
    return "KERASTUNER_ORACLE_IP" in os.environ and "chief" not in os.environ.get(
        "KERASTUNER_TUNER_ID", ""
    )


def state_file(
    directory: str | os.PathLike, project_name: str, tuner_id: str | None = None
) -> str:
    """The path of keras-tuner's state file for a tuner id (default: ``KERASTUNER_TUNER_ID`` or ``tuner0``)."""
    if tuner_id is None:
        tuner_id = os.environ.get("KERASTUNER_TUNER_ID", "tuner0")
    return os.path.join(os.fspath(directory), project_name, f"{tuner_id}.json")


def check_resume(
    directory: str | os.PathLike, project_name: str, tuner_id: str | None = None
) -> str | None:
    """Says why reloading ``directory/project_name`` would silently start empty.

    keras-tuner reloads a project only from the state file of its tuner id
    (``KERASTUNER_TUNER_ID``, default ``tuner0``); without that file it starts
    a new, empty search in the same folder and overwrites the old trials.

    Returns:
        ``None`` when the state file exists; otherwise a message saying what is
        missing (and which other state files there are).
    """
    path = state_file(directory, project_name, tuner_id)
    if os.path.exists(path):
        return None
    project = os.path.dirname(path)
    if not os.path.isdir(project):
        return f"there is no search to resume in {project}: starting a new search."
    others = sorted(
        name[:-5]
        for name in os.listdir(project)
        if name.endswith(".json") and name != "oracle.json"
    )
    message = (
        f"keras-tuner's state file {path} is missing, so the search in {project} "
        "cannot be resumed and would start again from trial 0, overwriting the "
        "trials there"
    )
    if others:
        message += (
            f"; state files found for tuner ids {others}: set KERASTUNER_TUNER_ID "
            "to one of them to resume that search"
        )
    return message + "."


def check_search_arguments(
    *,
    tuner: Any = "bayesian",
    max_trials: Any = 10,
    epochs: Any = 10,
    directory: Any = "runs/tune",
    project_name: Any = None,
    overwrite: Any = False,
    seed: Any = None,
    verbose: Any = 1,
    validation_split: Any = 0.2,
    objective: Any = None,
    callbacks: Any = None,
    executions_per_trial: Any = 1,
    max_consecutive_failed_trials: Any = 3,
    time_budget: Any = None,
    time_reserve: Any = None,
) -> None:
    """Checks :func:`search`'s arguments (other than the data and hypermodel).

    Raises:
        TypeError, ValueError: naming the first invalid argument.
    """
    check_choice("tuner", tuner, TUNERS)
    check_integer("max_trials", max_trials)
    check_integer("epochs", epochs)
    check_integer("executions_per_trial", executions_per_trial)
    check_integer("max_consecutive_failed_trials", max_consecutive_failed_trials)
    check_integer("verbose", verbose, minimum=0, maximum=2)
    check_integer("seed", seed, minimum=0, allow_none=True)
    check_bool("overwrite", overwrite)
    check_number(
        "time_budget", time_budget, low=0.0, low_inclusive=False, allow_none=True
    )
    check_number(
        "validation_split",
        validation_split,
        low=0.0,
        high=1.0,
        low_inclusive=False,
        high_inclusive=False,
    )
    if not isinstance(directory, (str, os.PathLike)) or not os.fspath(directory):
        raise invalid_argument("directory", directory, "a folder path", error=TypeError)
    if os.path.exists(directory) and not os.path.isdir(directory):
        raise invalid_argument(
            "directory", os.fspath(directory), "a folder, not a file"
        )
    if project_name is not None:
        if not isinstance(project_name, str):
            raise invalid_argument(
                "project_name", project_name, "a folder name or None", error=TypeError
            )
        if not project_name or os.sep in project_name or project_name in (".", ".."):
            raise invalid_argument(
                "project_name", project_name, "a folder name (no path separator)"
            )
        project = os.path.join(os.fspath(directory), project_name)
        if os.path.exists(project) and not os.path.isdir(project):
            raise invalid_argument("project_name", project, "a folder, not a file")
    if objective is not None and (not isinstance(objective, str) or not objective):
        raise invalid_argument(
            "objective", objective, "a metric name or None", error=TypeError
        )
    if time_reserve is not None and not callable(time_reserve):
        raise invalid_argument(
            "time_reserve",
            time_reserve,
            "a function of the timing, or None",
            error=TypeError,
        )
    if callbacks is not None and (
        isinstance(callbacks, (str, keras.callbacks.Callback))
        or not isinstance(callbacks, Sequence)
        or not all(isinstance(c, keras.callbacks.Callback) for c in callbacks)
    ):
        raise invalid_argument(
            "callbacks",
            callbacks,
            "a list of keras.callbacks.Callback",
            error=TypeError,
        )


def search(
    hypermodel: TunableModel,
    x: Any,
    y: Any = None,
    *,
    validation_data: Any = None,
    validation_split: float = 0.2,
    objective: str | None = None,
    tuner: str = "bayesian",
    max_trials: int = 10,
    epochs: int = 10,
    directory: str | os.PathLike = "runs/tune",
    project_name: str | None = None,
    overwrite: bool = False,
    seed: int | None = None,
    callbacks: Sequence[keras.callbacks.Callback] | None = None,
    distribution_strategy: Any = None,
    verbose: int = 1,
    executions_per_trial: int = 1,
    max_consecutive_failed_trials: int = 3,
    time_budget: float | None = None,
    time_reserve: Callable[[TrialTiming | None], float] | None = None,
) -> SearchResult:
    """Searches the hypermodel's hyperparameters with keras-tuner.

    Every trial's status is checked after the search: keras-tuner's own
    ``search()`` returns normally when trials fail, so this function warns
    (:class:`FailedTrialsWarning`, a ``RuntimeWarning``) with the number of failed trials and their errors,
    and the result lists them.

    Resuming: with ``overwrite=False`` an existing project in
    ``directory/project_name`` is reloaded and the search continues up to
    ``max_trials``; finished trials are not run again, and a trial that was
    running when the search was interrupted is run again. keras-tuner picks
    its state file by ``KERASTUNER_TUNER_ID`` (default ``tuner0``) and starts
    an empty search when that file is missing: this function warns then
    (:class:`ResumeWarning`, a ``UserWarning``).

    Distributed search: with ``KERASTUNER_ORACLE_IP``, ``KERASTUNER_ORACLE_PORT``
    and ``KERASTUNER_TUNER_ID`` set, the process whose tuner id contains
    ``"chief"`` serves the oracle and returns when all trials are done (its
    result holds every trial); a worker runs trials and its result holds the
    trials it ran.

    Args:
        hypermodel: a :class:`TunableModel`.
        x: training inputs (or a dataset), passed to ``fit``.
        y: training targets.
        validation_data: passed to ``fit``; if ``None``, ``validation_split``
            of ``x`` is held out instead.
        validation_split: fraction held out when ``validation_data`` is None.
        objective: the metric to optimize; default ``"val_accuracy"`` when the
            hypermodel's metrics include ``"accuracy"``, else ``"val_loss"``.
        tuner: ``"bayesian"``, ``"random"``, ``"hyperband"`` or ``"grid"``.
        max_trials: number of trials (Hyperband ignores it: its brackets
            decide, from ``epochs``).
        epochs: epochs per trial (Hyperband's ``max_epochs``).
        directory: where keras-tuner keeps its project folder.
        project_name: the project folder's name; default ``"search"``.
        overwrite: start afresh, deleting an existing project.
        seed: the oracle's random seed (an integer >= 0, or None).
        callbacks: Keras callbacks for every trial (deep-copied per trial).
            A ``keras.callbacks.TensorBoard`` among them gets one log folder
            per trial and HParams records (TensorFlow backend).
        distribution_strategy: a ``tf.distribute.Strategy`` for each trial
            (TensorFlow backend).
        verbose: 0 prints only failed trials; 1 one line per trial and a
            compact progress line during each trial (rewritten in place on a
            terminal, else at most every 10 s); 2 Keras' own progress output
            instead of the progress line.
        executions_per_trial: how many times each trial's model is built and
            trained; the objective is averaged over them (keras-tuner's
            argument of that name).
        max_consecutive_failed_trials: the search stops with keras-tuner's
            ``RuntimeError`` after this many trials in a row failed
            (keras-tuner's argument of that name).
        time_budget: seconds of wall time for the search, or ``None``. Each
            trial's cost is measured (a fixed part for building and tracing
            the model, and one per epoch: :class:`TrialTiming`); after the
            first trial no trial starts unless its ``epochs`` are expected to
            end within the budget, and a running trial stops at the end of
            the epoch during which the budget ran out (it still completes,
            with its best epoch so far). ``max_trials`` still caps the number
            of trials. The result's ``stopped_by_budget`` says whether the
            budget ended the search. Not for distributed searches (each
            process counts its own time).
        time_reserve: with ``time_budget``, a function of the measured
            :class:`TrialTiming` (``None`` before the first trial has been
            timed) giving the seconds at the end of the budget that the
            trials must leave free (e.g. :func:`retrain_reserve`, for
            retraining the best configuration within the same budget).

    Returns:
        A :class:`SearchResult`.

    Raises:
        TypeError, ValueError: an argument is invalid (before any trial runs).
    """
    if not isinstance(hypermodel, TunableModel):
        raise invalid_argument(
            "hypermodel", hypermodel, "a TunableModel", error=TypeError
        )
    check_search_arguments(
        tuner=tuner,
        max_trials=max_trials,
        epochs=epochs,
        directory=directory,
        project_name=project_name,
        overwrite=overwrite,
        seed=seed,
        verbose=verbose,
        validation_split=validation_split,
        objective=objective,
        callbacks=callbacks,
        executions_per_trial=executions_per_trial,
        max_consecutive_failed_trials=max_consecutive_failed_trials,
        time_budget=time_budget,
        time_reserve=time_reserve,
    )
    project_name = project_name or "search"
    if objective is None:
        objective = "val_accuracy" if "accuracy" in hypermodel.metrics else "val_loss"

    if (
        hypermodel.train_size is None
        and hasattr(x, "__len__")
        and not isinstance(x, dict)
    ):
        size = len(x)
        if validation_data is None:
            # keras.Model.fit keeps the first ceil(n * (1 - split)) samples.
            size = math.ceil(size * (1.0 - validation_split))
        hypermodel.train_size = size
    if hypermodel.epochs is None:
        hypermodel.epochs = epochs

    if not overwrite and not _is_distributed_worker():
        message = check_resume(directory, project_name)
        if message is not None and os.path.isdir(
            os.path.join(os.fspath(directory), project_name)
        ):
            warnings.warn(message, ResumeWarning, stacklevel=2)

    tuner_kwargs: dict[str, Any] = {
        "hypermodel": hypermodel,
        "objective": objective,
        "seed": seed,
        "directory": os.fspath(directory),
        "project_name": project_name,
        "overwrite": overwrite,
        "distribution_strategy": distribution_strategy,
        "executions_per_trial": executions_per_trial,
        "max_consecutive_failed_trials": max_consecutive_failed_trials,
        "search_space": hypermodel.search_space,
        "verbose": verbose,
        "time_budget": time_budget,
        "time_reserve": time_reserve,
    }
    if tuner == "hyperband":
        tuner_kwargs["max_epochs"] = max(2, epochs)
    else:
        tuner_kwargs["max_trials"] = max_trials
    tuner_object = TUNER_CLASSES[tuner](**tuner_kwargs)

    fit_kwargs: dict[str, Any] = {
        "epochs": epochs,
        "callbacks": list(callbacks or []),
        "verbose": 1 if verbose >= 2 else 0,
    }
    if validation_data is not None:
        fit_kwargs["validation_data"] = validation_data
    else:
        fit_kwargs["validation_split"] = validation_split
    if y is not None:
        tuner_object.search(x, y, **fit_kwargs)
    else:
        tuner_object.search(x, **fit_kwargs)

    result = _collect(tuner_object)
    failed = result.failed_trials
    if failed:
        errors = "; ".join(f"trial {t.trial_id} {t.status}: {t.error}" for t in failed)
        warnings.warn(
            f"{len(failed)} of {len(result.trials)} trials did not complete: {errors}",
            FailedTrialsWarning,
            stacklevel=2,
        )
    return result


def _collect(tuner: Any) -> SearchResult:
    objective = tuner.oracle.objective
    oracle_trials = getattr(tuner.oracle, "trials", None)
    if isinstance(oracle_trials, dict):
        # The oracle is local (a single process, or the chief): it has every
        # trial, including those run before a resume or by workers.
        records = []
        for trial in oracle_trials.values():
            local = tuner.records.get(trial.trial_id)
            score = None
            if trial.status == "COMPLETED" and trial.metrics.exists(objective.name):
                score = float(trial.metrics.get_best_value(objective.name))
            seconds = None
            if trial.metrics.exists(SECONDS_METRIC):
                seconds = float(trial.metrics.get_last_value(SECONDS_METRIC))
            elif local is not None:
                seconds = local.seconds
            records.append(
                TrialRecord.from_trial(trial, tuner.search_space, score, seconds)
            )
    else:
        # A worker of a distributed search sees only the trials it ran.
        records = list(tuner.records.values())
    return SearchResult(
        records,
        objective=objective.name,
        direction=objective.direction,
        hyperparameter_names=tuner.search_space.names(),
        tuner=tuner,
    )
