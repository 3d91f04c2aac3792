"""Backend-dependent choices of keras_dlm's LSTM, both measured (docs/methods/lstm.md)."""

from __future__ import annotations

from keras_dlm._backend import backend_name


def precompute_input_projection() -> bool:
    """Whether an LSTM computes the input half of its steps before the loop.

    The input half of a step, `LN(x[t] W) + b`, does not depend on the state,
    so it can be computed for the whole sequence with one product. PyTorch
    runs the loop eagerly, one dispatch per operation, and there this halves
    the layer-norm LSTM's train step (Keras's own PyTorch LSTM does the same).
    TensorFlow and JAX compile the loop; there carrying the `4 * units`-wide
    projected inputs and their gradients through it was measured slower than
    the per-step products it saves (2026-12-02, docs/methods/lstm.md).
    """
    return backend_name() == "torch"


def has_fused_layer_norm() -> bool:
    """Whether `keras.ops.layer_normalization` is one native kernel.

    On PyTorch it calls `torch.nn.functional.layer_norm` (one kernel forward,
    one backward). On TensorFlow and JAX it is a graph of reductions whose
    automatic gradient is costly inside a loop; keras_dlm's LSTM then uses its
    own normalization with a closed-form gradient.
    """
    return backend_name() == "torch"
