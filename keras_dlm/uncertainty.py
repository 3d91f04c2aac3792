"""Monte Carlo dropout prediction: uncertainty from repeated stochastic passes.

`mc_predict` runs a model several times with its dropout layers sampling (and
only them), and summarises the predictions: mean, standard deviation and, for
classifiers, the predictive entropy and the mutual information (Gal &
Ghahramani, 2016; Gal, Islam & Ghahramani, 2017).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import keras
import numpy as np

from keras_dlm._backend import keras_internals
from keras_dlm._checks import check_integer, invalid_argument
from keras_dlm.layers.dropout import DropConnectDense

__all__ = ["MCPrediction", "mc_predict"]

# Layers whose training behaviour differs from inference only by random
# dropping: these are switched to sampling, everything else stays in
# inference mode.
_DROPOUT_TYPES: tuple[type, ...] = (
    keras.layers.Dropout,  # also SpatialDropout1D/2D/3D and MCDropout
    keras.layers.GaussianDropout,
    keras.layers.AlphaDropout,
    DropConnectDense,
)


@dataclasses.dataclass(frozen=True)
class MCPrediction:
    """Summary of Monte Carlo dropout predictions.

    Attributes:
        mean: the mean prediction over the samples, shape of one prediction.
        std: the standard deviation over the samples (population, ddof=0).
        entropy: for classifiers, the predictive entropy (nats) of the mean
            class probabilities, shape `(n,)`; else None.
        mutual_information: for classifiers, the predictive entropy minus the
            mean entropy of the individual samples (the "BALD" score: the part
            of the uncertainty due to the model's weights); else None.
        samples: how many stochastic passes were made.
    """

    mean: np.ndarray
    std: np.ndarray
    entropy: np.ndarray | None
    mutual_information: np.ndarray | None
    samples: int

    def __post_init__(self) -> None:
        check_integer("samples", self.samples, minimum=2)


def _is_stochastic(layer: keras.layers.Layer) -> bool:
    if isinstance(layer, _DROPOUT_TYPES):
        return True
    # RNN layers only differ in training mode by their (recurrent) dropout.
    if isinstance(layer, keras.layers.RNN):
        cells = getattr(layer.cell, "cells", [layer.cell])
        return any(
            getattr(cell, "dropout", 0) or getattr(cell, "recurrent_dropout", 0)
            for cell in cells
        )
    return False


def _always_training(call: Callable[..., Any]) -> Callable[..., Any]:
    def call_in_training(*args: Any, **kwargs: Any) -> Any:
        kwargs["training"] = True
        return call(*args, **kwargs)

    return call_in_training


@contextmanager
def _dropout_sampling(model: keras.layers.Layer) -> Iterator[int]:
    """Makes the dropout layers of `model` sample, then restores them.

    Only the instances' `call` is replaced (the class is untouched) and the
    model is called with `training=False`, so BatchNormalization and other
    layers keep their inference behaviour and their moving statistics.
    """
    layers = [
        layer
        for layer in keras_internals.flatten_layers(model)
        if _is_stochastic(layer)
    ]
    patched = []
    try:
        for layer in layers:
            if "call" in vars(layer):  # already patched (nested use)
                continue
            object.__setattr__(layer, "call", _always_training(layer.call))
            patched.append(layer)
        yield len(layers)
    finally:
        for layer in patched:
            object.__delattr__(layer, "call")


def _entropy(probabilities: np.ndarray) -> np.ndarray:
    clipped = np.clip(probabilities, 1e-12, 1.0)
    return -np.sum(probabilities * np.log(clipped), axis=-1)


def _looks_like_probabilities(samples: np.ndarray) -> bool:
    if samples.ndim < 3 or samples.shape[-1] < 2:
        return False
    if np.any(samples < 0) or np.any(samples > 1):
        return False
    return bool(np.allclose(samples.sum(axis=-1), 1.0, atol=1e-3))


def mc_predict(
    model: keras.layers.Layer,
    x: Any,
    *,
    samples: int = 30,
    batch_size: int | None = None,
) -> MCPrediction:
    """Predicts with dropout on, `samples` times, and summarises the spread.

    A plain `model(x, training=True)` is the usual way to sample with dropout,
    but it also switches BatchNormalization to batch statistics and updates
    its moving averages, so the predictions depend on the batch and the model
    changes. This function instead calls the model with `training=False`
    while the dropout layers alone sample: `keras.layers.Dropout` and its
    subclasses (`SpatialDropout*`, `keras_dlm.layers.MCDropout`),
    `GaussianDropout`, `AlphaDropout`, `keras_dlm.layers.DropConnectDense`,
    and RNN layers with `dropout` or `recurrent_dropout`. The model is
    unchanged afterwards. Each pass goes through `__call__` (not `predict`,
    which would cache a compiled function with dropout on).

    Classifier outputs are recognised as rows of at least two non-negative
    numbers summing to 1 (softmax outputs); for them the entropy and mutual
    information are filled in. Pass probabilities, not logits.

    Args:
        model: a Keras model or layer with at least one dropout layer.
        x: inputs, a NumPy array or tensor (or a structure the model accepts
            when `batch_size` is None).
        samples: number of stochastic passes, at least 2.
        batch_size: if given, `x` (an array) is fed in chunks of this size.

    Returns:
        An `MCPrediction`.

    Raises:
        ValueError: `samples` < 2, `batch_size` < 1, or a model without
            dropout layers (its predictions would not vary).
        TypeError: `model` is not a Keras layer or model, or `samples` or
            `batch_size` is not an integer.

    Example:

    >>> import numpy as np
    >>> import keras
    >>> from keras_dlm.uncertainty import mc_predict
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8),
    ...     keras.layers.Dropout(0.5), keras.layers.Dense(3, activation="softmax")])
    >>> result = mc_predict(model, np.ones((5, 4), dtype="float32"), samples=10)
    >>> result.mean.shape, result.entropy.shape
    ((5, 3), (5,))
    """
    if not isinstance(model, keras.Layer):
        raise invalid_argument(
            "model", model, "a Keras model or layer", error=TypeError
        )
    check_integer("samples", samples, minimum=2)
    check_integer("batch_size", batch_size, allow_none=True)

    def predict_once() -> np.ndarray:
        if batch_size is None:
            return keras.ops.convert_to_numpy(model(x, training=False))
        chunks = [
            keras.ops.convert_to_numpy(
                model(x[start : start + batch_size], training=False)
            )
            for start in range(0, len(x), batch_size)
        ]
        return np.concatenate(chunks, axis=0)

    with _dropout_sampling(model) as count:
        if count == 0:
            raise ValueError(
                "mc_predict: the model has no dropout layer (Dropout, "
                "SpatialDropout, GaussianDropout, AlphaDropout, MCDropout, "
                "DropConnectDense or an RNN with dropout), so every pass would "
                "give the same prediction."
            )
        stacked = np.stack([predict_once() for _ in range(samples)]).astype(np.float64)

    mean = stacked.mean(axis=0)
    std = stacked.std(axis=0)
    entropy = mutual_information = None
    if _looks_like_probabilities(stacked):
        entropy = _entropy(mean)
        mutual_information = entropy - _entropy(stacked).mean(axis=0)
    return MCPrediction(
        mean=mean,
        std=std,
        entropy=entropy,
        mutual_information=mutual_information,
        samples=samples,
    )
