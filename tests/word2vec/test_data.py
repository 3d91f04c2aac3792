"""Batch generation: reduced windows, skip-gram direction, CBOW contexts,
fresh subsampling and negatives, checked against the definitions."""

from __future__ import annotations

import numpy as np
import pytest

from keras_dlm.word2vec import Vocabulary, Word2Vec
from keras_dlm.word2vec import _data as data_module
from keras_dlm.word2vec._data import _alias_table

WINDOW = 4


def _positional_corpus(length: int = 4000, sentences: int = 1):
    """Sentences of distinct words, so a word's index gives its position."""
    words = [f"p{i}" for i in range(length)]
    size = length // sentences
    return [words[start : start + size] for start in range(0, length, size)]


def _all_batches(dataset):
    """The examples of exactly one corpus pass (the corpus fits in one chunk)."""
    return [dataset._stream.first_chunk()]


def _skipgram_stream(corpus, vocab, **overrides):
    """A `_BatchStream` built directly, with small chunks by default."""
    settings = dict(
        mode="skipgram",
        window=2,
        negative=5,
        shared_negatives=None,
        ns_exponent=0.75,
        batch_size=64,
        epochs=2,
        seed=0,
        chunk_tokens=500,
    )
    settings.update(overrides)
    return data_module._BatchStream(corpus, vocab, **settings)


def _concatenated(batches, key):
    return np.concatenate([batch[key] for batch in batches])


def test_skipgram_pairs_follow_reduced_random_windows():
    corpus = _positional_corpus()
    vocab = Vocabulary.build(corpus, min_count=1, sample=None)
    model = Word2Vec(vocab, embedding_dim=4, window=WINDOW, seed=3)
    dataset = model.make_dataset(corpus, batch_size=104, epochs=1)
    batches = _all_batches(dataset)
    # In skip-gram the context word's vector predicts the centre word
    # (gensim's order): "inputs" are contexts, "targets" are centres.
    position = {word: index for index, word in enumerate(vocab.words)}
    centres = np.array([position[f"p{i}"] for i in range(4000)])
    order = np.argsort(centres)
    centre_pos = order[_concatenated(batches, "targets")]
    context_pos = order[_concatenated(batches, "inputs")]
    offsets: dict[int, set[int]] = {}
    for centre, context in zip(centre_pos, context_pos, strict=True):
        offsets.setdefault(int(centre), set()).add(int(context - centre))
    half_windows = []
    for centre, seen in offsets.items():
        if WINDOW <= centre < 4000 - WINDOW - 1:
            half = max(abs(offset) for offset in seen)
            # The window is every offset 1..b on both sides, nothing else.
            assert seen == set(range(-half, 0)) | set(range(1, half + 1))
            half_windows.append(half)
    # The effective half-window is uniform on 1..window.
    frequencies = np.bincount(half_windows, minlength=WINDOW + 1)[1:] / len(
        half_windows
    )
    sigma = np.sqrt(0.25 * 0.75 / len(half_windows))
    np.testing.assert_allclose(frequencies, 1 / WINDOW, atol=4 * sigma)
    # Shuffled within the chunk: the first batch spans the whole text, and
    # the learning-rate progress still grows step by step.
    assert np.ptp(centre_pos[:100]) > 2000
    assert np.all(np.diff(_concatenated(batches, "progress")) >= 0)
    # shuffle=False keeps corpus order, grouped by centre word as gensim
    # trains; the same seed gives the same pairs, only in another order.
    in_order = model.make_dataset(corpus, batch_size=104, epochs=1, shuffle=False)
    ordered = _all_batches(in_order)
    ordered_centres = order[_concatenated(ordered, "targets")]
    assert np.all(np.diff(ordered_centres) >= 0)
    pairs = np.stack([centre_pos, context_pos], axis=1)
    ordered_pairs = np.stack(
        [ordered_centres, order[_concatenated(ordered, "inputs")]], axis=1
    )
    np.testing.assert_array_equal(
        pairs[np.lexsort(pairs.T[::-1])],
        ordered_pairs[np.lexsort(ordered_pairs.T[::-1])],
    )


def test_windows_stay_inside_sentences():
    corpus = _positional_corpus(length=600, sentences=60)
    vocab = Vocabulary.build(corpus, min_count=1, sample=None)
    sentence_of = {
        word: index for index, sentence in enumerate(corpus) for word in sentence
    }
    for mode in ("skipgram", "cbow"):
        model = Word2Vec(vocab, embedding_dim=4, window=WINDOW, mode=mode, seed=0)
        batches = _all_batches(model.make_dataset(corpus, batch_size=56, epochs=1))
        targets = _concatenated(batches, "targets")
        inputs = _concatenated(batches, "inputs")
        if mode == "cbow":
            mask = _concatenated(batches, "context_mask").astype(bool)
            pairs = [
                (t, c)
                for t, row, m in zip(targets, inputs, mask, strict=True)
                for c in row[m]
            ]
        else:
            pairs = list(zip(targets, inputs, strict=True))
        assert pairs
        for target, context in pairs:
            assert sentence_of[vocab.words[target]] == sentence_of[vocab.words[context]]


def test_cbow_contexts_are_the_reduced_window():
    corpus = _positional_corpus(length=2000)
    vocab = Vocabulary.build(corpus, min_count=1, sample=None)
    model = Word2Vec(vocab, embedding_dim=4, window=WINDOW, mode="cbow", seed=5)
    batches = _all_batches(model.make_dataset(corpus, batch_size=64, epochs=1))
    targets = _concatenated(batches, "targets")
    inputs = _concatenated(batches, "inputs")
    mask = _concatenated(batches, "context_mask").astype(bool)
    assert inputs.shape[1] == 2 * WINDOW
    position = np.array([int(word[1:]) for word in vocab.words])
    for target, row, used in zip(targets[:500], inputs[:500], mask[:500], strict=True):
        centre = position[target]
        offsets = sorted(position[row[used]] - centre)
        half = max(abs(offset) for offset in offsets)
        if WINDOW <= centre < 2000 - WINDOW:
            assert offsets == [*range(-half, 0), *range(1, half + 1)]


def test_cbow_batches_are_blocks_of_equal_half_window():
    corpus = _positional_corpus(length=3000)
    vocab = Vocabulary.build(corpus, min_count=1, sample=None)
    model = Word2Vec(vocab, embedding_dim=4, window=3, mode="cbow", seed=2)
    dataset = model.make_dataset(corpus, batch_size=64, epochs=2)
    sizes = data_module.cbow_block_sizes(64, 3)
    assert sizes == [22, 21, 21]
    position = np.array([int(word[1:]) for word in vocab.words])
    seen = []
    first_rates = []
    for index in range(2 * len(dataset)):
        batch = dataset[index][0]
        first_rates.append(batch["progress"][0])
        start = 0
        for block, size in enumerate(sizes):
            half = block + 1
            rows = slice(start, start + size)
            mask = batch["context_mask"][rows].astype(bool)
            inside = np.zeros(6, bool)
            inside[3 - half : 3 + half] = True
            # Block k holds the examples of half-window k + 1: their context
            # is the 2 (k + 1) middle columns (fewer only at the text's ends).
            assert not mask[:, ~inside].any()
            centres = position[batch["targets"][rows]]
            interior = (centres >= half) & (centres < 3000 - half)
            assert mask[interior][:, inside].all()
            seen.extend(centres.tolist())
            start += size
    # Every centre word of the two passes is trained, each about twice.
    counts = np.bincount(seen, minlength=3000)
    assert np.mean(counts == 2) > 0.9 and counts.max() <= 3
    # The learning rate still falls batch by batch.
    assert np.all(np.diff(first_rates) >= 0)


def test_subsampling_is_fresh_each_pass_and_follows_keep_probability():
    rng = np.random.default_rng(0)
    common = ["the"] * 3000
    rare = [f"r{i}" for i in range(30)] * 50
    tokens = np.array(common + rare)
    rng.shuffle(tokens)
    corpus = [list(tokens[start : start + 30]) for start in range(0, len(tokens), 30)]
    vocab = Vocabulary.build(corpus, min_count=1, sample=1e-2)
    keep_the = vocab.keep_probabilities[vocab["the"]]
    assert 0.05 < keep_the < 0.5
    model = Word2Vec(vocab, embedding_dim=4, window=2, mode="cbow", seed=1)
    dataset = model.make_dataset(corpus, batch_size=16, epochs=2)
    stream = dataset._stream
    passes = []
    for _ in range(2):
        (encoded,) = stream._read_chunks()  # the corpus is one chunk
        chunk = stream._examples(encoded)
        passes.append(chunk["targets"])
    kept_fractions = [np.mean(targets == vocab["the"]) for targets in passes]
    assert not np.array_equal(passes[0], passes[1])
    # Expected share of "the" among kept tokens.
    kept_the = 3000 * keep_the
    kept_rare = sum(vocab.counts[1:] * vocab.keep_probabilities[1:])
    expected = kept_the / (kept_the + kept_rare)
    for fraction in kept_fractions:
        assert fraction == pytest.approx(expected, abs=0.05)


def test_negatives_follow_the_noise_distribution_and_change_every_step():
    rng = np.random.default_rng(2)
    words = [f"w{i}" for i in range(20)]
    probabilities = np.arange(1, 21, dtype=float) ** 2
    corpus = [
        list(rng.choice(words, 20, p=probabilities / probabilities.sum()))
        for _ in range(500)
    ]
    vocab = Vocabulary.build(corpus, min_count=1, sample=None)
    model = Word2Vec(
        vocab, embedding_dim=4, window=2, negative=5, shared_negatives=1, seed=0
    )
    dataset = model.make_dataset(corpus, batch_size=256, epochs=1)
    negatives = [dataset[index][0]["negatives"] for index in range(20)]
    assert negatives[0].shape == (256, 5)
    assert not np.array_equal(negatives[0], negatives[1])
    observed = np.bincount(np.concatenate(negatives).ravel(), minlength=len(vocab))
    expected = vocab.noise_distribution(0.75) * observed.sum()
    chi_square = np.sum((observed - expected) ** 2 / expected)
    # 19 degrees of freedom: the 99.9% quantile is 43.8.
    assert chi_square < 43.8


def test_shared_negatives_shape_and_batch_size_check():
    corpus = _positional_corpus(length=500)
    vocab = Vocabulary.build(corpus, min_count=1, sample=None)
    model = Word2Vec(vocab, embedding_dim=4, window=2, negative=3, shared_negatives=8)
    dataset = model.make_dataset(corpus, batch_size=64, epochs=1)
    assert dataset[0][0]["negatives"].shape == (8, 3)
    with pytest.raises(ValueError, match="multiple of shared_negatives"):
        model.make_dataset(corpus, batch_size=60, epochs=1)


def test_epoch_length_matches_one_corpus_pass_and_progress_grows():
    rng = np.random.default_rng(4)
    words = [f"w{i}" for i in range(50)]
    corpus = [list(rng.choice(words, 15)) for _ in range(2000)]
    vocab = Vocabulary.build(corpus, min_count=1, sample=1e-2)
    model = Word2Vec(vocab, embedding_dim=4, window=3, seed=0)
    dataset = model.make_dataset(corpus, batch_size=128, epochs=2)
    stream = dataset._stream
    (encoded,) = stream._read_chunks()  # the corpus is one chunk
    first_pass = [stream._examples(encoded) for _ in range(3)]
    pairs = np.mean([len(chunk["targets"]) for chunk in first_pass[1:]])
    assert len(dataset) == pytest.approx(pairs / 128, rel=0.05)
    progress = [dataset[index][0]["progress"][0] for index in range(len(dataset))]
    assert np.all(np.diff(progress) >= 0)
    assert 0.0 <= progress[0] < 0.01


def test_one_shot_iterator_is_refused():
    vocab = Vocabulary.build([["a", "b"]] * 3, min_count=1)
    model = Word2Vec(vocab, embedding_dim=4, window=1)
    with pytest.raises(TypeError, match="re-iterable"):
        model.make_dataset(iter([["a", "b"]] * 3), batch_size=8)


def test_alias_table_represents_the_noise_distribution_exactly():
    rng = np.random.default_rng(3)
    probabilities = rng.pareto(1.0, size=500) + 1e-9
    probabilities /= probabilities.sum()
    accept, alias = _alias_table(probabilities)
    # Outcome j is drawn when slot j is accepted, or when a slot whose alias
    # is j is rejected; each slot is drawn with probability 1/n.
    implied = accept.copy()
    np.add.at(implied, alias, 1.0 - accept)
    np.testing.assert_allclose(implied / len(probabilities), probabilities, rtol=1e-9)
    assert np.all((accept >= 0) & (accept <= 1))


def test_cached_corpus_gives_the_same_batches_as_a_streamed_one(monkeypatch):
    corpus = [[f"w{(i * 7 + j) % 40}" for j in range(12)] for i in range(200)]
    vocab = Vocabulary.build(corpus, min_count=1)

    def batches(cache_tokens: int) -> list[dict[str, np.ndarray]]:
        monkeypatch.setattr(data_module, "_CACHE_TOKENS", cache_tokens)
        # Small chunks, so three passes cross several chunk boundaries.
        stream = _skipgram_stream(corpus, vocab, window=3, epochs=3, seed=5)
        assert stream.cache == (cache_tokens > 0)
        steps = 3 * 12 * 200 * 3 // 64  # about three passes of examples
        return [stream.take(1) for _ in range(steps)]

    cached, streamed = batches(1 << 25), batches(0)
    for left, right in zip(cached, streamed, strict=True):
        for key in left:
            np.testing.assert_array_equal(left[key], right[key])


def test_cache_is_dropped_when_the_corpus_outgrows_it(monkeypatch):
    # The vocabulary comes from a small sample; the training corpus is
    # larger than the cache limit although the vocabulary's count is not.
    monkeypatch.setattr(data_module, "_CACHE_TOKENS", 1000)
    sample = [[f"w{(i + j) % 30}" for j in range(10)] for i in range(50)]
    corpus = sample * 10  # 5000 tokens
    vocab = Vocabulary.build(sample, min_count=1)
    stream = _skipgram_stream(corpus, vocab, chunk_tokens=400)
    assert stream.cache
    chunks = stream._chunks()
    first_pass = [next(chunks) for _ in range(13)]  # 5000 tokens / 400 a chunk
    assert sum(len(ids) for ids, _ in first_pass) == 5000
    assert not stream.cache and stream._encoded == []
    # The next pass is read from the corpus again, not from a partial cache.
    ids, _ = next(chunks)
    np.testing.assert_array_equal(ids, first_pass[0][0])


def test_stacked_epoch_ends_after_an_epoch_and_replays_what_was_not_trained():
    """The TensorFlow input's epochs: exactly len(dataset) batches each; a
    call that starts while the step counter has not moved serves the
    previous call's groups again; a newer call stops an older generator."""
    corpus = [["a", "b", "c", "d", "e", "f"]] * 200
    vocab = Vocabulary.build(corpus, min_count=1, sample=None)
    model = Word2Vec(vocab, embedding_dim=4, window=2, seed=0)
    dataset = model.make_dataset(corpus, batch_size=16, epochs=3)
    assert len(dataset) > 5
    steps = [0]

    def counter():
        return steps[0]

    def progress(groups):
        return np.concatenate([group["progress"] for group in groups])

    # An iterator that reads a little and is dropped before any step ...
    probe = dataset.stacked_epoch(count=4, steps_trained=counter)
    read = [next(probe), next(probe)]
    # ... then the real epoch: it starts with the same groups, ends after
    # exactly len(dataset) batches, and the dropped generator is stopped.
    epoch = list(dataset.stacked_epoch(count=4, steps_trained=counter))
    assert sum(len(group["targets"]) for group in epoch) == len(dataset)
    np.testing.assert_array_equal(progress(epoch[:2]), progress(read))
    assert list(probe) == []
    # Once the model has trained, the next call reads on (no replay).
    steps[0] = len(dataset)
    following = list(dataset.stacked_epoch(count=4, steps_trained=counter))
    assert sum(len(group["targets"]) for group in following) == len(dataset)
    assert progress(following).ravel()[0] >= progress(epoch).ravel()[-1]
