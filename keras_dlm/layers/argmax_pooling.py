"""Max pooling that also returns where each maximum came from, in 1, 2 or 3 D.

Two index layouts, named after the libraries that define them, for a
maximum found at spatial position `(z, y, x)` (fewer axes in 1-D and 2-D)
and channel `c` of an example with spatial size `(D, H, W)` and `C` channels:

- `"tensorflow"` (the default, `tf.nn.max_pool_with_argmax`): the position in
  the example's flattened channels-last image, `((z * H + y) * W + x) * C + c`;
  with `include_batch_in_index=True`, plus `b * D * H * W * C` for example `b`.
- `"torch"` (PyTorch's `max_pool{1,2,3}d(return_indices=True)`): the position
  in the flattened spatial map of its own channel, `(z * H + y) * W + x`.

The layout fixes the numbers, `data_format` only the order of the axes: a
channels-first layer returns the transpose of the channels-last layer's
pooled values and indices. When a window holds several equal maxima, the
first in row-major order wins, as in both libraries.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import keras
from keras import ops

from keras_dlm.layers._pooling import (
    WindowLayer,
    along,
    channel_axis,
    check_input_rank,
    from_channels_last,
    pooled_length,
    same_padding,
    spatial_axes,
    to_channels_last,
    with_layout,
)


class _MaxPoolingWithArgmax(WindowLayer):
    """Max pooling over `_rank` spatial axes that also returns the argmax.

    The pooled values equal Keras's `MaxPooling{1,2,3}D`; the indices follow
    `index_layout` (see the module docs) as int32. "same" padding pads like
    TensorFlow (the odd extra row goes after) with `-inf`, so a padded
    position is never chosen. Gradients flow to the pooled values only, as
    through Keras's max pooling.
    """

    _single_input = True

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        check_input_rank(type(self).__name__, input_shape, self._rank, "inputs")
        if self.padding != "valid":
            return
        sizes = [input_shape[a] for a in spatial_axes(self.data_format, self._rank)]
        for size, pool in zip(sizes, self.pool_size, strict=True):
            if size is not None and size < pool:
                raise ValueError(
                    f"{type(self).__name__}: with padding='valid' the input must be "
                    f"at least as large as pool_size={self.pool_size}; received "
                    f"input shape {tuple(input_shape)}."
                )

    def call(self, inputs: Any) -> tuple[Any, Any]:
        rank, full_rank = self._rank, self._rank + 2
        x = to_channels_last(inputs, self.data_format, rank)
        shape = ops.shape(x)
        sizes, channels = list(shape[1:-1]), shape[-1]
        pooled_sizes = [
            pooled_length(n, p, s, self.padding)
            for n, p, s in zip(sizes, self.pool_size, self.strides, strict=True)
        ]
        if self.padding == "same":
            pads = [
                same_padding(n, p, s)
                for n, p, s in zip(sizes, self.pool_size, self.strides, strict=True)
            ]
            befores = [before for before, _ in pads]
            x = ops.pad(x, [[0, 0], *pads, [0, 0]], constant_values=float("-inf"))
        else:
            befores = [0] * rank
        lasts = [
            s * (n - 1) + 1 for s, n in zip(self.strides, pooled_sizes, strict=True)
        ]

        def window_at(within: Sequence[int]) -> Any:
            """The input seen at one position of every window, strided."""
            return x[
                (
                    slice(None),
                    *(
                        slice(d, d + last, s)
                        for d, last, s in zip(within, lasts, self.strides, strict=True)
                    ),
                    slice(None),
                )
            ]

        steps = math.prod(self.pool_size)
        if rank < 3:
            pooled = ops.max_pool(
                x, self.pool_size, self.strides, "valid", data_format="channels_last"
            )
        else:
            # TensorFlow's CPU MaxPool3D kernel has no float16 or float64, so
            # 3-D windows are reduced here; a strict `>` keeps the first
            # maximum and sends its gradient there alone, as max pooling does.
            pooled = window_at(_unravel(0, self.pool_size))
            for step in range(1, steps):
                window = window_at(_unravel(step, self.pool_size))
                pooled = ops.where(ops.greater(window, pooled), window, pooled)

        # How far one step along each spatial axis moves the flat index.
        unit = channels if self.index_layout == "tensorflow" else 1
        axis_steps = [unit * math.prod(sizes[k + 1 :]) for k in range(rank)]
        # Index of each window's first corner (a small broadcast tensor); the
        # offset of a position inside the window is a scalar added to it.
        corner: Any = 0
        for k in range(rank):
            starts = ops.arange(pooled_sizes[k], dtype="int32") * self.strides[k]
            corner = corner + along(
                (starts - befores[k]) * axis_steps[k], k + 1, full_rank
            )
        if self.index_layout == "tensorflow":
            corner = corner + along(ops.arange(channels, dtype="int32"), -1, full_rank)
        if self.include_batch_in_index:
            examples = ops.arange(shape[0], dtype="int32") * (
                math.prod(sizes) * channels
            )
            corner = corner + along(examples, 0, full_rank)

        # Walking the window backwards and overwriting on equality leaves the
        # first maximum in row-major order, as TensorFlow's and PyTorch's
        # kernels do. Only a scalar offset is selected per window position.
        offset = None
        for step in reversed(range(steps)):
            within = _unravel(step, self.pool_size)
            shift = sum(
                d * axis_step for d, axis_step in zip(within, axis_steps, strict=True)
            )
            if offset is None:
                offset = ops.full(ops.shape(pooled), shift, dtype="int32")
                continue
            equal = ops.equal(window_at(within), pooled)
            offset = ops.where(equal, shift, offset)
        argmax = ops.cast(corner + offset, "int32")
        return (
            from_channels_last(pooled, self.data_format, rank),
            from_channels_last(argmax, self.data_format, rank),
        )

    def compute_output_shape(
        self, input_shape: tuple[int | None, ...]
    ) -> tuple[tuple[int | None, ...], tuple[int | None, ...]]:
        check_input_rank(type(self).__name__, input_shape, self._rank, "inputs")
        axes = spatial_axes(self.data_format, self._rank)
        channels = input_shape[channel_axis(self.data_format)]
        spatial = [
            pooled_length(input_shape[a], p, s, self.padding)
            for a, p, s in zip(axes, self.pool_size, self.strides, strict=True)
        ]
        shape = with_layout(input_shape[0], spatial, channels, self.data_format)
        return shape, shape

    def compute_output_spec(self, inputs: Any) -> tuple[Any, Any]:
        pooled_shape, argmax_shape = self.compute_output_shape(inputs.shape)
        return (
            keras.KerasTensor(pooled_shape, dtype=self.compute_dtype),
            keras.KerasTensor(argmax_shape, dtype="int32"),
        )


def _unravel(step: int, window: Sequence[int]) -> list[int]:
    """Row-major position of `step` inside a window, as plain ints."""
    position = []
    for size in reversed(window):
        step, within = divmod(step, size)
        position.append(within)
    return position[::-1]


@keras.saving.register_keras_serializable(package="keras_dlm")
class MaxPoolingWithArgmax1D(_MaxPoolingWithArgmax):
    """1D max pooling that also returns where each maximum came from.

    PyTorch's `MaxPool1d(return_indices=True)` for Keras: pooled values equal
    `keras.layers.MaxPooling1D`'s; the default indices are `x * C + c`,
    PyTorch's (`index_layout="torch"`) `x`.

    It takes the arguments of `MaxPoolingWithArgmax2D`, with `pool_size` and
    `strides` an int or a 1-tuple, and 3D inputs `(batch, length,
    channels)` (channels last) or `(batch, channels, length)` (first).

    Example:

    >>> import numpy as np
    >>> import keras
    >>> from keras_dlm.layers import MaxPoolingWithArgmax1D
    >>> x = np.array([[[3.0], [1.0], [4.0], [1.0], [5.0], [9.0]]], dtype="float32")
    >>> pooled, argmax = MaxPoolingWithArgmax1D(2)(x)
    >>> keras.ops.convert_to_numpy(pooled)[0, :, 0].tolist()
    [3.0, 4.0, 9.0]
    >>> keras.ops.convert_to_numpy(argmax)[0, :, 0].tolist()
    [0, 2, 5]
    """

    _rank = 1


@keras.saving.register_keras_serializable(package="keras_dlm")
class MaxPoolingWithArgmax2D(_MaxPoolingWithArgmax):
    """2D max pooling that also returns where each maximum came from.

    SegNet (Badrinarayanan et al., 2017) keeps these indices in the encoder so
    that its decoder can put every value back where it was
    (`MaxUnpooling2D`). The pooled values equal `keras.layers.MaxPooling2D`'s;
    the default indices equal `tf.nn.max_pool_with_argmax`'s,
    `(y * W + x) * C + c` within each example; `index_layout="torch"` gives
    PyTorch's `max_pool2d(return_indices=True)` indices, `y * W + x`. Ties go
    to the first maximum in row-major order, as in both libraries.

    Args:
        pool_size: int or pair of ints, the window's height and width.
        strides: int, pair of ints or None (the default: `pool_size`).
        padding: `"valid"` or `"same"` (TensorFlow's "same": the odd extra
            row or column is padded after, with `-inf`, so a padded position
            is never chosen).
        data_format: `"channels_last"` or `"channels_first"`; None (the
            default) means `keras.config.image_data_format()`. It orders the
            tensors' axes only; the index numbers do not depend on it.
        index_layout: `"tensorflow"` (the default) or `"torch"`.
        include_batch_in_index: with the `"tensorflow"` layout, also count the
            batch position, `+ b * H * W * C` (TensorFlow's option of that
            name).
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: a 4D tensor `(batch, height, width, channels)`, or
            `(batch, channels, height, width)` with "channels_first".

    Output:
        A pair `(pooled, argmax)`, both of the pooled shape; `argmax` is int32.
        Gradients flow to the pooled values only, as through `MaxPooling2D`.

    Example:

    >>> import numpy as np
    >>> import keras
    >>> from keras_dlm.layers import MaxPoolingWithArgmax2D
    >>> x = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
    >>> pooled, argmax = MaxPoolingWithArgmax2D(2)(x)
    >>> keras.ops.convert_to_numpy(pooled)[0, :, :, 0].tolist()
    [[5.0, 7.0], [13.0, 15.0]]
    >>> keras.ops.convert_to_numpy(argmax)[0, :, :, 0].tolist()
    [[5, 7], [13, 15]]
    """

    _rank = 2


@keras.saving.register_keras_serializable(package="keras_dlm")
class MaxPoolingWithArgmax3D(_MaxPoolingWithArgmax):
    """3D max pooling that also returns where each maximum came from.

    PyTorch's `MaxPool3d(return_indices=True)` for volumes: pooled values
    equal `keras.layers.MaxPooling3D`'s; the default indices are
    `((z * H + y) * W + x) * C + c`, PyTorch's (`index_layout="torch"`)
    `(z * H + y) * W + x`.

    It takes the arguments of `MaxPoolingWithArgmax2D`, with `pool_size` and
    `strides` an int or a triple, and 5D inputs `(batch, depth, height,
    width, channels)` or `(batch, channels, depth, height, width)`.

    Example:

    >>> import numpy as np
    >>> import keras
    >>> from keras_dlm.layers import MaxPoolingWithArgmax3D
    >>> x = np.arange(8, dtype="float32").reshape(1, 1, 2, 2, 2)
    >>> pooled, argmax = MaxPoolingWithArgmax3D(
    ...     2, data_format="channels_first", index_layout="torch"
    ... )(x)
    >>> keras.ops.convert_to_numpy(pooled).ravel().tolist()
    [7.0]
    >>> keras.ops.convert_to_numpy(argmax).ravel().tolist()
    [7]
    """

    _rank = 3
