"""Training callbacks: learning-rate decay, one-cycle and cyclical rates,
stochastic weight averaging, the learning-rate finder, and the gradient check.

``StepDecay``, ``CliffDecay``, ``OneCycle`` and ``Cyclical`` take the
arguments of the schedules of the same names in :mod:`keras_dlm.schedules`
and compute the rate with the schedule's own ``rate_at``: the decay callbacks
at the epoch (or, with ``per_batch=True``, at the fractional epoch
``epoch + batch / steps_per_epoch``), the cyclical ones at the global step
``epoch · steps_per_epoch + batch``. Because the rate is a function of the
epoch index that Keras passes in, training resumed with ``initial_epoch`` or
``keras.callbacks.BackupAndRestore`` gets the same rates as an uninterrupted
run. ``LRFinder`` lives in :mod:`keras_dlm.lr_finder` and ``GradientCheck``
in :mod:`keras_dlm.gradcheck`; both are re-exported here.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import keras
import numpy as np
from keras import ops

from keras_dlm import schedules as _schedules
from keras_dlm._backend import keras_internals
from keras_dlm._checks import (
    check_bool,
    check_choice,
    check_integer,
    check_number,
    invalid_argument,
)
from keras_dlm.gradcheck import GradientCheck
from keras_dlm.lr_finder import LRFinder, _is_array_data
from keras_dlm.optimizers import (
    _current_learning_rate,
    _rate_owner,
    _require_float_learning_rate,
    _set_learning_rate,
)

__all__ = [
    "CliffDecay",
    "Cyclical",
    "GradientCheck",
    "LRFinder",
    "OneCycle",
    "StepDecay",
    "StochasticWeightAveraging",
]


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
        # whatever is passed to rate_at, here (fractional) epochs.
        self._schedule = schedule
        self.steps_per_epoch = check_integer(
            "steps_per_epoch", steps_per_epoch, allow_none=True
        )
        self.per_batch = check_bool("per_batch", per_batch)
        self.verbose = check_integer("verbose", verbose, minimum=0)
        self._epoch = 0
        self._stage: int | None = None

    def rate_at(self, epoch: float) -> float:
        """The learning rate this callback sets at (fractional) ``epoch``."""
        return float(ops.convert_to_numpy(self._schedule.rate_at(float(epoch))))

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


def _fit_steps_per_epoch(callback: keras.callbacks.Callback, given: int | None) -> int:
    """Batches per epoch: the callback's own, else the number fit() reports."""
    steps = given or (callback.params or {}).get("steps")
    if not steps:
        raise ValueError(
            f"{type(callback).__name__} needs the number of batches per epoch, "
            "which this fit() does not know (an iterator without a length?). "
            "Pass `steps_per_epoch` to the callback."
        )
    return int(steps)


def _momentum_attribute(optimizer: Any) -> str | None:
    """``"momentum"`` for SGD with momentum, ``"beta_1"`` for the Adam family,
    None for optimizers without a momentum to cycle."""
    momentum = getattr(optimizer, "momentum", None)
    if isinstance(optimizer, keras.optimizers.SGD) and momentum:
        return "momentum"
    if isinstance(getattr(optimizer, "beta_1", None), float | int):
        return "beta_1"
    return None


class _CycledMomentum:
    """The momentum (SGD) or ``beta_1`` (Adam family) held in a variable for
    the length of one ``fit()``, so that a compiled train step reads the value
    set before each batch.

    Keras optimizers read these hyperparameters as Python floats, which a
    compiled step freezes. The variable is added to the optimizer's own
    variables (so JAX's stateless step carries it), the attribute points to it,
    and the train function is retraced; at the end all of it is undone.
    """

    def __init__(self, optimizer: Any, attribute: str, value: float) -> None:
        self.optimizer = optimizer
        self.attribute = attribute
        self.original = getattr(optimizer, attribute)
        variable = optimizer.add_variable(
            shape=(), initializer="zeros", dtype="float32", name=f"cycled_{attribute}"
        )
        if attribute == "momentum":
            # SGD asks `if self.momentum != 0` while tracing: answer in Python.
            variable.__class__ = _nonzero_variable_class(type(variable))
        variable.assign(value)
        self.variable = variable
        setattr(optimizer, attribute, variable)

    def set(self, value: float) -> None:
        self.variable.assign(value)

    def remove(self) -> None:
        setattr(self.optimizer, self.attribute, self.original)
        tracked = keras_internals.optimizer_own_variables(self.optimizer)
        for index, variable in enumerate(tracked):
            if variable is self.variable:
                del tracked[index]
                break


_NONZERO_CLASSES: dict[type, type] = {}


def _nonzero_variable_class(base: type) -> type:
    if base not in _NONZERO_CLASSES:

        def __ne__(self: Any, other: Any) -> Any:  # noqa: N807
            if isinstance(other, int | float) and other == 0:
                return True
            return base.__ne__(self, other)

        _NONZERO_CLASSES[base] = type(
            f"_Cycled{base.__name__}",
            (base,),
            {"__ne__": __ne__, "__hash__": base.__hash__},
        )
    return _NONZERO_CLASSES[base]


class _StepScheduleCallback(keras.callbacks.Callback):
    """Sets the rate of a step-indexed schedule before every batch.

    The step is ``epoch · steps_per_epoch + batch``, computed from the epoch
    index Keras passes in, so a run resumed with ``initial_epoch`` continues
    the same sequence.
    """

    def __init__(
        self,
        steps_per_epoch: int | None,
        cycle_momentum: bool,
        momentum_range: tuple[float, float],
    ) -> None:
        super().__init__()
        self.steps_per_epoch = check_integer(
            "steps_per_epoch", steps_per_epoch, allow_none=True
        )
        self.cycle_momentum = check_bool("cycle_momentum", cycle_momentum)
        base = check_number(
            "base_momentum", momentum_range[0], low=0.0, high=1.0, high_inclusive=False
        )
        peak = check_number(
            "max_momentum", momentum_range[1], low=0.0, high=1.0, high_inclusive=False
        )
        if peak < base:
            raise invalid_argument(
                "max_momentum", peak, f"at least base_momentum={base:g}"
            )
        self.base_momentum, self.max_momentum = base, peak
        self._epoch = 0
        self._steps = 0
        self._momentum: _CycledMomentum | None = None
        self.schedule: Any = None

    def momentum_at(self, step: float) -> float:
        """The momentum (or ``beta_1``) set before global step ``step``."""
        raise NotImplementedError

    def _schedule_for(self, epochs: int, steps_per_epoch: int) -> Any:
        """The schedule a fit() of ``epochs`` × ``steps_per_epoch`` would use."""
        raise NotImplementedError

    def rate_at(self, step: float) -> float:
        """The learning rate this callback sets before global step ``step``."""
        return float(ops.convert_to_numpy(self.schedule.rate_at(float(step))))

    def on_train_begin(self, logs: dict | None = None) -> None:
        _require_float_learning_rate(
            self.model.optimizer, owner=f"keras_dlm.callbacks.{type(self).__name__}"
        )
        self._steps = _fit_steps_per_epoch(self, self.steps_per_epoch)
        self.schedule = self._schedule_for(self.params["epochs"], self._steps)
        if self.cycle_momentum:
            owner = _rate_owner(self.model.optimizer)
            attribute = _momentum_attribute(owner)
            if attribute is not None:
                self._momentum = _CycledMomentum(owner, attribute, self.momentum_at(0))
                # The step traced so far read the float: trace it again.
                self.model.make_train_function(force=True)

    def on_train_end(self, logs: dict | None = None) -> None:
        if self._momentum is not None:
            self._momentum.remove()
            self._momentum = None
            self.model.make_train_function(force=True)

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch = int(epoch)

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        rate = self.rate_at(self._epoch * self._steps + batch)
        _set_learning_rate(
            self.model.optimizer,
            rate,
            owner=f"keras_dlm.callbacks.{type(self).__name__}",
        )
        if self._momentum is not None:
            self._momentum.set(self.momentum_at(self._epoch * self._steps + batch))

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is not None:
            logs["learning_rate"] = _current_learning_rate(self.model.optimizer)
            if self._momentum is not None:
                logs["momentum"] = float(ops.convert_to_numpy(self._momentum.variable))


class OneCycle(_StepScheduleCallback):
    """The one-cycle policy as a callback: sets the rate before every batch.

    The rate before global step ``t = epoch · steps_per_epoch + batch`` is
    :class:`keras_dlm.schedules.OneCycle`'s (PyTorch's ``OneCycleLR``) with
    the same arguments; ``total_steps`` defaults to ``epochs ·
    steps_per_epoch`` of the ``fit()`` call. Writes ``learning_rate`` into
    the epoch logs. Passing the schedule to the optimizer instead gives the
    same rates without a callback.

    Args:
        max_learning_rate: the peak rate, > 0.
        total_steps: steps in the cycle; by default all of ``fit()``'s steps
            (``epochs · steps_per_epoch``). Give it when one run is split over
            several ``fit()`` calls, so that every call sees the same cycle.
        warmup_fraction: fraction of the steps spent rising, in [0, 1].
        anneal: ``"cos"`` or ``"linear"``.
        initial_div: the rate starts at ``max_learning_rate / initial_div``.
        final_div: the rate ends at ``max_learning_rate / initial_div /
            final_div``.
        three_phase: PyTorch's symmetric three-phase variant.
        steps_per_epoch: batches per epoch; by default the number ``fit()``
            reports.

    Example:

    >>> import keras, numpy as np
    >>> from keras_dlm.callbacks import OneCycle
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9), loss="mse")
    >>> history = model.fit(np.ones((8, 2)), np.ones((8, 1)), batch_size=2,
    ...                     epochs=3, verbose=0, callbacks=[OneCycle(0.1)])
    >>> print(*[f"{lr:.3g}" for lr in history.history["learning_rate"]])
    0.0994 0.0463 4e-07
    """

    def __init__(
        self,
        max_learning_rate: float,
        total_steps: int | None = None,
        *,
        warmup_fraction: float = 0.3,
        anneal: str = "cos",
        initial_div: float = 25.0,
        final_div: float = 1e4,
        three_phase: bool = False,
        cycle_momentum: bool = False,
        base_momentum: float = 0.85,
        max_momentum: float = 0.95,
        steps_per_epoch: int | None = None,
    ) -> None:
        super().__init__(steps_per_epoch, cycle_momentum, (base_momentum, max_momentum))
        self._arguments = {
            "max_learning_rate": max_learning_rate,
            "warmup_fraction": warmup_fraction,
            "anneal": anneal,
            "initial_div": initial_div,
            "final_div": final_div,
            "three_phase": three_phase,
        }
        self.total_steps = check_integer(
            "total_steps", total_steps, minimum=2, allow_none=True
        )
        # Validates every argument now, not at the start of training.
        _schedules.OneCycle(total_steps=self.total_steps or 2, **self._arguments)

    def _schedule_for(self, epochs: int, steps_per_epoch: int) -> _schedules.OneCycle:
        total = self.total_steps or max(2, epochs * steps_per_epoch)
        return _schedules.OneCycle(total_steps=total, **self._arguments)

    def momentum_at(self, step: float) -> float:
        """PyTorch's cycled momentum: ``max → base`` while the rate rises,
        ``base → max`` while it falls (and ``max`` in a third phase)."""
        peak, base = self.max_momentum, self.base_momentum
        value = self.schedule.value_at(float(step), peak, base, peak)
        return float(ops.convert_to_numpy(value))


class Cyclical(_StepScheduleCallback):
    """Cyclical learning rates (Smith 2017) as a callback, set before every batch.

    The rate before global step ``t = epoch · steps_per_epoch + batch`` is
    :class:`keras_dlm.schedules.Cyclical`'s with the same arguments
    (PyTorch's ``CyclicLR``, TensorFlow Addons' cyclical schedules). Writes
    ``learning_rate`` into the epoch logs.

    Args:
        base_learning_rate: the lowest rate, >= 0.
        max_learning_rate: the top of the first cycle, > ``base_learning_rate``.
        step_size: steps from bottom to top (half a cycle), > 0.
        mode: ``"triangular"``, ``"triangular2"`` or ``"exp_range"``.
        gamma: per-step factor of ``"exp_range"``, in (0, 1].
        steps_per_epoch: batches per epoch; by default the number ``fit()``
            reports.

    Example:

    >>> import keras, numpy as np
    >>> from keras_dlm.callbacks import Cyclical
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    >>> callback = Cyclical(0.001, 0.006, step_size=2)
    >>> history = model.fit(np.ones((8, 2)), np.ones((8, 1)), batch_size=2,
    ...                     epochs=2, verbose=0, callbacks=[callback])
    >>> print(*[f"{lr:.4g}" for lr in history.history["learning_rate"]])
    0.0035 0.0035
    """

    def __init__(
        self,
        base_learning_rate: float,
        max_learning_rate: float,
        step_size: float,
        *,
        mode: str = "triangular",
        gamma: float = 1.0,
        cycle_momentum: bool = False,
        base_momentum: float = 0.8,
        max_momentum: float = 0.9,
        steps_per_epoch: int | None = None,
    ) -> None:
        super().__init__(steps_per_epoch, cycle_momentum, (base_momentum, max_momentum))
        self.schedule = _schedules.Cyclical(
            base_learning_rate, max_learning_rate, step_size, mode=mode, gamma=gamma
        )

    def _schedule_for(self, epochs: int, steps_per_epoch: int) -> _schedules.Cyclical:
        return self.schedule

    def momentum_at(self, step: float) -> float:
        """PyTorch's ``CyclicLR`` momentum: ``max − (max − base) · height``."""
        height = float(ops.convert_to_numpy(self.schedule.height_at(float(step))))
        return self.max_momentum - (self.max_momentum - self.base_momentum) * height


_SWA_ANNEALS = ("cos", "linear")


def _batch_norm_layers(model: keras.Model) -> list:
    """Every keras.layers.BatchNormalization in ``model``, nested models included."""
    found, pending, seen = [], list(getattr(model, "layers", [])), set()
    while pending:
        layer = pending.pop(0)
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        if isinstance(layer, keras.layers.BatchNormalization):
            found.append(layer)
        pending.extend(getattr(layer, "layers", []))
    return found


def _input_batches(data: Any, batch_size: int) -> Iterable[Any]:
    """The inputs of ``data`` in batches: arrays are cut, datasets iterated.

    A batch that is a tuple or list is taken to be ``(x, y, ...)`` and only
    its first element is kept, as PyTorch's ``update_bn`` does.
    """
    if _is_array_data(data):
        size = len(keras.tree.flatten(data)[0])
        for start in range(0, size, batch_size):
            yield keras.tree.map_structure(
                lambda array, start=start: np.asarray(array)[
                    start : start + batch_size
                ],
                data,
            )
        return
    for batch in data:
        if isinstance(batch, tuple | list):
            batch = batch[0]
        yield keras.tree.map_structure(ops.convert_to_numpy, batch)


def _recompute_batch_norm(
    model: keras.Model, layers: list, data: Any, batch_size: int
) -> int:
    """PyTorch's ``update_bn``: one pass over ``data``, cumulative averages.

    The moving statistics restart at mean 0 / variance 1 and become the plain
    average of the batch statistics: before batch ``k`` (0-based) each layer's
    momentum is set to ``k / (k + 1)``, so Keras's update ``m ← m · μ +
    batch · (1 − μ)`` is the running mean. Returns the number of batches.
    """
    momenta = [layer.momentum for layer in layers]
    for layer in layers:
        mean, variance = layer.moving_mean, layer.moving_variance
        mean.assign(np.zeros(mean.shape, mean.dtype))
        variance.assign(np.ones(variance.shape, variance.dtype))
    count = 0
    try:
        for batch in _input_batches(data, batch_size):
            for layer in layers:
                layer.momentum = count / (count + 1)
            model(batch, training=True)
            count += 1
    finally:
        for layer, momentum in zip(layers, momenta, strict=True):
            layer.momentum = momentum
    if count == 0:
        raise ValueError(
            "StochasticWeightAveraging could not recompute the batch-norm "
            "statistics: `data` yielded no batch."
        )
    return count


class StochasticWeightAveraging(keras.callbacks.Callback):
    """Stochastic weight averaging (Izmailov et al. 2018), PyTorch's swa_utils.

    From epoch ``start_epoch`` (0-based, like Keras's epochs) on, the
    trainable weights at the end of each epoch enter a running average
    ``w̄ ← w̄ + (w − w̄) / (n + 1)`` (the first one is copied), as PyTorch's
    ``AveragedModel.update_parameters``. When training ends the averaged
    weights replace the model's, and, when the model has batch
    normalization, the moving statistics are recomputed with one pass over
    ``data`` in training mode (PyTorch's ``update_bn``: each layer's moving
    mean and variance become the average of the batch statistics; variances
    as Keras's batch norm computes them, without Bessel's correction).

    With ``swa_learning_rate``, the learning rate moves at the start of each
    epoch from its value at ``start_epoch`` to ``swa_learning_rate`` over
    ``anneal_epochs`` epochs and then stays there, as PyTorch's ``SWALR``
    (stepped once per epoch): ``lr = swa · a + lr_start · (1 − a)`` with
    ``a = anneal(min(1, k / max(1, anneal_epochs)))``, ``k`` the epochs since
    ``start_epoch`` (``anneal_epochs=0``: ``swa_learning_rate`` at once).

    Args:
        start_epoch: the first epoch whose weights are averaged, >= 0.
        swa_learning_rate: the SWA learning rate, > 0, or None to leave the
            rate alone (e.g. to a schedule or another callback).
        anneal_epochs: epochs of the move to ``swa_learning_rate``, >= 0.
        anneal: ``"cos"`` or ``"linear"``.
        update_batch_norm: recompute batch-norm statistics for the averaged
            weights; needs ``data`` when the model has batch normalization.
        data: the training inputs for that pass: arrays (or a structure of
            arrays), or a dataset / iterable of batches (``x`` or ``(x, y)``).
        batch_size: batch size for array ``data``.

    Attributes:
        averaged_count: how many epochs' weights were averaged.

    Example:

    >>> import keras, numpy as np
    >>> from keras_dlm.callbacks import StochasticWeightAveraging
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    >>> swa = StochasticWeightAveraging(start_epoch=2, swa_learning_rate=0.01)
    >>> _ = model.fit(np.ones((8, 2)), np.ones((8, 1)), epochs=5, verbose=0,
    ...               callbacks=[swa])
    >>> swa.averaged_count
    3
    """

    def __init__(
        self,
        start_epoch: int,
        *,
        swa_learning_rate: float | None = None,
        anneal_epochs: int = 10,
        anneal: str = "cos",
        update_batch_norm: bool = True,
        data: Any = None,
        batch_size: int = 32,
    ) -> None:
        super().__init__()
        self.start_epoch = check_integer("start_epoch", start_epoch, minimum=0)
        self.swa_learning_rate = check_number(
            "swa_learning_rate",
            swa_learning_rate,
            low=0.0,
            low_inclusive=False,
            allow_none=True,
        )
        self.anneal_epochs = check_integer("anneal_epochs", anneal_epochs, minimum=0)
        self.anneal = check_choice("anneal", anneal, _SWA_ANNEALS)
        self.update_batch_norm = check_bool("update_batch_norm", update_batch_norm)
        if isinstance(data, str | bytes):
            raise invalid_argument(
                "data",
                data,
                "arrays, a dataset or an iterable of batches",
                error=TypeError,
            )
        self.data = data
        self.batch_size = check_integer("batch_size", batch_size)
        self.averaged_count = 0
        self._averages: list[np.ndarray] = []
        self._start_rate: float | None = None

    def rate_at(self, epoch: int) -> float | None:
        """The rate set at the start of ``epoch`` (None: left alone)."""
        if self.swa_learning_rate is None or epoch < self.start_epoch:
            return None
        if self._start_rate is None:
            raise RuntimeError("the rate at start_epoch is not known yet")
        steps = epoch - self.start_epoch
        if self.anneal_epochs == 0:
            steps = max(1, steps)
        fraction = max(0.0, min(1.0, steps / max(1, self.anneal_epochs)))
        if self.anneal == "cos":
            weight = (1.0 - math.cos(math.pi * fraction)) / 2.0
        else:
            weight = fraction
        return self.swa_learning_rate * weight + self._start_rate * (1.0 - weight)

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._batch_norms = _batch_norm_layers(self.model)
        if self._batch_norms and self.update_batch_norm and self.data is None:
            names = ", ".join(layer.name for layer in self._batch_norms)
            raise ValueError(
                "StochasticWeightAveraging: the model has batch normalization "
                f"({names}), whose statistics must be recomputed for the averaged "
                "weights, but no `data` was given. Pass the training inputs as "
                "`data=`, or `update_batch_norm=False` to keep the last statistics."
            )
        if self.swa_learning_rate is not None:
            _require_float_learning_rate(
                self.model.optimizer,
                owner="keras_dlm.callbacks.StochasticWeightAveraging",
            )

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        if self.swa_learning_rate is None or epoch < self.start_epoch:
            return
        optimizer = self.model.optimizer
        if self._start_rate is None:
            self._start_rate = _current_learning_rate(optimizer)
        _set_learning_rate(
            optimizer,
            self.rate_at(epoch),
            owner="keras_dlm.callbacks.StochasticWeightAveraging",
        )

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if epoch < self.start_epoch:
            return
        weights = [
            np.asarray(ops.convert_to_numpy(v.value), dtype=np.float64)
            for v in self.model.trainable_variables
        ]
        if self.averaged_count == 0:
            self._averages = [w.copy() for w in weights]
        else:
            for average, weight in zip(self._averages, weights, strict=True):
                average += (weight - average) / (self.averaged_count + 1)
        self.averaged_count += 1
        if logs is not None:
            logs["learning_rate"] = _current_learning_rate(self.model.optimizer)

    def on_train_end(self, logs: dict | None = None) -> None:
        if self.averaged_count == 0:
            return
        for variable, average in zip(
            self.model.trainable_variables, self._averages, strict=True
        ):
            variable.assign(average.astype(variable.dtype))
        if self._batch_norms and self.update_batch_norm:
            _recompute_batch_norm(
                self.model, self._batch_norms, self.data, self.batch_size
            )
