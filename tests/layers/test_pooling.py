"""Argmax pooling, unpooling and pyramid pooling against NumPy, Keras and TensorFlow."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest

from keras_dlm.layers import (
    MaxPoolingWithArgmax2D,
    MaxUnpooling2D,
    SpatialPyramidPooling2D,
)
from keras_dlm.testing import check_layer


def to_numpy(value):
    return np.asarray(keras.ops.convert_to_numpy(value))


def numpy_pool_with_argmax(x, pool, strides, padding):
    """Loops over windows; TensorFlow's padding and index convention."""
    batch, height, width, channels = x.shape
    (ph, pw), (sh, sw) = pool, strides
    if padding == "same":
        out_h, out_w = math.ceil(height / sh), math.ceil(width / sw)
        top = max((out_h - 1) * sh + ph - height, 0) // 2
        left = max((out_w - 1) * sw + pw - width, 0) // 2
    else:
        out_h, out_w = (height - ph) // sh + 1, (width - pw) // sw + 1
        top = left = 0
    pooled = np.zeros((batch, out_h, out_w, channels), x.dtype)
    argmax = np.zeros((batch, out_h, out_w, channels), np.int64)
    for b in range(batch):
        for i in range(out_h):
            for j in range(out_w):
                for c in range(channels):
                    best, where = -np.inf, -1
                    for dy in range(ph):
                        for dx in range(pw):
                            y, xx = i * sh - top + dy, j * sw - left + dx
                            if (
                                0 <= y < height
                                and 0 <= xx < width
                                and x[b, y, xx, c] > best
                            ):
                                best, where = (
                                    x[b, y, xx, c],
                                    (y * width + xx) * channels + c,
                                )
                    pooled[b, i, j, c], argmax[b, i, j, c] = best, where
    return pooled, argmax


def numpy_unpool(pooled, argmax, height, width):
    batch, _, _, channels = pooled.shape
    out = np.zeros((batch, height * width * channels), pooled.dtype)
    for b in range(batch):
        np.add.at(out[b], argmax[b].ravel(), pooled[b].ravel())
    return out.reshape(batch, height, width, channels)


CASES = [
    # (input shape, pool, strides, padding)
    ((2, 6, 8, 3), (2, 2), (2, 2), "valid"),
    ((2, 7, 5, 2), (3, 2), (2, 1), "valid"),
    ((1, 7, 5, 2), (3, 3), (2, 2), "same"),
    ((2, 5, 6, 1), (2, 2), (1, 1), "same"),
]


@pytest.mark.parametrize(("shape", "pool", "strides", "padding"), CASES)
def test_pooling_and_unpooling_match_numpy(shape, pool, strides, padding):
    x = np.random.default_rng(0).normal(size=shape).astype("float32")
    pooled, argmax = MaxPoolingWithArgmax2D(pool, strides, padding)(x)
    want_pooled, want_argmax = numpy_pool_with_argmax(x, pool, strides, padding)
    np.testing.assert_array_equal(to_numpy(pooled), want_pooled)
    np.testing.assert_array_equal(to_numpy(argmax), want_argmax)
    assert "int32" in str(argmax.dtype)

    unpooled = MaxUnpooling2D(pool, strides, padding)(
        (pooled, argmax), output_size=shape[1:3]
    )
    np.testing.assert_allclose(
        to_numpy(unpooled),
        numpy_unpool(want_pooled, want_argmax, *shape[1:3]),
        rtol=1e-6,
    )


@pytest.mark.parametrize(("shape", "pool", "strides", "padding"), CASES)
def test_pooled_values_equal_keras_max_pooling(shape, pool, strides, padding):
    x = np.random.default_rng(1).normal(size=shape).astype("float32")
    pooled, _ = MaxPoolingWithArgmax2D(pool, strides, padding)(x)
    reference = keras.layers.MaxPooling2D(pool, strides, padding)(x)
    np.testing.assert_array_equal(to_numpy(pooled), to_numpy(reference))


def test_ties_pick_the_first_maximum_in_row_major_order():
    x = np.zeros((1, 2, 2, 1), dtype="float32")
    _, argmax = MaxPoolingWithArgmax2D(2)(x)
    assert to_numpy(argmax).item() == 0


@pytest.mark.tf_only
@pytest.mark.parametrize(("shape", "pool", "strides", "padding"), CASES)
def test_against_tf_max_pool_with_argmax_and_scatter(shape, pool, strides, padding):
    import tensorflow as tf

    x = np.random.default_rng(2).normal(size=shape).astype("float32")
    tf_pooled, tf_argmax = tf.nn.max_pool_with_argmax(
        x, ksize=pool, strides=strides, padding=padding.upper()
    )
    pooled, argmax = MaxPoolingWithArgmax2D(pool, strides, padding)(x)
    np.testing.assert_array_equal(to_numpy(pooled), tf_pooled.numpy())
    np.testing.assert_array_equal(to_numpy(argmax), tf_argmax.numpy())

    per_example = shape[1] * shape[2] * shape[3]
    flat_index = (
        tf_argmax
        + tf.range(shape[0], dtype=tf_argmax.dtype)[:, None, None, None] * per_example
    )
    scattered = tf.scatter_nd(
        tf.reshape(flat_index, (-1, 1)),
        tf.reshape(tf_pooled, (-1,)),
        shape=(shape[0] * per_example,),
    )
    unpooled = MaxUnpooling2D(pool, strides, padding)(
        (pooled, argmax), output_size=shape[1:3]
    )
    np.testing.assert_allclose(
        to_numpy(unpooled), tf.reshape(scattered, shape).numpy(), rtol=1e-6
    )


def test_unpooling_size_from_reference_and_default():
    even = np.random.default_rng(3).normal(size=(2, 4, 6, 2)).astype("float32")
    pooled, argmax = MaxPoolingWithArgmax2D(2)(even)
    np.testing.assert_allclose(
        to_numpy(MaxUnpooling2D(2)((pooled, argmax))),
        numpy_unpool(*numpy_pool_with_argmax(even, (2, 2), (2, 2), "valid"), 4, 6),
    )
    # An odd-sized input needs its size back: indices count its full width.
    x = np.random.default_rng(3).normal(size=(2, 5, 7, 2)).astype("float32")
    pooled, argmax = MaxPoolingWithArgmax2D(2)(x)
    with_reference = MaxUnpooling2D(2)((pooled, argmax, x))
    assert tuple(with_reference.shape) == x.shape
    want_pooled, want_argmax = numpy_pool_with_argmax(x, (2, 2), (2, 2), "valid")
    np.testing.assert_allclose(
        to_numpy(with_reference), numpy_unpool(want_pooled, want_argmax, 5, 7)
    )


def test_segnet_style_functional_model_with_unknown_size():
    inputs = keras.Input((None, None, 3))
    pooled, argmax = MaxPoolingWithArgmax2D(2)(inputs)
    outputs = MaxUnpooling2D(2)((pooled, argmax, inputs))
    model = keras.Model(inputs, outputs)
    x = np.random.default_rng(4).normal(size=(2, 6, 4, 3)).astype("float32")
    out = to_numpy(model(x))
    want = numpy_unpool(*numpy_pool_with_argmax(x, (2, 2), (2, 2), "valid"), 6, 4)
    np.testing.assert_allclose(out, want)


def test_argmax_pooling_passes_the_layer_checks():
    check_layer(
        lambda: MaxPoolingWithArgmax2D(3, 2, "same"),
        input_shape=(2, 6, 6, 2),
        mixed_precision=True,
    )


def test_unpooling_passes_the_layer_checks():
    x = np.random.default_rng(6).normal(size=(2, 6, 6, 2))
    pooled, argmax = numpy_pool_with_argmax(x, (2, 2), (2, 2), "valid")
    check_layer(
        lambda: MaxUnpooling2D(2),
        inputs=[pooled.astype("float32"), argmax.astype("int32")],
        mixed_precision=True,
    )


def numpy_pyramid(x, bins):
    batch, height, width, channels = x.shape
    features = []
    for b in bins:
        grid = np.zeros((batch, b, b, channels), x.dtype)
        for i in range(b):
            for j in range(b):
                rows = slice(
                    math.floor(i * height / b), math.ceil((i + 1) * height / b)
                )
                cols = slice(math.floor(j * width / b), math.ceil((j + 1) * width / b))
                grid[:, i, j] = x[:, rows, cols].max(axis=(1, 2))
        features.append(grid.reshape(batch, -1))
    return np.concatenate(features, axis=1)


@pytest.mark.parametrize("size", [(13, 9), (4, 4), (3, 2)])
def test_pyramid_pooling_matches_numpy_for_any_size(size):
    bins = (1, 2, 4)
    inputs = keras.Input((None, None, 3))
    model = keras.Model(inputs, SpatialPyramidPooling2D(bins)(inputs))
    assert tuple(model.output.shape) == (None, 3 * 21)
    x = np.random.default_rng(7).normal(size=(2, *size, 3)).astype("float32")
    np.testing.assert_allclose(to_numpy(model(x)), numpy_pyramid(x, bins))


def test_pyramid_pooling_equals_keras_adaptive_max_pooling():
    # Grid 1 is left out: keras 3.15's AdaptiveMaxPooling2D(1) kills the
    # TensorFlow process with a floating-point exception.
    x = np.random.default_rng(8).normal(size=(2, 11, 7, 4)).astype("float32")
    reference = np.concatenate(
        [
            to_numpy(keras.layers.AdaptiveMaxPooling2D(b)(x)).reshape(2, -1)
            for b in (2, 3)
        ],
        axis=1,
    )
    np.testing.assert_allclose(to_numpy(SpatialPyramidPooling2D((2, 3))(x)), reference)


def test_pyramid_pooling_passes_the_layer_checks():
    check_layer(
        lambda: SpatialPyramidPooling2D((1, 2)),
        input_shape=(2, 5, 6, 2),
        mixed_precision=True,
    )


def test_bad_arguments_and_inputs_are_rejected():
    with pytest.raises(
        ValueError, match=r"MaxPoolingWithArgmax2D: `pool_size`.*pool_size=0"
    ):
        MaxPoolingWithArgmax2D(0)
    with pytest.raises(ValueError, match=r"MaxUnpooling2D: `padding`.*'full'"):
        MaxUnpooling2D(2, padding="full")
    with pytest.raises(ValueError, match=r"SpatialPyramidPooling2D: `bins`.*bins=\(\)"):
        SpatialPyramidPooling2D(())
    with pytest.raises(ValueError, match=r"SpatialPyramidPooling2D: `bins`.*bins=-1"):
        SpatialPyramidPooling2D((1, -1))
    with pytest.raises(
        ValueError, match="MaxPoolingWithArgmax2D expects inputs of rank 4"
    ):
        MaxPoolingWithArgmax2D(2).compute_output_shape((2, 4, 4))
    with pytest.raises(ValueError, match="at least as large as pool_size"):
        MaxPoolingWithArgmax2D(3).build((1, 2, 5, 1))
    with pytest.raises(ValueError, match="same shape"):
        MaxUnpooling2D(2).compute_output_shape([(1, 2, 2, 1), (1, 3, 2, 1)])
