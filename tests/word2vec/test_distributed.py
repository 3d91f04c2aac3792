"""Word2Vec under tf.distribute.MirroredStrategy with two logical CPU devices.

Logical devices must be configured before TensorFlow initializes, so the
training runs in a fresh subprocess with a hard timeout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

_SCRIPT = textwrap.dedent(
    """
    import json

    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2
    )

    import keras
    import numpy as np

    from keras_dlm.word2vec import Vocabulary, Word2Vec

    result = {}
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    result["replicas"] = strategy.num_replicas_in_sync

    # 1. One step on one batch: mirrored (each replica takes half the batch)
    # against the same step on one device.
    rng = np.random.default_rng(7)
    words = [f"w{i}" for i in range(40)]
    corpus = [list(rng.choice(words, 12)) for _ in range(40)]
    vocab = Vocabulary.build(corpus, min_count=1, sample=None)
    w_in = rng.normal(0, 0.8, (len(vocab), 6)).astype("float32")
    w_out = rng.normal(0, 0.8, (len(vocab), 6)).astype("float32")

    def make(mode):
        model = Word2Vec(
            vocab, embedding_dim=6, mode=mode, window=2, negative=3,
            shared_negatives=4, seed=0,
        )
        model.input_embeddings.assign(w_in)
        model.output_embeddings.assign(w_out)
        model.compile()
        return model

    for mode in ("skipgram", "cbow"):
        single = make(mode)
        batch = single.make_dataset(corpus, batch_size=32, epochs=3)[0][0]
        # One learning rate for the whole batch: each replica reads the
        # progress of its own first example.
        batch["progress"][:] = 0.2
        single.fit(tf.data.Dataset.from_tensors(batch), epochs=1, verbose=0,
                   shuffle=False)
        with strategy.scope():
            mirrored = make(mode)
        mirrored.fit(tf.data.Dataset.from_tensors(batch), epochs=1, verbose=0,
                     shuffle=False)
        copies = [v.numpy() for v in mirrored.input_embeddings.value.values]
        result[mode] = {
            "copies_differ": float(np.abs(copies[0] - copies[1]).max()),
            "in_diff": float(np.abs(
                keras.ops.convert_to_numpy(mirrored.input_embeddings)
                - keras.ops.convert_to_numpy(single.input_embeddings)).max()),
            "out_diff": float(np.abs(
                keras.ops.convert_to_numpy(mirrored.output_embeddings)
                - keras.ops.convert_to_numpy(single.output_embeddings)).max()),
            "in_change": float(np.abs(
                keras.ops.convert_to_numpy(single.input_embeddings) - w_in).max()),
        }

    # 2. Training from the make_dataset stream under the strategy recovers
    # planted clusters, in both modes. CBOW's half-window blocks assume that
    # the step sees whole stream batches, so they must be off here (each
    # replica holds half a batch).
    clusters = [[f"c{g}w{m}" for m in range(8)] for g in range(6)]
    rng = np.random.default_rng(0)
    corpus = []
    for _ in range(600):
        words = list(rng.choice(clusters[rng.integers(6)], 8))
        words.insert(int(rng.integers(9)), "the")
        corpus.append(words)
    for mode, epochs in (("skipgram", 4), ("cbow", 8)):
        with strategy.scope():
            vocab = Vocabulary.build(corpus, min_count=1, sample=1e-2)
            model = Word2Vec(
                vocab, embedding_dim=16, mode=mode, window=3, shared_negatives=8,
                seed=1,
            )
            dataset = model.make_dataset(corpus, batch_size=512, epochs=epochs)
            model.compile(alpha=0.05 if mode == "cbow" else 0.025)
        history = model.fit(dataset, epochs=epochs, verbose=0)
        wv = model.wv
        hits = sum(
            other in cluster
            for cluster in clusters
            for word in cluster
            for other, _ in wv.most_similar(word, topn=7)
        )
        result[f"{mode}_training"] = {
            "loss": history.history["loss"],
            "rates": history.history["learning_rate"],
            "steps": int(model.optimizer.iterations.numpy()),
            "planned_steps": epochs * len(dataset),
            "recall": hits / (6 * 8 * 7),
            "context_blocks": bool(model._context_blocks),
        }
    print(json.dumps(result))
    """
)


@pytest.mark.tf_only
@pytest.mark.multi_device
def test_mirrored_strategy_matches_single_device_and_recovers_clusters():
    env = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="3")
    completed = subprocess.run(
        [sys.executable, "-c", _SCRIPT],
        capture_output=True,
        text=True,
        env=env,
        timeout=150,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2
    for mode in ("skipgram", "cbow"):
        step = result[mode]
        # Both replicas' copies hold the same, summed update ...
        assert step["copies_differ"] == 0.0
        # ... which is the single-device step on the whole batch.
        assert step["in_change"] > 1e-2
        assert step["in_diff"] < 1e-5
        assert step["out_diff"] < 1e-5
    for mode in ("skipgram", "cbow"):
        training = result[f"{mode}_training"]
        assert training["loss"][-1] < 0.8 * training["loss"][0], training
        assert training["recall"] > 0.9, training
        # Each epoch trained its own batches: Keras's look at one batch
        # under the strategy (an iterator it drops) used to cost up to an
        # epoch of the stream, and CBOW then trained at min_alpha throughout.
        assert training["steps"] == training["planned_steps"], training
        epochs = len(training["rates"])
        rates = np.array(training["rates"])
        alpha = 0.05 if mode == "cbow" else 0.025
        done = (alpha - rates) / (alpha - 0.0001)
        np.testing.assert_allclose(done, np.arange(1, epochs + 1) / epochs, atol=0.08)
    assert result["cbow_training"]["context_blocks"] is False
