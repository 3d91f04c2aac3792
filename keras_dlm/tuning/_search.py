"""search(): runs a keras-tuner search and gathers every trial into a SearchResult."""

from __future__ import annotations

import csv
import dataclasses
import math
import os
import time
import warnings
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from keras_dlm._imports import import_optional
from keras_dlm.tuning._hypermodel import TunableModel
from keras_dlm.tuning._kt import keras_tuner

TUNERS = ("bayesian", "random", "hyperband", "grid")
# The metric under which each trial's wall time reaches the oracle (and so the
# chief, in a distributed search).
_SECONDS_METRIC = "trial_seconds"


@dataclasses.dataclass
class TrialRecord:
    """One trial of a search.

    Attributes:
        trial_id: keras-tuner's trial id (``"0"``, ``"1"``, ... zero-padded).
        status: ``"COMPLETED"``, ``"FAILED"``, ``"INVALID"`` or ``"RUNNING"``.
        hyperparameters: every name of the search space, ``None`` when inactive.
        objective: the objective's best value over the trial's epochs, or
            ``None`` when the trial did not complete.
        seconds: wall time of the trial's training, if known.
        message: the error (traceback) of a trial that did not complete.
    """

    trial_id: str
    status: str
    hyperparameters: dict[str, Any]
    objective: float | None
    seconds: float | None
    message: str | None = None

    @property
    def error(self) -> str | None:
        """The last line of the trial's traceback (the exception), if any."""
        if not self.message:
            return None
        lines = [line for line in self.message.strip().splitlines() if line.strip()]
        return lines[-1] if lines else None


class SearchResult:
    """What a search found: every trial, the best hyperparameters, the best model.

    Attributes:
        trials: a list of :class:`TrialRecord`, in trial-id order.
        objective: the objective's name, e.g. ``"val_accuracy"``.
        direction: ``"max"`` or ``"min"``.
        hyperparameter_names: the table's hyperparameter columns.
        tuner: the keras-tuner tuner that ran the search.
    """

    def __init__(
        self,
        trials: Sequence[TrialRecord],
        *,
        objective: str,
        direction: str,
        hyperparameter_names: Sequence[str],
        tuner: Any = None,
    ) -> None:
        self.trials = sorted(trials, key=lambda t: (len(t.trial_id), t.trial_id))
        self.objective = objective
        self.direction = direction
        self.hyperparameter_names = list(hyperparameter_names)
        self.tuner = tuner

    @property
    def completed_trials(self) -> list[TrialRecord]:
        """The trials whose status is COMPLETED and objective is a number."""
        return [
            t
            for t in self.trials
            if t.status == "COMPLETED"
            and t.objective is not None
            and not math.isnan(t.objective)
        ]

    @property
    def failed_trials(self) -> list[TrialRecord]:
        """The trials that did not complete (failed, invalid or interrupted)."""
        completed = {id(t) for t in self.completed_trials}
        return [t for t in self.trials if id(t) not in completed]

    @property
    def best_trial(self) -> TrialRecord | None:
        """The completed trial with the best objective, or ``None``."""
        completed = self.completed_trials
        if not completed:
            return None
        pick = max if self.direction == "max" else min
        return pick(completed, key=lambda t: t.objective)

    @property
    def best_hyperparameters(self) -> dict[str, Any] | None:
        """The best trial's hyperparameters (inactive ones ``None``; no ``tuner/*`` keys)."""
        best = self.best_trial
        return None if best is None else dict(best.hyperparameters)

    @property
    def best_objective(self) -> float | None:
        """The best trial's objective value."""
        best = self.best_trial
        return None if best is None else best.objective

    def best_model(self) -> keras.Model:
        """Rebuilds the best trial's model with the weights of its best epoch.

        Raises:
            RuntimeError: no trial completed, or the tuner is not available.
        """
        best = self.best_trial
        if best is None:
            raise RuntimeError(
                f"No trial completed ({len(self.failed_trials)} of {len(self.trials)} "
                "failed), so there is no best model."
            )
        if self.tuner is None:
            raise RuntimeError("This SearchResult has no tuner to load models with.")
        trial = self.tuner._keras_dlm_trials.get(best.trial_id)
        if trial is None:
            trial = self.tuner.oracle.get_trial(best.trial_id)
        strategy = getattr(self.tuner, "distribution_strategy", None)
        if strategy is None:
            return self.tuner.load_model(trial)
        with strategy.scope():
            return self.tuner.load_model(trial)

    def rows(self) -> list[dict[str, Any]]:
        """The per-trial table as dictionaries: trial, status, objective, seconds, hyperparameters, error."""
        rows = []
        for trial in self.trials:
            row = {
                "trial": trial.trial_id,
                "status": trial.status,
                self.objective: trial.objective,
                "seconds": None if trial.seconds is None else round(trial.seconds, 2),
            }
            for name in self.hyperparameter_names:
                row[name] = trial.hyperparameters.get(name)
            row["error"] = trial.error
            rows.append(row)
        return rows

    def to_csv(self, path: str | os.PathLike) -> None:
        """Writes the per-trial table to a CSV file (inactive values left empty)."""
        rows = self.rows()
        columns = [
            "trial",
            "status",
            self.objective,
            "seconds",
            *self.hyperparameter_names,
            "error",
        ]
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            for row in rows:
                writer.writerow({k: "" if v is None else v for k, v in row.items()})

    def table(self) -> str:
        """The per-trial table as aligned text, best trial marked with ``*``."""
        columns = [
            "trial",
            "status",
            self.objective,
            "seconds",
            *self.hyperparameter_names,
        ]
        best = self.best_trial
        lines = []
        cells = [columns]
        for trial, row in zip(self.trials, self.rows(), strict=True):
            mark = "*" if best is not None and trial is best else " "
            cells.append(
                [mark + str(row["trial"])] + [_format(row[c]) for c in columns[1:]]
            )
        cells[0] = [" " + columns[0], *columns[1:]]
        widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
        for line in cells:
            lines.append(
                "  ".join(
                    cell.ljust(width) for cell, width in zip(line, widths, strict=True)
                ).rstrip()
            )
        lines.append(self.summary())
        for trial in self.failed_trials:
            lines.append(f"  trial {trial.trial_id} {trial.status}: {trial.error}")
        return "\n".join(lines)

    def summary(self) -> str:
        """One line: how many trials completed and failed, and the best objective."""
        text = (
            f"{len(self.completed_trials)} of {len(self.trials)} trials completed, "
            f"{len(self.failed_trials)} failed"
        )
        if self.best_trial is not None:
            text += (
                f"; best {self.objective} = {self.best_objective:.4f} "
                f"(trial {self.best_trial.trial_id})"
            )
        return text

    def plot(self, path: str | os.PathLike) -> None:
        """Plots the objective against the learning rate, coloured by dropout, into ``path``.

        Needs matplotlib (extra ``plot``). Trials that did not complete are
        left out and counted in the title.
        """
        import_optional("matplotlib", extra="plot", feature="SearchResult.plot")
        from matplotlib.figure import Figure

        completed = self.completed_trials
        figure = Figure(figsize=(6, 4), dpi=100)
        axes = figure.add_subplot(1, 1, 1)
        if completed:
            rates = [t.hyperparameters.get("learning_rate") for t in completed]
            dropouts = [t.hyperparameters.get("dropout") for t in completed]
            scores = [t.objective for t in completed]
            points = axes.scatter(
                rates, scores, c=dropouts, cmap="viridis", edgecolors="black", s=45
            )
            figure.colorbar(points, ax=axes, label="dropout")
            best = self.best_trial
            axes.scatter(
                [best.hyperparameters.get("learning_rate")],
                [best.objective],
                marker="*",
                s=240,
                facecolors="none",
                edgecolors="red",
                label=f"best (trial {best.trial_id})",
            )
            axes.legend(loc="best")
            if all(r is not None and r > 0 for r in rates):
                axes.set_xscale("log")
        axes.set_xlabel("learning rate")
        axes.set_ylabel(self.objective)
        failed = len(self.failed_trials)
        axes.set_title(
            f"{len(completed)} completed trials"
            + (f", {failed} failed (not shown)" if failed else "")
        )
        axes.grid(True, alpha=0.3)
        figure.tight_layout()
        figure.savefig(os.fspath(path))

    def __repr__(self) -> str:
        return f"SearchResult({self.summary()})"


def _format(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e4):
            return f"{value:.3g}"
        return (
            f"{value:.4f}".rstrip("0").rstrip(".")
            if not value.is_integer()
            else f"{value:g}"
        )
    return str(value)


def _reduce_results(results: Any, objective: Any) -> dict[str, float]:
    """The metrics at each execution's best epoch, averaged over executions."""
    if not isinstance(results, list):
        results = [results]
    per_execution = []
    for result in results:
        if isinstance(result, keras.callbacks.History):
            history = result.history
            epochs = len(history.get(objective.name, []))
            if epochs == 0:
                raise ValueError(
                    f"The objective {objective.name!r} is not among the metrics "
                    f"recorded by fit: {sorted(history)}. Pass validation data or "
                    "choose another objective."
                )
            best_epoch = 0
            for epoch in range(1, epochs):
                if objective.better_than(
                    history[objective.name][epoch], history[objective.name][best_epoch]
                ):
                    best_epoch = epoch
            per_execution.append(
                {
                    name: float(values[best_epoch])
                    for name, values in history.items()
                    if len(values) == epochs
                }
            )
        elif isinstance(result, dict):
            per_execution.append({k: float(v) for k, v in result.items()})
        else:
            per_execution.append({objective.name: float(result)})
    names = set.intersection(*(set(m) for m in per_execution))
    return {name: float(np.mean([m[name] for m in per_execution])) for name in names}


class _RecordingTunerMixin:
    """Times every trial, reports the time as a metric, and prints one line per trial."""

    def _keras_dlm_setup(self, search_space: Any, verbose: int) -> None:
        self._keras_dlm_space = search_space
        self._keras_dlm_verbose = verbose
        self._keras_dlm_trials: dict[str, Any] = {}
        self._keras_dlm_local: dict[str, TrialRecord] = {}
        self._keras_dlm_started: dict[str, float] = {}
        self._keras_dlm_metrics: dict[str, dict[str, float]] = {}

    def on_trial_begin(self, trial: Any) -> None:
        self._keras_dlm_started[trial.trial_id] = time.perf_counter()
        super().on_trial_begin(trial)

    def run_trial(self, trial: Any, *args: Any, **kwargs: Any) -> dict[str, float]:
        start = time.perf_counter()
        results = super().run_trial(trial, *args, **kwargs)
        metrics = _reduce_results(results, self.oracle.objective)
        metrics[_SECONDS_METRIC] = time.perf_counter() - start
        # A worker's copy of the trial never receives the metrics it reports
        # to the chief, so keep them for its own records.
        self._keras_dlm_metrics[trial.trial_id] = metrics
        return metrics

    def on_trial_end(self, trial: Any) -> None:
        super().on_trial_end(trial)
        seconds = time.perf_counter() - self._keras_dlm_started.pop(
            trial.trial_id, time.perf_counter()
        )
        objective = None
        name = self.oracle.objective.name
        reported = self._keras_dlm_metrics.get(trial.trial_id, {})
        if trial.status == "COMPLETED":
            if trial.metrics.exists(name):
                objective = float(trial.metrics.get_best_value(name))
            elif name in reported:
                objective = reported[name]
        record = TrialRecord(
            trial_id=trial.trial_id,
            status=str(trial.status),
            hyperparameters=self._keras_dlm_space.values(trial.hyperparameters),
            objective=objective,
            seconds=seconds,
            message=trial.message,
        )
        self._keras_dlm_trials[trial.trial_id] = trial
        self._keras_dlm_local[trial.trial_id] = record
        if self._keras_dlm_verbose >= 1 or record.status != "COMPLETED":
            values = "  ".join(
                f"{k}={_format(v)}"
                for k, v in record.hyperparameters.items()
                if v is not None
            )
            score = "" if objective is None else f"  {name}={objective:.4f}"
            line = f"[{self.tuner_id}] trial {trial.trial_id}  {record.status}{score}  {seconds:.1f}s  {values}"
            if record.error:
                line += f"\n    error: {record.error}"
            print(line, flush=True)


def _tuner_class(name: str) -> type:
    bases = {
        "random": keras_tuner.RandomSearch,
        "bayesian": keras_tuner.BayesianOptimization,
        "hyperband": keras_tuner.Hyperband,
        "grid": keras_tuner.GridSearch,
    }
    base = bases[name]
    return type(f"_Recording{base.__name__}", (_RecordingTunerMixin, base), {})


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
) -> SearchResult:
    """Searches the hypermodel's hyperparameters with keras-tuner.

    Every trial's status is checked after the search: keras-tuner's own
    ``search()`` returns normally when trials fail, so this function warns
    (``RuntimeWarning``) with the number of failed trials and their errors,
    and the result lists them.

    Resuming: with ``overwrite=False`` an existing project in
    ``directory/project_name`` is reloaded and the search continues up to
    ``max_trials``; finished trials are not run again, and a trial that was
    running when the search was interrupted is run again. keras-tuner picks
    its state file by ``KERASTUNER_TUNER_ID`` (default ``tuner0``) and starts
    an empty search when that file is missing: this function warns then
    (``UserWarning``).

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
        seed: the oracle's random seed.
        callbacks: Keras callbacks for every trial (deep-copied per trial).
            A ``keras.callbacks.TensorBoard`` among them gets one log folder
            per trial and HParams records (TensorFlow backend).
        distribution_strategy: a ``tf.distribute.Strategy`` for each trial
            (TensorFlow backend).
        verbose: 0 prints only failed trials, 1 one line per trial, 2 also
            keras-tuner's and Keras' own progress output.

    Returns:
        A :class:`SearchResult`.
    """
    if not isinstance(hypermodel, TunableModel):
        raise TypeError(
            f"`hypermodel` must be a TunableModel; received {hypermodel!r}."
        )
    if tuner not in TUNERS:
        raise ValueError(f"`tuner` must be one of {TUNERS}; received {tuner!r}.")
    for arg_name, value in (("max_trials", max_trials), ("epochs", epochs)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(
                f"`{arg_name}` must be a positive integer; received {value!r}."
            )
    if validation_data is None and not 0.0 < validation_split < 1.0:
        raise ValueError(
            "`validation_split` must be in (0, 1) when `validation_data` is None; "
            f"received {validation_split!r}."
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
            warnings.warn(message, UserWarning, stacklevel=2)

    tuner_kwargs: dict[str, Any] = {
        "hypermodel": hypermodel,
        "objective": objective,
        "seed": seed,
        "directory": os.fspath(directory),
        "project_name": project_name,
        "overwrite": overwrite,
        "distribution_strategy": distribution_strategy,
    }
    if tuner == "hyperband":
        tuner_kwargs["max_epochs"] = max(2, epochs)
    else:
        tuner_kwargs["max_trials"] = max_trials
    tuner_object = _tuner_class(tuner)(**tuner_kwargs)
    tuner_object._keras_dlm_setup(hypermodel.search_space, verbose)

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

    result = _collect(tuner_object, hypermodel.search_space)
    failed = result.failed_trials
    if failed:
        errors = "; ".join(f"trial {t.trial_id} {t.status}: {t.error}" for t in failed)
        warnings.warn(
            f"{len(failed)} of {len(result.trials)} trials did not complete: {errors}",
            RuntimeWarning,
            stacklevel=2,
        )
    return result


def _collect(tuner: Any, search_space: Any) -> SearchResult:
    objective = tuner.oracle.objective
    oracle_trials = getattr(tuner.oracle, "trials", None)
    records = []
    if isinstance(oracle_trials, dict):
        # The oracle is local (a single process, or the chief): it has every
        # trial, including those run before a resume or by workers.
        for trial in oracle_trials.values():
            local = tuner._keras_dlm_local.get(trial.trial_id)
            score = None
            if trial.status == "COMPLETED" and trial.metrics.exists(objective.name):
                score = float(trial.metrics.get_best_value(objective.name))
            seconds = None
            if trial.metrics.exists(_SECONDS_METRIC):
                seconds = float(trial.metrics.get_last_value(_SECONDS_METRIC))
            elif local is not None:
                seconds = local.seconds
            records.append(
                TrialRecord(
                    trial_id=trial.trial_id,
                    status=str(trial.status),
                    hyperparameters=search_space.values(trial.hyperparameters),
                    objective=score,
                    seconds=seconds,
                    message=trial.message,
                )
            )
    else:
        # A worker of a distributed search sees only the trials it ran.
        records = list(tuner._keras_dlm_local.values())
    return SearchResult(
        records,
        objective=objective.name,
        direction=objective.direction,
        hyperparameter_names=search_space.names(),
        tuner=tuner,
    )
