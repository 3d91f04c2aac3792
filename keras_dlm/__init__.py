"""keras_dlm: Keras 3 components for ten deep-learning methods.

Importing ``keras_dlm`` is cheap: it imports neither Keras nor anything
optional. Subpackages load on first attribute access, and a missing extra
(``transfer`` needs ``hub``, ``tuning`` needs ``tuner``) raises an
``ImportError`` that names the extra to install. A ``.keras`` file holding
keras_dlm classes loads after ``import keras_dlm`` alone: Keras imports the
modules defining them when it meets their names (see ``_serializables``).
"""

from __future__ import annotations

import importlib
from typing import Any

from keras_dlm import _serializables
from keras_dlm._version import __version__

# A .keras file holding keras_dlm classes loads after `import keras_dlm` alone:
# Keras imports the modules that define them when it first needs them.
_serializables.install()

# Submodules loaded on first access, so that ``import keras_dlm`` never pulls
# in TensorFlow Hub, keras-tuner, gensim or matplotlib.
_LAZY_SUBMODULES = (
    "callbacks",
    "cli",
    "datasets",
    "gradcheck",
    "layers",
    "optimizers",
    "schedules",
    "testing",
    "transfer",
    "tuning",
    "uncertainty",
    "word2vec",
)

# Public functions re-exported at the top level: name -> defining module.
_LAZY_ATTRIBUTES: dict[str, str] = {
    "check_gradients": "keras_dlm.gradcheck",
    "lr_find": "keras_dlm.lr_finder",
    "plot_schedule": "keras_dlm.plotting",
}

__all__ = ["__version__", *_LAZY_SUBMODULES, *_LAZY_ATTRIBUTES]


def __getattr__(name: str) -> Any:
    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f"keras_dlm.{name}")
    if name in _LAZY_ATTRIBUTES:
        module = importlib.import_module(_LAZY_ATTRIBUTES[name])
        return getattr(module, name)
    raise AttributeError(f"module 'keras_dlm' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
