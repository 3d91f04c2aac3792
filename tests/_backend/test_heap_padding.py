"""`import keras_dlm.word2vec` keeps 64 MiB of glibc heap padding on TensorFlow only.

The padding (`word2vec_input.retain_freed_heap`) is what stopped the page
faults of the TensorFlow training step; nothing else shows that it is set.
The check is glibc's own accounting: with ``M_TOP_PAD`` at 64 MiB the main
heap grows by at least 64 MiB the first time it grows at all; with glibc's
default (128 KiB) by a few hundred KiB.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys

import keras
import pytest

_GROWTH = """
import ctypes

import keras_dlm.word2vec  # noqa: F401


class MallocInfo(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
        "uordblks", "fordblks", "keepcost")]


libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MallocInfo
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
before = libc.mallinfo2().arena
blocks = []
# 64 KiB blocks: below glibc's mmap threshold, so they come from the heap.
while libc.mallinfo2().arena == before and len(blocks) < 100_000:
    blocks.append(libc.malloc(64 << 10))
print(libc.mallinfo2().arena - before)
"""


def _has_mallinfo2() -> bool:
    try:
        ctypes.CDLL(None).mallinfo2  # noqa: B018
    except (OSError, AttributeError):
        return False
    return True


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or not _has_mallinfo2(),
    reason="needs glibc >= 2.33 (mallinfo2) to read the heap's growth",
)
def test_the_heap_padding_is_set_on_tensorflow_only():
    environment = dict(os.environ, KERAS_BACKEND=keras.backend.backend())
    process = subprocess.run(
        [sys.executable, "-c", _GROWTH],
        capture_output=True,
        text=True,
        timeout=120,
        env=environment,
        check=True,
    )
    growth = int(process.stdout.strip().splitlines()[-1])
    if keras.backend.backend() == "tensorflow":
        assert growth >= 64 << 20
    else:
        assert growth < 16 << 20
