from __future__ import annotations

import numpy as np
import pytest

from keras_dlm.datasets import load_digits


def test_shapes_dtypes_and_range():
    (x_train, y_train), (x_test, y_test) = load_digits()
    assert x_train.shape == (1438, 8, 8, 1)
    assert x_test.shape == (359, 8, 8, 1)
    assert x_train.dtype == np.float32 and x_test.dtype == np.float32
    assert y_train.shape == (1438,) and y_test.shape == (359,)
    assert x_train.min() >= 0.0 and x_train.max() <= 1.0
    assert set(np.unique(y_train)) == set(range(10))
    assert set(np.unique(y_test)) == set(range(10))


def test_split_is_fixed():
    (x_a, y_a), (x_test_a, _) = load_digits()
    (x_b, y_b), (x_test_b, _) = load_digits()
    np.testing.assert_array_equal(x_a, x_b)
    np.testing.assert_array_equal(y_a, y_b)
    np.testing.assert_array_equal(x_test_a, x_test_b)


def test_matches_scikit_learn():
    datasets = pytest.importorskip("sklearn.datasets")
    reference = datasets.load_digits()
    (x_train, y_train), (x_test, y_test) = load_digits()
    index = np.arange(len(reference.target))
    test_index = index[index % 5 == 4]
    train_index = index[index % 5 != 4]
    expected = (reference.images / 16.0).astype(np.float32)[..., None]
    np.testing.assert_allclose(x_train, expected[train_index])
    np.testing.assert_allclose(x_test, expected[test_index])
    np.testing.assert_array_equal(y_train, reference.target[train_index])
    np.testing.assert_array_equal(y_test, reference.target[test_index])
