"""Pooling layers that Keras 3 lacks: argmax pooling, unpooling, pyramid pooling.

In 1, 2 and 3 dimensions (pyramid pooling: 1 and 2), channels last or first,
with TensorFlow's or PyTorch's index layout. They use keras.ops only, so they
run on every backend. The code lives in `argmax_pooling`, `unpooling` and
`pyramid_pooling`; this module gathers the public layers.
"""

from __future__ import annotations

from keras_dlm.layers.argmax_pooling import (
    MaxPoolingWithArgmax1D,
    MaxPoolingWithArgmax2D,
    MaxPoolingWithArgmax3D,
)
from keras_dlm.layers.pyramid_pooling import (
    SpatialPyramidPooling1D,
    SpatialPyramidPooling2D,
)
from keras_dlm.layers.unpooling import MaxUnpooling1D, MaxUnpooling2D, MaxUnpooling3D

__all__ = [
    "MaxPoolingWithArgmax1D",
    "MaxPoolingWithArgmax2D",
    "MaxPoolingWithArgmax3D",
    "MaxUnpooling1D",
    "MaxUnpooling2D",
    "MaxUnpooling3D",
    "SpatialPyramidPooling1D",
    "SpatialPyramidPooling2D",
]
