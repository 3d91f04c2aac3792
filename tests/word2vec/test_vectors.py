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
    broken = WordVectors(["ok", "two\nlines", "a\tb"], np.eye(3))
    with pytest.raises(ValueError, match=r"2 word\(s\).*'two\\nlines'"):
        broken.export_projector(tmp_path / "other")
    assert not (tmp_path / "other").exists()


# ------------------------------------------------- gensim's KeyedVectors API


def test_keyed_vectors_methods_match_gensim():
    wv = _random_vectors(dim=9, seed=4)
    reference = _gensim_copy(wv)
    assert wv.index_to_key == reference.index_to_key
    assert wv.key_to_index == reference.key_to_index
    np.testing.assert_array_equal(wv.vectors, reference.vectors)
    for word in ("w0", "w17", "w59"):
        assert wv.get_index(word) == reference.get_index(word)
        for norm in (False, True):
            np.testing.assert_allclose(
                wv.get_vector(word, norm=norm),
                reference.get_vector(word, norm=norm),
                rtol=1e-6,
            )
    np.testing.assert_array_equal(wv[["w3", "w1", "w3"]], reference[["w3", "w1", "w3"]])
    np.testing.assert_allclose(
        wv.get_normed_vectors(), reference.get_normed_vectors(), rtol=1e-6
    )
    for ours, theirs in (
        (wv.similar_by_word("w5", topn=7), reference.similar_by_word("w5", topn=7)),
        (
            wv.similar_by_word("w5", topn=4, restrict_vocab=30),
            reference.similar_by_word("w5", topn=4, restrict_vocab=30),
        ),
        (
            wv.similar_by_vector(wv.vectors[8] - wv.vectors[2], topn=6),
            reference.similar_by_vector(wv.vectors[8] - wv.vectors[2], topn=6),
        ),
    ):
        assert [w for w, _ in ours] == [w for w, _ in theirs]
        np.testing.assert_allclose(
            [s for _, s in ours], [s for _, s in theirs], rtol=1e-5
        )
    assert wv.n_similarity(["w1", "w2"], ["w3", "w4", "w5"]) == pytest.approx(
        reference.n_similarity(["w1", "w2"], ["w3", "w4", "w5"]), rel=1e-5
    )
    assert wv.distance("w1", "w9") == pytest.approx(
        reference.distance("w1", "w9"), rel=1e-5
    )
    np.testing.assert_allclose(wv.distances("w4"), reference.distances("w4"), atol=1e-6)
    np.testing.assert_allclose(
        wv.distances("w4", ["w1", "w2"]),
        reference.distances("w4", ["w1", "w2"]),
        atol=1e-6,
    )
    vector = wv.vectors[10] + 0.5
    np.testing.assert_allclose(
        wv.distances(vector), reference.distances(vector), atol=1e-6
    )
    for first, second in (("w0", "w1"), ("w7", "w30"), ("w2", "w2")):
        assert wv.closer_than(first, second) == reference.closer_than(first, second)
        assert wv.rank(first, second) == reference.rank(first, second)


def test_keyed_vectors_methods_follow_numpy():
    wv = _random_vectors(dim=6, seed=8)
    raw = wv.vectors.astype(np.float64)
    unit = raw / np.linalg.norm(raw, axis=1, keepdims=True)
    np.testing.assert_allclose(wv.get_normed_vectors(), unit, rtol=1e-6)
    np.testing.assert_allclose(wv.get_vector("w4", norm=True), unit[4], rtol=1e-6)
    np.testing.assert_array_equal(wv[["w2", "w0"]], raw[[2, 0]].astype(np.float32))
    assert wv[["w2"]].shape == (1, 6) and wv[[]].shape == (0, 6)
    distances = 1 - unit @ unit[3]
    np.testing.assert_allclose(wv.distances("w3"), distances, atol=1e-6)
    assert wv.distance("w3", "w9") == pytest.approx(distances[9], abs=1e-6)
    order = [i for i in np.argsort(distances, kind="stable") if i != 3]
    assert wv.rank("w3", f"w{order[4]}") == 5
    assert wv.closer_than("w3", f"w{order[2]}") == [f"w{i}" for i in sorted(order[:2])]
    mean1, mean2 = raw[[1, 2]].mean(axis=0), raw[[5, 6, 7]].mean(axis=0)
    expected = mean1 @ mean2 / np.linalg.norm(mean1) / np.linalg.norm(mean2)
    assert wv.n_similarity(["w1", "w2"], ["w5", "w6", "w7"]) == pytest.approx(
        expected, rel=1e-5
    )
    scores = unit @ (raw[11] / np.linalg.norm(raw[11]))
    assert [w for w, _ in wv.similar_by_vector(raw[11], topn=3)] == [
        f"w{i}" for i in np.argsort(-scores)[:3]
    ]
    assert wv.similar_by_vector(raw[11], topn=1)[0][0] == "w11"  # not left out
    assert "w11" not in [w for w, _ in wv.similar_by_word("w11", topn=5)]
    assert wv.get_index("zebra", default=-1) == -1
    assert wv.get_index(5) == 5  # an integer row, as in gensim
    assert wv.most_similar("w1", topn=0) == []
    with pytest.raises(KeyError, match="zebra"):
        wv.get_vector("zebra")
    with pytest.raises(KeyError, match="zebra"):
        wv[["w1", "zebra"]]
    with pytest.raises(KeyError, match="zebra"):
        wv.n_similarity(["w1"], ["zebra"])


def test_lowercase_and_tokenizer_lookups():
    wv = WordVectors(["france", "paris", "berlin"], np.eye(3) + 0.1, lowercase=True)
    assert wv.get_index("France") == 0 and "PARIS" in wv
    assert wv.most_similar("France", topn=1)[0][0] in ("paris", "berlin")
    assert wv.similarity("FRANCE", "france") == pytest.approx(1.0)
    assert "New York" not in wv  # two tokens are not one word
    plain = WordVectors(["france"], np.ones((1, 2)))
    assert "France" not in plain  # no normalization unless asked for


# -------------------------------------------------------- native save/load


def test_save_and_load_round_trip(tmp_path):
    wv = WordVectors(
        ["b\u00e9ta", "a b", "x"],
        np.arange(6, dtype=np.float32).reshape(3, 2) + 1,
        counts=[5, 3, 1],
        lowercase=True,
    )
    path = tmp_path / "vectors.kv"
    wv.save(path)
    np.testing.assert_array_equal(
        np.load(tmp_path / "vectors.kv.vectors.npy"), wv.vectors
    )
    np.testing.assert_array_equal(
        np.load(tmp_path / "vectors.kv.counts.npy"), [5, 3, 1]
    )
    for mmap in (None, "r", "c"):
        loaded = WordVectors.load(path, mmap=mmap)
        assert loaded.index_to_key == wv.index_to_key
        assert loaded.key_to_index == {"b\u00e9ta": 0, "a b": 1, "x": 2}
        np.testing.assert_array_equal(loaded.vectors, wv.vectors)
        np.testing.assert_array_equal(loaded.counts, [5, 3, 1])
        assert loaded.lowercase and loaded.get_index("X") == 2
        assert isinstance(loaded.vectors, np.memmap) == (mmap is not None)
    mapped = WordVectors.load(path, mmap="r")
    with pytest.raises(ValueError):
        mapped.vectors[0, 0] = 9.0  # read-only mapping
    assert mapped.most_similar("x", topn=1)[0][0] == "a b"
    # Any word survives, a newline included; no counts, no counts file.
    odd = WordVectors(["two\nlines", ""], np.ones((2, 3)))
    odd.save(path, overwrite=True)
    loaded = WordVectors.load(path)
    assert loaded.index_to_key == ["two\nlines", ""] and loaded.counts is None
    assert not (tmp_path / "vectors.kv.counts.npy").exists()


def test_save_refuses_to_overwrite(tmp_path):
    path = tmp_path / "vectors.kv"
    WordVectors(["a"], np.ones((1, 2))).save(path)
    before = path.read_bytes()
    other = WordVectors(["z"], np.zeros((1, 2)))
    with pytest.raises(ValueError, match="overwrite=True"):
        other.save(path)
    assert path.read_bytes() == before
    other.save(path, overwrite=True)
    assert WordVectors.load(path).index_to_key == ["z"]
    with pytest.raises(ValueError, match="`path`"):
        other.save(tmp_path / "missing" / "v.kv")
    assert not (tmp_path / "missing").exists()


def test_load_refuses_a_foreign_or_mismatched_file(tmp_path):
    text = tmp_path / "v.txt"
    WordVectors(["a", "b"], np.eye(2)).save_word2vec_format(text)
    with pytest.raises(ValueError, match=r"v\.txt.*not a keras_dlm WordVectors"):
        WordVectors.load(text)
    path = tmp_path / "v.kv"
    WordVectors(["a", "b"], np.eye(2)).save(path)
    np.save(tmp_path / "v.kv.vectors.npy", np.zeros((3, 2), np.float32))
    with pytest.raises(ValueError, match="do not belong together"):
        WordVectors.load(path)
    (tmp_path / "v.kv.vectors.npy").unlink()
    with pytest.raises(FileNotFoundError, match="missing"):
        WordVectors.load(path)


# ------------------------------------------------ word2vec format, defensive


@pytest.mark.parametrize("binary", [False, True])
def test_words_with_whitespace_are_refused_before_writing(tmp_path, binary):
    wv = WordVectors(["new york", "ok", "tab\there", ""], np.eye(4))
    path = tmp_path / "v.bin"
    with pytest.raises(ValueError, match=r"'new york'.*'tab\\there'.*''"):
        wv.save_word2vec_format(path, binary=binary)
    assert not path.exists()
    path.write_bytes(b"kept")
    with pytest.raises(ValueError, match="new york"):
        wv.save_word2vec_format(path, binary=binary, overwrite=True)
    assert path.read_bytes() == b"kept"


def test_save_word2vec_format_refuses_to_overwrite(tmp_path):
    path = tmp_path / "v.txt"
    path.write_text("mine\n")
    with pytest.raises(ValueError, match="overwrite=True"):
        WordVectors(["a"], np.ones((1, 2))).save_word2vec_format(path)
    assert path.read_text() == "mine\n"


def test_non_finite_vectors_are_refused():
    with pytest.raises(ValueError, match=r"'b'.*row 1"):
        WordVectors(["a", "b"], np.array([[1.0, 2.0], [np.nan, 0.0]]))
    with pytest.raises(ValueError, match="'a'"):
        WordVectors(["a", "b"], np.array([[np.inf, 2.0], [1.0, 0.0]]))


def _write_binary(path, words, vectors, header=None):
    vectors = np.asarray(vectors, dtype="<f4")
    header = header or f"{len(words)} {vectors.shape[1]}\n".encode()
    path.write_bytes(
        header
        + b"".join(
            word.encode() + b" " + vector.tobytes()
            for word, vector in zip(words, vectors, strict=True)
        )
    )


def test_reading_names_file_and_place_of_every_problem(tmp_path):
    good = tmp_path / "good.bin"
    _write_binary(good, ["alpha", "beta"], np.ones((2, 3)))
    cases = []
    # A header that claims 10**9 vectors: refused from the file size, before
    # any allocation (np.empty((10**9, 300)) would need 1.2 TB).
    huge = tmp_path / "huge.txt"
    huge.write_bytes(b"1000000000 300\nword " + b"0.5 " * 300 + b"\n")
    cases += [(huge, False, "huge.txt', line 1: the header announces 1,000,000,000")]
    huge_binary = tmp_path / "huge.bin"
    huge_binary.write_bytes(b"1000000000 300\n" + good.read_bytes()[4:])
    cases += [(huge_binary, True, "huge.bin', line 1: the header announces")]
    for name, header in (
        ("empty", b""),
        ("words", b"hello world\n"),
        ("three", b"2 3 4\n"),
        ("negative", b"-2 3\n"),
        ("zero_dim", b"2 0\n"),
        ("no_newline", b"2" * 100),
    ):
        path = tmp_path / f"{name}.txt"
        path.write_bytes(header)
        cases.append((path, False, f"{name}.txt', line 1"))
    truncated = tmp_path / "truncated.bin"
    truncated.write_bytes(good.read_bytes()[:-5])
    cases.append((truncated, True, "vector 2 of 2, byte offset 27: the file ends 7"))
    cut = tmp_path / "cut.bin"
    cut.write_bytes(good.read_bytes()[:22] + b"beta" + b"x" * 14)  # no space
    cases.append((cut, True, "vector 2 of 2, byte offset 22: the file ends before"))
    shorter = tmp_path / "shorter.bin"
    shorter.write_bytes(good.read_bytes()[:-12])  # the size check catches it
    cases.append((shorter, True, "line 1: the header announces 2 vectors"))
    undecodable = tmp_path / "undecodable.bin"
    _write_binary(undecodable, ["ok", "bad"], np.ones((2, 3)))
    undecodable.write_bytes(undecodable.read_bytes().replace(b"bad", b"b\xffd"))
    cases.append((undecodable, True, "vector 2, byte offset 20: the word"))
    text = tmp_path / "text.txt"
    WordVectors(["a", "b"], np.eye(2)).save_word2vec_format(text)
    cases.append((text, True, "text.txt', line 2: this is the text word2vec"))
    cases.append((good, False, "good.bin', line 2.*pass binary=True"))
    nan_text = tmp_path / "nan.txt"
    nan_text.write_text("2 2\na 1 2\nb nan 0\n")
    cases.append((nan_text, False, "nan.txt', line 3: the vector of 'b' holds NaN"))
    nan_binary = tmp_path / "nan.bin"
    _write_binary(nan_binary, ["a", "b"], [[1, 2], [np.inf, 0]])
    cases.append((nan_binary, True, "vector 2, byte offset 14: the vector of 'b'"))
    short = tmp_path / "short.txt"
    short.write_text("3 2\na 1 2\nb 3 4\n" + "#" * 10)
    cases.append((short, False, "short.txt', line 4: expected a word and 2"))
    ended = tmp_path / "ended.txt"
    ended.write_text("3 1\na 1\nb 2\n" + " " * 20)
    cases.append((ended, False, "ended.txt', line 4: expected a word and 1"))
    letters = tmp_path / "letters.txt"
    letters.write_text("2 2\na 1 2\nb 3 x4\n")
    cases.append((letters, False, "letters.txt', line 3: 'x4' is not a number"))
    latin = tmp_path / "latin.txt"
    latin.write_bytes(b"1 1\ncaf\xe9 1\n")
    cases.append((latin, False, "latin.txt', line 2, byte offset 7: not valid UTF"))
    twice = tmp_path / "twice.txt"
    twice.write_text("2 1\na 1\na 2\n")
    cases.append((twice, False, "twice.txt', line 3: the word 'a' appears a second"))
    for path, binary, message in cases:
        with pytest.raises(ValueError, match=message):
            WordVectors.load_word2vec_format(path, binary=binary)
    # unicode_errors="replace" reads what "strict" refused; limit stops early.
    wv = WordVectors.load_word2vec_format(latin, unicode_errors="replace")
    assert wv.index_to_key == ["caf\ufffd"]
    assert WordVectors.load_word2vec_format(short, limit=2).index_to_key == ["a", "b"]
    with pytest.raises(FileNotFoundError, match=r"nowhere\.txt"):
        WordVectors.load_word2vec_format(tmp_path / "nowhere.txt")


def test_text_file_with_crlf_and_no_final_newline(tmp_path):
    path = tmp_path / "windows.txt"
    path.write_bytes(b"2 2\r\na 1 2\r\nb 3 4")
    wv = WordVectors.load_word2vec_format(path)
    assert wv.index_to_key == ["a", "b"]
    np.testing.assert_array_equal(wv.vectors, [[1, 2], [3, 4]])


# ------------------------------------------------------ bad argument values

_BAD_NUMBERS = [float("nan"), float("inf"), -1, 0, 2.5, "3", True, None]
_BAD_BOOLS = ["false", "True", 1, 0, None, 1.0]


def _bad_calls(wv, tmp_path):
    """(call, argument name, bad values) for every public argument."""
    text = tmp_path / "v.txt"
    wv.save_word2vec_format(text, overwrite=True)
    yield (
        lambda v: wv.most_similar("w1", topn=v),
        "topn",
        [
            float("nan"),
            float("inf"),
            -1,
            2.5,
            "3",
            True,
        ],
    )
    for name in ("most_similar", "similar_by_word"):
        yield (
            lambda v, name=name: getattr(wv, name)("w1", restrict_vocab=v),
            "restrict_vocab",
            [float("nan"), float("inf"), -1, 0, 2.5, "3", True],
        )
    yield lambda v: wv.most_similar_cosmul("w1", topn=v), "topn", [-1, 2.5, "3"]
    yield (
        lambda v: wv.similar_by_vector(v),
        "vector",
        [
            np.full(12, np.nan),
            np.full(12, np.inf),
            np.ones(3),
            "abc",
        ],
    )
    yield lambda v: wv.get_vector("w1", norm=v), "norm", _BAD_BOOLS
    yield lambda v: wv.distances(v), "word_or_vector", [np.full(12, np.nan)]
    yield lambda v: wv.n_similarity(v, ["w1"]), "words1", [[], ()]
    yield lambda v: wv.doesnt_match(v), "words", [["w1"], []]
    yield lambda v: wv.save(tmp_path / "a.kv", overwrite=v), "overwrite", _BAD_BOOLS
    yield lambda v: wv.save(v), "path", [None, 3, tmp_path]
    yield lambda v: wv.save_word2vec_format(text, binary=v), "binary", _BAD_BOOLS
    yield (
        lambda v: wv.save_word2vec_format(tmp_path / "b.txt", overwrite=v),
        "overwrite",
        _BAD_BOOLS,
    )
    yield (
        lambda v: WordVectors.load(tmp_path / "a.kv", mmap=v),
        "mmap",
        [
            "w",
            "r+",
            True,
            1,
        ],
    )
    yield lambda v: WordVectors.load(v), "path", [None, 3]
    yield lambda v: wv.export_projector(v), "logdir", [None, 3]
    load = WordVectors.load_word2vec_format
    yield lambda v: load(text, binary=v), "binary", _BAD_BOOLS
    yield lambda v: load(text, limit=v), "limit", _BAD_NUMBERS[:-1]
    yield lambda v: load(text, unicode_errors=v), "unicode_errors", ["x", None, 1]
    yield lambda v: load(v), "path", [None, 3]
    for method in ("evaluate_word_pairs", "evaluate_word_analogies"):
        call = getattr(wv, method)
        yield (
            lambda v, call=call: call(text, restrict_vocab=v),
            "restrict_vocab",
            (_BAD_NUMBERS),
        )
        yield (
            lambda v, call=call: call(text, case_insensitive=v),
            "case_insensitive",
            (_BAD_BOOLS),
        )
        yield (
            lambda v, call=call: call(text, dummy4unknown=v),
            "dummy4unknown",
            (_BAD_BOOLS),
        )
    yield lambda v: wv.evaluate_word_pairs(text, delimiter=v), "delimiter", ["", None]
    yield (
        lambda v: WordVectors(["a"], v),
        "vectors",
        [
            [[np.nan, 1.0]],
            [[np.inf]],
            np.ones((2, 2)),
            [["x"]],
            np.ones(3),
        ],
    )
    yield lambda v: WordVectors(v, np.ones((2, 2))), "words", [["a", "a"], [1, 2]]
    yield (
        lambda v: WordVectors(["a"], np.ones((1, 2)), lowercase=v),
        "lowercase",
        (_BAD_BOOLS),
    )
    yield (
        lambda v: WordVectors(["a"], np.ones((1, 2)), tokenizer=v),
        "tokenizer",
        [
            "split",
            3,
        ],
    )
    yield (
        lambda v: WordVectors(["a"], np.ones((1, 2)), counts=v),
        "counts",
        [
            [1, 2],
            [],
        ],
    )


def test_bad_argument_values_are_refused_naming_the_argument(tmp_path):
    wv = _random_vectors()
    wv.save(tmp_path / "a.kv")
    tried = 0
    for call, name, values in _bad_calls(wv, tmp_path):
        for value in values:
            with pytest.raises((ValueError, TypeError), match=f"`{name}`") as info:
                call(value)
            tried += 1
            assert info.type in (ValueError, TypeError), (name, value)
    assert tried > 120
