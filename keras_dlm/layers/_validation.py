"""Argument checks shared by keras_dlm's layers, with messages naming the layer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def check_rate(layer: str, name: str, value: Any) -> None:
    """Raises a ValueError unless `value` is a number in [0, 1)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(
            f"{layer}: `{name}` must be a float in [0, 1); received {name}={value!r} "
            f"of type {type(value).__name__}."
        )
    if not 0.0 <= value < 1.0:
        raise ValueError(
            f"{layer}: `{name}` must be in [0, 1); received {name}={value!r}."
        )


def check_positive_int(layer: str, name: str, value: Any) -> None:
    """Raises a ValueError unless `value` is a positive integer."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(
            f"{layer}: `{name}` must be a positive integer; received {name}={value!r}."
        )


def normalize_pair(layer: str, name: str, value: Any) -> tuple[int, int]:
    """Turns an int or a pair of ints into a pair of positive ints."""
    if isinstance(value, int) and not isinstance(value, bool):
        pair = (value, value)
    elif isinstance(value, Sequence) and len(value) == 2:
        pair = tuple(value)
    else:
        raise ValueError(
            f"{layer}: `{name}` must be a positive integer or a pair of them; "
            f"received {name}={value!r}."
        )
    for item in pair:
        if isinstance(item, bool) or not isinstance(item, int) or item <= 0:
            raise ValueError(
                f"{layer}: `{name}` must be a positive integer or a pair of them; "
                f"received {name}={value!r}."
            )
    return (int(pair[0]), int(pair[1]))


def check_rank(layer: str, shape: Sequence[Any], rank: int, what: str) -> None:
    """Raises a ValueError unless `shape` has `rank` dimensions."""
    if len(shape) != rank:
        raise ValueError(
            f"{layer} expects {what} of rank {rank}; received a tensor of shape "
            f"{tuple(shape)} (rank {len(shape)})."
        )
