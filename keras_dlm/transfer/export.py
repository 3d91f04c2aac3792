"""Exports a Keras 3 model as a TF-Hub reusable SavedModel."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import keras

from keras_dlm._checks import check_bool, check_integer, invalid_argument
from keras_dlm.transfer import _deps


def export_hub_module(
    model: keras.Model,
    path: str | os.PathLike[str],
    *,
    input_shape: tuple[int | None, ...] | None = None,
    input_dtype: str = "float32",
    overwrite: bool = False,
) -> str:
    """Writes ``model`` to ``path`` in TF-Hub's reusable SavedModel format.

    This is how TF-Hub image modules are made, and how this project builds
    backbones offline: the SavedModel has a ``__call__(inputs, training)``
    traced for ``training=False`` and ``training=True``, plus ``variables``,
    ``trainable_variables`` and ``regularization_losses`` (one zero-argument
    function per regularized weight). Load it with ``HubBackbone(path)``,
    ``tensorflow_hub.load`` or ``tensorflow_hub.KerasLayer``. TensorFlow
    backend only. For a tf_keras (Keras 2) model use
    ``tf.saved_model.save(model, path)``, which writes the same format.

    Args:
        model: a built Keras 3 model (or layer) on the TensorFlow backend.
        path: the directory to write; created if needed.
        input_shape: input shape including the batch axis (``None`` for any
            size); default ``model.input_shape`` with a free batch axis.
        input_dtype: dtype of the input tensor.
        overwrite: write over a SavedModel already in ``path``; without it
            such a folder is refused (``ValueError``) before anything is
            written.

    Returns:
        ``path`` as a string.

    Example:

    >>> import keras, tempfile
    >>> from keras_dlm.transfer import export_hub_module
    >>> body = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
    ...                          keras.layers.Dense(4)])
    >>> path = export_hub_module(body, tempfile.mkdtemp())
    >>> import tensorflow as tf
    >>> module = tf.saved_model.load(path)  # what tensorflow_hub.load does
    >>> len(module.trainable_variables)
    2
    """
    if not isinstance(model, keras.layers.Layer):
        raise invalid_argument(
            "model",
            model,
            "a Keras 3 model or layer (for a tf_keras model use "
            "tf.saved_model.save(model, path))",
            error=TypeError,
        )
    if not isinstance(path, str | os.PathLike):
        raise invalid_argument("path", path, "a folder path", error=TypeError)
    if input_shape is not None:
        if isinstance(input_shape, int | str) or not isinstance(input_shape, Sequence):
            raise invalid_argument(
                "input_shape",
                input_shape,
                "a sequence of sizes including the batch axis, or None",
                error=TypeError,
            )
        if len(input_shape) < 1:
            raise invalid_argument("input_shape", input_shape, "a non-empty sequence")
        for index, size in enumerate(input_shape):
            check_integer(f"input_shape[{index}]", size, allow_none=True)
    if not isinstance(input_dtype, str):
        raise invalid_argument(
            "input_dtype",
            input_dtype,
            "a dtype name such as 'float32'",
            error=TypeError,
        )
    overwrite = check_bool("overwrite", overwrite)
    if not overwrite and os.path.isfile(os.path.join(path, "saved_model.pb")):
        raise invalid_argument(
            "path",
            os.fspath(path),
            "a folder without a SavedModel (pass overwrite=True)",
        )
    tf = _deps.tensorflow()
    if not model.built:
        raise ValueError(
            f"`model` {model.name!r} is not built; call it on data or give it an "
            "Input first."
        )
    if input_shape is None:
        try:
            input_shape = tuple(model.input_shape)
        except (AttributeError, ValueError) as error:
            raise ValueError(
                f"Could not read `model.input_shape` from {model.name!r} ({error}); "
                "pass `input_shape=` including the batch axis."
            ) from error
    shape = [None, *list(input_shape)[1:]]
    spec = tf.TensorSpec(shape, input_dtype, name="inputs")

    @tf.function
    def call(inputs: Any, training: bool = False) -> Any:
        return model(inputs, training=training)

    holder = tf.train.Checkpoint()
    # Both traces must exist before saving: a restored function can only run
    # the input signatures (Python `training` values included) traced here.
    call.get_concrete_function(spec, training=False)
    call.get_concrete_function(spec, training=True)
    holder.__call__ = call
    holder.variables = [weight.value for weight in model.weights]
    holder.trainable_variables = [weight.value for weight in model.trainable_weights]
    holder.regularization_losses = [
        _regularization_function(tf, weight)
        for weight in model.trainable_weights
        if getattr(weight, "regularizer", None) is not None
    ]
    path = os.fspath(path)
    tf.saved_model.save(holder, path)
    return path


def _regularization_function(tf: Any, weight: Any) -> Any:
    regularizer = weight.regularizer

    @tf.function(input_signature=[])
    def loss() -> Any:
        return tf.cast(regularizer(weight.value), "float32")

    return loss
