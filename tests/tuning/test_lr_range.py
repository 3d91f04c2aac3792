from __future__ import annotations

import math

import keras
import numpy as np
import pytest

from keras_dlm.tuning._lr_range import find_learning_rate_range, valley


def test_valley_is_two_thirds_down_the_longest_descent():
    rates = np.logspace(-6, 0, 100)
    # Flat, then a steady descent over indices 10..69, then a blow-up.
    losses = np.concatenate(
        [np.full(10, 5.0), np.linspace(4.0, 1.0, 60), np.linspace(2.0, 9.0, 30)]
    )
    # The longest decreasing run: the last 5.0 (index 9) and indices 10..69,
    # 61 points ending at 69. fastai's rule: start = end - length = 8,
    # index = start + int(61 / 3) + int(61 / 6) = 8 + 20 + 10 = 38.
    assert valley(rates, losses) == rates[38]
    # A shorter descent after the minimum (above it): the longer one wins.
    losses[80:90] = np.linspace(8.5, 8.0, 10)
    assert valley(rates, losses) == rates[38]


def test_valley_ignores_non_finite_points_and_needs_three():
    assert valley([1e-3, 1e-2], [1.0, 0.5]) is None
    assert valley([1e-3, 1e-2, 1e-1, 1.0], [1.0, np.nan, np.inf, 0.5]) is None
    rates = [1e-4, 1e-3, 1e-2, 1e-1]
    assert valley(rates, [3.0, 2.0, 1.0, 4.0]) in rates


def test_range_is_a_decade_around_the_median_of_the_sweeps():
    x = np.random.default_rng(0).normal(size=(256, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int32")

    def build():
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
        model.compile(
            optimizer=keras.optimizers.SGD(),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
        return model

    found = find_learning_rate_range(build, x, y, sweeps=3, num_steps=30)
    assert len(found.suggestions) == 3
    assert found.center == pytest.approx(float(np.median(found.suggestions)))
    assert math.log10(found.high / found.low) == pytest.approx(1.0)
    assert math.sqrt(found.low * found.high) == pytest.approx(found.center)
    with pytest.raises(ValueError, match="`decades`"):
        find_learning_rate_range(build, x, y, decades=math.nan)
    with pytest.raises(TypeError, match="`sweeps`"):
        find_learning_rate_range(build, x, y, sweeps=1.5)
