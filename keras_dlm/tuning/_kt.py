"""keras-tuner, imported once for the tuning package (extra ``tuner``)."""

from __future__ import annotations

from keras_dlm._imports import import_optional

keras_tuner = import_optional("keras_tuner", extra="tuner", feature="keras_dlm.tuning")
