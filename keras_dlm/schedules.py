"""Epoch-based step and cliff learning-rate decay, as Keras schedules.

Both schedules are ``keras.optimizers.schedules.LearningRateSchedule``
subclasses written with ``keras.ops`` only, so they run inside a jit-compiled
train step on TensorFlow, JAX and PyTorch alike, and they serialize with the
optimizer into a ``.keras`` file.

Time ``t`` is measured in *epochs* when ``steps_per_epoch`` is given
(``t = step / steps_per_epoch``, fractional inside an epoch) and in optimizer
*steps* otherwise; ``drop_every``, ``cliffs`` and ``warmup`` use the same unit.

The formulas (``η₀`` = ``initial_learning_rate``, ``η_min`` =
``min_learning_rate``, ``W`` = ``warmup``):

* warm-up factor: ``w(t) = min(1, t / W)`` when ``W > 0``, else ``1``;
* every schedule: ``η(t) = w(t) · max(η_min, g(t))``;
* step decay: ``g(t) = η₀ · factor ** floor(t / drop_every)``;
* cliff decay, with cliffs ``c₁ < … < c_K``, factors ``f₁ … f_K`` and
  ``r`` = ``decay_rate``: the level after cliff ``k`` is
  ``L_k = η₀ · f₁ · … · f_k`` and its floor is ``T_k = L_{k+1}`` (the level
  the next cliff starts from) or ``η_min`` after the last cliff. Before
  ``c₁``, ``g(t) = η₀``. For ``c_k ≤ t < c_{k+1}``, with ``τ = t − c_k``:

  - ``exponential``: ``g = max(T_k, L_k · r ** τ)``;
  - ``linear``: ``g = max(T_k, L_k · (1 − (1 − r) · τ))``, a straight line
    that loses ``(1 − r) · L_k`` per unit of time, stopping at ``T_k``;
  - ``cosine``: ``g = T_k + (L_k − T_k) · (1 + cos(π · min(1, τ / H_k))) / 2``
    with ``H_k = (1 − T_k / L_k) / (1 − r)``, the time the linear shape
    needs to reach ``T_k``.

  So the rate drops sharply by ``f_k`` (level to level) at each cliff, then
  decreases gradually without ever going below the next level, and never
  increases (outside the warm-up).

The same private functions compute the rates of the callbacks in
:mod:`keras_dlm.callbacks`, evaluated there at (fractional) epochs.
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Sequence
from typing import Any

import keras
from keras import ops

__all__ = ["CliffDecay", "StepDecay"]

_DECAY_SHAPES = ("exponential", "linear", "cosine")
_DTYPE = "float32"


def _check_number(
    name: str, value: Any, *, low: float, high: float = math.inf, low_open: bool
) -> float:
    """Validates a real number in ``(low, high]`` or ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"`{name}` must be a number, but received {value!r}.")
    value = float(value)
    too_low = value <= low if low_open else value < low
    if too_low or value > high or math.isnan(value):
        bracket = "(" if low_open else "["
        raise ValueError(
            f"`{name}` must be in {bracket}{low}, {high}], but received {value!r}."
        )
    return value


def _check_steps_per_epoch(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(
            "`steps_per_epoch` must be None or a positive integer, but received "
            f"{value!r}."
        )
    return int(value)


def _as_time(t: Any) -> Any:
    return ops.cast(ops.convert_to_tensor(t), _DTYPE)


def _finish(t: Any, decayed: Any, *, warmup: float, min_learning_rate: float) -> Any:
    """Applies the floor ``η_min`` and the warm-up factor ``w(t)``."""
    rate = ops.maximum(decayed, min_learning_rate)
    if warmup > 0:
        rate = rate * ops.minimum(ops.divide(t, warmup), 1.0)
    return rate


def _step_decay_rate(
    t: Any,
    *,
    initial_learning_rate: float,
    drop_every: float,
    factor: float,
    warmup: float,
    min_learning_rate: float,
) -> Any:
    """Step decay at time ``t`` (a Python number or a tensor, same unit as
    ``drop_every``): the single definition shared by schedule and callback."""
    t = _as_time(t)
    drops = ops.floor(ops.divide(t, drop_every))
    decayed = initial_learning_rate * ops.power(
        ops.convert_to_tensor(factor, _DTYPE), drops
    )
    return _finish(t, decayed, warmup=warmup, min_learning_rate=min_learning_rate)


def _cliff_levels(
    initial_learning_rate: float, cliff_factors: Sequence[float]
) -> list[float]:
    """``[L_1, …, L_K]``: the level after each cliff."""
    levels, level = [], initial_learning_rate
    for factor in cliff_factors:
        level *= factor
        levels.append(level)
    return levels


def _cliff_decay_rate(
    t: Any,
    *,
    initial_learning_rate: float,
    cliffs: Sequence[float],
    cliff_factors: Sequence[float],
    decay: str,
    decay_rate: float,
    warmup: float,
    min_learning_rate: float,
) -> Any:
    """Cliff decay at time ``t`` (a Python number or a tensor, same unit as
    ``cliffs``): the single definition shared by schedule and callback."""
    t = _as_time(t)
    levels = _cliff_levels(initial_learning_rate, cliff_factors)
    decayed = ops.full_like(t, initial_learning_rate)
    # Cliffs are Python constants, so the segments unroll into a fixed chain
    # of `where`s: no data-dependent control flow inside a jitted step.
    for index, (cliff, level) in enumerate(zip(cliffs, levels, strict=True)):
        floor = levels[index + 1] if index + 1 < len(levels) else min_learning_rate
        floor = min(floor, level)
        tau = ops.maximum(t - cliff, 0.0)
        if decay_rate == 1.0 or floor == level:
            segment = ops.full_like(t, level)
        elif decay == "exponential":
            segment = level * ops.power(ops.convert_to_tensor(decay_rate, _DTYPE), tau)
        elif decay == "linear":
            segment = level * (1.0 - (1.0 - decay_rate) * tau)
        else:
            horizon = (1.0 - floor / level) / (1.0 - decay_rate)
            progress = ops.minimum(tau / horizon, 1.0)
            segment = floor + (level - floor) * 0.5 * (
                1.0 + ops.cos(math.pi * progress)
            )
        segment = ops.maximum(segment, floor)
        decayed = ops.where(t >= cliff, segment, decayed)
    return _finish(t, decayed, warmup=warmup, min_learning_rate=min_learning_rate)


class _EpochDecaySchedule(keras.optimizers.schedules.LearningRateSchedule):
    """What StepDecay and CliffDecay share: time unit, warm-up and floor."""

    def _set_common_arguments(
        self,
        initial_learning_rate: float,
        steps_per_epoch: int | None,
        warmup: float,
        min_learning_rate: float,
    ) -> None:
        self.initial_learning_rate = _check_number(
            "initial_learning_rate", initial_learning_rate, low=0.0, low_open=True
        )
        self.steps_per_epoch = _check_steps_per_epoch(steps_per_epoch)
        self.warmup = _check_number("warmup", warmup, low=0.0, low_open=False)
        self.min_learning_rate = _check_number(
            "min_learning_rate",
            min_learning_rate,
            low=0.0,
            high=self.initial_learning_rate,
            low_open=False,
        )

    def _rate_at(self, t: Any) -> Any:
        """The rate at time ``t``; each subclass defines its own decay."""
        raise NotImplementedError

    def __call__(self, step: Any) -> Any:
        t = ops.cast(step, _DTYPE)
        if self.steps_per_epoch is not None:
            t = t / float(self.steps_per_epoch)
        return self._rate_at(t)


@keras.saving.register_keras_serializable(package="keras_dlm")
class StepDecay(_EpochDecaySchedule):
    """Step decay: multiplies the learning rate by ``factor`` every ``drop_every``.

    ``lr(t) = w(t) · max(min_learning_rate,
    initial_learning_rate · factor ** floor(t / drop_every))`` with the
    warm-up factor ``w(t) = min(1, t / warmup)`` (``1`` without warm-up).
    ``t`` counts epochs (``step / steps_per_epoch``) when ``steps_per_epoch``
    is given, else optimizer steps.

    Args:
        initial_learning_rate: the rate before the first drop, > 0.
        drop_every: time between drops (epochs with ``steps_per_epoch``,
            else steps), > 0.
        factor: multiplier applied at each drop, in (0, 1].
        steps_per_epoch: optimizer steps per epoch; when given, ``drop_every``
            and ``warmup`` count epochs and the rate also changes inside an
            epoch only through the warm-up.
        warmup: length of a linear warm-up from 0 (same unit as
            ``drop_every``); 0 disables it.
        min_learning_rate: lower bound of the decayed rate, in
            [0, initial_learning_rate].

    Call arguments:
        step: the optimizer step (integer scalar tensor or Python int, or an
            array of steps); the call returns the learning rate as a float32
            tensor of the same shape.

    Example:

    >>> import keras
    >>> from keras_dlm.schedules import StepDecay
    >>> schedule = StepDecay(0.1, drop_every=10, factor=0.5, steps_per_epoch=100)
    >>> print(*[round(float(schedule(step)), 6) for step in (0, 999, 1000, 2500)])
    0.1 0.1 0.05 0.025
    >>> optimizer = keras.optimizers.SGD(learning_rate=schedule, momentum=0.9)
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
    ) -> None:
        self._set_common_arguments(
            initial_learning_rate, steps_per_epoch, warmup, min_learning_rate
        )
        self.drop_every = _check_number(
            "drop_every", drop_every, low=0.0, low_open=True
        )
        self.factor = _check_number("factor", factor, low=0.0, high=1.0, low_open=True)

    def _rate_at(self, t: Any) -> Any:
        """The rate at time ``t`` in this schedule's unit (epochs or steps)."""
        return _step_decay_rate(
            t,
            initial_learning_rate=self.initial_learning_rate,
            drop_every=self.drop_every,
            factor=self.factor,
            warmup=self.warmup,
            min_learning_rate=self.min_learning_rate,
        )

    def _stage(self, t: float) -> int:
        """How many drops have happened by time ``t`` (for messages)."""
        return math.floor(t / self.drop_every)

    def get_config(self) -> dict[str, Any]:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "drop_every": self.drop_every,
            "factor": self.factor,
            "steps_per_epoch": self.steps_per_epoch,
            "warmup": self.warmup,
            "min_learning_rate": self.min_learning_rate,
        }


@keras.saving.register_keras_serializable(package="keras_dlm")
class CliffDecay(_EpochDecaySchedule):
    """Cliff decay: sharp drops at chosen times, a gradual decrease in between.

    Before the first cliff the rate is ``initial_learning_rate``. At cliff
    ``k`` the level drops to ``L_k = initial_learning_rate · f₁ · … · f_k``;
    until the next cliff the rate then decreases from ``L_k`` toward the next
    level ``L_{k+1}`` (``min_learning_rate`` after the last cliff), never going
    below it. With ``τ`` the time since cliff ``k`` and ``T_k`` that floor:

    - ``"exponential"``: ``max(T_k, L_k · decay_rate ** τ)``;
    - ``"linear"``: ``max(T_k, L_k · (1 − (1 − decay_rate) · τ))``;
    - ``"cosine"``: a half cosine from ``L_k`` to ``T_k`` over
      ``H_k = (1 − T_k / L_k) / (1 − decay_rate)``, the time the linear shape
      takes to get there.

    The result is floored at ``min_learning_rate`` and multiplied by the
    warm-up factor ``min(1, t / warmup)``. ``t`` counts epochs
    (``step / steps_per_epoch``) when ``steps_per_epoch`` is given, else steps.

    Args:
        initial_learning_rate: the rate before the first cliff, > 0.
        cliffs: strictly increasing times (epochs with ``steps_per_epoch``,
            else steps) of the sharp drops; at least one.
        cliff_factor: multiplier of each drop, in (0, 1]: one number for all
            cliffs, or one per cliff.
        decay: shape of the gradual decrease after each cliff:
            ``"exponential"``, ``"linear"`` or ``"cosine"``.
        decay_rate: speed of the gradual decrease, in (0, 1]: the rate is
            multiplied by ``decay_rate`` per unit of time (exponential) or
            loses ``1 − decay_rate`` of its level per unit (linear); 1 keeps
            it flat between cliffs.
        steps_per_epoch: optimizer steps per epoch; when given, ``cliffs`` and
            ``warmup`` count epochs.
        warmup: length of a linear warm-up from 0; 0 disables it.
        min_learning_rate: lower bound of the rate, in
            [0, initial_learning_rate].

    Call arguments:
        step: the optimizer step (integer scalar tensor or Python int, or an
            array of steps); the call returns the learning rate as a float32
            tensor of the same shape.

    Example:

    >>> from keras_dlm.schedules import CliffDecay
    >>> schedule = CliffDecay(0.1, cliffs=[10, 20], cliff_factor=0.1,
    ...                       decay_rate=0.9, steps_per_epoch=10)
    >>> print(*[round(float(schedule(step)), 6) for step in (0, 99, 100, 110, 200)])
    0.1 0.1 0.01 0.009 0.001
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
    ) -> None:
        self._set_common_arguments(
            initial_learning_rate, steps_per_epoch, warmup, min_learning_rate
        )
        if isinstance(cliffs, numbers.Real) or not isinstance(cliffs, Sequence):
            raise TypeError(
                f"`cliffs` must be a list of epochs or steps, but received {cliffs!r}."
            )
        cliffs = [_check_number("cliffs", c, low=0.0, low_open=False) for c in cliffs]
        if not cliffs or any(b <= a for a, b in itertools.pairwise(cliffs)):
            raise ValueError(
                "`cliffs` must be a non-empty, strictly increasing list, but "
                f"received {cliffs!r}."
            )
        self.cliffs = cliffs
        if isinstance(cliff_factor, Sequence) and not isinstance(cliff_factor, str):
            if len(cliff_factor) != len(cliffs):
                raise ValueError(
                    "`cliff_factor` must be a number or have one entry per cliff "
                    f"({len(cliffs)}), but received {list(cliff_factor)!r}."
                )
            self.cliff_factor: float | list[float] = [
                _check_number("cliff_factor", f, low=0.0, high=1.0, low_open=True)
                for f in cliff_factor
            ]
            self._cliff_factors = list(self.cliff_factor)
        else:
            self.cliff_factor = _check_number(
                "cliff_factor", cliff_factor, low=0.0, high=1.0, low_open=True
            )
            self._cliff_factors = [self.cliff_factor] * len(cliffs)
        if decay not in _DECAY_SHAPES:
            raise ValueError(
                f"`decay` must be one of {_DECAY_SHAPES}, but received {decay!r}."
            )
        self.decay = decay
        self.decay_rate = _check_number(
            "decay_rate", decay_rate, low=0.0, high=1.0, low_open=True
        )

    def _rate_at(self, t: Any) -> Any:
        """The rate at time ``t`` in this schedule's unit (epochs or steps)."""
        return _cliff_decay_rate(
            t,
            initial_learning_rate=self.initial_learning_rate,
            cliffs=self.cliffs,
            cliff_factors=self._cliff_factors,
            decay=self.decay,
            decay_rate=self.decay_rate,
            warmup=self.warmup,
            min_learning_rate=self.min_learning_rate,
        )

    def _stage(self, t: float) -> int:
        """How many cliffs have been passed by time ``t`` (for messages)."""
        return sum(1 for cliff in self.cliffs if t >= cliff)

    def get_config(self) -> dict[str, Any]:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "cliffs": list(self.cliffs),
            "cliff_factor": (
                list(self.cliff_factor)
                if isinstance(self.cliff_factor, list)
                else self.cliff_factor
            ),
            "decay": self.decay,
            "decay_rate": self.decay_rate,
            "steps_per_epoch": self.steps_per_epoch,
            "warmup": self.warmup,
            "min_learning_rate": self.min_learning_rate,
        }
