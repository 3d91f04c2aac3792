"""Import helpers for optional dependencies (the package's extras)."""

from __future__ import annotations

import importlib
from types import ModuleType


def import_optional(module_name: str, *, extra: str, feature: str) -> ModuleType:
    """Imports an optional dependency or raises an ImportError naming the extra.

    Args:
        module_name: the module to import, e.g. ``"tensorflow_hub"``.
        extra: the keras-dlm extra that installs it, e.g. ``"hub"``.
        feature: what needs it, for the message, e.g. ``"keras_dlm.transfer"``.

    Returns:
        The imported module.

    Raises:
        ImportError: the module is not installed (or fails to import); the
            message says which ``pip install "keras-dlm[...]"`` fixes it.
    """
    try:
        return importlib.import_module(module_name)
    except ImportError as error:
        raise ImportError(
            f"{feature} requires the optional dependency {module_name!r}, which "
            f"could not be imported ({error}). Install it with: "
            f'pip install "keras-dlm[{extra}]"'
        ) from error
