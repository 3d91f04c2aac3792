"""keras_dlm.word2vec imports neither gensim nor, off TensorFlow, tensorflow."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def test_word2vec_import_hygiene():
    script = (
        "import json, sys\n"
        "import keras_dlm.word2vec, keras_dlm.cli.word2vec\n"
        "from keras_dlm.word2vec import Vocabulary, Word2Vec, WordVectors\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        check=True,
    )
    modules = set(json.loads(completed.stdout.strip().splitlines()[-1]))
    assert "gensim" not in modules
    if os.environ.get("KERAS_BACKEND") != "tensorflow":
        assert "tensorflow" not in modules
