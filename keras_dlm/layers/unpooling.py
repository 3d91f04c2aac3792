"""Max unpooling in 1, 2 or 3 D: pooled values back at their argmax positions.

The inverse step of `keras_dlm.layers.argmax_pooling` (PyTorch's
`MaxUnpool{1,2,3}d`, TensorFlow Addons' `MaxUnpooling2D`). The indices must use
the same `index_layout` and `include_batch_in_index` as the pooling layer.

Indices are checked. Eagerly (values known), an index outside its example's
output is a ValueError naming it and the allowed range; inside a compiled
function (`tf.function`, `jax.jit`), where values cannot be checked, such an
index is dropped, so it can never write into another example.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
from keras import ops

from keras_dlm._backend.values import concrete_value
from keras_dlm.layers._pooling import (
    WindowLayer,
    along,
    channel_axis,
    check_input_rank,
    check_sizes,
    from_channels_last,
    same_padding,
    spatial_axes,
    to_channels_last,
    unpooled_length,
    with_layout,
)


class _MaxUnpooling(WindowLayer):
    """Unpooling over `_rank` spatial axes; see `MaxUnpooling2D`."""

    def __init__(
        self, *args: Any, output_size: int | Sequence[int] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.output_size = check_sizes(
            "output_size", output_size, self._rank, allow_none=True
        )

    # -- shapes ------------------------------------------------------------

    def _check_inputs(self, shapes: Any) -> None:
        name = type(self).__name__
        if not isinstance(shapes, (list, tuple)) or len(shapes) not in (2, 3):
            raise ValueError(
                f"{name} expects inputs (pooled, argmax) or (pooled, argmax, "
                f"reference); received {shapes!r}."
            )
        check_input_rank(name, shapes[0], self._rank, "pooled values")
        check_input_rank(name, shapes[1], self._rank, "argmax indices")
        if len(shapes) == 3:
            check_input_rank(name, shapes[2], self._rank, "the reference tensor")
        pooled, argmax = tuple(shapes[0]), tuple(shapes[1])
        if any(
            a is not None and b is not None and a != b
            for a, b in zip(pooled, argmax, strict=True)
        ):
            raise ValueError(
                f"{name}: pooled values and argmax must have the same shape; "
                f"received {pooled} and {argmax}."
            )

    def build(self, input_shape: Any) -> None:
        self._check_inputs(input_shape)

    def _output_sizes(
        self, pooled_sizes: Sequence[Any], reference_sizes: Any, output_size: Any
    ) -> tuple[list[Any], bool]:
        """The output's spatial size and whether it is the default guess.

        In order: the reference's size, `output_size` of the call, that of the
        constructor, else the smallest size that pools to the pooled size.
        """
        if reference_sizes is not None:
            return list(reference_sizes), False
        size = check_sizes("output_size", output_size, self._rank, allow_none=True)
        size = size or self.output_size
        if size is not None:
            return list(size), False
        return [
            unpooled_length(n, p, s, self.padding)
            for n, p, s in zip(pooled_sizes, self.pool_size, self.strides, strict=True)
        ], True

    def _spatial(self, shape: Sequence[Any]) -> list[Any]:
        return [shape[a] for a in spatial_axes(self.data_format, self._rank)]

    def _output_shape(self, input_shape: Sequence[Any], output_size: Any) -> tuple:
        self._check_inputs(input_shape)
        pooled = input_shape[0]
        reference = None if len(input_shape) == 2 else self._spatial(input_shape[2])
        sizes, _ = self._output_sizes(self._spatial(pooled), reference, output_size)
        channels = pooled[channel_axis(self.data_format)]
        return with_layout(pooled[0], sizes, channels, self.data_format)

    def compute_output_shape(self, input_shape: Sequence[Any]) -> tuple[Any, ...]:
        return self._output_shape(input_shape, None)

    def compute_output_spec(self, inputs: Sequence[Any], output_size: Any = None):
        shape = self._output_shape([tensor.shape for tensor in inputs], output_size)
        return keras.KerasTensor(shape, dtype=self.compute_dtype)

    # -- computation -------------------------------------------------------

    def call(self, inputs: Sequence[Any], output_size: Any = None) -> Any:
        rank, full_rank = self._rank, self._rank + 2
        pooled = to_channels_last(inputs[0], self.data_format, rank)
        argmax = to_channels_last(inputs[1], self.data_format, rank)
        reference = None
        if len(inputs) == 3:
            reference = self._spatial(ops.shape(inputs[2]))
        shape = ops.shape(pooled)
        batch, channels = shape[0], shape[-1]
        sizes, guessed = self._output_sizes(shape[1:-1], reference, output_size)
        per_example = math.prod(sizes) * channels
        examples = along(ops.arange(batch, dtype="int32") * per_example, 0, full_rank)

        index = ops.cast(argmax, "int32")
        if self.include_batch_in_index:
            index = index - examples
        if self.index_layout == "tensorflow":
            limit, position = per_example, index
        else:
            channel = along(ops.arange(channels, dtype="int32"), -1, full_rank)
            limit, position = math.prod(sizes), index * channels + channel
        valid = ops.logical_and(ops.greater_equal(index, 0), ops.less(index, limit))
        all_valid = concrete_value(ops.all(valid))
        if all_valid is not None:  # values known: check them now
            if not all_valid:
                raise self._index_error(index, valid, limit, sizes, channels, guessed)
            if guessed:
                self._check_windows(index, sizes, channels)

        # An index that cannot be checked (compiled code) and is out of range
        # writes a zero at its own example's first position instead.
        position = ops.where(valid, position, 0) + examples
        values = ops.where(valid, pooled, ops.zeros_like(pooled))
        # An additive scatter (not segment_sum, which keras computes in
        # float32 on torch) keeps the pooled dtype and sums duplicates.
        flat = ops.scatter_update(
            ops.zeros((batch * per_example,), dtype=pooled.dtype),
            ops.reshape(position, (-1, 1)),
            ops.reshape(values, (-1,)),
            reduction="add",
        )
        unpooled = ops.reshape(flat, (batch, *sizes, channels))
        return from_channels_last(unpooled, self.data_format, rank)

    def _position_in_input(self, position: Sequence[int]) -> tuple[int, ...]:
        """A channels-last element position in the order of `data_format`."""
        position = tuple(int(p) for p in position)
        if self.data_format == "channels_first":
            return (position[0], position[-1], *position[1:-1])
        return position

    def _index_error(
        self,
        index: Any,
        valid: Any,
        limit: int,
        sizes: Sequence[int],
        channels: int,
        guessed: bool,
    ) -> ValueError:
        position = np.argwhere(~concrete_value(valid))[0]
        value = int(concrete_value(index)[tuple(position)])
        low, high = 0, limit
        if self.include_batch_in_index:
            low, high = position[0] * limit, (position[0] + 1) * limit
            value += low
        hint = (
            " The indices were probably computed for a larger input than the "
            "default output size: pass the pooled input as a third input "
            "(`reference`) or `output_size`."
            if guessed
            else ""
        )
        return ValueError(
            f"{type(self).__name__}: argmax index {value} at position "
            f"{self._position_in_input(position)} is out of range: for an output "
            f"of spatial size {tuple(int(s) for s in sizes)} with {int(channels)} "
            f"channels and index_layout={self.index_layout!r}, that example's "
            f"indices must be in [{low}, {high}).{hint}"
        )

    def _check_windows(self, index: Any, sizes: Sequence[int], channels: int) -> None:
        """Refuses indices outside their own pooling window (default size only).

        The default output size is the smallest that pools to the pooled size;
        indices computed for a larger input (an odd size pooled with stride 2)
        then decode to positions outside their windows, which is caught here.
        """
        full_rank = self._rank + 2
        inside = ops.ones(ops.shape(index), dtype="bool")
        spatial = index
        if self.index_layout == "tensorflow":
            channel = along(ops.arange(channels, dtype="int32"), -1, full_rank)
            inside = ops.equal(index % channels, channel)
            spatial = index // channels
        pooled_sizes = ops.shape(index)[1:-1]
        for k in reversed(range(self._rank)):
            size, pool, stride = sizes[k], self.pool_size[k], self.strides[k]
            coordinate, spatial = spatial % size, spatial // size
            before = (
                same_padding(size, pool, stride)[0] if self.padding == "same" else 0
            )
            start = ops.arange(pooled_sizes[k], dtype="int32") * stride - before
            start = along(start, k + 1, full_rank)
            inside = ops.logical_and(
                inside,
                ops.logical_and(
                    ops.greater_equal(coordinate, start),
                    ops.less(coordinate, start + pool),
                ),
            )
        if bool(concrete_value(ops.all(inside))):
            return
        position = np.argwhere(~concrete_value(inside))[0]
        value = int(concrete_value(index)[tuple(position)])
        raise ValueError(
            f"{type(self).__name__}: argmax index {value} at position "
            f"{self._position_in_input(position)} is not inside its pooling window "
            f"for the default output size {tuple(int(s) for s in sizes)}: the "
            "indices were computed for another input size (an odd size, say). "
            "Pass the pooled input as a third input (`reference`) or "
            "`output_size`."
        )

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({"output_size": self.output_size})
        return config


@keras.saving.register_keras_serializable(package="keras_dlm")
class MaxUnpooling1D(_MaxUnpooling):
    """Puts 1D pooled values back at their argmax positions, zeros elsewhere.

    PyTorch's `MaxUnpool1d` for Keras, the inverse step of
    `MaxPoolingWithArgmax1D`.

    It takes the arguments of `MaxUnpooling2D`, with `pool_size`, `strides` and
    `output_size` an int or a 1-tuple, and 3D inputs `(batch, length,
    channels)` (channels last) or `(batch, channels, length)` (first).

    Example:

    >>> import numpy as np
    >>> import keras
    >>> from keras_dlm.layers import MaxPoolingWithArgmax1D, MaxUnpooling1D
    >>> x = np.array([[[3.0], [1.0], [4.0], [1.0], [5.0]]], dtype="float32")
    >>> pooled, argmax = MaxPoolingWithArgmax1D(2)(x)
    >>> unpooled = MaxUnpooling1D(2, output_size=5)((pooled, argmax))
    >>> keras.ops.convert_to_numpy(unpooled)[0, :, 0].tolist()
    [3.0, 0.0, 4.0, 0.0, 0.0]
    """

    _rank = 1


@keras.saving.register_keras_serializable(package="keras_dlm")
class MaxUnpooling2D(_MaxUnpooling):
    """Puts pooled values back at their argmax positions, zeros elsewhere.

    The decoder half of SegNet: given `(pooled, argmax)` from
    `MaxPoolingWithArgmax2D`, it returns a tensor of the pre-pooling size in
    which each pooled value sits where its maximum was. It is the transpose of
    the pooling's selection, so where overlapping windows (strides smaller than
    the pool) picked the same position, their values are summed, as
    `tf.scatter_nd` and TensorFlow Addons' `MaxUnpooling2D` did. With
    `index_layout="torch"` and "channels_first" it equals PyTorch's
    `max_unpool2d` (which keeps one of the duplicates instead of summing).

    The output size: the spatial size of a third input `reference` when given
    (typically the encoder tensor that was pooled), else the call's
    `output_size`, else the constructor's, else the smallest size that pools to
    the pooled size (`(pooled - 1) * strides + pool_size` for "valid",
    `pooled * strides` for "same"). An odd-sized input pooled with stride 2
    has a larger size than that, so pass `reference` or `output_size`.

    Errors: an index outside its example's output is a ValueError naming it
    and the allowed range when the values are known (eager calls); inside a
    compiled function it is dropped (never written into another example).
    With the default size, an eager call also checks that each index lies in
    its own pooling window for that size, which catches indices computed for
    a larger (odd-sized) input in the usual cases; with overlapping windows
    some such inputs can pass unnoticed.

    Args:
        pool_size: int or pair of ints; must match the pooling layer.
        strides: int, pair of ints or None (the default: `pool_size`).
        padding: `"valid"` or `"same"`, as used by the pooling layer.
        data_format: `"channels_last"` or `"channels_first"`; None (the
            default) means `keras.config.image_data_format()`.
        index_layout: `"tensorflow"` (the default) or `"torch"`, as used by
            the pooling layer.
        include_batch_in_index: True if the indices count the batch position
            (the `"tensorflow"` layout only), as used by the pooling layer.
        output_size: None, an int or a pair `(height, width)`: the output's
            size when no `reference` or call-time `output_size` is given.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: `(pooled, argmax)` or `(pooled, argmax, reference)`, the first
            two of shape `(batch, pooled_height, pooled_width, channels)`
            (channels first with "channels_first").
        output_size: optional int or `(height, width)` of the output, used
            when no `reference` is given.

    Output:
        A tensor `(batch, height, width, channels)` (or channels first) of the
        pooled values' dtype.

    Example:

    >>> import numpy as np
    >>> import keras
    >>> from keras_dlm.layers import MaxPoolingWithArgmax2D, MaxUnpooling2D
    >>> x = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
    >>> pooled, argmax = MaxPoolingWithArgmax2D(2)(x)
    >>> unpooled = MaxUnpooling2D(2)((pooled, argmax))
    >>> keras.ops.convert_to_numpy(unpooled)[0, :, :, 0].tolist()
    [[0.0, 0.0, 0.0, 0.0], [0.0, 5.0, 0.0, 7.0], [0.0, 0.0, 0.0, 0.0], [0.0, 13.0, 0.0, 15.0]]
    """

    _rank = 2


@keras.saving.register_keras_serializable(package="keras_dlm")
class MaxUnpooling3D(_MaxUnpooling):
    """Puts 3D pooled values back at their argmax positions, zeros elsewhere.

    PyTorch's `MaxUnpool3d` for Keras, the inverse step of
    `MaxPoolingWithArgmax3D`.

    It takes the arguments of `MaxUnpooling2D`, with `pool_size`, `strides` and
    `output_size` an int or a triple, and 5D inputs `(batch, depth,
    height, width, channels)` or `(batch, channels, depth, height, width)`.

    Example:

    >>> import numpy as np
    >>> import keras
    >>> from keras_dlm.layers import MaxPoolingWithArgmax3D, MaxUnpooling3D
    >>> x = np.arange(8, dtype="float32").reshape(1, 2, 2, 2, 1)
    >>> pooled, argmax = MaxPoolingWithArgmax3D(2)(x)
    >>> unpooled = MaxUnpooling3D(2)((pooled, argmax))
    >>> keras.ops.convert_to_numpy(unpooled).ravel().tolist()
    [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 7.0]
    """

    _rank = 3
