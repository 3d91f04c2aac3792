"""The `Example:` code blocks in the docstrings of keras_dlm.word2vec's
vocabulary, vectors and train() run as written."""

from __future__ import annotations

import inspect
import re

import pytest

from keras_dlm import word2vec

_DOCUMENTED = [
    word2vec.Vocabulary,
    word2vec.Vocabulary.build,
    word2vec.WordVectors,
    word2vec.WordVectors.save,
    word2vec.train,
]


@pytest.mark.parametrize("obj", _DOCUMENTED, ids=lambda obj: obj.__qualname__)
def test_docstring_example_runs(obj):
    blocks = re.findall(r"```python\n(.*?)```", inspect.getdoc(obj), re.S)
    assert blocks, f"{obj.__qualname__} has no example"
    for block in blocks:
        exec(compile(block, obj.__qualname__, "exec"), dict(vars(word2vec)))
