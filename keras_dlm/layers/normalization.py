"""Ghost batch normalization: batch normalization over virtual sub-batches."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from keras_dlm._checks import (
    check_bool,
    check_integer,
    check_number,
    invalid_argument,
)

_UNSUPPORTED = ("renorm", "synchronized")


@keras.saving.register_keras_serializable(package="keras_dlm")
class GhostBatchNormalization(keras.layers.BatchNormalization):
    """Batch normalization whose training statistics come from virtual batches.

    Ghost batch normalization (Hoffer et al., 2017) splits each training batch
    into "ghost" batches of `virtual_batch_size` examples and normalizes each
    with its own mean and variance, which keeps the regularising noise of
    small-batch statistics when training with large batches (TabNet uses it).
    It is what tf.keras 2's `BatchNormalization(virtual_batch_size=...)` did,
    and matches it: the ghost batches are strided, ghost batch `k` holding
    examples `k, k + n, k + 2n, ...` where `n = batch // virtual_batch_size` is
    the number of ghost batches; `gamma`, `beta` and the moving statistics are
    shared, and each training step moves the moving mean towards the mean of
    the ghost means and the moving variance towards the mean of the ghost
    variances (one update per step, with `momentum`).

    A batch that `virtual_batch_size` does not divide (such as the last batch
    of an epoch) is split the same strided way into
    `n = ceil(batch / virtual_batch_size)` ghost batches, example `i` going to
    ghost batch `i % n`; they then hold `virtual_batch_size` or fewer examples
    each (never a tiny remainder batch), and a batch smaller than
    `virtual_batch_size` is one ghost batch, i.e. plain batch normalization.
    tf.keras raised an error in that case.

    At inference (or when `trainable` is False, as in
    `keras.layers.BatchNormalization`) it normalizes with the moving
    statistics and equals `keras.layers.BatchNormalization` with the same
    weights; the weights have the same names and shapes. Batch renormalization
    and synchronized statistics are not supported.

    Args:
        virtual_batch_size: positive integer, the number of examples per ghost
            batch.
        axis: the features axis (not the batch axis).
        momentum: momentum of the moving averages, in `[0, 1]`.
        epsilon: positive float added to the variance.
        center: whether to add the learned offset `beta`.
        scale: whether to multiply by the learned `gamma`.
        beta_initializer: initializer of `beta`.
        gamma_initializer: initializer of `gamma`.
        moving_mean_initializer: initializer of the moving mean.
        moving_variance_initializer: initializer of the moving variance.
        beta_regularizer: regularizer of `beta`.
        gamma_regularizer: regularizer of `gamma`.
        beta_constraint: constraint of `beta`.
        gamma_constraint: constraint of `gamma`.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: a tensor of any rank of at least 2, batch first.
        training: whether to normalize with ghost-batch statistics (and
            update the moving statistics) or with the moving statistics.
        mask: optional boolean tensor of the inputs' shape without the last
            axis (only with `axis=-1`): masked positions are normalized but
            left out of the statistics.

    Output:
        A tensor of the input's shape.

    Example:

    >>> import numpy as np
    >>> import keras
    >>> from keras_dlm.layers import GhostBatchNormalization
    >>> layer = GhostBatchNormalization(virtual_batch_size=8)
    >>> x = np.random.default_rng(0).normal(size=(32, 5)).astype("float32")
    >>> y = keras.ops.convert_to_numpy(layer(x, training=True))
    >>> tuple(round(float(abs(y[k::4].mean())), 3) for k in range(4))
    (0.0, 0.0, 0.0, 0.0)
    """

    def __init__(
        self,
        virtual_batch_size: int,
        axis: int = -1,
        momentum: float = 0.99,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        beta_initializer: Any = "zeros",
        gamma_initializer: Any = "ones",
        moving_mean_initializer: Any = "zeros",
        moving_variance_initializer: Any = "ones",
        beta_regularizer: Any = None,
        gamma_regularizer: Any = None,
        beta_constraint: Any = None,
        gamma_constraint: Any = None,
        **kwargs: Any,
    ) -> None:
        virtual_batch_size = check_integer("virtual_batch_size", virtual_batch_size)
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise invalid_argument("axis", axis, "an integer", error=TypeError)
        # momentum 1 keeps the moving statistics fixed; above 1 they diverge.
        momentum = check_number("momentum", momentum, low=0.0, high=1.0)
        epsilon = check_number("epsilon", epsilon, low=0.0, low_inclusive=False)
        center = check_bool("center", center)
        scale = check_bool("scale", scale)
        for option in _UNSUPPORTED:
            if kwargs.get(option):
                raise invalid_argument(
                    option,
                    kwargs[option],
                    f"False ({type(self).__name__} does not support it)",
                )
        super().__init__(
            axis=axis,
            momentum=momentum,
            epsilon=epsilon,
            center=center,
            scale=scale,
            beta_initializer=beta_initializer,
            gamma_initializer=gamma_initializer,
            moving_mean_initializer=moving_mean_initializer,
            moving_variance_initializer=moving_variance_initializer,
            beta_regularizer=beta_regularizer,
            gamma_regularizer=gamma_regularizer,
            beta_constraint=beta_constraint,
            gamma_constraint=gamma_constraint,
            **kwargs,
        )
        self.virtual_batch_size = virtual_batch_size

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        name = type(self).__name__
        rank = len(input_shape)
        if rank < 2:
            raise ValueError(
                f"{name} expects inputs of rank >= 2 (batch first); received "
                f"input_shape={tuple(input_shape)}."
            )
        if not -rank <= self.axis < rank or self.axis % rank == 0:
            raise invalid_argument(
                "axis",
                self.axis,
                f"a non-batch axis of inputs of shape {tuple(input_shape)}",
            )
        super().build(input_shape)

    def call(self, inputs: Any, training: bool | None = None, mask: Any = None) -> Any:
        if not (training and self.trainable):
            return super().call(inputs, training=False, mask=mask)

        compute_dtype = keras.backend.result_type(inputs.dtype, "float32")
        # As in BatchNormalization: 16-bit inputs would overflow the variance.
        x = ops.cast(inputs, compute_dtype)
        rank = len(x.shape)
        axis = self.axis % rank
        batch = x.shape[0]
        size = self.virtual_batch_size
        if mask is None and batch is not None and batch % size == 0:
            outputs, mean, variance = self._divisible(x, axis, batch // size)
        else:
            outputs, mean, variance = self._general(x, axis, mask)

        momentum = self.momentum
        self.moving_mean.assign(
            ops.cast(self.moving_mean, compute_dtype) * momentum
            + mean * (1.0 - momentum)
        )
        self.moving_variance.assign(
            ops.cast(self.moving_variance, compute_dtype) * momentum
            + variance * (1.0 - momentum)
        )
        return ops.cast(outputs, self.compute_dtype)

    def _scale_and_shift(
        self, mean: Any, variance: Any, shape: list[int]
    ) -> tuple[Any, Any]:
        """Folds the statistics, gamma and beta into `x * scale + shift`.

        Two passes over the (large) input instead of four; the folding itself
        only touches per-ghost, per-feature tensors.
        """
        scale = ops.rsqrt(variance + self.epsilon)
        if self.scale:
            scale = scale * ops.reshape(ops.cast(self.gamma, scale.dtype), shape)
        shift = -mean * scale
        if self.center:
            shift = shift + ops.reshape(ops.cast(self.beta, scale.dtype), shape)
        return scale, shift

    def _divisible(self, x: Any, axis: int, ghosts: int) -> tuple[Any, Any, Any]:
        """Statically divisible batch: a reshape, as tf.keras did."""
        rank = len(x.shape)
        shape = ops.shape(x)
        # (batch, ...) -> (size, ghosts, ...): row j, column k is example
        # j * ghosts + k, so column k is ghost batch k.
        grouped = ops.reshape(x, (self.virtual_batch_size, ghosts, *shape[1:]))
        feature_axis = axis + 1
        reduce = [0] + [a for a in range(2, rank + 1) if a != feature_axis]
        mean, variance = ops.moments(grouped, axes=reduce, keepdims=True)
        broadcast = [1] * (rank + 1)
        broadcast[feature_axis] = -1
        scale, shift = self._scale_and_shift(mean, variance, broadcast)
        outputs = ops.reshape(grouped * scale + shift, shape)
        over_ghosts = [a for a in range(rank + 1) if a != feature_axis]
        return (
            outputs,
            ops.mean(mean, axis=over_ghosts),
            ops.mean(variance, axis=over_ghosts),
        )

    def _general(self, x: Any, axis: int, mask: Any) -> tuple[Any, Any, Any]:
        """Any batch size, with or without a mask: one-hot ghost assignment."""
        rank = len(x.shape)
        if mask is not None and axis != rank - 1:
            raise ValueError(
                f"{type(self).__name__} supports a mask only with the features "
                f"on the last axis; received axis={self.axis} for inputs of "
                f"rank {rank}."
            )
        moved = ops.moveaxis(x, axis, -1) if axis != rank - 1 else x
        moved_shape = ops.shape(moved)
        batch, channels = moved_shape[0], moved_shape[-1]
        flat = ops.reshape(moved, (batch, -1, channels))
        if mask is None:
            weights = ops.ones(ops.shape(flat)[:2], dtype=x.dtype)
        else:
            weights = ops.reshape(ops.cast(mask, x.dtype), (batch, -1))

        ghosts = (batch + self.virtual_batch_size - 1) // self.virtual_batch_size
        assignment = ops.one_hot(ops.arange(batch) % ghosts, ghosts, dtype=x.dtype)
        to_ghosts = ops.transpose(assignment)
        counts = ops.matmul(to_ghosts, ops.sum(weights, axis=1, keepdims=True))
        safe_counts = ops.maximum(counts, 1.0)

        weighted = flat * weights[:, :, None]
        ghost_mean = ops.matmul(to_ghosts, ops.sum(weighted, axis=1)) / safe_counts
        centered = flat - ops.matmul(assignment, ghost_mean)[:, None, :]
        squares = ops.sum(ops.square(centered) * weights[:, :, None], axis=1)
        ghost_variance = ops.matmul(to_ghosts, squares) / safe_counts
        scale, shift = self._scale_and_shift(
            ops.zeros_like(ghost_mean), ghost_variance, [1, -1]
        )
        normalized = (
            centered * ops.matmul(assignment, scale)[:, None, :]
            + ops.matmul(assignment, shift)[:, None, :]
        )
        outputs = ops.reshape(normalized, moved_shape)
        if axis != rank - 1:
            outputs = ops.moveaxis(outputs, -1, axis)

        # Ghost batches left empty by a mask do not count in the moving stats.
        present = ops.cast(counts > 0, x.dtype)
        present_total = ops.maximum(ops.sum(present), 1.0)
        mean = ops.sum(ghost_mean * present, axis=0) / present_total
        variance = ops.sum(ghost_variance * present, axis=0) / present_total
        return outputs, mean, variance

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        for key in (*_UNSUPPORTED, "renorm_clipping", "renorm_momentum"):
            config.pop(key, None)
        config["virtual_batch_size"] = self.virtual_batch_size
        return config
