"""The TensorFlow example pipeline draws what gensim's recipe prescribes.

Reduced windows, sentence ends, CBOW contexts, subsampling and negatives
are checked against the definitions (word positions, gensim's keep
formula, count ** 0.75), not against the NumPy generator's output.
"""

from __future__ import annotations

import numpy as np
import pytest

from keras_dlm._backend import word2vec_input
from keras_dlm.word2vec import Vocabulary, Word2Vec

pytestmark = pytest.mark.tf_only

WINDOW = 4


def _positional(length: int, sentence_length: int) -> list[list[str]]:
    """Sentences of distinct words ``p<position>``."""
    words = [f"p{i}" for i in range(length)]
    return [
        words[start : start + sentence_length]
        for start in range(0, length, sentence_length)
    ]


def _passes(model, corpus, passes: int, batch_size: int, epochs: int = 50):
    """The examples of the first ``passes`` corpus passes, as NumPy arrays."""
    dataset = model.make_dataset(corpus, batch_size=batch_size, epochs=epochs)
    pipeline = word2vec_input.example_pipeline(
        dataset.example_plan(), dataset.chunk_indices, workers=2
    )
    batches = []
    for batch in pipeline:
        batches.append({key: value.numpy() for key, value in batch.items()})
        if batch["progress"].numpy().max() >= (passes + 0.5) / epochs:
            break
    examples = {
        key: np.concatenate([batch[key] for batch in batches])
        for key in batches[0]
        if key != "negatives"
    }
    done = examples["progress"] < passes / epochs
    examples = {key: value[done] for key, value in examples.items()}
    negatives = np.stack([batch["negatives"] for batch in batches])
    return examples, negatives


def _positions(vocab: Vocabulary, indices: np.ndarray) -> np.ndarray:
    position = np.array([int(word[1:]) for word in vocab.words])
    return position[indices]


def test_skipgram_pairs_follow_reduced_windows_within_sentences():
    length, sentence_length, passes = 3000, 100, 8
    corpus = _positional(length, sentence_length)
    vocab = Vocabulary.build(corpus, min_count=1, sample=None)
    model = Word2Vec(vocab, embedding_dim=4, window=WINDOW, seed=5)
    examples, _ = _passes(model, corpus, passes, batch_size=512)
    context = _positions(vocab, examples["inputs"])
    centre = _positions(vocab, examples["targets"])
    distance = np.abs(context - centre)
    assert distance.min() >= 1 and distance.max() <= WINDOW
    # Never across a sentence end.
    np.testing.assert_array_equal(context // sentence_length, centre // sentence_length)
    # A centre word keeps the context at distance d when its half-window,
    # uniform on 1..window, is at least d: probability (window - d + 1) / window.
    sentences = length // sentence_length
    for d in range(1, WINDOW + 1):
        probability = (WINDOW - d + 1) / WINDOW
        trials = passes * 2 * sentences * (sentence_length - d)
        expected = trials * probability
        spread = np.sqrt(trials * probability * (1 - probability))
        observed = np.sum(distance == d)
        assert abs(observed - expected) <= 4 * spread + 1, (d, observed, expected)


def test_cbow_contexts_are_the_symmetric_reduced_window():
    length, passes = 2000, 6
    corpus = _positional(length, length)
    vocab = Vocabulary.build(corpus, min_count=1, sample=None)
    model = Word2Vec(vocab, embedding_dim=4, mode="cbow", window=WINDOW, seed=2)
    examples, _ = _passes(model, corpus, passes, batch_size=256)
    centre = _positions(vocab, examples["targets"])
    mask = examples["context_mask"].astype(bool)
    interior = (centre >= WINDOW) & (centre < length - WINDOW)
    offsets = np.array([*range(-WINDOW, 0), *range(1, WINDOW + 1)])
    context = _positions(vocab, examples["inputs"])
    half = mask.sum(axis=1) // 2
    for row in np.flatnonzero(interior)[:2000]:
        columns = np.abs(offsets) <= half[row]
        np.testing.assert_array_equal(mask[row], columns)
        np.testing.assert_array_equal(
            context[row][columns], centre[row] + offsets[columns]
        )
    # Every position is a centre once a pass; its half-window is uniform on 1..W.
    assert np.sum(interior) == passes * (length - 2 * WINDOW)
    counts = np.bincount(half[interior], minlength=WINDOW + 1)[1:]
    trials = np.sum(interior)
    spread = np.sqrt(trials * (1 / WINDOW) * (1 - 1 / WINDOW))
    np.testing.assert_array_less(np.abs(counts - trials / WINDOW), 4 * spread)


def test_subsampling_keeps_words_with_gensims_probability():
    rng = np.random.default_rng(0)
    frequent = {f"f{k}": 2000 >> k for k in range(5)}  # 2000 ... 125
    tokens = [word for word, count in frequent.items() for _ in range(count)]
    rng.shuffle(tokens)
    # Each frequent token sits between two words seen once (always kept),
    # so every kept frequent token has a context and makes one CBOW example.
    line = []
    for index, token in enumerate(tokens):
        line += [f"a{index}", token]
    corpus = [line[start : start + 200] for start in range(0, len(line), 200)]
    sample, passes = 1e-3, 12
    vocab = Vocabulary.build(corpus, min_count=1, sample=sample)
    model = Word2Vec(vocab, embedding_dim=4, mode="cbow", window=2, seed=1)
    examples, _ = _passes(model, corpus, passes, batch_size=500)
    seen = np.bincount(examples["targets"], minlength=len(vocab))
    threshold = sample * len(line)
    for word, count in frequent.items():
        keep = min(1.0, (np.sqrt(count / threshold) + 1) * threshold / count)
        trials = passes * count
        observed = seen[vocab.words.index(word)]
        spread = np.sqrt(trials * keep * (1 - keep))
        assert abs(observed - trials * keep) <= 4 * spread + 1, (word, observed, keep)


def test_negatives_follow_count_to_the_three_quarters():
    counts = np.array([400, 200, 100, 50, 25, 10, 5, 5])
    vocab = Vocabulary([f"w{i}" for i in range(len(counts))], counts, sample=None)
    corpus = [[f"w{i}" for i in np.random.default_rng(3).integers(0, 8, 300)]] * 4
    model = Word2Vec(vocab, embedding_dim=4, window=2, shared_negatives=8, seed=4)
    _, negatives = _passes(model, corpus, passes=30, batch_size=256)
    assert negatives.shape[1:] == (256 // 8, 5)
    observed = np.bincount(negatives.ravel(), minlength=len(counts))
    weights = counts**0.75
    expected = observed.sum() * weights / weights.sum()
    spread = np.sqrt(expected * (1 - weights / weights.sum()))
    np.testing.assert_array_less(np.abs(observed - expected), 4 * spread + 1)


def test_progress_runs_through_the_planned_passes_and_chunks_continue():
    corpus = _positional(1000, 50)
    vocab = Vocabulary.build(corpus, min_count=1, sample=None)
    model = Word2Vec(vocab, embedding_dim=4, window=2, seed=0)
    dataset = model.make_dataset(corpus, batch_size=128, epochs=4)
    pipeline = word2vec_input.example_pipeline(
        dataset.example_plan(), dataset.chunk_indices, workers=1
    )
    batches = [batch for batch, _ in zip(pipeline, range(120), strict=False)]
    progress = np.concatenate([batch["progress"].numpy() for batch in batches])
    # gensim's progress, corpus tokens seen / tokens planned (4 passes of
    # 1000), in corpus order even though the examples are shuffled.
    assert progress[0] < 0.01 and 1 < progress.max() < 2
    assert np.all(np.diff(progress) >= 0)
    # A second pipeline (a second fit) goes on with the chunks after those
    # the first one read.
    later = word2vec_input.example_pipeline(
        dataset.example_plan(), dataset.chunk_indices, workers=1
    )
    assert next(iter(later))["progress"].numpy().min() >= progress.max()
