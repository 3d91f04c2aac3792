"""LSTM variants that Keras 3 lacks: peephole, layer-normalized and projected cells.

The cells subclass `keras.layers.LSTMCell`, so they keep its weights (`kernel`,
`recurrent_kernel`, `bias`, gates in the order input, forget, cell, output),
its `unit_forget_bias`, its dropout masks (one per sequence, shared by all
steps) and its configuration, and they work inside `keras.layers.RNN` with
masking, `return_sequences`, `return_state`, `go_backwards` and `stateful`.
They implement the step themselves (not through Keras's private hooks).
"""

from __future__ import annotations

from typing import Any

import keras
from keras import initializers, ops

from keras_dlm._backend.recurrent import (
    Recurrence,
    has_fused_layer_norm,
    precompute_input_projection,
    run_recurrence,
)
from keras_dlm._checks import check_bool, check_choice, check_integer, check_number

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
_RNN_FLAGS = ("return_sequences", "return_state", "go_backwards", "stateful", "unroll")


def _check_cell_arguments(units: Any, kwargs: dict[str, Any]) -> int:
    """Checks the LSTMCell arguments in `kwargs` (in place) and returns `units`."""
    for name in ("dropout", "recurrent_dropout"):
        if name in kwargs:
            kwargs[name] = check_number(
                name, kwargs[name], low=0.0, high=1.0, high_inclusive=False
            )
    for name in ("use_bias", "unit_forget_bias"):
        if name in kwargs:
            kwargs[name] = check_bool(name, kwargs[name])
    if "implementation" in kwargs:
        check_choice("implementation", kwargs["implementation"], (1, 2))
    if "seed" in kwargs:
        kwargs["seed"] = check_integer(
            "seed", kwargs["seed"], minimum=0, allow_none=True
        )
    return check_integer("units", units)


def _matmul_masked(values: Any, mask: Any, kernel: Any) -> Any:
    """`values @ kernel`, the values dropped by one mask or by one mask per gate."""
    if mask is None:
        return ops.matmul(values, kernel)
    if isinstance(mask, (list, tuple)):
        kernels = ops.split(kernel, len(mask), axis=-1)
        return ops.concatenate(
            [ops.matmul(values * m, k) for m, k in zip(mask, kernels, strict=True)],
            axis=-1,
        )
    return ops.matmul(values * mask, kernel)


def _standardize(values: Any, epsilon: float) -> Any:
    """`(v - mean(v)) / sqrt(var(v) + epsilon)` over the last axis.

    Its gradient is written in closed form,
    `dv = inv * (g - mean(g) - n * mean(g * n))` for the normalized `n` and the
    incoming gradient `g`: automatic differentiation of the mean and
    variance graph costs several more reductions per normalization in the
    backward pass, which dominated the layer-norm LSTM's train step.
    Statistics are computed in float32 (or wider) under mixed precision.
    """
    dtype = values.dtype

    @ops.custom_gradient
    def standardize(x: Any) -> Any:
        centered = x - ops.mean(x, axis=-1, keepdims=True)
        inv = ops.rsqrt(
            ops.mean(ops.square(centered), axis=-1, keepdims=True) + epsilon
        )
        normalized = centered * inv

        def grad(*args: Any, upstream: Any = None) -> Any:
            if upstream is None:  # TensorFlow and JAX pass it positionally
                (upstream,) = args
            return inv * (
                upstream
                - ops.mean(upstream, axis=-1, keepdims=True)
                - normalized * ops.mean(upstream * normalized, axis=-1, keepdims=True)
            )

        return normalized, grad

    wide = keras.backend.result_type(dtype, "float32")
    return ops.cast(standardize(ops.cast(values, wide)), dtype)


class _LSTMCellBase(keras.layers.LSTMCell):
    """The step of keras_dlm's cells: optional peepholes, layer norm, projection.

    Subclasses switch the variants on with the class attributes `_peephole`
    and `_layer_norm`. The input half of the step, `_project_inputs`, does not
    depend on the state, so `keras_dlm.layers.LSTM` computes it for the whole
    sequence at once and runs the recurrence on its result.
    """

    _peephole = False
    _layer_norm = False

    def __init__(
        self, units: int, projection_units: int | None = None, **kwargs: Any
    ) -> None:
        units = _check_cell_arguments(units, kwargs)
        projection_units = check_integer(
            "projection_units", projection_units, allow_none=True
        )
        super().__init__(units, **kwargs)
        self.projection_units = projection_units
        if projection_units is not None:
            self.state_size = [projection_units, units]
            self.output_size = projection_units
        # Set by keras_dlm.layers.LSTM while its loop feeds `_project_inputs`.
        self._inputs_projected = False

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        # Not LSTMCell.build: with a projection the recurrent kernel reads
        # the projected state, so its first dimension is `projection_units`.
        super(keras.layers.LSTMCell, self).build(input_shape)
        units = self.units
        self.kernel = self.add_weight(
            shape=(input_shape[-1], 4 * units),
            name="kernel",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.projection_units or units, 4 * units),
            name="recurrent_kernel",
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )
        self.bias = None
        if self.use_bias:
            bias_initializer = self.bias_initializer
            if self.unit_forget_bias:

                def bias_initializer(_: Any, *args: Any, **kwargs: Any) -> Any:
                    return ops.concatenate(
                        [
                            self.bias_initializer((units,), *args, **kwargs),
                            initializers.get("ones")((units,), *args, **kwargs),
                            self.bias_initializer((2 * units,), *args, **kwargs),
                        ]
                    )

            self.bias = self.add_weight(
                shape=(4 * units,),
                name="bias",
                initializer=bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        self._build_variant_weights()
        if self.projection_units is not None:
            self.projection_kernel = self.add_weight(
                shape=(units, self.projection_units),
                name="projection_kernel",
                initializer=self.kernel_initializer,
            )

    def _build_variant_weights(self) -> None:
        if self._peephole:
            # tf.keras's PeepholeLSTMCell drew them from the kernel initializer.
            for name in _PEEPHOLES:
                weight = self.add_weight(
                    shape=(self.units,), name=name, initializer=self.kernel_initializer
                )
                setattr(self, name, weight)

    def _normalize(self, values: Any, prefix: str, *, shift: bool = True) -> Any:
        """`LN_prefix(values)`; without its beta when `shift` is False."""
        gamma = getattr(self, f"{prefix}_gamma")
        beta = getattr(self, f"{prefix}_beta") if shift else None
        if has_fused_layer_norm():
            return ops.layer_normalization(
                values, gamma, beta, epsilon=self.norm_epsilon
            )
        normalized = _standardize(values, self.norm_epsilon) * gamma
        return normalized if beta is None else normalized + beta

    def _input_bias(self) -> Any:
        """The constant part of the gate pre-activations, added once a step.

        With layer norm the betas of `LN_kernel` and `LN_recurrent` join the
        bias: one addition and one gradient reduction per step instead of
        three, which is most of the gain on JAX (docs/methods/lstm.md).
        """
        terms = [self.bias] if self.use_bias else []
        if self._layer_norm:
            terms += [self.kernel_norm_beta, self.recurrent_norm_beta]
        if not terms:
            return None
        total = terms[0]
        for term in terms[1:]:
            total = total + term
        return total

    def _project_inputs(self, inputs: Any, dropout_mask: Any) -> Any:
        """The input half of the gate pre-activations, every beta and bias included."""
        z = _matmul_masked(inputs, dropout_mask, self.kernel)
        if self._layer_norm:
            z = self._normalize(z, "kernel_norm", shift=False)
        bias = self._input_bias()
        return z if bias is None else z + bias

    def _input_dropout_mask(self, inputs: Any, training: bool) -> Any:
        if training and 0.0 < self.dropout < 1.0:
            return self.get_dropout_mask(inputs)
        return None

    def _state_dropout_mask(self, h_tm1: Any, training: bool) -> Any:
        if training and 0.0 < self.recurrent_dropout < 1.0:
            return self.get_recurrent_dropout_mask(h_tm1)
        return None

    def _recurrence(self, recurrent_mask: Any) -> Recurrence:
        """The state-dependent half of `call`, for a backend's own loop."""

        layer_norm = self._layer_norm
        return Recurrence(
            recurrent_kernel=self.recurrent_kernel,
            activation=self.activation,
            recurrent_activation=self.recurrent_activation,
            recurrent_gamma=self.recurrent_norm_gamma if layer_norm else None,
            state_norm=(
                (self.state_norm_gamma, self.state_norm_beta) if layer_norm else None
            ),
            epsilon=getattr(self, "norm_epsilon", 0.0),
            peepholes=(
                tuple(getattr(self, name) for name in _PEEPHOLES)
                if self._peephole
                else None
            ),
            projection_kernel=(
                self.projection_kernel if self.projection_units is not None else None
            ),
            recurrent_mask=recurrent_mask,
        )

    def call(self, inputs: Any, states: Any, training: bool = False) -> Any:
        h_tm1, c_tm1 = states[0], states[1]
        if self._inputs_projected:
            z = inputs
        else:
            expected = self.kernel.shape[0]
            if inputs.shape[-1] is not None and inputs.shape[-1] != expected:
                raise ValueError(
                    f"{type(self).__name__} '{self.name}' was built for inputs "
                    f"with {expected} features; received inputs of shape "
                    f"{tuple(inputs.shape)}."
                )
            z = self._project_inputs(inputs, self._input_dropout_mask(inputs, training))
        recurrent_mask = self._state_dropout_mask(h_tm1, training)
        recurrent = _matmul_masked(h_tm1, recurrent_mask, self.recurrent_kernel)
        if self._layer_norm:
            recurrent = self._normalize(recurrent, "recurrent_norm", shift=False)
        z = z + recurrent
        z_i, z_f, z_c, z_o = ops.split(z, 4, axis=-1)
        if self._peephole:
            z_i = z_i + self.input_gate_peephole_weights * c_tm1
            z_f = z_f + self.forget_gate_peephole_weights * c_tm1
        c = self.recurrent_activation(z_f) * c_tm1 + self.recurrent_activation(
            z_i
        ) * self.activation(z_c)
        if self._layer_norm:
            c = self._normalize(c, "state_norm")
        if self._peephole:
            z_o = z_o + self.output_gate_peephole_weights * c
        h = self.recurrent_activation(z_o) * self.activation(c)
        if self.projection_units is not None:
            h = ops.matmul(h, self.projection_kernel)
        return h, [h, c]

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config["projection_units"] = self.projection_units
        return config


@keras.saving.register_keras_serializable(package="keras_dlm")
class _ProjectedLSTMCell(_LSTMCellBase):
    """Plain LSTM cell with a projection, behind `LSTM(projection_units=...)`."""


@keras.saving.register_keras_serializable(package="keras_dlm")
class PeepholeLSTMCell(_LSTMCellBase):
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
        units: positive integer, the size of the cell state (and of the
            hidden state without a projection).
        projection_units: optional positive integer: project the hidden state
            to this size, `h[t] = (o * tanh(c[t])) P` (Sak et al., 2014;
            PyTorch's `proj_size`), with `P` the `(units, projection_units)`
            weight `projection_kernel`.
        **kwargs: every argument of `keras.layers.LSTMCell` (`activation`,
            `recurrent_activation`, `use_bias`, initializers, regularizers,
            constraints, `unit_forget_bias`, `dropout`, `recurrent_dropout`,
            `seed`) and the base layer arguments.

    Call arguments:
        inputs: a 2D tensor `(batch, features)`.
        states: the list `[h, c]` of the `(batch, projection_units or units)`
            hidden state and the `(batch, units)` cell state.
        training: whether to apply dropout.

    Returns:
        `(h, [h, c])`, the output and the new states.

    Example:

    >>> import numpy as np
    >>> import keras
    >>> from keras_dlm.layers import PeepholeLSTMCell
    >>> rnn = keras.layers.RNN(PeepholeLSTMCell(4), return_sequences=True)
    >>> tuple(rnn(np.zeros((2, 5, 3), dtype="float32")).shape)
    (2, 5, 4)
    """

    _peephole = True


@keras.saving.register_keras_serializable(package="keras_dlm")
class LayerNormLSTMCell(_LSTMCellBase):
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
        units: positive integer, the size of the cell state (and of the
            hidden state without a projection).
        norm_gamma_initializer: initializer of the three `gamma` vectors.
        norm_beta_initializer: initializer of the three `beta` vectors.
        norm_epsilon: positive float added to the variances.
        projection_units: optional positive integer: project the hidden state
            to this size, `h[t] = (o * tanh(c[t])) P` (Sak et al., 2014).
        **kwargs: every argument of `keras.layers.LSTMCell` and the base layer
            arguments.

    Call arguments:
        inputs: a 2D tensor `(batch, features)`.
        states: the list `[h, c]` of the hidden and cell states.
        training: whether to apply dropout.

    Returns:
        `(h, [h, c])`, the output and the new states.

    Example:

    >>> import numpy as np
    >>> import keras
    >>> from keras_dlm.layers import LayerNormLSTMCell
    >>> rnn = keras.layers.RNN(LayerNormLSTMCell(4))
    >>> tuple(rnn(np.ones((2, 5, 3), dtype="float32")).shape)
    (2, 4)
    """

    _layer_norm = True

    def __init__(
        self,
        units: int,
        norm_gamma_initializer: Any = "ones",
        norm_beta_initializer: Any = "zeros",
        norm_epsilon: float = 1e-3,
        projection_units: int | None = None,
        **kwargs: Any,
    ) -> None:
        norm_epsilon = check_number(
            "norm_epsilon", norm_epsilon, low=0.0, low_inclusive=False
        )
        super().__init__(units, projection_units=projection_units, **kwargs)
        # One mask for the input and one for the state (not one per gate).
        self.implementation = 2
        self.dropout_mask_count = None
        self.norm_gamma_initializer = initializers.get(norm_gamma_initializer)
        self.norm_beta_initializer = initializers.get(norm_beta_initializer)
        self.norm_epsilon = norm_epsilon

    def _build_variant_weights(self) -> None:
        for prefix, size in (
            ("kernel_norm", 4 * self.units),
            ("recurrent_norm", 4 * self.units),
            ("state_norm", self.units),
        ):
            for part, initializer in (
                ("gamma", self.norm_gamma_initializer),
                ("beta", self.norm_beta_initializer),
            ):
                name = f"{prefix}_{part}"
                weight = self.add_weight(
                    shape=(size,), name=name, initializer=initializer
                )
                setattr(self, name, weight)
        super()._build_variant_weights()

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

    _peephole = True


@keras.saving.register_keras_serializable(package="keras_dlm")
class LSTM(keras.layers.LSTM):
    """`keras.layers.LSTM` with optional peepholes, layer norm and projection.

    With every option off it *is* `keras.layers.LSTM` (same cell, same fast
    paths such as cuDNN, same weights), so weights move freely between the
    two. `peephole=True` uses `PeepholeLSTMCell`, `layer_norm=True` uses
    `LayerNormLSTMCell`, and both together a layer-normalized cell whose
    peepholes look at the normalized cell state. `projection_units=p` adds
    the projection of the LSTMP (Sak et al., 2014), PyTorch's
    `nn.LSTM(proj_size=p)`: the hidden state `h[t] = (o * tanh(c[t])) P` is
    `p` wide, and so are the outputs and the recurrent kernel's input; it
    combines with the other options. No cuDNN kernel exists for the
    variants: on TensorFlow and JAX they run Keras's generic RNN loop; on
    PyTorch the input half of every step (its layer normalization included)
    is computed for the whole sequence first and, without a mask, the
    recurrence runs as a plain PyTorch loop, as Keras's own PyTorch LSTM
    does.

    Args:
        units: positive integer, the size of the cell state (and of the
            hidden state and outputs without a projection).
        peephole: whether to add peephole connections.
        layer_norm: whether to layer-normalize the pre-activations and the
            cell state.
        norm_epsilon: positive epsilon of the layer normalizations (with
            `layer_norm=True`).
        projection_units: optional positive integer, the size of the
            projected hidden state.
        **lstm_kwargs: every argument of `keras.layers.LSTM` (`activation`,
            `dropout`, `recurrent_dropout`, `return_sequences`,
            `return_state`, `go_backwards`, `stateful`, `unroll`,
            `unit_forget_bias`, initializers, ...).

    Call arguments:
        sequences: a 3D tensor `(batch, timesteps, features)`.
        initial_state: optional list `[h, c]` of initial states.
        mask: optional boolean `(batch, timesteps)` tensor.
        training: whether to apply dropout.

    Returns:
        As `keras.layers.LSTM`: the last output `(batch, units)` or the
        sequence `(batch, timesteps, units)` (`projection_units` wide with a
        projection), followed by the final `h` and `c` when
        `return_state=True`.

    Example:

    >>> import numpy as np
    >>> import keras
    >>> from keras_dlm.layers import LSTM
    >>> layer = LSTM(8, peephole=True, layer_norm=True, return_sequences=True)
    >>> tuple(layer(np.ones((2, 6, 3), dtype="float32")).shape)
    (2, 6, 8)
    >>> tuple(LSTM(8, projection_units=3)(np.ones((2, 6, 3), "float32")).shape)
    (2, 3)
    """

    def __init__(
        self,
        units: int,
        *,
        peephole: bool = False,
        layer_norm: bool = False,
        norm_epsilon: float = 1e-3,
        projection_units: int | None = None,
        **lstm_kwargs: Any,
    ) -> None:
        units = _check_cell_arguments(units, lstm_kwargs)
        peephole = check_bool("peephole", peephole)
        layer_norm = check_bool("layer_norm", layer_norm)
        norm_epsilon = check_number(
            "norm_epsilon", norm_epsilon, low=0.0, low_inclusive=False
        )
        projection_units = check_integer(
            "projection_units", projection_units, allow_none=True
        )
        for name in _RNN_FLAGS:
            if name in lstm_kwargs:
                lstm_kwargs[name] = check_bool(name, lstm_kwargs[name])
        use_cudnn = check_choice(
            "use_cudnn", lstm_kwargs.pop("use_cudnn", "auto"), ("auto", True, False)
        )
        if not (peephole or layer_norm or projection_units):
            super().__init__(units, use_cudnn=use_cudnn, **lstm_kwargs)
        else:
            if use_cudnn is True:
                raise ValueError(
                    "Argument `use_cudnn` must be 'auto' or False with peephole, "
                    "layer_norm or projection_units (cuDNN has no such kernel). "
                    f"Received: use_cudnn=True with peephole={peephole}, "
                    f"layer_norm={layer_norm}, projection_units={projection_units}"
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
                cell_class = PeepholeLSTMCell if peephole else _ProjectedLSTMCell
            cell = cell_class(
                units,
                projection_units=projection_units,
                dtype=lstm_kwargs.get("dtype"),
                trainable=lstm_kwargs.get("trainable", True),
                name="lstm_cell",
                **cell_kwargs,
            )
            # Skip keras.layers.LSTM.__init__, which would build a plain cell.
            keras.layers.RNN.__init__(self, cell, **lstm_kwargs)
            self.input_spec = keras.layers.InputSpec(ndim=3)
            self.use_cudnn = False
        self.peephole = peephole
        self.layer_norm = layer_norm
        self.norm_epsilon = norm_epsilon
        self.projection_units = projection_units

    def build(
        self,
        sequences_shape: tuple[int | None, ...],
        initial_state_shape: Any = None,
    ) -> None:
        super().build(sequences_shape, initial_state_shape)
        # A later call with another feature size then fails with Keras's
        # clear input-spec error instead of a backend's matmul error.
        if len(sequences_shape) == 3 and sequences_shape[-1] is not None:
            self.input_spec = keras.layers.InputSpec(
                ndim=3, axes={-1: sequences_shape[-1]}
            )

    def inner_loop(
        self, sequences: Any, initial_state: Any, mask: Any, training: bool = False
    ) -> Any:
        cell = self.cell
        if not isinstance(cell, _LSTMCellBase):
            return super().inner_loop(sequences, initial_state, mask, training)
        if not precompute_input_projection():
            return keras.layers.RNN.inner_loop(
                self, sequences, initial_state, mask, training=training
            )
        # The input half of every step at once (one large matmul and layer
        # norm instead of one per step); the dropout mask is one per sequence.
        dropout_mask = cell._input_dropout_mask(sequences[:, 0, :], training)
        if dropout_mask is not None:
            dropout_mask = keras.tree.map_structure(
                lambda m: ops.expand_dims(m, 1), dropout_mask
            )
        projected = cell._project_inputs(sequences, dropout_mask)
        if keras.tree.is_nested(mask):
            mask = mask[0]
        # The backend's own loop where it has one (PyTorch: torch operations
        # only, no Keras cell call a step); a mask needs Keras's loop.
        recurrent_mask = cell._state_dropout_mask(initial_state[0], training)
        if mask is None and not isinstance(recurrent_mask, (list, tuple)):
            result = run_recurrence(
                cell._recurrence(recurrent_mask),
                projected,
                initial_state,
                go_backwards=self.go_backwards,
                return_sequences=self.return_sequences,
            )
            if result is not None:
                return result
        cell._inputs_projected = True
        try:
            return keras.layers.RNN.inner_loop(
                self, projected, initial_state, mask, training=training
            )
        finally:
            cell._inputs_projected = False

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {
                "peephole": self.peephole,
                "layer_norm": self.layer_norm,
                "norm_epsilon": self.norm_epsilon,
                "projection_units": self.projection_units,
            }
        )
        return config
