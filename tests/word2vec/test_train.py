"""train(): one call from a corpus to vectors that recover planted clusters,
with the five steps' settings matched, and every argument checked first."""

from __future__ import annotations

import re

import keras
import numpy as np
import pytest

from keras_dlm.word2vec import Word2Vec, train

GROUPS = [[f"G{group}w{member}" for member in range(6)] for group in range(5)]


@keras.saving.register_keras_serializable(package="keras_dlm_tests")
def split_on_commas(line):
    """Tokens separated by commas and spaces."""
    return [token for token in re.split(r"[,\s]+", line) if token]


def _write_corpus(path, sentences=900, seed=0):
    """Each line draws from one group; words capitalized at random."""
    rng = np.random.default_rng(seed)
    lines = []
    for _ in range(sentences):
        words = rng.choice(GROUPS[rng.integers(len(GROUPS))], 7)
        words = [w.upper() if rng.random() < 0.3 else w for w in words]
        lines.append(",".join(words))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _group_recall(wv, key) -> float:
    """Share of each word's 4 nearest neighbours in its own group."""
    hits = 0
    for group in GROUPS:
        members = {key(word) for word in group}
        for word in group:
            neighbours = wv.most_similar(key(word), topn=4)
            hits += sum(other in members for other, _ in neighbours)
    return hits / (len(GROUPS) * 6 * 4)


def test_train_recovers_planted_groups_with_tokenizer_and_lowercase(tmp_path):
    corpus = tmp_path / "corpus.txt"
    _write_corpus(corpus)
    model = train(
        corpus,
        mode="skipgram",
        embedding_dim=12,
        window=3,
        epochs=3,
        min_count=1,
        sample=None,
        batch_size=256,
        tokenizer=split_on_commas,
        lowercase=True,
        seed=3,
        verbose=0,
    )
    assert isinstance(model, Word2Vec)
    vocabulary = model.vocabulary
    assert len(vocabulary) == 30 and vocabulary.total_words == 900 * 7
    assert vocabulary.tokenizer is split_on_commas and vocabulary.lowercase
    assert vocabulary.lookup_key("G0W1") == "g0w1"
    losses = model.history.history["loss"]
    assert len(losses) == 3 and losses[-1] < losses[0]
    # The learning rate decayed over exactly the planned epochs.
    assert model.history.history["learning_rate"][-1] < 0.1 * 0.025
    assert _group_recall(model.wv, vocabulary.lookup_key) > 0.9
    # model.wv looks words up the way the corpus was read.
    np.testing.assert_array_equal(model.wv["G0W1"], model.wv["g0w1"])
    # The tokenizer and lowercasing travel with the saved model.
    model.save(tmp_path / "w2v.keras")
    loaded = keras.models.load_model(tmp_path / "w2v.keras")
    assert loaded.vocabulary.tokenizer is split_on_commas
    assert (
        loaded.vocabulary.lowercase and loaded.vocabulary["G1W2"] == vocabulary["g1w2"]
    )
    np.testing.assert_array_equal(loaded.wv.vectors, model.wv.vectors)


def test_train_cbow_on_token_lists():
    rng = np.random.default_rng(1)
    corpus = [list(rng.choice(GROUPS[rng.integers(5)], 7)) for _ in range(900)]
    model = train(
        corpus,
        mode="cbow",
        embedding_dim=12,
        window=3,
        epochs=5,
        min_count=1,
        sample=None,
        batch_size=256,
        shared_negatives=8,
        workers=1,
        alpha=0.05,
        seed=0,
        verbose=0,
    )
    assert model.mode == "cbow" and model.shared_negatives == 8
    assert model.workers == 1
    assert _group_recall(model.wv, lambda word: word) > 0.9


class _CountingCorpus:
    """A re-iterable corpus that counts how often it was read."""

    def __init__(self):
        self.reads = 0

    def __iter__(self):
        self.reads += 1
        yield from [["a", "b", "c"]] * 10


_BAD_BOOLS = ["false", 1, None]


def _bad_train_arguments(tmp_path):
    positive = [float("nan"), float("inf"), -1, 0, 2.5, "3", True, None]
    for name in (
        "embedding_dim",
        "window",
        "negative",
        "epochs",
        "min_count",
        "batch_size",
    ):
        yield name, positive
    yield "max_size", positive[:-1]
    yield "shared_negatives", [float("nan"), -1, 0, 2.5, "3", True]
    yield "workers", [0, -1, 2.5, "2", True]
    yield "sample", [float("nan"), float("inf"), -0.5, 2.0, "0.001", True]
    yield "ns_exponent", [float("nan"), float("inf"), "0.75", None]
    yield "alpha", [float("nan"), float("inf"), -0.1, 0, "0.025", None]
    yield "min_alpha", [float("nan"), float("inf"), -0.1, 0.5, None]
    for name in ("cbow_mean", "lowercase", "shuffle"):
        yield name, _BAD_BOOLS
    yield "mode", ["skip-gram", "CBOW", None]
    yield "tokenizer", ["split", 3]
    yield "seed", [-1, 1.5, "0"]
    yield "callbacks", ["history", [3], keras.callbacks.History()]
    yield "verbose", [3, "yes", None]


def test_bad_arguments_are_refused_before_the_corpus_is_read(tmp_path):
    corpus = _CountingCorpus()
    tried = 0
    for name, values in _bad_train_arguments(tmp_path):
        for value in values:
            with pytest.raises((ValueError, TypeError), match=f"`{name}`"):
                train(corpus, **{"min_count": 1, name: value})
            tried += 1
    with pytest.raises(ValueError, match=r"`batch_size`.*shared_negatives=8"):
        train(corpus, batch_size=100, shared_negatives=8)
    with pytest.raises(FileNotFoundError, match="`corpus`"):
        train(tmp_path / "missing.txt")
    with pytest.raises(TypeError, match="re-iterable"):
        train(iter([["a", "b"]]))
    assert corpus.reads == 0
    assert tried > 80
