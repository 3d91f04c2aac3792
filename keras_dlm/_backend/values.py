"""Whether a tensor's values are known now (eager) or only traced, per backend.

Layers that can check their inputs' values (say, that indices are in range)
do so when the values are known: eagerly on every backend. Inside
`tf.function`, a JAX trace or `torch.compile` the values are not known and
the check has to give way to a graph-safe fallback.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from keras_dlm._backend import backend_name


def concrete_value(tensor: Any) -> np.ndarray | None:
    """Returns `tensor`'s values as NumPy, or None when it is being traced.

    Args:
        tensor: a backend tensor or a NumPy array.

    Returns:
        A NumPy array when the values exist now (eager execution), None inside
        a compiled function (`tf.function`, `jax.jit`, `torch.compile`) or for
        a symbolic tensor.
    """
    if isinstance(tensor, (np.ndarray, np.generic, int, float, bool)):
        return np.asarray(tensor)
    name = backend_name()
    if name == "tensorflow":
        import tensorflow as tf

        if not tf.executing_eagerly() or not hasattr(tensor, "numpy"):
            return None
        return np.asarray(tensor.numpy())
    if name == "jax":
        import jax

        if isinstance(tensor, jax.core.Tracer):
            return None
        return np.asarray(tensor)
    if name == "torch":
        import torch

        if torch.compiler.is_compiling() or tensor.device.type == "meta":
            return None
        return tensor.detach().cpu().numpy()
    return None
