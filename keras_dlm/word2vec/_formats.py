"""Word-vector files: the word2vec C format (text and binary) and the native one.

Reading is defensive: every error names the file and the line (text) or byte
offset (binary), and the header's counts are checked against the file size
before anything is allocated, so a corrupt header cannot ask for a TiB.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

import numpy as np

# A word2vec header is two decimal numbers; anything longer is not one.
_MAX_HEADER_BYTES = 64
# Longest word accepted in a binary file; a longer run of bytes without a
# space means the file is not the binary format (or is damaged).
_MAX_WORD_BYTES = 1 << 16
_WHITESPACE = re.compile(r"\s")
NATIVE_FORMAT = "keras_dlm.word2vec.WordVectors"
NATIVE_VERSION = 1
VECTORS_SUFFIX = ".vectors.npy"
COUNTS_SUFFIX = ".counts.npy"


def _error(path: str, where: str, message: str) -> ValueError:
    return ValueError(f"{path!r}, {where}: {message}")


def words_not_writable(words: list[str], limit: int = 5) -> str | None:
    """Names the words the word2vec format cannot hold, or None if all can."""
    bad = [word for word in words if not word or _WHITESPACE.search(word)]
    if not bad:
        return None
    shown = ", ".join(repr(word) for word in bad[:limit])
    more = f" and {len(bad) - limit} more" if len(bad) > limit else ""
    return f"{len(bad)} word(s) are empty or contain whitespace: {shown}{more}"


def write_word2vec(
    path: str, words: list[str], vectors: np.ndarray, binary: bool
) -> None:
    """Writes the word2vec C format, byte for byte as gensim writes it."""
    vectors = np.asarray(vectors, dtype="<f4")
    with open(path, "wb") as handle:
        handle.write(f"{len(words)} {vectors.shape[1]}\n".encode())
        for word, vector in zip(words, vectors, strict=True):
            if binary:
                handle.write(f"{word} ".encode() + vector.tobytes())
            else:
                values = " ".join(str(value) for value in vector)
                handle.write(f"{word} {values}\n".encode())


def _read_header(path: str, handle: Any) -> tuple[int, int, int]:
    raw = handle.readline(_MAX_HEADER_BYTES)
    expected = "a '<number of vectors> <dimension>' header line"
    if not raw.endswith(b"\n"):
        raise _error(path, "line 1", f"expected {expected}; found {raw[:40]!r}")
    try:
        fields = raw.decode("ascii").split()
        count, dim = (int(field) for field in fields)
    except (UnicodeDecodeError, ValueError):
        raise _error(
            path, "line 1", f"expected {expected}; found {raw[:40]!r}"
        ) from None
    if count < 0 or dim < 1:
        raise _error(
            path,
            "line 1",
            f"the header announces {count} vectors of dimension {dim}; both "
            "must be positive",
        )
    return count, dim, len(raw)


def _looks_like_text(data: bytes, dim: int) -> bool:
    """Whether the first record is a text-format line of ``dim`` numbers."""
    end = data.find(b"\n", 0, 64 + 40 * dim)
    if end < 0:
        return False
    try:
        fields = data[:end].decode("ascii").split()
        [float(field) for field in fields[1:]]
    except (UnicodeDecodeError, ValueError):
        return False
    return len(fields) == dim + 1


def _decode(
    path: str,
    data: bytes,
    position: int,
    end: int,
    start: int,
    row: int,
    unicode_errors: str,
) -> str:
    """The word in ``data[position:end]``; ``start`` is the data's file offset."""
    try:
        return data[position:end].decode("utf-8", unicode_errors)
    except UnicodeDecodeError as error:
        raise _error(
            path,
            f"vector {row + 1}, byte offset {start + position + error.start}",
            f"the word {data[position:end][:40]!r} is not valid UTF-8; pass "
            "unicode_errors='replace' (or 'ignore') to read it anyway",
        ) from None


def read_word2vec(
    path: str, binary: bool, unicode_errors: str, limit: int | None
) -> tuple[list[str], np.ndarray]:
    """Reads a word2vec C-format file; see `WordVectors.load_word2vec_format`."""
    size = os.path.getsize(path)
    with open(path, "rb") as handle:
        count, dim, header_bytes = _read_header(path, handle)
        rows = count if limit is None else min(count, limit)
        body = size - header_bytes
        # The smallest record: a one-byte word, a space and the values (4
        # bytes each in binary; a digit and a separator each in text, the
        # last line's newline optional).
        smallest = 4 * dim + 2 if binary else 2 * dim + 2
        needed = rows * smallest - (1 if rows and not binary else 0)
        if needed > body:
            raise _error(
                path,
                "line 1",
                f"the header announces {count:,} vectors of dimension {dim:,}, "
                f"which take at least {needed:,} bytes, but only {body:,} "
                "bytes follow the header (a truncated file or a wrong header)",
            )
        words: list[str] = []
        vectors = np.empty((rows, dim), dtype=np.float32)
        if binary:
            data = handle.read()
            if rows and _looks_like_text(data, dim):
                raise _error(
                    path,
                    "line 2",
                    "this is the text word2vec format (a word and "
                    f"{dim} numbers on a line); pass binary=False",
                )
            offsets = _read_binary(
                path, data, header_bytes, words, vectors, unicode_errors
            )
        else:
            _read_text(path, handle, words, vectors, unicode_errors)
            offsets = None
    bad = np.flatnonzero(~np.isfinite(vectors).all(axis=1))
    if bad.size:
        row = int(bad[0])
        where = (
            f"line {row + 2}"
            if offsets is None
            else f"vector {row + 1}, byte offset {offsets[row]}"
        )
        raise _error(
            path,
            where,
            f"the vector of {words[row]!r} holds NaN or infinity ({bad.size} "
            "vector(s) in the file do)",
        )
    first_row: dict[str, int] = {}
    for row, word in enumerate(words):
        if first_row.setdefault(word, row) != row:
            where = f"vector {row + 1}" if binary else f"line {row + 2}"
            raise _error(
                path,
                where,
                f"the word {word!r} appears a second time (first as vector "
                f"{first_row[word] + 1})",
            )
    return words, vectors


def _read_binary(
    path: str,
    data: bytes,
    start: int,
    words: list[str],
    vectors: np.ndarray,
    unicode_errors: str,
) -> list[int]:
    """Fills ``words`` and ``vectors``; returns each record's byte offset."""
    width = 4 * vectors.shape[1]
    position = 0
    offsets = []
    for row in range(len(vectors)):
        # The C tool ends each vector with a newline; gensim does not.
        while data[position : position + 1] in (b"\n", b"\r"):
            position += 1
        offsets.append(start + position)
        end = data.find(b" ", position, position + _MAX_WORD_BYTES)
        if end < 0:
            problem = (
                "the file ends"
                if len(data) - position < _MAX_WORD_BYTES
                else f"no space ends the word within {_MAX_WORD_BYTES} bytes"
            )
            raise _error(
                path,
                f"vector {row + 1} of {len(vectors)}, byte offset {start + position}",
                f"{problem} before the word's vector (a truncated file, or "
                "not the binary format: pass binary=False for text)",
            )
        words.append(_decode(path, data, position, end, start, row, unicode_errors))
        position = end + 1
        if position + width > len(data):
            raise _error(
                path,
                f"vector {row + 1} of {len(vectors)}, byte offset {start + position}",
                f"the file ends {len(data) - position} bytes into a vector of "
                f"{width} bytes (a truncated file)",
            )
        vectors[row] = np.frombuffer(data, "<f4", vectors.shape[1], position)
        position += width
    return offsets


def _read_text(
    path: str,
    handle: Any,
    words: list[str],
    vectors: np.ndarray,
    unicode_errors: str,
) -> None:
    dim = vectors.shape[1]
    offset = handle.tell()
    binary_hint = "; this looks like the binary format: pass binary=True"
    for row in range(len(vectors)):
        raw = handle.readline()
        if not raw:
            raise _error(
                path,
                f"line {row + 2}",
                f"the file ends after {row} of the {len(vectors)} vectors the "
                "header announces (a truncated file)",
            )
        try:
            line = raw.decode("utf-8", unicode_errors)
        except UnicodeDecodeError as error:
            hint = (
                binary_hint
                if _non_text(raw)
                else "; pass unicode_errors='replace' to read it anyway"
            )
            raise _error(
                path,
                f"line {row + 2}, byte offset {offset + error.start}",
                f"not valid UTF-8{hint}",
            ) from None
        offset += len(raw)
        fields = [field for field in line.rstrip("\r\n").split(" ") if field]
        if len(fields) != dim + 1:
            raise _error(
                path,
                f"line {row + 2}",
                f"expected a word and {dim} numbers separated by spaces; found "
                f"{len(fields)} fields" + (binary_hint if _non_text(raw) else ""),
            )
        try:
            vectors[row] = np.asarray(fields[1:], dtype=np.float32)
        except ValueError:
            bad = next(field for field in fields[1:] if not _is_number(field))
            raise _error(
                path,
                f"line {row + 2}",
                f"{bad[:40]!r} is not a number (word {fields[0]!r})",
            ) from None
        words.append(fields[0])


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _non_text(raw: bytes) -> bool:
    """Whether bytes hold control characters that no text vectors file has."""
    return any(byte < 32 and byte not in (9, 10, 13) for byte in raw[:4096])


def native_paths(path: str) -> tuple[str, str, str]:
    """The metadata, vectors and counts files of a native save at ``path``."""
    return path, path + VECTORS_SUFFIX, path + COUNTS_SUFFIX


def write_native(
    path: str,
    words: list[str],
    vectors: np.ndarray,
    counts: np.ndarray | None,
    metadata: dict[str, Any],
) -> None:
    """Writes the arrays (``.npy``), then the words and metadata (JSON)."""
    meta_path, vectors_path, counts_path = native_paths(path)
    np.save(vectors_path, np.ascontiguousarray(vectors, dtype=np.float32))
    if counts is not None:
        np.save(counts_path, np.asarray(counts, dtype=np.int64))
    elif os.path.exists(counts_path):
        os.remove(counts_path)  # from an earlier save that had counts
    # One string is decoded far faster than a list of a million; a word
    # holding a newline (possible outside the word2vec format) needs the list.
    if any("\n" in word for word in words):
        stored: dict[str, Any] = {"words": words}
    else:
        stored = {"words_joined": "\n".join(words)}
    document = {
        "format": NATIVE_FORMAT,
        "version": NATIVE_VERSION,
        "count": len(words),
        "vector_size": int(vectors.shape[1]),
        **metadata,
        **stored,
    }
    with open(meta_path, "w", encoding="utf-8") as handle:
        json.dump(document, handle, ensure_ascii=False)


def _words(document: dict[str, Any]) -> list[str] | None:
    if isinstance(document.get("words_joined"), str):
        joined = document["words_joined"]
        return joined.split("\n") if document.get("count") else []
    words = document.get("words")
    if isinstance(words, list) and all(isinstance(word, str) for word in words):
        return words
    return None


def read_native(
    path: str, mmap: str | None
) -> tuple[list[str], np.ndarray, np.ndarray | None, dict[str, Any]]:
    """Reads what `write_native` wrote; checks that the files agree."""
    meta_path, vectors_path, counts_path = native_paths(path)
    foreign = (
        "not a keras_dlm WordVectors file (saved with WordVectors.save); for "
        "the word2vec format use WordVectors.load_word2vec_format"
    )
    try:
        with open(meta_path, encoding="utf-8") as handle:
            document = json.load(handle)
    except json.JSONDecodeError as error:
        raise _error(meta_path, f"byte offset {error.pos}", foreign) from None
    except UnicodeDecodeError as error:
        raise _error(meta_path, f"byte offset {error.start}", foreign) from None
    if not isinstance(document, dict) or document.get("format") != NATIVE_FORMAT:
        raise _error(meta_path, "format", foreign)
    if document.get("version") != NATIVE_VERSION:
        raise _error(
            meta_path,
            "version",
            f"written by format version {document.get('version')!r}; this "
            f"keras_dlm reads version {NATIVE_VERSION}",
        )
    words = _words(document)
    if words is None or len(words) != document.get("count"):
        raise _error(meta_path, "words", "the word list is damaged")
    arrays = []
    for array_path, dtype, needed in (
        (vectors_path, np.float32, True),
        (counts_path, np.int64, False),
    ):
        if not os.path.isfile(array_path):
            if not needed:
                arrays.append(None)
                continue
            raise FileNotFoundError(
                f"{array_path!r}: the vectors of {meta_path!r} are missing (the "
                "files WordVectors.save writes must stay together)"
            )
        try:
            array = np.load(array_path, mmap_mode=mmap, allow_pickle=False)
        except ValueError as error:
            raise _error(array_path, "header", f"not a NumPy file ({error})") from None
        expected = (len(words), document.get("vector_size"))[: 2 if needed else 1]
        if array.dtype != dtype or array.shape != expected:
            raise _error(
                array_path,
                "shape",
                f"holds a {array.dtype} array of shape {array.shape} where "
                f"{meta_path!r} needs {np.dtype(dtype)} of shape {expected} (the "
                "files do not belong together)",
            )
        arrays.append(array)
    return words, arrays[0], arrays[1], document
