"""Two-phase fine-tuning: train the head on a frozen backbone, then unfreeze."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from keras_dlm._backend import keras_internals
from keras_dlm._checks import (
    check_choice,
    check_integer,
    check_number,
    invalid_argument,
)
from keras_dlm.transfer.hub_backbone import HubBackbone
from keras_dlm.transfer.model import BACKBONE_NAME

HEAD_PHASE = "head"
FINE_TUNE_PHASE = "fine_tune"


@keras.saving.register_keras_serializable(package="keras_dlm")
class _ScaledSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """A learning-rate schedule multiplied by a constant (phase 2 of fine_tune)."""

    def __init__(
        self, schedule: keras.optimizers.schedules.LearningRateSchedule, factor: float
    ) -> None:
        self.schedule = schedule
        self.factor = float(factor)

    def __call__(self, step: Any) -> Any:
        return self.schedule(step) * self.factor

    def get_config(self) -> dict[str, Any]:
        return {
            "schedule": keras.optimizers.schedules.serialize(self.schedule),
            "factor": self.factor,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> _ScaledSchedule:
        schedule = keras.optimizers.schedules.deserialize(config["schedule"])
        return cls(schedule, config["factor"])


class FineTuneHistory:
    """The record of both phases of :func:`fine_tune`, epoch by epoch.

    Attributes:
        history: dict from metric name (``"loss"``, ``"accuracy"``,
            ``"val_loss"``, ..., and ``"learning_rate"``) to one value per epoch,
            head phase first.
        epoch: epoch indices, continuing across the phases.
        phase: ``"head"`` or ``"fine_tune"`` for each epoch.
        head: the Keras ``History`` of phase 1 (``None`` if it did not run).
        fine_tune: the Keras ``History`` of phase 2 (``None`` if it did not run).
    """

    def __init__(
        self,
        head: keras.callbacks.History | None,
        fine_tune: keras.callbacks.History | None,
        learning_rates: Sequence[float],
    ) -> None:
        self.head = head
        self.fine_tune = fine_tune
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []
        self.phase: list[str] = []
        for name, record in ((HEAD_PHASE, head), (FINE_TUNE_PHASE, fine_tune)):
            if record is None:
                continue
            done = len(self.epoch)
            for key, values in record.history.items():
                column = self.history.setdefault(key, [math.nan] * done)
                column.extend(float(value) for value in values)
            self.epoch.extend(record.epoch)
            self.phase.extend([name] * len(record.epoch))
            for column in self.history.values():
                column.extend([math.nan] * (len(self.epoch) - len(column)))
        if "learning_rate" not in self.history and len(learning_rates) == len(
            self.epoch
        ):
            self.history["learning_rate"] = [float(rate) for rate in learning_rates]

    def for_phase(self, phase: str) -> dict[str, list[float]]:
        """Returns ``history`` restricted to the epochs of ``phase``."""
        if phase not in (HEAD_PHASE, FINE_TUNE_PHASE):
            raise ValueError(
                f"`phase` must be {HEAD_PHASE!r} or {FINE_TUNE_PHASE!r}, got {phase!r}."
            )
        keep = [index for index, name in enumerate(self.phase) if name == phase]
        return {key: [values[i] for i in keep] for key, values in self.history.items()}

    def __repr__(self) -> str:
        counts = {
            name: self.phase.count(name) for name in (HEAD_PHASE, FINE_TUNE_PHASE)
        }
        return f"FineTuneHistory(epochs={counts}, keys={sorted(self.history)})"


class _LearningRateLog(keras.callbacks.Callback):
    def __init__(self) -> None:
        super().__init__()
        self.rates: list[float] = []

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        del epoch, logs
        rate = self.model.optimizer.learning_rate
        self.rates.append(float(keras.ops.convert_to_numpy(rate)))


# Written into the optimizer before the user's callbacks run, so that any value
# found afterwards was set by one of them (a real rate is never negative).
_UNSET_RATE = -1.0


class _RateGuard(keras.callbacks.Callback):
    """Scales, in phase 2, the rates that schedule callbacks set at a begin hook.

    StepDecay, CliffDecay and LearningRateScheduler set an absolute rate at the
    beginning of each epoch (or batch), which would undo ``fine_tune_lr_factor``.
    One guard runs before the user's callbacks and one after them: the first
    writes a sentinel, the second multiplies a newly set rate by the factor or
    restores the rate that was there.
    """

    def __init__(self, shared: dict[str, float], *, first: bool, factor: float):
        super().__init__()
        self.shared = shared
        self.first = first
        self.factor = factor

    def _guard(self) -> None:
        if not keras_internals.learning_rate_is_settable(self.model.optimizer):
            return
        optimizer = self.model.optimizer
        if self.first:
            self.shared["rate"] = float(
                keras.ops.convert_to_numpy(optimizer.learning_rate)
            )
            optimizer.learning_rate = _UNSET_RATE
            return
        rate = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
        if rate == _UNSET_RATE:
            optimizer.learning_rate = self.shared["rate"]
        else:
            optimizer.learning_rate = rate * self.factor

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._guard()

    def on_train_batch_begin(
        self, batch: int, logs: dict[str, Any] | None = None
    ) -> None:
        self._guard()


def _sublayers(layer: keras.layers.Layer) -> list[keras.layers.Layer]:
    children = getattr(layer, "layers", None)
    if not children:
        return [layer]
    leaves = []
    for child in children:
        leaves.extend(_sublayers(child))
    return leaves


def _find_backbone(
    model: keras.Model, backbone: keras.layers.Layer | str | None
) -> keras.layers.Layer:
    if isinstance(backbone, keras.layers.Layer):
        return backbone
    if isinstance(backbone, str):
        return model.get_layer(backbone)
    if backbone is not None:
        raise invalid_argument(
            "backbone",
            backbone,
            "a layer of the model, a layer name or None",
            error=TypeError,
        )
    candidates = [
        layer
        for layer in model.layers
        if isinstance(layer, HubBackbone | keras.Model) and layer.weights
    ]
    if len(candidates) == 1:
        return candidates[0]
    named = [layer for layer in model.layers if layer.name == BACKBONE_NAME]
    if named:
        return named[0]
    raise ValueError(
        f"Could not tell which layer of {model.name!r} is the backbone (found "
        f"{[layer.name for layer in candidates]}); pass `backbone=` the layer or "
        "its name."
    )


def _check_unfreeze(unfreeze: Any) -> str | int | float:
    """``"all"``, an int >= 0 (a count) or a float in (0, 1] (a fraction)."""
    if isinstance(unfreeze, str):
        return check_choice("unfreeze", unfreeze, ("all",))
    if isinstance(unfreeze, numbers.Integral) and not isinstance(unfreeze, bool):
        return check_integer("unfreeze", unfreeze, minimum=0)
    if isinstance(unfreeze, numbers.Real) and not isinstance(unfreeze, bool):
        return check_number(
            "unfreeze", unfreeze, low=0.0, high=1.0, low_inclusive=False
        )
    raise invalid_argument(
        "unfreeze",
        unfreeze,
        '"all", an integer >= 0 or a fraction in (0, 1]',
        error=TypeError,
    )


def _count_from(unfreeze: int | float, total: int) -> int:
    if isinstance(unfreeze, int):
        return min(unfreeze, total)
    return math.ceil(unfreeze * total)


def _unfreeze(backbone: keras.layers.Layer, unfreeze: str | int | float) -> None:
    """Makes the top part of ``backbone`` trainable (batch norms stay frozen)."""
    backbone.trainable = True
    if isinstance(backbone, HubBackbone):
        # A hub module is one layer: count its variables, bottom to top.
        units = list(backbone.trainable_weights)
        if unfreeze != "all":
            keep = _count_from(unfreeze, len(units))
            for weight in units[: len(units) - keep]:
                weight.trainable = False
        return
    layers = [layer for layer in _sublayers(backbone) if layer.weights]
    if unfreeze != "all":
        keep = _count_from(unfreeze, len(layers))
        for layer in layers[: len(layers) - keep]:
            layer.trainable = False
    # A frozen Keras BatchNormalization runs in inference mode, so its moving
    # statistics keep the values learnt on the large source data set.
    for layer in layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False


def _phase_two_optimizer(
    config: dict[str, Any], optimizer_class: type, factor: float
) -> keras.optimizers.Optimizer:
    rate = config["learning_rate"]
    if isinstance(rate, dict):
        scaled: Any = _ScaledSchedule(
            keras.optimizers.schedules.deserialize(rate), factor
        )
    else:
        scaled = float(rate) * factor
    return optimizer_class.from_config({**config, "learning_rate": scaled})


def fine_tune(
    model: keras.Model,
    train_data: Any,
    validation_data: Any = None,
    *,
    head_epochs: int = 5,
    fine_tune_epochs: int = 5,
    unfreeze: str | int | float = "all",
    fine_tune_lr_factor: float = 0.1,
    optimizer: keras.optimizers.Optimizer | str | None = None,
    callbacks: Sequence[keras.callbacks.Callback] | None = None,
    loss: Any = None,
    metrics: Sequence[Any] | None = None,
    backbone: keras.layers.Layer | str | None = None,
    batch_size: int | None = None,
    verbose: str | int = "auto",
) -> FineTuneHistory:
    """Trains a transfer model in two phases: head only, then head and backbone.

    Phase 1 freezes the backbone and trains the head for ``head_epochs``.
    Phase 2 unfreezes the top of the backbone, compiles again (Keras ignores a
    ``trainable`` change until the model is recompiled, without a warning) with
    a fresh optimizer whose learning rate is multiplied by
    ``fine_tune_lr_factor``, and trains ``fine_tune_epochs`` more, continuing
    the epoch count so that epoch-based callbacks see one run. Batch norms in
    the backbone stay in inference mode in both phases (for a ``HubBackbone``
    unless it was built with ``train_batchnorm=True``).

    Args:
        model: a model holding a backbone, e.g. from ``build_transfer_model``.
        train_data: anything ``model.fit`` takes as ``x`` (a ``tf.data`` data
            set, a ``PyDataset``), or an ``(x, y)`` tuple of arrays.
        validation_data: passed to ``model.fit``.
        head_epochs: epochs of phase 1 (may be 0).
        fine_tune_epochs: epochs of phase 2 (may be 0).
        unfreeze: ``"all"``; an int, the number of top layers (Keras backbone)
            or top variables (``HubBackbone``) to unfreeze; or a float in
            ``(0, 1]``, the top fraction of them.
        fine_tune_lr_factor: phase 2's learning rate over phase 1's, a
            finite number > 0. A learning-rate schedule is multiplied step by
            step.
        optimizer: an optimizer (instance or name) for phase 1; phase 2 uses a
            fresh copy of its configuration. Default ``Adam(1e-3)``.
        callbacks: Keras callbacks, used in both phases. A callback that sets
            the learning rate at the beginning of an epoch or batch (e.g.
            ``keras_dlm.callbacks.StepDecay``, ``CliffDecay`` or
            ``keras.callbacks.LearningRateScheduler``) keeps its schedule over
            the continued epoch count, and in phase 2 the rate it sets is
            multiplied by ``fine_tune_lr_factor``.
        loss: the loss; default the model's compiled loss, else
            ``"sparse_categorical_crossentropy"``.
        metrics: metrics to compile with; default ``["accuracy"]``.
        backbone: the backbone layer or its name; by default the model's one
            ``HubBackbone`` or nested Keras model, else the layer named
            ``"backbone"``.
        batch_size: passed to ``model.fit`` when ``train_data`` is arrays.
        verbose: passed to ``model.fit``.

    Returns:
        A :class:`FineTuneHistory` covering both phases.

    Example:

    >>> import keras, numpy as np
    >>> from keras_dlm.transfer import build_transfer_model, fine_tune
    >>> body = keras.Sequential([keras.Input((8, 8, 1)),
    ...                          keras.layers.Conv2D(4, 3)], name="body")
    >>> model = build_transfer_model(body, 3, input_shape=(8, 8, 1))
    >>> x, y = np.random.rand(12, 8, 8, 1), np.arange(12) % 3
    >>> history = fine_tune(model, (x, y), head_epochs=1, fine_tune_epochs=1,
    ...                     verbose=0)
    >>> history.phase
    ['head', 'fine_tune']
    """
    if not isinstance(model, keras.Model):
        raise invalid_argument("model", model, "a keras.Model", error=TypeError)
    head_epochs = check_integer("head_epochs", head_epochs, minimum=0)
    fine_tune_epochs = check_integer("fine_tune_epochs", fine_tune_epochs, minimum=0)
    unfreeze = _check_unfreeze(unfreeze)
    fine_tune_lr_factor = check_number(
        "fine_tune_lr_factor", fine_tune_lr_factor, low=0.0, low_inclusive=False
    )
    if optimizer is not None and not isinstance(
        optimizer, str | keras.optimizers.Optimizer
    ):
        raise invalid_argument(
            "optimizer",
            optimizer,
            "a keras optimizer, an optimizer name or None",
            error=TypeError,
        )
    if callbacks is not None and (
        not isinstance(callbacks, Sequence)
        or not all(isinstance(c, keras.callbacks.Callback) for c in callbacks)
    ):
        raise invalid_argument(
            "callbacks", callbacks, "a list of keras callbacks or None", error=TypeError
        )
    if metrics is not None and (
        isinstance(metrics, str) or not isinstance(metrics, Sequence)
    ):
        raise invalid_argument(
            "metrics", metrics, "a list of metrics or None", error=TypeError
        )
    batch_size = check_integer("batch_size", batch_size, allow_none=True)
    if isinstance(verbose, bool):
        raise invalid_argument("verbose", verbose, '"auto", 0, 1 or 2', error=TypeError)
    check_choice("verbose", verbose, ("auto", 0, 1, 2))
    backbone_layer = _find_backbone(model, backbone)

    phase_one = keras.optimizers.get(optimizer or keras.optimizers.Adam(1e-3))
    optimizer_config = phase_one.get_config()
    if loss is None:
        loss = getattr(model, "loss", None) or "sparse_categorical_crossentropy"
    metrics = ["accuracy"] if metrics is None else list(metrics)

    if isinstance(train_data, tuple) and len(train_data) == 2:
        fit_inputs: dict[str, Any] = {
            "x": train_data[0],
            "y": train_data[1],
            "batch_size": batch_size,
        }
    else:
        # Data sets shuffle themselves; fit() warns when asked to shuffle one.
        fit_inputs = {"x": train_data, "shuffle": False}
    rate_log = _LearningRateLog()
    fit_callbacks = [*(callbacks or []), rate_log]

    head_history = None
    epochs_done = 0
    if head_epochs:
        backbone_layer.trainable = False
        model.compile(optimizer=phase_one, loss=loss, metrics=metrics)
        head_history = model.fit(
            **fit_inputs,
            validation_data=validation_data,
            epochs=head_epochs,
            callbacks=fit_callbacks,
            verbose=verbose,
        )
        epochs_done = len(head_history.epoch)

    tune_history = None
    if fine_tune_epochs:
        _unfreeze(backbone_layer, unfreeze)
        phase_two = _phase_two_optimizer(
            optimizer_config, type(phase_one), fine_tune_lr_factor
        )
        model.compile(optimizer=phase_two, loss=loss, metrics=metrics)
        shared: dict[str, float] = {}
        guarded = [
            _RateGuard(shared, first=True, factor=fine_tune_lr_factor),
            *(callbacks or []),
            _RateGuard(shared, first=False, factor=fine_tune_lr_factor),
            rate_log,
        ]
        tune_history = model.fit(
            **fit_inputs,
            validation_data=validation_data,
            initial_epoch=epochs_done,
            epochs=epochs_done + fine_tune_epochs,
            callbacks=guarded if callbacks else fit_callbacks,
            verbose=verbose,
        )
    return FineTuneHistory(head_history, tune_history, np.asarray(rate_log.rates))
