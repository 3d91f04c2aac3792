"""The vocabulary of a Word2Vec model: counts, index, subsampling, noise."""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import keras
import numpy as np

from keras_dlm.word2vec._corpus import _is_path, _iter_sentences, _ReadStats

_LOGGER = logging.getLogger("keras_dlm.word2vec")
# Files at least this large show a progress bar while they are counted.
_PROGRESS_MIN_BYTES = 32 * 1024 * 1024


@keras.saving.register_keras_serializable(package="keras_dlm")
class Vocabulary:
    """Words kept for training, their counts, subsampling and noise tables.

    Words are sorted by decreasing count (ties keep first-seen order), so
    index 0 is the most frequent word, as in gensim and the word2vec C tool.

    Args:
        words: the words, most frequent first.
        counts: their corpus counts, same order.
        total_words: tokens in the corpus, including words dropped by
            ``min_count`` (the count gensim's learning-rate schedule uses).
            Defaults to ``sum(counts)``.
        min_count: the ``min_count`` the vocabulary was built with.
        sample: subsampling threshold; ``0`` or ``None`` keeps every token.
        max_size: the ``max_size`` the vocabulary was built with.
        replaced_bytes: undecodable bytes replaced while reading the corpus.

    Example:

    ```python
    vocab = Vocabulary.build([["a", "b", "a"], ["b", "a"]], min_count=1)
    assert vocab.words == ["a", "b"] and vocab["b"] == 1
    ```
    """

    def __init__(
        self,
        words: Sequence[str],
        counts: Sequence[int] | np.ndarray,
        *,
        total_words: int | None = None,
        min_count: int = 1,
        sample: float | None = 1e-3,
        max_size: int | None = None,
        replaced_bytes: int = 0,
    ) -> None:
        words = list(words)
        counts = np.asarray(counts, dtype=np.int64)
        if counts.shape != (len(words),):
            raise ValueError(
                f"counts must have one entry per word ({len(words)}); "
                f"received shape {counts.shape}."
            )
        if len(words) == 0:
            raise ValueError(
                "The vocabulary is empty: no word reached min_count. Lower "
                "min_count or use a larger corpus."
            )
        if np.any(counts <= 0):
            raise ValueError("counts must all be positive.")
        if sample is not None and sample < 0:
            raise ValueError(f"sample must be >= 0 or None; received {sample}.")
        self.words = words
        self.counts = counts
        self.index = {word: position for position, word in enumerate(words)}
        if len(self.index) != len(words):
            raise ValueError("words must not contain duplicates.")
        self.retained_words = int(counts.sum())
        self.total_words = (
            self.retained_words if total_words is None else int(total_words)
        )
        self.min_count = int(min_count)
        self.sample = sample
        self.max_size = max_size
        self.replaced_bytes = int(replaced_bytes)
        self._keep = self._keep_probabilities()

    @classmethod
    def build(
        cls,
        corpus: Any,
        *,
        min_count: int = 5,
        max_size: int | None = None,
        sample: float | None = 1e-3,
        progress: bool | None = None,
    ) -> Vocabulary:
        """Counts the words of ``corpus`` and keeps the frequent ones.

        Args:
            corpus: an iterable of token lists, or a path to a UTF-8 text
                file with one sentence a line and whitespace-separated tokens
                (``.gz``/``.bz2`` are decompressed). Undecodable bytes are
                replaced by U+FFFD, counted in ``replaced_bytes`` and logged;
                they never stop the build.
            min_count: drop words seen fewer times than this.
            max_size: keep at most this many words (the most frequent).
            sample: subsampling threshold ``t`` as a fraction of the corpus;
                ``0``/``None`` disables subsampling.
            progress: show a progress bar; ``None`` shows one for files of
                32 MiB or more.

        Returns:
            The vocabulary.
        """
        if not isinstance(min_count, int) or min_count < 1:
            raise ValueError(
                f"min_count must be an integer >= 1; received {min_count!r}."
            )
        if max_size is not None and (not isinstance(max_size, int) or max_size < 1):
            raise ValueError(
                f"max_size must be None or an integer >= 1; received {max_size!r}."
            )
        stats = _ReadStats()
        counter: Counter[str] = Counter()
        bar = None
        if _is_path(corpus):
            size = os.path.getsize(corpus)
            if progress or (progress is None and size >= _PROGRESS_MIN_BYTES):
                bar = keras.utils.Progbar(size, unit_name="byte")
        elif progress:
            bar = keras.utils.Progbar(None, unit_name="sentence")
        for sentence in _iter_sentences(corpus, stats):
            counter.update(sentence)
            if bar is not None and stats.sentences % 10000 == 0:
                bar.update(stats.bytes_read if _is_path(corpus) else stats.sentences)
        if bar is not None:
            bar.update(
                stats.bytes_read if _is_path(corpus) else stats.sentences,
                finalize=True,
            )
        if stats.replaced_bytes:
            _LOGGER.warning(
                "%d undecodable bytes in %s were replaced by U+FFFD",
                stats.replaced_bytes,
                os.fspath(corpus),
            )
        # Counter keeps first-seen order, and sorted() is stable.
        items = sorted(
            ((word, count) for word, count in counter.items() if count >= min_count),
            key=lambda item: -item[1],
        )
        if max_size is not None:
            items = items[:max_size]
        return cls(
            [word for word, _ in items],
            [count for _, count in items],
            total_words=stats.tokens,
            min_count=min_count,
            sample=sample,
            max_size=max_size,
            replaced_bytes=stats.replaced_bytes,
        )

    def _keep_probabilities(self) -> np.ndarray:
        counts = self.counts.astype(np.float64)
        if not self.sample:
            return np.ones_like(counts)
        # gensim and the C tool: t = sample * (tokens of retained words).
        threshold = self.sample * self.retained_words
        keep = (np.sqrt(counts / threshold) + 1.0) * (threshold / counts)
        return np.minimum(keep, 1.0)

    @property
    def keep_probabilities(self) -> np.ndarray:
        """Probability that subsampling keeps each occurrence of each word."""
        return self._keep.copy()

    def noise_distribution(self, ns_exponent: float = 0.75) -> np.ndarray:
        """The negative-sampling distribution: ``count ** ns_exponent``, normalized."""
        weights = self.counts.astype(np.float64) ** ns_exponent
        return weights / weights.sum()

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: object) -> bool:
        return word in self.index

    def __getitem__(self, word: str) -> int:
        try:
            return self.index[word]
        except KeyError:
            raise KeyError(
                f"word {word!r} is not in the vocabulary ({len(self)} words)"
            ) from None

    def encode(self, tokens: Iterable[str]) -> np.ndarray:
        """Maps tokens to indices; out-of-vocabulary tokens become -1."""
        get = self.index.get
        return np.fromiter((get(token, -1) for token in tokens), dtype=np.int32)

    def get_config(self) -> dict[str, Any]:
        return {
            "words": list(self.words),
            "counts": [int(count) for count in self.counts],
            "total_words": self.total_words,
            "min_count": self.min_count,
            "sample": self.sample,
            "max_size": self.max_size,
            "replaced_bytes": self.replaced_bytes,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Vocabulary:
        config = dict(config)
        return cls(config.pop("words"), config.pop("counts"), **config)

    def __repr__(self) -> str:
        return (
            f"Vocabulary({len(self)} words, {self.total_words} corpus tokens, "
            f"min_count={self.min_count}, sample={self.sample})"
        )
