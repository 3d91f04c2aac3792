"""The built-in model families of ``keras-dlm tune``: cnn, mlp, lstm and transfer."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import keras
import numpy as np

from keras_dlm._checks import check_choice, check_integer, invalid_argument

MODEL_FAMILIES = ("cnn", "mlp", "lstm", "transfer")


def _check_shape(input_shape: Sequence[int], num_classes: int) -> tuple[int, ...]:
    expected = "a non-empty tuple of positive integers"
    try:
        shape = tuple(input_shape)
    except TypeError:
        raise invalid_argument(
            "input_shape", input_shape, expected, error=TypeError
        ) from None
    if not shape or any(
        isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1
        for d in shape
    ):
        raise invalid_argument("input_shape", input_shape, expected)
    check_integer("num_classes", num_classes, minimum=2)
    return tuple(int(d) for d in shape)


def _cnn(
    input_shape: tuple[int, ...], num_classes: int
) -> Callable[[float], keras.Model]:
    if len(input_shape) not in (2, 3):
        raise ValueError(
            "The 'cnn' family needs images of shape (height, width) or (height, "
            f"width, channels); received input_shape={input_shape!r}."
        )
    image_shape = input_shape if len(input_shape) == 3 else (*input_shape, 1)
    # Two 2x2 poolings need at least 4 pixels a side; smaller inputs get one.
    poolings = 2 if min(image_shape[:2]) >= 4 else 1 if min(image_shape[:2]) >= 2 else 0

    def build(dropout: float) -> keras.Model:
        inputs = keras.Input(input_shape)
        x = keras.layers.Reshape(image_shape)(inputs)
        for block, filters in enumerate((16, 32)):
            x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
            # Momentum 0.9, not Keras's 0.99: with ~40 steps an epoch the
            # moving statistics of 0.99 still lag the weights after 10 epochs,
            # and a short trial then scores far below what its weights can
            # do (test accuracy 0.75-0.77 against 0.97-0.98 with 0.9, Adam
            # 1e-3, 10 epochs, measured): short trials must predict long ones.
            x = keras.layers.BatchNormalization(momentum=0.9)(x)
            x = keras.layers.Activation("relu")(x)
            if block < poolings:
                x = keras.layers.MaxPooling2D(2)(x)
        x = keras.layers.Flatten()(x)
        x = keras.layers.Dropout(dropout)(x)
        x = keras.layers.Dense(64, activation="relu")(x)
        x = keras.layers.Dropout(dropout)(x)
        outputs = keras.layers.Dense(num_classes, activation="softmax")(x)
        return keras.Model(inputs, outputs, name="tune_cnn")

    return build


def _mlp(
    input_shape: tuple[int, ...], num_classes: int
) -> Callable[[float], keras.Model]:
    def build(dropout: float) -> keras.Model:
        inputs = keras.Input(input_shape)
        x = keras.layers.Flatten()(inputs)
        for units in (128, 64):
            x = keras.layers.Dense(units, activation="relu")(x)
            x = keras.layers.Dropout(dropout)(x)
        outputs = keras.layers.Dense(num_classes, activation="softmax")(x)
        return keras.Model(inputs, outputs, name="tune_mlp")

    return build


def _lstm(
    input_shape: tuple[int, ...], num_classes: int
) -> Callable[[float], keras.Model]:
    if len(input_shape) < 2:
        raise ValueError(
            "The 'lstm' family needs sequences of shape (steps, features, ...); "
            f"received input_shape={input_shape!r}."
        )
    # Images are read row by row: each row is one time step.
    sequence_shape = (input_shape[0], math.prod(input_shape[1:]))

    def build(dropout: float) -> keras.Model:
        inputs = keras.Input(input_shape)
        x = keras.layers.Reshape(sequence_shape)(inputs)
        x = keras.layers.LSTM(32, dropout=dropout)(x)
        x = keras.layers.Dropout(dropout)(x)
        outputs = keras.layers.Dense(num_classes, activation="softmax")(x)
        return keras.Model(inputs, outputs, name="tune_lstm")

    return build


def _transfer(
    input_shape: tuple[int, ...], num_classes: int, backbone: str
) -> Callable[[float], keras.Model]:
    from keras_dlm import _backend

    _backend.require_backend("tensorflow", feature="the 'transfer' model family")

    def build(dropout: float) -> keras.Model:
        from keras_dlm.transfer import HubBackbone

        inputs = keras.Input(input_shape)
        # Frozen backbone: the search tunes the head (dropout, optimizer,
        # learning rate, schedule) on the module's features.
        x = HubBackbone(backbone, trainable=False)(inputs)
        if len(x.shape) > 2:
            x = keras.layers.Flatten()(x)
        x = keras.layers.Dropout(dropout)(x)
        outputs = keras.layers.Dense(num_classes, activation="softmax")(x)
        return keras.Model(inputs, outputs, name="tune_transfer")

    return build


_BUILDERS = {"cnn": _cnn, "mlp": _mlp, "lstm": _lstm}


def model_family(
    name: str,
    *,
    input_shape: Sequence[int],
    num_classes: int,
    backbone: str | None = None,
) -> Callable[[float], keras.Model]:
    """Returns the ``build_fn(dropout)`` of a built-in model family.

    - ``"cnn"``: two blocks of 3x3 convolution, BatchNormalization
      (momentum 0.9, so that the moving statistics keep up in short trials), ReLU and
      2x2 max pooling (16 and 32 filters), then dropout, a 64-unit dense
      layer, dropout and a softmax layer. For images such as the 8x8 digits.
    - ``"mlp"``: two dense layers (128 and 64 units, ReLU), each followed by
      dropout, then a softmax layer.
    - ``"lstm"``: a 32-unit LSTM (input dropout) reading the first axis as time
      (an image row by row), dropout, then a softmax layer.
    - ``"transfer"``: a frozen ``keras_dlm.transfer.HubBackbone`` loaded from
      ``backbone`` (a TF-Hub handle or SavedModel folder whose input is one
      example of ``input_shape``), dropout and a softmax head. TensorFlow
      backend; a ``.keras`` file holding it loads with ``safe_mode=False``.

    Args:
        name: ``"cnn"``, ``"mlp"`` or ``"lstm"``.
        input_shape: shape of one example, without the batch axis.
        num_classes: number of classes (integer labels 0..num_classes-1).
        backbone: the TF-Hub handle of the ``"transfer"`` family (required
            there, refused for the others).

    Returns:
        A function of the dropout rate that builds an uncompiled ``keras.Model``.

    Example:

    >>> from keras_dlm.tuning import model_family
    >>> build = model_family("mlp", input_shape=(8, 8, 1), num_classes=10)
    >>> build(0.2).output_shape
    (None, 10)
    """
    check_choice("name", name, MODEL_FAMILIES)
    shape = _check_shape(input_shape, num_classes)
    if name == "transfer":
        if not isinstance(backbone, str) or not backbone:
            raise ValueError(
                "The 'transfer' family needs `backbone`, a TF-Hub handle or "
                f"SavedModel folder; received {backbone!r}."
            )
        return _transfer(shape, int(num_classes), backbone)
    if backbone is not None:
        raise ValueError(
            f"`backbone` is used only by the 'transfer' family; received "
            f"backbone={backbone!r} for {name!r}."
        )
    return _BUILDERS[name](shape, int(num_classes))


def make_sequence_task(
    num_samples: int = 1000,
    *,
    steps: int = 12,
    num_symbols: int = 4,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """A synthetic sequence-classification task: remember the first symbol.

    Each sequence holds ``steps`` one-hot symbols drawn uniformly from
    ``num_symbols``; its label is the symbol at the first step, so a model
    has to carry it across the whole sequence (a memory task for the LSTM).

    Args:
        num_samples: number of sequences.
        steps: length of each sequence.
        num_symbols: number of symbols (and classes).
        seed: seed of the NumPy generator.

    Returns:
        ``(x, y)``: float32 ``(num_samples, steps, num_symbols)`` and int32
        labels ``(num_samples,)``.

    Example:

    >>> from keras_dlm.tuning import make_sequence_task
    >>> x, y = make_sequence_task(5, steps=3, num_symbols=2)
    >>> bool((x[:, 0].argmax(-1) == y).all())
    True
    """
    check_integer("num_samples", num_samples)
    check_integer("steps", steps)
    check_integer("num_symbols", num_symbols, minimum=2)
    check_integer("seed", seed, minimum=0)
    rng = np.random.default_rng(seed)
    symbols = rng.integers(0, num_symbols, size=(num_samples, steps))
    x = np.eye(num_symbols, dtype=np.float32)[symbols]
    return x, symbols[:, 0].astype(np.int32)
