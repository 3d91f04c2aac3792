"""The learning-rate range of a search, set by the learning-rate range test.

``keras-dlm tune`` runs :func:`keras_dlm.lr_find` a few times on fresh models
of the family (seconds) and searches about a decade around the median of the
sweeps' suggestions, instead of across 1e-4 ... 1e-1: a trial spent on a rate
the range test rules out is a trial lost. The suggestion of one sweep is the
steepest point of the smoothed loss, which is not stable from sweep to sweep;
this module uses fastai's ``valley`` rule (the point two thirds of the way
down the longest descending stretch of the smoothed loss) and the median over
sweeps.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np

from keras_dlm._checks import check_integer, check_number


def valley(learning_rates: Sequence[float], losses: Sequence[float]) -> float | None:
    """fastai's ``valley`` suggestion: two thirds down the longest descent.

    Finds the longest run of losses that keeps decreasing (a longest
    decreasing subsequence over the sweep) and returns the rate at
    ``start + 2/3 * (end - start)`` of it, a rate where the loss still falls
    well before it turns up.

    Args:
        learning_rates: the sweep's rates, increasing.
        losses: the (smoothed) loss at each rate.

    Returns:
        The suggested rate, or ``None`` when fewer than 3 finite points exist.
    """
    rates = np.asarray(learning_rates, dtype=np.float64)
    values = np.asarray(losses, dtype=np.float64)
    finite = np.isfinite(values)
    rates, values = rates[finite], values[finite]
    count = len(values)
    if count < 3:
        return None
    # The same rule as lr_find's "valley" suggestion (fastai's, transcribed).
    from keras_dlm.lr_finder import _valley

    return _valley(rates, values)[0]


@dataclasses.dataclass(frozen=True)
class LearningRateRange:
    """A learning-rate range set by range tests.

    Attributes:
        low, high: the range to search (log-uniform).
        suggestions: each sweep's valley suggestion.
        center: their median.
        seconds: wall time of the sweeps.
    """

    low: float
    high: float
    suggestions: tuple[float, ...]
    center: float
    seconds: float

    def describe(self) -> str:
        shown = ", ".join(f"{s:.2g}" for s in self.suggestions)
        return (
            f"learning rate {self.low:.2g} ... {self.high:.2g} (range tests: {shown}; "
            f"median {self.center:.2g}; {self.seconds:.1f} s)"
        )


def find_learning_rate_range(
    build_model: Callable[[], keras.Model],
    x: Any,
    y: Any,
    *,
    sweeps: int = 3,
    decades: float = 1.0,
    min_lr: float = 1e-6,
    max_lr: float = 1.0,
    num_steps: int = 80,
    batch_size: int = 32,
    seed: int = 0,
    max_seconds: float | None = None,
) -> LearningRateRange:
    """Runs ``sweeps`` range tests on fresh models; returns a range around their median.

    Args:
        build_model: returns a fresh, compiled model (its optimizer's learning
            rate a float).
        x, y: training data (arrays).
        sweeps: number of range tests, each on a freshly initialised model.
        decades: width of the returned range, in decades, centred (in log
            scale) on the median suggestion.
        min_lr, max_lr, num_steps, batch_size: passed to ``lr_find``.
        seed: seed of the first sweep's initialisation (then ``seed + 1``, ...).
        max_seconds: a time limit, or ``None``: the first sweep always runs;
            a further one only when, at the pace of the last, it would end
            within ``max_seconds`` of the start (with a small time budget
            the range then rests on fewer sweeps).

    Raises:
        RuntimeError: no sweep gave a suggestion.
    """
    import time

    from keras_dlm.lr_finder import lr_find

    sweeps = check_integer("sweeps", sweeps)
    check_number(
        "max_seconds", max_seconds, low=0.0, low_inclusive=False, allow_none=True
    )
    decades = check_number("decades", decades, low=0.0, low_inclusive=False)
    start = time.perf_counter()
    suggestions = []
    model = None
    last = 0.0
    for sweep in range(sweeps):
        began = time.perf_counter()
        if sweep and max_seconds is not None and began - start + last > max_seconds:
            break
        keras.utils.set_random_seed(seed + sweep)
        fresh = build_model()
        if model is None:
            model = fresh
        else:
            # A fresh initialisation in the first model: its traced training
            # step is reused (tracing costs more than a sweep's 80 batches),
            # and lr_find restores the optimizer's state after each sweep.
            model.set_weights(fresh.get_weights())
        result = lr_find(
            model,
            x,
            y,
            batch_size=batch_size,
            min_lr=min_lr,
            max_lr=max_lr,
            num_steps=num_steps,
        )
        suggestion = valley(result.learning_rates, result.smoothed_losses)
        if suggestion is not None:
            suggestions.append(suggestion)
        last = time.perf_counter() - began
    if not suggestions:
        raise RuntimeError(
            "The learning-rate range tests gave no suggestion (the loss never "
            "fell); give the learning-rate range explicitly."
        )
    center = float(np.median(suggestions))
    half = 10 ** (decades / 2)
    return LearningRateRange(
        low=center / half,
        high=min(center * half, max_lr),
        suggestions=tuple(suggestions),
        center=center,
        seconds=time.perf_counter() - start,
    )
