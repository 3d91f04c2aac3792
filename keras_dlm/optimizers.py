"""Optimizer wrappers: Lookahead (Zhang et al. 2019).

``Lookahead(optimizer)`` keeps a second, "slow" copy of every trained weight.
The wrapped ("fast") optimizer takes its ordinary steps; after every
``sync_period``-th step the slow weights move a fraction ``slow_step_size``
of the way toward the fast ones and the fast weights are reset onto them::

    after step n (n = 1, 2, …), when n % k == 0:
        slow ← slow + α · (fast − slow)
        fast ← slow

with the slow weights equal to the weights before the first step. These are
TensorFlow Addons' ``Lookahead`` numbers. The wrapper is a Keras optimizer:
it trains under ``fit`` on TensorFlow, JAX and PyTorch, and the slow weights,
the step count and the inner optimizer's state are saved in a ``.keras`` file,
so a reloaded model resumes exactly where it stopped.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from keras_dlm._backend import keras_internals
from keras_dlm._checks import check_integer, check_number, invalid_argument

__all__ = ["Lookahead"]


def _rate_owner(optimizer: Any) -> Any:
    """The optimizer that really holds the learning rate (unwraps wrappers)."""
    while getattr(optimizer, "inner_optimizer", None) is not None:
        optimizer = optimizer.inner_optimizer
    return optimizer


def _require_float_learning_rate(optimizer: Any, *, owner: str) -> None:
    """Raises a TypeError when the optimizer's learning rate is a schedule."""
    current = keras_internals.optimizer_learning_rate(_rate_owner(optimizer))
    if isinstance(current, keras.optimizers.schedules.LearningRateSchedule) or (
        callable(current) and not isinstance(current, keras.Variable)
    ):
        raise TypeError(
            f"{owner} sets the optimizer's learning rate at run time, but the "
            f"optimizer {optimizer.name!r} was given a schedule "
            f"({type(current).__name__}) as its `learning_rate`, which cannot be "
            "overwritten. Create the optimizer with a float `learning_rate`, or "
            "drop the callback and pass the schedule (keras_dlm.schedules."
            "StepDecay, CliffDecay, OneCycle, Cyclical) to the optimizer instead."
        )


def _set_learning_rate(optimizer: Any, value: float, *, owner: str) -> None:
    """Assigns a float learning rate, or raises a TypeError naming the problem."""
    _require_float_learning_rate(optimizer, owner=owner)
    optimizer.learning_rate = value


def _current_learning_rate(optimizer: Any) -> float:
    return float(ops.convert_to_numpy(optimizer.learning_rate))


@keras.saving.register_keras_serializable(package="keras_dlm")
class Lookahead(keras.optimizers.Optimizer):
    """Lookahead: k fast steps forward, then one step back toward slow weights.

    Wraps any Keras optimizer (the "fast" one). After every optimizer step
    ``n`` (counted from 1) with ``n % sync_period == 0``, each slow weight
    becomes ``slow + slow_step_size · (fast − slow)`` and the fast weight is
    set to it. The slow weights start as the weights before the first step
    (they are initialised inside that step, so that building the optimizer
    symbolically, as ``fit`` does, cannot leave them at zero).

    ``learning_rate`` and ``iterations`` are those of the wrapped optimizer,
    so learning-rate callbacks and schedules act on it unchanged.

    Args:
        optimizer: the inner Keras optimizer (an instance, or a name such as
            ``"sgd"``).
        sync_period: ``k``, fast steps between synchronisations, >= 1.
        slow_step_size: ``α``, the fraction of the way the slow weights move
            at a synchronisation, in (0, 1].
        name: the optimizer's name.

    Example:

    >>> import keras, numpy as np
    >>> from keras_dlm.optimizers import Lookahead
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    >>> optimizer = Lookahead(keras.optimizers.SGD(0.1, momentum=0.9))
    >>> model.compile(optimizer=optimizer, loss="mse")
    >>> x = np.ones((16, 3), "float32")
    >>> _ = model.fit(x, x.sum(1), batch_size=4, epochs=3, verbose=0)
    >>> int(optimizer.iterations)
    12
    """

    def __init__(
        self,
        optimizer: Any,
        sync_period: int = 6,
        slow_step_size: float = 0.5,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        if isinstance(optimizer, str):
            optimizer = keras.optimizers.get(optimizer)
        if not isinstance(optimizer, keras.optimizers.Optimizer):
            raise invalid_argument(
                "optimizer", optimizer, "a keras.optimizers.Optimizer", error=TypeError
            )
        if kwargs:
            raise invalid_argument(
                "kwargs",
                sorted(kwargs),
                "empty: set clipping, weight decay or EMA on the inner optimizer",
            )
        sync_period = check_integer("sync_period", sync_period)
        slow_step_size = check_number(
            "slow_step_size", slow_step_size, low=0.0, high=1.0, low_inclusive=False
        )
        super().__init__(learning_rate=0.0, name=name)
        self.sync_period = sync_period
        self.slow_step_size = slow_step_size
        self.inner_optimizer = optimizer
        self._slow_weights: list = []

    def build(self, var_list: list) -> None:
        self.inner_optimizer.build(var_list)
        super().build(var_list)
        self._slow_weights = self.add_optimizer_variables(var_list, "slow")

    @property
    def variables(self) -> list:
        return (
            keras_internals.optimizer_own_variables(self)
            + self.inner_optimizer.variables
        )

    @property
    def learning_rate(self) -> Any:
        return self.inner_optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, learning_rate: Any) -> None:
        self.inner_optimizer.learning_rate = learning_rate

    @property
    def iterations(self) -> Any:
        return self.inner_optimizer.iterations

    def _slow_for(self, trainable_variables: list) -> list:
        own = self._trainable_variables
        if len(trainable_variables) == len(own) and all(
            a is b for a, b in zip(trainable_variables, own, strict=True)
        ):
            return list(self._slow_weights)
        index = {id(variable): i for i, variable in enumerate(own)}
        return [self._slow_weights[index[id(v)]] for v in trainable_variables]

    def _initialise_slow(self, step: Any, variables: list, slow: list) -> None:
        first = ops.equal(step, 0)
        for variable, slow_variable in zip(variables, slow, strict=True):
            slow_variable.assign(ops.where(first, variable, slow_variable))

    def _synchronise(self, step: Any, variables: list, slow: list) -> None:
        # `step` is the count before this update: the update just made is n+1.
        sync = ops.equal(ops.mod(step + 1, self.sync_period), 0)
        for variable, slow_variable in zip(variables, slow, strict=True):
            moved = slow_variable + self.slow_step_size * (
                ops.cast(variable, slow_variable.dtype) - slow_variable
            )
            slow_variable.assign(ops.where(sync, moved, slow_variable))
            variable.assign(ops.where(sync, ops.cast(moved, variable.dtype), variable))

    def apply(self, grads: list, trainable_variables: list | None = None) -> None:
        if not self.built:
            with keras.name_scope(self.name, caller=self):
                self.build(trainable_variables)
            self.built = True
        variables = (
            list(trainable_variables)
            if trainable_variables is not None
            else list(self._trainable_variables)
        )
        slow = self._slow_for(variables)
        # A copy: the inner step increments `iterations` in place.
        step = ops.add(ops.convert_to_tensor(self.iterations), 0)
        self._initialise_slow(step, variables, slow)
        self.inner_optimizer.apply(grads, trainable_variables)
        self._synchronise(step, variables, slow)

    def stateless_apply(
        self, optimizer_variables: list, grads: list, trainable_variables: list
    ) -> tuple[list, list]:
        if not self.built:
            raise ValueError(
                "Lookahead must be built before stateless_apply: call "
                "optimizer.build(trainable_variables) first."
            )
        own_count = len(keras_internals.optimizer_own_variables(self))
        own_values = list(optimizer_variables[:own_count])
        inner_values = list(optimizer_variables[own_count:])
        step = inner_values[self._inner_iterations_index()]
        slow_index = {
            id(v): i
            for i, v in enumerate(keras_internals.optimizer_own_variables(self))
        }
        slow_positions = [slow_index[id(s)] for s in self._slow_weights]
        first = ops.equal(step, 0)
        for position, value in zip(slow_positions, trainable_variables, strict=True):
            own_values[position] = ops.where(first, value, own_values[position])
        new_variables, new_inner = self.inner_optimizer.stateless_apply(
            inner_values, grads, trainable_variables
        )
        sync = ops.equal(ops.mod(step + 1, self.sync_period), 0)
        synced = []
        for position, value in zip(slow_positions, new_variables, strict=True):
            slow_value = own_values[position]
            moved = slow_value + self.slow_step_size * (
                ops.cast(value, slow_value.dtype) - slow_value
            )
            own_values[position] = ops.where(sync, moved, slow_value)
            synced.append(ops.where(sync, ops.cast(moved, value.dtype), value))
        return synced, own_values + list(new_inner)

    def _inner_iterations_index(self) -> int:
        iterations = self.inner_optimizer.iterations
        for index, variable in enumerate(self.inner_optimizer.variables):
            if variable is iterations:
                return index
        raise RuntimeError("the inner optimizer does not track its iterations")

    def finalize_variable_values(self, var_list: list) -> None:
        self.inner_optimizer.finalize_variable_values(var_list)

    def get_config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "optimizer": keras.saving.serialize_keras_object(self.inner_optimizer),
            "sync_period": self.sync_period,
            "slow_step_size": self.slow_step_size,
        }

    @classmethod
    def from_config(
        cls, config: dict[str, Any], custom_objects: dict | None = None
    ) -> Lookahead:
        config = dict(config)
        inner = keras.saving.deserialize_keras_object(
            config.pop("optimizer"), custom_objects=custom_objects
        )
        return cls(inner, **config)
