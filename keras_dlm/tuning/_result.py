"""What a search found: TrialRecord, SearchResult and their table, CSV and plot."""

from __future__ import annotations

import csv
import dataclasses
import math
import os
from collections.abc import Sequence
from typing import Any

import keras

from keras_dlm._imports import import_optional


@dataclasses.dataclass
class TrialRecord:
    """One trial of a search.

    Attributes:
        trial_id: keras-tuner's trial id (``"0"``, ``"1"``, ... zero-padded).
        status: ``"COMPLETED"``, ``"FAILED"``, ``"INVALID"`` or ``"RUNNING"``.
        hyperparameters: every name of the search space, ``None`` when
            inactive, then the hyperparameters ``build_fn`` declared itself.
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

    @classmethod
    def from_trial(
        cls,
        trial: Any,
        search_space: Any,
        objective: float | None,
        seconds: float | None,
    ) -> TrialRecord:
        """The record of a keras-tuner `Trial`, its values named by `search_space`."""
        return cls(
            trial_id=trial.trial_id,
            status=str(trial.status),
            hyperparameters=search_space.values(trial.hyperparameters),
            objective=objective,
            seconds=seconds,
            message=trial.message,
        )

    @property
    def error(self) -> str | None:
        """The last line of the trial's traceback (the exception), if any."""
        if not self.message:
            return None
        lines = [line for line in self.message.strip().splitlines() if line.strip()]
        return lines[-1] if lines else None


class SearchResult:
    """What a search found: every trial, the best hyperparameters, the best model.

    Args:
        trials: the trials, in any order (kept in trial-id order).
        objective: the objective's name, e.g. ``"val_accuracy"``.
        direction: ``"max"`` or ``"min"``.
        hyperparameter_names: the table's hyperparameter columns; names found
            in the trials but not listed (a ``build_fn``'s own
            hyperparameters) are appended in the order they first appear.
        tuner: the keras-tuner tuner that ran the search, to rebuild models
            with (its ``load_trial_model(trial_id)`` when it has one, as the
            tuners of :func:`search` do, else its ``load_model``).

    Attributes:
        trials: a list of :class:`TrialRecord`, in trial-id order.
        objective: the objective's name.
        direction: ``"max"`` or ``"min"``.
        hyperparameter_names: the table's hyperparameter columns.
        tuner: the tuner, or ``None``.
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
        names = list(hyperparameter_names)
        for trial in self.trials:
            names += [name for name in trial.hyperparameters if name not in names]
        self.hyperparameter_names = names
        self.tuner = tuner

    @property
    def stopped_by_budget(self) -> bool:
        """Whether the search's ``time_budget`` ended it (or cut a trial short)."""
        return bool(getattr(self.tuner, "stopped_by_budget", False))

    @property
    def timing(self) -> Any:
        """The trials' measured cost (a ``TrialTiming``), or ``None`` if not known."""
        return getattr(self.tuner, "timing", None)

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
        if hasattr(self.tuner, "load_trial_model"):
            return self.tuner.load_trial_model(best.trial_id)
        return self.tuner.load_model(self.tuner.oracle.get_trial(best.trial_id))

    def retrain_best(
        self,
        x: Any,
        y: Any = None,
        *,
        epochs: int,
        cosine_decay: bool = False,
        verbose: int = 0,
        **fit_kwargs: Any,
    ) -> keras.Model:
        """Trains the best configuration afresh on ``x`` (e.g. training + validation data).

        Builds a new model with the best trial's hyperparameters (new weights,
        its batch size and schedule; a schedule counts its epochs on ``x``)
        and trains it for ``epochs`` epochs. Nothing is held out, so there is
        no validation score: evaluate the model on test data.

        Args:
            x, y: the training data, passed to ``fit``.
            epochs: number of epochs (an integer >= 1).
            cosine_decay: for a configuration without a schedule, let the
                learning rate fall from its value to 0 along a cosine over
                the ``epochs`` (``keras.optimizers.schedules.CosineDecay``):
                nothing is held out to pick the best epoch, so the last
                one's weights should not be those of a step at full rate.
            verbose: passed to ``fit``.
            **fit_kwargs: further ``fit`` arguments (callbacks, ...).

        Returns:
            The trained model.

        Raises:
            RuntimeError: no trial completed, or the tuner is not available.
        """
        from keras_dlm._checks import check_bool, check_integer

        epochs = check_integer("epochs", epochs)
        cosine_decay = check_bool("cosine_decay", cosine_decay)
        best = self.best_trial
        if best is None or self.tuner is None:
            raise RuntimeError(
                "There is no best configuration to retrain: "
                + ("no trial completed." if best is None else "no tuner.")
            )
        hyperparameters = self.tuner.oracle.get_trial(best.trial_id).hyperparameters
        hypermodel = self.tuner.hypermodel
        saved = (hypermodel.train_size, hypermodel.epochs)
        if hasattr(x, "__len__") and not isinstance(x, dict):
            hypermodel.train_size = len(x)
        hypermodel.epochs = epochs
        strategy = getattr(self.tuner, "distribution_strategy", None)
        try:
            if strategy is None:
                model = hypermodel.build(hyperparameters.copy())
            else:
                with strategy.scope():
                    model = hypermodel.build(hyperparameters.copy())
            values = hypermodel.search_space.values(hyperparameters)
            steps = hypermodel.steps_per_epoch(values)
            if cosine_decay and steps and (values.get("schedule") or "none") == "none":
                _decay_to_zero(model, hypermodel, epochs * steps)
            hypermodel.fit(
                hyperparameters,
                model,
                x,
                y,
                epochs=epochs,
                verbose=verbose,
                **fit_kwargs,
            )
        finally:
            hypermodel.train_size, hypermodel.epochs = saved
        return model

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

    def _columns(self) -> list[str]:
        return [
            "trial",
            "status",
            self.objective,
            "seconds",
            *self.hyperparameter_names,
        ]

    def to_csv(self, path: str | os.PathLike) -> None:
        """Writes the per-trial table to a CSV file (inactive values left empty)."""
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=[*self._columns(), "error"])
            writer.writeheader()
            for row in self.rows():
                writer.writerow({k: "" if v is None else v for k, v in row.items()})

    def table(self) -> str:
        """The per-trial table as aligned text, best trial marked with ``*``."""
        columns = self._columns()
        best = self.best_trial
        cells = [[" " + columns[0], *columns[1:]]]
        for trial, row in zip(self.trials, self.rows(), strict=True):
            mark = "*" if best is not None and trial is best else " "
            cells.append(
                [mark + str(row["trial"])] + [format_value(row[c]) for c in columns[1:]]
            )
        widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
        lines = [
            "  ".join(
                cell.ljust(width) for cell, width in zip(line, widths, strict=True)
            ).rstrip()
            for line in cells
        ]
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
        """Plots the trials into ``path``: two views side by side.

        Left: the objective against the learning rate, coloured by dropout.
        Right: parallel coordinates of every hyperparameter (optimizer,
        schedule, the schedules' parameters and a ``build_fn``'s own
        included) and the objective, one line per trial coloured by its
        objective; a hyperparameter inactive in a trial (``None``) is drawn on
        its axis's ``-`` mark below the others. Needs matplotlib (extra
        ``plot``). Trials that did not complete are left out and counted in
        the title.
        """
        import_optional("matplotlib", extra="plot", feature="SearchResult.plot")
        from matplotlib.figure import Figure

        completed = self.completed_trials
        figure = Figure(figsize=(13, 4.5), dpi=100)
        axes, parallel = figure.subplots(
            1, 2, gridspec_kw={"width_ratios": [1, max(1.6, len(self._axes()) / 5)]}
        )
        self._plot_learning_rate(figure, axes, completed)
        self._plot_parallel(figure, parallel, completed)
        failed = len(self.failed_trials)
        figure.suptitle(
            f"{len(completed)} completed trials"
            + (f", {failed} failed (not shown)" if failed else "")
        )
        figure.tight_layout()
        figure.savefig(os.fspath(path))

    def _plot_learning_rate(
        self, figure: Any, axes: Any, completed: list[TrialRecord]
    ) -> None:
        if completed:
            rates = [t.hyperparameters.get("learning_rate") for t in completed]
            dropouts = [t.hyperparameters.get("dropout") for t in completed]
            points = axes.scatter(
                rates,
                [t.objective for t in completed],
                c=dropouts,
                cmap="viridis",
                edgecolors="black",
                s=45,
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
            if all(isinstance(r, (int, float)) and r > 0 for r in rates):
                axes.set_xscale("log")
        axes.set_xlabel("learning rate")
        axes.set_ylabel(self.objective)
        axes.grid(True, alpha=0.3)

    def _axes(self) -> list[str]:
        """The parallel-coordinates axes: hyperparameters taking a value, then the objective."""
        names = [
            name
            for name in self.hyperparameter_names
            if any(t.hyperparameters.get(name) is not None for t in self.trials)
        ]
        return [*names, self.objective]

    def _plot_parallel(
        self, figure: Any, axes: Any, completed: list[TrialRecord]
    ) -> None:
        names = self._axes()
        positions = {
            name: _axis_positions(name, completed, self.objective) for name in names
        }
        objectives = [t.objective for t in completed]
        low = min(objectives, default=0.0)
        high = max(objectives, default=1.0)
        import matplotlib

        cmap = matplotlib.colormaps["viridis"]
        best = self.best_trial
        for trial in completed:
            ys = [positions[name][0](trial) for name in names]
            share = 0.5 if high == low else (trial.objective - low) / (high - low)
            is_best = trial is best
            axes.plot(
                range(len(names)),
                ys,
                color="red" if is_best else cmap(share),
                linewidth=2.5 if is_best else 1.2,
                alpha=1.0 if is_best else 0.8,
                marker="o",
                markersize=3,
                zorder=3 if is_best else 2,
            )
        for index, name in enumerate(names):
            axes.axvline(index, color="grey", linewidth=0.8, zorder=1)
            for y, label in positions[name][1]:
                axes.annotate(
                    label,
                    (index, y),
                    xytext=(3, 0),
                    textcoords="offset points",
                    fontsize=7,
                    va="center",
                )
        axes.set_xticks(range(len(names)))
        axes.set_xticklabels(names, rotation=30, ha="right", fontsize=8)
        axes.set_yticks([])
        axes.set_ylim(-0.2, 1.05)
        axes.set_xlim(-0.3, len(names) - 0.4)
        axes.set_title(f"every hyperparameter (red: best; colour: {self.objective})")


def _decay_to_zero(model: keras.Model, hypermodel: Any, steps: int) -> None:
    """Recompiles ``model`` with its optimizer's rate decaying to 0 over ``steps``."""
    config = model.optimizer.get_config()
    config["learning_rate"] = keras.optimizers.schedules.CosineDecay(
        float(config["learning_rate"]), decay_steps=max(1, steps)
    )
    model.compile(
        optimizer=type(model.optimizer).from_config(config),
        loss=hypermodel.loss,
        metrics=hypermodel.metrics,
    )
    if model.built:
        model.optimizer.build(model.trainable_variables)


def _axis_positions(
    name: str, trials: list[TrialRecord], objective: str
) -> tuple[Any, list[tuple[float, str]]]:
    """Maps a parameter's values to [0, 1] (inactive: -0.12) and labels the axis.

    Numbers are scaled between their smallest and largest value (on a log
    scale when all are positive and they span more than a decade); anything
    else is a category, spread evenly in order of first appearance.
    """
    inactive = -0.12
    if name == objective:
        values = [t.objective for t in trials]
    else:
        values = [t.hyperparameters.get(name) for t in trials]
    present = [v for v in values if v is not None]
    numeric = present and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in present
    )
    if numeric:
        low, high = min(present), max(present)
        use_log = low > 0 and high / low > 10
        transform = math.log10 if use_log else float
        span = transform(high) - transform(low)

        def position(value: Any) -> float:
            if value is None:
                return inactive
            return 0.5 if span == 0 else (transform(value) - transform(low)) / span

        labels = [(0.0, format_value(low)), (1.0, format_value(high))]
        if span == 0:
            labels = [(0.5, format_value(low))]
    else:
        categories = list(dict.fromkeys(str(v) for v in present))
        step = 1.0 / max(1, len(categories) - 1)
        places = {
            c: (0.5 if len(categories) == 1 else i * step)
            for i, c in enumerate(categories)
        }

        def position(value: Any) -> float:
            return inactive if value is None else places[str(value)]

        labels = [(y, c) for c, y in places.items()]
    if any(v is None for v in values):
        labels.append((inactive, "-"))
    if name == objective:
        return (lambda trial: position(trial.objective)), labels
    return (lambda trial: position(trial.hyperparameters.get(name))), labels


def format_value(value: Any) -> str:
    """A hyperparameter or metric value as a short table cell (``-`` for None)."""
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
