"""keras-tuner tuners that time, record and report every trial of a search."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

import keras

from keras_dlm.tuning._budget import (
    EpochTimer,
    StopAtDeadline,
    TrialTiming,
    measure_timing,
)
from keras_dlm.tuning._kt import convert_to_metrics_dict, keras_tuner
from keras_dlm.tuning._result import TrialRecord, format_value

# The metric under which each trial's wall time reaches the oracle (and so the
# chief, in a distributed search).
SECONDS_METRIC = "trial_seconds"


class EpochProgress(keras.callbacks.Callback):
    """Prints a compact progress line during a trial, so a long one does not look hung.

    On a terminal the line is rewritten in place after every epoch
    (``[tuner0] trial 3  epoch 4/10  val_accuracy=0.9312  12.5s``); elsewhere
    (a log file, a pipe) a line is printed at most every ``interval`` seconds.

    Args:
        label: what the line starts with, e.g. ``"[tuner0] trial 3"``.
        objective: the metric to show.
        interval: seconds between lines when the output is not a terminal.
        in_place: rewrite one line (``None``: when stdout is a terminal).
    """

    def __init__(
        self,
        label: str,
        objective: str,
        *,
        interval: float = 10.0,
        in_place: bool | None = None,
    ) -> None:
        super().__init__()
        self.label = label
        self.objective = objective
        self.interval = interval
        self.in_place = in_place
        self._start = 0.0
        self._last = 0.0
        self._shown = False

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._start = self._last = time.perf_counter()
        self._shown = False

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        now = time.perf_counter()
        in_place = sys.stdout.isatty() if self.in_place is None else self.in_place
        if not in_place and now - self._last < self.interval:
            return
        self._last = now
        total = self.params.get("epochs") if self.params else None
        value = (logs or {}).get(self.objective)
        text = f"{self.label}  epoch {epoch + 1}" + (f"/{total}" if total else "")
        if value is not None:
            text += f"  {self.objective}={float(value):.4f}"
        text += f"  {now - self._start:.1f}s"
        if in_place:
            print("\r" + text, end="", flush=True)
            self._shown = True
        else:
            print(text, flush=True)

    def on_train_end(self, logs: dict | None = None) -> None:
        if self._shown:
            # Clear the in-place line: the trial's own line replaces it.
            print("\r\033[K", end="", flush=True)


class _RecordingTunerMixin:
    """Times every trial, reports the time as a metric, and prints one line per trial.

    Args:
        search_space: the hypermodel's ``SearchSpace``, to read trials'
            values with.
        verbose: 0 prints only failed trials; 1 one line per trial and
            per-epoch progress; 2 leaves the progress to Keras.
        time_budget: seconds of wall time for :meth:`search`, or ``None``: no
            trial starts once the trials measured so far say that it would
            not end in time, and the running one stops at the end of the
            epoch during which the time ran out (it still completes, with its
            best epoch so far). Applies to this process's tuner.
        time_reserve: a function of the trials' measured
            :class:`TrialTiming` (``None`` before one is known) returning the
            seconds at the end of ``time_budget`` to leave to what follows the
            search (e.g. a retraining); the trials stop in time for it.
        *args, **kwargs: the keras-tuner tuner's own arguments.
    """

    def __init__(
        self,
        *args: Any,
        search_space: Any,
        verbose: int,
        time_budget: float | None = None,
        time_reserve: Callable[[TrialTiming | None], float] | None = None,
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        self.search_space = search_space
        self.verbose = verbose
        self.time_budget = time_budget
        self.time_reserve = time_reserve
        self._deadline: float | None = None
        self._trial_epochs: int | None = None
        # (trial seconds, each epoch's seconds) of every trial run here.
        self._timings: list[tuple[float, list[float]]] = []
        self._cycle_start = 0.0
        self._epoch_seconds: dict[str, list[float]] = {}
        self.stopped_by_budget = False
        # Trials this process ran, by id: a worker of a distributed search
        # knows no others, and its copies hold the metrics it reported.
        self.trials_run: dict[str, Any] = {}
        self.records: dict[str, TrialRecord] = {}
        self._started: dict[str, float] = {}
        self._metrics: dict[str, dict[str, float]] = {}

    @property
    def timing(self) -> TrialTiming | None:
        """What a trial costs, measured on the trials this process ran.

        The first trial also pays one-time costs (keras-tuner's imports, the
        process's first tracing of a training step: 11 s against 2.3 s for
        the next ones on the digits CNN, measured), so it counts only until a
        second trial has run.
        """
        return measure_timing(self._timings[1:] or self._timings)

    def trials_deadline(self) -> float | None:
        """When the trials must end: the budget's end less the reserve."""
        if self._deadline is None:
            return None
        reserve = self.time_reserve(self.timing) if self.time_reserve else 0.0
        return self._deadline - reserve

    def search(self, *args: Any, **kwargs: Any) -> None:
        if self.time_budget is not None:
            self._deadline = time.perf_counter() + self.time_budget
        self._cycle_start = time.perf_counter()
        # Hyperband's trials vary in length: only the deadline ends them.
        if not isinstance(self, keras_tuner.Hyperband):
            self._trial_epochs = kwargs.get("epochs")
        super().search(*args, **kwargs)

    def pre_create_trial(self) -> None:
        super().pre_create_trial()
        deadline = self.trials_deadline()
        if deadline is None or not self.oracle.trials:
            return  # a search always runs its first trial
        now = time.perf_counter()
        timing = self.timing
        if self._trial_epochs and timing is not None and len(self._timings) > 1:
            # A trial that would be cut short scores below what its
            # configuration can do: its time is better left to the others.
            # (Not judged from the first trial alone: its one-time costs
            # would overstate every later trial's.)
            now += timing.trial_seconds(self._trial_epochs)
        if now >= deadline:
            # The oracle stops handing out trials once it holds max_trials.
            self.oracle.max_trials = len(self.oracle.trials)
            self.stopped_by_budget = True

    def on_trial_begin(self, trial: Any) -> None:
        self._started[trial.trial_id] = time.perf_counter()
        super().on_trial_begin(trial)

    def run_trial(self, trial: Any, *args: Any, **kwargs: Any) -> dict[str, float]:
        start = time.perf_counter()
        if self.verbose == 1:
            progress = EpochProgress(
                f"[{self.tuner_id}] trial {trial.trial_id}", self.oracle.objective.name
            )
            kwargs["callbacks"] = [*kwargs.get("callbacks", []), progress]
        deadline = self.trials_deadline()
        if deadline is not None:
            stop = StopAtDeadline(deadline)
            kwargs["callbacks"] = [*kwargs.get("callbacks", []), stop]
        timer = EpochTimer()
        kwargs["callbacks"] = [*kwargs.get("callbacks", []), timer]
        results = super().run_trial(trial, *args, **kwargs)
        self._epoch_seconds[trial.trial_id] = timer.seconds
        if deadline is not None and stop.stopped_epoch is not None:
            self.stopped_by_budget = True
        _check_objective_recorded(results, self.oracle.objective.name)
        metrics = {
            name: float(value)
            for name, value in convert_to_metrics_dict(
                results, self.oracle.objective
            ).items()
        }
        metrics[SECONDS_METRIC] = time.perf_counter() - start
        self._metrics[trial.trial_id] = metrics
        return metrics

    def on_trial_end(self, trial: Any) -> None:
        super().on_trial_end(trial)
        seconds = time.perf_counter() - self._started.pop(
            trial.trial_id, time.perf_counter()
        )
        epochs = self._epoch_seconds.pop(trial.trial_id, None)
        if epochs:
            # From the previous trial's end: the oracle's work choosing this
            # trial (a Gaussian process fit that grows with the trials) counts.
            self._timings.append((time.perf_counter() - self._cycle_start, epochs))
        self._cycle_start = time.perf_counter()
        objective = None
        name = self.oracle.objective.name
        reported = self._metrics.get(trial.trial_id, {})
        if trial.status == "COMPLETED":
            if trial.metrics.exists(name):
                objective = float(trial.metrics.get_best_value(name))
            elif name in reported:
                objective = reported[name]
        record = TrialRecord.from_trial(trial, self.search_space, objective, seconds)
        self.trials_run[trial.trial_id] = trial
        self.records[trial.trial_id] = record
        if self.verbose >= 1 or record.status != "COMPLETED":
            values = "  ".join(
                f"{k}={format_value(v)}"
                for k, v in record.hyperparameters.items()
                if v is not None
            )
            score = "" if objective is None else f"  {name}={objective:.4f}"
            line = (
                f"[{self.tuner_id}] trial {trial.trial_id}  {record.status}{score}  "
                f"{seconds:.1f}s  {values}"
            )
            if record.error:
                line += f"\n    error: {record.error}"
            print(line, flush=True)

    def load_trial_model(self, trial_id: str) -> keras.Model:
        """Rebuilds a trial's model with the weights of its best epoch."""
        trial = self.trials_run.get(trial_id) or self.oracle.get_trial(trial_id)
        strategy = getattr(self, "distribution_strategy", None)
        if strategy is None:
            return self.load_model(trial)
        with strategy.scope():
            return self.load_model(trial)


def _check_objective_recorded(results: Any, objective: str) -> None:
    """Refuses a fit history without the objective, naming what it has."""
    for result in results if isinstance(results, list) else [results]:
        if isinstance(result, keras.callbacks.History) and not result.history.get(
            objective
        ):
            raise ValueError(
                f"The objective {objective!r} is not among the metrics recorded "
                f"by fit: {sorted(result.history)}. Pass validation data or choose "
                "another objective."
            )


class RecordingRandomSearch(_RecordingTunerMixin, keras_tuner.RandomSearch):
    """keras-tuner's RandomSearch, recording every trial."""


class RecordingBayesianOptimization(
    _RecordingTunerMixin, keras_tuner.BayesianOptimization
):
    """keras-tuner's BayesianOptimization, recording every trial."""


class RecordingHyperband(_RecordingTunerMixin, keras_tuner.Hyperband):
    """keras-tuner's Hyperband, recording every trial."""


class RecordingGridSearch(_RecordingTunerMixin, keras_tuner.GridSearch):
    """keras-tuner's GridSearch, recording every trial."""


TUNER_CLASSES = {
    "bayesian": RecordingBayesianOptimization,
    "random": RecordingRandomSearch,
    "hyperband": RecordingHyperband,
    "grid": RecordingGridSearch,
}
