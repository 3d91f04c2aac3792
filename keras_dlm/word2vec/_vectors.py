"""Trained word vectors: similarity queries, evaluation, file formats."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

import numpy as np


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
    """Word vectors with gensim-style queries and word2vec file formats.

    Args:
        words: the words, most frequent first when known (analogy and
            similarity evaluation restrict to the first words).
        vectors: array of shape ``(len(words), dim)``.
        counts: optional corpus counts, same order.

    Example:

    ```python
    import numpy as np
    wv = WordVectors(["a", "b", "c"], np.array([[1, 0], [0.9, 0.1], [0, 1]]))
    assert wv.most_similar("a", topn=1)[0][0] == "b"
    ```
    """

    def __init__(
        self,
        words: Sequence[str],
        vectors: Any,
        *,
        counts: Sequence[int] | np.ndarray | None = None,
    ) -> None:
        vectors = np.asarray(vectors, dtype=np.float32)
        words = list(words)
        if vectors.ndim != 2 or vectors.shape[0] != len(words):
            raise ValueError(
                f"vectors must have shape ({len(words)}, dim) for {len(words)} "
                f"words; received shape {vectors.shape}."
            )
        self.index_to_key = words
        self.key_to_index = {word: position for position, word in enumerate(words)}
        self.vectors = vectors
        self.counts = None if counts is None else np.asarray(counts, dtype=np.int64)
        self._normed: np.ndarray | None = None

    @property
    def vector_size(self) -> int:
        return int(self.vectors.shape[1])

    @property
    def normed_vectors(self) -> np.ndarray:
        """The vectors scaled to unit length (zero vectors stay zero)."""
        if self._normed is None:
            norms = np.linalg.norm(self.vectors, axis=1, keepdims=True)
            self._normed = self.vectors / np.where(norms > 0, norms, 1.0)
        return self._normed

    def __len__(self) -> int:
        return len(self.index_to_key)

    def __contains__(self, word: object) -> bool:
        return word in self.key_to_index

    def get_index(self, word: str) -> int:
        """The row of ``word``; a `KeyError` naming the word if it is unknown."""
        try:
            return self.key_to_index[word]
        except (KeyError, TypeError):
            raise KeyError(
                f"word {word!r} is not in the vocabulary ({len(self)} words)"
            ) from None

    def __getitem__(self, word: str) -> np.ndarray:
        return self.vectors[self.get_index(word)].copy()

    def _unit(self, word: str) -> np.ndarray:
        return self.normed_vectors[self.get_index(word)]

    def similarity(self, word1: str, word2: str) -> float:
        """Cosine similarity of two words."""
        return float(np.dot(self._unit(word1), self._unit(word2)))

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
            topn: how many words to return; ``None`` returns all.
            restrict_vocab: search only the first (most frequent) words.

        Returns:
            ``(word, cosine similarity)`` pairs, most similar first; the
            query words themselves are left out.
        """
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
                mean += weight * term
            else:
                exclude.append(self.get_index(term))
                mean += weight * self._unit(term)
        mean /= len(terms)
        norm = np.linalg.norm(mean)
        mean = mean / norm if norm > 0 else mean
        limit = len(self) if restrict_vocab is None else restrict_vocab
        scores = self.normed_vectors[:limit] @ mean.astype(np.float32)
        return self._top(scores, exclude, topn)

    def most_similar_cosmul(
        self, positive: Any = None, negative: Any = None, topn: int | None = 10
    ) -> list[tuple[str, float]]:
        """Levy and Goldberg's multiplicative combination (3CosMul).

        Each similarity is mapped to ``(1 + cos) / 2``; the score is the
        product over ``positive`` divided by the product over ``negative``
        (plus 1e-6), as in gensim.
        """
        positive = self._as_list(positive)
        negative = self._as_list(negative)
        if not positive and not negative:
            raise ValueError("most_similar_cosmul needs at least one word.")
        normed = self.normed_vectors

        def unit(term: Any) -> np.ndarray:
            if isinstance(term, np.ndarray):
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
        words = list(words)
        if len(words) < 2:
            raise ValueError(
                f"doesnt_match needs at least two words; received {words!r}."
            )
        units = np.stack([self._unit(word) for word in words])
        mean = units.mean(axis=0)
        mean /= max(np.linalg.norm(mean), 1e-12)
        return words[int(np.argmin(units @ mean))]

    # ----------------------------------------------------------- evaluation

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

    def save_word2vec_format(
        self, path: str | os.PathLike, binary: bool = False
    ) -> None:
        """Writes the word2vec C format, byte for byte as gensim writes it.

        A header line ``"<words> <dim>\\n"``, then per word ``word`` and the
        vector: text writes ``str(float32)`` values separated by spaces and a
        newline; binary writes a space and the raw little-endian float32s.
        """
        vectors = self.vectors.astype("<f4")
        with open(path, "wb") as handle:
            handle.write(f"{len(self)} {self.vector_size}\n".encode())
            for word, vector in zip(self.index_to_key, vectors, strict=True):
                if binary:
                    handle.write(f"{word} ".encode() + vector.tobytes())
                else:
                    values = " ".join(str(value) for value in vector)
                    handle.write(f"{word} {values}\n".encode())

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

        Args:
            path: the file.
            binary: binary format (``True``) or text.
            unicode_errors: how to decode words that are not valid UTF-8.
            limit: read only the first ``limit`` vectors.
        """
        with open(path, "rb") as handle:
            header = handle.readline().decode("utf-8", unicode_errors).split()
            if len(header) != 2:
                raise ValueError(
                    f"{os.fspath(path)!r} does not start with a '<words> <dim>' header."
                )
            count, dim = int(header[0]), int(header[1])
            if limit is not None:
                count = min(count, limit)
            words: list[str] = []
            vectors = np.empty((count, dim), dtype=np.float32)
            if binary:
                data = handle.read()
                position = 0
                width = 4 * dim
                for row in range(count):
                    # Some writers end each vector with a newline; skip it.
                    while data[position : position + 1] in (b"\n", b"\r"):
                        position += 1
                    end = data.index(b" ", position)
                    words.append(data[position:end].decode("utf-8", unicode_errors))
                    position = end + 1
                    vectors[row] = np.frombuffer(
                        data, dtype="<f4", count=dim, offset=position
                    )
                    position += width
            else:
                for row in range(count):
                    fields = (
                        handle.readline()
                        .decode("utf-8", unicode_errors)
                        .rstrip("\n")
                        .split(" ")
                    )
                    fields = [field for field in fields if field]
                    if len(fields) != dim + 1:
                        raise ValueError(
                            f"{os.fspath(path)!r}, vector {row + 1}: expected a word "
                            f"and {dim} values, got {len(fields)} fields."
                        )
                    words.append(fields[0])
                    vectors[row] = np.asarray(fields[1:], dtype=np.float32)
        return cls(words, vectors)

    def export_projector(self, logdir: str | os.PathLike) -> tuple[str, str]:
        """Writes TensorBoard Embedding Projector files into ``logdir``.

        ``vectors.tsv`` (one vector a line, tab-separated), ``metadata.tsv``
        (one word a line, same order) and a ``projector_config.pbtxt``
        pointing at them, so ``tensorboard --logdir LOGDIR`` shows the
        vectors; both TSV files can also be loaded at
        projector.tensorflow.org.

        Returns:
            The paths of ``vectors.tsv`` and ``metadata.tsv``.
        """
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
