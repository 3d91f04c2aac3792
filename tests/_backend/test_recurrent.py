"""keras_dlm._backend.recurrent: the PyTorch recurrence against Keras's LSTM."""

from __future__ import annotations

import keras
import numpy as np

from keras_dlm._backend.recurrent import Recurrence, run_recurrence


def test_the_plain_recurrence_equals_keras_lstm_or_is_left_to_keras():
    sequence = np.random.default_rng(0).normal(size=(2, 5, 3)).astype("float32")
    reference = keras.layers.LSTM(
        4, return_sequences=True, return_state=True, go_backwards=True
    )
    reference(sequence)
    kernel, recurrent_kernel, bias = reference.get_weights()
    recurrence = Recurrence(
        recurrent_kernel=keras.ops.convert_to_tensor(recurrent_kernel),
        activation=keras.activations.tanh,
        recurrent_activation=keras.activations.sigmoid,
    )
    inputs = keras.ops.convert_to_tensor(sequence @ kernel + bias)
    zeros = keras.ops.zeros((2, 4))
    result = run_recurrence(
        recurrence, inputs, [zeros, zeros], go_backwards=True, return_sequences=True
    )
    if keras.backend.backend() != "torch":
        assert result is None  # Keras's compiled loop is used there
        return
    last, outputs, (h, c) = result
    want_outputs, want_h, want_c = reference(sequence)
    for got, want in (
        (outputs, want_outputs),
        (last, want_h),
        (h, want_h),
        (c, want_c),
    ):
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(got),
            keras.ops.convert_to_numpy(want),
            rtol=1e-5,
            atol=1e-6,
        )
