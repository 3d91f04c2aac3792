"""Training callbacks: step and cliff learning-rate decay, the learning-rate
finder, and the gradient check (``GradientCheck``, from :mod:`keras_dlm.gradcheck`).

``StepDecay`` and ``CliffDecay`` take the same arguments as the schedules of
the same names in :mod:`keras_dlm.schedules` and compute the rate with the
very same functions, evaluated at the epoch (or, with ``per_batch=True``, at
the fractional epoch ``epoch + batch / steps_per_epoch``). Because the rate
is a function of the epoch index that Keras passes in, training resumed with
``initial_epoch`` or ``keras.callbacks.BackupAndRestore`` gets the same rates
as an uninterrupted run.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import keras
from keras import ops

from keras_dlm import schedules as _schedules
from keras_dlm.gradcheck import GradientCheck

__all__ = ["CliffDecay", "GradientCheck", "LRFinder", "StepDecay"]


def _set_learning_rate(optimizer: Any, value: float, *, owner: str) -> None:
    """Assigns a float learning rate, or raises a TypeError naming the problem."""
    _require_float_learning_rate(optimizer, owner=owner)
    optimizer.learning_rate = value


def _require_float_learning_rate(optimizer: Any, *, owner: str) -> None:
    """Raises a TypeError when the optimizer's learning rate is a schedule."""
    current = getattr(optimizer, "_learning_rate", None)
    if isinstance(current, keras.optimizers.schedules.LearningRateSchedule) or (
        callable(current) and not isinstance(current, keras.Variable)
    ):
        raise TypeError(
            f"{owner} sets the optimizer's learning rate at run time, but the "
            f"optimizer {optimizer.name!r} was given a schedule "
            f"({type(current).__name__}) as its `learning_rate`, which cannot be "
            "overwritten. Create the optimizer with a float `learning_rate`, or "
            "drop the callback and pass keras_dlm.schedules.StepDecay / "
            "CliffDecay to the optimizer instead."
        )


def _current_learning_rate(optimizer: Any) -> float:
    return float(ops.convert_to_numpy(optimizer.learning_rate))


class _DecayCallback(keras.callbacks.Callback):
    """Shared logic of the step and cliff decay callbacks."""

    def __init__(
        self,
        schedule: Any,
        *,
        steps_per_epoch: int | None,
        per_batch: bool,
        verbose: int,
    ) -> None:
        super().__init__()
        # The schedule is built without steps_per_epoch: its time unit is then
        # whatever is passed to _rate_at, here (fractional) epochs.
        self._schedule = schedule
        self.steps_per_epoch = _schedules._check_steps_per_epoch(steps_per_epoch)
        self.per_batch = bool(per_batch)
        self.verbose = int(verbose)
        self._epoch = 0
        self._stage: int | None = None

    def rate_at(self, epoch: float) -> float:
        """The learning rate this callback sets at (fractional) ``epoch``."""
        return float(ops.convert_to_numpy(self._schedule._rate_at(float(epoch))))

    def _apply(self, t: float) -> None:
        rate = self.rate_at(t)
        optimizer = self.model.optimizer
        previous = _current_learning_rate(optimizer)
        _set_learning_rate(optimizer, rate, owner=f"keras_dlm.callbacks.{self._name}")
        stage = self._schedule._stage(t)
        if self.verbose > 0 and (self._stage is None or stage != self._stage):
            if self._stage is None:
                message = f"learning rate set to {rate:.6g}"
            else:
                message = f"learning rate dropped from {previous:.6g} to {rate:.6g}"
            print(f"\nEpoch {self._epoch + 1}: {self._name} {message}.", flush=True)
        self._stage = stage

    @property
    def _name(self) -> str:
        return type(self).__name__

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._stage = None
        _require_float_learning_rate(
            self.model.optimizer, owner=f"keras_dlm.callbacks.{self._name}"
        )

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch = int(epoch)
        if not self.per_batch:
            self._apply(float(epoch))

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        if not self.per_batch:
            return
        steps = self.steps_per_epoch or (self.params or {}).get("steps")
        if not steps:
            raise ValueError(
                f"{self._name}(per_batch=True) needs the number of batches per "
                "epoch, which this fit() does not know (an iterator without a "
                "length?). Pass `steps_per_epoch` to the callback."
            )
        self._apply(self._epoch + batch / steps)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is not None:
            logs["learning_rate"] = _current_learning_rate(self.model.optimizer)


class StepDecay(_DecayCallback):
    """Step decay of the optimizer's learning rate, set from the epoch index.

    Sets ``lr = w(e) · max(min_learning_rate, initial_learning_rate ·
    factor ** floor(e / drop_every))`` (warm-up ``w(e) = min(1, e / warmup)``)
    at the beginning of epoch ``e`` (0-based), or before every batch with
    ``per_batch=True`` using the fractional epoch ``e + batch /
    steps_per_epoch``. The values are those of
    :class:`keras_dlm.schedules.StepDecay` with the same arguments, evaluated
    at step ``e · steps_per_epoch``. Writes ``learning_rate`` into the epoch
    logs, so ``History``, ``CSVLogger`` and ``TensorBoard`` record it (list
    this callback before them).

    Args:
        initial_learning_rate: the rate before the first drop, > 0.
        drop_every: epochs between drops, > 0.
        factor: multiplier applied at each drop, in (0, 1].
        steps_per_epoch: batches per epoch for ``per_batch=True``; by default
            the number ``fit()`` reports.
        warmup: epochs of linear warm-up from 0; 0 disables it.
        min_learning_rate: lower bound of the decayed rate.
        per_batch: update the rate before every batch instead of every epoch.
        verbose: 1 prints the starting rate and every drop.

    Example:

    >>> import keras, numpy as np
    >>> from keras_dlm.callbacks import StepDecay
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    >>> history = model.fit(np.ones((8, 2)), np.ones((8, 1)), epochs=4, verbose=0,
    ...                     callbacks=[StepDecay(0.1, drop_every=2, factor=0.5)])
    >>> print(*[round(lr, 6) for lr in history.history["learning_rate"]])
    0.1 0.1 0.05 0.05
    """

    def __init__(
        self,
        initial_learning_rate: float,
        drop_every: float,
        factor: float = 0.5,
        *,
        steps_per_epoch: int | None = None,
        warmup: float = 0,
        min_learning_rate: float = 0.0,
        per_batch: bool = False,
        verbose: int = 0,
    ) -> None:
        schedule = _schedules.StepDecay(
            initial_learning_rate,
            drop_every,
            factor,
            warmup=warmup,
            min_learning_rate=min_learning_rate,
        )
        super().__init__(
            schedule,
            steps_per_epoch=steps_per_epoch,
            per_batch=per_batch,
            verbose=verbose,
        )


class CliffDecay(_DecayCallback):
    """Cliff decay of the optimizer's learning rate, set from the epoch index.

    The rate at epoch ``e`` (fractional with ``per_batch=True``) is that of
    :class:`keras_dlm.schedules.CliffDecay` with the same arguments: the
    initial rate before the first cliff, a sharp drop by ``cliff_factor`` at
    each cliff, and a gradual (exponential, linear or cosine) decrease in
    between that never goes below the next cliff's level. Writes
    ``learning_rate`` into the epoch logs.

    Args:
        initial_learning_rate: the rate before the first cliff, > 0.
        cliffs: strictly increasing epochs of the sharp drops.
        cliff_factor: multiplier of each drop, one number or one per cliff.
        decay: ``"exponential"``, ``"linear"`` or ``"cosine"``.
        decay_rate: speed of the gradual decrease, in (0, 1] (per epoch).
        steps_per_epoch: batches per epoch for ``per_batch=True``; by default
            the number ``fit()`` reports.
        warmup: epochs of linear warm-up from 0; 0 disables it.
        min_learning_rate: lower bound of the rate.
        per_batch: update the rate before every batch instead of every epoch.
        verbose: 1 prints the starting rate and every cliff.

    Example:

    >>> import keras, numpy as np
    >>> from keras_dlm.callbacks import CliffDecay
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    >>> callback = CliffDecay(0.1, cliffs=[2], cliff_factor=0.1, decay_rate=0.5)
    >>> history = model.fit(np.ones((8, 2)), np.ones((8, 1)), epochs=4, verbose=0,
    ...                     callbacks=[callback])
    >>> print(*[round(lr, 6) for lr in history.history["learning_rate"]])
    0.1 0.1 0.01 0.005
    """

    def __init__(
        self,
        initial_learning_rate: float,
        cliffs: Sequence[float],
        cliff_factor: float | Sequence[float] = 0.1,
        *,
        decay: str = "exponential",
        decay_rate: float = 0.95,
        steps_per_epoch: int | None = None,
        warmup: float = 0,
        min_learning_rate: float = 0.0,
        per_batch: bool = False,
        verbose: int = 0,
    ) -> None:
        schedule = _schedules.CliffDecay(
            initial_learning_rate,
            cliffs,
            cliff_factor,
            decay=decay,
            decay_rate=decay_rate,
            warmup=warmup,
            min_learning_rate=min_learning_rate,
        )
        super().__init__(
            schedule,
            steps_per_epoch=steps_per_epoch,
            per_batch=per_batch,
            verbose=verbose,
        )


class LRFinder(keras.callbacks.Callback):
    """The learning-rate range test, as a callback (used by ``keras_dlm.lr_find``).

    Before batch ``i`` (counted over the whole run) it sets the learning rate
    to ``min_lr · (max_lr / min_lr) ** (i / (num_steps − 1))``, an exponential
    sweep; after the batch it records the batch's loss and its bias-corrected
    exponential moving average ``s_i = a_i / (1 − smoothing ** (i + 1))`` with
    ``a_i = smoothing · a_{i−1} + (1 − smoothing) · loss_i``. Training stops
    after ``num_steps`` batches, or as soon as ``s_i > stop_factor · min_j
    s_j`` or the loss is not finite. The metrics are reset before every batch,
    so that the ``loss`` Keras reports is that batch's loss, not a running mean.

    Args:
        min_lr: first learning rate of the sweep, > 0.
        max_lr: last learning rate of the sweep, > ``min_lr``.
        num_steps: number of batches (learning rates) in the sweep, >= 2.
        smoothing: factor of the moving average, in [0, 1).
        stop_factor: divergence threshold relative to the best smoothed loss,
            > 1.

    Attributes:
        learning_rates: the rates used, one per recorded batch.
        losses: the raw batch losses.
        smoothed_losses: the smoothed losses.
        stopped_early: whether the sweep stopped on divergence.
    """

    def __init__(
        self,
        min_lr: float = 1e-7,
        max_lr: float = 10.0,
        num_steps: int = 100,
        smoothing: float = 0.98,
        stop_factor: float = 4.0,
    ) -> None:
        super().__init__()
        self.min_lr = _schedules._check_number("min_lr", min_lr, low=0.0, low_open=True)
        self.max_lr = _schedules._check_number("max_lr", max_lr, low=0.0, low_open=True)
        if self.max_lr <= self.min_lr:
            raise ValueError(
                f"`max_lr` must be larger than `min_lr` ({self.min_lr}), but "
                f"received {max_lr!r}."
            )
        if (
            isinstance(num_steps, bool)
            or not isinstance(num_steps, int)
            or num_steps < 2
        ):
            raise ValueError(
                f"`num_steps` must be an integer >= 2, but received {num_steps!r}."
            )
        self.num_steps = num_steps
        self.smoothing = _schedules._check_number(
            "smoothing", smoothing, low=0.0, high=1.0, low_open=False
        )
        if self.smoothing == 1.0:
            raise ValueError("`smoothing` must be in [0, 1), but received 1.0.")
        self.stop_factor = _schedules._check_number(
            "stop_factor", stop_factor, low=1.0, low_open=True
        )
        self._reset()

    def _reset(self) -> None:
        self.learning_rates: list[float] = []
        self.losses: list[float] = []
        self.smoothed_losses: list[float] = []
        self.stopped_early = False
        self._average = 0.0
        self._best = math.inf
        self._step = 0
        self._rate = self.min_lr

    def rate_at(self, step: int) -> float:
        """The learning rate of sweep step ``step`` (0-based)."""
        return self.min_lr * (self.max_lr / self.min_lr) ** (
            step / (self.num_steps - 1)
        )

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._reset()
        if getattr(self.model, "steps_per_execution", 1) != 1:
            raise ValueError(
                "LRFinder needs one batch per train step, but the model was "
                f"compiled with steps_per_execution={self.model.steps_per_execution}."
            )

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        self._rate = self.rate_at(self._step)
        model = self.model
        _set_learning_rate(
            model.optimizer, self._rate, owner="keras_dlm.callbacks.LRFinder"
        )
        model.reset_metrics()

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        loss = float(ops.convert_to_numpy((logs or {})["loss"]))
        self.learning_rates.append(self._rate)
        self.losses.append(loss)
        self._step += 1
        self._average = self.smoothing * self._average + (1.0 - self.smoothing) * loss
        smoothed = self._average / (1.0 - self.smoothing**self._step)
        self.smoothed_losses.append(smoothed)
        if not math.isfinite(smoothed) or smoothed > self.stop_factor * self._best:
            self.stopped_early = True
            self.model.stop_training = True
            return
        self._best = min(self._best, smoothed)
        if self._step >= self.num_steps:
            self.model.stop_training = True
