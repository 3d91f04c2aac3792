"""``keras-dlm word2vec``: train on a small file, then query the vectors."""

from __future__ import annotations

import numpy as np

from keras_dlm.cli import main
from keras_dlm.word2vec import WordVectors


def _write_corpus(path):
    rng = np.random.default_rng(0)
    groups = [[f"g{group}w{member}" for member in range(6)] for group in range(4)]
    lines = [" ".join(rng.choice(groups[rng.integers(4)], 7)) for _ in range(800)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return groups


def test_train_then_query(tmp_path, capsys):
    corpus = tmp_path / "corpus.txt"
    groups = _write_corpus(corpus)
    out = tmp_path / "vectors.txt"
    status = main(
        [
            "word2vec",
            str(corpus),
            "--mode",
            "cbow",
            "--dim",
            "12",
            "--window",
            "3",
            "--epochs",
            "5",
            "--min-count",
            "1",
            "--sample",
            "0",
            "--batch-size",
            "256",
            "--seed",
            "1",
            "--out",
            str(out),
        ]
    )
    assert status == 0
    printed = capsys.readouterr().out
    assert "vocabulary: 24 words, 5600 tokens" in printed
    assert "words/s" in printed.splitlines()[-1]
    wv = WordVectors.load_word2vec_format(out)
    assert sorted(wv.index_to_key) == sorted(word for group in groups for word in group)
    assert wv.vector_size == 12

    assert (
        main(["word2vec", "--query", "g0w0", "--vectors", str(out), "--topn", "3"]) == 0
    )
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    assert all(line.split()[1].startswith("g0") for line in lines)


def test_query_unknown_word_and_missing_arguments(tmp_path, capsys):
    out = tmp_path / "v.txt"
    WordVectors(["a", "b"], np.eye(2)).save_word2vec_format(out)
    assert main(["word2vec", "--query", "zebra", "--vectors", str(out)]) == 1
    assert "zebra" in capsys.readouterr().err
    assert main(["word2vec", "--query", "a"]) == 2
    assert main(["word2vec"]) == 2
