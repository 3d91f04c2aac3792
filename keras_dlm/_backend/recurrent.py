"""Backend-dependent parts of keras_dlm's LSTM, each measured (docs/methods/lstm.md)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import keras

from keras_dlm._backend import backend_name


def precompute_input_projection() -> bool:
    """Whether an LSTM computes the input half of its steps before the loop.

    The input half of a step, `LN(x[t] W) + b`, does not depend on the state,
    so it can be computed for the whole sequence with one product. PyTorch
    runs the loop eagerly, one dispatch per operation, and there this halves
    the layer-norm LSTM's train step (Keras's own PyTorch LSTM does the same).
    TensorFlow and JAX compile the loop; there feeding the `4 * units`-wide
    projected inputs to it as its sequence was measured slower than the
    per-step products it saves (2026-12-02, docs/methods/lstm.md).
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


@dataclass
class Recurrence:
    """The state-dependent half of an LSTM variant's step, as plain tensors.

    `z[t] = inputs[t] + gamma * standardize(h[t-1] U)`, with `inputs` the
    input half computed beforehand (bias, `LN_kernel` and the betas of both
    normalizations included) and `gamma` the `recurrent_gamma` (None: no
    normalization). Gates in Keras's order input, forget, cell, output;
    `c[t] = LN_state(f * c[t-1] + i * g)`, `h[t] = (o * act(c[t])) P`.
    `state_norm` is `(gamma, beta)` or None; the
    peepholes `(w_i, w_f, w_o)` or None; `recurrent_mask` multiplies
    `h[t-1]` before the product (one mask per sequence) or is None.
    """

    recurrent_kernel: Any
    activation: Callable[[Any], Any]
    recurrent_activation: Callable[[Any], Any]
    recurrent_gamma: Any = None
    state_norm: tuple[Any, Any] | None = None
    epsilon: float = 1e-3
    peepholes: tuple[Any, Any, Any] | None = None
    projection_kernel: Any = None
    recurrent_mask: Any = None


def run_recurrence(
    recurrence: Recurrence,
    inputs: Any,
    initial_state: Any,
    *,
    go_backwards: bool,
    return_sequences: bool,
) -> tuple[Any, Any, list[Any]] | None:
    """Runs the recurrence natively, or returns None to use Keras's RNN loop.

    On PyTorch the loop runs eagerly, so what a step costs is its number of
    dispatched operations: Keras's generic loop calls the cell (a Keras
    layer call, several `keras.ops` conversions) every step. This loop runs
    the step on torch tensors directly with `torch.nn.functional.layer_norm`
    (one kernel), as Keras's own PyTorch LSTM does for the plain cell
    (keras/src/backend/torch/rnn.py). TensorFlow and JAX compile Keras's
    loop, so they return None.

    Args:
        recurrence: the step's weights and options.
        inputs: the input half, `(batch, timesteps, 4 * units)`.
        initial_state: `[h, c]`.
        go_backwards: whether to run the sequence backwards.
        return_sequences: whether to return every step's output.

    Returns:
        `(last_output, outputs, [h, c])` as `keras.backend.rnn` returns them
        (`outputs` is `(batch, 1, units)` without `return_sequences`), or None.
    """
    if backend_name() != "torch":
        return None
    return _torch_recurrence(
        recurrence,
        inputs,
        initial_state,
        go_backwards=go_backwards,
        return_sequences=return_sequences,
    )


def _torch_function(activation: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """The torch function of a standard Keras activation, else the activation."""
    import torch

    native = {
        keras.activations.sigmoid: torch.sigmoid,
        keras.activations.tanh: torch.tanh,
        keras.ops.sigmoid: torch.sigmoid,
        keras.ops.tanh: torch.tanh,
    }
    return native.get(activation, activation)


def _torch_recurrence(
    recurrence: Recurrence,
    inputs: Any,
    initial_state: Any,
    *,
    go_backwards: bool,
    return_sequences: bool,
) -> tuple[Any, Any, list[Any]]:
    import torch
    from torch.nn import functional

    def tensor(value: Any) -> Any:
        return None if value is None else keras.ops.convert_to_tensor(value)

    activation = _torch_function(recurrence.activation)
    recurrent_activation = _torch_function(recurrence.recurrent_activation)
    epsilon = recurrence.epsilon
    dtype = inputs.dtype
    # Statistics in float32 (or wider) under mixed precision, as ops does.
    wide = torch.promote_types(dtype, torch.float32)

    def layer_norm(values: Any, gamma: Any, beta: Any) -> Any:
        if values.dtype == wide:
            return functional.layer_norm(
                values, values.shape[-1:], gamma, beta, epsilon
            )
        normalized = functional.layer_norm(
            values.to(wide),
            values.shape[-1:],
            gamma.to(wide),
            None if beta is None else beta.to(wide),
            epsilon,
        )
        return normalized.to(dtype)

    kernel = tensor(recurrence.recurrent_kernel).to(dtype)
    recurrent_gamma = tensor(recurrence.recurrent_gamma)
    state_gamma = state_beta = None
    if recurrence.state_norm is not None:
        state_gamma, state_beta = map(tensor, recurrence.state_norm)
    peepholes = None
    if recurrence.peepholes is not None:
        peepholes = [tensor(w).to(dtype) for w in recurrence.peepholes]
    projection = tensor(recurrence.projection_kernel)
    if projection is not None:
        projection = projection.to(dtype)
    mask = tensor(recurrence.recurrent_mask)

    steps = torch.unbind(inputs, dim=1)
    if go_backwards:
        steps = steps[::-1]
    # Copies: a stateful layer assigns its final states to the variables
    # that hold the initial ones, in place, before autograd has used them.
    h, c = (tensor(state).to(dtype, copy=True) for state in initial_state)
    outputs = []
    for z in steps:
        recurrent = torch.matmul(h if mask is None else h * mask, kernel)
        if recurrent_gamma is not None:
            recurrent = layer_norm(recurrent, recurrent_gamma, None)
        z = z + recurrent
        if peepholes is None:
            z_c = z.chunk(4, dim=-1)[2]
            i, f, _, o = recurrent_activation(z).chunk(4, dim=-1)
            c = torch.addcmul(f * c, i, activation(z_c))
        else:
            z_i, z_f, z_c, z_o = z.chunk(4, dim=-1)
            i = recurrent_activation(torch.addcmul(z_i, peepholes[0], c))
            f = recurrent_activation(torch.addcmul(z_f, peepholes[1], c))
            c = torch.addcmul(f * c, i, activation(z_c))
        if state_gamma is not None:
            c = layer_norm(c, state_gamma, state_beta)
        if peepholes is not None:
            o = recurrent_activation(torch.addcmul(z_o, peepholes[2], c))
        h = o * activation(c)
        if projection is not None:
            h = torch.matmul(h, projection)
        if return_sequences:
            outputs.append(h)
    sequence = torch.stack(outputs, dim=1) if return_sequences else h.unsqueeze(1)
    return h, sequence, [h, c]
