"""The learning-rate range test (``keras_dlm.lr_find``) and its callback.

Train for a short while with a learning rate that grows exponentially from
``min_lr`` to ``max_lr``, one batch per rate, and watch the loss: it stays
flat while the rate is too small, falls fastest around a good rate, and
blows up when the rate is too large. The idea is Leslie Smith's (2015),
popularised by fastai's ``lr_find``; the four suggestions are fastai's
(``valley``, the default, ``slide``, ``minimum`` and ``steep``), computed
like fastai on the smoothed losses without the first tenth of the sweep and
its last five points. The model's weights and optimizer state are restored
afterwards, so the sweep leaves no trace.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import keras
import numpy as np
from keras import ops

from keras_dlm._checks import (
    check_choice,
    check_integer,
    check_number,
    invalid_argument,
)
from keras_dlm._lr_find_defaults import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_MAX_LR,
    DEFAULT_METHOD,
    DEFAULT_MIN_LR,
    DEFAULT_NUM_STEPS,
    DEFAULT_SMOOTHING,
    DEFAULT_STOP_FACTOR,
    METHODS,
)
from keras_dlm.optimizers import _require_float_learning_rate, _set_learning_rate

__all__ = ["LRFinder", "LRFinderResult", "lr_find"]

# fastai's lr_find drops the first num_it // 10 points (the smoothed loss is
# still settling) and the last 5 (the blow-up) before suggesting; its plot
# drops the same last 5.
_SKIP_END = 5


class LRFinder(keras.callbacks.Callback):
    """The learning-rate range test, as a callback (used by :func:`lr_find`).

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
        min_lr: float = DEFAULT_MIN_LR,
        max_lr: float = DEFAULT_MAX_LR,
        num_steps: int = DEFAULT_NUM_STEPS,
        smoothing: float = DEFAULT_SMOOTHING,
        stop_factor: float = DEFAULT_STOP_FACTOR,
    ) -> None:
        super().__init__()
        self.min_lr = check_number("min_lr", min_lr, low=0.0, low_inclusive=False)
        self.max_lr = check_number("max_lr", max_lr, low=0.0, low_inclusive=False)
        if self.max_lr <= self.min_lr:
            raise invalid_argument(
                "max_lr", max_lr, f"larger than min_lr={self.min_lr:g}"
            )
        self.num_steps = check_integer("num_steps", num_steps, minimum=2)
        self.smoothing = check_number(
            "smoothing", smoothing, low=0.0, high=1.0, high_inclusive=False
        )
        self.stop_factor = check_number(
            "stop_factor", stop_factor, low=1.0, low_inclusive=False
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
            model.optimizer, self._rate, owner="keras_dlm.lr_finder.LRFinder"
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


def _valley(rates: np.ndarray, losses: np.ndarray) -> tuple[float, float]:
    """fastai's ``valley``: 2/3 of the way down the longest decreasing run.

    The longest strictly decreasing subsequence (not necessarily contiguous)
    is found by dynamic programming; the suggestion sits at its start plus
    ``int(L / 3) + int(L / 6)`` points, ``L`` its span.
    """
    n = len(losses)
    max_start = max_end = 0
    lengths = [1] * n
    for i in range(1, n):
        for j in range(i):
            if losses[i] < losses[j] and lengths[i] < lengths[j] + 1:
                lengths[i] = lengths[j] + 1
            if lengths[max_end] < lengths[i]:
                max_end = i
                max_start = max_end - lengths[max_end]
    sections = (max_end - max_start) / 3
    index = max_start + int(sections) + int(sections / 2)
    return float(rates[index]), (float(rates[index]), float(losses[index]))


def _slide(
    rates: np.ndarray,
    losses: np.ndarray,
    lr_diff: int = 15,
    threshold: float = 0.005,
    adjust_value: float = 1.0,
) -> tuple[float, float]:
    """fastai's ``slide``: walk left from the end until the loss gradient at
    two points ``lr_diff`` apart agrees within ``threshold``."""
    gradient = np.gradient(losses)
    right = -1
    left = right - lr_diff
    local = rates[max(left, -len(rates))]
    while left >= -len(losses) and abs(gradient[right] - gradient[left]) > threshold:
        local = rates[left]
        right -= 1
        left -= 1
    suggestion = float(local) * adjust_value
    loss = float(np.interp(np.log10(suggestion), np.log10(rates), losses))
    return suggestion, (suggestion, loss)


def _minimum(rates: np.ndarray, losses: np.ndarray) -> tuple[float, float]:
    """fastai's ``minimum``: a tenth of the rate at the lowest loss (marked at
    the minimum itself)."""
    index = int(np.argmin(losses))
    return float(rates[index]) / 10.0, (float(rates[index]), float(losses[index]))


def _steep(rates: np.ndarray, losses: np.ndarray) -> tuple[float, float]:
    """fastai's ``steep``: the rate where the loss falls fastest per log(lr)."""
    slopes = (losses[1:] - losses[:-1]) / (np.log(rates[1:]) - np.log(rates[:-1]))
    index = int(np.argmin(slopes))
    return float(rates[index]), (float(rates[index]), float(losses[index]))


# Each returns (suggestion, (rate, loss) of the point fastai marks).
_SUGGESTERS: dict[str, Callable[[np.ndarray, np.ndarray], tuple[float, tuple]]] = {
    "valley": _valley,
    "slide": _slide,
    "minimum": _minimum,
    "steep": _steep,
}
if tuple(_SUGGESTERS) != METHODS:  # the CLI lists METHODS without importing this
    raise ImportError("keras_dlm._lr_find_defaults.METHODS is out of date.")


def _suggestion_window(
    rates: np.ndarray, smoothed: np.ndarray, num_steps: int
) -> tuple[np.ndarray, np.ndarray]:
    """fastai's window: without the first ``num_steps // 10`` points, the last
    five, and everything from the first non-finite loss on."""
    rates = rates[num_steps // 10 : -_SKIP_END or None]
    smoothed = smoothed[num_steps // 10 : -_SKIP_END or None]
    bad = np.flatnonzero(~np.isfinite(smoothed))
    if bad.size:
        rates, smoothed = rates[: bad[0]], smoothed[: bad[0]]
    return rates, smoothed


def _suggest_all(
    rates: np.ndarray, smoothed: np.ndarray, num_steps: int
) -> dict[str, tuple[float, tuple[float, float]]]:
    """Every fastai suggestion as ``{method: (suggestion, (rate, loss) to mark)}``;
    empty when fewer than 3 usable points remain."""
    rates, smoothed = _suggestion_window(rates, smoothed, num_steps)
    if len(rates) < 3:
        return {}
    return {name: suggest(rates, smoothed) for name, suggest in _SUGGESTERS.items()}


@dataclasses.dataclass(frozen=True)
class LRFinderResult:
    """What a learning-rate range test measured.

    Attributes:
        learning_rates: the rate of each recorded batch (exponentially spaced).
        losses: each batch's loss.
        smoothed_losses: the bias-corrected moving average of the losses.
        suggestions: fastai's suggestions by name (``valley``, ``slide``,
            ``minimum``, ``steep``); empty when fewer than 3 usable points
            exist.
        method: the suggestion that ``suggestion`` returns.
        stopped_early: whether the sweep stopped because the loss diverged.
        completed: whether all ``num_steps`` rates were tried, so the sweep
            covered the whole range from ``min_lr`` to ``max_lr``.
        num_steps: the number of steps requested.
    """

    learning_rates: np.ndarray
    losses: np.ndarray
    smoothed_losses: np.ndarray
    suggestions: dict[str, float]
    method: str
    stopped_early: bool
    completed: bool
    num_steps: int
    _marks: dict[str, tuple[float, float]] = dataclasses.field(
        default_factory=dict, repr=False
    )

    @property
    def suggestion(self) -> float | None:
        """The suggestion of ``method`` (``valley`` by default), or None."""
        return self.suggestions.get(self.method)

    @property
    def ending(self) -> str:
        """``"completed"``, ``"stopped when the loss diverged"`` or
        ``"stopped when the data ran out"``."""
        if self.completed:
            return "completed"
        if self.stopped_early:
            return "stopped when the loss diverged"
        return (
            f"stopped when the data ran out after {len(self.learning_rates)} of "
            f"{self.num_steps} steps"
        )

    def __str__(self) -> str:
        suggestion = "none" if self.suggestion is None else f"{self.suggestion:.3g}"
        if not len(self.learning_rates):
            return f"LRFinderResult(no step recorded, {self.ending})"
        return (
            f"LRFinderResult({len(self.learning_rates)} steps from "
            f"{self.learning_rates[0]:.3g} to {self.learning_rates[-1]:.3g}, "
            f"{self.ending}; suggested learning rate ({self.method}): {suggestion})"
        )

    def plot(self, path: str | None = None, *, ax: Any = None) -> Any:
        """Plots loss against learning rate (log scale), marking each suggestion.

        As fastai's plot, the last five points (where the loss blows up) are
        left out, and the loss axis is scaled to the remaining smoothed curve.
        Needs matplotlib (extra ``plot``).

        Args:
            path: when given, the figure is saved there (format from the suffix).
            ax: a matplotlib Axes to draw into; a new figure is made otherwise.

        Returns:
            The matplotlib Figure.
        """
        from keras_dlm.plotting import _finish_axes, _new_axes

        figure, ax = _new_axes(ax, feature="LRFinderResult.plot")
        keep = max(
            len(self.learning_rates) - _SKIP_END, min(len(self.learning_rates), 2)
        )
        rates = self.learning_rates[:keep]
        ax.plot(rates, self.losses[:keep], color="0.75", lw=1, label="batch loss")
        ax.plot(rates, self.smoothed_losses[:keep], color="C0", label="smoothed")
        for color, (name, (rate, loss)) in enumerate(self._marks.items(), start=1):
            # fastai marks `minimum` at the minimum, a tenth above its value.
            chosen = " (suggestion)" if name == self.method else ""
            ax.plot(
                rate,
                loss,
                "o",
                color=f"C{color}",
                label=f"{name} {self.suggestions[name]:.2g}{chosen}",
            )
        finite = self.smoothed_losses[:keep][np.isfinite(self.smoothed_losses[:keep])]
        if finite.size:
            # Up to the lowest point: what comes after is the blow-up.
            low = float(finite.min())
            high = float(finite[: int(np.argmin(finite)) + 1].max())
            margin = high - low + 1e-12
            ax.set_ylim(low - 0.05 * margin, high + 0.1 * margin)
        return _finish_axes(
            figure,
            ax,
            xlabel="learning rate",
            ylabel="loss",
            title="learning-rate range test",
            xscale="log",
            path=path,
        )


def _snapshot(variables: list) -> list[tuple[Any, np.ndarray]]:
    return [(v, np.array(ops.convert_to_numpy(v.value), copy=True)) for v in variables]


def _restore(snapshot: list[tuple[Any, np.ndarray]]) -> None:
    for variable, value in snapshot:
        variable.assign(value)


def _is_array_data(x: Any) -> bool:
    if isinstance(x, list) and x and all(isinstance(item, tuple) for item in x):
        return False  # a list of (x, y) batches
    leaves = keras.tree.flatten(x)
    return bool(leaves) and all(
        hasattr(leaf, "shape") and hasattr(leaf, "__len__") for leaf in leaves
    )


def _one_pass(data: Any) -> Iterator[Any]:
    if isinstance(data, keras.utils.PyDataset):
        for index in range(len(data)):
            yield data[index]
        return
    yield from data


def _cycled(data: Any) -> Iterator[Any]:
    """Batches of ``data`` over and over, so a short dataset covers every step.

    A one-shot iterator (a generator) cannot be restarted: once it is
    exhausted the stream ends, and the result says the sweep did not complete.
    """
    while True:
        produced = False
        for batch in _one_pass(data):
            produced = True
            yield keras.tree.map_structure(np.asarray, batch)
        if not produced or iter(data) is data:
            return


def _array_batches(x: Any, y: Any, batch_size: int, num_steps: int) -> tuple[Any, Any]:
    """``num_steps`` full batches of the arrays, reshuffled and repeated."""
    lengths = {len(leaf) for leaf in keras.tree.flatten(x)}
    if y is not None:
        lengths |= {len(leaf) for leaf in keras.tree.flatten(y)}
    if len(lengths) > 1:
        raise ValueError(
            "lr_find: the arrays of `x` and `y` must have the same number of "
            f"samples. Received lengths {sorted(lengths)}."
        )
    size = lengths.pop()
    if size == 0:
        raise invalid_argument("x", "an array of 0 samples", "at least one sample")
    rng = np.random.default_rng(0)
    needed = num_steps * batch_size
    order = np.concatenate([rng.permutation(size) for _ in range(-(-needed // size))])[
        :needed
    ]
    x = keras.tree.map_structure(lambda a: np.asarray(a)[order], x)
    if y is not None:
        y = keras.tree.map_structure(lambda a: np.asarray(a)[order], y)
    return x, y


def lr_find(
    model: keras.Model,
    x: Any,
    y: Any = None,
    *,
    batch_size: int | None = None,
    min_lr: float = DEFAULT_MIN_LR,
    max_lr: float = DEFAULT_MAX_LR,
    num_steps: int = DEFAULT_NUM_STEPS,
    smoothing: float = DEFAULT_SMOOTHING,
    stop_factor: float = DEFAULT_STOP_FACTOR,
    method: str = DEFAULT_METHOD,
) -> LRFinderResult:
    """Runs the learning-rate range test on a compiled model.

    Trains ``model`` for ``num_steps`` batches with rates
    ``min_lr · (max_lr / min_lr) ** (i / (num_steps − 1))``, recording the loss
    of each batch and its bias-corrected moving average (``smoothing``), and
    stops early when the smoothed loss exceeds ``stop_factor`` times the best
    one so far (see :class:`LRFinder`). Arrays are reshuffled and repeated,
    and a finite dataset is cycled, so that the sweep always reaches
    ``max_lr``; only a one-shot iterator that runs dry can cut it short, and
    the result then says so (``completed`` is False). Afterwards every model
    variable (weights, batch-norm statistics, random-generator states), every
    optimizer variable (iteration count, learning rate, momenta) and the
    metrics are set back bit for bit to what they were; an optimizer that had
    not been built yet is built first, so it comes back in its initial state.

    Args:
        model: a compiled Keras model whose optimizer has a float learning rate.
        x: inputs: arrays (or a structure of arrays), or a dataset /
            ``keras.utils.PyDataset`` / iterable yielding ``(x, y)`` batches.
        y: targets for array inputs.
        batch_size: batch size for array inputs (default 32).
        min_lr: first rate of the sweep, > 0.
        max_lr: last rate of the sweep, finite and > ``min_lr``.
        num_steps: number of batches (and rates) in the sweep, >= 2.
        smoothing: moving-average factor in [0, 1); 0 disables smoothing.
        stop_factor: divergence threshold relative to the best smoothed loss.
        method: the suggestion ``result.suggestion`` returns: ``"valley"``
            (fastai's default), ``"slide"``, ``"minimum"`` or ``"steep"``; all
            four are in ``result.suggestions``.

    Returns:
        An :class:`LRFinderResult` with the rates, losses, suggestions and
        ``.plot(path)``.

    Example:

    >>> import keras, numpy as np
    >>> from keras_dlm import lr_find
    >>> x = np.random.default_rng(0).normal(size=(256, 4)).astype("float32")
    >>> y = x @ np.ones((4, 1), "float32")
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    >>> model.compile(optimizer=keras.optimizers.SGD(), loss="mse")
    >>> result = lr_find(model, x, y, batch_size=16, num_steps=50)
    >>> sorted(result.suggestions)
    ['minimum', 'slide', 'steep', 'valley']
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
    method = check_choice("method", method, METHODS)
    optimizer = model.optimizer
    _require_float_learning_rate(optimizer, owner="lr_find")

    fit_kwargs: dict[str, Any] = {"epochs": 1, "verbose": 0, "callbacks": [finder]}
    if _is_array_data(x):
        batch_size = check_integer(
            "batch_size", DEFAULT_BATCH_SIZE if batch_size is None else batch_size
        )
        x, y = _array_batches(x, y, batch_size, num_steps)
        fit_kwargs.update(batch_size=batch_size, shuffle=False)
    elif y is not None:
        raise ValueError(
            "`y` must be None when `x` is a dataset or generator yielding (x, y) "
            f"batches, but received y of type {type(y).__name__}."
        )
    elif isinstance(x, str | bytes) or (
        not hasattr(x, "__iter__") and not isinstance(x, keras.utils.PyDataset)
    ):
        raise invalid_argument(
            "x", x, "arrays, a dataset or an iterable of batches", error=TypeError
        )
    else:
        x = _cycled(x)
        fit_kwargs.update(steps_per_epoch=num_steps, shuffle=False)

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
        with warnings.catch_warnings():
            # A one-shot iterator running dry is reported by `completed`.
            warnings.filterwarnings("ignore", message=".*ran out of data")
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
    marks = _suggest_all(learning_rates, smoothed, num_steps)
    return LRFinderResult(
        learning_rates=learning_rates,
        losses=np.asarray(finder.losses, dtype=np.float64),
        smoothed_losses=smoothed,
        suggestions={name: value for name, (value, _) in marks.items()},
        method=method,
        stopped_early=finder.stopped_early,
        completed=len(learning_rates) == num_steps and not finder.stopped_early,
        num_steps=num_steps,
        _marks={name: point for name, (_, point) in marks.items()},
    )
