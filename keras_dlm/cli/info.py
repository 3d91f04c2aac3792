"""``keras-dlm info``: what keras_dlm runs on."""

from __future__ import annotations

import argparse
import importlib.metadata
import platform

_LIBRARIES = (
    "keras",
    "numpy",
    "tensorflow",
    "jax",
    "torch",
    "tensorflow-hub",
    "tf-keras",
    "keras-tuner",
    "gensim",
    "matplotlib",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds the ``info`` options (none) to ``parser``."""
    del parser


def collect_info() -> dict[str, object]:
    """Returns the backend, library versions and devices as a dictionary."""
    from keras_dlm import __version__, _backend

    versions = {}
    for distribution in _LIBRARIES:
        try:
            versions[distribution] = importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            versions[distribution] = None
    return {
        "keras_dlm": __version__,
        "python": platform.python_version(),
        "backend": _backend.backend_name(),
        "libraries": versions,
        "devices": _backend.list_devices(),
    }


def run(args: argparse.Namespace) -> int:
    """Prints the information gathered by :func:`collect_info`."""
    del args
    info = collect_info()
    print(f"keras-dlm   {info['keras_dlm']}")
    print(f"python      {info['python']}")
    print(f"backend     {info['backend']}")
    print(f"devices     {', '.join(info['devices']) or 'none found'}")
    print("libraries:")
    for name, version in info["libraries"].items():
        print(f"  {name:<15} {version or 'not installed'}")
    return 0
