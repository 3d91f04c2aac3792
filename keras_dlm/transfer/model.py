"""build_transfer_model: a backbone plus a new classification head."""

from __future__ import annotations

from collections.abc import Sequence

import keras

from keras_dlm.transfer import _deps
from keras_dlm.transfer.hub_backbone import HubBackbone

BACKBONE_NAME = "backbone"

_POOLING = {
    3: keras.layers.GlobalAveragePooling1D,
    4: keras.layers.GlobalAveragePooling2D,
    5: keras.layers.GlobalAveragePooling3D,
}


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
    if isinstance(num_classes, bool) or not isinstance(num_classes, int):
        raise TypeError(f"`num_classes` must be an int, got {num_classes!r}.")
    if num_classes < 2:
        raise ValueError(f"`num_classes` must be at least 2, got {num_classes}.")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"`dropout` must be in [0, 1), got {dropout!r}.")
    if any(int(units) < 1 for units in head_units):
        raise ValueError(f"`head_units` must be positive ints, got {head_units!r}.")
    if isinstance(backbone, str):
        _deps.tensorflow()
        backbone = HubBackbone(backbone, name=BACKBONE_NAME)
    elif not isinstance(backbone, keras.layers.Layer):
        raise TypeError(
            "`backbone` must be a hub handle (str), a HubBackbone or a Keras "
            f"model, got {type(backbone).__name__}."
        )
    if preprocessing is None:
        preprocessing_layers: list[keras.layers.Layer] = []
    elif isinstance(preprocessing, keras.layers.Layer):
        preprocessing_layers = [preprocessing]
    else:
        preprocessing_layers = list(preprocessing)

    inputs = keras.Input(tuple(input_shape), name="inputs")
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
        x = keras.layers.Dense(
            int(units), activation="relu", name=f"head_dense_{index}"
        )(x)
    outputs = keras.layers.Dense(
        num_classes, activation=activation, name="classifier", dtype="float32"
    )(x)
    return keras.Model(inputs, outputs, name="transfer_model")
