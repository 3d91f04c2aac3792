"""Plots of learning-rate schedules (matplotlib, optional extra ``plot``).

matplotlib is imported inside the functions only, and through
``matplotlib.figure.Figure`` rather than ``pyplot``, so plotting never
touches a global figure registry or a GUI backend.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from keras_dlm._checks import check_bool, check_integer, invalid_argument

__all__ = ["plot_schedule"]


def _new_axes(ax: Any, *, feature: str, figsize: tuple[float, float] = (6, 4)) -> tuple:
    """Returns ``(figure, axes)``: ``ax``'s own, or a new pyplot-free figure."""
    from keras_dlm._imports import import_optional

    import_optional("matplotlib", extra="plot", feature=feature)
    if ax is not None:
        return ax.figure, ax
    from matplotlib.figure import Figure

    figure = Figure(figsize=figsize)
    return figure, figure.subplots()


def _finish_axes(
    figure: Any,
    ax: Any,
    *,
    xlabel: str,
    ylabel: str,
    title: str | None = None,
    xscale: str | None = None,
    yscale: str | None = None,
    grid: bool = True,
    legend: bool = True,
    path: Any = None,
) -> Any:
    """Labels, scales, grid, legend and optional saving, the same for every plot
    keras_dlm draws (schedules, the learning-rate finder, tuning's trials).

    Returns:
        ``figure``, after saving it to ``path`` when one is given.
    """
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if xscale:
        ax.set_xscale(xscale)
    if yscale:
        ax.set_yscale(yscale)
    if title:
        ax.set_title(title)
    if grid:
        ax.grid(True, alpha=0.3)
    if legend and ax.get_legend_handles_labels()[0]:
        ax.legend()
    if path is not None:
        figure.savefig(path, dpi=100, bbox_inches="tight")
    return figure


def _schedule_curve(
    schedule_or_callback: Any, epochs: int, steps_per_epoch: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Evaluates a schedule or decay callback at every step of ``epochs`` epochs.

    Returns:
        ``(epoch, rate)``: the fractional epoch ``step / steps_per_epoch`` of
        each step and the learning rate used for that step.
    """
    from keras_dlm import callbacks as callbacks_module

    epochs = check_integer("epochs", epochs)
    own_steps = getattr(schedule_or_callback, "steps_per_epoch", None)
    if steps_per_epoch == 1 and own_steps:
        steps_per_epoch = own_steps
    steps_per_epoch = check_integer("steps_per_epoch", steps_per_epoch)
    steps = np.arange(epochs * steps_per_epoch)
    epoch = steps / steps_per_epoch
    target = schedule_or_callback
    if isinstance(target, callbacks_module._DecayCallback):
        times = epoch if target.per_batch else np.floor(epoch)
        rates = keras.ops.convert_to_numpy(target._schedule.rate_at(times))
    elif isinstance(target, callbacks_module._StepScheduleCallback):
        schedule = target._schedule_for(epochs, steps_per_epoch)
        rates = keras.ops.convert_to_numpy(schedule.rate_at(steps))
    elif isinstance(target, keras.optimizers.schedules.LearningRateSchedule):
        if hasattr(target, "rate_at"):
            # keras_dlm schedules are element-wise: one vectorised call.
            rates = keras.ops.convert_to_numpy(target(steps))
        else:
            rates = np.array(
                [float(keras.ops.convert_to_numpy(target(int(s)))) for s in steps]
            )
    else:
        raise invalid_argument(
            "schedule_or_callback",
            target,
            "a keras.optimizers.schedules.LearningRateSchedule or a keras_dlm "
            "rate callback (StepDecay, CliffDecay, OneCycle, Cyclical)",
            error=TypeError,
        )
    return epoch, np.asarray(rates, dtype=np.float64).reshape(-1)


def plot_schedule(
    schedule_or_callback: Any,
    epochs: int,
    steps_per_epoch: int = 1,
    path: str | None = None,
    *,
    log_scale: bool = False,
    ax: Any = None,
) -> Any:
    """Plots a learning-rate schedule against epochs.

    Each optimizer step ``s`` is drawn at epoch ``s / steps_per_epoch`` and
    holds its rate until the next step.

    Args:
        schedule_or_callback: any ``keras.optimizers.schedules.LearningRateSchedule``
            (e.g. :class:`keras_dlm.schedules.CliffDecay` or ``OneCycle``)
            or a :mod:`keras_dlm.callbacks` rate callback (``StepDecay``,
            ``CliffDecay``, ``OneCycle``, ``Cyclical``).
        epochs: number of epochs to draw.
        steps_per_epoch: optimizer steps per epoch. Left at 1, a keras_dlm
            schedule or callback that has its own ``steps_per_epoch`` uses it.
        path: when given, the figure is saved there (format from the suffix).
        log_scale: draw the rate on a logarithmic axis.
        ax: a matplotlib Axes to draw into; a new figure is made otherwise.

    Returns:
        The matplotlib ``Figure``.

    Example:

    >>> from keras_dlm import plot_schedule
    >>> from keras_dlm.schedules import CliffDecay
    >>> figure = plot_schedule(CliffDecay(0.1, cliffs=[10, 20]), epochs=30)
    >>> figure.axes[0].get_xlabel()
    'epoch'
    """
    epoch, rates = _schedule_curve(schedule_or_callback, epochs, steps_per_epoch)
    figure, ax = _new_axes(ax, feature="keras_dlm.plot_schedule")
    # One extra point so the last step is drawn over its whole width.
    ax.plot(
        np.append(epoch, float(epochs)),
        np.append(rates, rates[-1]),
        drawstyle="steps-post",
        label=type(schedule_or_callback).__name__,
    )
    ax.set_xlim(0, epochs)
    return _finish_axes(
        figure,
        ax,
        xlabel="epoch",
        ylabel="learning rate",
        yscale="log" if check_bool("log_scale", log_scale) else None,
        path=path,
    )
