"""Every argument of Word2Vec(...), compile(...), make_dataset(...) and fit's
epoch plan refuses bad values with an error that names the argument."""

from __future__ import annotations

import math
import warnings

import pytest

from keras_dlm.word2vec import Vocabulary, Word2Vec
from keras_dlm.word2vec._data import EpochMismatchWarning

NAN, INF = math.nan, math.inf
CORPUS = [["a", "b", "c", "d"]] * 20

# (argument, bad value, error type); the message must name the argument
# and show the value it received.
CONSTRUCTOR_CASES = [
    ("embedding_dim", 0, ValueError),
    ("embedding_dim", -3, ValueError),
    ("embedding_dim", 8.0, TypeError),
    ("embedding_dim", NAN, TypeError),
    ("embedding_dim", "8", TypeError),
    ("embedding_dim", True, TypeError),
    ("window", 0, ValueError),
    ("window", -1, ValueError),
    ("window", INF, TypeError),
    ("window", "5", TypeError),
    ("negative", 0, ValueError),
    ("negative", 2.5, TypeError),
    ("negative", None, TypeError),
    ("ns_exponent", NAN, ValueError),
    ("ns_exponent", INF, ValueError),
    ("ns_exponent", -INF, ValueError),
    ("ns_exponent", "0.75", TypeError),
    ("ns_exponent", True, TypeError),
    ("cbow_mean", "false", TypeError),
    ("cbow_mean", 0, TypeError),
    ("cbow_mean", None, TypeError),
    ("shared_negatives", 0, ValueError),
    ("shared_negatives", -8, ValueError),
    ("shared_negatives", 8.0, TypeError),
    ("shared_negatives", "8", TypeError),
    ("workers", 0, ValueError),
    ("workers", -2, ValueError),
    ("workers", 2.0, TypeError),
    ("workers", True, TypeError),
    ("seed", -1, ValueError),
    ("seed", 1.5, TypeError),
    ("seed", "1", TypeError),
    ("mode", "glove", ValueError),
    ("mode", None, ValueError),
    ("vocabulary", ["a", "b"], TypeError),
]

COMPILE_CASES = [
    ("alpha", NAN, ValueError),
    ("alpha", INF, ValueError),
    ("alpha", 0.0, ValueError),
    ("alpha", -0.1, ValueError),
    ("alpha", "0.025", TypeError),
    ("alpha", True, TypeError),
    ("min_alpha", NAN, ValueError),
    ("min_alpha", INF, ValueError),
    ("min_alpha", -1e-4, ValueError),
    ("min_alpha", 0.5, ValueError),  # above alpha
    ("min_alpha", "0", TypeError),
    ("optimizer", "adam", ValueError),
    ("optimizer", "no-such-optimizer", ValueError),
    ("loss", "mse", ValueError),
    ("metrics", ["accuracy"], ValueError),
]

DATASET_CASES = [
    ("batch_size", 0, ValueError),
    ("batch_size", -64, ValueError),
    ("batch_size", 64.0, TypeError),
    ("batch_size", NAN, TypeError),
    ("batch_size", "64", TypeError),
    ("epochs", 0, ValueError),
    ("epochs", -1, ValueError),
    ("epochs", INF, TypeError),
    ("epochs", "5", TypeError),
    ("seed", -1, ValueError),
    ("seed", NAN, TypeError),
    ("shuffle", "false", TypeError),
    ("shuffle", 1, TypeError),
]


def _vocab() -> Vocabulary:
    return Vocabulary.build(CORPUS, min_count=1, sample=None)


def _assert_names(error: pytest.ExceptionInfo, name: str, value) -> None:
    message = str(error.value)
    assert f"Argument `{name}`" in message
    assert f"Received: {name}=" in message
    if isinstance(value, str):
        assert repr(value) in message


@pytest.mark.parametrize(("name", "value", "error"), CONSTRUCTOR_CASES)
def test_constructor_refuses_bad_values(name, value, error):
    arguments = {"embedding_dim": 4, "window": 2}
    vocabulary = value if name == "vocabulary" else _vocab()
    if name != "vocabulary":
        arguments[name] = value
    with pytest.raises(error) as raised:
        Word2Vec(vocabulary, **arguments)
    _assert_names(raised, name, value)


@pytest.mark.parametrize(("name", "value", "error"), COMPILE_CASES)
def test_compile_refuses_bad_values(name, value, error):
    model = Word2Vec(_vocab(), embedding_dim=4, window=2)
    with pytest.raises(error) as raised:
        model.compile(**{name: value})
    _assert_names(raised, name, value)


@pytest.mark.parametrize(("name", "value", "error"), DATASET_CASES)
def test_make_dataset_refuses_bad_values(name, value, error):
    model = Word2Vec(_vocab(), embedding_dim=4, window=2)
    with pytest.raises(error) as raised:
        model.make_dataset(CORPUS, **{name: value})
    _assert_names(raised, name, value)


def test_batch_size_must_be_a_multiple_of_shared_negatives():
    model = Word2Vec(_vocab(), embedding_dim=4, window=2, shared_negatives=8)
    with pytest.raises(ValueError, match="multiple of shared_negatives=8") as raised:
        model.make_dataset(CORPUS, batch_size=60)
    _assert_names(raised, "batch_size", 60)


def test_good_values_are_accepted_as_plain_python_types():
    model = Word2Vec(
        _vocab(), embedding_dim=4, window=1, ns_exponent=-0.5, cbow_mean=False
    )
    assert model.ns_exponent == -0.5 and isinstance(model.ns_exponent, float)
    model.compile(alpha=0.05, min_alpha=0.05)  # a constant rate is allowed
    model.make_dataset(CORPUS, batch_size=16, epochs=1, seed=0, shuffle=False)


@pytest.mark.parametrize(
    ("steps", "error"),
    [(0, ValueError), (-2, ValueError), (1.5, TypeError), (True, TypeError)],
)
def test_fit_refuses_a_bad_steps_per_epoch_before_training(steps, error):
    model = Word2Vec(Vocabulary.build(CORPUS, min_count=1), embedding_dim=4, seed=0)
    dataset = model.make_dataset(CORPUS, batch_size=16, epochs=1)
    model.compile()
    before = model.get_weights()
    with pytest.raises(error, match="steps_per_epoch"):
        model.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0)
    # Nothing was recorded or trained: the planned epoch still fits.
    assert int(model.optimizer.iterations.numpy()) == 0
    for kept, weight in zip(before, model.get_weights(), strict=True):
        assert (kept == weight).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.fit(dataset, epochs=1, verbose=0)


def test_fit_warns_when_it_runs_more_epochs_than_planned():
    model = Word2Vec(_vocab(), embedding_dim=4, window=2, seed=0)
    dataset = model.make_dataset(CORPUS, batch_size=16, epochs=2)
    model.compile()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.fit(dataset, epochs=1, verbose=0)  # 1 of 2 planned
        model.fit(dataset, epochs=1, verbose=0)  # 2 of 2
    with pytest.warns(
        EpochMismatchWarning, match=r"3 epochs .* make_dataset\(epochs=2\)"
    ):
        model.fit(dataset, epochs=1, verbose=0)
    fresh = model.make_dataset(CORPUS, batch_size=16, epochs=2)
    with pytest.warns(EpochMismatchWarning, match="5 epochs"):
        model.fit(fresh, epochs=5, verbose=0)
    # Shorter epochs of a user's steps_per_epoch count by their batches.
    # (One step an epoch: Keras on JAX and PyTorch wants a divisor of len.)
    short = model.make_dataset(CORPUS, batch_size=16, epochs=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.fit(short, epochs=2 * len(short), steps_per_epoch=1, verbose=0)
    with pytest.warns(EpochMismatchWarning, match=r"batches \(planned: "):
        model.fit(short, epochs=1, steps_per_epoch=1, verbose=0)


@pytest.mark.parametrize(
    ("corpus", "error"),
    [
        ("no/such/corpus.txt", FileNotFoundError),
        (42, TypeError),
        (["a b c", "d e"], TypeError),
        (iter(CORPUS), TypeError),
    ],
)
def test_make_dataset_refuses_bad_corpora(corpus, error):
    model = Word2Vec(_vocab(), embedding_dim=4, window=2)
    with pytest.raises(error, match="Argument `corpus`"):
        model.make_dataset(corpus, batch_size=16)
