"""Small data sets shipped inside keras_dlm, so nothing needs a download."""

from __future__ import annotations

import gzip
from importlib import resources

import numpy as np

_DIGITS_FILE = "digits.csv.gz"
_DIGITS_TEST_EVERY = 5


def load_digits() -> tuple[
    tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]
]:
    """Loads the 8x8 handwritten digits, split into training and test sets.

    The 1,797 images are the UCI "Optical Recognition of Handwritten Digits"
    test set as scikit-learn ships it (``sklearn.datasets.load_digits``); a copy
    lives inside keras_dlm so that examples, the CLI and tests work offline and
    without scikit-learn. Pixel counts 0..16 are scaled to [0, 1].

    The split is fixed and needs no random generator: every fifth image
    (index 4, 9, 14, ...) is a test image, giving 1,438 training and 359 test
    images with all ten classes in both.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: images of shape
        ``(N, 8, 8, 1)`` and dtype float32 in [0, 1], labels of shape ``(N,)``
        and dtype int32 in 0..9.

    Example:

    >>> from keras_dlm.datasets import load_digits
    >>> (x_train, y_train), (x_test, y_test) = load_digits()
    >>> x_train.shape, x_test.shape
    ((1438, 8, 8, 1), (359, 8, 8, 1))
    """
    data_file = resources.files("keras_dlm").joinpath("_data", _DIGITS_FILE)
    with data_file.open("rb") as raw, gzip.open(raw, "rt") as text:
        table = np.loadtxt(text, delimiter=",", dtype=np.float32)
    images = (table[:, :-1] / 16.0).reshape(-1, 8, 8, 1).astype(np.float32)
    labels = table[:, -1].astype(np.int32)
    is_test = np.arange(len(labels)) % _DIGITS_TEST_EVERY == _DIGITS_TEST_EVERY - 1
    return (images[~is_test], labels[~is_test]), (images[is_test], labels[is_test])
