"""Vocabulary: counts, order, gensim's subsampling formula, noise, file corpora."""

from __future__ import annotations

import logging
import re

import keras
import numpy as np
import pytest

from keras_dlm.word2vec import Vocabulary

CORPUS = [
    ["the", "cat", "sat", "on", "the", "mat"],
    ["the", "dog", "sat", "on", "the", "log"],
    ["a", "cat", "and", "a", "dog"],
]


def test_counts_order_and_min_count():
    vocab = Vocabulary.build(CORPUS, min_count=2, sample=None)
    assert vocab.words == ["the", "cat", "sat", "on", "dog", "a"]
    np.testing.assert_array_equal(vocab.counts, [4, 2, 2, 2, 2, 2])
    assert vocab.total_words == 17
    assert vocab.retained_words == 14
    assert vocab["dog"] == 4 and "mat" not in vocab
    np.testing.assert_array_equal(vocab.encode(["dog", "mat", "the"]), [4, -1, 0])


def test_max_size_keeps_most_frequent():
    vocab = Vocabulary.build(CORPUS, min_count=1, max_size=3, sample=None)
    assert vocab.words == ["the", "cat", "sat"]


def test_missing_word_key_error_names_the_word():
    vocab = Vocabulary.build(CORPUS, min_count=1)
    with pytest.raises(KeyError, match="zebra"):
        vocab["zebra"]


@pytest.mark.parametrize("sample", [1e-3, 1e-2, 0.05])
def test_keep_probabilities_follow_the_c_tool_formula(sample):
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(300)]
    # Zipf-like counts so that some words are subsampled and some are not.
    corpus = [list(rng.choice(words, 50, p=_zipf(300))) for _ in range(400)]
    vocab = Vocabulary.build(corpus, min_count=3, sample=sample)
    counts = {}
    for sentence in corpus:
        for word in sentence:
            counts[word] = counts.get(word, 0) + 1
    kept = {word: count for word, count in counts.items() if count >= 3}
    threshold = sample * sum(kept.values())
    for word, keep in zip(vocab.words, vocab.keep_probabilities, strict=True):
        count = kept[word]
        expected = min(1.0, (np.sqrt(count / threshold) + 1) * threshold / count)
        assert keep == pytest.approx(expected, rel=1e-12)
    assert vocab.keep_probabilities.min() < 1.0


def test_no_subsampling_keeps_everything():
    vocab = Vocabulary.build(CORPUS, min_count=1, sample=None)
    np.testing.assert_array_equal(vocab.keep_probabilities, 1.0)


def test_noise_distribution_is_count_to_the_power():
    vocab = Vocabulary.build(CORPUS, min_count=1)
    counts = np.array([CORPUS_COUNTS[word] for word in vocab.words], dtype=float)
    for exponent in (0.75, 0.5, 1.0):
        expected = counts**exponent / (counts**exponent).sum()
        np.testing.assert_allclose(vocab.noise_distribution(exponent), expected)


CORPUS_COUNTS = {}
for _sentence in CORPUS:
    for _word in _sentence:
        CORPUS_COUNTS[_word] = CORPUS_COUNTS.get(_word, 0) + 1


def _zipf(size: int) -> np.ndarray:
    weights = 1.0 / np.arange(1, size + 1)
    return weights / weights.sum()


def test_matches_gensim_vocabulary():
    gensim_word2vec = pytest.importorskip("gensim.models.word2vec")
    rng = np.random.default_rng(1)
    words = [f"w{i}" for i in range(200)]
    corpus = [list(rng.choice(words, 30, p=_zipf(200))) for _ in range(300)]
    reference = gensim_word2vec.Word2Vec(min_count=4, sample=1e-3, ns_exponent=0.75)
    reference.build_vocab(corpus)
    vocab = Vocabulary.build(corpus, min_count=4, sample=1e-3)
    assert sorted(vocab.words) == sorted(reference.wv.index_to_key)
    for word in vocab.words:
        assert vocab.counts[vocab[word]] == reference.wv.get_vecattr(word, "count")
    expected_keep = np.array(
        [reference.wv.get_vecattr(word, "sample_int") for word in vocab.words]
    ) / (2**32 - 1)
    np.testing.assert_allclose(vocab.keep_probabilities, expected_keep, atol=1e-8)
    # gensim's cumulative table is the noise distribution scaled to 2**31 - 1.
    order = [reference.wv.get_index(word) for word in vocab.words]
    gensim_noise = (
        np.diff(np.concatenate([[0], reference.cum_table])) / reference.cum_table[-1]
    )
    np.testing.assert_allclose(
        vocab.noise_distribution(0.75), gensim_noise[order], atol=1e-8
    )


def test_file_corpus_replaces_and_counts_undecodable_bytes(tmp_path, caplog):
    path = tmp_path / "corpus.txt"
    path.write_bytes(
        "caf\xe9 ok ok\n".encode("latin-1")
        + b"ok \xff\xfe word\n"
        + "na\u00efve ok word\n".encode()
    )
    with caplog.at_level(logging.WARNING, logger="keras_dlm.word2vec"):
        vocab = Vocabulary.build(path, min_count=1, sample=None)
    assert vocab.replaced_bytes == 3
    assert "3 undecodable bytes" in caplog.text
    assert {"caf\ufffd", "\ufffd\ufffd", "na\u00efve"} <= set(vocab.words)
    assert vocab["ok"] == 0 and vocab.counts[0] == 4
    assert vocab.total_words == 9


def test_compressed_file_corpus(tmp_path):
    import gzip

    path = tmp_path / "corpus.txt.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("a b a\nb a\n")
    vocab = Vocabulary.build(path, min_count=1)
    assert vocab.words == ["a", "b"]


def test_config_round_trip():
    vocab = Vocabulary.build(CORPUS, min_count=2, sample=1e-2)
    restored = Vocabulary.from_config(vocab.get_config())
    assert restored.words == vocab.words
    np.testing.assert_array_equal(restored.counts, vocab.counts)
    np.testing.assert_array_equal(restored.keep_probabilities, vocab.keep_probabilities)
    assert restored.total_words == vocab.total_words


def test_invalid_arguments_are_named():
    with pytest.raises(ValueError, match="`min_count`"):
        Vocabulary.build(CORPUS, min_count=0)
    with pytest.raises(ValueError, match="empty"):
        Vocabulary.build(CORPUS, min_count=100)
    with pytest.raises(TypeError, match="string"):
        Vocabulary.build(["a sentence that was not split"])


# --------------------------------------------------- tokenizer and lowercase


@keras.saving.register_keras_serializable(package="keras_dlm_tests")
def letters_only(line):
    """Splits on anything that is not a letter (drops punctuation)."""
    return re.findall(r"[^\W\d_]+", line)


def test_lowercase_merges_case_variants_everywhere():
    corpus = [["Paris", "is", "in", "France"], ["france", "and", "PARIS", "is"]]
    vocab = Vocabulary.build(corpus, min_count=2, sample=None, lowercase=True)
    assert vocab.words == ["paris", "is", "france"]
    np.testing.assert_array_equal(vocab.counts, [2, 2, 2])
    assert vocab.total_words == 8
    np.testing.assert_array_equal(vocab.encode(["FRANCE", "Is", "in"]), [2, 1, -1])
    assert "France" in vocab and vocab["PARIS"] == 0
    assert next(iter(vocab.sentences(corpus))) == ["paris", "is", "in", "france"]
    plain = Vocabulary.build(corpus, min_count=1, sample=None)
    assert "France" in plain and "FRANCE" not in plain and " France" not in plain
    np.testing.assert_array_equal(plain.encode(["France", "france"]), [3, 4])


def test_tokenizer_splits_file_lines_and_is_saved(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("Hello, world! Hello.\nworld; again\n", encoding="utf-8")
    vocab = Vocabulary.build(
        path, min_count=1, sample=None, tokenizer=letters_only, lowercase=True
    )
    assert vocab.words == ["hello", "world", "again"]
    assert list(vocab.sentences(path)) == [
        ["hello", "world", "hello"],
        ["world", "again"],
    ]
    assert vocab.tokenize("World, AGAIN!") == ["world", "again"]
    assert vocab.lookup_key("Hello!") == "hello" and "WORLD?" in vocab
    whitespace = Vocabulary.build(path, min_count=1, sample=None)
    assert whitespace.words[:2] == ["Hello,", "world!"]
    restored = Vocabulary.from_config(vocab.get_config())
    assert restored.tokenizer is letters_only and restored.lowercase
    assert restored.words == vocab.words


def test_unregistered_tokenizer_works_but_is_not_saved(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("a-b a-c\n", encoding="utf-8")
    vocab = Vocabulary.build(
        path, min_count=1, sample=None, tokenizer=lambda line: line.split("-")
    )
    assert vocab.words == ["a", "b a", "c"]
    with pytest.raises(ValueError, match="register_keras_serializable"):
        vocab.get_config()


def test_missing_corpus_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no-such\.txt"):
        Vocabulary.build(tmp_path / "no-such.txt")


_BAD_BOOLS = ["false", "True", 1, 0, None, 1.5]


def _bad_vocabulary_calls():
    build = Vocabulary.build
    yield (
        lambda v: build(CORPUS, min_count=v),
        "min_count",
        [
            float("nan"),
            float("inf"),
            -1,
            0,
            2.5,
            "3",
            True,
            None,
        ],
    )
    yield (
        lambda v: build(CORPUS, max_size=v),
        "max_size",
        [
            float("nan"),
            float("inf"),
            -1,
            0,
            2.5,
            "3",
            True,
        ],
    )
    yield (
        lambda v: build(CORPUS, min_count=1, sample=v),
        "sample",
        [
            float("nan"),
            float("inf"),
            -1e-3,
            1.5,
            "0.001",
            True,
        ],
    )
    yield lambda v: build(CORPUS, progress=v), "progress", ["false", 1, 0.0]
    yield lambda v: build(CORPUS, lowercase=v), "lowercase", _BAD_BOOLS
    yield lambda v: build(CORPUS, tokenizer=v), "tokenizer", ["split", 3, True]
    words, counts = ["a", "b"], [2, 1]
    yield (
        lambda v: Vocabulary(words, counts, total_words=v),
        "total_words",
        [
            float("nan"),
            -1,
            2.5,
            "3",
            True,
        ],
    )
    yield (
        lambda v: Vocabulary(words, counts, sample=v),
        "sample",
        [
            float("nan"),
            float("inf"),
            -1.0,
            "0",
            True,
        ],
    )
    yield lambda v: Vocabulary(words, counts, lowercase=v), "lowercase", _BAD_BOOLS
    yield (
        lambda v: Vocabulary(words, counts, replaced_bytes=v),
        "replaced_bytes",
        [
            -1,
            1.5,
            None,
            "0",
        ],
    )
    yield lambda v: Vocabulary(words, v), "counts", [[2, 0], [2, -1], [1.5, 2.0], [1]]
    yield lambda v: Vocabulary(v, counts), "words", [["a", "a"], [1, 2]]
    vocab = Vocabulary(words, counts)
    yield (
        lambda v: vocab.noise_distribution(v),
        "ns_exponent",
        [
            float("nan"),
            float("inf"),
            "0.75",
            True,
        ],
    )
    yield lambda v: vocab.tokenize(v), "line", [3, None, ["a"]]


def test_bad_argument_values_are_refused_naming_the_argument():
    tried = 0
    for call, name, values in _bad_vocabulary_calls():
        for value in values:
            with pytest.raises((ValueError, TypeError), match=f"`{name}`"):
                call(value)
            tried += 1
    assert tried > 60
