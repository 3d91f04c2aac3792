"""Word2Vec training: sparse train_step against NumPy equations, planted
clusters in both modes, gensim's Lee-corpus check, saving and compiling."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from keras_dlm.word2vec import Vocabulary, Word2Vec

CLUSTERS = [[f"c{group}w{member}" for member in range(8)] for group in range(6)]


def _cluster_corpus(sentences: int = 1500, seed: int = 0):
    """Sentences drawn from one planted cluster each, plus shared filler."""
    rng = np.random.default_rng(seed)
    corpus = []
    for _ in range(sentences):
        words = list(rng.choice(CLUSTERS[rng.integers(len(CLUSTERS))], 8))
        words.insert(int(rng.integers(9)), "the")
        corpus.append(words)
    return corpus


def _cluster_recall(wv) -> float:
    hits = 0
    for cluster in CLUSTERS:
        for word in cluster:
            neighbours = [other for other, _ in wv.most_similar(word, topn=7)]
            hits += sum(other in cluster for other in neighbours)
    return hits / (len(CLUSTERS) * 8 * 7)


@pytest.mark.parametrize(
    ("mode", "shared"),
    [("skipgram", 1), ("cbow", 1), ("skipgram", 8), ("cbow", 8)],
)
def test_planted_clusters_are_recovered(mode, shared):
    corpus = _cluster_corpus()
    vocab = Vocabulary.build(corpus, min_count=1, sample=1e-2)
    model = Word2Vec(
        vocab, embedding_dim=16, mode=mode, window=3, shared_negatives=shared, seed=1
    )
    dataset = model.make_dataset(corpus, batch_size=512, epochs=4)
    model.compile()
    history = model.fit(dataset, epochs=4, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.8 * losses[0]
    assert _cluster_recall(model.wv) > 0.9


class _OneBatch(keras.utils.PyDataset):
    def __init__(self, batch):
        super().__init__()
        self.batch = batch

    def __len__(self):
        return 1

    def __getitem__(self, index):
        return (self.batch,)


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _reference_step(w_in, w_out, batch, *, mode, negative, shared, cbow_mean, rate):
    """One negative-sampling SGD step written directly from the equations."""
    w_in, w_out = w_in.astype(np.float64), w_out.astype(np.float64)
    new_in, new_out = w_in.copy(), w_out.copy()
    targets, inputs = batch["targets"], batch["inputs"]
    negatives = batch["negatives"]
    if shared:
        negatives = np.repeat(negatives, shared, axis=0)
    for example, target in enumerate(targets):
        if mode == "skipgram":
            used = [inputs[example]]
            hidden = w_in[inputs[example]]
        else:
            used = inputs[example][batch["context_mask"][example] > 0]
            hidden = w_in[used].sum(axis=0)
            if cbow_mean:
                hidden = hidden / len(used)
        error = np.zeros_like(hidden)
        for position, word in enumerate([target, *negatives[example]]):
            label = 1.0 if position == 0 else 0.0
            if position > 0 and word == target:
                continue  # gensim skips a noise word equal to the target
            score = hidden @ w_out[word]
            if abs(score) >= 6:
                continue  # saturated, as in gensim / the C tool
            gradient = (label - _sigmoid(score)) * rate
            error += gradient * w_out[word]
            new_out[word] += gradient * hidden
        if mode == "cbow" and not cbow_mean:
            error = error / len(used)
        for word in used:
            new_in[word] += error
    return new_in, new_out


def _one_batch_input(batch):
    """One batch for `fit`, with its shapes known when the step is traced.

    Keras feeds a ``PyDataset`` to TensorFlow with an unknown batch size,
    which makes the CBOW step take its path over all context columns; a
    ``tf.data`` dataset of the batch keeps the size, as `fit` on a
    `make_dataset` stream does.
    """
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.data.Dataset.from_tensors(batch)
    return _OneBatch(batch)


@pytest.mark.parametrize(
    ("mode", "shared", "cbow_mean", "rows"),
    [
        ("skipgram", 1, True, "as made"),
        ("skipgram", 4, True, "as made"),
        # As made by make_dataset, the CBOW rows are in half-window blocks
        # and the step, told so (as fit tells it for a make_dataset stream),
        # updates only the blocks' columns.
        ("cbow", 1, True, "blocks"),
        ("cbow", 1, False, "blocks"),
        ("cbow", 4, True, "blocks"),
        # Any other input: the update over all context columns.
        ("cbow", 1, True, "as made"),
        ("cbow", 1, True, "shuffled"),
        ("cbow", 1, False, "shuffled"),
    ],
)
def test_train_step_matches_numpy_equations(mode, shared, cbow_mean, rows, monkeypatch):
    rng = np.random.default_rng(7)
    words = [f"w{i}" for i in range(40)]
    corpus = [list(rng.choice(words, 12)) for _ in range(40)]
    vocab = Vocabulary.build(corpus, min_count=1, sample=None)
    model = Word2Vec(
        vocab,
        embedding_dim=6,
        mode=mode,
        window=2,
        negative=3,
        shared_negatives=shared,
        cbow_mean=cbow_mean,
        seed=0,
    )
    model.input_embeddings.assign(rng.normal(0, 0.8, (len(vocab), 6)).astype("float32"))
    model.output_embeddings.assign(
        rng.normal(0, 0.8, (len(vocab), 6)).astype("float32")
    )
    w_in = keras.ops.convert_to_numpy(model.input_embeddings)
    w_out = keras.ops.convert_to_numpy(model.output_embeddings)
    batch = model.make_dataset(corpus, batch_size=32, epochs=3)[0][0]
    if rows == "shuffled":
        order = rng.permutation(32)
        batch = {
            key: value if key == "negatives" else value[order]
            for key, value in batch.items()
        }
        assert batch["context_mask"][:16, [0, 3]].any()
    if rows == "blocks":
        monkeypatch.setattr(Word2Vec, "_batches_in_blocks", lambda self, x: True)
    model.compile(alpha=0.05, min_alpha=0.001)
    logs = model.fit(
        _one_batch_input(batch), epochs=1, verbose=0, shuffle=False
    ).history
    assert model._context_blocks == (rows == "blocks")
    rate = 0.05 - (0.05 - 0.001) * batch["progress"][0]
    expected_in, expected_out = _reference_step(
        w_in,
        w_out,
        batch,
        mode=mode,
        negative=3,
        shared=shared,
        cbow_mean=cbow_mean,
        rate=rate,
    )
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(model.input_embeddings), expected_in, atol=2e-5
    )
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(model.output_embeddings), expected_out, atol=2e-5
    )
    assert logs["learning_rate"][0] == pytest.approx(rate, rel=1e-5)
    # Sparse: rows the batch did not touch are bit-for-bit unchanged.
    touched = (
        set(np.ravel(batch["inputs"]))
        if mode == "skipgram"
        else set(np.ravel(batch["inputs"][batch["context_mask"] > 0]))
    )
    untouched = sorted(set(range(len(vocab))) - touched)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(model.input_embeddings)[untouched], w_in[untouched]
    )


def test_fit_updates_context_blocks_only_for_a_make_dataset_stream():
    corpus = _cluster_corpus(sentences=200)
    vocab = Vocabulary.build(corpus, min_count=1, sample=None)
    for mode, expected in (("cbow", True), ("skipgram", False)):
        model = Word2Vec(vocab, embedding_dim=4, mode=mode, window=2, seed=0)
        dataset = model.make_dataset(corpus, batch_size=64, epochs=2)
        model.compile()
        model.fit(dataset, epochs=1, verbose=0)
        assert model._context_blocks is expected
        # Another input after a stream: the step is traced again, over all
        # context columns.
        model.fit(_one_batch_input(dataset[0][0]), epochs=1, verbose=0, shuffle=False)
        assert model._context_blocks is False


def test_default_negatives_are_shared_in_skipgram_and_per_example_in_cbow():
    vocab = Vocabulary.build([["a", "b", "c"]] * 5, min_count=1, sample=None)
    skipgram = Word2Vec(vocab, embedding_dim=4, window=1)
    cbow = Word2Vec(vocab, embedding_dim=4, window=1, mode="cbow")
    assert (skipgram.shared_negatives, cbow.shared_negatives) == (8, 1)
    assert skipgram.get_config()["shared_negatives"] == 8
    corpus = [["a", "b", "c"]] * 50
    spec = skipgram.make_dataset(corpus, epochs=1).batch_spec()
    assert spec["negatives"][0] == (4096 // 8, 5)
    assert cbow.make_dataset(corpus, epochs=1).batch_spec()["negatives"][0] == (
        4096,
        5,
    )


def test_learning_rate_decays_linearly_to_min_alpha():
    corpus = _cluster_corpus(sentences=400)
    vocab = Vocabulary.build(corpus, min_count=1)
    model = Word2Vec(vocab, embedding_dim=8, window=2, seed=0)
    dataset = model.make_dataset(corpus, batch_size=64, epochs=3)
    # One step per call, so the callback sees every step's learning rate.
    model.compile(steps_per_execution=1)
    seen = []
    callback = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: seen.append(float(logs["learning_rate"]))
    )
    model.fit(dataset, epochs=3, verbose=0, callbacks=[callback])
    assert seen[0] == pytest.approx(0.025, abs=2e-3)
    assert seen[-1] == pytest.approx(0.0001, abs=2e-3)
    assert np.all(np.array(seen) >= 0.0001 - 1e-9)
    assert np.all(np.diff(seen) <= 1e-9)
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 3 * len(
        dataset
    )


def test_user_sgd_learning_rate_is_used():
    corpus = _cluster_corpus(sentences=100)
    vocab = Vocabulary.build(corpus, min_count=1)
    model = Word2Vec(vocab, embedding_dim=8, window=2, seed=0)
    dataset = model.make_dataset(corpus, batch_size=128, epochs=1)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0))
    before = keras.ops.convert_to_numpy(model.input_embeddings)
    model.fit(dataset, epochs=1, verbose=0)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(model.input_embeddings), before
    )


def test_compile_refuses_dense_optimizers_and_losses():
    vocab = Vocabulary.build([["a", "b"]] * 3, min_count=1)
    model = Word2Vec(vocab, embedding_dim=4, window=1)
    with pytest.raises(ValueError, match="SGD without momentum"):
        model.compile(optimizer="adam")
    with pytest.raises(ValueError, match="SGD without momentum"):
        model.compile(optimizer=keras.optimizers.SGD(momentum=0.9))
    with pytest.raises(ValueError, match="loss"):
        model.compile(loss="mse")


def test_invalid_arguments_are_named():
    vocab = Vocabulary.build([["a", "b"]] * 3, min_count=1)
    with pytest.raises(ValueError, match="mode"):
        Word2Vec(vocab, mode="glove")
    with pytest.raises(ValueError, match="window"):
        Word2Vec(vocab, window=0)
    with pytest.raises(TypeError, match="Vocabulary"):
        Word2Vec(["a", "b"])
    with pytest.raises(ValueError, match=r"Argument `workers`.*Received: workers=0"):
        Word2Vec(vocab, workers=0)


def test_workers_is_saved_and_sizes_the_tensorflow_input_threads():
    corpus = _cluster_corpus(sentences=100)
    vocab = Vocabulary.build(corpus, min_count=1)
    model = Word2Vec(vocab, embedding_dim=4, workers=3, seed=0)
    assert Word2Vec.from_config(model.get_config()).workers == 3
    assert Word2Vec(vocab, embedding_dim=4).workers is None
    if keras.backend.backend() == "tensorflow":
        from keras_dlm._backend import word2vec_input

        dataset = model.make_dataset(corpus, batch_size=16, epochs=1)
        pipeline, steps = word2vec_input.training_input(model, dataset, 3)
        assert steps == len(dataset)  # and the pipeline ends there
        assert pipeline.options().threading.private_threadpool_size == 3


def test_save_and_load_keep_vectors_vocabulary_and_schedule(tmp_path):
    corpus = _cluster_corpus(sentences=200)
    vocab = Vocabulary.build(corpus, min_count=1)
    model = Word2Vec(vocab, embedding_dim=8, mode="cbow", window=2, seed=0)
    dataset = model.make_dataset(corpus, batch_size=128, epochs=2)
    model.compile(alpha=0.05, min_alpha=0.001)
    model.fit(dataset, epochs=1, verbose=0)
    path = tmp_path / "w2v.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, Word2Vec)
    assert loaded.vocabulary.words == vocab.words
    np.testing.assert_array_equal(loaded.vocabulary.counts, vocab.counts)
    assert loaded.mode == "cbow" and loaded.window == 2
    np.testing.assert_array_equal(loaded.wv.vectors, model.wv.vectors)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(loaded.output_embeddings),
        keras.ops.convert_to_numpy(model.output_embeddings),
    )
    assert loaded._decay == (0.05, 0.001)
    # Training goes on after loading.
    loaded.fit(
        loaded.make_dataset(corpus, batch_size=128, epochs=1), epochs=1, verbose=0
    )
    assert not np.array_equal(loaded.wv.vectors, model.wv.vectors)


def test_call_returns_input_vectors():
    vocab = Vocabulary.build([["a", "b", "c"]] * 3, min_count=1)
    model = Word2Vec(vocab, embedding_dim=4, window=1, seed=0)
    out = keras.ops.convert_to_numpy(model(np.array([[2, 0]])))
    np.testing.assert_array_equal(out[0], model.wv.vectors[[2, 0]])


def test_lee_corpus_attacks_near_bombings():
    """gensim's own sanity check: 'bombings' in the top 50 of 'attacks'."""
    utils = pytest.importorskip("gensim.test.utils")
    path = utils.datapath("lee_background.cor")
    vocab = Vocabulary.build(path, min_count=5)
    # gensim's test_sg_neg settings (window 4, negative 15, 10 epochs).
    model = Word2Vec(vocab, window=4, negative=15, shared_negatives=8, seed=42)
    dataset = model.make_dataset(path, batch_size=4096, epochs=10)
    model.compile()
    model.fit(dataset, epochs=10, verbose=0)
    neighbours = [word for word, _ in model.wv.most_similar("attacks", topn=None)]
    assert neighbours.index("bombings") < 50


def test_tensorflow_runs_several_steps_per_call_by_default():
    corpus = _cluster_corpus(sentences=100)
    model = Word2Vec(Vocabulary.build(corpus, min_count=1), embedding_dim=4, seed=0)
    model.compile()
    expected = 16 if keras.backend.backend() == "tensorflow" else 1
    assert model.steps_per_execution == expected
    dataset = model.make_dataset(corpus, batch_size=64, epochs=1)
    history = model.fit(dataset, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][-1])
    # Every planned step ran, and no more (the last call stops at the end).
    steps = int(keras.ops.convert_to_numpy(model.optimizer.iterations))
    assert steps == len(dataset)


@pytest.mark.parametrize("mode", ["skipgram", "cbow"])
def test_each_epoch_trains_its_own_batches_with_the_default_steps_per_call(mode):
    """Keras on TensorFlow runs 16 steps per call: an epoch that is not a
    multiple of 16 batches used to train up to a whole call more, so the
    planned passes ran out early and the rate sat at min_alpha."""
    corpus = _cluster_corpus(sentences=300)
    vocab = Vocabulary.build(corpus, min_count=1)
    model = Word2Vec(vocab, embedding_dim=8, mode=mode, window=2, seed=0)
    dataset = model.make_dataset(corpus, batch_size=128, epochs=4)
    assert len(dataset) % 16 and len(dataset) < 40
    model.compile()
    history = model.fit(dataset, epochs=4, verbose=0)
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 4 * len(
        dataset
    )
    # The last step of each epoch: the schedule's progress is epochs done /
    # planned. len(dataset) is an estimate rounded up to whole batches, so
    # the stream's passes can run ahead by up to a batch an epoch.
    rates = np.array(history.history["learning_rate"])
    done = (0.025 - rates) / (0.025 - 0.0001)
    np.testing.assert_allclose(
        done, [0.25, 0.5, 0.75, 1.0], rtol=1.0 / len(dataset), atol=0.03
    )


def test_a_users_steps_per_epoch_sets_the_epoch_length():
    corpus = _cluster_corpus(sentences=300)
    model = Word2Vec(Vocabulary.build(corpus, min_count=1), embedding_dim=8, seed=0)
    dataset = model.make_dataset(corpus, batch_size=64, epochs=3)
    assert len(dataset) > 5
    model.compile()
    model.fit(dataset, epochs=3, steps_per_epoch=5, verbose=0)
    # 3 epochs of 5 steps (not whole calls of 16 on TensorFlow).
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 15


@pytest.mark.tf_only
def test_tensorflow_feed_has_no_autotune_timer_and_keeps_batch_order():
    # tf.data's autotune thread wakes at doubling intervals (up to 41 s) and
    # fit used to wait for its next wake-up after the last step.
    from keras_dlm._backend import sparse

    corpus = _cluster_corpus(sentences=100)
    model = Word2Vec(Vocabulary.build(corpus, min_count=1), embedding_dim=4, seed=0)
    reference = model.make_dataset(corpus, batch_size=16, epochs=1, seed=3)
    fed = model.make_dataset(corpus, batch_size=16, epochs=1, seed=3)
    pipeline = sparse.stacked_batch_input(
        fed, fed.stacked_epoch, fed.batch_spec(), batches=len(fed)
    )
    assert pipeline.options().autotune.enabled is False
    # The first corpus pass (later ones depend on how negatives were drawn).
    assert len(fed) > 10
    for index, batch in enumerate(pipeline.take(10)):
        expected = reference[index][0]
        for key in ("inputs", "targets", "progress"):
            np.testing.assert_array_equal(batch[key].numpy(), expected[key])
    # One iterator is one epoch: it ends after len(fed) batches.
    assert int(pipeline.cardinality()) == len(fed)
    assert sum(1 for _ in pipeline) == len(fed)
