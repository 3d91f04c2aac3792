"""Every example in keras_dlm's docstrings runs, on every backend it applies to.

The examples are found, not listed: every module of the keras_dlm package is
imported and every docstring of its module, classes, functions and methods is
read. Two forms run:

* doctest examples (``>>>`` lines), checked against their printed output
  (with ``ELLIPSIS`` and ``NORMALIZE_WHITESPACE``);
* fenced code blocks opened with a line ```` ```python ````, executed as they
  are (their ``assert`` lines are the check).

Both run in a copy of the module's namespace, in a temporary working
directory (``tempfile`` writes there too), after the suite's fixed seed.

An example is skipped, with the reason shown by ``pytest -ra``, when:

* it needs the TensorFlow backend (it belongs to ``keras_dlm.transfer`` or
  imports ``tensorflow``) and another backend is active;
* it imports a package that is not installed;
* it names an ``http://`` or ``https://`` address (it needs the network).

A single doctest line can opt out with doctest's own ``# doctest: +SKIP``.
"""

from __future__ import annotations

import doctest
import importlib
import importlib.util
import os
import pkgutil
import re
import sys
import tempfile
import textwrap
from dataclasses import dataclass

import pytest

import keras_dlm
from keras_dlm._backend import backend_name

_FENCED = re.compile(r"^[ \t]*```python[ \t]*\n(.*?)^[ \t]*```[ \t]*$", re.S | re.M)
_IMPORTS = re.compile(r"^\s*(?:>>> |\.\.\. )?\s*(?:from|import)\s+([A-Za-z_]\w*)", re.M)
_NEEDS_TENSORFLOW = re.compile(r"\b(?:import|from)\s+tensorflow\b|keras_dlm\.transfer")
_NEEDS_NETWORK = re.compile(r"https?://")
_FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


@dataclass(frozen=True)
class _Example:
    module: str
    name: str
    kind: str  # "doctest" or "code"
    source: str
    test: doctest.DocTest | None = None


def _modules() -> list[str]:
    names = ["keras_dlm"]
    for info in pkgutil.walk_packages(keras_dlm.__path__, prefix="keras_dlm."):
        # __main__ modules run a program when imported.
        if info.name.rsplit(".", 1)[-1] != "__main__":
            names.append(info.name)
    return names


def _collect() -> tuple[list[_Example], list[tuple[str, str]]]:
    examples, unimportable = [], []
    finder = doctest.DocTestFinder(exclude_empty=False)
    for module_name in _modules():
        try:
            module = importlib.import_module(module_name)
        except ImportError as error:  # a missing extra: reported as a skip
            unimportable.append((module_name, str(error)))
            continue
        for test in finder.find(module, module_name):
            name = test.name
            if test.examples:
                source = "".join(example.source for example in test.examples)
                examples.append(_Example(module_name, name, "doctest", source, test))
            for index, block in enumerate(_FENCED.findall(test.docstring or "")):
                code = textwrap.dedent(block)
                label = name if index == 0 else f"{name}[{index}]"
                examples.append(_Example(module_name, label, "code", code))
    return examples, unimportable


_EXAMPLES, _UNIMPORTABLE = _collect()


def _skip_reason(example: _Example) -> str | None:
    if _NEEDS_NETWORK.search(example.source):
        return "needs the network (names an http(s) address)"
    needs_tensorflow = example.module.startswith("keras_dlm.transfer") or bool(
        _NEEDS_TENSORFLOW.search(example.source)
    )
    if needs_tensorflow and backend_name() != "tensorflow":
        return f"needs the TensorFlow backend (active: {backend_name()})"
    for package in sorted(set(_IMPORTS.findall(example.source))):
        if package not in sys.modules and importlib.util.find_spec(package) is None:
            return f"needs {package}, which is not installed"
    return None


@pytest.fixture
def _scratch_directory(tmp_path, monkeypatch):
    """Files an example writes land in a temporary folder."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))


@pytest.mark.parametrize(
    "example", _EXAMPLES, ids=[f"{e.name}:{e.kind}" for e in _EXAMPLES]
)
@pytest.mark.usefixtures("_scratch_directory")
def test_example_runs(example):
    reason = _skip_reason(example)
    if reason is not None:
        pytest.skip(reason)
    module = importlib.import_module(example.module)
    namespace = dict(vars(module))
    if example.kind == "code":
        exec(compile(example.source, f"<example {example.name}>", "exec"), namespace)
        return
    test = example.test
    test.globs = namespace
    runner = doctest.DocTestRunner(optionflags=_FLAGS)
    report: list[str] = []
    runner.run(test, out=report.append, clear_globs=True)
    failed, attempted = runner.summarize(verbose=False)
    assert failed == 0, "".join(report)
    assert attempted > 0


@pytest.mark.parametrize(("module", "error"), _UNIMPORTABLE or [("-", "-")])
def test_modules_with_examples_import(module, error):
    """A module that cannot be imported has its examples skipped, visibly."""
    if module == "-":
        return
    pytest.skip(f"{module} cannot be imported here ({error}): its examples did not run")


def _source(module) -> str:
    with open(module.__file__, encoding="utf-8") as handle:
        return handle.read()


def test_examples_are_found():
    """The harness sees the examples of the package (not an empty list)."""
    modules = {example.module for example in _EXAMPLES}
    assert {"keras_dlm.layers.argmax_pooling", "keras_dlm.schedules"} <= modules
    kinds = {example.kind for example in _EXAMPLES}
    assert kinds == {"doctest", "code"}
    with_example_heading = [
        name
        for name in _modules()
        if name in sys.modules and "Example:" in _source(sys.modules[name])
    ]
    assert set(with_example_heading) <= modules, (
        "a module has an `Example:` heading but no example this harness runs "
        "(write it as >>> lines or a ```python block): "
        f"{sorted(set(with_example_heading) - modules)}"
    )
    assert os.environ.get("KERAS_BACKEND", backend_name()) == backend_name()
