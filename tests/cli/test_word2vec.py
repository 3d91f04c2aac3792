"""``keras-dlm word2vec``: train on a small file, then query the vectors."""

from __future__ import annotations

import numpy as np
import pytest

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
    # --lowercase lowercases the query word too.
    assert main(["word2vec", "--query", "G0W0", "--vectors", str(out)]) == 1
    capsys.readouterr()
    assert (
        main(["word2vec", "--query", "G0W0", "--lowercase", "--vectors", str(out)]) == 0
    )
    assert len(capsys.readouterr().out.splitlines()) == 10

    # Finished vectors are not overwritten without --overwrite: refused
    # before training, file untouched.
    before = out.read_bytes()
    again = ["word2vec", str(corpus), "--min-count", "1", "--dim", "4", "--epochs"]
    assert main([*again, "1", "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert "vocabulary:" not in captured.out
    assert captured.err.count("\n") == 1 and "overwrite" in captured.err
    assert out.read_bytes() == before
    assert main([*again, "1", "--out", str(out), "--overwrite", "--lowercase"]) == 0
    assert WordVectors.load_word2vec_format(out).vector_size == 4


def test_workers_reaches_the_model(tmp_path, capsys, monkeypatch):
    from keras_dlm.word2vec import Word2Vec

    corpus = tmp_path / "corpus.txt"
    _write_corpus(corpus)
    seen = []
    fit = Word2Vec.fit

    def recording_fit(self, *args, **kwargs):
        seen.append(self.workers)
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(Word2Vec, "fit", recording_fit)
    common = [str(corpus), "--dim", "4", "--epochs", "1", "--min-count", "1"]
    assert (
        main(["word2vec", *common, "--workers", "1", "--out", str(tmp_path / "a")]) == 0
    )
    assert main(["word2vec", *common, "--out", str(tmp_path / "b")]) == 0
    capsys.readouterr()
    # gensim's meaning: 1 thread; not given, Word2Vec's default (every core).
    assert seen == [1, None]


def test_query_unknown_word_and_missing_arguments(tmp_path, capsys):
    out = tmp_path / "v.txt"
    WordVectors(["a", "b"], np.eye(2)).save_word2vec_format(out)
    assert main(["word2vec", "--query", "zebra", "--vectors", str(out)]) == 1
    assert "zebra" in capsys.readouterr().err
    assert main(["word2vec", "--query", "a"]) == 2
    assert main(["word2vec"]) == 2


def _bad_invocations(tmp_path):
    """(arguments, text the one-line error must contain)."""
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("a b c\n" * 20, encoding="utf-8")
    vectors = tmp_path / "v.txt"
    WordVectors(["a", "b"], np.eye(2)).save_word2vec_format(vectors)
    train = ["word2vec", str(corpus), "--out", str(tmp_path / "new.txt")]
    yield ["word2vec", str(tmp_path / "none.txt"), "--out", "x.txt"], "none.txt"
    yield ["word2vec", str(tmp_path), "--out", "x.txt"], "a folder"
    yield ["word2vec", str(corpus)], "--out"
    yield ["word2vec", "--out", str(tmp_path / "y.txt")], "CORPUS"
    yield ["word2vec", str(corpus), "--out", str(tmp_path / "no" / "v.txt")], "--out"
    yield ["word2vec", str(corpus), "--out", str(tmp_path)], "--out"
    yield ["word2vec", str(corpus), "--out", str(vectors)], "--overwrite"
    yield [*train, "--vectors", str(vectors)], "--vectors"
    for option in ("--dim", "--window", "--negative", "--epochs", "--min-count"):
        yield [*train, option, "0"], option
        yield [*train, option, "-3"], option
    yield [*train, "--batch-size", "0"], "--batch-size"
    yield [*train, "--shared-negatives", "-1"], "--shared-negatives"
    yield [*train, "--seed", "-1"], "--seed"
    yield [*train, "--workers", "0"], "--workers"
    yield [*train, "--workers", "-2"], "--workers"
    for value in ("nan", "inf", "-0.1", "2"):
        yield [*train, "--sample", value], "--sample"
    yield ["word2vec", "--query", "a"], "--vectors"
    yield ["word2vec", "--query", "a", "--vectors", str(tmp_path / "no.txt")], "no.txt"
    yield (
        ["word2vec", "--query", "a", "--vectors", str(vectors), "--topn", "0"],
        ("--topn"),
    )
    yield (
        ["word2vec", str(corpus), "--query", "a", "--vectors", str(vectors)],
        ("CORPUS"),
    )
    yield (
        ["word2vec", "--query", "a", "--vectors", str(vectors), "--binary"],
        ("pass binary=False"),
    )
    binary = tmp_path / "v.bin"
    WordVectors(["a", "b"], np.eye(2) + 0.5).save_word2vec_format(binary, binary=True)
    yield ["word2vec", "--query", "a", "--vectors", str(binary)], "binary=True"
    yield [*train, "--min-count", "1000"], "--min-count"


def test_user_errors_are_one_line_before_any_training(tmp_path, capsys, monkeypatch):
    from keras_dlm.word2vec import Word2Vec

    def no_training(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(Word2Vec, "fit", no_training)
    cases = list(_bad_invocations(tmp_path))
    vectors_before = (tmp_path / "v.txt").read_bytes()
    for arguments, expected in cases:
        assert main(arguments) == 2, arguments
        captured = capsys.readouterr()
        assert captured.err.startswith("keras-dlm word2vec: error: "), arguments
        assert captured.err.count("\n") == 1, captured.err
        assert expected in captured.err, (arguments, captured.err)
    assert (tmp_path / "v.txt").read_bytes() == vectors_before
    assert not (tmp_path / "new.txt").exists()
    assert len(cases) > 30


@pytest.mark.parametrize("option", ["--window", "--dim"])
def test_error_is_printed_without_traceback_by_the_command(tmp_path, option):
    import subprocess
    import sys

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("a b\n", encoding="utf-8")
    command = [sys.executable, "-m", "keras_dlm.cli", "word2vec", str(corpus)]
    completed = subprocess.run(
        [*command, "--out", str(tmp_path / "v.txt"), option, "0"],
        capture_output=True,
        text=True,
    )
    assert completed.returncode == 2
    assert completed.stderr.splitlines() == [
        f"keras-dlm word2vec: error: `{option}` must be a positive integer. "
        f"Received: {option}=0"
    ]
