"""Planning a search from a wall-time budget: what a trial costs and what fits.

A trial's wall time is a fixed part (building the model, tracing its training
step, loading the best weights) plus one part per epoch. Both are measured on
the trials already run (:class:`TrialTiming`), so that the search knows whether
one more trial fits before the budget's end, and how many epochs of a
retraining fit in what the trials leave.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
import time
from collections.abc import Sequence

import keras

from keras_dlm._checks import check_integer, check_number


@dataclasses.dataclass(frozen=True)
class TrialTiming:
    """What a trial costs, measured on the trials run so far.

    Attributes:
        overhead: seconds of a trial beyond its epochs' steady cost (building
            and compiling the model, tracing the training step in the first
            epoch, keras-tuner's bookkeeping and checkpoints, and in the
            first trial one-time costs such as imports); median over trials.
        epoch: seconds of one epoch once traced (median over every epoch
            after the first of each trial), validation included.
        trace: how much longer a trial's first epoch took than a traced one
            (median over trials): the fixed cost that training any fresh
            model of the family pays, e.g. a retraining.
    """

    overhead: float
    epoch: float
    trace: float = 0.0

    def trial_seconds(self, epochs: int) -> float:
        """The expected wall time of a trial of ``epochs`` epochs."""
        return self.overhead + epochs * self.epoch


def measure_timing(
    trials: Sequence[tuple[float, Sequence[float]]],
) -> TrialTiming | None:
    """A :class:`TrialTiming` from trials' wall times and their epochs' durations.

    Args:
        trials: one ``(trial_seconds, epoch_seconds)`` pair per trial: the
            trial's whole wall time and the duration of each of its epochs.

    Returns:
        The timing, or ``None`` when no trial ran an epoch after its first
        (the steady cost of an epoch is then unknown).
    """
    steady = [s for _, epochs in trials for s in list(epochs)[1:]]
    if not steady:
        return None
    epoch = statistics.median(steady)
    timed = [(seconds, list(epochs)) for seconds, epochs in trials if epochs]
    overheads = [max(0.0, seconds - len(epochs) * epoch) for seconds, epochs in timed]
    traces = [max(0.0, epochs[0] - epoch) for _, epochs in timed]
    return TrialTiming(
        overhead=statistics.median(overheads),
        epoch=epoch,
        trace=statistics.median(traces),
    )


class EpochTimer(keras.callbacks.Callback):
    """Records the wall time of every epoch of a ``fit`` (``self.seconds``)."""

    def __init__(self) -> None:
        super().__init__()
        self.seconds: list[float] = []
        self._begin = 0.0

    def __deepcopy__(self, memo: dict) -> EpochTimer:
        # keras-tuner deep-copies a trial's callbacks; the record must stay here.
        return self

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._begin = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.seconds.append(time.perf_counter() - self._begin)


class StopAtDeadline(keras.callbacks.Callback):
    """Ends training after the epoch during which ``time.perf_counter()`` passed ``deadline``.

    ``stopped_epoch`` is the epoch after which it cut the training short
    (``None`` if it did not).
    """

    def __init__(self, deadline: float) -> None:
        super().__init__()
        self.deadline = deadline
        self.stopped_epoch: int | None = None

    def __deepcopy__(self, memo: dict) -> StopAtDeadline:
        # keras-tuner deep-copies a trial's callbacks; the caller reads this one.
        return self

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if time.perf_counter() >= self.deadline:
            self.model.stop_training = True
            total = (self.params or {}).get("epochs")
            if total is None or epoch + 1 < total:
                self.stopped_epoch = epoch


def epochs_that_fit(
    seconds: float,
    timing: TrialTiming,
    *,
    data_ratio: float = 1.0,
    wanted: int,
    minimum: int = 1,
) -> int:
    """How many epochs of a fresh model's training fit in ``seconds``.

    Args:
        seconds: the time available.
        timing: the measured cost of a trial; the new training pays its
            ``trace`` (the first epoch's extra cost) once, and its epochs cost
            ``data_ratio`` times a trial's.
        data_ratio: how many times more examples an epoch sees than a
            trial's epoch (e.g. 1.25 for training + validation data).
        wanted: the most epochs to return.
        minimum: fewer epochs than this give 0.

    Returns:
        An integer in ``{0} ∪ [minimum, wanted]``.

    Example:

    >>> from keras_dlm.tuning import TrialTiming, epochs_that_fit
    >>> timing = TrialTiming(overhead=3.0, epoch=0.5, trace=2.0)
    >>> epochs_that_fit(20.0, timing, data_ratio=1.25, wanted=30, minimum=8)
    28
    """
    check_number("seconds", seconds)
    check_number("data_ratio", data_ratio, low=0.0, low_inclusive=False)
    wanted = check_integer("wanted", wanted, minimum=0)
    minimum = check_integer("minimum", minimum, minimum=0)
    per_epoch = max(timing.epoch * data_ratio, 1e-9)
    fitting = min(wanted, math.floor((seconds - timing.trace) / per_epoch))
    return fitting if fitting >= max(1, minimum) else 0


def retrain_reserve(
    timing: TrialTiming | None,
    *,
    budget: float,
    data_ratio: float,
    wanted: int,
    minimum: int,
    max_share: float = 0.4,
) -> float:
    """Seconds of a budget to keep after the trials for retraining the best one.

    The retraining gets the time of ``wanted`` epochs when that is at most
    ``max_share`` of the budget, else the epochs that fit in that share; when
    fewer than ``minimum`` fit, nothing is kept (there will be no retraining
    and the trials get the whole budget). Before any trial has been timed,
    the whole share is kept.

    Args:
        timing: the trials' measured cost, or ``None``.
        budget: the whole budget, in seconds.
        data_ratio: how many times more examples a retraining epoch sees.
        wanted: the retraining's epochs without a budget.
        minimum: the fewest epochs worth retraining for.
        max_share: the largest fraction of the budget the retraining may take.

    Returns:
        Seconds to keep.
    """
    cap = max_share * budget
    if wanted < 1:
        return 0.0
    if timing is None:
        return cap
    epochs = epochs_that_fit(
        cap, timing, data_ratio=data_ratio, wanted=wanted, minimum=minimum
    )
    if epochs == 0:
        return 0.0
    return timing.trace + epochs * timing.epoch * data_ratio
