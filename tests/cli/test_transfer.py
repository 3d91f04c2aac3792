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
    assert "KERAS_BACKEND=tensorflow" in capsys.readouterr().err


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
    status = main(
        [
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
    )
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
    assert status == 1
    assert "TFHUB_CACHE_DIR" in capsys.readouterr().err
