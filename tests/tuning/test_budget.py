"""Planning a search from a wall-time budget: timing arithmetic and searches that keep to it."""

from __future__ import annotations

import time
import typing

import keras
import pytest

from keras_dlm.tuning import (
    SearchSpace,
    TrialTiming,
    TunableModel,
    epochs_that_fit,
    retrain_reserve,
    search,
)
from keras_dlm.tuning._budget import measure_timing


def test_measure_timing_separates_the_fixed_part_from_the_epochs():
    # Trial A: 5 s, epochs 2.0 (traced), 0.5, 0.5, 0.5; trial B: 4 s, epochs
    # 1.5, 0.5, 0.7. Steady epochs (not the first): 0.5, 0.5, 0.5, 0.5, 0.7;
    # median 0.5. Fixed parts: 5 - 4 * 0.5 = 3.0 and 4 - 3 * 0.5 = 2.5; first
    # epochs' extra: 2.0 - 0.5 = 1.5 and 1.5 - 0.5 = 1.0.
    timing = measure_timing([(5.0, [2.0, 0.5, 0.5, 0.5]), (4.0, [1.5, 0.5, 0.7])])
    assert timing.epoch == pytest.approx(0.5)
    assert timing.overhead == pytest.approx(2.75)
    assert timing.trace == pytest.approx(1.25)
    assert timing.trial_seconds(8) == pytest.approx(2.75 + 4.0)
    # One-epoch trials give no steady epoch time.
    assert measure_timing([(3.0, [3.0])]) is None
    assert measure_timing([]) is None


def test_epochs_that_fit():
    # A fresh model pays the tracing (2 s), not a trial's whole fixed part.
    timing = TrialTiming(overhead=5.0, epoch=0.5, trace=2.0)
    # (20 - 2) / (0.5 * 1.25) = 28.8 epochs.
    assert epochs_that_fit(20.0, timing, data_ratio=1.25, wanted=30, minimum=8) == 28
    assert epochs_that_fit(60.0, timing, data_ratio=1.25, wanted=30, minimum=8) == 30
    # (6 - 2) / 0.625 = 6.4 < 8: nothing worth running.
    assert epochs_that_fit(6.0, timing, data_ratio=1.25, wanted=30, minimum=8) == 0
    assert epochs_that_fit(-1.0, timing, wanted=30) == 0
    with pytest.raises(ValueError, match="data_ratio"):
        epochs_that_fit(6.0, timing, data_ratio=0.0, wanted=3)


def test_retrain_reserve_keeps_what_the_retraining_needs():
    timing = TrialTiming(overhead=4.0, epoch=0.3, trace=2.0)
    # 30 epochs of 0.3 * 1.25 s plus the fixed 2 s: 13.25 s, within 40% of 60.
    assert retrain_reserve(
        timing, budget=60, data_ratio=1.25, wanted=30, minimum=8
    ) == pytest.approx(2.0 + 30 * 0.375)
    # Budget 20: 40% is 8 s; (8 - 2) / 0.375 = 16 epochs fit.
    assert retrain_reserve(
        timing, budget=20, data_ratio=1.25, wanted=30, minimum=8
    ) == pytest.approx(2.0 + 16 * 0.375)
    # Budget 10: 4 s hold 5 epochs, fewer than 8: no retraining, nothing kept.
    assert (
        retrain_reserve(timing, budget=10, data_ratio=1.25, wanted=30, minimum=8) == 0
    )
    # Before any trial is timed: the whole share; no retraining wanted: none.
    assert retrain_reserve(None, budget=10, data_ratio=1.25, wanted=30, minimum=8) == 4
    assert retrain_reserve(timing, budget=60, data_ratio=1.25, wanted=0, minimum=8) == 0


class _EpochClock(keras.callbacks.Callback):
    """Records every epoch's start and end (class-level: keras-tuner deep-copies callbacks)."""

    spans: typing.ClassVar[list[tuple[float, float]]] = []

    def on_epoch_begin(self, epoch, logs=None):
        self._begin = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        type(self).spans.append((self._begin, time.perf_counter()))


def _search(tmp_path, tiny_digits, build_fn, **kwargs):
    (x, y), validation = tiny_digits
    _EpochClock.spans = []
    hypermodel = TunableModel(
        build_fn,
        SearchSpace(optimizers=("adam",), schedules=("none",)),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return search(
        hypermodel, x, y, validation_data=validation, tuner="random",
        max_trials=1000, directory=tmp_path, seed=0, verbose=0,
        callbacks=[_EpochClock()], **kwargs,
    )  # fmt: skip


def test_a_budget_ends_a_long_trial_within_one_epoch(tmp_path, tiny_digits, build_fn):
    # One trial would take 500 epochs: the 3 s budget stops it.
    result = _search(tmp_path, tiny_digits, build_fn, epochs=500, time_budget=3.0)
    spans = _EpochClock.spans
    longest = max(end - begin for begin, end in spans)
    assert spans[-1][1] <= result.tuner._deadline + longest
    assert len(spans) < 500
    assert result.stopped_by_budget
    assert [t.status for t in result.trials] == ["COMPLETED"]


def test_trials_leave_the_reserve_free(tmp_path, tiny_digits, build_fn):
    seen = []

    def reserve(timing):
        seen.append(timing)
        return 1.5

    result = _search(
        tmp_path,
        tiny_digits,
        build_fn,
        epochs=4,
        time_budget=10.0,
        time_reserve=reserve,
    )
    spans = _EpochClock.spans
    longest = max(end - begin for begin, end in spans)
    assert spans[-1][1] <= result.tuner._deadline - 1.5 + longest
    assert result.stopped_by_budget
    # Several trials ran: the first one's timing did not end the search.
    assert len(result.trials) >= 2
    # The reserve was asked with the measured timing once trials had run.
    assert seen[0] is None
    assert isinstance(seen[-1], TrialTiming) and seen[-1].epoch > 0
