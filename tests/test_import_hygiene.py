"""Importing keras_dlm's core must not drag in optional or foreign packages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

# Modules that must stay out of sys.modules after importing the core.
_OPTIONAL = ("tensorflow_hub", "keras_tuner", "gensim", "matplotlib", "tf_keras")
# The core: what a user imports to build and train ordinary models.
_CORE_IMPORTS = ("keras_dlm", "keras_dlm.datasets", "keras_dlm.cli")


def _modules_after_import(statements: str) -> list[str]:
    script = textwrap.dedent(
        f"""
        import json, sys
        {statements}
        print(json.dumps(sorted(sys.modules)))
        """
    )
    completed = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        check=True,
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def core_modules() -> set[str]:
    statements = "; ".join(f"import {name}" for name in _CORE_IMPORTS)
    return set(_modules_after_import(statements))


def _top_level(modules: set[str]) -> set[str]:
    return {name.split(".")[0] for name in modules}


def test_core_does_not_import_optional_packages(core_modules):
    leaked = _top_level(core_modules) & set(_OPTIONAL)
    assert not leaked, f"importing the core imported {sorted(leaked)}"


def test_core_imports_keras_dlm(core_modules):
    assert {"keras_dlm", "keras_dlm.datasets", "keras_dlm.cli"} <= core_modules


@pytest.mark.skipif(
    os.environ.get("KERAS_BACKEND") == "tensorflow",
    reason="TensorFlow is the active backend; importing it is expected",
)
def test_core_does_not_import_tensorflow_on_other_backends(core_modules):
    assert "tensorflow" not in _top_level(core_modules)


def test_missing_extra_names_the_extra():
    script = textwrap.dedent(
        """
        import sys
        sys.modules["tensorflow_hub"] = None  # makes `import tensorflow_hub` fail
        from keras_dlm._imports import import_optional
        try:
            import_optional("tensorflow_hub", extra="hub", feature="keras_dlm.transfer")
        except ImportError as error:
            print(error)
        """
    )
    completed = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert 'pip install "keras-dlm[hub]"' in completed.stdout
    assert "keras_dlm.transfer" in completed.stdout


def test_unknown_attribute_raises_attribute_error():
    import keras_dlm

    with pytest.raises(AttributeError, match="no_such_thing"):
        keras_dlm.no_such_thing  # noqa: B018
