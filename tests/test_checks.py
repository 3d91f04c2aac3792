"""The shared argument checks: one wording, finite numbers, real booleans."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from keras_dlm import _checks


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_number_refuses_non_finite(bad):
    with pytest.raises(ValueError, match=r"Argument `rate` must be .* Received: rate="):
        _checks.check_number("rate", bad)


def test_number_allows_inf_only_when_asked():
    assert _checks.check_number("x", math.inf, low=0, allow_inf=True) == math.inf
    with pytest.raises(ValueError, match="x=nan"):
        _checks.check_number("x", math.nan, allow_inf=True)


@pytest.mark.parametrize("bad", ["0.5", True, None, [0.1], np.array([1.0, 2.0])])
def test_number_refuses_non_numbers(bad):
    with pytest.raises(TypeError, match="Argument `rate` must be a number"):
        _checks.check_number("rate", bad)


def test_number_wording_matches_keras():
    with pytest.raises(ValueError) as info:
        _checks.check_number("rate", 1.5, low=0, high=1, high_inclusive=False)
    assert str(info.value) == "Argument `rate` must be in [0, 1). Received: rate=1.5"


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_number_interval_property(value):
    inside = math.isfinite(value) and 0 < value <= 1
    if inside:
        assert (
            _checks.check_number("v", value, low=0, high=1, low_inclusive=False)
            == value
        )
    else:
        with pytest.raises(ValueError, match="Argument `v` must be in \\(0, 1\\]"):
            _checks.check_number("v", value, low=0, high=1, low_inclusive=False)


@given(st.integers(min_value=-(10**6), max_value=10**6))
def test_integer_property(value):
    if value >= 1:
        assert _checks.check_integer("units", value) == value
    else:
        with pytest.raises(ValueError, match="`units` must be a positive integer"):
            _checks.check_integer("units", value)


@pytest.mark.parametrize("bad", [2.0, "3", True, None])
def test_integer_refuses_non_integers(bad):
    with pytest.raises(TypeError, match="Argument `units` must be a positive integer"):
        _checks.check_integer("units", bad)


def test_integer_accepts_numpy_and_none_when_allowed():
    assert _checks.check_integer("n", np.int64(3)) == 3
    assert _checks.check_integer("n", None, allow_none=True) is None


@pytest.mark.parametrize("bad", ["false", "True", 0, 1, None])
def test_bool_refuses_truthy_values(bad):
    with pytest.raises(TypeError, match="Argument `peephole` must be True or False"):
        _checks.check_bool("peephole", bad)


def test_bool_accepts_bools():
    assert _checks.check_bool("b", np.bool_(True)) is True
    assert _checks.check_bool("b", False) is False


def test_choice():
    assert _checks.check_choice("mode", "cbow", ("skipgram", "cbow")) == "cbow"
    with pytest.raises(
        ValueError, match=r"one of 'skipgram', 'cbow'\. Received: mode='CBOW'"
    ):
        _checks.check_choice("mode", "CBOW", ("skipgram", "cbow"))
    with pytest.raises(ValueError):
        _checks.check_choice("mode", ["x"], ("skipgram", "cbow"))


def test_path_is_new(tmp_path):
    target = tmp_path / "v.txt"
    _checks.check_path_is_new("out", target, overwrite=False)
    with pytest.raises(ValueError, match="existing folder"):
        _checks.check_path_is_new("out", tmp_path / "nodir" / "v.txt", overwrite=False)
    target.write_text("keep me")
    with pytest.raises(ValueError, match="does not exist yet"):
        _checks.check_path_is_new("out", target, overwrite=False)
    _checks.check_path_is_new("out", target, overwrite=True)
    assert target.read_text() == "keep me"
