"""Lazy access to TensorFlow and TensorFlow Hub for keras_dlm.transfer.

Nothing here runs at import time: ``import keras_dlm.transfer`` works on every
backend without importing TensorFlow, and the first use checks the backend
before importing anything, so that under JAX or PyTorch the user is told to
switch backends rather than to install TensorFlow.
"""

from __future__ import annotations

from types import ModuleType

from keras_dlm._backend import require_backend
from keras_dlm._imports import import_optional

_FEATURE = "keras_dlm.transfer"


def tensorflow() -> ModuleType:
    """Returns the ``tensorflow`` module after checking the Keras backend."""
    require_backend("tensorflow", feature=_FEATURE)
    return import_optional("tensorflow", extra="tensorflow", feature=_FEATURE)


def tensorflow_hub() -> ModuleType:
    """Returns the ``tensorflow_hub`` module after checking the Keras backend."""
    tensorflow()
    return import_optional("tensorflow_hub", extra="hub", feature=_FEATURE)
