"""The only place in keras_dlm that branches on the Keras backend.

Everything else calls these functions and stays backend-agnostic.
"""

from __future__ import annotations

import keras


def backend_name() -> str:
    """Returns the active Keras backend: ``"tensorflow"``, ``"jax"`` or ``"torch"``."""
    return keras.backend.backend()


def require_backend(required: str, *, feature: str) -> None:
    """Raises a RuntimeError unless the active Keras backend is ``required``.

    Args:
        required: the backend the feature needs, e.g. ``"tensorflow"``.
        feature: what needs it, named in the message.
    """
    active = backend_name()
    if active != required:
        raise RuntimeError(
            f"{feature} requires the {required!r} Keras backend, but the active "
            f"backend is {active!r}. Set the environment variable "
            f"KERAS_BACKEND={required} before importing keras."
        )


def list_devices() -> list[str]:
    """Lists the devices the active backend can compute on, e.g. ``["CPU:0"]``."""
    name = backend_name()
    if name == "tensorflow":
        import tensorflow as tf

        return [
            device.name.replace("/physical_device:", "")
            for device in tf.config.list_physical_devices()
        ]
    if name == "jax":
        import jax

        return [f"{device.platform.upper()}:{device.id}" for device in jax.devices()]
    if name == "torch":
        import torch

        devices = ["CPU:0"]
        if torch.cuda.is_available():
            devices += [f"GPU:{index}" for index in range(torch.cuda.device_count())]
        return devices
    return []
