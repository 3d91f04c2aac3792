"""HubBackbone: weights, training flag, losses, saving, signatures, handles."""

from __future__ import annotations

import hashlib
import shutil
import socket
import threading
import time

import keras
import numpy as np
import pytest

from keras_dlm import _backend
from keras_dlm.transfer import HubBackbone, build_transfer_model, fine_tune

tf_only = pytest.mark.tf_only


def _np(value):
    return keras.ops.convert_to_numpy(value)


def test_requires_the_tensorflow_backend():
    """Runs on every backend: import works, use needs KERAS_BACKEND=tensorflow."""
    import keras_dlm.transfer as transfer

    if _backend.backend_name() == "tensorflow":
        from keras_dlm.transfer import _deps

        assert _deps.tensorflow().__name__ == "tensorflow"
        return
    for use in (
        lambda: transfer.HubBackbone("/nonexistent"),
        lambda: transfer.export_hub_module(keras.Sequential(), "/nonexistent"),
        lambda: transfer.build_transfer_model("/nonexistent", 2, input_shape=(8, 8, 1)),
    ):
        with pytest.raises(RuntimeError, match="KERAS_BACKEND=tensorflow"):
            use()


@tf_only
def test_weights_are_the_module_variables(tiny_module):
    import tensorflow as tf

    path, body, x = tiny_module
    module = tf.saved_model.load(path)
    frozen = HubBackbone(path)
    assert len(frozen.weights) == len(module.variables) == len(body.weights)
    assert frozen.trainable_weights == []
    assert frozen.count_params() == sum(int(np.prod(v.shape)) for v in module.variables)
    trainable = HubBackbone(path, trainable=True)
    assert len(trainable.trainable_weights) == len(body.trainable_weights) == 10
    assert all("moving" in w.name for w in trainable.non_trainable_weights)
    # Independent reference: the Keras model the module was exported from.
    np.testing.assert_allclose(
        _np(frozen(x)), _np(body(x, training=False)), rtol=1e-5, atol=1e-6
    )


@tf_only
@pytest.mark.parametrize(
    ("trainable", "train_batchnorm", "uses_batch_statistics"),
    [(True, False, False), (False, True, False), (True, True, True)],
)
def test_training_reaches_the_module_only_when_asked(
    tiny_module, trainable, train_batchnorm, uses_batch_statistics
):
    path, body, x = tiny_module
    layer = HubBackbone(path, trainable=trainable, train_batchnorm=train_batchnorm)
    # Reference values computed before any call that may update moving stats.
    inference = _np(body(x, training=False))
    output = _np(layer(x, training=True))
    if uses_batch_statistics:
        # Batch statistics differ from the moving ones on this batch.
        assert np.abs(output - inference).max() > 1e-3
        moving = [w for w in layer.weights if "moving_mean" in w.name]
        assert moving  # the call updated them in the module's own variables
        fresh = HubBackbone(path)
        assert any(
            not np.array_equal(_np(a), _np(b))
            for a, b in zip(
                moving,
                [w for w in fresh.weights if "moving_mean" in w.name],
                strict=True,
            )
        )
    else:
        np.testing.assert_allclose(output, inference, rtol=1e-5, atol=1e-6)


@tf_only
def test_frozen_fit_leaves_every_backbone_variable_unchanged(tiny_module):
    path, _, x = tiny_module
    backbone = HubBackbone(path)
    model = build_transfer_model(backbone, 3, input_shape=(8, 8, 1))
    before = [_np(w).copy() for w in backbone.weights]
    head_before = _np(model.get_layer("classifier").weights[0]).copy()
    model.compile(
        optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy"
    )
    model.fit(x, np.arange(len(x)) % 3, epochs=2, batch_size=8, verbose=0)
    for weight, value in zip(backbone.weights, before, strict=True):
        np.testing.assert_array_equal(_np(weight), value, err_msg=weight.name)
    assert not np.array_equal(
        _np(model.get_layer("classifier").weights[0]), head_before
    )


@tf_only
def test_regularization_losses_only_when_trainable(tiny_module):
    path, body, x = tiny_module
    kernel = _np(body.layers[0].kernel)
    expected = 1e-2 * np.sum(kernel**2)  # the L2(1e-2) on the first conv kernel
    trainable = HubBackbone(path, trainable=True)
    trainable(x)
    assert len(trainable.losses) == 1
    np.testing.assert_allclose(_np(trainable.losses[0]), expected, rtol=1e-5)
    frozen = HubBackbone(path)
    frozen(x)
    assert frozen.losses == []


@tf_only
def test_float32_under_mixed_precision(tiny_module):
    path, body, x = tiny_module
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        model = build_transfer_model(path, 3, input_shape=(8, 8, 1))
        backbone = model.get_layer("backbone")
        assert backbone.compute_dtype == "float32"
        features = backbone(x.astype("float16"))
        assert features.dtype == "float32"
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
        model.fit(x, np.arange(len(x)) % 3, epochs=1, verbose=0)
    finally:
        keras.config.set_dtype_policy(previous)
    np.testing.assert_allclose(
        _np(features),
        _np(body(x.astype("float16").astype("float32"))),
        rtol=1e-5,
        atol=1e-5,
    )


@tf_only
def test_keras_file_round_trip_and_safe_mode(tiny_module, tmp_path):
    path, _, x = tiny_module
    model = build_transfer_model(
        HubBackbone(path, trainable=True, name="backbone"), 3, input_shape=(8, 8, 1)
    )
    model.compile(
        optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy"
    )
    model.fit(x, np.arange(len(x)) % 3, epochs=1, batch_size=8, verbose=0)
    config = model.get_layer("backbone").get_config()
    assert config["handle"] == path and config["trainable"] is True
    file = tmp_path / "model.keras"
    model.save(file)
    with pytest.raises(ValueError, match="safe_mode=False"):
        keras.saving.load_model(file)
    reloaded = keras.saving.load_model(file, safe_mode=False)
    # The fine-tuned backbone values come from the file, not from the module.
    np.testing.assert_array_equal(
        reloaded.predict(x, verbose=0), model.predict(x, verbose=0)
    )


@tf_only
def test_model_export_serves(tiny_module, tmp_path):
    import tensorflow as tf

    path, _, x = tiny_module
    model = build_transfer_model(path, 3, input_shape=(8, 8, 1))
    model.export(str(tmp_path / "served"), verbose=False)
    served = tf.saved_model.load(str(tmp_path / "served"))
    np.testing.assert_allclose(
        served.serve(x).numpy(), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6
    )


@tf_only
def test_module_from_tf_keras_loads_and_fine_tunes(tmp_path):
    import tensorflow as tf
    import tf_keras

    tf_keras.utils.set_random_seed(3)
    legacy = tf_keras.Sequential(
        [
            tf_keras.layers.Conv2D(4, 3, padding="same", input_shape=(8, 8, 1)),
            tf_keras.layers.BatchNormalization(),
            tf_keras.layers.ReLU(),
            tf_keras.layers.Flatten(),
            tf_keras.layers.Dense(6),
        ]
    )
    x = np.random.default_rng(3).random((16, 8, 8, 1)).astype("float32")
    for _ in range(3):
        legacy(x, training=True)
    tf.saved_model.save(legacy, str(tmp_path / "legacy"))
    backbone = HubBackbone(str(tmp_path / "legacy"), name="backbone")
    np.testing.assert_allclose(
        _np(backbone(x)), legacy(x, training=False).numpy(), rtol=1e-5, atol=1e-6
    )
    model = build_transfer_model(backbone, 2, input_shape=(8, 8, 1))
    before = {w.path: _np(w).copy() for w in backbone.weights}
    fine_tune(
        model,
        (x, np.arange(16) % 2),
        head_epochs=1,
        fine_tune_epochs=1,
        optimizer=keras.optimizers.SGD(0.1),
        batch_size=8,
        verbose=0,
    )
    for weight in backbone.weights:
        changed = not np.array_equal(_np(weight), before[weight.path])
        assert changed == ("moving" not in weight.name), weight.name


@tf_only
def test_signature_with_output_key(tmp_path):
    import tensorflow as tf

    dense = keras.layers.Dense(3)
    dense.build((None, 4))
    holder = tf.train.Checkpoint()
    holder.variables = [w.value for w in dense.weights]

    @tf.function(input_signature=[tf.TensorSpec([None, 4], "float32", name="pixels")])
    def features(pixels):
        out = dense(pixels)
        return {"features": out, "doubled": 2.0 * out}

    tf.saved_model.save(
        holder, str(tmp_path / "sig"), signatures={"feature_vector": features}
    )
    x = np.random.default_rng(0).random((5, 4)).astype("float32")
    kernel, bias = (_np(w) for w in dense.weights)
    layer = HubBackbone(
        str(tmp_path / "sig"),
        signature="feature_vector",
        output_key="doubled",
        trainable=True,
    )
    np.testing.assert_allclose(_np(layer(x)), 2.0 * (x @ kernel + bias), rtol=1e-5)
    assert len(layer.trainable_weights) == 2
    with pytest.raises(ValueError, match="output_key"):
        HubBackbone(str(tmp_path / "sig"), signature="feature_vector")(x)
    with pytest.raises(ValueError, match="signature"):
        HubBackbone(str(tmp_path / "sig"))
    with pytest.raises(ValueError, match="no_such"):
        HubBackbone(str(tmp_path / "sig"), signature="no_such")


@tf_only
def test_missing_directory_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="neither a directory"):
        HubBackbone(str(tmp_path / "absent"))


@tf_only
def test_uncached_url_without_network_explains_how_to_download(tmp_path, monkeypatch):
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path / "cache"))
    # .invalid never resolves (RFC 2606), so no request leaves the machine.
    handle = "https://keras-dlm-test.invalid/models/backbone/1"
    start = time.perf_counter()
    with pytest.raises(ConnectionError) as info:
        HubBackbone(handle)
    assert time.perf_counter() - start < 30
    message = str(info.value)
    assert handle in message and "TFHUB_CACHE_DIR" in message
    assert hashlib.sha1(handle.encode()).hexdigest() in message
    assert "tf-hub-format=compressed" in message


@tf_only
def test_gcs_handle_without_network_fails_fast(monkeypatch):
    from keras_dlm.transfer import _resolve

    # Probe a host that never resolves in place of www.googleapis.com, so the
    # test behaves the same with or without network access.
    monkeypatch.setattr(_resolve, "_GCS_PROBE_URL", "https://keras-dlm-test.invalid")
    handle = "gs://keras-dlm-test-bucket/backbone"
    start = time.perf_counter()
    with pytest.raises(ConnectionError) as info:
        HubBackbone(handle)
    assert time.perf_counter() - start < 30
    message = str(info.value)
    assert handle in message and "keras-dlm-test.invalid" in message
    assert "gsutil cp" in message


@tf_only
def test_url_is_served_from_the_cache(tiny_module, tmp_path, monkeypatch):
    path, body, x = tiny_module
    handle = "https://keras-dlm-test.invalid/models/backbone/1"
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path))
    shutil.copytree(path, tmp_path / hashlib.sha1(handle.encode()).hexdigest())
    layer = HubBackbone(handle)
    np.testing.assert_allclose(
        _np(layer(x)), _np(body(x, training=False)), rtol=1e-5, atol=1e-6
    )


@tf_only
def test_directory_without_a_saved_model_is_a_clear_error(tmp_path):
    (tmp_path / "variables").mkdir()
    with pytest.raises(FileNotFoundError, match="without a SavedModel"):
        HubBackbone(str(tmp_path))


@pytest.fixture
def silent_server():
    """A local HTTP port that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held = []

    def accept_forever():
        while True:
            try:
                connection, _ = server.accept()
            except OSError:
                return
            held.append(connection)

    threading.Thread(target=accept_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/models/backbone/1"
    server.close()
    for connection in held:
        connection.close()


@tf_only
@pytest.mark.parametrize("configured_by", ["argument", "environment"])
def test_a_stalled_download_times_out(
    silent_server, configured_by, tmp_path, monkeypatch
):
    from keras_dlm.transfer._resolve import TIMEOUT_VARIABLE

    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path))
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)
    arguments = {}
    if configured_by == "argument":
        arguments["download_timeout"] = 0.5
    else:
        monkeypatch.setenv(TIMEOUT_VARIABLE, "0.5")
    outcome = []

    def load():
        try:
            HubBackbone(silent_server, **arguments)
        except ConnectionError as error:
            outcome.append(error)

    # A thread with a hard limit: if the timeout were lost, the test fails
    # after 30 s instead of hanging.
    start = time.perf_counter()
    worker = threading.Thread(target=load, daemon=True)
    worker.start()
    worker.join(30)
    elapsed = time.perf_counter() - start
    assert not worker.is_alive(), "the download did not time out within 30 s"
    assert outcome, "no ConnectionError was raised"
    assert elapsed < 10
    message = str(outcome[0])
    assert "timed out" in message and "0.5 s" in message
    assert TIMEOUT_VARIABLE in message


@tf_only
def test_export_does_not_overwrite_a_module(tiny_module, tmp_path):
    from keras_dlm.transfer import export_hub_module

    _, body, _ = tiny_module
    target = export_hub_module(body, tmp_path / "module")
    with pytest.raises(ValueError, match="overwrite=True"):
        export_hub_module(body, target)
    assert export_hub_module(body, target, overwrite=True) == target
