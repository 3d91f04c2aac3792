"""Keras finds keras_dlm's saved classes after ``import keras_dlm`` alone.

A ``.keras`` file names each custom class by its registered name, such as
``"keras_dlm>StepDecay"``, and Keras looks that name up in its registry, which
a class enters only when the module defining it has been imported. ``import
keras_dlm`` imports none of those modules (it stays fast and free of
TensorFlow), so the look-up is taught to import them on demand: when Keras
asks for a ``keras_dlm>`` name it does not know, the keras_dlm modules that
register classes are found by reading their source (no list to maintain), the
ones defining that class are imported, and the look-up is repeated. A module
that cannot be imported (a missing extra) raises an ``ImportError`` naming the
class, the module and what to install, instead of Keras's "Could not locate
class".

A new module needs nothing beyond what every serializable class already has:
``@keras.saving.register_keras_serializable(package="keras_dlm")`` written on
the class, in a module inside the ``keras_dlm`` package.

Keras has no public hook for this: the look-up function of its private module
``keras.src.saving.object_registration`` is wrapped, once Keras has been
imported (an import hook waits for it when keras_dlm comes first).
"""

from __future__ import annotations

# Only what `import keras_dlm` already loads (importlib.abc alone would pull
# in importlib.resources); the rest is imported when Keras first needs it.
import _thread
import functools
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable
    from importlib.machinery import ModuleSpec
    from types import ModuleType

_PACKAGE = "keras_dlm"
_PREFIX = f"{_PACKAGE}>"
REGISTRY_MODULE = "keras.src.saving.object_registration"
_REGISTERS = r"@(?:[\w.]*\.)?register_keras_serializable\("
_lock = _thread.RLock()
# The thread importing modules for a look-up: a look-up that this import
# triggers itself must not start another round.
_loading_thread: int | None = None


@functools.cache
def registering_modules() -> dict[str, str]:
    """Maps each keras_dlm module that registers Keras classes to its source."""
    import os
    import re

    registers = re.compile(_REGISTERS)
    root = os.path.dirname(os.path.abspath(__file__))
    found = {}
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(name for name in subfolders if name.isidentifier())
        for file_name in sorted(files):
            if not file_name.endswith(".py"):
                continue
            path = os.path.join(folder, file_name)
            with open(path, encoding="utf-8") as handle:
                source = handle.read()
            if not registers.search(source):
                continue
            parts = os.path.relpath(path, root)[: -len(".py")].split(os.sep)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join([_PACKAGE, *parts])] = source
    return found


def _defining_modules(registered_name: str) -> list[str]:
    """The registering modules whose source defines ``registered_name``'s class."""
    import re

    short_name = re.escape(registered_name[len(_PREFIX) :])
    defines = re.compile(
        rf"^\s*class\s+{short_name}\b|name\s*=\s*[\"']{short_name}[\"']", re.MULTILINE
    )
    return [
        module
        for module, source in registering_modules().items()
        if defines.search(source)
    ]


def import_defining_modules(registered_name: str) -> None:
    """Imports the keras_dlm modules that register ``registered_name``.

    Raises:
        ImportError: a module defining the class could not be imported; the
            message names the class, the module and the import that failed.
    """
    import importlib

    candidates = _defining_modules(registered_name)
    # A name the source scan cannot place (registered under a computed name)
    # may still be found by importing every registering module.
    modules = candidates or list(registering_modules())
    for module in modules:
        if sys.modules.get(module) is not None:
            continue
        try:
            importlib.import_module(module)
        except ImportError as error:
            if module not in candidates:
                continue
            raise ImportError(
                f"The saved object {registered_name!r} is defined in {module}, "
                f"which could not be imported: {error}"
            ) from error


def _on_demand(lookup: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(lookup)
    def get_registered_object(name: Any, *args: Any, **kwargs: Any) -> Any:
        found = lookup(name, *args, **kwargs)
        global _loading_thread
        if (
            found is not None
            or not isinstance(name, str)
            or not name.startswith(_PREFIX)
            or _loading_thread == _thread.get_ident()
        ):
            return found
        with _lock:
            _loading_thread = _thread.get_ident()
            try:
                import_defining_modules(name)
            finally:
                _loading_thread = None
        return lookup(name, *args, **kwargs)

    get_registered_object.keras_dlm_on_demand = True
    return get_registered_object


def _patch(registry: ModuleType) -> None:
    lookup = registry.get_registered_object
    if not getattr(lookup, "keras_dlm_on_demand", False):
        registry.get_registered_object = _on_demand(lookup)


class _PatchingLoader:
    """Runs the module's own loader, then wraps the look-up it defined."""

    def __init__(self, loader: Any) -> None:
        self._loader = loader

    def create_module(self, spec: ModuleSpec) -> Any:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        _patch(module)

    def __getattr__(self, name: str) -> Any:
        # get_source, get_filename, ... : tracebacks and inspect still work.
        return getattr(self._loader, name)


class _AwaitKeras:
    """Patches Keras's registry module right after it is first imported."""

    def find_spec(
        self, fullname: str, path: Any, target: Any = None
    ) -> ModuleSpec | None:
        if fullname != REGISTRY_MODULE:
            return None
        sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _AwaitKeras)]
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            spec = find(fullname, path, target) if find else None
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _PatchingLoader(spec.loader)
                return spec
        return None


def install() -> None:
    """Makes Keras import keras_dlm's modules when a saved file needs them."""
    registry = sys.modules.get(REGISTRY_MODULE)
    if registry is not None:
        _patch(registry)
    elif not any(isinstance(finder, _AwaitKeras) for finder in sys.meta_path):
        sys.meta_path.insert(0, _AwaitKeras())
