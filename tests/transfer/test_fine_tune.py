"""fine_tune, FineTuneHistory and build_transfer_model (TensorFlow backend)."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest

pytestmark = pytest.mark.tf_only

from keras_dlm.callbacks import CliffDecay, StepDecay  # noqa: E402
from keras_dlm.transfer import (  # noqa: E402
    FineTuneHistory,
    HubBackbone,
    build_transfer_model,
    fine_tune,
)


def _data(n: int = 24, classes: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 8, 8, 1)).astype("float32"), np.arange(n) % classes


def _values(layer) -> dict[str, np.ndarray]:
    return {w.path: keras.ops.convert_to_numpy(w).copy() for w in layer.weights}


class _Snapshots(keras.callbacks.Callback):
    def __init__(self, layer):
        super().__init__()
        self.layer = layer
        self.at_epoch_end: list[dict[str, np.ndarray]] = []

    def on_epoch_end(self, epoch, logs=None):
        self.at_epoch_end.append(_values(self.layer))


def test_phases_freeze_then_unfreeze(tiny_module):
    path, _, x = tiny_module
    y = np.arange(len(x)) % 3
    backbone = HubBackbone(path, name="backbone")
    model = build_transfer_model(backbone, 3, input_shape=(8, 8, 1))
    start = _values(backbone)
    snapshots = _Snapshots(backbone)
    history = fine_tune(
        model,
        (x, y),
        head_epochs=2,
        fine_tune_epochs=2,
        optimizer=keras.optimizers.SGD(0.05),
        callbacks=[snapshots],
        batch_size=8,
        verbose=0,
    )
    assert isinstance(history, FineTuneHistory)
    assert history.phase == ["head", "head", "fine_tune", "fine_tune"]
    assert history.epoch == [0, 1, 2, 3]
    assert len(history.history["loss"]) == 4
    np.testing.assert_allclose(
        history.history["learning_rate"], [0.05, 0.05, 0.005, 0.005], rtol=1e-6
    )
    assert history.for_phase("fine_tune")["loss"] == history.history["loss"][2:]
    # Phase 1: every backbone variable, moving statistics included, unchanged.
    for snapshot in snapshots.at_epoch_end[:2]:
        for name, value in start.items():
            np.testing.assert_array_equal(snapshot[name], value, err_msg=name)
    # Phase 2: trainable variables moved, moving statistics did not.
    final = snapshots.at_epoch_end[-1]
    trainable = {w.path for w in backbone.trainable_weights}
    assert len(trainable) == 10
    for name, value in start.items():
        if name in trainable:
            assert not np.array_equal(final[name], value), name
        else:
            assert "moving" in name
            np.testing.assert_array_equal(final[name], value, err_msg=name)


def test_phase_two_learning_rate_is_scaled_on_schedules(make_body):
    x, y = _data()
    body = make_body(1)
    model = build_transfer_model(body, 3, input_shape=(8, 8, 1))
    schedule = keras.optimizers.schedules.ExponentialDecay(
        0.1, decay_steps=3, decay_rate=0.5
    )
    history = fine_tune(
        model,
        (x, y),
        head_epochs=1,
        fine_tune_epochs=1,
        optimizer=keras.optimizers.SGD(schedule),
        fine_tune_lr_factor=0.25,
        batch_size=8,
        verbose=0,
    )
    # 3 steps per epoch: phase 1 ends at step 3, phase 2 (a fresh optimizer) at 3.
    expected = [0.1 * 0.5 ** (3 / 3), 0.25 * 0.1 * 0.5 ** (3 / 3)]
    np.testing.assert_allclose(history.history["learning_rate"], expected, rtol=1e-5)


class _RateAtEachBatch(keras.callbacks.Callback):
    """Reads the optimizer's rate after every batch: the rate that step used."""

    def __init__(self):
        super().__init__()
        self.rates: list[tuple[int, int, float]] = []
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        rate = keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)
        self.rates.append((self._epoch, batch, float(rate)))


def _step_decay_reference(t):
    # lr = 0.1 * 0.5 ** floor(t / 2)
    return 0.1 * 0.5 ** math.floor(t / 2)


def _cliff_decay_reference(t):
    # Cliffs at 1 and 4 (x0.1 each), exponential decay 0.5 per epoch between
    # them, floored at the next level (0.001, then min_learning_rate = 0).
    if t < 1:
        return 0.1
    if t < 4:
        return max(0.001, 0.01 * 0.5 ** (t - 1))
    return 0.001 * 0.5 ** (t - 4)


@pytest.mark.parametrize(
    ("make_callback", "reference", "per_batch"),
    [
        (lambda: StepDecay(0.1, drop_every=2, factor=0.5), _step_decay_reference, 0),
        (
            lambda: CliffDecay(
                0.1, cliffs=[1, 4], cliff_factor=0.1, decay_rate=0.5, per_batch=True
            ),
            _cliff_decay_reference,
            1,
        ),
    ],
    ids=["step_decay", "cliff_decay_per_batch"],
)
def test_decay_callbacks_continue_across_phases(
    make_callback, reference, per_batch, make_body
):
    x, y = _data()  # 24 images, batch 8: 3 steps per epoch
    model = build_transfer_model(make_body(5), 3, input_shape=(8, 8, 1))
    recorder = _RateAtEachBatch()
    history = fine_tune(
        model,
        (x, y),
        head_epochs=3,
        fine_tune_epochs=3,
        fine_tune_lr_factor=0.1,
        optimizer=keras.optimizers.SGD(1.0),
        callbacks=[make_callback(), recorder],
        batch_size=8,
        verbose=0,
    )
    assert history.epoch == [0, 1, 2, 3, 4, 5]
    # Epochs 3-5 are phase 2: the callback's rate at the continued epoch
    # count, times fine_tune_lr_factor.
    expected = [
        (
            epoch,
            batch,
            reference(epoch + per_batch * batch / 3) * (0.1 if epoch >= 3 else 1.0),
        )
        for epoch in range(6)
        for batch in range(3)
    ]
    assert [r[:2] for r in recorder.rates] == [e[:2] for e in expected]
    np.testing.assert_allclose(
        [r[2] for r in recorder.rates], [e[2] for e in expected], rtol=1e-5
    )
    # The logged rate of each epoch is the one its last batch used.
    np.testing.assert_allclose(
        history.history["learning_rate"],
        [e[2] for e in expected[2::3]],
        rtol=1e-5,
    )


def test_keras_backbone_unfreeze_top_layers_keeps_batchnorm_frozen(make_body):
    x, y = _data()
    body = make_body(2)
    model = build_transfer_model(body, 3, input_shape=(8, 8, 1))
    start = {w.path: keras.ops.convert_to_numpy(w).copy() for w in body.weights}
    fine_tune(
        model,
        (x, y),
        head_epochs=1,
        fine_tune_epochs=2,
        unfreeze=2,
        optimizer=keras.optimizers.SGD(0.5),
        batch_size=8,
        verbose=0,
    )
    changed = {
        name
        for name, value in start.items()
        if not np.array_equal(_weight(body, name), value)
    }
    # Layers with weights, bottom to top: conv, bn, conv, bn, dense; the top two
    # are the second batch norm (kept frozen) and the dense layer.
    dense = body.layers[-1]
    assert changed == {w.path for w in dense.weights}


def _weight(model, path):
    for w in model.weights:
        if w.path == path:
            return keras.ops.convert_to_numpy(w)
    raise KeyError(path)


def test_hub_backbone_unfreeze_fraction(tiny_module):
    path, _, x = tiny_module
    y = np.arange(len(x)) % 3
    backbone = HubBackbone(path)
    model = build_transfer_model(backbone, 3, input_shape=(8, 8, 1))
    fine_tune(
        model,
        (x, y),
        head_epochs=1,
        fine_tune_epochs=1,
        unfreeze=0.2,
        optimizer=keras.optimizers.SGD(0.1),
        batch_size=8,
        verbose=0,
    )
    # 10 trainable module variables; the top fifth is the dense kernel and bias.
    assert [w.name for w in backbone.trainable_weights] == [
        w.name for w in backbone.weights if w.trainable
    ]
    assert len(backbone.trainable_weights) == 2
    assert "dense" in backbone.trainable_weights[0].name


def test_build_transfer_model_head_and_preprocessing(tiny_module):
    path, body, x = tiny_module
    model = build_transfer_model(
        path,
        4,
        input_shape=(8, 8, 1),
        head_units=(5,),
        dropout=0.5,
        preprocessing=keras.layers.Rescaling(2.0, offset=-1.0),
    )
    names = [layer.name for layer in model.layers]
    assert names == [
        "inputs",
        "rescaling",
        "backbone",
        "head_dropout",
        "head_dense_0",
        "classifier",
    ]
    assert isinstance(model.get_layer("backbone"), HubBackbone)
    assert not model.get_layer("backbone").trainable
    # Independent reference: the exported Keras body on preprocessed inputs.
    features = keras.ops.convert_to_numpy(body(2.0 * x - 1.0, training=False))
    hidden_layer = model.get_layer("head_dense_0")
    kernel, bias = (keras.ops.convert_to_numpy(w) for w in hidden_layer.weights)
    hidden = np.maximum(features @ kernel + bias, 0)
    kernel, bias = (
        keras.ops.convert_to_numpy(w) for w in model.get_layer("classifier").weights
    )
    logits = hidden @ kernel + bias
    expected = np.exp(logits - logits.max(1, keepdims=True))
    expected /= expected.sum(1, keepdims=True)
    np.testing.assert_allclose(
        model.predict(x, verbose=0), expected, rtol=1e-4, atol=1e-6
    )


def test_build_transfer_model_pools_spatial_backbones():
    conv = keras.Sequential(
        [keras.Input((8, 8, 1)), keras.layers.Conv2D(6, 3)], name="conv"
    )
    model = build_transfer_model(conv, 2, input_shape=(8, 8, 1), dropout=0.0)
    assert [layer.name for layer in model.layers][-2:] == ["head_pool", "classifier"]
    assert model.output_shape == (None, 2)


# The learning curve's clearest point (examples/transfer_digits.py, docs page):
# one labelled image per class of digits 5-9, same protocol as the example.
_SHOTS = 1
_EPOCH_SIZE = 80
_EPOCHS = 10


def _few_shot(digits, seed):
    (x_train, y_train), (x_test, y_test) = digits
    rng = np.random.default_rng(seed)
    chosen = np.concatenate(
        [
            rng.choice(np.flatnonzero(y_train == d), _SHOTS, replace=False)
            for d in range(5, 10)
        ]
    )
    x, y = x_train[chosen], y_train[chosen] - 5
    repeats = -(-_EPOCH_SIZE // len(x))
    target = y_test >= 5
    return (np.tile(x, (repeats, 1, 1, 1)), np.tile(y, repeats)), (
        x_test[target],
        y_test[target] - 5,
    )


def _accuracy(model, test):
    return float(
        np.mean(np.argmax(model.predict(test[0], verbose=0), axis=1) == test[1])
    )


def test_fine_tuned_transfer_beats_scratch_with_few_labels(
    digits, digits_module, make_body
):
    tuned, scratch = [], []
    for seed in range(2):
        train, test = _few_shot(digits, seed)
        keras.utils.set_random_seed(seed)
        model = build_transfer_model(
            HubBackbone(digits_module, name="backbone"), 5, input_shape=(8, 8, 1)
        )
        fine_tune(
            model,
            train,
            head_epochs=_EPOCHS,
            fine_tune_epochs=_EPOCHS,
            optimizer=keras.optimizers.Adam(3e-3),
            batch_size=8,
            verbose=0,
        )
        tuned.append(_accuracy(model, test))
        keras.utils.set_random_seed(seed)
        body = make_body(seed, filters=(32, 64), units=128)
        model = build_transfer_model(body, 5, input_shape=(8, 8, 1))
        model.compile(
            optimizer=keras.optimizers.Adam(3e-3),
            loss="sparse_categorical_crossentropy",
        )
        model.fit(*train, epochs=2 * _EPOCHS, batch_size=8, verbose=0)
        scratch.append(_accuracy(model, test))
    assert np.mean(tuned) > np.mean(scratch) + 0.1, (tuned, scratch)
