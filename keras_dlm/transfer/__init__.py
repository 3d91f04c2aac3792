"""Transfer learning on TF-Hub backbones in Keras 3 (TensorFlow backend).

Importing this package works on every backend and imports neither TensorFlow
nor TensorFlow Hub; using its functions under JAX or PyTorch raises a
``RuntimeError`` that asks for ``KERAS_BACKEND=tensorflow``.
"""

from __future__ import annotations

from keras_dlm.transfer.export import export_hub_module
from keras_dlm.transfer.fine_tune import FineTuneHistory, fine_tune
from keras_dlm.transfer.hub_backbone import HubBackbone
from keras_dlm.transfer.model import build_transfer_model

__all__ = [
    "FineTuneHistory",
    "HubBackbone",
    "build_transfer_model",
    "export_hub_module",
    "fine_tune",
]
