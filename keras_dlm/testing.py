"""A test harness for custom Keras layers, usable from any project's tests.

``check_layer`` runs the checks every well-behaved Keras 3 layer should pass,
on whichever backend is active, and raises an ``AssertionError`` naming each
check that failed, so a single line in a pytest test covers them:

```python
from keras_dlm.testing import check_layer

def test_my_layer():
    check_layer(lambda: MyLayer(units=3), input_shape=(2, 5))
```
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

import keras
import numpy as np

from keras_dlm._backend import keras_internals
from keras_dlm._checks import (
    check_bool,
    check_choice,
    check_integer,
    check_number,
    invalid_argument,
)
from keras_dlm.gradcheck import (
    _CALLBACK_KWARGS,
    GradientCheckReport,
    _check_settings,
    _first_non_finite,
    check_gradients,
)

__all__ = ["LayerCheck", "LayerCheckReport", "check_layer"]

_CHECKS = (
    "output_shape",
    "config",
    "save",
    "symbolic",
    "gradients",
    "training",
    "mixed_precision",
)


@dataclasses.dataclass(frozen=True)
class LayerCheck:
    """One check of ``check_layer``: its name, outcome and a message."""

    name: str
    passed: bool
    message: str = ""


@dataclasses.dataclass(frozen=True)
class LayerCheckReport:
    """The result of ``check_layer``.

    Attributes:
        layer_name: the checked layer's class name.
        checks: one ``LayerCheck`` per check that ran.
        gradient_report: the ``GradientCheckReport``, when gradients were
            checked.
    """

    layer_name: str
    checks: tuple[LayerCheck, ...]
    gradient_report: GradientCheckReport | None = None

    @property
    def passed(self) -> bool:
        """True when every check that ran passed."""
        return all(check.passed for check in self.checks)

    @property
    def failed(self) -> tuple[LayerCheck, ...]:
        """The checks that failed."""
        return tuple(check for check in self.checks if not check.passed)

    def __getitem__(self, name: str) -> LayerCheck:
        for check in self.checks:
            if check.name == name:
                return check
        raise KeyError(f"No check named {name!r}; ran: {[c.name for c in self.checks]}")

    def __str__(self) -> str:
        status = "PASSED" if self.passed else "FAILED"
        lines = [
            f"check_layer({self.layer_name}) {status} on backend {keras.backend.backend()}"
        ]
        for check in self.checks:
            mark = "ok    " if check.passed else "FAILED"
            first, *rest = (check.message or "").splitlines() or [""]
            lines.append(f"  {mark} {check.name}" + (f": {first}" if first else ""))
            lines.extend(f"           {line}" for line in rest)
        return "\n".join(lines)


# --------------------------------------------------------------------------


def _is_shape(value: Any) -> bool:
    return isinstance(value, (tuple, list)) and all(
        d is None or (isinstance(d, (int, np.integer)) and not isinstance(d, bool))
        for d in value
    )


def _numpy(x: Any) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(x))


def _close(a: Any, b: Any, rtol: float, atol: float) -> tuple[bool, str]:
    flat_a, flat_b = keras.tree.flatten(a), keras.tree.flatten(b)
    if len(flat_a) != len(flat_b):
        return False, f"{len(flat_a)} outputs against {len(flat_b)}"
    for number, (x, y) in enumerate(zip(flat_a, flat_b, strict=True)):
        x, y = _numpy(x), _numpy(y)
        if x.shape != y.shape:
            return False, f"output {number}: shape {x.shape} against {y.shape}"
        x, y = x.astype(np.float64), y.astype(np.float64)
        # Equal infinities compare close; NaN never does.
        differing = ~np.isclose(x, y, rtol=rtol, atol=atol)
        if differing.any():
            with np.errstate(invalid="ignore"):  # inf - inf
                where = _first_non_finite(np.where(differing, x + y, 0.0))
            if where is not None:
                # A NaN or infinity is the cause, not a "difference" of nan.
                value = x[where] if not np.isfinite(x[where]) else y[where]
                return False, f"output {number} is not finite: {value} at {where}"
            diff = float(np.max(np.abs(x[differing] - y[differing])))
            return False, f"output {number}: max abs difference {diff:.3e}"
    return True, ""


def _shapes_match(expected: Any, actual: tuple[int, ...]) -> bool:
    expected = tuple(expected)
    return len(expected) == len(actual) and all(
        e is None or int(e) == int(a) for e, a in zip(expected, actual, strict=True)
    )


def _output_shapes(declared: Any) -> list[Any]:
    # compute_output_shape returns a shape tuple, or a structure of them.
    if _is_shape(declared):
        return [tuple(declared)]
    if isinstance(declared, dict):
        return [s for key in sorted(declared) for s in _output_shapes(declared[key])]
    return [s for item in declared for s in _output_shapes(item)]


@contextlib.contextmanager
def _global_dtype_policy(policy: str) -> Iterator[None]:
    saved = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(saved)


def _symbolic_inputs(inputs: Any) -> Any:
    def make(x: Any) -> Any:
        # The backend's own dtype for the data (JAX has no int64 by default).
        tensor = keras.ops.convert_to_tensor(x)
        return keras.Input(
            batch_shape=(None, *tuple(tensor.shape)[1:]),
            dtype=keras.backend.standardize_dtype(tensor.dtype),
        )

    return keras.tree.map_structure(make, inputs)


def _seed_states(obj: keras.Layer) -> list[Any]:
    # The state variables of every keras.random.SeedGenerator held by the
    # layer or model and its sublayers, in tracking order (the same order for
    # a layer and its clone, which are built by the same code).
    states: list[Any] = []
    seen: set[int] = set()
    for sublayer in keras_internals.flatten_layers(obj):
        for generator in keras_internals.layer_seed_generators(sublayer):
            if id(generator) not in seen:
                seen.add(id(generator))
                states.append(generator.state)
    return states


def _run(name: str, checks: list[LayerCheck], fn: Callable[[], str | None]) -> None:
    try:
        problem = fn()
    except Exception as error:  # every failure becomes a readable report line
        checks.append(LayerCheck(name, False, f"{type(error).__name__}: {error}"))
        return
    checks.append(LayerCheck(name, problem is None, problem or ""))


def check_layer(
    layer_or_factory: keras.Layer | Callable[[], keras.Layer],
    input_shape: Any = None,
    *,
    inputs: Any = None,
    skip: tuple[str, ...] | list[str] = (),
    gradient_mode: str = "fast",
    gradient_kwargs: dict[str, Any] | None = None,
    mixed_precision: bool = False,
    custom_objects: dict[str, Any] | None = None,
    rtol: float = 1e-6,
    atol: float = 1e-6,
    seed: int = 0,
    reseed: bool = False,
    raise_on_failure: bool = True,
) -> LayerCheckReport:
    """Checks that a custom Keras layer behaves as Keras expects.

    The checks (named as in ``skip`` and in the report):

    - ``output_shape``: the eager output's shape agrees with
      ``compute_output_shape`` (and with it for an unknown batch size).
    - ``config``: ``get_config`` is JSON-serializable, ``from_config`` gives a
      layer with the same config, and with the same weights it gives the same
      outputs.
    - ``save``: a functional model holding the layer survives a ``.keras``
      save and load (in a temporary directory) with the same outputs.
    - ``symbolic``: the functional (symbolic) model and the eager call agree.
    - ``gradients``: ``check_gradients`` passes (``gradient_mode``, fast by
      default) with respect to the weights and the floating inputs; a NaN or
      infinite output or gradient fails it, and its message names the output
      or weight, the element and the value. Layers with neither weights nor
      floating inputs are skipped.
    - ``training``: calls with ``training=True`` and ``training=False`` run
      and give outputs of the declared shape (this may update state, such as
      batch-norm statistics, so it runs last).
    - ``mixed_precision`` (only with ``mixed_precision=True``): a layer built
      under the ``"mixed_float16"`` policy runs, keeps float32 weights and
      gives finite outputs of the same shape, the floating ones in float16
      (the compute dtype).

    Outputs are compared with ``rtol`` and ``atol`` (numbers computed by the
    same ops in the same order are equal; the tolerance only absorbs harmless
    reordering). A NaN or infinite output fails the comparison, and the
    message says which output is not finite, where, and its value.

    Layers that are random at inference (Monte Carlo dropout, noise layers)
    give a new draw on every call, so ``config``, ``symbolic`` and ``save``
    would compare different draws. With ``reseed=True`` the state of every
    ``keras.random.SeedGenerator`` in the layer is recorded before the eager
    call, and before each compared call the generators of whatever is called
    (the layer itself inside the functional model, the ``from_config`` clone,
    the reloaded model) are set back to it, in tracking order, so every
    compared call sees the same random draws. A clone or reloaded model with
    a different number of generators fails the check. Leave it off for
    deterministic layers: it would hide, for example, a ``seed`` that
    ``get_config`` forgets.

    Args:
        layer_or_factory: a layer instance, or a zero-argument function that
            returns a new layer (preferred: the mixed-precision check needs a
            fresh layer; from an instance, new layers come from its config).
        input_shape: the input shape including the batch size, e.g.
            ``(2, 5)``, or a list of shapes for a layer taking a list of
            inputs. Random normal float32 inputs are drawn from ``seed``.
        inputs: the inputs themselves (arrays or tensors), instead of
            ``input_shape``; use it for integer inputs or specific values.
        skip: names of checks to leave out, e.g. ``("gradients",)`` for a
            layer that is not differentiable.
        gradient_mode: ``"fast"`` (default) or ``"full"``.
        gradient_kwargs: more arguments for ``check_gradients`` (``eps``,
            ``rtol``, ``atol``, ``max_elements``, ``num_directions``,
            ``training``).
        mixed_precision: also run the ``mixed_precision`` check.
        custom_objects: passed to ``keras.saving.load_model``, for layers not
            registered with ``keras.saving.register_keras_serializable``.
        rtol: relative tolerance for output comparisons.
        atol: absolute tolerance for output comparisons.
        seed: seed for the random inputs and the gradient check.
        reseed: set every ``keras.random.SeedGenerator`` to the same state
            before each compared call (see above), for layers that are random
            at inference.
        raise_on_failure: raise an ``AssertionError`` listing the failed
            checks (default); False returns the report instead.

    Returns:
        A ``LayerCheckReport``.

    Raises:
        AssertionError: a check failed and ``raise_on_failure`` is True.
        ValueError: bad arguments (neither or both of ``input_shape`` and
            ``inputs``, an unknown check name in ``skip``, a negative
            tolerance, ...).
        TypeError: an argument has the wrong type (``layer_or_factory``
            neither a layer nor a function returning one, a flag that is not
            a ``bool``, ...).

    Example:

    ```python
    import keras
    from keras_dlm.testing import check_layer

    report = check_layer(lambda: keras.layers.Dense(3), input_shape=(2, 4))
    assert report.passed
    print(report)
    ```
    """
    if (input_shape is None) == (inputs is None):
        raise ValueError(
            "Pass exactly one of `input_shape` and `inputs`; received "
            f"input_shape={input_shape!r} and inputs of type {type(inputs).__name__}."
        )
    if not (isinstance(layer_or_factory, keras.Layer) or callable(layer_or_factory)):
        raise invalid_argument(
            "layer_or_factory",
            layer_or_factory,
            "a keras.Layer or a function returning one",
            error=TypeError,
        )
    if isinstance(skip, str) or not isinstance(skip, (tuple, list)):
        raise invalid_argument(
            "skip", skip, "a tuple or list of check names", error=TypeError
        )
    unknown = sorted(name for name in skip if name not in _CHECKS)
    if unknown:
        raise invalid_argument(
            "skip", skip, f"names of checks among {list(_CHECKS)} (unknown: {unknown})"
        )
    check_choice("gradient_mode", gradient_mode, ("fast", "full"))
    if gradient_kwargs is not None:
        if not isinstance(gradient_kwargs, dict):
            raise invalid_argument(
                "gradient_kwargs", gradient_kwargs, "a dict or None", error=TypeError
            )
        accepted = [name for name in _CALLBACK_KWARGS if name != "seed"]
        extra = sorted(set(gradient_kwargs) - set(accepted))
        if extra:
            raise invalid_argument(
                "gradient_kwargs",
                gradient_kwargs,
                f"a dict with keys among {accepted} (unknown: {extra})",
            )
        _check_settings(mode=gradient_mode, **gradient_kwargs)
    check_bool("mixed_precision", mixed_precision)
    if custom_objects is not None and not isinstance(custom_objects, dict):
        raise invalid_argument(
            "custom_objects", custom_objects, "a dict or None", error=TypeError
        )
    check_number("rtol", rtol, low=0.0)
    check_number("atol", atol, low=0.0)
    check_integer("seed", seed, minimum=0)
    check_bool("reseed", reseed)
    check_bool("raise_on_failure", raise_on_failure)

    if isinstance(layer_or_factory, keras.Layer):
        layer = layer_or_factory
        template_config = layer.get_config()

        def factory(**overrides: Any) -> keras.Layer:
            # from_config may consume entries (keras.layers.RNN pops "cell").
            return layer.__class__.from_config(
                {**copy.deepcopy(template_config), **overrides}
            )

    else:
        layer = layer_or_factory()
        if not isinstance(layer, keras.Layer):
            raise TypeError(
                "Argument `layer_or_factory` must be a keras.Layer or a function "
                f"returning one; the function returned {type(layer).__name__}."
            )

        def factory(**overrides: Any) -> keras.Layer:
            return layer_or_factory()

    if inputs is None:
        if not (_is_shape(input_shape) or all(_is_shape(s) for s in input_shape)):
            raise invalid_argument(
                "input_shape",
                input_shape,
                "a shape tuple including the batch size, e.g. (2, 5), or a list "
                "of them",
            )
        rng = np.random.default_rng(seed)

        def draw(shape: tuple[int, ...]) -> np.ndarray:
            if any(d is None for d in shape):
                raise invalid_argument("input_shape", input_shape, "fully defined")
            return rng.normal(size=tuple(shape)).astype("float32")

        inputs = (
            draw(tuple(input_shape))
            if _is_shape(input_shape)
            else [draw(tuple(s)) for s in input_shape]
        )
    inputs = keras.tree.map_structure(
        lambda x: x if keras.ops.is_tensor(x) else np.asarray(x), inputs
    )
    input_shapes = keras.tree.map_structure(lambda x: tuple(_numpy(x).shape), inputs)
    unbatched_shapes = keras.tree.map_structure(
        lambda x: (None, *_numpy(x).shape[1:]), inputs
    )

    checks: list[LayerCheck] = []
    name = type(layer).__name__
    if reseed and not layer.built:
        # Sublayers, and their seed generators, may only exist once built.
        layer(inputs, training=False)
    seed_snapshot = (
        [_numpy(state).copy() for state in _seed_states(layer)] if reseed else []
    )

    def restore_seeds(obj: keras.Layer) -> str | None:
        # Sets obj's generators to the state the eager call started from.
        if not reseed:
            return None
        states = _seed_states(obj)
        if len(states) != len(seed_snapshot):
            return (
                f"reseed: {type(obj).__name__} has {len(states)} seed generators, "
                f"the layer {len(seed_snapshot)}"
            )
        for state, value in zip(states, seed_snapshot, strict=True):
            state.assign(value)
        return None

    eager = layer(inputs, training=False)
    eager_shapes = [tuple(_numpy(o).shape) for o in keras.tree.flatten(eager)]
    state: dict[str, Any] = {}

    def output_shape() -> str | None:
        declared = _output_shapes(layer.compute_output_shape(input_shapes))
        if len(declared) != len(eager_shapes) or not all(
            _shapes_match(d, e) for d, e in zip(declared, eager_shapes, strict=True)
        ):
            return f"compute_output_shape gives {declared}, the eager call gives {eager_shapes}"
        declared_none = _output_shapes(layer.compute_output_shape(unbatched_shapes))
        expected = [(None, *s[1:]) for s in eager_shapes]
        if not all(
            _shapes_match(d[1:], e[1:])
            for d, e in zip(declared_none, expected, strict=True)
        ):
            return (
                f"with an unknown batch size compute_output_shape gives {declared_none}, "
                f"expected {expected}"
            )
        return None

    def config() -> str | None:
        original = layer.get_config()
        json.dumps(keras.saving.serialize_keras_object(layer))
        # A copy, because from_config may consume entries of the dictionary it
        # is given (keras.layers.RNN.from_config pops "cell").
        clone = layer.__class__.from_config(copy.deepcopy(original))
        if clone.get_config() != original:
            differing = sorted(
                key
                for key in set(original) | set(clone.get_config())
                if original.get(key) != clone.get_config().get(key)
            )
            return f"from_config(get_config()) changes the config at keys {differing}"
        clone(inputs, training=False)
        if len(clone.weights) != len(layer.weights):
            return f"the clone has {len(clone.weights)} weights, the layer {len(layer.weights)}"
        clone.set_weights(layer.get_weights())
        problem = restore_seeds(clone)
        if problem:
            return problem
        ok, detail = _close(clone(inputs, training=False), eager, rtol, atol)
        return None if ok else f"the clone with the same weights differs: {detail}"

    def symbolic() -> str | None:
        symbolic_inputs = _symbolic_inputs(inputs)
        symbolic_outputs = layer(symbolic_inputs)
        model = keras.Model(symbolic_inputs, symbolic_outputs)
        state["model"] = model
        symbolic_shapes = [tuple(o.shape) for o in keras.tree.flatten(symbolic_outputs)]
        if not all(
            _shapes_match(s[1:], e[1:])
            for s, e in zip(symbolic_shapes, eager_shapes, strict=True)
        ):
            return f"symbolic output shapes {symbolic_shapes}, eager {eager_shapes}"
        problem = restore_seeds(model)
        if problem:
            return problem
        ok, detail = _close(model(inputs, training=False), eager, rtol, atol)
        return (
            None
            if ok
            else f"the functional model differs from the eager call: {detail}"
        )

    def save() -> str | None:
        model = state.get("model")
        if model is None:
            symbolic_inputs = _symbolic_inputs(inputs)
            model = keras.Model(symbolic_inputs, layer(symbolic_inputs))
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, "layer.keras")
            model.save(path)
            loaded = keras.saving.load_model(path, custom_objects=custom_objects)
        problem = restore_seeds(loaded)
        if problem:
            return problem
        ok, detail = _close(loaded(inputs, training=False), eager, rtol, atol)
        return None if ok else f"the reloaded model differs: {detail}"

    def gradients() -> str | None:
        report = check_gradients(
            layer,
            inputs,
            mode=gradient_mode,
            seed=seed,
            **{**(gradient_kwargs or {})},
        )
        state["gradient_report"] = report
        return None if report.passed else str(report)

    def training() -> str | None:
        for flag in (True, False):
            outputs = layer(inputs, training=flag)
            shapes = [tuple(_numpy(o).shape) for o in keras.tree.flatten(outputs)]
            if shapes != eager_shapes:
                return f"training={flag} gives shapes {shapes}, expected {eager_shapes}"
        return None

    def mixed() -> str | None:
        with _global_dtype_policy("mixed_float16"):
            mixed_layer = factory(dtype="mixed_float16")
        outputs = mixed_layer(inputs, training=False)
        bad_weights = [
            w.path
            for w in mixed_layer.weights
            if keras.backend.standardize_dtype(w.dtype) in ("float16",)
        ]
        if bad_weights:
            return f"weights stored in float16 under mixed_float16: {bad_weights}"
        compute_dtype = keras.backend.standardize_dtype(mixed_layer.compute_dtype)
        for number, output in enumerate(keras.tree.flatten(outputs)):
            array = _numpy(output)
            if tuple(array.shape) != eager_shapes[number]:
                return f"output {number} has shape {array.shape}, expected {eager_shapes[number]}"
            dtype = keras.backend.standardize_dtype(output.dtype)
            if np.issubdtype(array.dtype, np.floating) and dtype != compute_dtype:
                return (
                    f"output {number} is {dtype} under mixed_float16, expected the "
                    f"compute dtype {compute_dtype}"
                )
            if np.issubdtype(array.dtype, np.floating) and not np.all(
                np.isfinite(array)
            ):
                return f"output {number} has non-finite values under mixed_float16"
        return None

    plan = [
        ("output_shape", output_shape),
        ("config", config),
        ("symbolic", symbolic),
        ("save", save),
        ("gradients", gradients),
        ("training", training),
    ]
    if mixed_precision:
        plan.append(("mixed_precision", mixed))
    for check_name, fn in plan:
        if check_name in skip:
            continue
        if (
            check_name == "gradients"
            and not layer.trainable_weights
            and not any(
                np.issubdtype(_numpy(x).dtype, np.floating)
                for x in keras.tree.flatten(inputs)
            )
        ):
            continue
        _run(check_name, checks, fn)

    report = LayerCheckReport(name, tuple(checks), state.get("gradient_report"))
    if raise_on_failure and not report.passed:
        failed = ", ".join(check.name for check in report.failed)
        raise AssertionError(f"check_layer({name}) failed {failed}\n{report}")
    return report
