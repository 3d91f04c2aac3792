"""Backend-specific pieces of keras_dlm.tuning (TensorFlow-only features)."""

from __future__ import annotations

from typing import Any

from keras_dlm._backend import require_backend


def mirrored_strategy() -> Any:
    """Returns a ``tf.distribute.MirroredStrategy`` over the visible devices.

    Raises:
        RuntimeError: the Keras backend is not TensorFlow.
    """
    require_backend("tensorflow", feature="--strategy mirrored (tf.distribute)")
    import tensorflow as tf

    return tf.distribute.MirroredStrategy()


def tensorboard_callback(log_dir: str) -> Any:
    """Returns a ``keras.callbacks.TensorBoard`` writing to ``log_dir``.

    keras-tuner gives it one sub-folder per trial and adds TensorBoard's
    HParams records (TensorFlow backend only: the summaries are written with
    TensorFlow).

    Raises:
        RuntimeError: the Keras backend is not TensorFlow.
    """
    require_backend("tensorflow", feature="--tensorboard (TensorBoard HParams)")
    import keras

    return keras.callbacks.TensorBoard(log_dir=log_dir)
