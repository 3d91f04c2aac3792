"""Pooling layers that Keras 3 lacks: argmax pooling, unpooling, pyramid pooling.

All three take channels-last images `(batch, height, width, channels)` and use
keras.ops only, so they run on every backend.

Index convention of `MaxPoolingWithArgmax2D` (the one `tf.nn.max_pool_with_argmax`
uses with `include_batch_in_index=False`): the maximum of a window that sits at
row `y`, column `x`, channel `c` of an input of height `H`, width `W` and `C`
channels has index `(y * W + x) * C + c`, its position in that example's
flattened `(H, W, C)` image. The index never includes the batch position, so an
argmax tensor can be applied to any example of the same size. When a window
holds several equal maxima, the first in row-major order wins.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
from keras import ops

from keras_dlm.layers._validation import check_positive_int, check_rank, normalize_pair

_PADDINGS = ("valid", "same")


def _check_padding(layer: str, padding: Any) -> str:
    value = padding.lower() if isinstance(padding, str) else padding
    if value not in _PADDINGS:
        raise ValueError(
            f"{layer}: `padding` must be one of {_PADDINGS}; received "
            f"padding={padding!r}."
        )
    return value


def _window_arguments(
    layer_name: str,
    pool_size: int | Sequence[int],
    strides: int | Sequence[int] | None,
    padding: str,
) -> tuple[tuple[int, int], tuple[int, int], str]:
    """Validated ``(pool_size, strides, padding)``; strides default to the pool."""
    pool = normalize_pair(layer_name, "pool_size", pool_size)
    stride = normalize_pair(layer_name, "strides", pool if strides is None else strides)
    return pool, stride, _check_padding(layer_name, padding)


def _pooled_length(size: Any, pool: int, stride: int, padding: str) -> Any:
    """Output length of a pooled axis; `size` may be an int, None or a tensor."""
    if size is None:
        return None
    if padding == "same":
        return (size + stride - 1) // stride
    return (size - pool) // stride + 1


def _unpooled_length(size: Any, pool: int, stride: int, padding: str) -> Any:
    """Smallest input length that pools to `size` (the default unpooled size)."""
    if size is None:
        return None
    if padding == "same":
        return size * stride
    return (size - 1) * stride + pool


def _same_padding(size: Any, pool: int, stride: int) -> tuple[Any, Any]:
    """TensorFlow's "same" padding: (before, after), the extra one after."""
    out = (size + stride - 1) // stride
    needed = (out - 1) * stride + pool - size
    total = max(needed, 0) if isinstance(needed, int) else ops.maximum(needed, 0)
    before = total // 2
    return before, total - before


@keras.saving.register_keras_serializable(package="keras_dlm")
class MaxPoolingWithArgmax2D(keras.layers.Layer):
    """2D max pooling that also returns where each maximum came from.

    SegNet (Badrinarayanan et al., 2017) keeps these indices in the encoder so
    that its decoder can put every value back where it was
    (`MaxUnpooling2D`). The pooled values equal `keras.layers.MaxPooling2D`'s;
    the indices follow `tf.nn.max_pool_with_argmax` (see the module docs):
    `(y * W + x) * C + c` within each example, as int32. "same" padding pads
    like TensorFlow (the odd extra row or column goes at the bottom and right)
    with `-inf`, so a padded position is never chosen. Gradients flow to the
    pooled values only, exactly as through `MaxPooling2D`.

    Args:
        pool_size: int or pair of ints, the window's height and width.
        strides: int, pair of ints or None (the default: `pool_size`).
        padding: `"valid"` or `"same"`.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: a 4D tensor `(batch, height, width, channels)`.

    Output:
        A pair `(pooled, argmax)`, both of shape
        `(batch, pooled_height, pooled_width, channels)`; `argmax` is int32.

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

    def __init__(
        self,
        pool_size: int | Sequence[int] = 2,
        strides: int | Sequence[int] | None = None,
        padding: str = "valid",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.pool_size, self.strides, self.padding = _window_arguments(
            type(self).__name__, pool_size, strides, padding
        )
        self.input_spec = keras.layers.InputSpec(ndim=4)

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        check_rank(type(self).__name__, input_shape, 4, "inputs")
        _check_fits(type(self).__name__, input_shape, self.pool_size, self.padding)

    def call(self, inputs: Any) -> tuple[Any, Any]:
        (pool_h, pool_w), (stride_h, stride_w) = self.pool_size, self.strides
        shape = ops.shape(inputs)
        height, width, channels = shape[1], shape[2], shape[3]
        out_h = _pooled_length(height, pool_h, stride_h, self.padding)
        out_w = _pooled_length(width, pool_w, stride_w, self.padding)
        if self.padding == "same":
            top, bottom = _same_padding(height, pool_h, stride_h)
            left, right = _same_padding(width, pool_w, stride_w)
            inputs = ops.pad(
                inputs,
                [[0, 0], [top, bottom], [left, right], [0, 0]],
                constant_values=float("-inf"),
            )
        else:
            top = left = 0
        pooled = ops.max_pool(
            inputs, (pool_h, pool_w), (stride_h, stride_w), padding="valid"
        )

        # Index of each window's top-left corner in the unpadded input; the
        # offset of a position inside the window is then a scalar shift.
        rows = ops.arange(out_h, dtype="int32") * stride_h - top
        cols = ops.arange(out_w, dtype="int32") * stride_w - left
        chans = ops.arange(channels, dtype="int32")
        corner = (rows[:, None, None] * width + cols[None, :, None]) * channels + chans[
            None, None, :
        ]

        # Walking the window backwards and overwriting on equality leaves the
        # first maximum in row-major order, as TensorFlow's kernel does. Only
        # the window position (a scalar per step) is selected here; the flat
        # index is built once at the end.
        last_h = stride_h * (out_h - 1) + 1
        last_w = stride_w * (out_w - 1) + 1
        position = None
        for step in reversed(range(pool_h * pool_w)):
            if position is None:
                position = ops.full(ops.shape(pooled), step, dtype="int32")
                continue
            dy, dx = divmod(step, pool_w)
            window = inputs[
                :, dy : dy + last_h : stride_h, dx : dx + last_w : stride_w, :
            ]
            position = ops.where(ops.equal(window, pooled), step, position)
        dy, dx = position // pool_w, position % pool_w
        argmax = corner + (dy * width + dx) * channels
        return pooled, ops.cast(argmax, "int32")

    def compute_output_shape(
        self, input_shape: tuple[int | None, ...]
    ) -> tuple[tuple[int | None, ...], tuple[int | None, ...]]:
        check_rank(type(self).__name__, input_shape, 4, "inputs")
        batch, height, width, channels = input_shape
        shape = (
            batch,
            _pooled_length(height, self.pool_size[0], self.strides[0], self.padding),
            _pooled_length(width, self.pool_size[1], self.strides[1], self.padding),
            channels,
        )
        return shape, shape

    def compute_output_spec(self, inputs: Any) -> tuple[Any, Any]:
        pooled_shape, argmax_shape = self.compute_output_shape(inputs.shape)
        return (
            keras.KerasTensor(pooled_shape, dtype=self.compute_dtype),
            keras.KerasTensor(argmax_shape, dtype="int32"),
        )

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {
                "pool_size": self.pool_size,
                "strides": self.strides,
                "padding": self.padding,
            }
        )
        return config


def _check_fits(
    layer: str, input_shape: Sequence[Any], pool_size: tuple[int, int], padding: str
) -> None:
    if padding != "valid":
        return
    for axis, pool in zip((1, 2), pool_size, strict=True):
        size = input_shape[axis]
        if size is not None and size < pool:
            raise ValueError(
                f"{layer}: with padding='valid' the input must be at least as "
                f"large as pool_size={pool_size}; received input shape "
                f"{tuple(input_shape)}."
            )


@keras.saving.register_keras_serializable(package="keras_dlm")
class MaxUnpooling2D(keras.layers.Layer):
    """Puts pooled values back at their argmax positions, zeros elsewhere.

    The decoder half of SegNet: given `(pooled, argmax)` from
    `MaxPoolingWithArgmax2D`, it returns a tensor of the pre-pooling size in
    which each pooled value sits where its maximum was. It is the transpose of
    the pooling's selection, so where overlapping windows (strides smaller than
    the pool) picked the same position, their values are summed, as
    `tf.scatter_nd` and TensorFlow Addons' `MaxUnpooling2D` did.

    The output size: the spatial size of a third input `reference` when given
    (typically the encoder tensor that was pooled), else `output_size`, else
    the smallest size that pools to the pooled size
    (`(pooled - 1) * strides + pool_size` for "valid",
    `pooled * strides` for "same"). An odd-sized input pooled with "valid"
    loses its last row, so pass `reference` or `output_size` to get it back.
    Indices must fit the output size: an index beyond `height * width *
    channels` is an error on TensorFlow and silently dropped or misplaced on
    other backends.

    Args:
        pool_size: int or pair of ints; must match the pooling layer.
        strides: int, pair of ints or None (the default: `pool_size`).
        padding: `"valid"` or `"same"`, as used by the pooling layer.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: `(pooled, argmax)` or `(pooled, argmax, reference)`, the first
            two of shape `(batch, pooled_height, pooled_width, channels)`.
        output_size: optional `(height, width)` of the output, used when no
            `reference` is given.

    Output:
        A tensor `(batch, height, width, channels)` of the pooled values' dtype.

    Example:

    >>> import numpy as np
    >>> import keras
    >>> from keras_dlm.layers import MaxPoolingWithArgmax2D, MaxUnpooling2D
    >>> x = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
    >>> pooled, argmax = MaxPoolingWithArgmax2D(2)(x)
    >>> keras.ops.convert_to_numpy(MaxUnpooling2D(2)((pooled, argmax)))[0, :, :, 0].tolist()
    [[0.0, 0.0, 0.0, 0.0], [0.0, 5.0, 0.0, 7.0], [0.0, 0.0, 0.0, 0.0], [0.0, 13.0, 0.0, 15.0]]
    """

    def __init__(
        self,
        pool_size: int | Sequence[int] = 2,
        strides: int | Sequence[int] | None = None,
        padding: str = "valid",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.pool_size, self.strides, self.padding = _window_arguments(
            type(self).__name__, pool_size, strides, padding
        )

    def _check_inputs(self, shapes: Sequence[Any]) -> None:
        name = type(self).__name__
        if not isinstance(shapes, (list, tuple)) or len(shapes) not in (2, 3):
            raise ValueError(
                f"{name} expects inputs (pooled, argmax) or (pooled, argmax, "
                f"reference); received {shapes!r}."
            )
        check_rank(name, shapes[0], 4, "pooled values")
        check_rank(name, shapes[1], 4, "argmax indices")
        if len(shapes) == 3:
            check_rank(name, shapes[2], 4, "the reference tensor")
        pooled, argmax = tuple(shapes[0]), tuple(shapes[1])
        if any(
            a is not None and b is not None and a != b
            for a, b in zip(pooled, argmax, strict=True)
        ):
            raise ValueError(
                f"{name}: pooled values and argmax must have the same shape; "
                f"received {pooled} and {argmax}."
            )

    def build(self, input_shape: Sequence[Any]) -> None:
        self._check_inputs(input_shape)

    def _output_hw(
        self, pooled_shape: Sequence[Any], reference_shape: Any, output_size: Any
    ) -> tuple[Any, Any]:
        if reference_shape is not None:
            return reference_shape[1], reference_shape[2]
        if output_size is not None:
            height, width = normalize_pair(
                type(self).__name__, "output_size", output_size
            )
            return height, width
        return (
            _unpooled_length(
                pooled_shape[1], self.pool_size[0], self.strides[0], self.padding
            ),
            _unpooled_length(
                pooled_shape[2], self.pool_size[1], self.strides[1], self.padding
            ),
        )

    def call(self, inputs: Sequence[Any], output_size: Any = None) -> Any:
        pooled, argmax = inputs[0], inputs[1]
        reference = inputs[2] if len(inputs) == 3 else None
        shape = ops.shape(pooled)
        batch, channels = shape[0], shape[3]
        height, width = self._output_hw(
            shape, None if reference is None else ops.shape(reference), output_size
        )
        per_example = height * width * channels
        # One flat segment per output element; each example's indices are
        # shifted past the previous examples'.
        offsets = ops.arange(batch, dtype="int32") * per_example
        flat_index = ops.cast(argmax, "int32") + offsets[:, None, None, None]
        # An additive scatter (not segment_sum, which keras computes in
        # float32 on torch) keeps the pooled dtype and sums duplicates.
        flat = ops.scatter_update(
            ops.zeros((batch * per_example,), dtype=pooled.dtype),
            ops.reshape(flat_index, (-1, 1)),
            ops.reshape(pooled, (-1,)),
            reduction="add",
        )
        return ops.reshape(flat, (batch, height, width, channels))

    def compute_output_shape(self, input_shape: Sequence[Any]) -> tuple[Any, ...]:
        return self._output_shape(input_shape, None)

    def _output_shape(self, input_shape: Sequence[Any], output_size: Any) -> tuple:
        self._check_inputs(input_shape)
        pooled = input_shape[0]
        reference = input_shape[2] if len(input_shape) == 3 else None
        height, width = self._output_hw(pooled, reference, output_size)
        return (pooled[0], height, width, pooled[3])

    def compute_output_spec(self, inputs: Sequence[Any], output_size: Any = None):
        shape = self._output_shape([tensor.shape for tensor in inputs], output_size)
        return keras.KerasTensor(shape, dtype=self.compute_dtype)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {
                "pool_size": self.pool_size,
                "strides": self.strides,
                "padding": self.padding,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="keras_dlm")
class SpatialPyramidPooling2D(keras.layers.Layer):
    """Max pools an image into fixed grids and concatenates them.

    Spatial pyramid pooling (He et al., 2014) turns a feature map of any
    height and width into a vector of fixed length, so a convolutional
    network can take images of varying size (height and width may be
    `None`). For each entry `b` of `bins` the map is divided into a `b x b`
    grid whose cell `(i, j)` covers rows `floor(i * H / b)` to
    `ceil((i + 1) * H / b) - 1` (and the same for columns), the rule of
    `keras.layers.AdaptiveMaxPooling2D` and PyTorch's adaptive pooling; cells
    overlap when `H` is not a multiple of `b` and are never empty, so maps
    smaller than the finest grid still work. Each cell gives the maximum per
    channel.

    Args:
        bins: positive ints, the grid sizes, e.g. `(1, 2, 4)`.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: a 4D tensor `(batch, height, width, channels)`.

    Output:
        A tensor `(batch, channels * sum(b * b for b in bins))`: for each grid
        in the order of `bins`, its cells in row-major order, each cell's
        `channels` maxima together (the flattening of a `(b, b, channels)` map).

    Example:

    >>> import numpy as np
    >>> import keras
    >>> from keras_dlm.layers import SpatialPyramidPooling2D
    >>> layer = SpatialPyramidPooling2D(bins=(1, 2, 4))
    >>> tuple(layer(np.ones((2, 13, 9, 3), dtype="float32")).shape)
    (2, 63)
    """

    def __init__(self, bins: Sequence[int] = (1, 2, 4), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        name = type(self).__name__
        if isinstance(bins, int) or not isinstance(bins, Sequence) or not bins:
            raise ValueError(
                f"{name}: `bins` must be a non-empty sequence of positive "
                f"integers; received bins={bins!r}."
            )
        for size in bins:
            check_positive_int(name, "bins", size)
        self.bins = tuple(int(size) for size in bins)
        self.input_spec = keras.layers.InputSpec(ndim=4)

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        check_rank(type(self).__name__, input_shape, 4, "inputs")

    def call(self, inputs: Any) -> Any:
        shape = ops.shape(inputs)
        height, width = shape[1], shape[2]
        cells = []
        for bins in self.bins:
            for i in range(bins):
                # -((-n) // b) is ceil(n / b) for ints and integer tensors.
                row = ops.max(
                    inputs[:, (i * height) // bins : -((-(i + 1) * height) // bins)],
                    axis=1,
                )
                for j in range(bins):
                    cells.append(
                        ops.max(
                            row[:, (j * width) // bins : -((-(j + 1) * width) // bins)],
                            axis=1,
                        )
                    )
        return ops.concatenate(cells, axis=-1)

    def compute_output_shape(
        self, input_shape: tuple[int | None, ...]
    ) -> tuple[int | None, int | None]:
        check_rank(type(self).__name__, input_shape, 4, "inputs")
        channels = input_shape[3]
        cells = sum(size * size for size in self.bins)
        return (input_shape[0], None if channels is None else channels * cells)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({"bins": self.bins})
        return config
