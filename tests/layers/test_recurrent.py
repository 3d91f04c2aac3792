"""Peephole and layer-norm LSTM cells against NumPy equations, LSTM against Keras."""

from __future__ import annotations

import warnings

import keras
import numpy as np
import pytest

from keras_dlm.layers import LSTM, LayerNormLSTMCell, PeepholeLSTMCell
from keras_dlm.testing import check_layer

UNITS, FEATURES, STEPS, BATCH = 4, 3, 5, 2


def to_numpy(value):
    return np.asarray(keras.ops.convert_to_numpy(value))


def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def layer_norm(v, gamma, beta, eps):
    mean = v.mean(axis=-1, keepdims=True)
    var = v.var(axis=-1, keepdims=True)
    return (v - mean) / np.sqrt(var + eps) * gamma + beta


def numpy_peephole_lstm(x, kernel, recurrent, bias, w_i, w_f, w_o, projection=None):
    """Gers & Schmidhuber (2000), one step at a time; LSTMP with `projection`."""
    h = np.zeros((x.shape[0], recurrent.shape[0]))
    c = np.zeros((x.shape[0], UNITS))
    outputs = []
    for t in range(x.shape[1]):
        z = x[:, t] @ kernel + h @ recurrent + bias
        z_i, z_f, z_c, z_o = np.split(z, 4, axis=-1)
        i = sigmoid(z_i + w_i * c)
        f = sigmoid(z_f + w_f * c)
        c = f * c + i * np.tanh(z_c)
        o = sigmoid(z_o + w_o * c)
        h = o * np.tanh(c)
        if projection is not None:
            h = h @ projection
        outputs.append(h)
    return np.stack(outputs, axis=1), h, c


def numpy_layer_norm_lstm(
    x,
    kernel,
    recurrent,
    bias,
    norms,
    eps,
    peepholes=None,
    projection=None,
    activation=np.tanh,
    gate=sigmoid,
):
    """Ba et al. (2016) as in TF Addons' LayerNormLSTMCell, one step at a time."""
    (kg, kb), (rg, rb), (sg, sb) = norms
    h = np.zeros((x.shape[0], recurrent.shape[0]))
    c = np.zeros((x.shape[0], UNITS))
    outputs = []
    for t in range(x.shape[1]):
        z = (
            layer_norm(x[:, t] @ kernel, kg, kb, eps)
            + layer_norm(h @ recurrent, rg, rb, eps)
            + bias
        )
        z_i, z_f, z_c, z_o = np.split(z, 4, axis=-1)
        if peepholes is not None:
            z_i, z_f = z_i + peepholes[0] * c, z_f + peepholes[1] * c
        i, f = gate(z_i), gate(z_f)
        c = layer_norm(f * c + i * activation(z_c), sg, sb, eps)
        if peepholes is not None:
            z_o = z_o + peepholes[2] * c
        h = gate(z_o) * activation(c)
        if projection is not None:
            h = h @ projection
        outputs.append(h)
    return np.stack(outputs, axis=1), h, c


def _randomize(layer, rng):
    for weight in layer.weights:
        weight.assign(rng.normal(scale=0.5, size=weight.shape).astype("float32"))
    return {
        w.path.split("/")[-1]: to_numpy(w).astype(np.float64) for w in layer.weights
    }


@pytest.fixture
def sequence():
    return (
        np.random.default_rng(0).normal(size=(BATCH, STEPS, FEATURES)).astype("float32")
    )


def test_peephole_cell_matches_numpy_step_by_step(sequence):
    rnn = keras.layers.RNN(
        PeepholeLSTMCell(UNITS), return_sequences=True, return_state=True
    )
    rnn(sequence)
    w = _randomize(rnn, np.random.default_rng(1))
    want_seq, want_h, want_c = numpy_peephole_lstm(
        sequence.astype(np.float64),
        w["kernel"],
        w["recurrent_kernel"],
        w["bias"],
        w["input_gate_peephole_weights"],
        w["forget_gate_peephole_weights"],
        w["output_gate_peephole_weights"],
    )
    seq, h, c = (to_numpy(t) for t in rnn(sequence))
    np.testing.assert_allclose(seq, want_seq, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(h, want_h, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(c, want_c, rtol=1e-5, atol=1e-5)


def test_peephole_split_kernel_path_matches_the_fused_path(sequence):
    fused = keras.layers.RNN(PeepholeLSTMCell(UNITS), return_sequences=True)
    split = keras.layers.RNN(
        PeepholeLSTMCell(UNITS, implementation=1), return_sequences=True
    )
    fused(sequence)
    split(sequence)
    _randomize(fused, np.random.default_rng(2))
    split.set_weights(fused.get_weights())
    np.testing.assert_allclose(
        to_numpy(split(sequence)), to_numpy(fused(sequence)), atol=1e-6
    )


def test_layer_norm_cell_matches_numpy_step_by_step(sequence):
    eps = 1e-3
    rnn = keras.layers.RNN(
        LayerNormLSTMCell(UNITS, norm_epsilon=eps),
        return_sequences=True,
        return_state=True,
    )
    rnn(sequence)
    w = _randomize(rnn, np.random.default_rng(3))
    norms = [
        (w[f"{p}_gamma"], w[f"{p}_beta"])
        for p in ("kernel_norm", "recurrent_norm", "state_norm")
    ]
    want_seq, want_h, want_c = numpy_layer_norm_lstm(
        sequence.astype(np.float64),
        w["kernel"],
        w["recurrent_kernel"],
        w["bias"],
        norms,
        eps,
    )
    seq, h, c = (to_numpy(t) for t in rnn(sequence))
    np.testing.assert_allclose(seq, want_seq, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(h, want_h, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(c, want_c, rtol=1e-4, atol=1e-5)


def test_lstm_with_both_options_matches_numpy(sequence):
    layer = LSTM(
        UNITS, peephole=True, layer_norm=True, norm_epsilon=1e-2, return_sequences=True
    )
    layer(sequence)
    w = _randomize(layer, np.random.default_rng(4))
    norms = [
        (w[f"{p}_gamma"], w[f"{p}_beta"])
        for p in ("kernel_norm", "recurrent_norm", "state_norm")
    ]
    peepholes = [w[f"{g}_gate_peephole_weights"] for g in ("input", "forget", "output")]
    want, _, _ = numpy_layer_norm_lstm(
        sequence.astype(np.float64),
        w["kernel"],
        w["recurrent_kernel"],
        w["bias"],
        norms,
        1e-2,
        peepholes,
    )
    np.testing.assert_allclose(to_numpy(layer(sequence)), want, rtol=1e-4, atol=1e-5)


def test_layer_norm_lstm_backwards_with_other_activations_matches_numpy(sequence):
    layer = LSTM(
        UNITS,
        layer_norm=True,
        activation="relu",
        recurrent_activation="hard_sigmoid",
        go_backwards=True,
        return_sequences=True,
        return_state=True,
    )
    layer(sequence)
    w = _randomize(layer, np.random.default_rng(8))
    want = numpy_layer_norm_lstm(
        sequence[:, ::-1].astype(np.float64),
        w["kernel"],
        w["recurrent_kernel"],
        w["bias"],
        _norms(w),
        1e-3,
        activation=lambda v: np.maximum(v, 0.0),
        gate=lambda v: np.clip(v / 6.0 + 0.5, 0.0, 1.0),
    )
    for got, expected in zip(layer(sequence), want, strict=True):
        np.testing.assert_allclose(to_numpy(got), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"return_sequences": True, "return_state": True},
        {"go_backwards": True, "unit_forget_bias": False},
    ],
)
def test_lstm_with_options_off_equals_keras_lstm(sequence, options):
    ours = LSTM(UNITS, **options)
    theirs = keras.layers.LSTM(UNITS, **options)
    ours(sequence)
    theirs(sequence)
    _randomize(theirs, np.random.default_rng(5))
    ours.set_weights(theirs.get_weights())
    for a, b in zip(
        keras.tree.flatten(ours(sequence)),
        keras.tree.flatten(theirs(sequence)),
        strict=True,
    ):
        np.testing.assert_allclose(to_numpy(a), to_numpy(b), rtol=1e-6, atol=1e-6)


def test_peephole_lstm_with_zero_peepholes_equals_keras_lstm(sequence):
    ours = LSTM(UNITS, peephole=True, return_sequences=True)
    theirs = keras.layers.LSTM(UNITS, return_sequences=True)
    ours(sequence)
    theirs(sequence)
    _randomize(theirs, np.random.default_rng(6))
    ours.set_weights(theirs.get_weights() + [np.zeros(UNITS, "float32")] * 3)
    np.testing.assert_allclose(
        to_numpy(ours(sequence)), to_numpy(theirs(sequence)), atol=1e-6
    )


@pytest.mark.parametrize("options", [{"peephole": True}, {"layer_norm": True}])
def test_masking_skips_padded_steps(sequence, options):
    layer = LSTM(UNITS, **options)
    padded = np.concatenate(
        [sequence, np.zeros((BATCH, 2, FEATURES), "float32")], axis=1
    )
    mask = np.concatenate(
        [np.ones((BATCH, STEPS), bool), np.zeros((BATCH, 2), bool)], axis=1
    )
    full = to_numpy(layer(sequence))
    np.testing.assert_allclose(to_numpy(layer(padded, mask=mask)), full, atol=1e-6)


@pytest.mark.parametrize("options", [{"peephole": True}, {"layer_norm": True}])
def test_stateful_continues_from_the_last_state(sequence, options):
    whole = LSTM(UNITS, return_sequences=True, **options)
    want = to_numpy(whole(sequence))
    stateful = LSTM(UNITS, return_sequences=True, stateful=True, **options)
    stateful(sequence[:, :2])
    stateful.set_weights(whole.get_weights()[: len(stateful.get_weights())])
    stateful.reset_state()
    first = to_numpy(stateful(sequence[:, :2]))
    second = to_numpy(stateful(sequence[:, 2:]))
    np.testing.assert_allclose(np.concatenate([first, second], axis=1), want, atol=1e-5)


@pytest.mark.parametrize("options", [{"peephole": True}, {"layer_norm": True}])
def test_stateful_trains_across_batches(sequence, options):
    # The final states are assigned to the variables that held the initial
    # ones; on PyTorch that must not clobber tensors autograd still needs.
    inputs = keras.Input(batch_shape=(BATCH, 2, FEATURES))
    layer = LSTM(UNITS, stateful=True, recurrent_dropout=0.2, seed=1, **options)
    model = keras.Model(inputs, keras.layers.Dense(1)(layer(inputs)))
    model.compile(optimizer="sgd", loss="mse")
    before = [to_numpy(w) for w in layer.weights]
    targets = np.ones((BATCH, 1), "float32")
    losses = [model.train_on_batch(sequence[:, s : s + 2], targets) for s in (0, 2)]
    assert np.all(np.isfinite(losses))
    for old, new in zip(before, layer.weights, strict=True):
        assert not np.allclose(old, to_numpy(new))


@pytest.mark.parametrize("options", [{"peephole": True}, {"layer_norm": True}])
def test_dropout_applies_only_in_training(sequence, options):
    layer = LSTM(UNITS, dropout=0.5, recurrent_dropout=0.3, seed=1, **options)
    inference = [to_numpy(layer(sequence)) for _ in range(2)]
    np.testing.assert_array_equal(inference[0], inference[1])
    training = [to_numpy(layer(sequence, training=True)) for _ in range(2)]
    assert not np.allclose(training[0], training[1])
    assert not np.allclose(training[0], inference[0])


@pytest.mark.parametrize("cell_class", [PeepholeLSTMCell, LayerNormLSTMCell])
def test_unit_forget_bias_sets_the_forget_gate_bias_to_one(cell_class):
    cell = cell_class(UNITS)
    keras.layers.RNN(cell)(np.zeros((1, 2, FEATURES), "float32"))
    bias = to_numpy(cell.bias)
    np.testing.assert_array_equal(bias[UNITS : 2 * UNITS], 1.0)
    np.testing.assert_array_equal(np.delete(bias, np.s_[UNITS : 2 * UNITS]), 0.0)


@pytest.mark.parametrize(
    "options",
    [
        {"peephole": True, "dropout": 0.2, "seed": 1},
        {"layer_norm": True, "peephole": True, "recurrent_dropout": 0.2, "seed": 1},
        {"layer_norm": True, "go_backwards": True, "dropout": 0.2, "seed": 1},
    ],
)
def test_lstm_passes_the_layer_checks(options):
    check_layer(
        lambda: LSTM(2, return_sequences=True, **options),
        input_shape=(2, 3, 2),
        mixed_precision=True,
        gradient_kwargs={"training": True},
    )


@pytest.mark.parametrize("cell_class", [PeepholeLSTMCell, LayerNormLSTMCell])
def test_cells_in_rnn_pass_the_layer_checks(cell_class):
    check_layer(
        lambda: keras.layers.RNN(cell_class(2, dropout=0.2, seed=1)),
        input_shape=(2, 3, 2),
        mixed_precision=True,
    )
    cell = cell_class(2, dropout=0.2, recurrent_dropout=0.1, unit_forget_bias=False)
    clone = cell_class.from_config(cell.get_config())
    assert clone.get_config() == cell.get_config()


def _norms(w):
    return [
        (w[f"{p}_gamma"], w[f"{p}_beta"])
        for p in ("kernel_norm", "recurrent_norm", "state_norm")
    ]


@pytest.mark.parametrize(
    "options", [{}, {"peephole": True}, {"layer_norm": True, "peephole": True}]
)
def test_projection_matches_numpy(sequence, options):
    layer = LSTM(
        UNITS, projection_units=3, return_sequences=True, return_state=True, **options
    )
    layer(sequence)
    w = _randomize(layer, np.random.default_rng(7))
    assert w["recurrent_kernel"].shape == (3, 4 * UNITS)
    assert w["projection_kernel"].shape == (UNITS, 3)
    x = sequence.astype(np.float64)
    weights = (w["kernel"], w["recurrent_kernel"], w["bias"])
    if options.get("layer_norm"):
        peepholes = [
            w[f"{g}_gate_peephole_weights"] for g in ("input", "forget", "output")
        ]
        want = numpy_layer_norm_lstm(
            x, *weights, _norms(w), 1e-3, peepholes, w["projection_kernel"]
        )
    else:
        peepholes = [
            w.get(f"{g}_gate_peephole_weights", np.zeros(UNITS))
            for g in ("input", "forget", "output")
        ]
        want = numpy_peephole_lstm(x, *weights, *peepholes, w["projection_kernel"])
    for got, expected in zip(layer(sequence), want, strict=True):
        np.testing.assert_allclose(to_numpy(got), expected, rtol=1e-4, atol=1e-5)


def test_projection_matches_torch_lstm_with_proj_size(sequence):
    torch = pytest.importorskip("torch")
    reference = torch.nn.LSTM(FEATURES, UNITS, batch_first=True, proj_size=3)
    ours = LSTM(UNITS, projection_units=3, return_sequences=True, return_state=True)
    ours(sequence)
    p = {name: t.detach().numpy() for name, t in reference.named_parameters()}
    ours.set_weights(
        [
            p["weight_ih_l0"].T,
            p["weight_hh_l0"].T,
            p["bias_ih_l0"] + p["bias_hh_l0"],
            p["weight_hr_l0"].T,
        ]
    )
    with torch.no_grad(), warnings.catch_warnings():
        # PyTorch's note that oneDNN lacks projections (it uses its own loop).
        warnings.filterwarnings("ignore", "LSTM with projections", UserWarning)
        want_seq, (want_h, want_c) = reference(torch.from_numpy(sequence))
    seq, h, c = (to_numpy(t) for t in ours(sequence))
    np.testing.assert_allclose(seq, want_seq.numpy(), atol=1e-5)
    np.testing.assert_allclose(h, want_h[0].numpy(), atol=1e-5)
    np.testing.assert_allclose(c, want_c[0].numpy(), atol=1e-5)


def test_projection_round_trips_and_passes_the_layer_checks(tmp_path, sequence):
    layer = LSTM(UNITS, projection_units=2, layer_norm=True, norm_epsilon=1e-2)
    clone = LSTM.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    model = keras.Sequential([keras.Input((STEPS, FEATURES)), layer])
    path = tmp_path / "lstmp.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.layers[0].projection_units == 2
    np.testing.assert_allclose(
        to_numpy(loaded(sequence)), to_numpy(model(sequence)), atol=1e-6
    )
    check_layer(
        lambda: LSTM(2, projection_units=1, dropout=0.2, seed=1),
        input_shape=(2, 3, 2),
        mixed_precision=True,
        gradient_kwargs={"training": True},
    )


@pytest.mark.parametrize("options", [{}, {"peephole": True}, {"layer_norm": True}])
def test_a_different_feature_size_is_a_clear_error(sequence, options):
    layer = LSTM(UNITS, **options)
    layer(sequence)
    with pytest.raises(ValueError, match=f"expected axis -1.*value {FEATURES}"):
        layer(np.zeros((BATCH, STEPS, FEATURES + 1), "float32"))
    rnn = keras.layers.RNN(PeepholeLSTMCell(UNITS))
    rnn(sequence)
    with pytest.raises(ValueError, match=f"built for inputs with {FEATURES} features"):
        rnn(np.zeros((BATCH, STEPS, FEATURES + 1), "float32"))


NAN, INF = float("nan"), float("inf")
# (argument, bad values): the error must be a ValueError or TypeError naming it.
_BAD_CELL_ARGUMENTS = [
    ("units", [0, -1, 2.0, "4", None, True]),
    ("dropout", [NAN, INF, -0.1, 1.0, "0.1", True]),
    ("recurrent_dropout", [NAN, -INF, 1.5, "0"]),
    ("use_bias", ["false", 1, None]),
    ("unit_forget_bias", ["true", 0]),
    ("implementation", [0, 3, "1"]),
    ("seed", [-1, 1.5, "1"]),
    ("projection_units", [0, -2, 1.5, "2", INF, NAN]),
]
_BAD_LSTM_ARGUMENTS = [
    ("peephole", ["false", 1, None]),
    ("layer_norm", ["true", 0]),
    ("norm_epsilon", [NAN, INF, 0, -1e-3, "1e-3", True]),
    ("return_sequences", ["false", 1]),
    ("return_state", ["false"]),
    ("go_backwards", [0]),
    ("stateful", ["no"]),
    ("unroll", [None]),
    ("use_cudnn", ["yes", None]),
]


def _bad_cases(table, *constructors):
    return [
        pytest.param(make, name, value, id=f"{make.__name__}-{name}={value!r}")
        for make in constructors
        for name, values in table
        for value in values
    ]


def _peephole_cell(**kwargs):
    return PeepholeLSTMCell(kwargs.pop("units", UNITS), **kwargs)


def _layer_norm_cell(**kwargs):
    return LayerNormLSTMCell(kwargs.pop("units", UNITS), **kwargs)


def _lstm(**kwargs):
    return LSTM(kwargs.pop("units", UNITS), **kwargs)


@pytest.mark.parametrize(
    ("make", "name", "value"),
    _bad_cases(_BAD_CELL_ARGUMENTS, _peephole_cell, _layer_norm_cell, _lstm)
    + _bad_cases(_BAD_LSTM_ARGUMENTS, _lstm)
    + _bad_cases([("norm_epsilon", [NAN, INF, 0, -1, "x"])], _layer_norm_cell),
)
def test_bad_arguments_are_refused_naming_the_argument(make, name, value):
    with pytest.raises((ValueError, TypeError), match=f"Argument `{name}`"):
        make(**{name: value})


def test_cudnn_cannot_be_forced_on_the_variants():
    with pytest.raises(ValueError, match="Argument `use_cudnn`"):
        LSTM(3, peephole=True, use_cudnn=True)
