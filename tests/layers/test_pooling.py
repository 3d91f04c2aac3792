"""Argmax pooling, unpooling and pyramid pooling in 1-3 D against NumPy, TF and torch."""

from __future__ import annotations

import contextlib
import itertools
import math

import keras
import numpy as np
import pytest

from keras_dlm.layers import (
    MaxPoolingWithArgmax1D,
    MaxPoolingWithArgmax2D,
    MaxPoolingWithArgmax3D,
    MaxUnpooling1D,
    MaxUnpooling2D,
    MaxUnpooling3D,
    SpatialPyramidPooling1D,
    SpatialPyramidPooling2D,
)
from keras_dlm.testing import check_layer

POOLING = {
    1: MaxPoolingWithArgmax1D,
    2: MaxPoolingWithArgmax2D,
    3: MaxPoolingWithArgmax3D,
}
UNPOOLING = {1: MaxUnpooling1D, 2: MaxUnpooling2D, 3: MaxUnpooling3D}
KERAS_POOLING = {
    1: keras.layers.MaxPooling1D,
    2: keras.layers.MaxPooling2D,
    3: keras.layers.MaxPooling3D,
}


def to_numpy(value):
    return np.asarray(keras.ops.convert_to_numpy(value))


def first_to_last(x):
    """Channels-first array to channels-last."""
    return np.moveaxis(x, 1, -1)


def last_to_first(x):
    return np.moveaxis(x, -1, 1)


# ---------------------------------------------------------------- references


def window_geometry(spatial, pool, strides, padding):
    """Pooled sizes and the padding before each axis (TensorFlow's rule)."""
    if padding == "same":
        out = [math.ceil(n / s) for n, s in zip(spatial, strides, strict=True)]
        before = [
            max((o - 1) * s + p - n, 0) // 2
            for o, s, p, n in zip(out, strides, pool, spatial, strict=True)
        ]
    else:
        out = [(n - p) // s + 1 for n, p, s in zip(spatial, pool, strides, strict=True)]
        before = [0] * len(spatial)
    return out, before


def numpy_pool_with_argmax(x, pool, strides, padding, layout="tensorflow"):
    """Loops over windows of a channels-last array; first maximum wins."""
    batch, *spatial, channels = x.shape
    out, before = window_geometry(spatial, pool, strides, padding)
    pooled = np.zeros((batch, *out, channels), x.dtype)
    argmax = np.zeros((batch, *out, channels), np.int64)
    for b, cell, c in itertools.product(
        range(batch), itertools.product(*map(range, out)), range(channels)
    ):
        best, where = -np.inf, -1
        for offset in itertools.product(*map(range, pool)):
            at = [
                o * s - p + d
                for o, s, p, d in zip(cell, strides, before, offset, strict=True)
            ]
            if all(0 <= a < n for a, n in zip(at, spatial, strict=True)):
                value = x[(b, *at, c)]
                if value > best:
                    flat = int(np.ravel_multi_index(at, spatial))
                    best = value
                    where = flat * channels + c if layout == "tensorflow" else flat
        pooled[(b, *cell, c)], argmax[(b, *cell, c)] = best, where
    return pooled, argmax


def numpy_unpool(pooled, argmax, spatial, layout="tensorflow"):
    """`np.add.at` scatter of channels-last arrays into each example's output."""
    batch, *_, channels = pooled.shape
    out = np.zeros((batch, math.prod(spatial) * channels), pooled.dtype)
    channel = np.broadcast_to(np.arange(channels), pooled.shape[1:])
    for b in range(batch):
        position = (
            argmax[b] if layout == "tensorflow" else argmax[b] * channels + channel
        )
        np.add.at(out[b], position.ravel(), pooled[b].ravel())
    return out.reshape(batch, *spatial, channels)


def numpy_pyramid(x, bins):
    """Channels-last pyramid: each grid's (b, ..., b, channels) map, flattened."""
    batch, *spatial, channels = x.shape
    features = []
    for b in bins:
        grid = np.zeros((batch, *([b] * len(spatial)), channels), x.dtype)
        for cell in itertools.product(range(b), repeat=len(spatial)):
            region = tuple(
                slice(math.floor(i * n / b), math.ceil((i + 1) * n / b))
                for i, n in zip(cell, spatial, strict=True)
            )
            axes = tuple(range(1, len(spatial) + 1))
            grid[(slice(None), *cell)] = x[(slice(None), *region)].max(axis=axes)
        features.append(grid.reshape(batch, -1))
    return np.concatenate(features, axis=1)


# ------------------------------------------------------- pooling, unpooling

CASES = [
    # (input shape, pool, strides, padding, index layout)
    ((2, 9, 3), (3,), (2,), "valid", "tensorflow"),
    ((2, 7, 2), (2,), (2,), "same", "torch"),
    ((2, 6, 8, 3), (2, 2), (2, 2), "valid", "tensorflow"),
    ((2, 7, 5, 2), (3, 2), (2, 1), "valid", "torch"),
    ((1, 7, 5, 2), (3, 3), (2, 2), "same", "tensorflow"),
    ((2, 5, 6, 1), (2, 2), (1, 1), "same", "torch"),
    ((2, 4, 5, 6, 2), (2, 2, 2), (2, 2, 2), "valid", "torch"),
    ((1, 5, 3, 4, 2), (3, 2, 2), (2, 1, 2), "same", "tensorflow"),
]
CASE_IDS = [f"{len(c[0]) - 2}d-{c[3]}-{c[4]}-{i}" for i, c in enumerate(CASES)]


@pytest.mark.parametrize(
    ("shape", "pool", "strides", "padding", "layout"), CASES, ids=CASE_IDS
)
def test_pooling_and_unpooling_match_numpy_and_keras(
    shape, pool, strides, padding, layout
):
    rank = len(shape) - 2
    x = np.random.default_rng(0).normal(size=shape).astype("float32")
    pooled, argmax = POOLING[rank](pool, strides, padding, index_layout=layout)(x)
    want_pooled, want_argmax = numpy_pool_with_argmax(x, pool, strides, padding, layout)
    np.testing.assert_array_equal(to_numpy(pooled), want_pooled)
    np.testing.assert_array_equal(to_numpy(argmax), want_argmax)
    assert "int32" in str(argmax.dtype)
    keras_pooled = KERAS_POOLING[rank](pool, strides, padding)(x)
    np.testing.assert_array_equal(to_numpy(pooled), to_numpy(keras_pooled))

    unpooled = UNPOOLING[rank](pool, strides, padding, index_layout=layout)(
        (pooled, argmax), output_size=shape[1:-1]
    )
    np.testing.assert_allclose(
        to_numpy(unpooled),
        numpy_unpool(want_pooled, want_argmax, shape[1:-1], layout),
        rtol=1e-6,
    )


def test_ties_pick_the_first_maximum_in_row_major_order():
    x = np.zeros((1, 2, 2, 1), dtype="float32")
    _, argmax = MaxPoolingWithArgmax2D(2)(x)
    assert to_numpy(argmax).item() == 0


@pytest.mark.parametrize(
    ("shape", "pool", "strides", "padding", "layout"),
    [CASES[1], CASES[5], CASES[6]],  # shapes compiled above already (JAX)
    ids=["1d", "2d", "3d"],
)
def test_channels_first_is_the_transpose_of_channels_last(
    shape, pool, strides, padding, layout
):
    rank = len(shape) - 2
    x = np.random.default_rng(0).normal(size=shape).astype("float32")
    options = {
        "pool_size": pool,
        "strides": strides,
        "padding": padding,
        "index_layout": layout,
    }
    last = POOLING[rank](**options, data_format="channels_last")(x)
    first = POOLING[rank](**options, data_format="channels_first")(last_to_first(x))
    for a, b in zip(last, first, strict=True):
        np.testing.assert_array_equal(to_numpy(a), first_to_last(to_numpy(b)))

    spatial = shape[1:-1]
    unpooled_last = UNPOOLING[rank](**options, data_format="channels_last")(
        last, output_size=spatial
    )
    unpooled_first = UNPOOLING[rank](**options, data_format="channels_first")(
        (*first, last_to_first(x))  # the size from the reference
    )
    np.testing.assert_array_equal(
        to_numpy(unpooled_last), first_to_last(to_numpy(unpooled_first))
    )


@contextlib.contextmanager
def image_data_format(value):
    saved = keras.config.image_data_format()
    keras.config.set_image_data_format(value)
    try:
        yield
    finally:
        keras.config.set_image_data_format(saved)


def test_data_format_defaults_to_keras_image_data_format():
    with image_data_format("channels_first"):
        layers = [
            MaxPoolingWithArgmax2D(),
            MaxUnpooling1D(),
            SpatialPyramidPooling2D(),
            # The layers compute channels last inside; Keras's global setting
            # must not leak into the ops they call.
            MaxPoolingWithArgmax1D(data_format="channels_last"),
        ]
        assert [layer.data_format for layer in layers] == ["channels_first"] * 3 + [
            "channels_last"
        ]
        x = np.random.default_rng(2).normal(size=(2, 6, 3)).astype("float32")
        pooled, argmax = layers[3](x)
        want_pooled, want_argmax = numpy_pool_with_argmax(x, (2,), (2,), "valid")
        np.testing.assert_array_equal(to_numpy(pooled), want_pooled)
        np.testing.assert_array_equal(to_numpy(argmax), want_argmax)
    assert MaxPoolingWithArgmax2D().data_format == "channels_last"


def test_include_batch_in_index_counts_the_batch_position():
    x = np.random.default_rng(3).normal(size=(2, 6, 8, 3)).astype("float32")
    pooled, argmax = MaxPoolingWithArgmax2D(2, include_batch_in_index=True)(x)
    _, want = numpy_pool_with_argmax(x, (2, 2), (2, 2), "valid")
    offsets = np.arange(2)[:, None, None, None] * 6 * 8 * 3
    np.testing.assert_array_equal(to_numpy(argmax), want + offsets)
    unpooled = MaxUnpooling2D(2, include_batch_in_index=True)((pooled, argmax))
    np.testing.assert_array_equal(
        to_numpy(unpooled), numpy_unpool(to_numpy(pooled), want, (6, 8))
    )


def test_output_size_from_constructor_call_and_reference():
    x = np.random.default_rng(4).normal(size=(2, 5, 7, 2)).astype("float32")
    pooled, argmax = MaxPoolingWithArgmax2D(2)(x)
    want = numpy_unpool(*numpy_pool_with_argmax(x, (2, 2), (2, 2), "valid"), (5, 7))
    layer = MaxUnpooling2D(2, output_size=(5, 7))
    np.testing.assert_array_equal(to_numpy(layer((pooled, argmax))), want)
    restored = MaxUnpooling2D.from_config(layer.get_config())
    assert restored.output_size == (5, 7)
    np.testing.assert_array_equal(to_numpy(restored((pooled, argmax))), want)
    # The call's size and a reference's take precedence over the constructor's.
    wider = to_numpy(layer((pooled, argmax), output_size=(5, 9)))
    assert wider.shape == (2, 5, 9, 2)
    assert (
        to_numpy(MaxUnpooling2D(2, output_size=(6, 9))((pooled, argmax, x))).shape
        == x.shape
    )
    assert layer.compute_output_shape([(None, 2, 3, 2), (None, 2, 3, 2)]) == (
        None,
        5,
        7,
        2,
    )
    assert MaxUnpooling3D(output_size=4).output_size == (4, 4, 4)


def test_segnet_style_functional_model_with_unknown_size():
    inputs = keras.Input((None, None, 3))
    pooled, argmax = MaxPoolingWithArgmax2D(2)(inputs)
    outputs = MaxUnpooling2D(2)((pooled, argmax, inputs))
    model = keras.Model(inputs, outputs)
    x = np.random.default_rng(5).normal(size=(2, 6, 4, 3)).astype("float32")
    want = numpy_unpool(*numpy_pool_with_argmax(x, (2, 2), (2, 2), "valid"), (6, 4))
    np.testing.assert_allclose(to_numpy(model(x)), want)
    # predict() runs compiled (tf.function, jax.jit) where the backend allows.
    np.testing.assert_allclose(model.predict(x, verbose=0), want)


# ------------------------------------------------------------- index checks


def bad_indices():
    """Pooled values and indices of 2 examples, one index past the output."""
    x = np.random.default_rng(6).normal(size=(2, 4, 4, 1)).astype("float32")
    pooled, argmax = numpy_pool_with_argmax(x, (2, 2), (2, 2), "valid")
    argmax = argmax.astype("int32")
    argmax[0, 1, 1, 0] = 16 + 5  # position 5 of example 1, if batch were flat
    return pooled, argmax


def test_an_index_out_of_range_is_a_clear_error_eagerly():
    pooled, argmax = bad_indices()
    with pytest.raises(
        ValueError, match=r"index 21 at position \(0, 1, 1, 0\).*\[0, 16\)"
    ):
        MaxUnpooling2D(2)((pooled, argmax))
    argmax[0, 1, 1, 0] = -1
    with pytest.raises(ValueError, match=r"index -1 .*\[0, 16\)"):
        MaxUnpooling2D(2)((pooled, argmax))
    # With the batch in the index, example 1's range starts at 16.
    _, argmax = bad_indices()
    argmax[0, 1, 1, 0] = 15
    argmax[1] += 16
    argmax[1, 0, 0, 0] = 3
    with pytest.raises(
        ValueError, match=r"index 3 at position \(1, 0, 0, 0\).*\[16, 32\)"
    ):
        MaxUnpooling2D(2, include_batch_in_index=True)((pooled, argmax))
    argmax = np.zeros((2, 1, 2, 2), "int32") + 16  # per channel: [0, 16)
    with pytest.raises(ValueError, match=r"index 16 .*\[0, 16\)"):
        MaxUnpooling2D(2, index_layout="torch", data_format="channels_first")(
            (pooled.transpose(0, 3, 1, 2), argmax)
        )


def test_no_index_writes_into_another_example_in_compiled_code():
    pooled, argmax = bad_indices()
    values, indices = keras.Input((2, 2, 1)), keras.Input((2, 2, 1), dtype="int32")
    model = keras.Model([values, indices], MaxUnpooling2D(2)((values, indices)))
    dropped = argmax.copy()
    dropped[0, 1, 1, 0] = 0
    want = numpy_unpool(pooled * (argmax < 16), dropped, (4, 4))
    try:
        # Compiled on TensorFlow and JAX (values unknown: the index is
        # dropped); eager on PyTorch (values known: the clear error).
        out = model.predict([pooled, argmax], verbose=0)
    except ValueError as error:
        assert keras.backend.backend() == "torch"
        assert "index 21" in str(error)
    else:
        np.testing.assert_array_equal(out, want)
        assert out[1].ravel()[5] == want[1].ravel()[5]


@pytest.mark.parametrize(
    ("shape", "pool", "padding"),
    [((2, 5, 7, 2), 2, "valid"), ((1, 7, 5, 2), 3, "same")],  # shapes as above
)
def test_odd_size_without_reference_is_refused(shape, pool, padding):
    x = np.random.default_rng(7).normal(size=shape).astype("float32")
    pooled, argmax = MaxPoolingWithArgmax2D(pool, 2, padding)(x)
    with pytest.raises(ValueError, match=r"pass the pooled input|`output_size`"):
        MaxUnpooling2D(pool, 2, padding)((pooled, argmax))
    right = MaxUnpooling2D(pool, 2, padding)((pooled, argmax, x))
    want = numpy_unpool(
        *numpy_pool_with_argmax(x, (pool, pool), (2, 2), padding), shape[1:3]
    )
    np.testing.assert_array_equal(to_numpy(right), want)


def test_odd_size_3d_without_reference_is_refused():
    x = np.random.default_rng(8).normal(size=(1, 3, 5, 5, 1)).astype("float32")
    pooled, argmax = MaxPoolingWithArgmax3D(2)(x)
    with pytest.raises(ValueError, match="MaxUnpooling3D: argmax index"):
        MaxUnpooling3D(2)((pooled, argmax))


# ----------------------------------------------------- against the anchors


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_torch_layout_equals_torch_max_pool_and_max_unpool(rank):
    torch = pytest.importorskip("torch")
    functional = torch.nn.functional
    shape = (2, 3, *[7, 6, 5][:rank])  # channels first, as torch
    x = np.random.default_rng(9).normal(size=shape).astype("float32")
    pool_fn = getattr(functional, f"max_pool{rank}d")
    unpool_fn = getattr(functional, f"max_unpool{rank}d")
    options = {"data_format": "channels_first", "index_layout": "torch"}
    for pool, stride in ((2, 2), (3, 2)):
        want_pooled, want_argmax = pool_fn(
            torch.from_numpy(x), pool, stride, return_indices=True
        )
        pooled, argmax = POOLING[rank](pool, stride, **options)(x)
        np.testing.assert_array_equal(to_numpy(pooled), want_pooled.numpy())
        np.testing.assert_array_equal(to_numpy(argmax), want_argmax.numpy())
        if pool == stride:  # torch keeps one of duplicates; we sum them
            want = unpool_fn(
                want_pooled, want_argmax, pool, stride, output_size=shape[2:]
            )
            unpooled = UNPOOLING[rank](pool, stride, output_size=shape[2:], **options)(
                (pooled, argmax)
            )
            np.testing.assert_array_equal(to_numpy(unpooled), want.numpy())


@pytest.mark.tf_only
@pytest.mark.parametrize(("shape", "pool", "strides", "padding", "layout"), CASES[2:6])
def test_tensorflow_layout_equals_tf_max_pool_with_argmax_and_scatter(
    shape, pool, strides, padding, layout
):
    import tensorflow as tf

    del layout
    x = np.random.default_rng(10).normal(size=shape).astype("float32")
    for with_batch in (False, True):
        tf_pooled, tf_argmax = tf.nn.max_pool_with_argmax(
            x,
            ksize=pool,
            strides=strides,
            padding=padding.upper(),
            include_batch_in_index=with_batch,
        )
        layer = MaxPoolingWithArgmax2D(
            pool, strides, padding, include_batch_in_index=with_batch
        )
        pooled, argmax = layer(x)
        np.testing.assert_array_equal(to_numpy(pooled), tf_pooled.numpy())
        np.testing.assert_array_equal(to_numpy(argmax), tf_argmax.numpy())

    per_example = math.prod(shape[1:])
    scattered = tf.scatter_nd(
        tf.reshape(tf_argmax, (-1, 1)),  # batch included: one flat index space
        tf.reshape(tf_pooled, (-1,)),
        shape=(shape[0] * per_example,),
    )
    unpooled = MaxUnpooling2D(
        pool, strides, padding, include_batch_in_index=True, output_size=shape[1:3]
    )((pooled, argmax))
    np.testing.assert_allclose(to_numpy(unpooled), tf.reshape(scattered, shape).numpy())


# ---------------------------------------------------------- pyramid pooling


@pytest.mark.parametrize(
    ("layer_class", "size"),
    [
        (SpatialPyramidPooling2D, (13, 9)),
        (SpatialPyramidPooling2D, (3, 2)),  # smaller than the 4 x 4 grid
        (SpatialPyramidPooling1D, (11,)),
        (SpatialPyramidPooling1D, (3,)),
    ],
)
def test_pyramid_pooling_matches_numpy_for_any_size(layer_class, size):
    bins = (1, 2, 4)
    inputs = keras.Input((*[None] * len(size), 3))
    model = keras.Model(inputs, layer_class(bins)(inputs))
    cells = sum(b ** len(size) for b in bins)
    assert tuple(model.output.shape) == (None, 3 * cells)
    x = np.random.default_rng(11).normal(size=(2, *size, 3)).astype("float32")
    np.testing.assert_allclose(to_numpy(model(x)), numpy_pyramid(x, bins))


@pytest.mark.parametrize(
    "layer_class", [SpatialPyramidPooling1D, SpatialPyramidPooling2D]
)
def test_channels_first_pyramid_flattens_each_grid_channel_major(layer_class):
    rank = 1 if layer_class is SpatialPyramidPooling1D else 2
    x = np.random.default_rng(12).normal(size=(2, 3, *[7, 5][:rank])).astype("float32")
    out = to_numpy(layer_class((1, 2), data_format="channels_first")(x))
    last = to_numpy(layer_class((1, 2))(first_to_last(x)))
    # Regroup the channels-last features per grid into channel-major order.
    want, start = [], 0
    for b in (1, 2):
        cells = b**rank
        grid = last[:, start : start + cells * 3].reshape(2, cells, 3)
        want.append(grid.transpose(0, 2, 1).reshape(2, -1))
        start += cells * 3
    np.testing.assert_array_equal(out, np.concatenate(want, axis=1))


def test_pyramid_pooling_equals_torch_adaptive_max_pooling():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(13).normal(size=(2, 4, 11, 3)).astype("float32")
    want = torch.cat(
        [
            torch.flatten(
                torch.nn.functional.adaptive_max_pool2d(torch.from_numpy(x), b), 1
            )
            for b in (1, 2, 4)
        ],
        dim=1,
    )
    out = SpatialPyramidPooling2D((1, 2, 4), data_format="channels_first")(x)
    np.testing.assert_array_equal(to_numpy(out), want.numpy())


@pytest.mark.slow  # the NumPy reference above checks the same rule, faster
def test_pyramid_pooling_equals_keras_adaptive_max_pooling():
    # Grid 1 is left out: keras 3.15's AdaptiveMaxPooling2D(1) kills the
    # TensorFlow process with a floating-point exception.
    x = np.random.default_rng(14).normal(size=(2, 11, 7, 4)).astype("float32")
    reference = np.concatenate(
        [
            to_numpy(keras.layers.AdaptiveMaxPooling2D(b)(x)).reshape(2, -1)
            for b in (2, 3)
        ],
        axis=1,
    )
    np.testing.assert_allclose(to_numpy(SpatialPyramidPooling2D((2, 3))(x)), reference)


def test_pyramid_pooling_of_an_empty_map_is_a_clear_error():
    with pytest.raises(ValueError, match="cannot pool an empty map"):
        SpatialPyramidPooling2D().build((None, 0, 5, 3))
    with pytest.raises(ValueError, match=r"cannot pool an empty map.*\(2, 0, 3\)"):
        SpatialPyramidPooling1D()(np.zeros((2, 0, 3), "float32"))


# ------------------------------------------------------------ layer checks


@pytest.mark.parametrize(
    ("factory", "shape"),
    [
        (lambda: MaxPoolingWithArgmax1D(3, 2, "same", index_layout="torch"), (2, 7, 2)),
        (lambda: MaxPoolingWithArgmax2D(3, 2, "same"), (2, 6, 6, 2)),
        (
            lambda: MaxPoolingWithArgmax3D(2, data_format="channels_first"),
            (2, 2, 4, 4, 4),
        ),
        (lambda: SpatialPyramidPooling1D((1, 3)), (2, 7, 2)),
        (lambda: SpatialPyramidPooling2D((1, 2), "channels_first"), (2, 2, 5, 6)),
    ],
    ids=["argmax1d", "argmax2d", "argmax3d", "pyramid1d", "pyramid2d"],
)
def test_pooling_layers_pass_the_layer_checks(factory, shape):
    # Mixed precision in 2-D and 3-D only: 1-D runs the 2-D code (JAX time).
    check_layer(factory, input_shape=shape, mixed_precision=len(shape) > 3)


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_unpooling_layers_pass_the_layer_checks(rank):
    x = np.random.default_rng(15).normal(size=(2, *[4] * rank, 2))
    pooled, argmax = numpy_pool_with_argmax(
        x, (2,) * rank, (2,) * rank, "valid", "torch"
    )
    check_layer(
        lambda: UNPOOLING[rank](2, index_layout="torch", output_size=4),
        inputs=[pooled.astype("float32"), argmax.astype("int32")],
        mixed_precision=rank == 2,  # one code path for every rank
    )


# ------------------------------------------------------------ bad arguments

WINDOW_BAD_VALUES = [
    ("pool_size", 0, ValueError),
    ("pool_size", -2, ValueError),
    ("pool_size", 2.0, TypeError),
    ("pool_size", True, TypeError),
    ("pool_size", "2", TypeError),
    ("pool_size", None, TypeError),
    ("pool_size", (2, 2, 2, 2), ValueError),
    ("pool_size", [], ValueError),
    ("strides", 0, ValueError),
    ("strides", 1.5, TypeError),
    ("strides", False, TypeError),
    ("strides", float("nan"), TypeError),
    ("padding", "full", ValueError),
    ("padding", 1, ValueError),
    ("padding", None, ValueError),
    ("data_format", "nhwc", ValueError),
    ("data_format", 3, ValueError),
    ("index_layout", "pytorch", ValueError),
    ("index_layout", None, ValueError),
    ("include_batch_in_index", "false", TypeError),
    ("include_batch_in_index", 1, TypeError),
    ("include_batch_in_index", None, TypeError),
]
UNPOOLING_BAD_VALUES = [
    ("output_size", 0, ValueError),
    ("output_size", (4, 4, 4, 4), ValueError),
    ("output_size", -4, ValueError),
    ("output_size", 4.0, TypeError),
    ("output_size", True, TypeError),
    ("output_size", "4", TypeError),
]
PYRAMID_BAD_VALUES = [
    ("bins", (), ValueError),
    ("bins", (1, 0), ValueError),
    ("bins", (1, -2), ValueError),
    ("bins", (1, 2.0), TypeError),
    ("bins", (True,), TypeError),
    ("bins", "124", TypeError),
    ("bins", 4, TypeError),
    ("bins", None, TypeError),
    ("data_format", "NCHW", ValueError),
    ("data_format", True, ValueError),
]
BAD_ARGUMENTS = (
    [
        (layer_class, name, value, error)
        for layer_class in (*POOLING.values(), *UNPOOLING.values())
        for name, value, error in WINDOW_BAD_VALUES
    ]
    + [
        (layer_class, name, value, error)
        for layer_class in UNPOOLING.values()
        for name, value, error in UNPOOLING_BAD_VALUES
    ]
    + [
        (layer_class, name, value, error)
        for layer_class in (SpatialPyramidPooling1D, SpatialPyramidPooling2D)
        for name, value, error in PYRAMID_BAD_VALUES
    ]
)


@pytest.mark.parametrize(
    ("layer_class", "name", "value", "error"),
    BAD_ARGUMENTS,
    ids=[f"{c.__name__}-{n}={v!r}" for c, n, v, _ in BAD_ARGUMENTS],
)
def test_bad_constructor_arguments_are_refused_naming_the_argument(
    layer_class, name, value, error
):
    with pytest.raises(error, match=f"Argument `{name}` must be .* Received: {name}="):
        layer_class(**{name: value})


def test_torch_layout_cannot_count_the_batch():
    with pytest.raises(
        ValueError, match="Argument `include_batch_in_index` must be False"
    ):
        MaxUnpooling2D(index_layout="torch", include_batch_in_index=True)


def test_bad_call_output_size_and_inputs_are_refused():
    pooled = np.zeros((1, 2, 2, 1), "float32")
    argmax = np.zeros((1, 2, 2, 1), "int32")
    with pytest.raises(ValueError, match="Argument `output_size`"):
        MaxUnpooling2D(2)((pooled, argmax), output_size=(4, 0))
    with pytest.raises(ValueError, match="expects inputs of rank 4"):
        MaxPoolingWithArgmax2D(2).compute_output_shape((2, 4, 4))
    with pytest.raises(ValueError, match="at least as large as pool_size"):
        MaxPoolingWithArgmax2D(3).build((1, 2, 5, 1))
    with pytest.raises(ValueError, match="same shape"):
        MaxUnpooling2D(2).compute_output_shape([(1, 2, 2, 1), (1, 3, 2, 1)])
    with pytest.raises(ValueError, match=r"expects inputs \(pooled, argmax\)"):
        MaxUnpooling1D(2).compute_output_shape([(1, 2, 1)])
