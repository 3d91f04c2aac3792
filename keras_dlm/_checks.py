"""Argument checks shared by every public keras_dlm function, class and command.

One wording everywhere, Keras's own::

    Argument `rate` must be in [0, 1). Received: rate=1.5

Numbers must be finite unless a caller allows infinity (and documents what it
means); booleans must be real ``bool`` values (the string ``"false"`` is truthy
and would silently mean ``True``); integer sizes must be integers, not floats
or booleans. Every check returns the value converted to a plain Python type so
a caller can write ``self.rate = check_number("rate", rate, ...)``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np

__all__ = [
    "check_bool",
    "check_choice",
    "check_integer",
    "check_number",
    "check_path_is_new",
    "invalid_argument",
]


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def invalid_argument(
    name: str, value: Any, expected: str, *, error: type[Exception] = ValueError
) -> Exception:
    """Builds the error for argument `name`, which must be `expected`.

    `expected` completes the sentence "Argument `name` must be ...", e.g.
    "in [0, 1)" or "a positive integer".
    """
    received = f"{name}={_shown(value)}"
    if error is TypeError:
        received += f" of type {type(value).__name__}"
    return error(f"Argument `{name}` must be {expected}. Received: {received}")


def _interval(
    low: float | None, high: float | None, low_inclusive: bool, high_inclusive: bool
) -> str:
    left = "(-inf" if low is None else ("[" if low_inclusive else "(") + f"{low:g}"
    right = "inf)" if high is None else f"{high:g}" + ("]" if high_inclusive else ")")
    return f"{left}, {right}"


def check_number(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
    allow_inf: bool = False,
    allow_none: bool = False,
) -> float | None:
    """Returns `value` as a float after checking it is a real number in range.

    NaN is always refused; infinity only with `allow_inf=True` (and then only
    where the interval admits it).
    """
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise invalid_argument(name, value, "a number", error=TypeError)
    number = float(value)
    expected = "a finite number"
    if low is not None or high is not None:
        expected = "in " + _interval(low, high, low_inclusive, high_inclusive)
    if math.isnan(number) or (math.isinf(number) and not allow_inf):
        raise invalid_argument(name, value, expected)
    if low is not None and (number < low or (number == low and not low_inclusive)):
        raise invalid_argument(name, value, expected)
    if high is not None and (number > high or (number == high and not high_inclusive)):
        raise invalid_argument(name, value, expected)
    return number


def check_integer(
    name: str,
    value: Any,
    *,
    minimum: int | None = 1,
    maximum: int | None = None,
    allow_none: bool = False,
) -> int | None:
    """Returns `value` as an int after checking it is an integer in range.

    Floats (even ``2.0``) and booleans are refused: a size given as a float is
    usually a mistake the user wants to hear about.
    """
    if value is None and allow_none:
        return None
    if minimum == 1 and maximum is None:
        expected = "a positive integer"
    elif minimum == 0 and maximum is None:
        expected = "a non-negative integer"
    elif maximum is None:
        expected = f"an integer >= {minimum}"
    elif minimum is None:
        expected = f"an integer <= {maximum}"
    else:
        expected = f"an integer in [{minimum}, {maximum}]"
    if allow_none:
        expected += " or None"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise invalid_argument(name, value, expected, error=TypeError)
    integer = int(value)
    if (minimum is not None and integer < minimum) or (
        maximum is not None and integer > maximum
    ):
        raise invalid_argument(name, value, expected)
    return integer


def check_bool(name: str, value: Any) -> bool:
    """Returns `value` after checking it is a real ``bool`` (or NumPy bool)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    raise invalid_argument(name, value, "True or False", error=TypeError)


def check_choice(name: str, value: Any, choices: Iterable[Any]) -> Any:
    """Returns `value` after checking it is one of `choices`."""
    options = tuple(choices)
    try:
        known = value in options
    except TypeError:  # unhashable or incomparable values are simply wrong
        known = False
    if not known:
        listed = ", ".join(repr(option) for option in options)
        raise invalid_argument(name, value, f"one of {listed}")
    return value


def check_path_is_new(name: str, path: Any, *, overwrite: bool) -> None:
    """Refuses to write over an existing file unless `overwrite` is True.

    Also checks that the parent folder exists, so a long computation does not
    end by failing to save its result.
    """
    import os

    text = os.fspath(path)
    parent = os.path.dirname(os.path.abspath(text))
    if os.path.isdir(text):
        raise invalid_argument(name, text, "a file path, not a folder")
    if not os.path.isdir(parent):
        raise invalid_argument(name, text, f"in an existing folder ({parent} is not)")
    if os.path.exists(text) and not overwrite:
        raise invalid_argument(
            name, text, "a path that does not exist yet (pass overwrite=True)"
        )
