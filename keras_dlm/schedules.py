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

Cyclical schedules count optimizer steps ``t`` (0-based iterations):

* one-cycle (Smith & Topin 2018, PyTorch's ``OneCycleLR``): from
  ``η_max / initial_div`` up to ``η_max`` over the first
  ``warmup_fraction · total_steps`` steps, then down to
  ``η_max / initial_div / final_div`` (or, with ``three_phase``, back to
  ``η_max / initial_div`` over as many steps and then down to the minimum),
  each phase a half cosine or a straight line;
* cyclical (Smith 2017, PyTorch's ``CyclicLR``, TensorFlow Addons'
  ``CyclicalLearningRate``): with ``c = floor(1 + t / (2 s))`` and
  ``x = |t / s − 2c + 1|``, ``η(t) = η_base + (η_max − η_base) · max(0, 1 − x)
  · scale``, ``scale`` = 1 (``triangular``), ``1 / 2^(c − 1)``
  (``triangular2``) or ``γ^t`` (``exp_range``).

Every schedule exposes its rate function as ``rate_at(t)``; the callbacks in
:mod:`keras_dlm.callbacks` and :func:`keras_dlm.plot_schedule` call it, so a
callback and a schedule with the same arguments give the same rates.
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Sequence
from typing import Any

import keras
from keras import ops

from keras_dlm._checks import (
    check_bool,
    check_choice,
    check_integer,
    check_number,
    invalid_argument,
)

__all__ = ["CliffDecay", "Cyclical", "OneCycle", "StepDecay"]

_DECAY_SHAPES = ("exponential", "linear", "cosine")
_DTYPE = "float32"


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
        self.initial_learning_rate = check_number(
            "initial_learning_rate", initial_learning_rate, low=0.0, low_inclusive=False
        )
        self.steps_per_epoch = check_integer(
            "steps_per_epoch", steps_per_epoch, allow_none=True
        )
        self.warmup = check_number("warmup", warmup, low=0.0)
        self.min_learning_rate = check_number(
            "min_learning_rate",
            min_learning_rate,
            low=0.0,
            high=self.initial_learning_rate,
        )

    def rate_at(self, t: Any) -> Any:
        """The learning rate at time ``t`` (epochs with ``steps_per_epoch``, else
        steps; a number or an array, fractional values allowed), as a float32
        tensor: what the callbacks and :func:`keras_dlm.plot_schedule` use."""
        raise NotImplementedError

    def __call__(self, step: Any) -> Any:
        t = ops.cast(step, _DTYPE)
        if self.steps_per_epoch is not None:
            t = t / float(self.steps_per_epoch)
        return self.rate_at(t)


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
        self.drop_every = check_number(
            "drop_every", drop_every, low=0.0, low_inclusive=False
        )
        self.factor = check_number(
            "factor", factor, low=0.0, high=1.0, low_inclusive=False
        )

    def rate_at(self, t: Any) -> Any:
        """The learning rate at time ``t`` in the unit of ``drop_every`` /
        ``cliffs`` (a number or an array), as a float32 tensor."""
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
            raise invalid_argument(
                "cliffs", cliffs, "a list of epochs or steps", error=TypeError
            )
        cliffs = [check_number("cliffs", c, low=0.0) for c in cliffs]
        if not cliffs or any(b <= a for a, b in itertools.pairwise(cliffs)):
            raise invalid_argument(
                "cliffs", cliffs, "a non-empty, strictly increasing list"
            )
        self.cliffs = cliffs
        if isinstance(cliff_factor, Sequence) and not isinstance(cliff_factor, str):
            if len(cliff_factor) != len(cliffs):
                raise invalid_argument(
                    "cliff_factor",
                    list(cliff_factor),
                    f"a number or one number per cliff ({len(cliffs)})",
                )
            self.cliff_factor: float | list[float] = [
                check_number("cliff_factor", f, low=0.0, high=1.0, low_inclusive=False)
                for f in cliff_factor
            ]
            self._cliff_factors = list(self.cliff_factor)
        else:
            self.cliff_factor = check_number(
                "cliff_factor", cliff_factor, low=0.0, high=1.0, low_inclusive=False
            )
            self._cliff_factors = [self.cliff_factor] * len(cliffs)
        self.decay = check_choice("decay", decay, _DECAY_SHAPES)
        self.decay_rate = check_number(
            "decay_rate", decay_rate, low=0.0, high=1.0, low_inclusive=False
        )

    def rate_at(self, t: Any) -> Any:
        """The learning rate at time ``t`` in the unit of ``drop_every`` /
        ``cliffs`` (a number or an array), as a float32 tensor."""
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


_ANNEALS = ("cos", "linear")


def _anneal(start: float, end: float, fraction: Any, shape: str) -> Any:
    """PyTorch's ``_annealing_cos`` / ``_annealing_linear``, element-wise."""
    if shape == "cos":
        # (1 + cos(πf)) / 2 written as cos²(πf/2): no cancellation near f = 1,
        # where the rate is tiny and float32 would lose its digits.
        return end + (start - end) * ops.square(ops.cos(math.pi / 2.0 * fraction))
    # Weighted form: exactly `end` at fraction 1 in float32 too.
    return start * (1.0 - fraction) + end * fraction


def _piecewise(t: Any, phases: Sequence[tuple[float, float, float]], shape: str) -> Any:
    """Values along consecutive annealed phases ``(end_step, start, end)``.

    Phase ``i`` runs from the previous phase's ``end_step`` (0 for the first)
    to its own, as in PyTorch's ``OneCycleLR.get_lr``; a step belongs to the
    first phase whose ``end_step`` it does not exceed, or to the last.
    """
    value = None
    begin = 0.0
    for index, (end_step, start, end) in enumerate(phases):
        span = end_step - begin
        if span > 0:
            segment = _anneal(start, end, (t - begin) / span, shape)
        else:  # a phase of no length ends where it starts
            segment = ops.full_like(t, end)
        if value is None:
            value = segment
        elif index == len(phases) - 1:
            value = ops.where(t > phases[index - 1][0], segment, value)
        else:
            value = ops.where(
                ops.logical_and(t > phases[index - 1][0], t <= end_step),
                segment,
                value,
            )
        begin = end_step
    return value


@keras.saving.register_keras_serializable(package="keras_dlm")
class OneCycle(keras.optimizers.schedules.LearningRateSchedule):
    """The one-cycle policy: warm up to ``max_learning_rate``, then anneal.

    The rate at the optimizer's 0-based iteration ``t`` is PyTorch's
    ``OneCycleLR`` rate after ``t`` scheduler steps. With ``p`` =
    ``warmup_fraction``, ``T`` = ``total_steps``, ``η₀ = max_learning_rate /
    initial_div`` and ``η_min = η₀ / final_div``:

    - two phases (default): ``η₀ → max_learning_rate`` over steps
      ``0 … pT − 1``, then ``max_learning_rate → η_min`` until ``T − 1``;
    - ``three_phase=True``: ``η₀ → max_learning_rate`` until ``pT − 1``,
      ``max_learning_rate → η₀`` until ``2pT − 2``, ``η₀ → η_min`` until
      ``T − 1``.

    Each phase is a half cosine (``anneal="cos"``) or a straight line
    (``"linear"``). Steps at or past ``T − 1`` keep ``η_min``.

    Args:
        max_learning_rate: the peak rate, > 0.
        total_steps: optimizer steps in the whole cycle (epochs × batches per
            epoch), >= 2.
        warmup_fraction: fraction of ``total_steps`` spent rising, in [0, 1]
            (PyTorch's ``pct_start``); with ``three_phase`` at most 0.5.
        anneal: ``"cos"`` or ``"linear"``.
        initial_div: the rate starts at ``max_learning_rate / initial_div``,
            >= 1.
        final_div: the rate ends at ``max_learning_rate / initial_div /
            final_div``, >= 1.
        three_phase: come back down to the starting rate symmetrically before
            the final annealing (fastai's and PyTorch's option).

    Call arguments:
        step: the optimizer step (integer tensor or Python int, or an array
            of steps); returns the rate as a float32 tensor of the same shape.

    Example:

    >>> import keras
    >>> from keras_dlm.schedules import OneCycle
    >>> schedule = OneCycle(0.1, total_steps=100)
    >>> print(*[f"{float(schedule(step)):.4g}" for step in (0, 29, 99)])
    0.004 0.1 4e-07
    >>> optimizer = keras.optimizers.SGD(learning_rate=schedule, momentum=0.9)
    """

    def __init__(
        self,
        max_learning_rate: float,
        total_steps: int,
        *,
        warmup_fraction: float = 0.3,
        anneal: str = "cos",
        initial_div: float = 25.0,
        final_div: float = 1e4,
        three_phase: bool = False,
    ) -> None:
        self.max_learning_rate = check_number(
            "max_learning_rate", max_learning_rate, low=0.0, low_inclusive=False
        )
        self.total_steps = check_integer("total_steps", total_steps, minimum=2)
        self.three_phase = check_bool("three_phase", three_phase)
        self.warmup_fraction = check_number(
            "warmup_fraction",
            warmup_fraction,
            low=0.0,
            high=0.5 if self.three_phase else 1.0,
        )
        self.anneal = check_choice("anneal", anneal, _ANNEALS)
        self.initial_div = check_number("initial_div", initial_div, low=1.0)
        self.final_div = check_number("final_div", final_div, low=1.0)

    @property
    def initial_learning_rate(self) -> float:
        """The first rate, ``max_learning_rate / initial_div``."""
        return self.max_learning_rate / self.initial_div

    @property
    def min_learning_rate(self) -> float:
        """The last rate, ``initial_learning_rate / final_div``."""
        return self.initial_learning_rate / self.final_div

    def phases(self, start: float, peak: float, end: float) -> list[tuple]:
        """The phases ``(end_step, from, to)`` for values ``start → peak → end``.

        Used with the rates, and by the callback with the momenta (which run
        ``max → base → max``).
        """
        rise = self.warmup_fraction * self.total_steps - 1
        last = float(self.total_steps - 1)
        if self.three_phase:
            return [
                (rise, start, peak),
                (2 * self.warmup_fraction * self.total_steps - 2, peak, start),
                (last, start, end),
            ]
        return [(rise, start, peak), (last, peak, end)]

    def value_at(self, t: Any, start: float, peak: float, end: float) -> Any:
        """A one-cycle curve ``start → peak → end`` at step ``t`` (float32)."""
        t = ops.clip(_as_time(t), 0.0, float(self.total_steps - 1))
        return _piecewise(t, self.phases(start, peak, end), self.anneal)

    def rate_at(self, t: Any) -> Any:
        """The learning rate at step ``t`` (a number or an array), float32."""
        return self.value_at(
            t,
            self.initial_learning_rate,
            self.max_learning_rate,
            self.min_learning_rate,
        )

    def __call__(self, step: Any) -> Any:
        return self.rate_at(step)

    def get_config(self) -> dict[str, Any]:
        return {
            "max_learning_rate": self.max_learning_rate,
            "total_steps": self.total_steps,
            "warmup_fraction": self.warmup_fraction,
            "anneal": self.anneal,
            "initial_div": self.initial_div,
            "final_div": self.final_div,
            "three_phase": self.three_phase,
        }


_CYCLICAL_MODES = ("triangular", "triangular2", "exp_range")


@keras.saving.register_keras_serializable(package="keras_dlm")
class Cyclical(keras.optimizers.schedules.LearningRateSchedule):
    """Cyclical learning rates (Smith 2017): triangles between two rates.

    At the optimizer's 0-based iteration ``t``, with ``s`` = ``step_size``,
    ``c = floor(1 + t / (2s))`` (the 1-based cycle) and
    ``x = |t / s − 2c + 1|``::

        rate = base + (max − base) · max(0, 1 − x) · scale

    where ``scale`` is 1 (``"triangular"``), ``1 / 2 ** (c − 1)``
    (``"triangular2"``: the amplitude halves every cycle) or ``gamma ** t``
    (``"exp_range"``). These are PyTorch's ``CyclicLR`` (with
    ``step_size_down = step_size_up``) and TensorFlow Addons'
    ``TriangularCyclicalLearningRate`` / ``Triangular2…`` /
    ``ExponentialCyclicalLearningRate``.

    Args:
        base_learning_rate: the lowest rate, >= 0.
        max_learning_rate: the rate at the top of the first cycle, >
            ``base_learning_rate``.
        step_size: steps from bottom to top (half a cycle), > 0; Smith
            suggests 2–10 epochs' worth.
        mode: ``"triangular"``, ``"triangular2"`` or ``"exp_range"``.
        gamma: the per-step factor of ``"exp_range"``, in (0, 1].

    Call arguments:
        step: the optimizer step (integer tensor or Python int, or an array
            of steps); returns the rate as a float32 tensor of the same shape.

    Example:

    >>> from keras_dlm.schedules import Cyclical
    >>> schedule = Cyclical(0.001, 0.006, step_size=4, mode="triangular2")
    >>> print(*[f"{float(schedule(step)):.4g}" for step in (0, 2, 4, 8, 12)])
    0.001 0.0035 0.006 0.001 0.0035
    """

    def __init__(
        self,
        base_learning_rate: float,
        max_learning_rate: float,
        step_size: float,
        *,
        mode: str = "triangular",
        gamma: float = 1.0,
    ) -> None:
        self.base_learning_rate = check_number(
            "base_learning_rate", base_learning_rate, low=0.0
        )
        self.max_learning_rate = check_number(
            "max_learning_rate", max_learning_rate, low=0.0, low_inclusive=False
        )
        if self.max_learning_rate <= self.base_learning_rate:
            raise invalid_argument(
                "max_learning_rate",
                max_learning_rate,
                f"larger than base_learning_rate={self.base_learning_rate:g}",
            )
        self.step_size = check_number(
            "step_size", step_size, low=0.0, low_inclusive=False
        )
        self.mode = check_choice("mode", mode, _CYCLICAL_MODES)
        self.gamma = check_number(
            "gamma", gamma, low=0.0, high=1.0, low_inclusive=False
        )

    def height_at(self, t: Any) -> Any:
        """The fraction of the way from base to max at step ``t``, scale included
        (in [0, 1]; the callback cycles the momentum with it)."""
        t = _as_time(t)
        cycle = ops.floor(1.0 + t / (2.0 * self.step_size))
        x = ops.abs(t / self.step_size - 2.0 * cycle + 1.0)
        triangle = ops.maximum(0.0, 1.0 - x)
        if self.mode == "triangular2":
            triangle = triangle / ops.power(2.0, cycle - 1.0)
        elif self.mode == "exp_range":
            triangle = triangle * ops.power(
                ops.convert_to_tensor(self.gamma, _DTYPE), t
            )
        return triangle

    def rate_at(self, t: Any) -> Any:
        """The learning rate at step ``t`` (a number or an array), float32."""
        span = self.max_learning_rate - self.base_learning_rate
        return self.base_learning_rate + span * self.height_at(t)

    def __call__(self, step: Any) -> Any:
        return self.rate_at(step)

    def get_config(self) -> dict[str, Any]:
        return {
            "base_learning_rate": self.base_learning_rate,
            "max_learning_rate": self.max_learning_rate,
            "step_size": self.step_size,
            "mode": self.mode,
            "gamma": self.gamma,
        }
