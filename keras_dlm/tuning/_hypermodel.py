"""TunableModel: a keras_tuner.HyperModel that tunes optimizer, learning rate and schedule."""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Sequence
from typing import Any

import keras

from keras_dlm._checks import check_integer, invalid_argument
from keras_dlm.tuning._kt import keras_tuner
from keras_dlm.tuning._space import SearchSpace

# CliffDecay gets a cliff every `cliff_every` epochs until the last epoch
# (this many when the number of epochs is not known).
_DEFAULT_HORIZON_EPOCHS = 100


def _positional_arity(build_fn: Callable) -> int:
    try:
        signature = inspect.signature(build_fn)
    except (TypeError, ValueError):
        return 1
    positional = [
        parameter
        for parameter in signature.parameters.values()
        if parameter.kind
        in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD)
        and parameter.default is parameter.empty
    ]
    if any(p.kind == p.VAR_POSITIONAL for p in signature.parameters.values()):
        return 2
    return len(positional)


def make_optimizer(
    values: dict[str, Any],
    *,
    steps_per_epoch: int | None = None,
    epochs: int | None = None,
) -> keras.optimizers.Optimizer:
    """Builds the optimizer that a set of hyperparameter values describes.

    Args:
        values: hyperparameter values as :meth:`SearchSpace.values` returns
            them (``optimizer``, ``learning_rate``, ``momentum``, ``schedule``
            and the schedule's parameters; inactive ones ``None``).
        steps_per_epoch: optimizer steps in one epoch; needed when a schedule
            is chosen, because StepDecay and CliffDecay count epochs.
        epochs: the number of training epochs: CliffDecay gets a cliff every
            ``cliff_every`` epochs before it (before epoch 100 if ``None``).

    Returns:
        A Keras optimizer whose learning rate is a float or a
        ``keras_dlm.schedules`` schedule.
    """
    learning_rate = _learning_rate(
        values, steps_per_epoch=steps_per_epoch, epochs=epochs
    )
    name = values["optimizer"]
    if name == "sgd":
        momentum = values.get("momentum")
        return keras.optimizers.SGD(
            learning_rate=learning_rate, momentum=0.0 if momentum is None else momentum
        )
    if name == "adam":
        return keras.optimizers.Adam(learning_rate=learning_rate)
    if name == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate=learning_rate)
    if name == "adamw":
        return keras.optimizers.AdamW(learning_rate=learning_rate)
    raise ValueError(
        f"Unknown optimizer {name!r}; expected one of 'sgd', 'adam', 'rmsprop', "
        "'adamw'."
    )


def _learning_rate(
    values: dict[str, Any], *, steps_per_epoch: int | None, epochs: int | None
) -> Any:
    initial = float(values["learning_rate"])
    schedule = values.get("schedule") or "none"
    if schedule == "none":
        return initial
    if steps_per_epoch is None or steps_per_epoch < 1:
        raise ValueError(
            f"The {schedule!r} schedule counts epochs, so the number of training "
            f"steps per epoch is needed; received steps_per_epoch={steps_per_epoch!r}. "
            "Pass `train_size` to TunableModel (search() sets it from the data)."
        )
    from keras_dlm import schedules

    if schedule == "step":
        return schedules.StepDecay(
            initial,
            drop_every=int(values["step_drop_every"]),
            factor=float(values["step_factor"]),
            steps_per_epoch=int(steps_per_epoch),
        )
    if schedule == "cliff":
        every = int(values["cliff_every"])
        horizon = epochs or _DEFAULT_HORIZON_EPOCHS
        # A cliff at or after the last epoch would never act; keep at least
        # one so that the schedule stays valid.
        cliffs = list(range(every, horizon, every)) or [every]
        return schedules.CliffDecay(
            initial,
            cliffs=cliffs,
            cliff_factor=float(values["cliff_factor"]),
            decay="exponential",
            decay_rate=float(values["cliff_decay_rate"]),
            steps_per_epoch=int(steps_per_epoch),
        )
    if schedule == "onecycle":
        horizon = epochs or _DEFAULT_HORIZON_EPOCHS
        return schedules.OneCycle(
            initial, total_steps=max(2, horizon * int(steps_per_epoch))
        )
    if schedule == "cyclical":
        return schedules.Cyclical(
            initial / 10.0,
            initial,
            step_size=int(values["cyclical_step_epochs"]) * int(steps_per_epoch),
            mode="triangular2",
        )
    raise ValueError(
        f"Unknown schedule {schedule!r}; expected one of 'none', 'step', 'cliff', "
        "'onecycle', 'cyclical'."
    )


class TunableModel(keras_tuner.HyperModel):
    """A keras-tuner HyperModel that tunes dropout, optimizer, learning rate and schedule.

    ``build_fn`` makes the (uncompiled) model; the hypermodel declares the
    search space's hyperparameters, passes the trial's dropout rate to
    ``build_fn``, then compiles the model with the trial's optimizer, learning
    rate and learning-rate schedule (``keras_dlm.schedules.StepDecay`` or
    ``CliffDecay``, counted in epochs). ``fit`` is overridden so that the batch
    size can be tuned; it passes keras-tuner's arguments (callbacks, epochs)
    through unchanged.

    Args:
        build_fn: ``build_fn(hp, dropout)`` or ``build_fn(dropout)``; returns an
            uncompiled ``keras.Model``. ``hp`` is the trial's
            ``keras_tuner.HyperParameters``, for further hyperparameters
            (``hp.get`` for those declared in ``SearchSpace(extra=...)``).
        search_space: a :class:`SearchSpace`; the default one if ``None``.
        loss: the loss passed to ``compile``.
        metrics: the metrics passed to ``compile``.
        train_size: number of training samples per epoch, used to turn the
            schedules' epochs into optimizer steps; :func:`search` sets it from
            its data when it is ``None``.
        epochs: number of training epochs, where CliffDecay's cliffs stop;
            :func:`search` sets it when it is ``None``.
        name: the hypermodel's name.

    Example:

    >>> import keras
    >>> from keras_dlm.tuning import SearchSpace, TunableModel
    >>> def build(dropout):
    ...     return keras.Sequential([
    ...         keras.Input((4,)), keras.layers.Dropout(dropout),
    ...         keras.layers.Dense(3, activation="softmax")])
    >>> hypermodel = TunableModel(build, SearchSpace(schedules=("none",)),
    ...                           loss="sparse_categorical_crossentropy",
    ...                           metrics=["accuracy"])
    >>> import keras_tuner
    >>> model = hypermodel.build(keras_tuner.HyperParameters())
    >>> model.optimizer.__class__.__name__ in ("SGD", "Adam")
    True
    """

    def __init__(
        self,
        build_fn: Callable[..., keras.Model],
        search_space: SearchSpace | None = None,
        *,
        loss: Any,
        metrics: Sequence[Any] | None = None,
        train_size: int | None = None,
        epochs: int | None = None,
        name: str | None = None,
    ) -> None:
        if name is not None and not isinstance(name, str):
            raise invalid_argument("name", name, "a string or None", error=TypeError)
        super().__init__(name=name, tunable=True)
        if not callable(build_fn):
            raise invalid_argument(
                "build_fn",
                build_fn,
                "callable as build_fn(hp, dropout) or build_fn(dropout)",
                error=TypeError,
            )
        arity = _positional_arity(build_fn)
        if arity not in (1, 2):
            raise invalid_argument(
                "build_fn",
                build_fn,
                "a callable taking (hp, dropout) or (dropout), not "
                f"{arity} required positional arguments",
                error=TypeError,
            )
        if search_space is None:
            search_space = SearchSpace()
        if not isinstance(search_space, SearchSpace):
            raise invalid_argument(
                "search_space", search_space, "a SearchSpace or None", error=TypeError
            )
        if loss is None or isinstance(loss, (bool, int, float)):
            raise invalid_argument(
                "loss",
                loss,
                "a loss name, function or keras.losses.Loss",
                error=TypeError,
            )
        if metrics is not None and (
            isinstance(metrics, str) or not isinstance(metrics, Sequence)
        ):
            raise invalid_argument(
                "metrics", metrics, "a list of metrics or None", error=TypeError
            )
        train_size = check_integer("train_size", train_size, allow_none=True)
        epochs = check_integer("epochs", epochs, allow_none=True)
        self.build_fn = build_fn
        self._takes_hp = arity == 2
        self.search_space = search_space
        self.loss = loss
        self.metrics = list(metrics) if metrics is not None else []
        self.train_size = train_size
        self.epochs = epochs

    def steps_per_epoch(self, values: dict[str, Any]) -> int | None:
        """Training steps per epoch for a trial's values, if ``train_size`` is known."""
        if self.train_size is None:
            return None
        batch_size = values.get("batch_size") or 32
        return max(1, math.ceil(self.train_size / batch_size))

    def build(self, hp: Any) -> keras.Model:
        """Builds and compiles the model for the trial's hyperparameters ``hp``."""
        values = self.search_space.declare(hp)
        dropout = values["dropout"]
        model = self.build_fn(hp, dropout) if self._takes_hp else self.build_fn(dropout)
        if not isinstance(model, keras.Model):
            raise TypeError(
                f"`build_fn` must return a keras.Model; it returned {type(model)!r}."
            )
        model.compile(
            optimizer=make_optimizer(
                values, steps_per_epoch=self.steps_per_epoch(values), epochs=self.epochs
            ),
            loss=self.loss,
            metrics=self.metrics,
        )
        if model.built:
            # keras-tuner loads checkpoints (a Hyperband trial continuing an
            # earlier one, the best models) into freshly built models. The
            # files hold the optimizer's variables too, and Keras 3.15 refuses
            # to load them into an optimizer that has none yet.
            model.optimizer.build(model.trainable_variables)
        return model

    def fit(self, hp: Any, model: keras.Model, *args: Any, **kwargs: Any) -> Any:
        """Trains ``model`` with the trial's batch size; ``kwargs`` pass through.

        When keras-tuner resumes a model at ``initial_epoch`` (Hyperband), the
        optimizer's step counter is moved to that epoch so that the schedule
        continues where it would have been.
        """
        values = self.search_space.values(hp)
        if values.get("batch_size") is not None:
            kwargs["batch_size"] = values["batch_size"]
        initial_epoch = int(kwargs.get("initial_epoch") or 0)
        steps_per_epoch = self.steps_per_epoch(values)
        if initial_epoch > 0 and steps_per_epoch is not None:
            model.optimizer.iterations.assign(initial_epoch * steps_per_epoch)
        return model.fit(*args, **kwargs)
