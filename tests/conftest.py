"""Shared test set-up: the Keras backend is fixed here, before keras is imported."""

from __future__ import annotations

import importlib.util
import os

# Keras reads KERAS_BACKEND once, at import: it must be set before any test
# module imports keras. tox sets it per environment; a bare `pytest` uses
# TensorFlow when it is installed, else JAX, else PyTorch.
if "KERAS_BACKEND" not in os.environ:
    for _candidate in ("tensorflow", "jax", "torch"):
        if importlib.util.find_spec(_candidate) is not None:
            os.environ["KERAS_BACKEND"] = _candidate
            break

BACKEND = os.environ.get("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import pytest  # noqa: E402


def pytest_report_header(config):
    del config
    return f"keras {keras.__version__}, backend {keras.backend.backend()}"


def pytest_collection_modifyitems(config, items):
    del config
    if BACKEND == "tensorflow":
        return
    skip_tf = pytest.mark.skip(
        reason=f"needs the TensorFlow backend (active: {BACKEND})"
    )
    for item in items:
        if "tf_only" in item.keywords:
            item.add_marker(skip_tf)


@pytest.fixture(autouse=True)
def _fixed_seed():
    """Every test starts from the same global random state."""
    keras.utils.set_random_seed(1234)


@pytest.fixture(autouse=True, scope="module")
def _fresh_session_per_module():
    """Clears Keras's global state after each test module.

    Once a module rather than once a test: clearing costs up to a second on a
    loaded 2-core machine, which over the whole suite added minutes.
    """
    yield
    keras.backend.clear_session()
