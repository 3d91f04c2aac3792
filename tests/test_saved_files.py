"""Every kind of .keras file keras_dlm writes loads after `import keras_dlm` alone.

The files are written here and loaded in one fresh Python process that
imports only `keras_dlm` and then `keras`, as a user's script would. Before
each load that process records which keras_dlm modules are already imported,
so every test can check that the module defining its classes was NOT among
them: the load itself had to find it. (One process for all files: a fresh
TensorFlow process costs seconds on this machine.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from keras_dlm import _serializables
from keras_dlm._backend import backend_name

# A fresh process imports Keras (and TensorFlow on that backend): seconds, not
# minutes; the hard limit only stops a hang.
_TIMEOUT_S = 240

_LOADER = textwrap.dedent(
    """
    import json, sys
    import keras_dlm
    import keras
    import numpy as np

    reports = {}
    for kind, path in json.loads(sys.argv[1]).items():
        report = reports[kind] = {
            "loaded_before": sorted(m for m in sys.modules if m.startswith("keras_dlm"))
        }
        try:
            model = keras.saving.load_model(path, safe_mode=False)
        except Exception as error:
            report["error"] = f"{type(error).__name__}: {error}"
            continue
        parts = [*model.layers, *(getattr(o, "cell", None) for o in model.layers)]
        report["classes"] = sorted(
            f"{type(o).__module__}.{type(o).__name__}" for o in parts if o is not None
        )
        optimizer = getattr(model, "optimizer", None)
        if optimizer is not None:
            rate = keras.ops.convert_to_numpy(optimizer.learning_rate)
            report["optimizer_rate"] = float(rate)
            report["schedule"] = type(optimizer._learning_rate).__name__
            report["optimizer"] = type(optimizer).__name__
        np.savez(path + ".weights.npz", *model.get_weights())
    print(json.dumps(reports))
    """
)


def _layers_model():
    from keras_dlm import layers

    images = keras.Input((8, 8, 2), name="images")
    x = layers.GhostBatchNormalization(virtual_batch_size=2)(images)
    pooled, argmax = layers.MaxPoolingWithArgmax2D(2)(x)
    x = layers.MaxUnpooling2D(2)((pooled, argmax))
    x = layers.SpatialPyramidPooling2D((1, 2))(x)
    x = layers.DropConnectDense(6, rate=0.2, seed=1)(x)
    x = layers.MCDropout(0.1, seed=2)(x)
    sequences = keras.Input((5, 3), name="sequences")
    h = layers.LSTM(4, peephole=True, layer_norm=True, return_sequences=True)(sequences)
    h = keras.layers.RNN(layers.PeepholeLSTMCell(4), return_sequences=True)(h)
    h = keras.layers.RNN(layers.LayerNormLSTMCell(4))(h)
    signals = keras.Input((6, 3), name="signals")
    pooled, argmax = layers.MaxPoolingWithArgmax1D(2)(signals)
    s = layers.MaxUnpooling1D(2)((pooled, argmax))
    s = layers.SpatialPyramidPooling1D((1, 2))(s)
    volumes = keras.Input((4, 4, 4, 1), name="volumes")
    pooled, argmax = layers.MaxPoolingWithArgmax3D(2)(volumes)
    v = layers.MaxUnpooling3D(2)((pooled, argmax))
    v = keras.layers.Flatten()(v)
    outputs = keras.layers.Concatenate()([x, h, s, v])
    return keras.Model([images, sequences, signals, volumes], outputs)


# The public layers _layers_model uses (a test below keeps this complete).
_LAYERS_IN_MODEL = {
    "DropConnectDense",
    "GhostBatchNormalization",
    "LSTM",
    "LayerNormLSTMCell",
    "MCDropout",
    "MaxPoolingWithArgmax1D",
    "MaxPoolingWithArgmax2D",
    "MaxPoolingWithArgmax3D",
    "MaxUnpooling1D",
    "MaxUnpooling2D",
    "MaxUnpooling3D",
    "PeepholeLSTMCell",
    "SpatialPyramidPooling1D",
    "SpatialPyramidPooling2D",
}


def _scheduled_model(schedule, wrap=None):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    optimizer = keras.optimizers.SGD(schedule)
    model.compile(optimizer=wrap(optimizer) if wrap else optimizer, loss="mse")
    model.fit(np.ones((4, 3)), np.zeros((4, 2)), epochs=1, batch_size=2, verbose=0)
    return model


def _word2vec_model():
    from keras_dlm.word2vec import Vocabulary, Word2Vec

    corpus = [["king", "queen", "royal"], ["cat", "dog", "pet"]] * 5
    vocabulary = Vocabulary.build(corpus, min_count=1, sample=None)
    return Word2Vec(vocabulary, embedding_dim=4, window=2, seed=0)


def _transfer_model(folder):
    from keras_dlm.transfer import build_transfer_model, export_hub_module, fine_tune

    body = keras.Sequential(
        [keras.Input((4, 4, 1)), keras.layers.Flatten(), keras.layers.Dense(3)]
    )
    module = export_hub_module(body, folder / "module")
    model = build_transfer_model(module, 2, input_shape=(4, 4, 1))
    x = np.random.default_rng(0).random((4, 4, 4, 1)).astype("float32")
    # With a schedule as the rate, phase 2 compiles with the private
    # _ScaledSchedule: that class must be found too.
    fine_tune(
        model,
        (x, np.arange(4) % 2),
        head_epochs=1,
        fine_tune_epochs=1,
        optimizer=keras.optimizers.SGD(
            keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5)
        ),
        batch_size=2,
        verbose=0,
    )
    return model


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """Writes one file per kind, loads them all in a fresh process.

    Returns {kind: (model, path, report)}.
    """
    from keras_dlm.optimizers import Lookahead
    from keras_dlm.schedules import CliffDecay, Cyclical, OneCycle, StepDecay

    folder = tmp_path_factory.mktemp("saved")
    models = {
        "layers": _layers_model(),
        "StepDecay": _scheduled_model(StepDecay(0.1, drop_every=2, factor=0.5)),
        "CliffDecay": _scheduled_model(
            CliffDecay(0.1, cliffs=(2, 4), cliff_factor=0.5)
        ),
        "OneCycle": _scheduled_model(OneCycle(0.1, total_steps=10)),
        "Cyclical": _scheduled_model(Cyclical(0.01, 0.1, step_size=4)),
        "Lookahead": _scheduled_model(0.1, wrap=Lookahead),
        "word2vec": _word2vec_model(),
    }
    if backend_name() == "tensorflow":
        models["transfer"] = _transfer_model(folder)
    paths = {}
    for kind, model in models.items():
        paths[kind] = os.fspath(folder / f"{kind}.keras")
        model.save(paths[kind])
    completed = subprocess.run(
        [sys.executable, "-c", _LOADER, json.dumps(paths)],
        capture_output=True,
        text=True,
        timeout=_TIMEOUT_S,
        env=dict(os.environ),
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    reports = json.loads(completed.stdout.strip().splitlines()[-1])
    return {kind: (models[kind], paths[kind], reports[kind]) for kind in models}


def _check_loaded(saved, kind, defining_module=None):
    model, path, report = saved[kind]
    assert "error" not in report, report["error"]
    assert defining_module not in report["loaded_before"]
    with np.load(path + ".weights.npz") as loaded:
        weights = [loaded[f"arr_{i}"] for i in range(len(loaded.files))]
    expected = model.get_weights()
    assert len(weights) == len(expected)
    for got, want in zip(weights, expected, strict=True):
        np.testing.assert_array_equal(got, want)
    return report


def test_the_layers_model_uses_every_public_layer():
    from keras_dlm import layers

    missing = set(layers.__all__) - _LAYERS_IN_MODEL
    assert not missing, f"add {sorted(missing)} to _layers_model"


def test_model_with_every_layer_loads(saved):
    report = _check_loaded(saved, "layers", "keras_dlm.layers.pooling")
    loaded = {name.rsplit(".", 1)[1] for name in report["classes"]}
    assert loaded >= _LAYERS_IN_MODEL - {"LayerNormLSTMCell", "PeepholeLSTMCell"}
    assert "keras_dlm.layers.recurrent.PeepholeLSTMCell" in report["classes"]


@pytest.mark.parametrize("kind", ["StepDecay", "CliffDecay"])
def test_model_compiled_with_a_schedule_loads(saved, kind):
    fresh = "keras_dlm.schedules" if kind == "StepDecay" else None
    report = _check_loaded(saved, kind, fresh)
    assert report["schedule"] == kind
    # Independent reference: both formulas give 0.1 * 0.5 after 2 steps (t = 2).
    assert report["optimizer_rate"] == pytest.approx(0.05)


# Independent references, PyTorch's formulas after 2 steps. OneCycle: the
# warm-up ends at step 0.3 * 10 - 1 = 2, where the rate is the maximum.
# Cyclical (triangular): x = |2/4 - 2 + 1| = 0.5, 0.01 + 0.09 * (1 - 0.5).
@pytest.mark.parametrize("kind, rate", [("OneCycle", 0.1), ("Cyclical", 0.055)])
def test_model_compiled_with_a_cyclic_schedule_loads(saved, kind, rate):
    report = _check_loaded(saved, kind)
    assert report["schedule"] == kind
    assert report["optimizer_rate"] == pytest.approx(rate)


def test_model_compiled_with_lookahead_loads(saved):
    report = _check_loaded(saved, "Lookahead", "keras_dlm.optimizers")
    assert report["optimizer"] == "Lookahead"
    assert report["optimizer_rate"] == pytest.approx(0.1)


def test_word2vec_model_loads(saved):
    _check_loaded(saved, "word2vec", "keras_dlm.word2vec._model")


@pytest.mark.tf_only
def test_transfer_model_loads(saved):
    report = _check_loaded(saved, "transfer", "keras_dlm.transfer.hub_backbone")
    assert "keras_dlm.transfer.hub_backbone.HubBackbone" in report["classes"]
    assert report["schedule"] == "_ScaledSchedule"
    # Independent reference: ExponentialDecay(0.1, 10, 0.5) * 0.1 after the
    # 2 steps of phase 2 (the step counter restarts with the new optimizer).
    assert report["optimizer_rate"] == pytest.approx(0.1 * 0.1 * 0.5 ** (2 / 10))


def test_a_module_that_cannot_be_imported_is_named(tmp_path, monkeypatch):
    from keras_dlm.schedules import StepDecay

    path = tmp_path / "scheduled.keras"
    _scheduled_model(StepDecay(0.1, drop_every=2)).save(path)
    # As if keras_dlm.schedules had never been imported and its import failed
    # (None in sys.modules makes `import keras_dlm.schedules` raise).
    monkeypatch.delitem(keras.saving.get_custom_objects(), "keras_dlm>StepDecay")
    monkeypatch.setitem(sys.modules, "keras_dlm.schedules", None)
    with pytest.raises(ImportError) as info:
        keras.saving.load_model(path)
    message = str(info.value)
    assert "'keras_dlm>StepDecay'" in message
    assert "keras_dlm.schedules, which could not be imported" in message


def test_every_registered_class_is_found_by_the_source_scan():
    import keras_dlm.layers
    import keras_dlm.schedules
    import keras_dlm.transfer
    import keras_dlm.word2vec  # noqa: F401

    registered = {
        name: cls
        for name, cls in keras.saving.get_custom_objects().items()
        if name.startswith("keras_dlm>")
    }
    assert len(registered) >= 14
    for name, cls in registered.items():
        assert _serializables._defining_modules(name) == [cls.__module__], name


def test_keras_still_has_the_lookup_that_is_wrapped():
    """Fails loudly, naming the Keras version, if Keras moves its registry."""
    import importlib

    registry = importlib.import_module(_serializables.REGISTRY_MODULE)
    lookup = getattr(registry, "get_registered_object", None)
    assert getattr(lookup, "keras_dlm_on_demand", False), (
        f"keras {keras.__version__}: {_serializables.REGISTRY_MODULE}."
        "get_registered_object is gone or was not wrapped; saved keras_dlm "
        "files will need their modules imported by hand"
    )
