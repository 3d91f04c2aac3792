"""``keras-dlm transfer``: trains from a folder of class sub-folders."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from keras_dlm import _backend
from keras_dlm.cli import main
from keras_dlm.datasets import load_digits


def _write_digit_folders(root, per_class: int = 12):
    (x_train, y_train), _ = load_digits()
    for digit in (3, 7):
        folder = root / f"digit_{digit}"
        folder.mkdir(parents=True)
        for index, image in enumerate(x_train[y_train == digit][:per_class]):
            keras.utils.save_img(folder / f"{index}.png", image * 255.0, scale=False)


def test_transfer_needs_the_tensorflow_backend(tmp_path, capsys):
    """Runs on every backend; on jax/torch the command refuses with exit status 2."""
    arguments = [
        "transfer",
        "--backbone",
        str(tmp_path),
        "--images",
        str(tmp_path),
        "--out",
        str(tmp_path / "m.keras"),
        "--epochs",
        "0",
    ]
    if _backend.backend_name() == "tensorflow":
        with pytest.raises(SystemExit):  # argparse: "--image-size x" is invalid
            main([*arguments, "--image-size", "x"])
        return
    assert main(arguments) == 2
    error = capsys.readouterr().err
    assert error.startswith("keras-dlm transfer: error: ")
    assert "KERAS_BACKEND=tensorflow" in error


@pytest.mark.tf_only
def test_transfer_trains_from_image_folders(tmp_path, capsys):
    import tensorflow as tf

    from keras_dlm.transfer import export_hub_module

    body = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(8, 3),
            keras.layers.BatchNormalization(),
            keras.layers.ReLU(),
            keras.layers.Flatten(),
        ]
    )
    module = export_hub_module(body, tmp_path / "module")
    _write_digit_folders(tmp_path / "images")
    out = tmp_path / "digits.keras"
    out.write_text("a model the user made")
    arguments = [
        "transfer",
        "--backbone",
        module,
        "--images",
        str(tmp_path / "images"),
        "--out",
        str(out),
        "--image-size",
        "8",
        "--color-mode",
        "grayscale",
        "--epochs",
        "4",
        "--fine-tune-epochs",
        "1",
        "--batch-size",
        "8",
        "--verbose",
        "0",
    ]
    # An existing output is kept unless --overwrite is given.
    assert main(arguments) == 2
    assert "overwrite" in capsys.readouterr().err
    assert out.read_text() == "a model the user made"
    status = main([*arguments, "--overwrite"])
    assert status == 0
    printed = capsys.readouterr().out
    accuracy = float(printed.split("validation accuracy: ")[1].split()[0])
    assert 0.0 <= accuracy <= 1.0
    labels = (tmp_path / "digits.labels.txt").read_text().split()
    assert labels == ["digit_3", "digit_7"]
    model = keras.saving.load_model(out, safe_mode=False)
    # Independent check: the saved model separates the two digits it was trained on.
    images = np.stack(
        [
            keras.utils.img_to_array(keras.utils.load_img(p, color_mode="grayscale"))
            for p in sorted((tmp_path / "images").glob("*/*.png"))
        ]
    )
    truth = np.array(
        [
            0 if "digit_3" in str(p) else 1
            for p in sorted((tmp_path / "images").glob("*/*.png"))
        ]
    )
    predicted = np.argmax(model.predict(tf.constant(images), verbose=0), axis=1)
    assert np.mean(predicted == truth) >= 0.75


@pytest.mark.tf_only
def test_transfer_reports_an_unreachable_backbone(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path / "cache"))
    _write_digit_folders(tmp_path / "images", per_class=2)
    status = main(
        [
            "transfer",
            "--backbone",
            "https://keras-dlm-test.invalid/m/1",
            "--images",
            str(tmp_path / "images"),
            "--out",
            str(tmp_path / "m.keras"),
            "--image-size",
            "8",
            "--validation-split",
            "0",
            "--verbose",
            "0",
        ]
    )
    assert status == 2
    error = capsys.readouterr().err
    assert error.startswith("keras-dlm transfer: error: --backbone: ")
    assert error.count("\n") == 1
    assert "TFHUB_CACHE_DIR" in error


@pytest.fixture(scope="module")
def grayscale_module(tmp_path_factory):
    """A hub module taking 8x8 grayscale images, and a folder of two classes."""
    from keras_dlm.transfer import export_hub_module

    root = tmp_path_factory.mktemp("transfer_cli")
    body = keras.Sequential(
        [keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3), keras.layers.Flatten()]
    )
    module = export_hub_module(body, root / "module")
    _write_digit_folders(root / "images", per_class=3)
    (root / "one_class" / "only").mkdir(parents=True)
    (root / "empty_classes" / "a").mkdir(parents=True)
    (root / "empty_classes" / "b").mkdir(parents=True)
    (root / "not_a_module" / "variables").mkdir(parents=True)
    (root / "existing.keras").write_text("kept")
    return root, module


# Each bad input (option -> value, or a replaced path) and what the one-line
# error must name; none of them may start training or write anything.
_BAD_INPUTS = [
    ({"--backbone": "{root}/not_a_module"}, "without a SavedModel"),
    ({"--backbone": "{root}/absent"}, "neither a directory"),
    ({"--color-mode": "rgb"}, "does not take 8x8 images with 3 channel"),
    ({"--images": "{root}/absent"}, "--images"),
    ({"--images": "{root}/one_class"}, "at least 2"),
    ({"--images": "{root}/empty_classes"}, "--images"),
    ({"--out": "{root}/no_folder/m.keras"}, "--out"),
    ({"--out": "{root}/model.h5"}, "must end with .keras"),
    ({"--out": "{root}/existing.keras"}, "overwrite"),
    ({"--out": "{root}"}, "--out"),
    ({"--labels-out": "{root}/no_folder/l.txt"}, "--labels-out"),
    ({"--labels-out": "{root}/out.keras"}, "--labels-out must differ"),
    ({"--epochs": "-1"}, "--epochs"),
    ({"--fine-tune-epochs": "-2"}, "--fine-tune-epochs"),
    ({"--epochs": "0", "--fine-tune-epochs": "0"}, "nothing would be trained"),
    ({"--batch-size": "0"}, "--batch-size"),
    ({"--seed": "-1"}, "--seed"),
    ({"--learning-rate": "nan"}, "--learning-rate"),
    ({"--learning-rate": "inf"}, "--learning-rate"),
    ({"--learning-rate": "0"}, "--learning-rate"),
    ({"--learning-rate": "-0.1"}, "--learning-rate"),
    ({"--momentum": "1.5"}, "--momentum"),
    ({"--momentum": "nan"}, "--momentum"),
    ({"--label-smoothing": "1"}, "--label-smoothing"),
    ({"--dropout": "-0.1"}, "--dropout"),
    ({"--dropout": "inf"}, "--dropout"),
    ({"--validation-split": "1"}, "--validation-split"),
    ({"--validation-split": "nan"}, "--validation-split"),
    ({"--unfreeze": "-1"}, "--unfreeze"),
    ({"--unfreeze": "1.5"}, "--unfreeze"),
    ({"--unfreeze": "nan"}, "--unfreeze"),
    ({"--hub-timeout": "0"}, "--hub-timeout"),
    ({"--hub-timeout": "nan"}, "--hub-timeout"),
]


@pytest.mark.tf_only
@pytest.mark.parametrize(
    ("changes", "named"),
    _BAD_INPUTS,
    ids=[" ".join(f"{k}={v}" for k, v in c.items()) for c, _ in _BAD_INPUTS],
)
def test_bad_input_is_one_line_before_training(
    grayscale_module, changes, named, capsys, monkeypatch
):
    root, module = grayscale_module
    options = {
        "--backbone": module,
        "--images": str(root / "images"),
        "--out": str(root / "out.keras"),
        "--image-size": "8",
        "--color-mode": "grayscale",
        "--epochs": "1",
        "--verbose": "0",
    }
    options.update({k: v.format(root=root) for k, v in changes.items()})
    # Training must not start: a stand-in records whether it would have.
    trained = []
    monkeypatch.setattr(
        "keras_dlm.transfer.fine_tune", lambda *a, **k: trained.append(1)
    )
    before = sorted(p.name for p in root.iterdir())
    status = main(["transfer", *[part for item in options.items() for part in item]])
    error = capsys.readouterr().err
    assert status == 2, error
    assert error.startswith("keras-dlm transfer: error: "), error
    assert error.count("\n") == 1, error
    assert named in error
    assert not trained
    assert sorted(p.name for p in root.iterdir()) == before
    assert (root / "existing.keras").read_text() == "kept"
