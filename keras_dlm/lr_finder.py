"""The learning-rate range test (``keras_dlm.lr_find``).

Train for a short while with a learning rate that grows exponentially from
``min_lr`` to ``max_lr``, one batch per rate, and watch the loss: it stays
flat while the rate is too small, falls fastest around a good rate, and
blows up when the rate is too large. The suggested rate is where the
smoothed loss falls fastest against ``log(lr)``. The idea is Leslie Smith's
(2015), popularised by fastai's ``lr_find`` and Lightning's
``Tuner.lr_find``; the model's weights and optimizer state are restored
afterwards, so the sweep leaves no trace.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import keras
import numpy as np

from keras_dlm.callbacks import LRFinder

__all__ = ["LRFinderResult", "lr_find"]

# The first points of a sweep carry little signal (the loss barely moves and
# the smoothed average is still settling), so the steepest descent is looked
# for after them, as Lightning's `skip_begin` does.
_SKIP_FRACTION = 0.1


@dataclasses.dataclass(frozen=True)
class LRFinderResult:
    """What a learning-rate range test measured.

    Attributes:
        learning_rates: the rate of each recorded batch (exponentially spaced).
        losses: each batch's loss.
        smoothed_losses: the bias-corrected moving average of the losses.
        suggestion: the rate where the smoothed loss falls fastest against
            ``log(lr)``, or ``None`` when fewer than 3 usable points exist.
        stopped_early: whether the sweep stopped because the loss diverged.
    """

    learning_rates: np.ndarray
    losses: np.ndarray
    smoothed_losses: np.ndarray
    suggestion: float | None
    stopped_early: bool

    def __str__(self) -> str:
        suggestion = "none" if self.suggestion is None else f"{self.suggestion:.3g}"
        ending = "stopped when the loss diverged" if self.stopped_early else "completed"
        return (
            f"LRFinderResult({len(self.learning_rates)} steps from "
            f"{self.learning_rates[0]:.3g} to {self.learning_rates[-1]:.3g}, "
            f"{ending}; suggested learning rate: {suggestion})"
        )

    def plot(self, path: str | None = None, *, ax: Any = None) -> Any:
        """Plots loss against learning rate (log scale), marking the suggestion.

        Needs matplotlib (extra ``plot``).

        Args:
            path: when given, the figure is saved there (format from the suffix).
            ax: a matplotlib Axes to draw into; a new figure is made otherwise.

        Returns:
            The matplotlib Figure.
        """
        from keras_dlm.plotting import _new_axes

        figure, ax = _new_axes(ax, feature="LRFinderResult.plot")
        ax.plot(
            self.learning_rates, self.losses, color="0.75", lw=1, label="batch loss"
        )
        ax.plot(self.learning_rates, self.smoothed_losses, color="C0", label="smoothed")
        if self.suggestion is not None:
            ax.axvline(
                self.suggestion,
                color="C3",
                ls="--",
                label=f"suggestion {self.suggestion:.2g}",
            )
        ax.set_xscale("log")
        ax.set_xlabel("learning rate")
        ax.set_ylabel("loss")
        finite = self.smoothed_losses[np.isfinite(self.smoothed_losses)]
        if finite.size:
            low, high = float(finite.min()), float(finite.max())
            ax.set_ylim(
                low - 0.05 * (high - low + 1e-12), high + 0.1 * (high - low + 1e-12)
            )
        ax.legend()
        ax.set_title("learning-rate range test")
        if path is not None:
            figure.savefig(path, dpi=100, bbox_inches="tight")
        return figure


def _suggest(
    learning_rates: np.ndarray, smoothed: np.ndarray, stopped: bool
) -> float | None:
    """Rate at the steepest descent of the smoothed loss against log(lr)."""
    if stopped:
        # The last point is the one that crossed the divergence threshold.
        learning_rates, smoothed = learning_rates[:-1], smoothed[:-1]
    skip = int(len(learning_rates) * _SKIP_FRACTION)
    learning_rates, smoothed = learning_rates[skip:], smoothed[skip:]
    if len(learning_rates) < 3 or not np.all(np.isfinite(smoothed)):
        return None
    slopes = np.gradient(smoothed, np.log(learning_rates))
    return float(learning_rates[int(np.argmin(slopes))])


def _snapshot(variables: list) -> list[tuple[Any, np.ndarray]]:
    return [
        (v, np.array(keras.ops.convert_to_numpy(v.value), copy=True)) for v in variables
    ]


def _restore(snapshot: list[tuple[Any, np.ndarray]]) -> None:
    for variable, value in snapshot:
        variable.assign(value)


def _is_array_data(x: Any) -> bool:
    leaves = keras.tree.flatten(x)
    return bool(leaves) and all(
        hasattr(leaf, "shape") and hasattr(leaf, "__len__") for leaf in leaves
    )


def lr_find(
    model: keras.Model,
    x: Any,
    y: Any = None,
    *,
    batch_size: int | None = None,
    min_lr: float = 1e-7,
    max_lr: float = 10.0,
    num_steps: int = 100,
    smoothing: float = 0.98,
    stop_factor: float = 4.0,
) -> LRFinderResult:
    """Runs the learning-rate range test on a compiled model.

    Trains ``model`` for up to ``num_steps`` batches with rates
    ``min_lr · (max_lr / min_lr) ** (i / (num_steps − 1))``, recording the loss
    of each batch and its bias-corrected moving average (``smoothing``), and
    stops early when the smoothed loss exceeds ``stop_factor`` times the best
    one so far (see :class:`keras_dlm.callbacks.LRFinder`). Afterwards every
    model variable (weights, batch-norm statistics, random-generator states),
    every optimizer variable (iteration count, learning rate, momenta) and the
    metrics are set back bit for bit to what they were; an optimizer that had
    not been built yet is built first, so it comes back in its initial state.

    Args:
        model: a compiled Keras model whose optimizer has a float learning rate.
        x: inputs: arrays (or a structure of arrays), or a dataset / generator
            yielding ``(x, y)`` batches with at least ``num_steps`` batches.
        y: targets for array inputs.
        batch_size: batch size for array inputs (default 32). The arrays are
            reshuffled and repeated as needed to give ``num_steps`` full batches.
        min_lr: first rate of the sweep, > 0.
        max_lr: last rate of the sweep, > ``min_lr``.
        num_steps: number of batches (and rates) in the sweep.
        smoothing: moving-average factor in [0, 1); 0 disables smoothing.
        stop_factor: divergence threshold relative to the best smoothed loss.

    Returns:
        An :class:`LRFinderResult` with the rates, losses, suggestion and
        ``.plot(path)``.

    Example:

    >>> import keras, numpy as np
    >>> from keras_dlm import lr_find
    >>> x = np.random.default_rng(0).normal(size=(256, 4)).astype("float32")
    >>> y = x @ np.ones((4, 1), "float32")
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    >>> model.compile(optimizer=keras.optimizers.SGD(), loss="mse")
    >>> result = lr_find(model, x, y, batch_size=16, num_steps=50)
    >>> 1e-7 <= result.suggestion <= 10.0
    True
    """
    if not getattr(model, "compiled", False) or model.optimizer is None:
        raise ValueError(
            "`model` must be compiled with an optimizer before lr_find; received "
            f"an uncompiled {type(model).__name__}."
        )
    finder = LRFinder(
        min_lr=min_lr,
        max_lr=max_lr,
        num_steps=num_steps,
        smoothing=smoothing,
        stop_factor=stop_factor,
    )
    optimizer = model.optimizer
    if isinstance(
        getattr(optimizer, "_learning_rate", None),
        keras.optimizers.schedules.LearningRateSchedule,
    ):
        raise TypeError(
            "lr_find sets the optimizer's learning rate at every step, but the "
            f"optimizer {optimizer.name!r} was given a schedule "
            f"({type(optimizer._learning_rate).__name__}) as its `learning_rate`. "
            "Compile the model with an optimizer whose learning rate is a float."
        )

    fit_kwargs: dict[str, Any] = {"epochs": 1, "verbose": 0, "callbacks": [finder]}
    if _is_array_data(x):
        batch_size = 32 if batch_size is None else int(batch_size)
        if batch_size < 1:
            raise ValueError(
                f"`batch_size` must be positive, but received {batch_size!r}."
            )
        size = len(keras.tree.flatten(x)[0])
        rng = np.random.default_rng(0)
        needed = num_steps * batch_size
        order = np.concatenate(
            [rng.permutation(size) for _ in range(-(-needed // size))]
        )[:needed]
        x = keras.tree.map_structure(lambda a: np.asarray(a)[order], x)
        if y is not None:
            y = keras.tree.map_structure(lambda a: np.asarray(a)[order], y)
        fit_kwargs.update(batch_size=batch_size, shuffle=False)
    elif y is not None:
        raise ValueError(
            "`y` must be None when `x` is a dataset or generator yielding (x, y) "
            f"batches, but received y of type {type(y).__name__}."
        )

    if not model.built:
        raise ValueError("`model` must be built (call it once or give it an Input).")
    if not optimizer.built:
        optimizer.build(model.trainable_variables)
    model_values = _snapshot(model.variables)
    optimizer_values = _snapshot(optimizer.variables)
    # Compiled metrics may only be built by this fit(): those are reset, the
    # ones that already existed get their values back.
    metric_values = _snapshot(model.metrics_variables)
    history = getattr(model, "history", None)
    try:
        model.fit(x, y, **fit_kwargs)
    finally:
        _restore(model_values)
        _restore(optimizer_values)
        model.reset_metrics()
        _restore(metric_values)
        model.stop_training = False
        if history is not None:
            model.history = history

    learning_rates = np.asarray(finder.learning_rates, dtype=np.float64)
    smoothed = np.asarray(finder.smoothed_losses, dtype=np.float64)
    return LRFinderResult(
        learning_rates=learning_rates,
        losses=np.asarray(finder.losses, dtype=np.float64),
        smoothed_losses=smoothed,
        suggestion=_suggest(learning_rates, smoothed, finder.stopped_early),
        stopped_early=finder.stopped_early,
    )
