"""Spatial pyramid pooling (He et al., 2014) of sequences and images."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
from keras import ops

from keras_dlm._checks import check_integer, invalid_argument
from keras_dlm.layers._pooling import (
    channel_axis,
    check_data_format,
    check_input_rank,
    spatial_axes,
    to_channels_last,
)


def _check_bins(bins: Any) -> tuple[int, ...]:
    expected = "a non-empty sequence of positive integers"
    if isinstance(bins, (str, bytes)) or not isinstance(bins, Sequence):
        raise invalid_argument("bins", bins, expected, error=TypeError)
    if not bins:
        raise invalid_argument("bins", bins, expected)
    for size in bins:
        check_integer("bins", size)
    return tuple(int(size) for size in bins)


def _cells(x: Any, sizes: Sequence[Any], grid: int) -> list[Any]:
    """Each cell's per-channel maximum, cells in row-major order.

    `x` is channels last; the first spatial axis is reduced, then the rest
    recursively. Cell `i` covers `floor(i * n / grid)` to
    `ceil((i + 1) * n / grid) - 1`; `-((-m) // grid)` is `ceil(m / grid)` for
    ints and integer tensors alike.
    """
    if not sizes:
        return [x]
    size, cells = sizes[0], []
    for i in range(grid):
        part = ops.max(x[:, (i * size) // grid : -((-(i + 1) * size) // grid)], axis=1)
        cells.extend(_cells(part, sizes[1:], grid))
    return cells


class _SpatialPyramidPooling(keras.layers.Layer):
    """Pyramid pooling over `_rank` spatial axes; see `SpatialPyramidPooling2D`."""

    _rank = 0

    def __init__(
        self,
        bins: Sequence[int] = (1, 2, 4),
        data_format: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.bins = _check_bins(bins)
        self.data_format = check_data_format(data_format)
        self.input_spec = keras.layers.InputSpec(ndim=self._rank + 2)

    def _check_not_empty(self, shape: Sequence[Any]) -> None:
        sizes = [shape[a] for a in spatial_axes(self.data_format, self._rank)]
        if any(isinstance(size, int) and size == 0 for size in sizes):
            raise ValueError(
                f"{type(self).__name__} cannot pool an empty map: received "
                f"inputs of shape {tuple(shape)}; every spatial size must be at "
                "least 1."
            )

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        check_input_rank(type(self).__name__, input_shape, self._rank, "inputs")
        self._check_not_empty(input_shape)

    def call(self, inputs: Any) -> Any:
        # Sizes known now (eager calls, JAX traces) are checked here too; an
        # empty map would otherwise fail inside a backend's reduction kernel.
        self._check_not_empty(ops.shape(inputs))
        x = to_channels_last(inputs, self.data_format, self._rank)
        sizes = list(ops.shape(x)[1:-1])
        features = []
        for grid in self.bins:
            cells = _cells(x, sizes, grid)
            if self.data_format == "channels_first":
                # Each grid flattened as a (channels, *grid) map.
                stacked = ops.stack(cells, axis=-1)
                features.append(ops.reshape(stacked, (ops.shape(x)[0], -1)))
            else:
                features.extend(cells)
        return ops.concatenate(features, axis=-1)

    def compute_output_shape(
        self, input_shape: tuple[int | None, ...]
    ) -> tuple[int | None, int | None]:
        check_input_rank(type(self).__name__, input_shape, self._rank, "inputs")
        channels = input_shape[channel_axis(self.data_format)]
        cells = sum(size**self._rank for size in self.bins)
        return (input_shape[0], None if channels is None else channels * cells)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({"bins": self.bins, "data_format": self.data_format})
        return config


@keras.saving.register_keras_serializable(package="keras_dlm")
class SpatialPyramidPooling1D(_SpatialPyramidPooling):
    """Max pools a sequence into fixed numbers of segments and concatenates them.

    The 1D case of `SpatialPyramidPooling2D`: a sequence of any length becomes
    a vector of fixed length. For each entry `b` of `bins` the sequence is cut
    into `b` segments by the rule of `keras.layers.AdaptiveMaxPooling1D`.

    It takes the arguments of `SpatialPyramidPooling2D`, with 3D inputs
    `(batch, length, channels)` (channels last) or
    `(batch, channels, length)` (channels first).

    Output:
        A tensor `(batch, channels * sum(bins))`.

    Example:

    >>> import numpy as np
    >>> import keras
    >>> from keras_dlm.layers import SpatialPyramidPooling1D
    >>> layer = SpatialPyramidPooling1D(bins=(1, 2))
    >>> x = np.array([[[1.0], [5.0], [2.0], [0.0], [3.0]]], dtype="float32")
    >>> keras.ops.convert_to_numpy(layer(x)).tolist()
    [[5.0, 5.0, 3.0]]
    """

    _rank = 1


@keras.saving.register_keras_serializable(package="keras_dlm")
class SpatialPyramidPooling2D(_SpatialPyramidPooling):
    """Max pools an image into fixed grids and concatenates them.

    Spatial pyramid pooling (He et al., 2014) turns a feature map of any
    height and width into a vector of fixed length, so a convolutional
    network can take images of varying size (height and width may be
    `None`). For each entry `b` of `bins` the map is divided into a `b x b`
    grid whose cell `(i, j)` covers rows `floor(i * H / b)` to
    `ceil((i + 1) * H / b) - 1` (and the same for columns), the rule of
    `keras.layers.AdaptiveMaxPooling2D` and PyTorch's adaptive pooling; cells
    overlap when `H` is not a multiple of `b` and are never empty, so maps
    smaller than the finest grid still work (a cell then repeats a row or
    column). An empty map (a size of 0) is a ValueError when its size is
    known (statically or in an eager call). Each cell gives the maximum per
    channel.

    Args:
        bins: positive ints, the grid sizes, e.g. `(1, 2, 4)`.
        data_format: `"channels_last"` or `"channels_first"`; None (the
            default) means `keras.config.image_data_format()`.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: a 4D tensor `(batch, height, width, channels)`, or
            `(batch, channels, height, width)` with "channels_first".

    Output:
        A tensor `(batch, channels * sum(b * b for b in bins))`: for each grid
        in the order of `bins`, its flattened `(b, b, channels)` map
        (channels last) or `(channels, b, b)` map (channels first, as
        PyTorch's SPP implementations flatten it).

    Example:

    >>> import numpy as np
    >>> from keras_dlm.layers import SpatialPyramidPooling2D
    >>> layer = SpatialPyramidPooling2D(bins=(1, 2, 4))
    >>> tuple(layer(np.ones((2, 13, 9, 3), dtype="float32")).shape)
    (2, 63)
    """

    _rank = 2
