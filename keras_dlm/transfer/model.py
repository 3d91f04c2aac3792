"""build_transfer_model: a backbone plus a new classification head."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import keras

from keras_dlm._checks import check_integer, check_number, invalid_argument
from keras_dlm.transfer import _deps
from keras_dlm.transfer._resolve import check_handle
from keras_dlm.transfer.hub_backbone import HubBackbone

BACKBONE_NAME = "backbone"

_POOLING = {
    3: keras.layers.GlobalAveragePooling1D,
    4: keras.layers.GlobalAveragePooling2D,
    5: keras.layers.GlobalAveragePooling3D,
}


def _check_input_shape(input_shape: Any) -> tuple[int | None, ...]:
    if isinstance(input_shape, int | str) or not isinstance(input_shape, Sequence):
        raise invalid_argument(
            "input_shape",
            input_shape,
            "a sequence of sizes (positive integers or None)",
            error=TypeError,
        )
    if not input_shape:
        raise invalid_argument("input_shape", input_shape, "a non-empty sequence")
    return tuple(
        check_integer(f"input_shape[{index}]", size, allow_none=True)
        for index, size in enumerate(input_shape)
    )


def _check_preprocessing(preprocessing: Any) -> list[keras.layers.Layer]:
    if preprocessing is None:
        return []
    if isinstance(preprocessing, keras.layers.Layer):
        return [preprocessing]
    expected = "a Keras layer, a sequence of layers or None"
    if not isinstance(preprocessing, Sequence) or isinstance(preprocessing, str):
        raise invalid_argument(
            "preprocessing", preprocessing, expected, error=TypeError
        )
    for layer in preprocessing:
        if not isinstance(layer, keras.layers.Layer):
            raise invalid_argument(
                "preprocessing", preprocessing, expected, error=TypeError
            )
    return list(preprocessing)


def build_transfer_model(
    backbone: str | HubBackbone | keras.Model,
    num_classes: int,
    *,
    input_shape: Sequence[int | None],
    dropout: float = 0.2,
    head_units: Sequence[int] = (),
    preprocessing: keras.layers.Layer | Sequence[keras.layers.Layer] | None = None,
    activation: str | None = "softmax",
) -> keras.Model:
    """Builds ``inputs -> preprocessing -> backbone -> head`` as a functional model.

    The head is global average pooling when the backbone's output has spatial
    axes, then dropout, ``Dense(units, "relu")`` per entry of ``head_units``
    and a ``Dense(num_classes, activation)`` classifier. A backbone given as a
    handle becomes a frozen ``HubBackbone`` named ``"backbone"``, which is what
    ``fine_tune`` looks for. TensorFlow backend only when the backbone is a
    hub module; a Keras model backbone works on any backend.

    Args:
        backbone: a hub handle (directory or URL), a ``HubBackbone``, or any
            Keras model (e.g. a ``keras.applications`` model with local
            weights and ``include_top=False``).
        num_classes: number of classes, at least 2.
        input_shape: shape of one input example, without the batch axis.
        dropout: dropout rate before the dense layers, in ``[0, 1)``.
        head_units: sizes of hidden dense layers in the head.
        preprocessing: a layer or list of layers applied before the backbone
            (resizing, rescaling, augmentation).
        activation: activation of the classifier (``None`` for logits).

    Returns:
        An uncompiled ``keras.Model``.

    Example:

    >>> import keras
    >>> from keras_dlm.transfer import build_transfer_model
    >>> body = keras.Sequential([keras.Input((8, 8, 1)),
    ...                          keras.layers.Conv2D(4, 3)], name="body")
    >>> model = build_transfer_model(body, 5, input_shape=(8, 8, 1))
    >>> model.output_shape
    (None, 5)
    """
    num_classes = check_integer("num_classes", num_classes, minimum=2)
    input_shape = _check_input_shape(input_shape)
    dropout = check_number("dropout", dropout, low=0.0, high=1.0, high_inclusive=False)
    if isinstance(head_units, int | str) or not isinstance(head_units, Sequence):
        raise invalid_argument(
            "head_units", head_units, "a sequence of positive integers", error=TypeError
        )
    head_units = [
        check_integer(f"head_units[{index}]", units)
        for index, units in enumerate(head_units)
    ]
    preprocessing_layers = _check_preprocessing(preprocessing)
    if activation is not None and not isinstance(activation, str | Callable):
        raise invalid_argument(
            "activation", activation, "a name, a callable or None", error=TypeError
        )
    if isinstance(backbone, str):
        check_handle(backbone)
        _deps.tensorflow()
        backbone = HubBackbone(backbone, name=BACKBONE_NAME)
    elif not isinstance(backbone, keras.layers.Layer):
        raise invalid_argument(
            "backbone",
            backbone,
            "a hub handle (str), a HubBackbone or a Keras model",
            error=TypeError,
        )

    inputs = keras.Input(input_shape, name="inputs")
    x = inputs
    for layer in preprocessing_layers:
        x = layer(x)
    x = backbone(x)
    rank = len(x.shape)
    if rank in _POOLING:
        x = _POOLING[rank](name="head_pool")(x)
    elif rank != 2:
        raise ValueError(
            f"The backbone's output has shape {tuple(x.shape)}; expected a rank "
            "2 to 5 tensor."
        )
    if dropout > 0:
        x = keras.layers.Dropout(dropout, name="head_dropout")(x)
    for index, units in enumerate(head_units):
        x = keras.layers.Dense(units, activation="relu", name=f"head_dense_{index}")(x)
    outputs = keras.layers.Dense(
        num_classes, activation=activation, name="classifier", dtype="float32"
    )(x)
    return keras.Model(inputs, outputs, name="transfer_model")
