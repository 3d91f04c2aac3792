"""Keras 3 layers that Keras lacks, for every backend.

Dropout (`MCDropout`, `DropConnectDense`), max pooling
(`MaxPoolingWithArgmax1D/2D/3D`, `MaxUnpooling1D/2D/3D`,
`SpatialPyramidPooling1D/2D`), batch
normalization (`GhostBatchNormalization`) and LSTM (`PeepholeLSTMCell`,
`LayerNormLSTMCell`, `LSTM`). All are registered for `.keras` saving under
the package name `keras_dlm`.
"""

from __future__ import annotations

from keras_dlm.layers.dropout import DropConnectDense, MCDropout
from keras_dlm.layers.normalization import GhostBatchNormalization
from keras_dlm.layers.pooling import (
    MaxPoolingWithArgmax1D,
    MaxPoolingWithArgmax2D,
    MaxPoolingWithArgmax3D,
    MaxUnpooling1D,
    MaxUnpooling2D,
    MaxUnpooling3D,
    SpatialPyramidPooling1D,
    SpatialPyramidPooling2D,
)
from keras_dlm.layers.recurrent import LSTM, LayerNormLSTMCell, PeepholeLSTMCell

__all__ = [
    "LSTM",
    "DropConnectDense",
    "GhostBatchNormalization",
    "LayerNormLSTMCell",
    "MCDropout",
    "MaxPoolingWithArgmax1D",
    "MaxPoolingWithArgmax2D",
    "MaxPoolingWithArgmax3D",
    "MaxUnpooling1D",
    "MaxUnpooling2D",
    "MaxUnpooling3D",
    "PeepholeLSTMCell",
    "SpatialPyramidPooling1D",
    "SpatialPyramidPooling2D",
]
