"""Trained word vectors: similarity queries, evaluation, file formats."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

import numpy as np

from keras_dlm._checks import (
    check_bool,
    check_choice,
    check_integer,
    check_path_is_new,
    invalid_argument,
)
from keras_dlm.word2vec._formats import (
    native_paths,
    read_native,
    read_word2vec,
    words_not_writable,
    write_native,
    write_word2vec,
)
from keras_dlm.word2vec._vocabulary import (
    Tokenizer,
    _check_tokenizer,
    _deserialize_tokenizer,
    _lookup_key,
    _serialize_tokenizer,
)

_TSV_BREAKS = re.compile(r"[\t\n\r]")


class WordPairsResult(NamedTuple):
    """Agreement between a model and human similarity judgements."""

    pearson: float
    spearman: float
    oov_ratio: float
    pairs: int


def _rank(values: np.ndarray) -> np.ndarray:
    """Ranks from 1, ties sharing their average rank (as Spearman's rho needs)."""
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = np.arange(1, len(values) + 1)
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    return sums[inverse] / counts[inverse]


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    x = x - x.mean()
    y = y - y.mean()
    denominator = np.sqrt((x * x).sum() * (y * y).sum())
    return float((x * y).sum() / denominator) if denominator else float("nan")


class WordVectors:
    """Word vectors with gensim's `KeyedVectors` queries and file formats.

    The methods, their arguments and their results follow gensim 4's
    ``KeyedVectors`` (checked against gensim on the same vectors):
    ``wv["word"]``, ``wv[["a", "b"]]``, `get_vector`, `get_index`,
    `most_similar`, `similar_by_word`, `similar_by_vector`, `similarity`,
    `n_similarity`, `distance`, `distances`, `closer_than`, `rank`,
    `doesnt_match`, `get_normed_vectors`, ``index_to_key``,
    ``key_to_index`` and ``vectors``. Unknown words raise a `KeyError`
    naming them.

    Words are looked up as given first; if that fails and the vectors come
    from a vocabulary with a ``tokenizer`` or ``lowercase=True`` (see
    `Vocabulary.build`), the word goes through the same tokenizing and
    lowercasing as the corpus did, so ``wv["France"]`` finds ``"france"``.

    Args:
        words: the words, most frequent first when known (analogy and
            similarity evaluation restrict to the first words).
        vectors: array of shape ``(len(words), dim)``, finite.
        counts: optional corpus counts, same order.
        tokenizer: the vocabulary's tokenizer (``None``: whitespace).
        lowercase: whether the vocabulary lowercases words.

    Example:

    ```python
    import numpy as np
    wv = WordVectors(["a", "b", "c"], np.array([[1, 0], [0.9, 0.1], [0, 1]]))
    assert wv.most_similar("a", topn=1)[0][0] == "b"
    assert wv.rank("a", "c") == 2 and wv[["a", "c"]].shape == (2, 2)
    ```
    """

    def __init__(
        self,
        words: Sequence[str],
        vectors: Any,
        *,
        counts: Sequence[int] | np.ndarray | None = None,
        tokenizer: Tokenizer | dict[str, Any] | None = None,
        lowercase: bool = False,
    ) -> None:
        words = list(words)
        try:
            vectors = np.asarray(vectors, dtype=np.float32)
        except (TypeError, ValueError):
            raise invalid_argument(
                "vectors", vectors, "an array of numbers", error=TypeError
            ) from None
        if vectors.ndim != 2 or vectors.shape[0] != len(words):
            raise invalid_argument(
                "vectors",
                f"<array of shape {vectors.shape}>",
                f"of shape ({len(words)}, dim) for {len(words)} words",
            )
        bad = np.flatnonzero(~np.isfinite(vectors).all(axis=1))
        if bad.size:
            raise invalid_argument(
                "vectors",
                f"<array with NaN or infinity in {bad.size} row(s)>",
                f"finite (the vector of {words[bad[0]]!r}, row {bad[0]}, is not)",
            )
        self._set(words, vectors, counts, tokenizer, lowercase)

    def _set(
        self,
        words: list[str],
        vectors: np.ndarray,
        counts: Any,
        tokenizer: Any,
        lowercase: Any,
        *,
        trusted: bool = False,
    ) -> None:
        """Sets the attributes; ``trusted`` skips the per-word checks.

        `load` trusts the words of a file `save` wrote (checked when they
        were saved) and builds ``key_to_index`` on first use, so that
        memory-mapped vectors load in milliseconds.
        """
        self.index_to_key = words
        self._key_to_index: dict[str, int] | None = None
        if not trusted:
            for word in words:
                if not isinstance(word, str):
                    raise invalid_argument(
                        "words", word, "a list of strings", error=TypeError
                    )
            if len(self.key_to_index) != len(words):
                seen: set[str] = set()
                duplicate = next(w for w in words if w in seen or seen.add(w))
                raise invalid_argument(
                    "words", duplicate, "free of duplicates (this word repeats)"
                )
        self.vectors = vectors
        if counts is not None:
            counts = np.asarray(counts, dtype=np.int64)
            if counts.shape != (len(words),):
                raise invalid_argument(
                    "counts", f"<shape {counts.shape}>", f"of shape ({len(words)},)"
                )
        self.counts = counts
        self.tokenizer = _check_tokenizer(_deserialize_tokenizer(tokenizer))
        self.lowercase = check_bool("lowercase", lowercase)
        self._normed: np.ndarray | None = None

    @property
    def key_to_index(self) -> dict[str, int]:
        """Each word's row in ``vectors``."""
        if self._key_to_index is None:
            self._key_to_index = dict(
                zip(self.index_to_key, range(len(self.index_to_key)), strict=True)
            )
        return self._key_to_index

    @property
    def vector_size(self) -> int:
        """The dimension of the vectors."""
        return int(self.vectors.shape[1])

    @property
    def normed_vectors(self) -> np.ndarray:
        """The vectors scaled to unit length (zero vectors stay zero), cached."""
        if self._normed is None:
            norms = np.linalg.norm(self.vectors, axis=1, keepdims=True)
            self._normed = self.vectors / np.where(norms > 0, norms, 1.0)
            self._normed.flags.writeable = False
        return self._normed

    def get_normed_vectors(self) -> np.ndarray:
        """All vectors scaled to unit length, as gensim's ``get_normed_vectors``.

        Returns:
            A read-only array of shape ``(len(self), vector_size)``; a zero
            vector stays zero (gensim would divide by zero).
        """
        return self.normed_vectors

    def __len__(self) -> int:
        return len(self.index_to_key)

    def _position(self, word: Any) -> int | None:
        try:
            position = self.key_to_index.get(word)
        except TypeError:  # unhashable
            return None
        normalizes = self.tokenizer is not None or self.lowercase
        if position is None and normalizes and isinstance(word, str):
            key = _lookup_key(word, self.tokenizer, self.lowercase)
            if key is not None:
                position = self.key_to_index.get(key)
        return position

    def __contains__(self, word: object) -> bool:
        return self._position(word) is not None

    def has_index_for(self, word: Any) -> bool:
        """Whether ``word`` has a vector (gensim's name for ``word in wv``)."""
        return word in self

    def get_index(self, key: Any, default: int | None = None) -> int:
        """The row of ``key`` in ``vectors``.

        Args:
            key: a word. As in gensim, an integer that is not a word is taken
                as a row number if it is in range.
            default: returned instead of raising when ``key`` is unknown.

        Returns:
            The row.

        Raises:
            KeyError: naming the word, if it is unknown and ``default`` is
                None.
        """
        position = self._position(key)
        if position is not None:
            return position
        if (
            isinstance(key, int | np.integer)
            and not isinstance(key, bool)
            and 0 <= key < len(self)
        ):
            return int(key)
        if default is not None:
            return default
        raise KeyError(f"word {key!r} is not in the vocabulary ({len(self)} words)")

    def get_vector(self, key: Any, norm: bool = False) -> np.ndarray:
        """The vector of ``key`` (a copy), scaled to unit length if ``norm``."""
        norm = check_bool("norm", norm)
        table = self.normed_vectors if norm else self.vectors
        return np.array(table[self.get_index(key)])

    def __getitem__(self, key_or_keys: Any) -> np.ndarray:
        """``wv["word"]``: one vector; ``wv[["a", "b"]]``: a ``(2, dim)`` array."""
        if isinstance(key_or_keys, str | int | np.integer):
            return self.get_vector(key_or_keys)
        keys = list(key_or_keys)
        indices = np.array([self.get_index(key) for key in keys], dtype=np.int64)
        return self.vectors[indices].reshape(len(keys), self.vector_size)

    def _unit(self, word: Any) -> np.ndarray:
        return self.normed_vectors[self.get_index(word)]

    def _check_vector(self, name: str, vector: Any) -> np.ndarray:
        try:
            array = np.asarray(vector, dtype=np.float64)
        except (TypeError, ValueError):
            raise invalid_argument(
                name, vector, "a vector of numbers", error=TypeError
            ) from None
        if array.shape != (self.vector_size,) or not np.isfinite(array).all():
            raise invalid_argument(
                name,
                f"<array of shape {array.shape}>",
                f"a finite vector of shape ({self.vector_size},)",
            )
        return array

    def similarity(self, word1: str, word2: str) -> float:
        """Cosine similarity of two words."""
        return float(np.dot(self._unit(word1), self._unit(word2)))

    def distance(self, word1: str, word2: str) -> float:
        """Cosine distance of two words: ``1 - similarity(word1, word2)``."""
        return 1.0 - self.similarity(word1, word2)

    def distances(
        self, word_or_vector: Any, other_words: Sequence[str] = ()
    ) -> np.ndarray:
        """Cosine distances from a word or vector to ``other_words``.

        Args:
            word_or_vector: a word, or a vector of size ``vector_size``.
            other_words: the words to measure; empty (the default) measures
                every word, in ``index_to_key`` order, the word itself
                included.

        Returns:
            A float array of ``1 - cosine similarity``, one per word.
        """
        if isinstance(word_or_vector, str):
            query = self._unit(word_or_vector).astype(np.float64)
        else:
            query = self._check_vector("word_or_vector", word_or_vector)
            query = query / max(np.linalg.norm(query), 1e-30)
        other_words = self._as_list(other_words)
        if other_words:
            rows = self.normed_vectors[[self.get_index(word) for word in other_words]]
        else:
            rows = self.normed_vectors
        return 1.0 - rows @ query

    def closer_than(self, word1: str, word2: str) -> list[str]:
        """The words closer to ``word1`` than ``word2`` is (``word1`` left out)."""
        distances = self.distances(word1)
        first, second = self.get_index(word1), self.get_index(word2)
        closer = np.flatnonzero(distances < distances[second])
        return [self.index_to_key[i] for i in closer if i != first]

    def rank(self, word1: str, word2: str) -> int:
        """The rank of ``word2`` among the neighbours of ``word1`` (1: nearest)."""
        return len(self.closer_than(word1, word2)) + 1

    def n_similarity(self, words1: Sequence[str], words2: Sequence[str]) -> float:
        """Cosine similarity of the mean vectors of two lists of words.

        As in gensim, the means are of the raw (not unit-length) vectors.
        Unlike gensim, which skips unknown words, an unknown word raises a
        `KeyError`.
        """
        means = []
        for name, words in (("words1", words1), ("words2", words2)):
            words = self._as_list(words)
            if not words:
                raise invalid_argument(name, words, "a non-empty list of words")
            mean = self[words].astype(np.float64).mean(axis=0)
            means.append(mean / max(np.linalg.norm(mean), 1e-30))
        return float(means[0] @ means[1])

    @staticmethod
    def _as_list(words: Any) -> list:
        if words is None:
            return []
        if isinstance(words, str | np.ndarray):
            return [words]
        return list(words)

    def _top(
        self,
        scores: np.ndarray,
        exclude: Iterable[int],
        topn: int | None,
    ) -> list[tuple[str, float]]:
        exclude = set(exclude)
        if topn is None:
            order = np.argsort(-scores, kind="stable")
        else:
            wanted = min(len(scores), topn + len(exclude))
            if wanted == 0:
                return []
            order = np.argpartition(-scores, wanted - 1)[:wanted]
            order = order[np.argsort(-scores[order], kind="stable")]
        result = [
            (self.index_to_key[position], float(scores[position]))
            for position in order
            if position not in exclude
        ]
        return result if topn is None else result[:topn]

    def most_similar(
        self,
        positive: Any = None,
        negative: Any = None,
        topn: int | None = 10,
        restrict_vocab: int | None = None,
    ) -> list[tuple[str, float]]:
        """Words closest (cosine) to the mean of ``positive`` minus ``negative``.

        Args:
            positive: a word, a vector, or a list of them, added.
            negative: a word, a vector, or a list of them, subtracted.
            topn: how many words to return (``0`` returns none); ``None``
                returns all.
            restrict_vocab: search only the first (most frequent) words.

        Returns:
            ``(word, cosine similarity)`` pairs, most similar first; the
            query words themselves are left out.
        """
        topn = check_integer("topn", topn, minimum=0, allow_none=True)
        restrict_vocab = check_integer(
            "restrict_vocab", restrict_vocab, allow_none=True
        )
        terms = [(term, 1.0) for term in self._as_list(positive)]
        terms += [(term, -1.0) for term in self._as_list(negative)]
        if not terms:
            raise ValueError(
                "most_similar needs at least one positive or negative word."
            )
        mean = np.zeros(self.vector_size, dtype=np.float64)
        exclude = []
        for term, weight in terms:
            if isinstance(term, np.ndarray):
                mean += weight * self._check_vector("positive/negative", term)
            else:
                exclude.append(self.get_index(term))
                mean += weight * self._unit(term)
        mean /= len(terms)
        norm = np.linalg.norm(mean)
        mean = mean / norm if norm > 0 else mean
        limit = len(self) if restrict_vocab is None else restrict_vocab
        scores = self.normed_vectors[:limit] @ mean.astype(np.float32)
        return self._top(scores, exclude, topn)

    def similar_by_word(
        self, word: str, topn: int | None = 10, restrict_vocab: int | None = None
    ) -> list[tuple[str, float]]:
        """The ``topn`` nearest neighbours of ``word`` (``word`` left out)."""
        return self.most_similar([word], topn=topn, restrict_vocab=restrict_vocab)

    similar_by_key = similar_by_word

    def similar_by_vector(
        self, vector: Any, topn: int | None = 10, restrict_vocab: int | None = None
    ) -> list[tuple[str, float]]:
        """The ``topn`` words nearest (cosine) to ``vector``; none left out."""
        vector = self._check_vector("vector", vector)
        return self.most_similar([vector], topn=topn, restrict_vocab=restrict_vocab)

    def most_similar_cosmul(
        self, positive: Any = None, negative: Any = None, topn: int | None = 10
    ) -> list[tuple[str, float]]:
        """Levy and Goldberg's multiplicative combination (3CosMul).

        Each similarity is mapped to ``(1 + cos) / 2``; the score is the
        product over ``positive`` divided by the product over ``negative``
        (plus 1e-6), as in gensim.
        """
        topn = check_integer("topn", topn, minimum=0, allow_none=True)
        positive = self._as_list(positive)
        negative = self._as_list(negative)
        if not positive and not negative:
            raise ValueError("most_similar_cosmul needs at least one word.")
        normed = self.normed_vectors

        def unit(term: Any) -> np.ndarray:
            if isinstance(term, np.ndarray):
                term = self._check_vector("positive/negative", term)
                return term / max(np.linalg.norm(term), 1e-12)
            return self._unit(term)

        numerator = np.ones(len(self), dtype=np.float64)
        for term in positive:
            numerator *= (1 + normed @ unit(term)) / 2
        denominator = np.ones(len(self), dtype=np.float64)
        for term in negative:
            denominator *= (1 + normed @ unit(term)) / 2
        scores = numerator / (denominator + 1e-6)
        exclude = [
            self.get_index(term)
            for term in positive + negative
            if not isinstance(term, np.ndarray)
        ]
        return self._top(scores, exclude, topn)

    def doesnt_match(self, words: Sequence[str]) -> str:
        """The word furthest from the mean of ``words`` (all must be known)."""
        words = self._as_list(words)
        if len(words) < 2:
            raise invalid_argument("words", words, "a list of at least two words")
        units = np.stack([self._unit(word) for word in words])
        mean = units.mean(axis=0)
        mean /= max(np.linalg.norm(mean), 1e-12)
        return words[int(np.argmin(units @ mean))]

    # ----------------------------------------------------------- evaluation

    @staticmethod
    def _check_evaluation(
        restrict_vocab: Any, case_insensitive: Any, dummy4unknown: Any
    ) -> tuple[int, bool, bool]:
        return (
            check_integer("restrict_vocab", restrict_vocab),
            check_bool("case_insensitive", case_insensitive),
            check_bool("dummy4unknown", dummy4unknown),
        )

    def _ok_vocab(self, restrict_vocab: int, case_insensitive: bool) -> dict[str, int]:
        keys = self.index_to_key[:restrict_vocab]
        # In reverse, so that the most frequent of several case variants wins.
        if case_insensitive:
            return {key.upper(): self.key_to_index[key] for key in reversed(keys)}
        return {key: self.key_to_index[key] for key in reversed(keys)}

    def evaluate_word_pairs(
        self,
        path: str | os.PathLike,
        *,
        delimiter: str = "\t",
        restrict_vocab: int = 300000,
        case_insensitive: bool = True,
        dummy4unknown: bool = False,
    ) -> WordPairsResult:
        """Correlates cosine similarities with human judgements.

        Reads WordSim353 / SimLex-999 style files (``word1<TAB>word2<TAB>score``,
        ``#`` comments), as gensim's ``evaluate_word_pairs`` does; pairs with a
        word outside the first ``restrict_vocab`` words are skipped (or scored
        0 with ``dummy4unknown``).

        Returns:
            `WordPairsResult` with the Pearson and Spearman coefficients (no
            p-values: that would need SciPy), the percentage of pairs
            out of vocabulary, and the number of pairs scored.
        """
        if not isinstance(delimiter, str) or not delimiter:
            raise invalid_argument(
                "delimiter", delimiter, "a non-empty string", error=TypeError
            )
        restrict_vocab, case_insensitive, dummy4unknown = self._check_evaluation(
            restrict_vocab, case_insensitive, dummy4unknown
        )
        ok_vocab = self._ok_vocab(restrict_vocab, case_insensitive)
        gold, model = [], []
        oov = 0
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                if not line or line.startswith("#"):
                    continue
                fields = line.split(delimiter)
                if len(fields) != 3:
                    continue
                if case_insensitive:
                    fields = [field.upper() for field in fields]
                first, second, score = fields
                try:
                    score = float(score)
                except ValueError:
                    continue
                if first not in ok_vocab or second not in ok_vocab:
                    oov += 1
                    if dummy4unknown:
                        gold.append(score)
                        model.append(0.0)
                    continue
                gold.append(score)
                normed = self.normed_vectors
                model.append(
                    float(np.dot(normed[ok_vocab[first]], normed[ok_vocab[second]]))
                )
        if not gold:
            raise ValueError(
                f"No valid similarity judgements in {os.fspath(path)!r}: wrong "
                "format, or every pair is out of vocabulary."
            )
        gold_array, model_array = np.asarray(gold), np.asarray(model)
        total = len(gold) if dummy4unknown else len(gold) + oov
        return WordPairsResult(
            pearson=_pearson(gold_array, model_array),
            spearman=_pearson(_rank(gold_array), _rank(model_array)),
            oov_ratio=100.0 * oov / total,
            pairs=len(gold),
        )

    def evaluate_word_analogies(
        self,
        path: str | os.PathLike,
        *,
        restrict_vocab: int = 30000,
        case_insensitive: bool = True,
        dummy4unknown: bool = False,
    ) -> tuple[float, list[dict[str, Any]]]:
        """Accuracy on ``a : b :: c : d`` analogies (questions-words.txt format).

        Like gensim's ``evaluate_word_analogies`` (3CosAdd, top 5 candidates
        from the first ``restrict_vocab`` words, query words excluded), but
        with ``restrict_vocab=30000`` by default.

        Returns:
            The total accuracy and a list of sections, each a dict with
            ``section``, ``correct`` and ``incorrect`` (lists of the
            quadruplets); the last section is ``"Total accuracy"``.
        """
        restrict_vocab, case_insensitive, dummy4unknown = self._check_evaluation(
            restrict_vocab, case_insensitive, dummy4unknown
        )
        ok_vocab = self._ok_vocab(restrict_vocab, case_insensitive)
        sections: list[dict[str, Any]] = []
        section: dict[str, Any] | None = None
        questions: list[tuple[dict[str, Any], tuple[str, str, str, str]]] = []
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                if line.startswith(": "):
                    section = {
                        "section": line[2:].strip(),
                        "correct": [],
                        "incorrect": [],
                    }
                    sections.append(section)
                    continue
                if section is None:
                    raise ValueError(
                        f"{os.fspath(path)!r}: analogies must follow a ': section' line."
                    )
                words = line.split()
                if len(words) != 4:
                    continue
                if case_insensitive:
                    words = [word.upper() for word in words]
                if any(word not in ok_vocab for word in words):
                    if dummy4unknown:
                        section["incorrect"].append(tuple(words))
                    continue
                questions.append((section, tuple(words)))
        normed = self.normed_vectors[:restrict_vocab]
        for start in range(0, len(questions), 1024):
            block = questions[start : start + 1024]
            index = np.array(
                [[ok_vocab[word] for word in words[:3]] for _, words in block]
            )
            query = normed[index[:, 1]] + normed[index[:, 2]] - normed[index[:, 0]]
            scores = query @ normed.T
            np.put_along_axis(scores, index, -np.inf, axis=1)
            top = np.argpartition(-scores, min(4, scores.shape[1] - 1), axis=1)[:, :5]
            for row, (target_section, words) in enumerate(block):
                candidates = top[row][np.argsort(-scores[row, top[row]], kind="stable")]
                predicted = None
                for candidate in candidates:
                    name = self.index_to_key[candidate]
                    predicted = name.upper() if case_insensitive else name
                    if predicted in ok_vocab and predicted not in words[:3]:
                        break
                key = "correct" if predicted == words[3] else "incorrect"
                target_section[key].append(words)
        correct = [item for section in sections for item in section["correct"]]
        incorrect = [item for section in sections for item in section["incorrect"]]
        sections.append(
            {"section": "Total accuracy", "correct": correct, "incorrect": incorrect}
        )
        attempted = len(correct) + len(incorrect)
        return (len(correct) / attempted if attempted else 0.0), sections

    # ---------------------------------------------------------- file formats

    def _check_writable(self, path: Any, overwrite: Any) -> str:
        overwrite = check_bool("overwrite", overwrite)
        if not isinstance(path, str | os.PathLike):
            raise invalid_argument("path", path, "a file path", error=TypeError)
        check_path_is_new("path", path, overwrite=overwrite)
        bad = np.flatnonzero(~np.isfinite(self.vectors).all(axis=1))
        if bad.size:
            raise ValueError(
                f"The vector of {self.index_to_key[bad[0]]!r} (row {bad[0]}) "
                f"holds NaN or infinity ({bad.size} row(s) do); nothing was "
                "written."
            )
        return os.fspath(path)

    def save(self, path: str | os.PathLike, *, overwrite: bool = False) -> None:
        """Saves the vectors in keras_dlm's native format, fast to load.

        Writes ``path`` (JSON: the words, tokenizer and ``lowercase``) and,
        beside it, ``path + ".vectors.npy"`` (the vectors as a NumPy array,
        which `load` can memory-map) and, if there are counts,
        ``path + ".counts.npy"``. Keep them together. A tokenizer that Keras cannot serialize is refused (see
        `Vocabulary.build`).

        Args:
            path: the metadata file; its folder must exist.
            overwrite: replace existing files. Unlike Keras's ``model.save``,
                whose default is to overwrite, the default here is
                ``False``: existing vectors are refused with a `ValueError`
                and nothing is written.

        Example:

        ```python
        import os, tempfile
        import numpy as np
        wv = WordVectors(["a", "b"], np.eye(2))
        path = os.path.join(tempfile.mkdtemp(), "vectors.kv")
        wv.save(path)
        assert WordVectors.load(path, mmap="r").index_to_key == ["a", "b"]
        ```
        """
        name = self._check_writable(path, overwrite)
        meta_path, *arrays = native_paths(name)
        for array_path in arrays:
            check_path_is_new("path", array_path, overwrite=overwrite)
        metadata = {
            "tokenizer": _serialize_tokenizer(self.tokenizer),
            "lowercase": self.lowercase,
        }
        write_native(meta_path, self.index_to_key, self.vectors, self.counts, metadata)

    @classmethod
    def load(cls, path: str | os.PathLike, mmap: str | None = None) -> WordVectors:
        """Loads vectors written by `save`.

        Args:
            path: the file given to `save`.
            mmap: ``None`` reads the vectors into memory; ``"r"`` maps them
                read-only from the file (as gensim's ``KeyedVectors.load(...,
                mmap="r")``): loading takes milliseconds at any size and
                processes share the pages; ``"c"`` maps them copy-on-write.
                Mapped vectors are not scanned for NaN (that would read the
                whole file); `save` never writes any.

        Returns:
            The `WordVectors`.
        """
        if not isinstance(path, str | os.PathLike):
            raise invalid_argument("path", path, "a file path", error=TypeError)
        mmap = check_choice("mmap", mmap, (None, "r", "c"))
        name = os.fspath(path)
        if not os.path.isfile(name):
            raise FileNotFoundError(f"Argument `path`: no such file {name!r}")
        words, vectors, counts, document = read_native(name, mmap)
        tokenizer = document.get("tokenizer")
        lowercase = document.get("lowercase", False)
        if mmap is None:
            return cls(
                words, vectors, counts=counts, tokenizer=tokenizer, lowercase=lowercase
            )
        wv = cls.__new__(cls)
        wv._set(words, vectors, counts, tokenizer, lowercase, trusted=True)
        return wv

    def save_word2vec_format(
        self,
        path: str | os.PathLike,
        binary: bool = False,
        *,
        overwrite: bool = False,
    ) -> None:
        """Writes the word2vec C format, byte for byte as gensim writes it.

        A header line ``"<words> <dim>\\n"``, then per word ``word`` and the
        vector: text writes ``str(float32)`` values separated by spaces and a
        newline; binary writes a space and the raw little-endian float32s.
        The format has no room for a word that contains whitespace or is
        empty: such words are refused, named, before anything is written.

        Args:
            path: the file; its folder must exist.
            binary: binary format (``True``) or text.
            overwrite: replace an existing file; by default it is refused
                (a `ValueError`) and nothing is written.
        """
        binary = check_bool("binary", binary)
        name = self._check_writable(path, overwrite)
        problem = words_not_writable(self.index_to_key)
        if problem:
            raise ValueError(
                f"The word2vec format cannot hold these words ({problem}): a "
                "space or newline would end the word early and garble the "
                f"file. Nothing was written to {name!r}; save() keeps any "
                "word."
            )
        write_word2vec(name, self.index_to_key, self.vectors, binary)

    @classmethod
    def load_word2vec_format(
        cls,
        path: str | os.PathLike,
        binary: bool = False,
        *,
        unicode_errors: str = "strict",
        limit: int | None = None,
    ) -> WordVectors:
        """Reads a word2vec C-format file (text or binary), e.g. gensim's.

        Every error names the file and the line (text) or byte offset
        (binary): a bad or lying header (its counts are checked against the
        file size before any memory is allocated), a truncated file, words
        that are not UTF-8, a text file read with ``binary=True`` (and a
        binary one read as text), a repeated word, and vectors holding NaN
        or infinity.

        Args:
            path: the file.
            binary: binary format (``True``) or text.
            unicode_errors: ``"strict"`` (an error naming the place),
                ``"replace"`` or ``"ignore"``, for words that are not UTF-8.
            limit: read only the first ``limit`` vectors.

        Returns:
            The `WordVectors`.
        """
        if not isinstance(path, str | os.PathLike):
            raise invalid_argument("path", path, "a file path", error=TypeError)
        binary = check_bool("binary", binary)
        unicode_errors = check_choice(
            "unicode_errors", unicode_errors, ("strict", "replace", "ignore")
        )
        limit = check_integer("limit", limit, allow_none=True)
        name = os.fspath(path)
        if not os.path.isfile(name):
            raise FileNotFoundError(f"Argument `path`: no such file {name!r}")
        words, vectors = read_word2vec(name, binary, unicode_errors, limit)
        return cls(words, vectors)

    def export_projector(self, logdir: str | os.PathLike) -> tuple[str, str]:
        """Writes TensorBoard Embedding Projector files into ``logdir``.

        ``vectors.tsv`` (one vector a line, tab-separated), ``metadata.tsv``
        (one word a line, same order) and a ``projector_config.pbtxt``
        pointing at them, so ``tensorboard --logdir LOGDIR`` shows the
        vectors; both TSV files can also be loaded at
        projector.tensorflow.org.

        Words holding a tab or a line break would shift every later row of
        ``metadata.tsv``; they are refused, named, before anything is
        written.

        Returns:
            The paths of ``vectors.tsv`` and ``metadata.tsv``.
        """
        if not isinstance(logdir, str | os.PathLike):
            raise invalid_argument("logdir", logdir, "a folder path", error=TypeError)
        bad = [word for word in self.index_to_key if _TSV_BREAKS.search(word)]
        if bad:
            shown = ", ".join(repr(word) for word in bad[:5])
            raise ValueError(
                f"{len(bad)} word(s) hold a tab or line break, which the "
                f"projector's metadata.tsv cannot: {shown}. Nothing was written."
            )
        os.makedirs(logdir, exist_ok=True)
        vectors_path = os.path.join(logdir, "vectors.tsv")
        metadata_path = os.path.join(logdir, "metadata.tsv")
        np.savetxt(vectors_path, self.vectors, delimiter="\t", fmt="%.6g")
        with open(metadata_path, "w", encoding="utf-8") as handle:
            for word in self.index_to_key:
                handle.write(word + "\n")
        with open(
            os.path.join(logdir, "projector_config.pbtxt"), "w", encoding="utf-8"
        ) as handle:
            handle.write(
                'embeddings {\n  tensor_path: "vectors.tsv"\n'
                '  metadata_path: "metadata.tsv"\n}\n'
            )
        return vectors_path, metadata_path

    def __repr__(self) -> str:
        return f"WordVectors({len(self)} words, dim {self.vector_size})"
