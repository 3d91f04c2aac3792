"""Every use of a private Keras name in keras_dlm goes through this module.

keras is pinned ``>=3.15,<4``, and any minor release may rename or move the
private attributes keras_dlm relies on. Each accessor below checks that what it
touches is still there and otherwise raises a ``RuntimeError`` that names the
installed Keras version and the missing name, instead of failing later with
an ``AttributeError`` far from the cause, or silently doing nothing (an
override of a renamed private method is never called). ``tests/_backend/``
exercises every accessor on real Keras objects.

What is used, and why there is no public alternative:

- ``Layer._flatten_layers``: every nested layer of a layer or model, in
  tracking order (Keras's own traversal; ``Model.layers`` is one level only).
- ``Layer._dtype_policy``, ``Variable._dtype``, ``KerasTensor._dtype``,
  ``InputLayer._dtype``: the gradient checker switches them to float64 for
  the duration of a check and restores them (the public ``dtype_policy``
  setter rewrites ``DTypePolicyMap`` entries, the others have no setter).
- ``Sequential._functional``: the functional model a built ``Sequential``
  runs, whose layers and inputs also carry dtypes.
- ``Layer._seed_generators``: the ``keras.random.SeedGenerator`` objects a
  layer holds (``check_layer(reseed=True)`` resets their state).
- ``keras.src.backend.common.dtypes.BIT64_TO_BIT32_DTYPE``: the table that
  makes Keras's type promotion turn float64 into float32 on JAX and torch.
- ``BaseOptimizer._learning_rate``: whether the learning rate is a variable
  (settable) or a schedule or callable (not settable); the public
  ``learning_rate`` property evaluates a schedule instead of returning it.
- ``BaseOptimizer._variables``: the variables an optimizer tracks itself;
  ``Optimizer.variables`` of a wrapper lists the wrapped optimizer's too.
- ``keras.src.saving.serialization_lib.in_safe_mode``: the ambient
  safe-mode flag of ``load_model`` (Keras's own ``TFSMLayer`` reads it).
- ``keras.src.saving.object_registration.get_registered_object``: wrapped by
  ``keras_dlm/_serializables.py`` so that a ``.keras`` file loads after
  ``import keras_dlm`` alone. That module cannot live here: ``import
  keras_dlm`` must not import Keras, and this module does. Keras moving the
  function makes ``tests/test_saved_files.py`` fail.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import keras

__all__ = [
    "bit64_to_bit32_dtype_table",
    "declared_dtype",
    "flatten_layers",
    "in_safe_mode",
    "layer_seed_generators",
    "learning_rate_is_settable",
    "optimizer_learning_rate",
    "optimizer_own_variables",
    "sequential_functional",
    "set_declared_dtype",
    "set_layer_dtype_policy",
]


def _moved(name: str, where: str) -> RuntimeError:
    return RuntimeError(
        f"keras_dlm needs the private Keras name `{name}` ({where}), which "
        f"Keras {keras.__version__} does not have. keras_dlm supports keras "
        ">=3.15,<4 as tested; install a tested Keras version or report this "
        "(the accessor is in keras_dlm/_backend/keras_internals.py)."
    )


def _require_attribute(obj: Any, name: str, where: str) -> Any:
    try:
        return getattr(obj, name)
    except AttributeError:
        raise _moved(name, where) from None


# ---------------------------------------------------------------- layers


def flatten_layers(
    layer: keras.Layer, *, include_self: bool = True, recursive: bool = True
) -> list[keras.Layer]:
    """Returns the layer's nested layers in tracking order (Keras's traversal)."""
    flatten = _require_attribute(layer, "_flatten_layers", "keras.Layer")
    return list(flatten(include_self=include_self, recursive=recursive))


def sequential_functional(model: keras.Layer) -> keras.Layer | None:
    """Returns the functional model a built ``keras.Sequential`` runs, else None."""
    if not isinstance(model, keras.Sequential):
        return None
    functional = _require_attribute(model, "_functional", "keras.Sequential")
    return functional if isinstance(functional, keras.Layer) else None


def layer_seed_generators(layer: keras.Layer) -> list[keras.random.SeedGenerator]:
    """Returns the ``SeedGenerator`` objects held directly by ``layer``."""
    return list(_require_attribute(layer, "_seed_generators", "keras.Layer"))


def set_layer_dtype_policy(layer: keras.Layer, policy: keras.DTypePolicy) -> None:
    """Sets a layer's dtype policy attribute without the public setter's side effects.

    The public ``dtype_policy`` setter edits ``DTypePolicyMap`` entries and
    may quantize a layer; a temporary switch has to be undone exactly.
    """
    _require_attribute(layer, "_dtype_policy", "keras.Layer")
    layer._dtype_policy = policy


def declared_dtype(obj: Any) -> str:
    """The dtype a ``keras.Variable``, ``KerasTensor`` or ``InputLayer`` declares.

    A variable's public ``dtype`` follows an active autocast scope; this is the
    stored one.
    """
    return _require_attribute(obj, "_dtype", type(obj).__name__)


def set_declared_dtype(obj: Any, dtype: str) -> None:
    """Changes the declared dtype of a variable, KerasTensor or InputLayer.

    Only the Python attribute changes, never a variable's storage.
    """
    _require_attribute(obj, "_dtype", type(obj).__name__)
    obj._dtype = dtype


# ---------------------------------------------------------------- dtypes


def bit64_to_bit32_dtype_table() -> dict[str, str]:
    """Keras's table mapping 64-bit dtypes to 32-bit ones in type promotion.

    Keras (on every backend but TensorFlow) promotes float64 to float32 as
    JAX does by default; changing the table's ``"float64"`` entry changes it.
    """
    where = "keras.src.backend.common.dtypes"
    try:
        module = importlib.import_module(where)
    except ImportError:
        raise _moved(where, "a module") from None
    table = _require_attribute(module, "BIT64_TO_BIT32_DTYPE", where)
    if not isinstance(table, dict) or "float64" not in table:
        raise _moved("BIT64_TO_BIT32_DTYPE['float64']", where)
    return table


# ---------------------------------------------------------------- optimizers


def optimizer_learning_rate(optimizer: keras.optimizers.Optimizer) -> Any:
    """The optimizer's learning rate as given: a variable, a schedule or a callable."""
    return _require_attribute(optimizer, "_learning_rate", "keras.optimizers.Optimizer")


def optimizer_own_variables(optimizer: keras.optimizers.Optimizer) -> list:
    """The list of variables an optimizer tracks itself (not its wrapped ones).

    The list object is returned, not a copy: a wrapper optimizer such as
    ``Lookahead`` reads positions in it, and a callback that added a variable
    for the length of one ``fit()`` removes it from there.
    """
    return _require_attribute(optimizer, "_variables", "keras.optimizers.Optimizer")


def learning_rate_is_settable(optimizer: keras.optimizers.Optimizer) -> bool:
    """Whether ``optimizer.learning_rate = 0.1`` can set a float learning rate.

    Keras keeps a float learning rate in a variable, which assignment
    updates; a ``LearningRateSchedule`` or a callable given as the learning
    rate cannot be overwritten by a float.
    """
    return isinstance(optimizer_learning_rate(optimizer), keras.Variable)


# ---------------------------------------------------------------- saving


def in_safe_mode() -> bool:
    """Whether deserialization is in safe mode (the default when nothing set it).

    ``keras.saving.load_model(safe_mode=...)`` and
    ``keras.config.enable_unsafe_deserialization()`` set the flag.
    """
    where = "keras.src.saving.serialization_lib"
    try:
        module = importlib.import_module(where)
    except ImportError:
        raise _moved(where, "a module") from None
    flag: Callable[[], Any] = _require_attribute(module, "in_safe_mode", where)
    return flag() is not False
