"""Dropout layers that Keras 3 lacks: Monte Carlo dropout and DropConnect."""

from __future__ import annotations

from typing import Any

import keras
from keras import activations, constraints, initializers, ops, regularizers

from keras_dlm._checks import (
    check_bool,
    check_integer,
    check_number,
    invalid_argument,
)


def _check_rate(rate: Any) -> float:
    return check_number("rate", rate, low=0.0, high=1.0, high_inclusive=False)


def _check_noise_shape(noise_shape: Any) -> tuple[int | None, ...] | None:
    if noise_shape is None:
        return None
    expected = "None or a tuple of positive integers or None"
    if not isinstance(noise_shape, (tuple, list)):
        raise invalid_argument("noise_shape", noise_shape, expected, error=TypeError)
    for size in noise_shape:
        if size is not None and (
            isinstance(size, bool) or not isinstance(size, int) or size < 1
        ):
            raise invalid_argument("noise_shape", noise_shape, expected)
    return tuple(noise_shape)


@keras.saving.register_keras_serializable(package="keras_dlm")
class MCDropout(keras.layers.Dropout):
    """Dropout that stays active at inference (Monte Carlo dropout).

    Gal & Ghahramani (2016) showed that a network trained with dropout and
    sampled with dropout still on approximates a Bayesian posterior: the spread
    of repeated predictions estimates the model's uncertainty. This layer drops
    units whether or not `training` is set, so `model(x)` and `model.predict(x)`
    are stochastic and repeated calls differ (a `keras.random.SeedGenerator`
    advances on every call). Use `keras_dlm.uncertainty.mc_predict` to draw and
    summarise the samples; it also works with ordinary `keras.layers.Dropout`.

    Kept units are scaled by `1 / (1 - rate)`, as in `keras.layers.Dropout`, so
    the expected output equals the input.

    Args:
        rate: fraction of the input units to drop, in `[0, 1)`.
        noise_shape: shape of the binary mask broadcast against the input, e.g.
            `(batch_size, 1, features)` to drop the same features at every
            step; `None` entries take the input's size. It must have the
            input's rank, each size 1, `None` or the input's (else a
            `ValueError` when the layer is called).
        seed: integer seed of the layer's `keras.random.SeedGenerator`.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: a tensor of any rank.
        training: ignored; dropout is always applied. It is accepted so that
            the layer fits in models that pass it.

    Output:
        A tensor of the input's shape and dtype.

    Example:

    >>> import numpy as np
    >>> import keras
    >>> from keras_dlm.layers import MCDropout
    >>> layer = MCDropout(0.5, seed=0)
    >>> x = np.ones((2, 8), dtype="float32")
    >>> a, b = layer(x), layer(x)
    >>> bool(np.any(keras.ops.convert_to_numpy(a) != keras.ops.convert_to_numpy(b)))
    True
    """

    def __init__(
        self,
        rate: float,
        noise_shape: tuple[int | None, ...] | None = None,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        rate = _check_rate(rate)
        noise_shape = _check_noise_shape(noise_shape)
        seed = check_integer("seed", seed, minimum=0, allow_none=True)
        super().__init__(rate, noise_shape=noise_shape, seed=seed, **kwargs)

    def _check_noise_shape_fits(self, input_shape: tuple[int | None, ...]) -> None:
        # Named here instead of failing inside the backend's random kernel.
        fits = len(self.noise_shape) == len(input_shape) and all(
            noise in (None, 1) or size is None or noise == size
            for noise, size in zip(self.noise_shape, input_shape, strict=True)
        )
        if not fits:
            raise invalid_argument(
                "noise_shape",
                self.noise_shape,
                f"broadcastable to the input shape {tuple(input_shape)} (same "
                "rank; each size 1, None or the input's)",
            )

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        del training
        if self.noise_shape is not None:
            self._check_noise_shape_fits(tuple(inputs.shape))
        if self.rate == 0:
            return inputs
        return keras.random.dropout(
            inputs, self.rate, noise_shape=self.noise_shape, seed=self.seed_generator
        )


@keras.saving.register_keras_serializable(package="keras_dlm")
class DropConnectDense(keras.layers.Layer):
    """Densely connected layer that drops kernel weights while training.

    DropConnect (Wan et al., 2013) generalises dropout from activations to
    weights: at each training call every kernel entry is zeroed with
    probability `rate` and the kept entries are scaled by `1 / (1 - rate)`, so
    that the expected kernel is the stored kernel and inference simply uses it
    (the "mean" inference rule; the paper's Gaussian moment matching is not
    implemented). One mask is drawn per call and shared by the whole batch,
    which costs one matrix product like `keras.layers.Dense`; the paper's
    per-example masks would cost one product per example. The bias is not
    dropped.

    Args:
        units: positive integer, the output dimension.
        rate: fraction of the kernel entries to drop while training, in
            `[0, 1)`.
        activation: activation function; `None` is linear.
        use_bias: whether to add a bias vector.
        kernel_initializer: initializer of the `(input_dim, units)` kernel.
        bias_initializer: initializer of the bias.
        kernel_regularizer: regularizer of the kernel.
        bias_regularizer: regularizer of the bias.
        activity_regularizer: regularizer of the output.
        kernel_constraint: constraint of the kernel.
        bias_constraint: constraint of the bias.
        seed: integer seed of the layer's `keras.random.SeedGenerator`.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: a tensor of shape `(..., input_dim)`.
        training: whether to drop weights (`fit` sets it).

    Output:
        A tensor of shape `(..., units)`.

    Example:

    >>> import numpy as np
    >>> import keras
    >>> from keras_dlm.layers import DropConnectDense
    >>> layer = DropConnectDense(4, rate=0.5, activation="relu", seed=0)
    >>> tuple(layer(np.ones((3, 6), dtype="float32"), training=True).shape)
    (3, 4)
    """

    def __init__(
        self,
        units: int,
        rate: float,
        activation: Any = None,
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        kernel_constraint: Any = None,
        bias_constraint: Any = None,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        units = check_integer("units", units)
        rate = _check_rate(rate)
        use_bias = check_bool("use_bias", use_bias)
        seed = check_integer("seed", seed, minimum=0, allow_none=True)
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.units = units
        self.rate = float(rate)
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.input_spec = keras.layers.InputSpec(min_ndim=2)
        self.supports_masking = True

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(
                "DropConnectDense needs a known last input dimension; received "
                f"input_shape={input_shape}."
            )
        self.kernel = self.add_weight(
            name="kernel",
            shape=(input_dim, self.units),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        if self.use_bias:
            self.bias = self.add_weight(
                name="bias",
                shape=(self.units,),
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        else:
            self.bias = None
        self.input_spec = keras.layers.InputSpec(min_ndim=2, axes={-1: input_dim})

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        kernel = ops.cast(self.kernel, self.compute_dtype)
        if training and self.rate > 0:
            kernel = keras.random.dropout(kernel, self.rate, seed=self.seed_generator)
        outputs = ops.matmul(inputs, kernel)
        if self.bias is not None:
            outputs = ops.add(outputs, ops.cast(self.bias, self.compute_dtype))
        if self.activation is not None:
            outputs = self.activation(outputs)
        return outputs

    def compute_output_shape(
        self, input_shape: tuple[int | None, ...]
    ) -> tuple[int | None, ...]:
        return (*input_shape[:-1], self.units)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "rate": self.rate,
                "activation": activations.serialize(self.activation),
                "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer),
                "kernel_constraint": constraints.serialize(self.kernel_constraint),
                "bias_constraint": constraints.serialize(self.bias_constraint),
                "seed": self.seed,
            }
        )
        return config
