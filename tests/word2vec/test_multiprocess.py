"""Word2Vec trained by two processes on localhost (JAX, jax.distributed and
keras.distribution.DataParallel): two steps equal the single-process steps
on the two processes' batches together, and both keep identical tables."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from keras_dlm.word2vec import Vocabulary, Word2Vec

# Each process: join the group, take its half of two fixed global batches,
# run two steps, save both tables. Everything a user needs is in this script.
_WORKER = textwrap.dedent(
    """
    import os, sys
    os.environ["KERAS_BACKEND"] = "jax"
    import jax

    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    process, port, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    jax.distributed.initialize(
        coordinator_address=f"localhost:{port}", num_processes=2,
        process_id=process,
    )
    import keras
    import numpy as np
    from keras_dlm.word2vec import Vocabulary, Word2Vec

    keras.distribution.set_distribution(
        keras.distribution.DataParallel(auto_shard_dataset=False)
    )
    sys.path.insert(0, os.path.dirname(out))
    from shared_batch import corpus, global_batches, Batches

    vocab = Vocabulary.build(corpus(), min_count=1, sample=None)
    model = Word2Vec(vocab, embedding_dim=8, window=2, seed=0)
    halves = [
        {key: np.split(value, 2)[process] for key, value in batch.items()}
        for batch in global_batches(model)
    ]
    model.compile(alpha=0.05)
    model.fit(Batches(halves), epochs=1, verbose=0, shuffle=False)
    np.savez(
        out,
        inputs=keras.ops.convert_to_numpy(model.input_embeddings),
        outputs=keras.ops.convert_to_numpy(model.output_embeddings),
    )
    """
)

_SHARED = textwrap.dedent(
    """
    import keras
    import numpy as np

    def corpus():
        rng = np.random.default_rng(0)
        words = [f"w{i}" for i in range(40)]
        return [list(rng.choice(words, 10)) for _ in range(100)]

    def global_batches(model):
        dataset = model.make_dataset(corpus(), batch_size=64, epochs=1, seed=5)
        return [dataset[0][0], dataset[1][0]]

    class Batches(keras.utils.PyDataset):
        def __init__(self, batches):
            super().__init__()
            self.batches = batches

        def __len__(self):
            return len(self.batches)

        def __getitem__(self, index):
            return (self.batches[index],)
    """
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("localhost", 0))
        return probe.getsockname()[1]


@pytest.mark.skipif(
    keras.backend.backend() != "jax",
    reason="the multi-process route runs on the JAX backend",
)
def test_two_processes_match_the_single_process_step(tmp_path):
    (tmp_path / "shared_batch.py").write_text(_SHARED)
    worker = tmp_path / "worker.py"
    worker.write_text(_WORKER)
    port = str(_free_port())
    environment = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(
            [os.getcwd(), *filter(None, [os.environ.get("PYTHONPATH")])]
        ),
        TF_CPP_MIN_LOG_LEVEL="3",
    )
    processes = [
        subprocess.Popen(
            [sys.executable, str(worker), str(rank), port, str(tmp_path / f"{rank}")],
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for rank in range(2)
    ]
    outputs = []
    try:
        for process in processes:
            outputs.append(process.communicate(timeout=180)[0])
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    for process, output in zip(processes, outputs, strict=True):
        assert process.returncode == 0, output[-3000:]

    sys.path.insert(0, str(tmp_path))
    try:
        from shared_batch import Batches, corpus, global_batches
    finally:
        sys.path.remove(str(tmp_path))
    vocab = Vocabulary.build(corpus(), min_count=1, sample=None)
    single = Word2Vec(vocab, embedding_dim=8, window=2, seed=0)
    single.compile(alpha=0.05)
    start = keras.ops.convert_to_numpy(single.input_embeddings).copy()
    single.fit(Batches(global_batches(single)), epochs=1, verbose=0, shuffle=False)
    expected_in = keras.ops.convert_to_numpy(single.input_embeddings)
    expected_out = keras.ops.convert_to_numpy(single.output_embeddings)
    # The second step changes the input vectors (the first one only the
    # output vectors, which start at zero).
    assert not np.allclose(expected_in, start)
    for rank in range(2):
        saved = np.load(tmp_path / f"{rank}.npz")
        np.testing.assert_allclose(saved["inputs"], expected_in, atol=1e-6)
        np.testing.assert_allclose(saved["outputs"], expected_out, atol=1e-6)
