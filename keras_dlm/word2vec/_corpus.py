"""Reading corpora: iterables of token lists or UTF-8 text files."""

from __future__ import annotations

import bz2
import gzip
import os
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from keras_dlm._checks import invalid_argument

# Bytes that are not valid UTF-8 are decoded to lone surrogates
# (errors="surrogateescape"), which makes them countable before they are
# replaced by U+FFFD, the character errors="replace" would have given.
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")


class _ReadStats:
    """What one pass over a corpus saw."""

    def __init__(self) -> None:
        self.sentences = 0
        self.tokens = 0
        self.replaced_bytes = 0
        self.bytes_read = 0


def _is_path(corpus: Any) -> bool:
    return isinstance(corpus, str | os.PathLike)


def _open_binary(path: str | os.PathLike):
    name = os.fspath(path)
    if name.endswith(".gz"):
        return gzip.open(name, "rb")
    if name.endswith(".bz2"):
        return bz2.open(name, "rb")
    return open(name, "rb")


def _iter_file(
    path: str | os.PathLike,
    stats: _ReadStats,
    tokenizer: Callable[[str], list[str]] | None = None,
) -> Iterator[list[str]]:
    with _open_binary(path) as handle:
        for raw in handle:
            stats.bytes_read += len(raw)
            text = raw.decode("utf-8", "surrogateescape")
            if not text.isascii():
                text, replaced = _ESCAPED_BYTE.subn("\ufffd", text)
                stats.replaced_bytes += replaced
            if tokenizer is None:
                tokens = text.split()
            else:
                tokens = list(tokenizer(text.rstrip("\r\n")))
            stats.sentences += 1
            stats.tokens += len(tokens)
            yield tokens


def _iter_sentences(
    corpus: Any,
    stats: _ReadStats | None = None,
    tokenizer: Callable[[str], list[str]] | None = None,
) -> Iterator[list[str]]:
    """Yields the sentences of ``corpus`` as lists of tokens.

    ``tokenizer`` splits each line of a file corpus (default: whitespace);
    an iterable of token lists is already split and is yielded as it is.
    """
    stats = _ReadStats() if stats is None else stats
    if _is_path(corpus):
        yield from _iter_file(corpus, stats, tokenizer)
        return
    if not isinstance(corpus, Iterable):
        raise invalid_argument(
            "corpus",
            corpus,
            "a path to a text file or an iterable of token lists",
            error=TypeError,
        )
    for sentence in corpus:
        if isinstance(sentence, str | bytes):
            raise TypeError(
                "Argument `corpus` must yield sentences as lists of tokens "
                "(split them first, or pass a path to a text file). Received: "
                f"a corpus yielding the string {sentence[:40]!r}"
            )
        tokens = list(sentence)
        stats.sentences += 1
        stats.tokens += len(tokens)
        yield tokens


def _check_reiterable(corpus: Any, argument: str = "corpus") -> None:
    if _is_path(corpus):
        if not os.path.exists(corpus):
            raise FileNotFoundError(
                f"Argument `{argument}` must be an existing file. "
                f"Received: {argument}={os.fspath(corpus)!r} (no such file)"
            )
        return
    if isinstance(corpus, Iterator):
        # It is read once per epoch.
        raise invalid_argument(
            argument,
            corpus,
            "re-iterable (a list of token lists, a path to a text file, or an "
            "object whose __iter__ restarts), not a one-shot iterator",
            error=TypeError,
        )
