"""Keras 3 layers that Keras lacks, for every backend.

Dropout (`MCDropout`, `DropConnectDense`), max pooling
(`MaxPoolingWithArgmax2D`, `MaxUnpooling2D`, `SpatialPyramidPooling2D`), batch
normalization (`GhostBatchNormalization`) and LSTM (`PeepholeLSTMCell`,
`LayerNormLSTMCell`, `LSTM`). All are registered for `.keras` saving under
the package name `keras_dlm`.
"""

from __future__ import annotations

from keras_dlm.layers.dropout import DropConnectDense, MCDropout
from keras_dlm.layers.normalization import GhostBatchNormalization
from keras_dlm.layers.pooling import (
    MaxPoolingWithArgmax2D,
    MaxUnpooling2D,
    SpatialPyramidPooling2D,
)
from keras_dlm.layers.recurrent import LSTM, LayerNormLSTMCell, PeepholeLSTMCell

__all__ = [
    "LSTM",
    "DropConnectDense",
    "GhostBatchNormalization",
    "LayerNormLSTMCell",
    "MCDropout",
    "MaxPoolingWithArgmax2D",
    "MaxUnpooling2D",
    "PeepholeLSTMCell",
    "SpatialPyramidPooling2D",
]
