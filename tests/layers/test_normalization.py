"""GhostBatchNormalization against NumPy, keras BatchNormalization and tf_keras."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest

from keras_dlm.layers import GhostBatchNormalization
from keras_dlm.testing import check_layer


def to_numpy(value):
    return np.asarray(keras.ops.convert_to_numpy(value))


def numpy_ghost_bn(
    x,
    virtual,
    gamma,
    beta,
    moving_mean,
    moving_var,
    *,
    axis=-1,
    momentum=0.99,
    epsilon=1e-3,
    mask=None,
):
    """Strided ghost batches (example i in ghost i % n), written with loops."""
    x = np.moveaxis(x.astype(np.float64), axis, -1)
    batch = x.shape[0]
    ghosts = math.ceil(batch / virtual)
    weights = np.ones(x.shape[:-1]) if mask is None else mask.astype(np.float64)
    out = np.empty_like(x)
    means, variances = [], []
    for k in range(ghosts):
        members = np.arange(k, batch, ghosts)
        w = weights[members][..., None]
        values = x[members]
        mean = (values * w).sum(axis=tuple(range(values.ndim - 1))) / w.sum()
        var = (((values - mean) ** 2) * w).sum(
            axis=tuple(range(values.ndim - 1))
        ) / w.sum()
        out[members] = (values - mean) / np.sqrt(var + epsilon) * gamma + beta
        means.append(mean)
        variances.append(var)
    new_mean = momentum * moving_mean + (1 - momentum) * np.mean(means, axis=0)
    new_var = momentum * moving_var + (1 - momentum) * np.mean(variances, axis=0)
    return np.moveaxis(out, -1, axis), new_mean, new_var


def _random_weights(layer, channels, rng):
    gamma = rng.uniform(0.5, 1.5, channels)
    beta = rng.normal(size=channels)
    mean = rng.normal(size=channels)
    var = rng.uniform(0.5, 2.0, channels)
    layer.set_weights([w.astype("float32") for w in (gamma, beta, mean, var)])
    return gamma, beta, mean, var


@pytest.mark.parametrize(
    ("shape", "virtual", "axis"),
    [
        ((16, 5), 4, -1),  # divisible: the reshape path
        ((12, 3, 3, 4), 4, -1),  # images
        ((8, 3, 4, 5), 2, 1),  # features on axis 1
        ((10, 5), 4, -1),  # not divisible: 3 ghost batches of 4, 3, 3
        ((3, 5), 8, -1),  # smaller than one ghost batch: plain batch norm
    ],
)
def test_training_matches_numpy(shape, virtual, axis):
    rng = np.random.default_rng(0)
    x = (rng.normal(size=shape) * 3 + 1).astype("float32")
    layer = GhostBatchNormalization(virtual, axis=axis, momentum=0.9)
    layer.build(shape)
    gamma, beta, mean, var = _random_weights(layer, shape[axis], rng)
    want, want_mean, want_var = numpy_ghost_bn(
        x, virtual, gamma, beta, mean, var, axis=axis, momentum=0.9
    )
    out = to_numpy(layer(x, training=True))
    np.testing.assert_allclose(out, want, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(
        to_numpy(layer.moving_mean), want_mean, rtol=1e-5, atol=1e-5
    )
    np.testing.assert_allclose(
        to_numpy(layer.moving_variance), want_var, rtol=1e-5, atol=1e-5
    )


def test_general_path_equals_reshape_path_on_divisible_batches():
    # A functional model with an unknown batch size takes the one-hot path.
    x = np.random.default_rng(1).normal(size=(12, 2, 3)).astype("float32")
    fast = GhostBatchNormalization(3)
    reference = to_numpy(fast(x, training=True))
    general = GhostBatchNormalization(3)
    general.build(x.shape)
    general.set_weights(fast.get_weights())
    general.moving_mean.assign(np.zeros(3, "float32"))
    general.moving_variance.assign(np.ones(3, "float32"))
    out = to_numpy(general._general(keras.ops.convert_to_tensor(x), 2, None)[0])
    np.testing.assert_allclose(out, reference, rtol=1e-5, atol=1e-5)


def test_mask_leaves_masked_positions_out_of_the_statistics():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(8, 6, 3)).astype("float32")
    mask = rng.uniform(size=(8, 6)) > 0.3
    layer = GhostBatchNormalization(4, momentum=0.5)
    layer.build(x.shape)
    gamma, beta, mean, var = _random_weights(layer, 3, rng)
    want, want_mean, want_var = numpy_ghost_bn(
        x, 4, gamma, beta, mean, var, momentum=0.5, mask=mask
    )
    np.testing.assert_allclose(
        to_numpy(layer(x, training=True, mask=mask)), want, atol=1e-4
    )
    np.testing.assert_allclose(to_numpy(layer.moving_mean), want_mean, atol=1e-5)
    np.testing.assert_allclose(to_numpy(layer.moving_variance), want_var, atol=1e-5)


def test_inference_equals_keras_batch_normalization():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(6, 4, 5)).astype("float32")
    ghost = GhostBatchNormalization(2)
    ghost.build(x.shape)
    _random_weights(ghost, 5, rng)
    plain = keras.layers.BatchNormalization()
    plain.build(x.shape)
    plain.set_weights(ghost.get_weights())
    assert [w.path.split("/")[-1] for w in ghost.weights] == [
        w.path.split("/")[-1] for w in plain.weights
    ]
    np.testing.assert_allclose(
        to_numpy(ghost(x, training=False)),
        to_numpy(plain(x, training=False)),
        rtol=1e-6,
    )
    # A frozen layer normalizes with its moving statistics, as in Keras.
    ghost.trainable = False
    np.testing.assert_allclose(
        to_numpy(ghost(x, training=True)), to_numpy(plain(x, training=False)), rtol=1e-6
    )


@pytest.mark.tf_only
@pytest.mark.parametrize(
    ("shape", "axis"), [((16, 5), -1), ((8, 3, 3, 4), -1), ((8, 4, 3), 1)]
)
def test_matches_tf_keras_virtual_batch_size(shape, axis):
    tf_keras = pytest.importorskip("tf_keras")

    rng = np.random.default_rng(4)
    x = (rng.normal(size=shape) * 2 - 1).astype("float32")
    reference = tf_keras.layers.BatchNormalization(
        axis=axis, momentum=0.9, virtual_batch_size=4
    )
    reference.build(shape)
    layer = GhostBatchNormalization(4, axis=axis, momentum=0.9)
    layer.build(shape)
    weights = [w.astype("float32") for w in _random_weights(layer, shape[axis], rng)]
    # tf_keras keeps its virtual-batch weights in a broadcastable shape.
    reference.set_weights(
        [w.reshape(r.shape) for w, r in zip(weights, reference.weights, strict=True)]
    )

    for _ in range(2):  # two steps: the moving statistics compound
        want = reference(x, training=True).numpy()
        out = to_numpy(layer(x, training=True))
        np.testing.assert_allclose(out, want, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(
        to_numpy(layer.moving_mean),
        reference.moving_mean.numpy().ravel(),
        rtol=1e-5,
        atol=1e-6,
    )
    np.testing.assert_allclose(
        to_numpy(layer.moving_variance),
        reference.moving_variance.numpy().ravel(),
        rtol=1e-5,
        atol=1e-6,
    )
    np.testing.assert_allclose(
        to_numpy(layer(x, training=False)),
        reference(x, training=False).numpy(),
        rtol=1e-4,
        atol=1e-4,
    )


def test_fit_handles_a_last_batch_that_is_not_divisible():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(26, 3)).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    model = keras.Sequential(
        [keras.Input((3,)), GhostBatchNormalization(4), keras.layers.Dense(1)]
    )
    model.compile(optimizer="adam", loss="mse")
    history = model.fit(x, y, batch_size=8, epochs=2, verbose=0)  # last batch: 2
    assert np.isfinite(history.history["loss"]).all()
    assert not np.allclose(to_numpy(model.layers[0].moving_mean), 0.0)


def test_passes_the_layer_checks():
    # Gradients in training mode: they flow through the ghost statistics.
    check_layer(
        lambda: GhostBatchNormalization(4),
        input_shape=(8, 3, 2),
        mixed_precision=True,
        gradient_kwargs={"training": True},
    )
    check_layer(lambda: GhostBatchNormalization(3, axis=1), input_shape=(7, 2, 3))


NAN, INF = float("nan"), float("inf")
# (argument, bad values): the error must be a ValueError or TypeError naming it.
_BAD_ARGUMENTS = [
    ("virtual_batch_size", [0, -4, 4.0, "4", None, True, NAN]),
    ("momentum", [1.5, -0.1, NAN, INF, "0.9", True, None]),
    ("epsilon", [-1, 0, NAN, INF, "1e-3", False]),
    ("axis", [1.0, "1", None, True]),
    ("center", ["false", 0, None]),
    ("scale", ["true", 1]),
    ("renorm", [True]),
    ("synchronized", [True]),
]


@pytest.mark.parametrize(
    ("name", "value"),
    [(name, value) for name, values in _BAD_ARGUMENTS for value in values],
    ids=lambda v: repr(v),
)
def test_bad_arguments_are_refused_naming_the_argument(name, value):
    kwargs = {"virtual_batch_size": 4, name: value}
    with pytest.raises((ValueError, TypeError), match=f"Argument `{name}`"):
        GhostBatchNormalization(**kwargs)


def test_bad_axis_and_rank_are_rejected_at_build():
    with pytest.raises(ValueError, match=r"Argument `axis`.*axis=0"):
        GhostBatchNormalization(4, axis=0).build((8, 3))
    with pytest.raises(ValueError, match="rank >= 2"):
        GhostBatchNormalization(4).build((8,))
    layer = GhostBatchNormalization(2, axis=1)
    with pytest.raises(
        ValueError, match="mask only with the features on the last axis"
    ):
        layer(np.ones((4, 3, 2), "float32"), training=True, mask=np.ones((4, 3), bool))
