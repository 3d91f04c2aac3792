from __future__ import annotations

import csv
import json
import os
import re

import keras
import pytest

from keras_dlm.tuning import SearchSpace, TunableModel, check_resume, search, state_file

RANGES = {
    "dropout": (0.0, 0.4),
    "learning_rate": (1e-3, 0.3),
    "momentum": (0.0, 0.9),
    "optimizers": ("sgd", "adam"),
    "schedules": ("none", "step", "cliff"),
}


def _hypermodel(build_fn):
    space = SearchSpace(
        dropout=RANGES["dropout"],
        learning_rate=RANGES["learning_rate"],
        momentum=RANGES["momentum"],
        optimizers=RANGES["optimizers"],
        schedules=RANGES["schedules"],
    )
    return TunableModel(
        build_fn, space, loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )


def test_tiny_search(tmp_path, tiny_digits, build_fn, check_in_space):
    (x, y), (x_val, y_val) = tiny_digits
    result = search(
        _hypermodel(build_fn),
        x,
        y,
        validation_data=(x_val, y_val),
        tuner="bayesian",  # the default tuner (its first trials are random)
        max_trials=2,
        epochs=1,
        directory=tmp_path,
        seed=3,
        verbose=0,
    )
    assert len(result.trials) == 2
    assert [t.status for t in result.trials] == ["COMPLETED", "COMPLETED"]
    assert not result.failed_trials
    assert result.objective == "val_accuracy" and result.direction == "max"
    for trial in result.trials:
        check_in_space(trial.hyperparameters, **RANGES)
        assert trial.seconds is not None and trial.seconds > 0
    best = result.best_hyperparameters
    check_in_space(best, **RANGES)
    assert set(best) == set(result.hyperparameter_names)
    assert not any(name.startswith("tuner/") for name in best)
    assert result.best_objective == max(t.objective for t in result.trials)

    # The best model carries the weights of the best epoch: evaluating it on
    # the validation data gives back the objective keras-tuner recorded.
    model = result.best_model()
    scores = model.evaluate(x_val, y_val, verbose=0, return_dict=True)
    assert scores["accuracy"] == pytest.approx(result.best_objective, abs=1e-6)

    result.to_csv(tmp_path / "trials.csv")
    with open(tmp_path / "trials.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["trial"] for row in rows] == [t.trial_id for t in result.trials]
    assert {row["status"] for row in rows} == {"COMPLETED"}
    for row, trial in zip(rows, result.trials, strict=True):
        assert float(row["val_accuracy"]) == pytest.approx(trial.objective)
        inactive = [
            name for name, value in trial.hyperparameters.items() if value is None
        ]
        assert inactive and all(row[name] == "" for name in inactive)
    result.plot(tmp_path / "trials.png")
    assert (tmp_path / "trials.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = result.table()
    assert "2 of 2 trials completed, 0 failed" in table
    json.dumps(best)  # best hyperparameters are plain JSON values


class _InterruptSecondFit(keras.callbacks.Callback):
    """Raises KeyboardInterrupt (as Ctrl-C would) in the second trial's training."""

    fits = 0

    def on_train_begin(self, logs=None):
        type(self).fits += 1
        if type(self).fits == 2:
            raise KeyboardInterrupt


class _CountFits(keras.callbacks.Callback):
    fits = 0

    def on_train_begin(self, logs=None):
        type(self).fits += 1


def test_resume_after_interruption(tmp_path, tiny_digits, build_fn, monkeypatch):
    monkeypatch.delenv("KERASTUNER_TUNER_ID", raising=False)
    (x, y), validation = tiny_digits
    common = dict(
        validation_data=validation,
        tuner="random",
        max_trials=2,
        epochs=1,
        directory=tmp_path,
        project_name="resumable",
        seed=5,
        verbose=0,
    )
    with pytest.raises(KeyboardInterrupt):
        search(_hypermodel(build_fn), x, y, callbacks=[_InterruptSecondFit()], **common)
    trial_0 = tmp_path / "resumable" / "trial_0" / "trial.json"
    before = json.loads(trial_0.read_text())
    assert before["status"] == "COMPLETED"
    assert check_resume(tmp_path, "resumable") is None

    _CountFits.fits = 0
    result = search(_hypermodel(build_fn), x, y, callbacks=[_CountFits()], **common)
    # Only the interrupted trial ran again; trial 0 was kept as it was.
    assert _CountFits.fits == 1
    assert [t.trial_id for t in result.trials] == ["0", "1"]
    assert [t.status for t in result.trials] == ["COMPLETED", "COMPLETED"]
    assert json.loads(trial_0.read_text()) == before
    assert result.trials[0].objective == pytest.approx(
        before["metrics"]["metrics"]["val_accuracy"]["observations"][0]["value"][0]
    )

    # Resuming a finished search runs nothing.
    _CountFits.fits = 0
    result = search(_hypermodel(build_fn), x, y, callbacks=[_CountFits()], **common)
    assert _CountFits.fits == 0 and len(result.trials) == 2

    # Another tuner id has no state file: keras-tuner would silently start an
    # empty search over the old one; search() says so.
    monkeypatch.setenv("KERASTUNER_TUNER_ID", "tuner7")
    message = check_resume(tmp_path, "resumable")
    assert state_file(tmp_path, "resumable") in message and "tuner0" in message
    with pytest.warns(UserWarning, match="state file .*tuner7.json is missing"):
        result = search(_hypermodel(build_fn), x, y, **{**common, "max_trials": 1})
    assert [t.trial_id for t in result.trials] == ["0"]  # it did start afresh


def test_check_resume_without_a_project(tmp_path):
    assert "no search to resume" in check_resume(tmp_path, "nothing")


class _Boom(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        raise RuntimeError("boom in fit")


def test_failed_trials_are_reported(tmp_path, tiny_digits, build_fn):
    (x, y), validation = tiny_digits
    with pytest.warns(
        RuntimeWarning, match="2 of 2 trials did not complete.*boom in fit"
    ):
        result = search(
            _hypermodel(build_fn),
            x,
            y,
            validation_data=validation,
            tuner="random",
            max_trials=2,
            epochs=1,
            directory=tmp_path,
            callbacks=[_Boom()],
            verbose=0,
        )
    assert [t.status for t in result.trials] == ["FAILED", "FAILED"]
    assert all("RuntimeError: boom in fit" in t.error for t in result.failed_trials)
    assert result.best_hyperparameters is None
    assert "0 of 2 trials completed, 2 failed" in result.table()
    with pytest.raises(RuntimeError, match="No trial completed"):
        result.best_model()


def _build_with_units(hp, dropout):
    """A build_fn that declares a hyperparameter of its own."""
    return keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(hp.Int("units", 4, 12, step=4), activation="relu"),
            keras.layers.Dropout(dropout),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )


def test_build_fn_hyperparameters_and_executions_are_reported(tmp_path, tiny_digits):
    (x, y), validation = tiny_digits
    _CountFits.fits = 0
    result = search(
        _hypermodel(_build_with_units),
        x,
        y,
        validation_data=validation,
        tuner="random",
        max_trials=1,
        epochs=1,
        directory=tmp_path,
        seed=2,
        callbacks=[_CountFits()],
        executions_per_trial=2,
        max_consecutive_failed_trials=5,
        verbose=0,
    )
    # keras-tuner's own arguments reach it: two fits for the one trial.
    assert _CountFits.fits == 2
    assert result.tuner.executions_per_trial == 2
    assert result.tuner.oracle.max_consecutive_failed_trials == 5
    (trial,) = result.trials
    units = trial.hyperparameters["units"]
    assert units in (4, 8, 12)
    # The model really has that many units.
    assert result.best_model().layers[0].units == units
    assert result.hyperparameter_names[-1] == "units"
    assert result.best_hyperparameters["units"] == units
    assert "units" in result.table().splitlines()[0]
    result.to_csv(tmp_path / "trials.csv")
    with open(tmp_path / "trials.csv", newline="") as handle:
        (row,) = list(csv.DictReader(handle))
    assert int(row["units"]) == units
    # The objective is the validation accuracy at the best epoch, averaged
    # over the two executions (keras-tuner's convert_to_metrics_dict).
    observations = result.tuner.oracle.get_trial(trial.trial_id).metrics
    assert trial.objective == pytest.approx(observations.get_best_value("val_accuracy"))


def test_max_consecutive_failed_trials_stops_the_search(
    tmp_path, tiny_digits, build_fn
):
    (x, y), validation = tiny_digits
    with pytest.raises(
        RuntimeError, match="consecutive failures exceeded the limit of 1"
    ):
        search(
            _hypermodel(build_fn),
            x,
            y,
            validation_data=validation,
            tuner="random",
            max_trials=3,
            epochs=1,
            directory=tmp_path,
            callbacks=[_Boom()],
            max_consecutive_failed_trials=1,
            verbose=0,
        )


def test_epoch_progress_line(capsys):
    from keras_dlm.tuning._tuners import EpochProgress

    progress = EpochProgress("[tuner0] trial 3", "val_accuracy", interval=0.0)
    progress.set_params({"epochs": 10})
    progress.on_train_begin()
    progress.on_epoch_end(3, {"val_accuracy": 0.93125, "loss": 0.2})
    line = capsys.readouterr().out
    assert re.fullmatch(
        r"\[tuner0\] trial 3  epoch 4/10  val_accuracy=0\.9313  \d+\.\ds\n", line
    ), line
    # Not a terminal: at most one line per interval.
    progress = EpochProgress("t", "val_accuracy", interval=3600.0, in_place=False)
    progress.set_params({"epochs": 10})
    progress.on_train_begin()
    for epoch in range(5):
        progress.on_epoch_end(epoch, {"val_accuracy": 0.5})
    assert capsys.readouterr().out == ""
    # A terminal: one line rewritten in place, cleared at the end.
    progress = EpochProgress("t", "val_accuracy", in_place=True)
    progress.set_params({"epochs": 2})
    progress.on_train_begin()
    progress.on_epoch_end(0, {"val_accuracy": 0.5})
    progress.on_epoch_end(1, {"val_accuracy": 0.75})
    progress.on_train_end()
    out = capsys.readouterr().out
    assert out.startswith("\rt  epoch 1/2  val_accuracy=0.5000")
    assert "\rt  epoch 2/2  val_accuracy=0.7500" in out and out.endswith("\r\033[K")


@pytest.mark.slow
@pytest.mark.parametrize("tuner", ["random", "bayesian", "grid", "hyperband"])
def test_every_tuner(tmp_path, tiny_digits, build_fn, check_in_space, tuner):
    # test_tiny_search covers the path; this runs each algorithm, including
    # Hyperband's continued trials (initial_epoch > 0) and its tuner/* values.
    (x, y), validation = tiny_digits
    result = search(
        _hypermodel(build_fn),
        x,
        y,
        validation_data=validation,
        tuner=tuner,
        max_trials=3,
        epochs=3,
        directory=tmp_path,
        seed=1,
        verbose=0,
    )
    assert len(result.trials) >= 3
    assert {t.status for t in result.trials} == {"COMPLETED"}
    for trial in result.trials:
        check_in_space(trial.hyperparameters, **RANGES)
        assert not any(name.startswith("tuner/") for name in trial.hyperparameters)
    if tuner == "hyperband":
        raw = [t.hyperparameters.values for t in result.tuner.oracle.trials.values()]
        assert any(values.get("tuner/initial_epoch", 0) > 0 for values in raw)
    check_in_space(result.best_hyperparameters, **RANGES)


@pytest.mark.tf_only
def test_tensorboard_hparams_and_mirrored_strategy(tmp_path, tiny_digits, build_fn):
    import tensorflow as tf

    from keras_dlm._backend.tuning import mirrored_strategy, tensorboard_callback

    (x, y), validation = tiny_digits
    logdir = tmp_path / "logs"
    strategy = mirrored_strategy()
    assert isinstance(strategy, tf.distribute.MirroredStrategy)
    result = search(
        _hypermodel(build_fn),
        x,
        y,
        validation_data=validation,
        tuner="random",
        max_trials=1,
        epochs=1,
        directory=tmp_path / "tune",
        callbacks=[tensorboard_callback(str(logdir))],
        distribution_strategy=strategy,
        verbose=0,
    )
    assert [t.status for t in result.trials] == ["COMPLETED"]
    trial_logs = logdir / "0" / "execution0"
    event_files = [
        os.path.join(root, name)
        for root, _, names in os.walk(trial_logs)
        for name in names
        if name.startswith("events.out.tfevents")
    ]
    assert event_files
    # TensorBoard's HParams plugin data, read back with TensorFlow's own reader.
    plugins = set()
    for path in event_files:
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                plugins.add(value.metadata.plugin_data.plugin_name)
    assert "hparams" in plugins


def _handmade_result():
    from keras_dlm.tuning import SearchResult, TrialRecord

    names = ["dropout", "learning_rate"]
    trials = [
        TrialRecord(
            "1", "COMPLETED", {"dropout": 0.2, "learning_rate": 0.01}, 0.7, 1.5
        ),
        TrialRecord("0", "COMPLETED", {"dropout": 0.1, "learning_rate": 0.1}, 0.4, 2.0),
        TrialRecord(
            "2",
            "FAILED",
            {"dropout": 0.3, "learning_rate": None},
            None,
            None,
            "Traceback (most recent call last):\n  ...\nValueError: bad shape\n",
        ),
    ]
    return SearchResult(
        trials, objective="val_loss", direction="min", hyperparameter_names=names
    )


def test_search_result_table_for_a_minimized_objective(tmp_path):
    result = _handmade_result()
    assert [t.trial_id for t in result.trials] == ["0", "1", "2"]
    assert result.best_trial.trial_id == "0"  # val_loss 0.4 < 0.7
    assert result.best_hyperparameters == {"dropout": 0.1, "learning_rate": 0.1}
    assert [t.trial_id for t in result.failed_trials] == ["2"]
    assert result.failed_trials[0].error == "ValueError: bad shape"
    table = result.table()
    assert "*0" in table and "2 of 3 trials completed, 1 failed" in table
    assert "trial 2 FAILED: ValueError: bad shape" in table
    result.to_csv(tmp_path / "t.csv")
    with open(tmp_path / "t.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert (
        rows[2]["error"] == "ValueError: bad shape" and rows[2]["learning_rate"] == ""
    )


def test_plot_without_matplotlib_names_the_extra(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"keras-dlm\[plot\]"):
        _handmade_result().plot(tmp_path / "t.png")


def test_parallel_coordinates_cover_every_hyperparameter(tmp_path):
    from keras_dlm.tuning import SearchResult, TrialRecord
    from keras_dlm.tuning._result import _axis_positions

    def record(trial_id, score, **values):
        return TrialRecord(trial_id, "COMPLETED", values, score, 1.0)

    trials = [
        record("0", 0.5, learning_rate=1e-4, optimizer="sgd", momentum=0.9, units=8),
        record("1", 0.9, learning_rate=1e-2, optimizer="adam", momentum=None, units=16),
        record("2", 0.7, learning_rate=1e-3, optimizer="adam", momentum=None, units=8),
    ]
    names = ["learning_rate", "optimizer", "momentum", "unused"]
    result = SearchResult(
        trials, objective="val_accuracy", direction="max", hyperparameter_names=names
    )
    # Every hyperparameter that took a value, a build_fn's "units" included,
    # then the objective; one never set in any trial has no axis.
    assert result._axes() == [
        "learning_rate", "optimizer", "momentum", "units", "val_accuracy"
    ]  # fmt: skip
    position, labels = _axis_positions("learning_rate", trials, "val_accuracy")
    # Two decades, log scale: 1e-3 is half way.
    assert [position(t) for t in trials] == pytest.approx([0.0, 1.0, 0.5])
    position, labels = _axis_positions("optimizer", trials, "val_accuracy")
    assert [position(t) for t in trials] == [0.0, 1.0, 1.0]
    assert sorted(label for _, label in labels) == ["adam", "sgd"]
    position, labels = _axis_positions("momentum", trials, "val_accuracy")
    assert position(trials[0]) == 0.5 and position(trials[1]) < 0  # inactive: below
    assert "-" in [label for _, label in labels]
    position, _ = _axis_positions("val_accuracy", trials, "val_accuracy")
    assert [position(t) for t in trials] == pytest.approx([0.0, 1.0, 0.5])
    result.plot(tmp_path / "t.png")
    assert (tmp_path / "t.png").read_bytes()[:4] == b"\x89PNG"


class _CountEpochs(keras.callbacks.Callback):
    epochs = 0

    def on_epoch_end(self, epoch, logs=None):
        type(self).epochs += 1


def test_time_budget_ends_the_search(tmp_path, tiny_digits, build_fn):
    (x, y), validation = tiny_digits
    _CountEpochs.epochs = 0
    result = search(
        _hypermodel(build_fn),
        x,
        y,
        validation_data=validation,
        tuner="random",
        max_trials=4,
        epochs=3,
        directory=tmp_path,
        callbacks=[_CountEpochs()],
        time_budget=1e-3,
        verbose=0,
    )
    # Spent before the first trial: that one runs (a search always has one),
    # stops after its first epoch, and no other trial starts.
    assert [t.status for t in result.trials] == ["COMPLETED"]
    assert _CountEpochs.epochs == 1
