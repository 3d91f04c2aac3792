"""``keras-dlm transfer``: train an image classifier on a TF-Hub backbone."""

from __future__ import annotations

import argparse
import os
from typing import Any

from keras_dlm._checks import check_integer, check_number, check_path_is_new
from keras_dlm.cli._errors import CommandLineError


def _image_size(text: str) -> tuple[int, int]:
    parts = text.lower().replace("x", ",").split(",")
    try:
        sizes = [int(part) for part in parts if part.strip()]
    except ValueError:
        sizes = []
    if len(sizes) == 1:
        sizes *= 2
    if len(sizes) != 2 or min(sizes) < 1:
        raise argparse.ArgumentTypeError(
            f"expected a size like 224 or 224x160, got {text!r}"
        )
    return sizes[0], sizes[1]


def _unfreeze(text: str) -> str | int | float:
    if text == "all":
        return text
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f'expected "all", an int or a float, got {text!r}'
        ) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds the ``transfer`` options to ``parser``."""
    parser.description = (
        "Train an image classifier on a TF-Hub backbone (TensorFlow backend) from "
        "a folder holding one sub-folder of images per class. Like tensorflow-hub's "
        "former make_image_classifier: dropout 0.2, SGD with momentum 0.9, label "
        "smoothing 0.1, pixels scaled to [0, 1]. Writes the model (.keras) and a "
        "labels file (one class name a line, in output order) and prints the "
        "validation accuracy. Every option, the image folder and the backbone are "
        "checked before training starts; existing outputs are kept unless "
        "--overwrite is given."
    )
    parser.add_argument("--backbone", required=True, help="hub URL or module directory")
    parser.add_argument("--images", required=True, help="folder of class sub-folders")
    parser.add_argument("--out", required=True, help="where to write the .keras model")
    parser.add_argument(
        "--labels-out", help="labels file (default: OUT with suffix .labels.txt)"
    )
    parser.add_argument(
        "--image-size",
        type=_image_size,
        default=(224, 224),
        help="height x width the images are resized to (default 224)",
    )
    parser.add_argument(
        "--color-mode",
        choices=("rgb", "grayscale"),
        default="rgb",
        help="channels the backbone expects (default rgb)",
    )
    parser.add_argument("--epochs", type=int, default=5, help="head epochs (default 5)")
    parser.add_argument(
        "--fine-tune-epochs",
        type=int,
        default=0,
        help="epochs with the backbone unfrozen after the head epochs (default 0)",
    )
    parser.add_argument(
        "--unfreeze",
        type=_unfreeze,
        default="all",
        help='part of the backbone to fine-tune: "all", a number of top variables '
        "or a top fraction such as 0.3 (default all)",
    )
    parser.add_argument("--batch-size", type=int, default=32, help="(default 32)")
    parser.add_argument(
        "--learning-rate",
        type=float,
        default=0.005,
        help="SGD learning rate of the head epochs; the fine-tune epochs use 0.1 "
        "of it (default 0.005)",
    )
    parser.add_argument(
        "--momentum", type=float, default=0.9, help="SGD momentum (default 0.9)"
    )
    parser.add_argument(
        "--label-smoothing", type=float, default=0.1, help="(default 0.1)"
    )
    parser.add_argument(
        "--dropout",
        type=float,
        default=0.2,
        help="dropout before the classifier (default 0.2)",
    )
    parser.add_argument(
        "--validation-split",
        type=float,
        default=0.2,
        help="fraction of the images held out for validation, 0 for none (default 0.2)",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the split and weights (default 0)"
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing --out model and labels file (refused otherwise)",
    )
    parser.add_argument(
        "--hub-timeout",
        type=float,
        default=None,
        help="seconds allowed to connect and for each read while a hub URL is "
        "downloaded (default: $KERAS_DLM_HUB_TIMEOUT, else 10)",
    )
    parser.add_argument(
        "--verbose",
        type=int,
        default=2,
        choices=(0, 1, 2),
        help="Keras fit verbosity (default 2: one line an epoch)",
    )


def _checked(check: Any, *args: Any, **kwargs: Any) -> Any:
    """Runs a keras_dlm._checks check; its error becomes a user error."""
    try:
        return check(*args, **kwargs)
    except (TypeError, ValueError) as error:
        raise CommandLineError(str(error)) from None


def _check_options(args: argparse.Namespace) -> str:
    """Refuses every bad option before anything is loaded; returns labels-out."""
    if not os.path.isdir(args.images):
        raise CommandLineError(f"--images {args.images!r} is not a folder")
    # Keras's image_dataset_from_directory takes every sub-folder but hidden
    # ones as a class.
    classes = [
        entry.name
        for entry in os.scandir(args.images)
        if entry.is_dir() and not entry.name.startswith(".")
    ]
    if len(classes) < 2:
        raise CommandLineError(
            f"--images {args.images!r} must hold one sub-folder of images per "
            f"class, at least 2 (found {len(classes)})"
        )
    if not args.out.endswith(".keras"):
        raise CommandLineError(f"--out {args.out!r} must end with .keras")
    _checked(check_path_is_new, "--out", args.out, overwrite=args.overwrite)
    labels_out = args.labels_out or os.path.splitext(args.out)[0] + ".labels.txt"
    _checked(check_path_is_new, "--labels-out", labels_out, overwrite=args.overwrite)
    if os.path.abspath(labels_out) == os.path.abspath(args.out):
        raise CommandLineError("--labels-out must differ from --out")
    _checked(check_integer, "--epochs", args.epochs, minimum=0)
    _checked(check_integer, "--fine-tune-epochs", args.fine_tune_epochs, minimum=0)
    if args.epochs + args.fine_tune_epochs == 0:
        raise CommandLineError(
            "--epochs and --fine-tune-epochs are both 0: nothing would be trained"
        )
    _checked(check_integer, "--batch-size", args.batch_size)
    _checked(check_integer, "--seed", args.seed, minimum=0)
    _checked(
        check_number,
        "--learning-rate",
        args.learning_rate,
        low=0.0,
        low_inclusive=False,
    )
    _checked(check_number, "--momentum", args.momentum, low=0.0, high=1.0)
    for option, value in (
        ("--label-smoothing", args.label_smoothing),
        ("--dropout", args.dropout),
        ("--validation-split", args.validation_split),
    ):
        _checked(check_number, option, value, low=0.0, high=1.0, high_inclusive=False)
    if not isinstance(args.unfreeze, str):
        if isinstance(args.unfreeze, int):
            _checked(check_integer, "--unfreeze", args.unfreeze, minimum=0)
        else:
            _checked(
                check_number,
                "--unfreeze",
                args.unfreeze,
                low=0.0,
                high=1.0,
                low_inclusive=False,
            )
    if args.hub_timeout is not None:
        _checked(
            check_number,
            "--hub-timeout",
            args.hub_timeout,
            low=0.0,
            low_inclusive=False,
        )
    return labels_out


def _one_line(error: BaseException) -> str:
    return " ".join(line.strip() for line in str(error).splitlines() if line.strip())


def run(args: argparse.Namespace) -> int:
    """Trains, saves and reports; returns the exit status."""
    from keras_dlm import _backend

    try:
        _backend.require_backend("tensorflow", feature="keras-dlm transfer")
    except RuntimeError as error:
        raise CommandLineError(str(error)) from None
    labels_out = _check_options(args)

    import keras

    from keras_dlm.transfer import HubBackbone, build_transfer_model, fine_tune

    try:
        backbone = HubBackbone(
            args.backbone, name="backbone", download_timeout=args.hub_timeout
        )
    except (ConnectionError, FileNotFoundError, ValueError, TypeError) as error:
        raise CommandLineError(f"--backbone: {_one_line(error)}") from None
    except OSError as error:  # a SavedModel TensorFlow cannot read
        raise CommandLineError(
            f"--backbone {args.backbone!r} could not be loaded: {_one_line(error)}"
        ) from None
    keras.utils.set_random_seed(args.seed)
    options = {
        "label_mode": "categorical",
        "color_mode": args.color_mode,
        "image_size": args.image_size,
        "batch_size": args.batch_size,
        "seed": args.seed,
    }
    try:
        if args.validation_split > 0:
            train, validation = keras.utils.image_dataset_from_directory(
                args.images,
                validation_split=args.validation_split,
                subset="both",
                **options,
            )
        else:
            train = keras.utils.image_dataset_from_directory(args.images, **options)
            validation = None
    except ValueError as error:  # no images, or too few for the split
        raise CommandLineError(f"--images {args.images!r}: {error}") from None
    class_names = list(train.class_names)
    channels = 1 if args.color_mode == "grayscale" else 3
    try:
        model = build_transfer_model(
            backbone,
            len(class_names),
            input_shape=(*args.image_size, channels),
            dropout=args.dropout,
            preprocessing=keras.layers.Rescaling(1.0 / 255),
        )
    except ValueError as error:
        height, width = args.image_size
        raise CommandLineError(
            f"--backbone {args.backbone!r} does not take {height}x{width} images "
            f"with {channels} channel(s) (--image-size, --color-mode): "
            f"{_one_line(error)}"
        ) from None

    optimizer = keras.optimizers.SGD(args.learning_rate, momentum=args.momentum)
    loss = keras.losses.CategoricalCrossentropy(label_smoothing=args.label_smoothing)
    fine_tune(
        model,
        train,
        validation,
        head_epochs=args.epochs,
        fine_tune_epochs=args.fine_tune_epochs,
        unfreeze=args.unfreeze,
        optimizer=optimizer,
        loss=loss,
        metrics=["accuracy"],
        verbose=args.verbose,
    )
    model.save(args.out)
    with open(labels_out, "w", encoding="utf-8") as handle:
        handle.write("\n".join(class_names) + "\n")
    print(f"model written to {args.out}")
    print(f"labels written to {labels_out}")
    if validation is not None:
        _, accuracy = model.evaluate(validation, verbose=0)
        print(f"validation accuracy: {accuracy:.4f}")
    else:
        print("validation accuracy: n/a (--validation-split 0)")
    return 0
