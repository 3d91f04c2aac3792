"""The vocabulary of a Word2Vec model: counts, index, subsampling, noise."""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import keras
import numpy as np

from keras_dlm._checks import (
    check_bool,
    check_integer,
    check_number,
    invalid_argument,
)
from keras_dlm.word2vec._corpus import (
    _check_reiterable,
    _is_path,
    _iter_sentences,
    _ReadStats,
)

_LOGGER = logging.getLogger("keras_dlm.word2vec")
# Files at least this large show a progress bar while they are counted.
_PROGRESS_MIN_BYTES = 32 * 1024 * 1024

Tokenizer = Callable[[str], Sequence[str]]


def _check_tokenizer(tokenizer: Any) -> Tokenizer | None:
    if tokenizer is not None and not callable(tokenizer):
        raise invalid_argument(
            "tokenizer",
            tokenizer,
            "None (split on whitespace) or a callable taking a line and "
            "returning its tokens",
            error=TypeError,
        )
    return tokenizer


def _serialize_tokenizer(tokenizer: Tokenizer | None) -> dict[str, Any] | None:
    """The tokenizer as Keras serializes it, refused if it would not load back.

    Checked by deserializing at once: a lambda or an unregistered function
    would otherwise be written and only fail when the file is loaded.
    """
    if tokenizer is None:
        return None
    try:
        config = keras.saving.serialize_keras_object(tokenizer)
        keras.saving.deserialize_keras_object(config)
    except Exception as error:  # Keras raises several kinds
        raise ValueError(
            f"The tokenizer {tokenizer!r} cannot be saved: Keras could not load "
            f"it back ({type(error).__name__}). Decorate the function or class "
            "with @keras.saving.register_keras_serializable() (a class also "
            "needs get_config), or keep the vocabulary in memory only."
        ) from None
    return config


def _deserialize_tokenizer(config: Any) -> Tokenizer | None:
    if config is None or callable(config):
        return config
    return keras.saving.deserialize_keras_object(config)


def _lookup_key(word: str, tokenizer: Tokenizer | None, lowercase: bool) -> str | None:
    """The vocabulary entry a query word stands for, or None.

    The query goes through the same tokenizer and lowercasing as the corpus;
    only a word that yields exactly one token has an entry.
    """
    tokens = word.split() if tokenizer is None else list(tokenizer(word))
    if len(tokens) != 1:
        return None
    return tokens[0].lower() if lowercase else tokens[0]


class _TokenizedCorpus:
    """A re-iterable view of a corpus as a vocabulary tokenizes it."""

    def __init__(self, corpus: Any, vocabulary: Vocabulary) -> None:
        _check_reiterable(corpus)
        self.corpus = corpus
        self.vocabulary = vocabulary

    def __iter__(self) -> Iterator[list[str]]:
        tokenizer = self.vocabulary.tokenizer
        lowercase = self.vocabulary.lowercase
        for sentence in _iter_sentences(self.corpus, tokenizer=tokenizer):
            yield [token.lower() for token in sentence] if lowercase else sentence


@keras.saving.register_keras_serializable(package="keras_dlm")
class Vocabulary:
    """Words kept for training, their counts, subsampling and noise tables.

    Words are sorted by decreasing count (ties keep first-seen order), so
    index 0 is the most frequent word, as in gensim and the word2vec C tool.
    The vocabulary remembers how text becomes tokens (``tokenizer``,
    ``lowercase``) and applies it the same way when a corpus is counted,
    when it is encoded for training and when `WordVectors` look words up.

    Args:
        words: the words, most frequent first.
        counts: their corpus counts, same order.
        total_words: tokens in the corpus, including words dropped by
            ``min_count`` (the count gensim's learning-rate schedule uses).
            Defaults to ``sum(counts)``.
        min_count: the ``min_count`` the vocabulary was built with.
        sample: subsampling threshold in [0, 1]; ``0`` or ``None`` keeps
            every token.
        max_size: the ``max_size`` the vocabulary was built with.
        replaced_bytes: undecodable bytes replaced while reading the corpus.
        tokenizer: splits a line of a text-file corpus into tokens; ``None``
            splits on whitespace. See `build`.
        lowercase: whether tokens (and looked-up words) are lowercased.

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
        tokenizer: Tokenizer | dict[str, Any] | None = None,
        lowercase: bool = False,
    ) -> None:
        words = list(words)
        for word in words:
            if not isinstance(word, str):
                raise invalid_argument(
                    "words", word, "a list of strings", error=TypeError
                )
        counts = np.asarray(counts)
        if counts.shape != (len(words),) or (
            counts.size and not np.issubdtype(counts.dtype, np.integer)
        ):
            raise ValueError(
                "Argument `counts` must hold one integer per word "
                f"({len(words)}). Received: counts of shape {counts.shape} "
                f"and dtype {counts.dtype}"
            )
        counts = counts.astype(np.int64)
        if len(words) == 0:
            raise ValueError(
                "The vocabulary is empty: no word reached min_count. Lower "
                "min_count or use a larger corpus."
            )
        if np.any(counts <= 0):
            raise invalid_argument("counts", counts, "all positive")
        self.words = words
        self.counts = counts
        self.index = {word: position for position, word in enumerate(words)}
        if len(self.index) != len(words):
            duplicate = next(w for w, n in Counter(words).items() if n > 1)
            raise invalid_argument(
                "words", duplicate, "free of duplicates (this word repeats)"
            )
        self.retained_words = int(counts.sum())
        total = check_integer("total_words", total_words, minimum=0, allow_none=True)
        self.total_words = self.retained_words if total is None else total
        self.min_count = check_integer("min_count", min_count)
        self.sample = check_number("sample", sample, low=0.0, high=1.0, allow_none=True)
        self.max_size = check_integer("max_size", max_size, allow_none=True)
        self.replaced_bytes = check_integer("replaced_bytes", replaced_bytes, minimum=0)
        self.tokenizer = _check_tokenizer(_deserialize_tokenizer(tokenizer))
        self.lowercase = check_bool("lowercase", lowercase)
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
        tokenizer: Tokenizer | None = None,
        lowercase: bool = False,
    ) -> Vocabulary:
        """Counts the words of ``corpus`` and keeps the frequent ones.

        Args:
            corpus: an iterable of token lists, or a path to a UTF-8 text
                file with one sentence a line (``.gz``/``.bz2`` are
                decompressed). Undecodable bytes are replaced by U+FFFD,
                counted in ``replaced_bytes`` and logged; they never stop
                the build.
            min_count: drop words seen fewer times than this.
            max_size: keep at most this many words (the most frequent).
            sample: subsampling threshold ``t`` as a fraction of the corpus,
                in [0, 1]; ``0``/``None`` disables subsampling.
            progress: show a progress bar; ``None`` shows one for files of
                32 MiB or more.
            tokenizer: a callable that takes one line of a text-file corpus
                (without its line ending) and returns its tokens; ``None``
                (the default) splits on whitespace. It is not applied to an
                iterable of token lists, which is split already. A function
                or class registered with
                ``@keras.saving.register_keras_serializable()`` is saved with
                the vocabulary (in `get_config`, hence in a saved
                `Word2Vec` and in `WordVectors.save`); any other callable
                works in memory, and saving it raises a `ValueError` that
                says so.
            lowercase: lowercase every token (after ``tokenizer``), and
                every word `WordVectors` looks up, so ``"France"`` and
                ``"france"`` are one word.

        Returns:
            The vocabulary.

        Example:

        ```python
        corpus = [["Paris", "is", "in", "France"], ["france", "and", "paris"]]
        vocab = Vocabulary.build(corpus, min_count=2, lowercase=True)
        assert vocab.words == ["paris", "france"] and "France" in vocab
        ```
        """
        min_count = check_integer("min_count", min_count)
        max_size = check_integer("max_size", max_size, allow_none=True)
        sample = check_number("sample", sample, low=0.0, high=1.0, allow_none=True)
        if progress is not None:
            progress = check_bool("progress", progress)
        tokenizer = _check_tokenizer(tokenizer)
        lowercase = check_bool("lowercase", lowercase)
        if _is_path(corpus) and not os.path.isfile(corpus):
            raise FileNotFoundError(
                f"Argument `corpus` must be an existing file. Received: "
                f"corpus={os.fspath(corpus)!r}"
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
        for sentence in _iter_sentences(corpus, stats, tokenizer):
            if lowercase:
                counter.update(token.lower() for token in sentence)
            else:
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
            tokenizer=tokenizer,
            lowercase=lowercase,
        )

    def tokenize(self, line: str) -> list[str]:
        """The tokens of one line of text, as this vocabulary counts them."""
        if not isinstance(line, str):
            raise invalid_argument("line", line, "a string", error=TypeError)
        tokens = line.split() if self.tokenizer is None else list(self.tokenizer(line))
        return [token.lower() for token in tokens] if self.lowercase else tokens

    def sentences(self, corpus: Any) -> Iterable[list[str]]:
        """``corpus`` as this vocabulary reads it: a re-iterable of token lists.

        Lines of a text file are split by the vocabulary's ``tokenizer``;
        tokens are lowercased if ``lowercase``. Give this to
        `Word2Vec.make_dataset` when the vocabulary has a custom tokenizer
        and the corpus is a file (`train` does it for you).
        """
        return _TokenizedCorpus(corpus, self)

    def lookup_key(self, word: str) -> str | None:
        """The entry a query word stands for after tokenizing and lowercasing.

        ``None`` if the word does not make exactly one token.
        """
        return _lookup_key(word, self.tokenizer, self.lowercase)

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
        ns_exponent = check_number("ns_exponent", ns_exponent)
        weights = self.counts.astype(np.float64) ** ns_exponent
        return weights / weights.sum()

    def __len__(self) -> int:
        return len(self.words)

    def _position(self, word: object) -> int | None:
        try:
            position = self.index.get(word)  # type: ignore[arg-type]
        except TypeError:  # unhashable
            return None
        normalizes = self.tokenizer is not None or self.lowercase
        if position is None and normalizes and isinstance(word, str):
            key = self.lookup_key(word)
            if key is not None:
                position = self.index.get(key)
        return position

    def __contains__(self, word: object) -> bool:
        return self._position(word) is not None

    def __getitem__(self, word: str) -> int:
        position = self._position(word)
        if position is None:
            raise KeyError(
                f"word {word!r} is not in the vocabulary ({len(self)} words)"
            )
        return position

    def encode(self, tokens: Iterable[str]) -> np.ndarray:
        """Maps tokens to indices; out-of-vocabulary tokens become -1.

        Tokens are lowercased first if the vocabulary is ``lowercase``.
        """
        get = self.index.get
        if self.lowercase:
            return np.fromiter(
                (get(token.lower(), -1) for token in tokens), dtype=np.int32
            )
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
            "tokenizer": _serialize_tokenizer(self.tokenizer),
            "lowercase": self.lowercase,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Vocabulary:
        config = dict(config)
        return cls(config.pop("words"), config.pop("counts"), **config)

    def __repr__(self) -> str:
        return (
            f"Vocabulary({len(self)} words, {self.total_words} corpus tokens, "
            f"min_count={self.min_count}, sample={self.sample}"
            + (", lowercase=True" if self.lowercase else "")
            + ("" if self.tokenizer is None else f", tokenizer={self.tokenizer!r}")
            + ")"
        )
