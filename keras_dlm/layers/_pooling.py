"""What the argmax, unpooling and pyramid pooling layers share, in any dimension.

Argument checks (through `keras_dlm._checks`, Keras's wording), the lengths
of pooled and unpooled axes, TensorFlow's "same" padding, and the moves
between channels-first and channels-last tensors. The layers compute in
channels-last order and transpose at the edges when `data_format` is
"channels_first".
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import keras
from keras import ops

from keras_dlm._checks import check_bool, check_choice, invalid_argument

PADDINGS = ("valid", "same")
DATA_FORMATS = ("channels_last", "channels_first")
INDEX_LAYOUTS = ("tensorflow", "torch")


def check_sizes(
    name: str, value: Any, rank: int, *, allow_none: bool = False
) -> tuple[int, ...] | None:
    """An int or a sequence of `rank` ints, each >= 1, as a `rank`-tuple."""
    if value is None and allow_none:
        return None
    expected = (
        "a positive integer"
        if rank == 1
        else f"a positive integer or a tuple of {rank} positive integers"
    )
    if allow_none:
        expected += " or None"
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        items: Sequence[Any] = (value,) * rank
    elif isinstance(value, (list, tuple)) and len(value) == rank:
        items = value
    else:
        error = ValueError if isinstance(value, (list, tuple)) else TypeError
        raise invalid_argument(name, value, expected, error=error)
    for item in items:
        if isinstance(item, bool) or not isinstance(item, numbers.Integral):
            raise invalid_argument(name, value, expected, error=TypeError)
        if item < 1:
            raise invalid_argument(name, value, expected)
    return tuple(int(item) for item in items)


def check_lowercase_choice(name: str, value: Any, choices: Sequence[str]) -> str:
    """One of `choices`, any letter case accepted (as Keras does)."""
    return check_choice(
        name, value.lower() if isinstance(value, str) else value, choices
    )


def check_data_format(value: Any) -> str:
    """Keras's rule: None means `keras.config.image_data_format()`."""
    if value is None:
        return keras.config.image_data_format()
    return check_lowercase_choice("data_format", value, DATA_FORMATS)


def check_window(
    pool_size: Any, strides: Any, padding: Any, rank: int
) -> tuple[tuple[int, ...], tuple[int, ...], str]:
    """Checked `(pool_size, strides, padding)`; strides default to the pool."""
    pool = check_sizes("pool_size", pool_size, rank)
    stride = check_sizes("strides", strides, rank, allow_none=True) or pool
    return pool, stride, check_lowercase_choice("padding", padding, PADDINGS)


def check_input_rank(layer: str, shape: Sequence[Any], rank: int, what: str) -> None:
    """Raises a ValueError unless `shape` has `rank` spatial axes."""
    if len(shape) != rank + 2:
        raise ValueError(
            f"{layer} expects {what} of rank {rank + 2} (batch, {rank} spatial "
            f"axes, channels); received shape {tuple(shape)}."
        )


def spatial_axes(data_format: str, rank: int) -> tuple[int, ...]:
    first = 2 if data_format == "channels_first" else 1
    return tuple(range(first, first + rank))


def channel_axis(data_format: str) -> int:
    return 1 if data_format == "channels_first" else -1


def to_channels_last(tensor: Any, data_format: str, rank: int) -> Any:
    if data_format == "channels_last":
        return tensor
    return ops.transpose(tensor, (0, *range(2, rank + 2), 1))


def from_channels_last(tensor: Any, data_format: str, rank: int) -> Any:
    if data_format == "channels_last":
        return tensor
    return ops.transpose(tensor, (0, rank + 1, *range(1, rank + 1)))


def with_layout(
    batch: Any, spatial: Sequence[Any], channels: Any, data_format: str
) -> tuple[Any, ...]:
    """A full shape in `data_format` order."""
    if data_format == "channels_first":
        return (batch, channels, *spatial)
    return (batch, *spatial, channels)


def pooled_length(size: Any, pool: int, stride: int, padding: str) -> Any:
    """Output length of a pooled axis; `size` may be an int, None or a tensor."""
    if size is None:
        return None
    if padding == "same":
        return (size + stride - 1) // stride
    return (size - pool) // stride + 1


def unpooled_length(size: Any, pool: int, stride: int, padding: str) -> Any:
    """Smallest input length that pools to `size` (the default unpooled size)."""
    if size is None:
        return None
    if padding == "same":
        return size * stride
    return (size - 1) * stride + pool


def same_padding(size: Any, pool: int, stride: int) -> tuple[Any, Any]:
    """TensorFlow's "same" padding: (before, after), the extra one after."""
    out = (size + stride - 1) // stride
    needed = (out - 1) * stride + pool - size
    total = max(needed, 0) if isinstance(needed, int) else ops.maximum(needed, 0)
    before = total // 2
    return before, total - before


def along(vector: Any, axis: int, rank: int) -> Any:
    """Reshapes a 1-D tensor to broadcast along `axis` of a rank-`rank` tensor."""
    shape = [1] * rank
    shape[axis] = -1
    return ops.reshape(vector, shape)


def check_index_layout(
    index_layout: Any, include_batch_in_index: Any
) -> tuple[str, bool]:
    """Checked `(index_layout, include_batch_in_index)`."""
    layout = check_lowercase_choice("index_layout", index_layout, INDEX_LAYOUTS)
    with_batch = check_bool("include_batch_in_index", include_batch_in_index)
    if with_batch and layout != "tensorflow":
        raise invalid_argument(
            "include_batch_in_index",
            with_batch,
            "False with index_layout='torch' (PyTorch's indices never count the batch)",
        )
    return layout, with_batch


class WindowLayer(keras.layers.Layer):
    """Base of the argmax pooling and unpooling layers: their shared arguments.

    Subclasses set `_rank` (the number of spatial axes) and, when they take
    a single tensor, `_single_input = True` for Keras's input rank check.
    """

    _rank = 0
    _single_input = False

    def __init__(
        self,
        pool_size: int | Sequence[int] = 2,
        strides: int | Sequence[int] | None = None,
        padding: str = "valid",
        data_format: str | None = None,
        index_layout: str = "tensorflow",
        include_batch_in_index: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.pool_size, self.strides, self.padding = check_window(
            pool_size, strides, padding, self._rank
        )
        self.data_format = check_data_format(data_format)
        self.index_layout, self.include_batch_in_index = check_index_layout(
            index_layout, include_batch_in_index
        )
        if self._single_input:
            self.input_spec = keras.layers.InputSpec(ndim=self._rank + 2)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {
                "pool_size": self.pool_size,
                "strides": self.strides,
                "padding": self.padding,
                "data_format": self.data_format,
                "index_layout": self.index_layout,
                "include_batch_in_index": self.include_batch_in_index,
            }
        )
        return config
