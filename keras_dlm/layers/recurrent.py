"""LSTM variants that Keras 3 lacks: peephole and layer-normalized cells.

Both cells subclass `keras.layers.LSTMCell`, so they keep its weights (`kernel`,
`recurrent_kernel`, `bias`, gates in the order input, forget, cell, output),
its `unit_forget_bias`, its dropout masks (one per sequence, shared by all
steps) and its configuration, and they work inside `keras.layers.RNN` with
masking, `return_sequences`, `return_state`, `go_backwards` and `stateful`.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import initializers, ops

from keras_dlm.layers._validation import check_positive_int, check_rate

_PEEPHOLES = (
    "input_gate_peephole_weights",
    "forget_gate_peephole_weights",
    "output_gate_peephole_weights",
)
# Arguments of keras.layers.LSTMCell; the rest of an LSTM's go to keras.layers.RNN.
_CELL_ARGUMENTS = (
    "activation",
    "recurrent_activation",
    "use_bias",
    "kernel_initializer",
    "recurrent_initializer",
    "bias_initializer",
    "unit_forget_bias",
    "kernel_regularizer",
    "recurrent_regularizer",
    "bias_regularizer",
    "kernel_constraint",
    "recurrent_constraint",
    "bias_constraint",
    "dropout",
    "recurrent_dropout",
    "seed",
    "implementation",
)


def _check_cell_arguments(layer: str, units: Any, kwargs: dict[str, Any]) -> None:
    check_positive_int(layer, "units", units)
    for name in ("dropout", "recurrent_dropout"):
        if name in kwargs:
            check_rate(layer, name, kwargs[name])


def _add_peepholes(cell: keras.layers.LSTMCell) -> None:
    # tf.keras's PeepholeLSTMCell drew the peepholes from the kernel initializer.
    for name in _PEEPHOLES:
        setattr(
            cell,
            name,
            cell.add_weight(
                shape=(cell.units,), name=name, initializer=cell.kernel_initializer
            ),
        )


@keras.saving.register_keras_serializable(package="keras_dlm")
class PeepholeLSTMCell(keras.layers.LSTMCell):
    """LSTM cell with peephole connections from the cell state to the gates.

    Gers & Schmidhuber (2000) let the gates see the cell state, which helps
    with precise timing. With `*` the element-wise product and `w_i`, `w_f`,
    `w_o` learned vectors of size `units`:

    ```
    i = sigmoid(x W_i + h[t-1] U_i + w_i * c[t-1] + b_i)
    f = sigmoid(x W_f + h[t-1] U_f + w_f * c[t-1] + b_f)
    c[t] = f * c[t-1] + i * tanh(x W_c + h[t-1] U_c + b_c)
    o = sigmoid(x W_o + h[t-1] U_o + w_o * c[t] + b_o)
    h[t] = o * tanh(c[t])
    ```

    the input and forget gates peek at the previous cell state and the output
    gate at the new one, as tf.keras's removed
    `tf.keras.experimental.PeepholeLSTMCell` did (same weight names; the
    peepholes use `kernel_initializer`). With zero peepholes it is
    `keras.layers.LSTMCell`.

    Args:
        units: positive integer, the size of the hidden and cell states.
        **kwargs: every argument of `keras.layers.LSTMCell` (`activation`,
            `recurrent_activation`, `use_bias`, initializers, regularizers,
            constraints, `unit_forget_bias`, `dropout`, `recurrent_dropout`,
            `seed`) and the base layer arguments.

    Call arguments:
        inputs: a 2D tensor `(batch, features)`.
        states: the list `[h, c]` of two `(batch, units)` tensors.
        training: whether to apply dropout.

    Output:
        `(h, [h, c])`, the output and the new states.

    Example:

    >>> import numpy as np
    >>> import keras
    >>> from keras_dlm.layers import PeepholeLSTMCell
    >>> rnn = keras.layers.RNN(PeepholeLSTMCell(4), return_sequences=True)
    >>> tuple(rnn(np.zeros((2, 5, 3), dtype="float32")).shape)
    (2, 5, 4)
    """

    def __init__(self, units: int, **kwargs: Any) -> None:
        _check_cell_arguments(type(self).__name__, units, kwargs)
        super().__init__(units, **kwargs)

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        super().build(input_shape)
        _add_peepholes(self)

    def _compute_carry_and_output(self, x: Any, h_tm1: Any, c_tm1: Any) -> Any:
        # Split-kernel path, used with recurrent dropout (one mask per gate).
        x_i, x_f, x_c, x_o = x
        h_i, h_f, h_c, h_o = h_tm1
        kernel_i, kernel_f, kernel_c, kernel_o = ops.split(
            self.recurrent_kernel, 4, axis=1
        )
        i = self.recurrent_activation(
            x_i + ops.matmul(h_i, kernel_i) + self.input_gate_peephole_weights * c_tm1
        )
        f = self.recurrent_activation(
            x_f + ops.matmul(h_f, kernel_f) + self.forget_gate_peephole_weights * c_tm1
        )
        c = f * c_tm1 + i * self.activation(x_c + ops.matmul(h_c, kernel_c))
        o = self.recurrent_activation(
            x_o + ops.matmul(h_o, kernel_o) + self.output_gate_peephole_weights * c
        )
        return c, o

    def _compute_carry_and_output_fused(self, z: Any, c_tm1: Any) -> Any:
        z_i, z_f, z_c, z_o = z
        i = self.recurrent_activation(z_i + self.input_gate_peephole_weights * c_tm1)
        f = self.recurrent_activation(z_f + self.forget_gate_peephole_weights * c_tm1)
        c = f * c_tm1 + i * self.activation(z_c)
        o = self.recurrent_activation(z_o + self.output_gate_peephole_weights * c)
        return c, o


@keras.saving.register_keras_serializable(package="keras_dlm")
class LayerNormLSTMCell(keras.layers.LSTMCell):
    """LSTM cell with layer normalization, as TensorFlow Addons' cell had it.

    Layer normalization (Ba et al., 2016) of the input and recurrent
    pre-activations and of the new cell state, which is the state carried to
    the next step. With `LN(v) = gamma * (v - mean(v)) / sqrt(var(v) + eps) +
    beta` over the last axis (each `LN` with its own `gamma`, `beta`):

    ```
    z = LN_kernel(x W) + LN_recurrent(h[t-1] U) + b      # 4 * units wide
    i, f, g, o = sigmoid(z_i), sigmoid(z_f), tanh(z_c), sigmoid(z_o)
    c[t] = LN_state(f * c[t-1] + i * g)
    h[t] = o * tanh(c[t])
    ```

    `LN_kernel` and `LN_recurrent` normalize all four gates' pre-activations
    together, as `tfa.rnn.LayerNormLSTMCell` did. Dropout uses one input mask
    and one recurrent mask per sequence (TF Addons' choice), whatever
    `recurrent_dropout` is. Statistics are computed in float32 under mixed
    precision.

    Args:
        units: positive integer, the size of the hidden and cell states.
        norm_gamma_initializer: initializer of the three `gamma` vectors.
        norm_beta_initializer: initializer of the three `beta` vectors.
        norm_epsilon: small float added to the variances.
        **kwargs: every argument of `keras.layers.LSTMCell` and the base layer
            arguments.

    Call arguments:
        inputs: a 2D tensor `(batch, features)`.
        states: the list `[h, c]` of two `(batch, units)` tensors.
        training: whether to apply dropout.

    Output:
        `(h, [h, c])`, the output and the new states.

    Example:

    >>> import numpy as np
    >>> import keras
    >>> from keras_dlm.layers import LayerNormLSTMCell
    >>> rnn = keras.layers.RNN(LayerNormLSTMCell(4))
    >>> tuple(rnn(np.ones((2, 5, 3), dtype="float32")).shape)
    (2, 4)
    """

    def __init__(
        self,
        units: int,
        norm_gamma_initializer: Any = "ones",
        norm_beta_initializer: Any = "zeros",
        norm_epsilon: float = 1e-3,
        **kwargs: Any,
    ) -> None:
        name = type(self).__name__
        _check_cell_arguments(name, units, kwargs)
        if not isinstance(norm_epsilon, (int, float)) or norm_epsilon <= 0:
            raise ValueError(
                f"{name}: `norm_epsilon` must be a positive float; received "
                f"norm_epsilon={norm_epsilon!r}."
            )
        super().__init__(units, **kwargs)
        # One mask for the input and one for the state (not one per gate).
        self.implementation = 2
        self.dropout_mask_count = None
        self.norm_gamma_initializer = initializers.get(norm_gamma_initializer)
        self.norm_beta_initializer = initializers.get(norm_beta_initializer)
        self.norm_epsilon = float(norm_epsilon)

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        super().build(input_shape)
        for prefix, size in (
            ("kernel_norm", 4 * self.units),
            ("recurrent_norm", 4 * self.units),
            ("state_norm", self.units),
        ):
            setattr(
                self,
                f"{prefix}_gamma",
                self.add_weight(
                    shape=(size,),
                    name=f"{prefix}_gamma",
                    initializer=self.norm_gamma_initializer,
                ),
            )
            setattr(
                self,
                f"{prefix}_beta",
                self.add_weight(
                    shape=(size,),
                    name=f"{prefix}_beta",
                    initializer=self.norm_beta_initializer,
                ),
            )

    def _normalize(self, values: Any, gamma: Any, beta: Any) -> Any:
        dtype = values.dtype
        wide = keras.backend.result_type(dtype, "float32")
        values = ops.cast(values, wide)
        mean, variance = ops.moments(values, axes=[-1], keepdims=True)
        normalized = (values - mean) * ops.rsqrt(variance + self.norm_epsilon)
        normalized = normalized * ops.cast(gamma, wide) + ops.cast(beta, wide)
        return ops.cast(normalized, dtype)

    def _peep_input_forget(self, z_i: Any, z_f: Any, c_tm1: Any) -> tuple[Any, Any]:
        del c_tm1
        return z_i, z_f

    def _peep_output(self, z_o: Any, c: Any) -> Any:
        del c
        return z_o

    def call(self, inputs: Any, states: Any, training: bool = False) -> Any:
        h_tm1, c_tm1 = states[0], states[1]
        if training and 0.0 < self.dropout < 1.0:
            inputs = inputs * self.get_dropout_mask(inputs)
        if training and 0.0 < self.recurrent_dropout < 1.0:
            h_tm1 = h_tm1 * self.get_recurrent_dropout_mask(h_tm1)
        z = self._normalize(
            ops.matmul(inputs, self.kernel),
            self.kernel_norm_gamma,
            self.kernel_norm_beta,
        ) + self._normalize(
            ops.matmul(h_tm1, self.recurrent_kernel),
            self.recurrent_norm_gamma,
            self.recurrent_norm_beta,
        )
        if self.use_bias:
            z = z + self.bias
        z_i, z_f, z_c, z_o = ops.split(z, 4, axis=-1)
        z_i, z_f = self._peep_input_forget(z_i, z_f, c_tm1)
        i = self.recurrent_activation(z_i)
        f = self.recurrent_activation(z_f)
        c = self._normalize(
            f * c_tm1 + i * self.activation(z_c),
            self.state_norm_gamma,
            self.state_norm_beta,
        )
        o = self.recurrent_activation(self._peep_output(z_o, c))
        h = o * self.activation(c)
        return h, [h, c]

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {
                "norm_gamma_initializer": initializers.serialize(
                    self.norm_gamma_initializer
                ),
                "norm_beta_initializer": initializers.serialize(
                    self.norm_beta_initializer
                ),
                "norm_epsilon": self.norm_epsilon,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="keras_dlm")
class _LayerNormPeepholeLSTMCell(LayerNormLSTMCell):
    """Layer-normalized cell with peepholes, behind `LSTM(peephole=True, layer_norm=True)`.

    The peepholes look at the normalized cell states, the ones carried from
    step to step: `c[t-1]` for the input and forget gates, `c[t]` for the
    output gate.
    """

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        super().build(input_shape)
        _add_peepholes(self)

    def _peep_input_forget(self, z_i: Any, z_f: Any, c_tm1: Any) -> tuple[Any, Any]:
        return (
            z_i + self.input_gate_peephole_weights * c_tm1,
            z_f + self.forget_gate_peephole_weights * c_tm1,
        )

    def _peep_output(self, z_o: Any, c: Any) -> Any:
        return z_o + self.output_gate_peephole_weights * c


@keras.saving.register_keras_serializable(package="keras_dlm")
class LSTM(keras.layers.LSTM):
    """`keras.layers.LSTM` with optional peephole connections and layer norm.

    With both options off it *is* `keras.layers.LSTM` (same cell, same fast
    paths such as cuDNN, same weights), so weights move freely between the
    two. `peephole=True` uses `PeepholeLSTMCell`, `layer_norm=True` uses
    `LayerNormLSTMCell`, and both together a layer-normalized cell whose
    peepholes look at the normalized cell state. Those variants always run
    Keras's generic RNN loop (no cuDNN kernel exists for them).

    Args:
        units: positive integer, the size of the hidden and cell states.
        peephole: whether to add peephole connections.
        layer_norm: whether to layer-normalize the pre-activations and the
            cell state.
        norm_epsilon: epsilon of the layer normalizations (with
            `layer_norm=True`).
        **lstm_kwargs: every argument of `keras.layers.LSTM` (`activation`,
            `dropout`, `recurrent_dropout`, `return_sequences`,
            `return_state`, `go_backwards`, `stateful`, `unroll`,
            `unit_forget_bias`, initializers, ...).

    Call arguments:
        sequences: a 3D tensor `(batch, timesteps, features)`.
        initial_state: optional list `[h, c]` of initial states.
        mask: optional boolean `(batch, timesteps)` tensor.
        training: whether to apply dropout.

    Output:
        As `keras.layers.LSTM`: the last output `(batch, units)` or the
        sequence `(batch, timesteps, units)`, followed by the final `h` and
        `c` when `return_state=True`.

    Example:

    >>> import numpy as np
    >>> import keras
    >>> from keras_dlm.layers import LSTM
    >>> layer = LSTM(8, peephole=True, layer_norm=True, return_sequences=True)
    >>> tuple(layer(np.ones((2, 6, 3), dtype="float32")).shape)
    (2, 6, 8)
    """

    def __init__(
        self,
        units: int,
        *,
        peephole: bool = False,
        layer_norm: bool = False,
        norm_epsilon: float = 1e-3,
        **lstm_kwargs: Any,
    ) -> None:
        _check_cell_arguments("LSTM", units, lstm_kwargs)
        if not (peephole or layer_norm):
            super().__init__(units, **lstm_kwargs)
        else:
            use_cudnn = lstm_kwargs.pop("use_cudnn", "auto")
            if use_cudnn is True:
                raise ValueError(
                    "LSTM: use_cudnn=True is not possible with peephole=True or "
                    "layer_norm=True (cuDNN has no such kernel); received "
                    f"peephole={peephole}, layer_norm={layer_norm}."
                )
            cell_kwargs = {
                name: lstm_kwargs.pop(name)
                for name in _CELL_ARGUMENTS
                if name in lstm_kwargs
            }
            if layer_norm:
                cell_class = (
                    _LayerNormPeepholeLSTMCell if peephole else LayerNormLSTMCell
                )
                cell_kwargs["norm_epsilon"] = norm_epsilon
            else:
                cell_class = PeepholeLSTMCell
            cell = cell_class(
                units,
                dtype=lstm_kwargs.get("dtype"),
                trainable=lstm_kwargs.get("trainable", True),
                name="lstm_cell",
                **cell_kwargs,
            )
            # Skip keras.layers.LSTM.__init__, which would build a plain cell.
            keras.layers.RNN.__init__(self, cell, **lstm_kwargs)
            self.input_spec = keras.layers.InputSpec(ndim=3)
            self.use_cudnn = False
        self.peephole = bool(peephole)
        self.layer_norm = bool(layer_norm)
        self.norm_epsilon = float(norm_epsilon)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {
                "peephole": self.peephole,
                "layer_norm": self.layer_norm,
                "norm_epsilon": self.norm_epsilon,
            }
        )
        return config
