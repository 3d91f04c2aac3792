"""WordVectors: queries and evaluations against NumPy and gensim, and the
word2vec file formats read and written both ways with gensim."""

from __future__ import annotations

import numpy as np
import pytest

from keras_dlm.word2vec import WordVectors


def _random_vectors(words=None, dim=12, seed=0):
    rng = np.random.default_rng(seed)
    words = words or [f"w{i}" for i in range(60)]
    return WordVectors(words, rng.normal(size=(len(words), dim)).astype(np.float32))


def _gensim_copy(wv):
    models = pytest.importorskip("gensim.models")
    reference = models.KeyedVectors(wv.vector_size)
    reference.add_vectors(wv.index_to_key, wv.vectors)
    return reference


def test_similarity_and_most_similar_follow_cosine():
    wv = _random_vectors()
    unit = wv.vectors / np.linalg.norm(wv.vectors, axis=1, keepdims=True)
    assert wv.similarity("w1", "w2") == pytest.approx(
        float(unit[1] @ unit[2]), rel=1e-5
    )
    query = unit[3] + unit[4] - unit[5]
    scores = unit @ (query / np.linalg.norm(query))
    scores[[3, 4, 5]] = -np.inf
    expected = [f"w{i}" for i in np.argsort(-scores)[:5]]
    result = wv.most_similar(positive=["w3", "w4"], negative=["w5"], topn=5)
    assert [word for word, _ in result] == expected
    np.testing.assert_allclose(
        [score for _, score in result], np.sort(scores)[::-1][:5], rtol=1e-5
    )


def test_queries_match_gensim():
    wv = _random_vectors()
    reference = _gensim_copy(wv)
    for positive, negative in ((["w1"], []), (["w1", "w7"], ["w9"]), ([], ["w3"])):
        ours = wv.most_similar(positive=positive, negative=negative, topn=8)
        theirs = reference.most_similar(positive=positive, negative=negative, topn=8)
        assert [w for w, _ in ours] == [w for w, _ in theirs]
        np.testing.assert_allclose(
            [s for _, s in ours], [s for _, s in theirs], rtol=1e-5
        )
    ours = wv.most_similar_cosmul(positive=["w2", "w8"], negative=["w4"], topn=6)
    theirs = reference.most_similar_cosmul(
        positive=["w2", "w8"], negative=["w4"], topn=6
    )
    assert [w for w, _ in ours] == [w for w, _ in theirs]
    np.testing.assert_allclose([s for _, s in ours], [s for _, s in theirs], rtol=1e-4)
    group = ["w1", "w2", "w3", "w4", "w5"]
    assert wv.doesnt_match(group) == reference.doesnt_match(group)
    restricted = wv.most_similar("w0", topn=5, restrict_vocab=20)
    expected = reference.most_similar("w0", topn=5, restrict_vocab=20)
    assert [w for w, _ in restricted] == [w for w, _ in expected]
    assert all(int(word[1:]) < 20 for word, _ in restricted)


def test_missing_word_raises_key_error_naming_it():
    wv = _random_vectors()
    for call in (
        lambda: wv["zebra"],
        lambda: wv.most_similar("zebra"),
        lambda: wv.similarity("w1", "zebra"),
        lambda: wv.doesnt_match(["w1", "zebra"]),
    ):
        with pytest.raises(KeyError, match="zebra"):
            call()
    assert "w1" in wv and "zebra" not in wv


def test_evaluate_word_pairs_matches_gensim():
    utils = pytest.importorskip("gensim.test.utils")
    for name in ("wordsim353.tsv", "simlex999.txt"):
        path = utils.datapath(name)
        words = []
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                if not line.startswith("#"):
                    words += line.split("\t")[:2]
        # Most pair words, some upper-cased, some left out (out of vocabulary).
        vocabulary = list(dict.fromkeys(words))[:-40]
        vocabulary[::7] = [word.upper() for word in vocabulary[::7]]
        wv = _random_vectors(vocabulary, dim=10, seed=3)
        reference = _gensim_copy(wv)
        ours = wv.evaluate_word_pairs(path)
        pearson, spearman, oov = reference.evaluate_word_pairs(path)
        assert ours.pearson == pytest.approx(pearson[0], abs=1e-6)
        assert ours.spearman == pytest.approx(spearman[0], abs=1e-6)
        assert ours.oov_ratio == pytest.approx(oov, abs=1e-9)
        assert ours.oov_ratio > 0


def test_evaluate_word_analogies_matches_gensim(tmp_path):
    models = pytest.importorskip("gensim.models")
    # Countries and capitals on a planted offset, plus noise words, so that
    # some analogies are right and some wrong.
    rng = np.random.default_rng(5)
    countries = [f"country{i}" for i in range(12)]
    capitals = [f"capital{i}" for i in range(12)]
    offset = rng.normal(size=16)
    base = rng.normal(size=(12, 16))
    vectors = np.concatenate(
        [
            base,
            base + offset + rng.normal(scale=0.9, size=(12, 16)),
            rng.normal(size=(30, 16)),
        ]
    )
    words = countries + capitals + [f"noise{i}" for i in range(30)]
    wv = WordVectors(words, vectors.astype(np.float32))
    path = tmp_path / "questions.txt"
    lines = [": capitals"]
    for first in range(12):
        for second in range(12):
            if first != second:
                lines.append(
                    f"{countries[first]} {capitals[first]} {countries[second]} {capitals[second]}"
                )
    lines += [
        ": other",
        "Country1 noise1 country2 noise2",
        "country1 unknown country3 noise3",
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    reference = models.KeyedVectors(16)
    reference.add_vectors(words, vectors.astype(np.float32))
    for restrict in (54, 40):
        score, sections = wv.evaluate_word_analogies(path, restrict_vocab=restrict)
        their_score, their_sections = reference.evaluate_word_analogies(
            path, restrict_vocab=restrict
        )
        assert score == pytest.approx(their_score)
        assert 0 < score < 1 or restrict == 40
        assert [s["section"] for s in sections] == [
            s["section"] for s in their_sections
        ]
        for ours, theirs in zip(sections, their_sections, strict=True):
            assert ours["correct"] == theirs["correct"]
            assert ours["incorrect"] == theirs["incorrect"]


@pytest.mark.parametrize("binary", [False, True])
def test_word2vec_format_is_byte_compatible_with_gensim(tmp_path, binary):
    models = pytest.importorskip("gensim.models")
    words = ["alpha", "b\u00e9ta", "gamma", "\u4e2d\u6587", "x"]
    wv = _random_vectors(words, dim=7, seed=2)
    ours_path, theirs_path = tmp_path / "ours", tmp_path / "theirs"
    wv.save_word2vec_format(ours_path, binary=binary)
    reference = _gensim_copy(wv)
    reference.save_word2vec_format(str(theirs_path), binary=binary)
    assert ours_path.read_bytes() == theirs_path.read_bytes()
    # gensim reads ours ...
    loaded = models.KeyedVectors.load_word2vec_format(str(ours_path), binary=binary)
    assert loaded.index_to_key == words
    np.testing.assert_array_equal(loaded.vectors, wv.vectors)
    # ... and we read gensim's.
    ours_loaded = WordVectors.load_word2vec_format(theirs_path, binary=binary)
    assert ours_loaded.index_to_key == words
    np.testing.assert_array_equal(ours_loaded.vectors, wv.vectors)


def test_binary_format_with_newline_after_vectors(tmp_path):
    # The word2vec C tool ends each binary vector with a newline.
    vectors = np.arange(6, dtype="<f4").reshape(2, 3)
    data = b"2 3\n" + b"".join(
        word.encode() + b" " + vector.tobytes() + b"\n"
        for word, vector in zip(["one", "two"], vectors, strict=True)
    )
    path = tmp_path / "c_tool.bin"
    path.write_bytes(data)
    wv = WordVectors.load_word2vec_format(path, binary=True)
    assert wv.index_to_key == ["one", "two"]
    np.testing.assert_array_equal(wv.vectors, vectors)


def test_export_projector(tmp_path):
    wv = _random_vectors(["a", "b", "c"], dim=4)
    vectors_path, metadata_path = wv.export_projector(tmp_path / "projector")
    np.testing.assert_allclose(
        np.loadtxt(vectors_path, delimiter="\t"), wv.vectors, rtol=1e-5
    )
    with open(metadata_path, encoding="utf-8") as handle:
        assert handle.read().splitlines() == ["a", "b", "c"]
    assert (tmp_path / "projector" / "projector_config.pbtxt").exists()
