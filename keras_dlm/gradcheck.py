"""Gradient checking: back-propagation against finite differences.

Back-propagation gives every gradient of a scalar in one backward pass.
Central finite differences, ``(f(x + ε) − f(x − ε)) / 2ε``, need two forward
passes per checked element, far too slow to train with, but an independent
check that a hand-written gradient (a ``keras.ops.custom_gradient``, a custom
layer) is right. ``check_gradients`` compares the two on a Keras layer, a
Keras model or a function of tensors, on the TensorFlow, JAX and PyTorch
backends, and ``GradientCheck`` does the same on a model during ``fit``.

How the check runs:

- The checked scalar is ``loss(targets, outputs)`` when a loss is given, else
  ``sum(outputs * c)`` for a fixed random cotangent ``c`` (so that every
  output element takes part with a different weight).
- Gradients are taken with respect to every trainable weight of a layer or
  model and every floating input; integer inputs are passed through.
- Everything is computed in float64: the layers' dtype policies and the
  float variables' dtypes are switched to float64 for the duration of the
  check, and the variables' values are supplied through a
  ``keras.StatelessScope`` as float64 copies. The variables' storage is never
  written, so weights, optimizer state and seed-generator state are exactly
  as they were (bit for bit) afterwards, and dtypes are restored even when
  the check raises.
- Layers run in inference mode (``training=False``) unless ``training=True``
  is passed; with ``training=True`` every evaluation sees the same random
  state, so dropout masks are the same in every finite difference.

Non-differentiable points: at a kink (ReLU at 0, a tie in max pooling)
back-propagation returns one of the one-sided slopes while the central
difference averages both, so a correct implementation can disagree with
finite differences there. For every element (or direction) that fails the
tolerance, the one-sided differences ``(f(x+ε) − f(x)) / ε`` and
``(f(x) − f(x−ε)) / ε`` are compared: if they differ by more than the
tolerance and by at least the back-prop error, the perturbation crossed a
kink; the element is reported as a non-differentiable point and does not
fail the check. On a smooth function the two one-sided slopes agree to
``O(ε · f'')``, so a wrong gradient still fails.

Non-finite values fail the check: an output (or the checked scalar) that is
NaN or infinite at the unperturbed point, a back-prop gradient with a NaN or
infinite element anywhere in the tensor, and a finite difference that is not
finite. The report names the output or tensor, the first such element (or
direction) and its value.

The code follows torch's ``gradcheck``: ``_check_settings`` validates the
arguments, ``_compare_elements`` (torch's slow mode) and
``_compare_directions`` (its fast mode) compute and compare the gradients,
``_build_report`` turns the comparisons into a ``GradientCheckReport``.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import keras
import numpy as np

from keras_dlm._backend import backend_name, keras_internals
from keras_dlm._backend import gradients as _grad_backend
from keras_dlm._checks import (
    check_bool,
    check_choice,
    check_integer,
    check_number,
    invalid_argument,
)

__all__ = [
    "GradientCheck",
    "GradientCheckError",
    "GradientCheckReport",
    "TensorGradientCheck",
    "check_gradients",
]

_DEFAULT_EPS = 1e-6
_DEFAULT_RTOL = 1e-3
_DEFAULT_ATOL = 1e-5
# Elements checked one by one to locate the error once fast mode finds a
# tensor whose directional derivatives disagree.
_LOCALIZE_ELEMENTS = 256
_MODES = ("full", "fast")
# Keyword arguments of check_gradients that GradientCheck passes on.
_CALLBACK_KWARGS = (
    "eps",
    "rtol",
    "atol",
    "max_elements",
    "num_directions",
    "seed",
    "training",
)


@dataclasses.dataclass(frozen=True)
class TensorGradientCheck:
    """The result of checking the gradient with respect to one tensor.

    Attributes:
        name: the weight's path (e.g. ``"dense/kernel"``) or the input's
            position (``"inputs"``, ``"inputs[1]"``, ``"inputs['a']"``).
        kind: ``"weight"`` or ``"input"``.
        shape: the tensor's shape.
        num_checked: elements (full mode) or directions (fast mode) compared.
        max_abs_error: largest ``|backprop − numeric|`` (over elements or
            directions, non-differentiable points left out).
        max_rel_error: largest ``|backprop − numeric| / max(|backprop|,
            |numeric|, atol)``, likewise.
        worst_index: the element with the largest error relative to its
            tolerance, or None (fast mode when no element could be located).
        worst_direction: fast mode: the direction with the largest error.
        backprop_at_worst: the back-prop value at the worst element (or, in
            fast mode when no element was located, the directional
            derivative along the worst direction).
        numeric_at_worst: the finite-difference value there.
        passed: whether every compared value is within tolerance (leaving
            out non-differentiable points).
        non_differentiable: elements (full mode, index tuples) or directions
            (fast mode, ints) where the perturbation crossed a kink.
        non_finite: what was not finite (NaN or infinite) in this tensor's
            back-prop gradient or finite differences, with the first element
            (or direction) and its value; any entry fails the tensor.
    """

    name: str
    kind: str
    shape: tuple[int, ...]
    num_checked: int
    max_abs_error: float
    max_rel_error: float
    worst_index: tuple[int, ...] | None
    worst_direction: int | None
    backprop_at_worst: float
    numeric_at_worst: float
    passed: bool
    non_differentiable: tuple[Any, ...] = ()
    non_finite: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class GradientCheckReport:
    """The result of ``check_gradients``.

    Attributes:
        passed: True when every checked tensor passed.
        tensors: one ``TensorGradientCheck`` per checked tensor.
        mode: ``"full"`` or ``"fast"``.
        eps: the finite-difference step.
        rtol: relative tolerance.
        atol: absolute tolerance.
        backend: the Keras backend that computed the gradients.
        value: the checked scalar at the unperturbed point.
        notes: remarks about the check (e.g. outputs not in float64).
        non_finite: the outputs (or the checked scalar) that were not finite
            at the unperturbed point, with the first such element and its
            value; any entry fails the check.
    """

    passed: bool
    tensors: tuple[TensorGradientCheck, ...]
    mode: str
    eps: float
    rtol: float
    atol: float
    backend: str
    value: float
    notes: tuple[str, ...] = ()
    non_finite: tuple[str, ...] = ()

    @property
    def failed(self) -> tuple[TensorGradientCheck, ...]:
        """The tensors that failed the check."""
        return tuple(t for t in self.tensors if not t.passed)

    @property
    def num_non_differentiable(self) -> int:
        """Total non-differentiable points (elements or directions) found."""
        return sum(len(t.non_differentiable) for t in self.tensors)

    def __getitem__(self, name: str) -> TensorGradientCheck:
        for tensor in self.tensors:
            if tensor.name == name:
                return tensor
        raise KeyError(
            f"No checked tensor named {name!r}; checked: {[t.name for t in self.tensors]}"
        )

    def __str__(self) -> str:
        status = "PASSED" if self.passed else "FAILED"
        header = (
            f"Gradient check {status} (mode={self.mode}, backend={self.backend}, "
            f"eps={self.eps:g}, rtol={self.rtol:g}, atol={self.atol:g})"
        )
        unit = "elements" if self.mode == "full" else "directions"
        columns = (
            "tensor",
            "shape",
            unit,
            "max abs err",
            "max rel err",
            "worst",
            "backprop",
            "numeric",
            "non-diff",
            "status",
        )
        rows = [columns]
        for t in self.tensors:
            if t.worst_index is not None:
                worst = str(t.worst_index)
            elif t.worst_direction is not None:
                worst = f"dir {t.worst_direction}"
            else:
                worst = "-"
            rows.append(
                (
                    t.name,
                    str(t.shape),
                    str(t.num_checked),
                    f"{t.max_abs_error:.3e}",
                    f"{t.max_rel_error:.3e}",
                    worst,
                    f"{t.backprop_at_worst:.6g}",
                    f"{t.numeric_at_worst:.6g}",
                    str(len(t.non_differentiable)),
                    "ok" if t.passed else "FAILED",
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(columns))]
        lines = [header]
        for number, row in enumerate(rows):
            lines.append(
                "  ".join(
                    cell.ljust(w) for cell, w in zip(row, widths, strict=True)
                ).rstrip()
            )
            if number == 0:
                lines.append("  ".join("-" * w for w in widths))
        for t in self.tensors:
            if t.non_differentiable:
                shown = ", ".join(str(p) for p in t.non_differentiable[:8])
                more = len(t.non_differentiable) - 8
                suffix = f", ... ({more} more)" if more > 0 else ""
                what = "elements" if self.mode == "full" else "directions"
                lines.append(
                    f"non-differentiable points in {t.name} ({what} excluded): {shown}{suffix}"
                )
        lines.extend(f"non-finite: {problem}" for problem in self.non_finite)
        for t in self.tensors:
            lines.extend(
                f"non-finite in {t.name}: {problem}" for problem in t.non_finite
            )
        lines.extend(f"note: {note}" for note in self.notes)
        return "\n".join(lines)


class GradientCheckError(AssertionError):
    """Raised when back-prop gradients disagree with finite differences.

    The message is the report's table; the report is in ``.report``.
    """

    def __init__(self, report: GradientCheckReport):
        self.report = report
        causes = []
        if report.non_finite:
            causes.append("the checked function is not finite")
        if report.failed:
            names = ", ".join(t.name for t in report.failed)
            causes.append(f"gradients of {names} disagree with finite differences")
        super().__init__(f"{'; '.join(causes)}\n{report}")


# --------------------------------------------------------------------------
# Tensors and structures (inputs and targets may be nested lists, tuples and
# dicts; keras.tree flattens dicts in sorted key order).


def _path_name(prefix: str, path: tuple[Any, ...]) -> str:
    return prefix + "".join(f"[{key!r}]" for key in path)


def _is_float(x: Any) -> bool:
    dtype = getattr(x, "dtype", None)
    if dtype is None:
        return isinstance(x, float)
    return keras.backend.is_float_dtype(keras.backend.standardize_dtype(dtype))


def _to_numpy(x: Any) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(x))


def _first_non_finite(array: np.ndarray) -> tuple[int, ...] | None:
    """The index of the first NaN or infinite element, or None."""
    bad = np.flatnonzero(~np.isfinite(array))
    if not len(bad):
        return None
    return tuple(int(i) for i in np.unravel_index(bad[0], array.shape))


def _describe_non_finite(what: str, array: np.ndarray) -> str | None:
    """Names the first non-finite element of `array`, its value and the count."""
    where = _first_non_finite(array)
    if where is None:
        return None
    count = int(np.sum(~np.isfinite(array)))
    return (
        f"{what} is {array[where]} at {where} "
        f"({count} of {array.size} elements not finite)"
    )


# --------------------------------------------------------------------------
# float64 for the duration of the check


def _all_layers(target: keras.Layer) -> list[keras.Layer]:
    layers = keras_internals.flatten_layers(target)
    extra = []
    for layer in layers:
        functional = keras_internals.sequential_functional(layer)
        if functional is not None:
            extra += keras_internals.flatten_layers(functional)
    seen: dict[int, keras.Layer] = {}
    for layer in layers + extra:
        seen.setdefault(id(layer), layer)
    return list(seen.values())


def _symbolic_inputs(layer: keras.Layer) -> list[keras.KerasTensor]:
    # Functional models (and built Sequential ones) cast their inputs to the
    # dtype of these tensors; other layers have no `inputs`.
    try:
        inputs = layer.inputs
    except AttributeError:
        return []
    if inputs is None:
        return []
    return [t for t in keras.tree.flatten(inputs) if isinstance(t, keras.KerasTensor)]


@contextlib.contextmanager
def _float64_layers(target: keras.Layer) -> Iterator[None]:
    """Switches a layer tree to float64 and restores it afterwards.

    Only Python attributes change (dtype policies, the float variables'
    declared dtype, the declared dtype of functional models' inputs); the
    variables' values are never touched.
    """
    layers = _all_layers(target)
    variables: dict[int, Any] = {}
    for layer in layers:
        for variable in layer.variables:
            variables.setdefault(id(variable), variable)
    keras_tensors: dict[int, Any] = {}
    for layer in layers:
        for tensor in _symbolic_inputs(layer):
            keras_tensors.setdefault(id(tensor), tensor)
    # Input layers keep a dtype of their own, which Sequential casts its
    # inputs to; functional models cast to their input tensors' dtype.
    declared = [
        *variables.values(),
        *keras_tensors.values(),
        *(layer for layer in layers if isinstance(layer, keras.layers.InputLayer)),
    ]
    saved_policies = [(layer, layer.dtype_policy) for layer in layers]
    saved_dtypes = [
        (obj, dtype)
        for obj in declared
        if keras.backend.is_float_dtype(dtype := keras_internals.declared_dtype(obj))
    ]
    policy = keras.DTypePolicy("float64")
    try:
        for layer, _ in saved_policies:
            keras_internals.set_layer_dtype_policy(layer, policy)
        for obj, _ in saved_dtypes:
            keras_internals.set_declared_dtype(obj, "float64")
        yield
    finally:
        for layer, original in saved_policies:
            keras_internals.set_layer_dtype_policy(layer, original)
        for obj, original in saved_dtypes:
            keras_internals.set_declared_dtype(obj, original)


# --------------------------------------------------------------------------
# Losses


def _reduce_loss_values(values: Any, reduction: str | None) -> Any:
    if reduction == "sum":
        return keras.ops.sum(values)
    return keras.ops.mean(values)


def _resolve_loss(loss: Any) -> Any:
    """Returns a float64-safe function (y_true, y_pred) -> scalar, or a structure of them."""
    if loss is None:
        return None
    if isinstance(loss, (list, tuple)):
        return [_resolve_loss(item) for item in loss]
    if isinstance(loss, dict):
        return {key: _resolve_loss(item) for key, item in loss.items()}
    if isinstance(loss, str):
        loss = keras.losses.get(loss)
    if isinstance(loss, keras.losses.Loss):
        # Loss.__call__ casts to the loss's own dtype (float32 by default);
        # the unreduced `call` keeps float64.
        loss_object = loss

        def loss_fn(y_true: Any, y_pred: Any) -> Any:
            return _reduce_loss_values(
                loss_object.call(y_true, y_pred),
                getattr(loss_object, "reduction", None),
            )

        return loss_fn
    if callable(loss):
        return lambda y_true, y_pred: keras.ops.mean(loss(y_true, y_pred))
    raise invalid_argument(
        "loss",
        loss,
        "None, a loss name, a keras.losses.Loss, a function (y_true, y_pred) "
        "-> loss, or a list/dict of them",
        error=TypeError,
    )


def _apply_loss(
    loss_fn: Any, targets: Any, outputs: Any, output_names: Sequence[str]
) -> Any:
    if callable(loss_fn):
        return loss_fn(targets, outputs)
    flat_outputs = keras.tree.flatten(outputs)
    if isinstance(loss_fn, dict):
        if not isinstance(targets, dict):
            raise ValueError(
                "A dict `loss` needs dict `targets` with the same keys; received "
                f"targets of type {type(targets).__name__}."
            )
        by_name = dict(zip(output_names, flat_outputs, strict=False))
        if isinstance(outputs, dict):
            by_name = outputs
        total = 0.0
        for key, fn in loss_fn.items():
            if fn is not None:
                total = total + fn(targets[key], by_name[key])
        return total
    flat_targets = list(targets)
    if not len(loss_fn) == len(flat_outputs) == len(flat_targets):
        raise ValueError(
            f"A list `loss` needs one loss and one target per output; received "
            f"{len(loss_fn)} losses, {len(flat_targets)} targets and "
            f"{len(flat_outputs)} outputs."
        )
    total = 0.0
    for fn, y_true, y_pred in zip(loss_fn, flat_targets, flat_outputs, strict=True):
        if fn is not None:
            total = total + fn(y_true, y_pred)
    return total


# --------------------------------------------------------------------------
# Arguments


@dataclasses.dataclass(frozen=True)
class _CheckSettings:
    """The validated settings of one gradient check (defaults filled in)."""

    mode: str
    eps: float
    rtol: float
    atol: float
    max_elements: int | None
    num_directions: int
    seed: int
    training: bool
    raise_on_failure: bool


def _positive_number(name: str, value: Any, default: float) -> float:
    if value is None:
        return default
    number = check_number(name, value)
    if number <= 0:
        raise invalid_argument(name, value, "a positive number")
    return number


def _non_negative_number(name: str, value: Any, default: float) -> float:
    if value is None:
        return default
    number = check_number(name, value)
    if number < 0:
        raise invalid_argument(name, value, "a non-negative number")
    return number


def _check_settings(
    *,
    mode: str = "full",
    eps: float | None = None,
    rtol: float | None = None,
    atol: float | None = None,
    max_elements: int | None = None,
    num_directions: int = 8,
    seed: int | None = None,
    training: bool = False,
    raise_on_failure: bool = False,
) -> _CheckSettings:
    """Validates the settings shared by ``check_gradients`` and ``GradientCheck``."""
    return _CheckSettings(
        mode=check_choice("mode", mode, _MODES),
        eps=_positive_number("eps", eps, _DEFAULT_EPS),
        rtol=_non_negative_number("rtol", rtol, _DEFAULT_RTOL),
        atol=_non_negative_number("atol", atol, _DEFAULT_ATOL),
        max_elements=check_integer("max_elements", max_elements, allow_none=True),
        num_directions=check_integer("num_directions", num_directions),
        seed=0 if seed is None else check_integer("seed", seed, minimum=0),
        training=check_bool("training", training),
        raise_on_failure=check_bool("raise_on_failure", raise_on_failure),
    )


def _check_inputs(
    target: Any, targets: Any, loss: Any, **settings: Any
) -> _CheckSettings:
    """Validates every argument of ``check_gradients`` but ``inputs``."""
    if not (isinstance(target, keras.Layer) or callable(target)):
        raise invalid_argument(
            "target",
            target,
            "a keras.Layer, a keras.Model or a function of tensors",
            error=TypeError,
        )
    checked = _check_settings(**settings)
    if loss is None and targets is not None:
        raise ValueError(
            "Argument `targets` was given but `loss` is None: pass the loss that "
            "compares outputs with targets, or leave out targets to check "
            "sum(outputs * random cotangent)."
        )
    if loss is not None and targets is None:
        raise ValueError(
            f"Argument `loss` was given ({loss!r}) but `targets` is None: pass "
            "the targets the loss compares the outputs with."
        )
    return checked


# --------------------------------------------------------------------------
# The checked scalar


class _CheckedScalar:
    """The scalar function of the checked tensors, and how to evaluate it.

    The checked tensors are the target's trainable weights, then its floating
    inputs; ``base`` holds their values (float64 NumPy arrays), ``names`` and
    ``kinds`` describe them.
    """

    def __init__(
        self,
        target: Any,
        inputs: Any,
        targets: Any,
        loss: Any,
        training: bool,
        rng: np.random.Generator,
    ):
        self.target = target
        self.is_layer = isinstance(target, keras.Layer)
        self.training = training
        self.loss_fn = _resolve_loss(loss)
        self.notes: list[str] = []

        # A tuple holds positional arguments; anything else is one argument.
        self.args_structure = list(inputs) if isinstance(inputs, tuple) else [inputs]
        flat_inputs = keras.tree.flatten_with_path(self.args_structure)
        if not isinstance(inputs, tuple):
            flat_inputs = [(path[1:], x) for path, x in flat_inputs]
        self.input_leaves = [(_path_name("inputs", path), x) for path, x in flat_inputs]

        if self.is_layer and not target.built:
            # Building creates the weights; the call itself changes nothing
            # else in inference mode.
            target(*self.args_structure, training=False)

        if self.is_layer:
            self.checked_variables = list(target.trainable_variables)
            checked_ids = {id(v) for v in self.checked_variables}
            self.other_variables = [
                v for v in target.variables if id(v) not in checked_ids
            ]
            self.output_names = list(getattr(target, "output_names", None) or [])
        else:
            self.checked_variables = []
            self.other_variables = []
            self.output_names = []

        self.names: list[str] = [v.path for v in self.checked_variables]
        self.kinds: list[str] = ["weight"] * len(self.checked_variables)
        self.base: list[np.ndarray] = [
            _to_numpy(v).astype(np.float64) for v in self.checked_variables
        ]
        self.float_input_positions: list[int] = []
        for position, (name, value) in enumerate(self.input_leaves):
            if _is_float(value) or (
                isinstance(value, np.ndarray)
                and np.issubdtype(value.dtype, np.floating)
            ):
                self.float_input_positions.append(position)
                self.names.append(name)
                self.kinds.append("input")
                self.base.append(_to_numpy(value).astype(np.float64))
        self.num_weights = len(self.checked_variables)
        self.targets = targets
        self.cotangent_seed = int(rng.integers(2**31))
        # Cotangents are drawn when the output shapes are first seen (shapes
        # are static, also while JAX or TensorFlow trace), keyed by position.
        self.cotangents: dict[tuple[int, tuple[int, ...]], np.ndarray] = {}

    # Tensors are created inside the float64 scope (JAX needs x64 on).
    def prepare(self) -> None:
        self.base_tensors = [_grad_backend.to_float64_tensor(a) for a in self.base]
        self.fixed_mapping = []
        for variable in self.other_variables:
            if keras.backend.is_float_dtype(variable.dtype):
                value = _grad_backend.to_float64_tensor(_to_numpy(variable))
            else:
                value = variable.value
            self.fixed_mapping.append((variable, value))
        # Integer inputs are passed through unchanged.
        self.constant_leaves = [value for _, value in self.input_leaves]
        self.target_tensors = None
        if self.targets is not None:

            def convert(value: Any) -> Any:
                array = _to_numpy(value)
                if np.issubdtype(array.dtype, np.floating):
                    return _grad_backend.to_float64_tensor(array)
                return keras.ops.convert_to_tensor(array)

            self.target_tensors = keras.tree.map_structure(convert, self.targets)

    def forward(self, values: Sequence[Any]) -> Any:
        leaves = list(self.constant_leaves)
        for position, value in zip(
            self.float_input_positions, values[self.num_weights :], strict=True
        ):
            leaves[position] = value
        args = keras.tree.pack_sequence_as(self.args_structure, leaves)
        if not self.is_layer:
            return self.target(*args)
        mapping = list(self.fixed_mapping) + list(
            zip(self.checked_variables, values[: self.num_weights], strict=True)
        )
        with keras.StatelessScope(state_mapping=mapping):
            return self.target(*args, training=self.training)

    def non_finite_outputs(self) -> list[str]:
        """Describes the outputs that are not finite at the unperturbed point."""
        outputs = keras.tree.flatten_with_path(
            _grad_backend.forward_once(self.forward, self.base_tensors)
        )
        problems = []
        for path, output in outputs:
            if _is_float(output):
                name = _path_name("output", path) if path else "the output"
                problem = _describe_non_finite(name, _to_numpy(output))
                if problem:
                    problems.append(problem)
        return problems

    def _note_dtype(self, number: int, output: Any) -> None:
        dtype = keras.backend.standardize_dtype(output.dtype)
        if dtype != "float64":
            note = (
                f"output {number} is {dtype}, not float64: finite differences "
                "lose precision (a function target must keep its inputs' dtype)"
            )
            if note not in self.notes:
                self.notes.append(note)

    def __call__(self, values: Sequence[Any]) -> Any:
        outputs = self.forward(values)
        flat_outputs = keras.tree.flatten(outputs)
        for number, output in enumerate(flat_outputs):
            if _is_float(output):
                self._note_dtype(number, output)
        if self.loss_fn is not None:
            return keras.ops.cast(
                _apply_loss(
                    self.loss_fn, self.target_tensors, outputs, self.output_names
                ),
                "float64",
            )
        total = 0.0
        for number, output in enumerate(flat_outputs):
            if not _is_float(output):
                continue
            shape = tuple(int(d) for d in output.shape)
            if (number, shape) not in self.cotangents:
                rng = np.random.default_rng([self.cotangent_seed, number])
                self.cotangents[(number, shape)] = rng.standard_normal(shape)
            cotangent = keras.ops.convert_to_tensor(
                self.cotangents[(number, shape)], "float64"
            )
            total = total + keras.ops.sum(keras.ops.cast(output, "float64") * cotangent)
        return total


# --------------------------------------------------------------------------
# The comparison itself


@dataclasses.dataclass(frozen=True)
class _Comparison:
    """Back-prop against central differences at some elements or directions.

    ``elements`` holds the compared flat element indices (None when the
    compared values are directional derivatives). NaN or infinite values
    always count as failing.
    """

    backprop: np.ndarray
    numeric: np.ndarray
    abs_err: np.ndarray
    rel_err: np.ndarray
    allowed: np.ndarray
    failing: np.ndarray
    kinks: np.ndarray
    elements: np.ndarray | None = None

    def worst(self) -> int:
        """The position with the largest error relative to its tolerance.

        Non-finite values come first; kinks are left out unless every value
        is a kink.
        """
        with np.errstate(divide="ignore", invalid="ignore"):
            score = self.abs_err / self.allowed
        score = np.where(np.isnan(score), np.inf, score)
        score = np.where(self.kinks, -np.inf, score)
        return int(np.argmax(score)) if (score > -np.inf).any() else 0


@dataclasses.dataclass(frozen=True)
class _TensorComparison:
    """Everything compared for one checked tensor.

    ``compared`` holds elements (full mode) or directions (fast mode);
    ``located`` the element-by-element check that fast mode runs on a failing
    tensor; ``non_finite_backprop`` the first non-finite element of the whole
    back-prop gradient, if any.
    """

    compared: _Comparison
    located: _Comparison | None
    non_finite_backprop: tuple[int, ...] | None
    gradient: np.ndarray


def _compare(
    backprop: np.ndarray,
    f_plus: np.ndarray,
    f_minus: np.ndarray,
    f_zero: float,
    step_plus: np.ndarray,
    step_minus: np.ndarray,
    rtol: float,
    atol: float,
    elements: np.ndarray | None = None,
) -> _Comparison:
    """Compares back-prop with central differences, setting kinks apart.

    A kink is a value whose one-sided differences ``(f(x+ε) − f(x)) / ε`` and
    ``(f(x) − f(x−ε)) / ε`` disagree by more than the tolerance and by at
    least the back-prop error.
    """
    with np.errstate(all="ignore"):  # NaN and inf are reported, not warned
        numeric = (f_plus - f_minus) / (step_plus + step_minus)
        abs_err = np.abs(backprop - numeric)
        rel_err = abs_err / np.maximum(
            np.maximum(np.abs(backprop), np.abs(numeric)), atol
        )
        allowed = atol + rtol * np.abs(numeric)
        forward = (f_plus - f_zero) / step_plus
        backward = (f_zero - f_minus) / step_minus
        disagreement = np.abs(forward - backward)
        tolerance = atol + rtol * np.maximum(np.abs(forward), np.abs(backward))
    # Written as `not (error <= allowed)` so that NaN fails.
    failing = ~(abs_err <= allowed)
    kinks = failing & (disagreement > tolerance) & (abs_err <= disagreement + tolerance)
    return _Comparison(
        backprop=backprop,
        numeric=numeric,
        abs_err=abs_err,
        rel_err=rel_err,
        allowed=allowed,
        failing=failing & ~kinks,
        kinks=kinks,
        elements=elements,
    )


def _element_subset(
    size: int,
    limit: int | None,
    rng: np.random.Generator,
    include: tuple[int, ...] = (),
) -> np.ndarray:
    """Sorted flat indices: all elements, or `limit` random ones, plus `include`."""
    if limit is not None and size > limit:
        elements = rng.choice(size, size=limit, replace=False)
    else:
        elements = np.arange(size)
    return np.union1d(elements, np.asarray(include, dtype=elements.dtype))


def _compare_elements(
    function: _CheckedScalar,
    evaluate: Callable[[Sequence[Any]], float],
    index: int,
    gradient: np.ndarray,
    f_zero: float,
    settings: _CheckSettings,
    elements: np.ndarray,
) -> _Comparison:
    """Perturbs the given elements of checked tensor `index` one at a time."""
    base = function.base[index]
    flat = base.reshape(-1)
    count = len(elements)
    f_plus = np.empty(count)
    f_minus = np.empty(count)
    step_plus = np.empty(count)
    step_minus = np.empty(count)
    values = list(function.base_tensors)
    for j, k in enumerate(elements):
        perturbed = flat.copy()
        perturbed[k] = flat[k] + settings.eps
        step_plus[j] = perturbed[k] - flat[k]
        values[index] = _grad_backend.to_float64_tensor(perturbed.reshape(base.shape))
        f_plus[j] = evaluate(values)
        perturbed[k] = flat[k] - settings.eps
        step_minus[j] = flat[k] - perturbed[k]
        values[index] = _grad_backend.to_float64_tensor(perturbed.reshape(base.shape))
        f_minus[j] = evaluate(values)
    backprop = gradient.reshape(-1)[elements]
    return _compare(
        backprop,
        f_plus,
        f_minus,
        f_zero,
        step_plus,
        step_minus,
        settings.rtol,
        settings.atol,
        elements=elements,
    )


def _compare_directions(
    function: _CheckedScalar,
    evaluate: Callable[[Sequence[Any]], float],
    index: int,
    gradient: np.ndarray,
    f_zero: float,
    settings: _CheckSettings,
    rng: np.random.Generator,
) -> _Comparison:
    """Compares ``<∇f, v>`` with ``(f(x+εv) − f(x−εv)) / 2ε`` for random unit v."""
    base = function.base[index]
    count = settings.num_directions
    f_plus = np.empty(count)
    f_minus = np.empty(count)
    backprop = np.empty(count)
    values = list(function.base_tensors)
    for d in range(count):
        direction = rng.standard_normal(base.shape)
        direction /= max(float(np.linalg.norm(direction)), 1e-300)
        with np.errstate(invalid="ignore", over="ignore"):
            backprop[d] = float(np.sum(gradient * direction))
        values[index] = _grad_backend.to_float64_tensor(base + settings.eps * direction)
        f_plus[d] = evaluate(values)
        values[index] = _grad_backend.to_float64_tensor(base - settings.eps * direction)
        f_minus[d] = evaluate(values)
    steps = np.full(count, settings.eps)
    return _compare(
        backprop, f_plus, f_minus, f_zero, steps, steps, settings.rtol, settings.atol
    )


def _compare_gradients(
    function: _CheckedScalar, settings: _CheckSettings, rng: np.random.Generator
) -> tuple[float, list[str], list[_TensorComparison]]:
    """Back-prop against finite differences for every checked tensor.

    Returns the scalar's value, the non-finite outputs and one comparison per
    checked tensor. Runs inside the float64 scopes.
    """
    function.prepare()
    value, gradients = _grad_backend.value_and_grad(function, function.base_tensors)
    # Without a loss every output element enters the scalar with a nonzero
    # weight, so the outputs are finite when the value is: the extra forward
    # pass that locates a non-finite output is needed only otherwise.
    non_finite_outputs = (
        function.non_finite_outputs()
        if function.loss_fn is not None or not np.isfinite(value)
        else []
    )
    evaluate = _grad_backend.make_evaluator(function)
    f_zero = evaluate(function.base_tensors)
    comparisons = []
    for index, gradient in enumerate(gradients):
        size = function.base[index].size
        non_finite = np.flatnonzero(~np.isfinite(gradient.reshape(-1)))
        # The first non-finite back-prop element is always compared, so that
        # the report shows it even when it is outside the random subset.
        include = tuple(int(i) for i in non_finite[:1])
        located = None
        if settings.mode == "full":
            elements = _element_subset(size, settings.max_elements, rng, include)
            compared = _compare_elements(
                function, evaluate, index, gradient, f_zero, settings, elements
            )
        else:
            compared = _compare_directions(
                function, evaluate, index, gradient, f_zero, settings, rng
            )
            if compared.failing.any() or include:
                limit = settings.max_elements or _LOCALIZE_ELEMENTS
                elements = _element_subset(size, limit, rng, include)
                located = _compare_elements(
                    function, evaluate, index, gradient, f_zero, settings, elements
                )
        comparisons.append(
            _TensorComparison(
                compared=compared,
                located=located,
                non_finite_backprop=(
                    tuple(
                        int(i) for i in np.unravel_index(non_finite[0], gradient.shape)
                    )
                    if len(non_finite)
                    else None
                ),
                gradient=gradient,
            )
        )
    return value, non_finite_outputs, comparisons


# --------------------------------------------------------------------------
# The report


def _unravel(flat_index: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(int(i) for i in np.unravel_index(flat_index, shape))


def _tensor_non_finite(
    comparison: _TensorComparison, mode: str, shape: tuple[int, ...]
) -> tuple[str, ...]:
    problems = []
    if comparison.non_finite_backprop is not None:
        problems.append(
            _describe_non_finite("the back-prop gradient", comparison.gradient)
        )
    for result in (comparison.compared, comparison.located):
        if result is None:
            continue
        bad = np.flatnonzero(~np.isfinite(result.numeric))
        if not len(bad):
            continue
        if result.elements is None:
            where = f"direction {int(bad[0])}"
            unit = "directions"
        else:
            where = str(_unravel(result.elements[bad[0]], shape))
            unit = "elements"
        problems.append(
            f"the finite difference is {result.numeric[bad[0]]} at {where} "
            f"({len(bad)} of {len(result.numeric)} compared {unit} not finite)"
        )
    return tuple(problems)


def _tensor_result(
    function: _CheckedScalar,
    index: int,
    comparison: _TensorComparison,
    mode: str,
) -> TensorGradientCheck:
    shape = tuple(int(d) for d in function.base[index].shape)
    result = comparison.compared
    non_finite = _tensor_non_finite(comparison, mode, shape)
    worst = result.worst()
    worst_index = None
    worst_direction = None
    # The values shown at the worst element or direction.
    shown, shown_at = result, worst
    if mode == "full":
        if len(result.elements):
            worst_index = _unravel(result.elements[worst], shape)
        kinks = tuple(_unravel(k, shape) for k in result.elements[result.kinks])
    else:
        worst_direction = worst
        kinks = tuple(int(d) for d in np.flatnonzero(result.kinks))
        located = comparison.located
        if located is not None and located.failing.any():
            shown, shown_at = located, located.worst()
            worst_index = _unravel(located.elements[shown_at], shape)
    # Non-differentiable points are excluded from the errors, as from the
    # verdict.
    smooth = ~result.kinks
    abs_err = result.abs_err[smooth]
    rel_err = result.rel_err[smooth]
    has_values = len(result.abs_err) > 0
    return TensorGradientCheck(
        name=function.names[index],
        kind=function.kinds[index],
        shape=shape,
        num_checked=len(result.abs_err),
        max_abs_error=float(abs_err.max()) if len(abs_err) else 0.0,
        max_rel_error=float(rel_err.max()) if len(rel_err) else 0.0,
        worst_index=worst_index,
        worst_direction=worst_direction,
        backprop_at_worst=float(shown.backprop[shown_at]) if has_values else 0.0,
        numeric_at_worst=float(shown.numeric[shown_at]) if has_values else 0.0,
        passed=not (result.failing.any() or non_finite),
        non_differentiable=kinks,
        non_finite=non_finite,
    )


def _build_report(
    function: _CheckedScalar,
    value: float,
    non_finite_outputs: list[str],
    comparisons: list[_TensorComparison],
    settings: _CheckSettings,
) -> GradientCheckReport:
    tensors = tuple(
        _tensor_result(function, index, comparison, settings.mode)
        for index, comparison in enumerate(comparisons)
    )
    non_finite = list(non_finite_outputs)
    if not np.isfinite(value) and not non_finite:
        non_finite.append(f"the checked scalar is {value} (the outputs are finite)")
    return GradientCheckReport(
        passed=all(t.passed for t in tensors) and not non_finite,
        tensors=tensors,
        mode=settings.mode,
        eps=settings.eps,
        rtol=settings.rtol,
        atol=settings.atol,
        backend=backend_name(),
        value=float(value),
        notes=tuple(function.notes),
        non_finite=tuple(non_finite),
    )


def check_gradients(
    target: Any,
    inputs: Any,
    *,
    targets: Any = None,
    loss: Any = None,
    mode: str = "full",
    eps: float | None = None,
    rtol: float | None = None,
    atol: float | None = None,
    max_elements: int | None = None,
    num_directions: int = 8,
    seed: int | None = None,
    raise_on_failure: bool = False,
    training: bool = False,
) -> GradientCheckReport:
    """Compares back-prop gradients with central finite differences.

    The checked scalar is ``loss(targets, outputs)`` when ``loss`` is given,
    else ``sum(outputs * c)`` with a fixed random cotangent ``c``. It is
    differentiated with respect to every trainable weight of a layer or model
    and every floating input, by the backend's autodiff (``tf.GradientTape``,
    ``jax.value_and_grad``, ``torch.autograd.grad``) and by central
    differences, all in float64. The target is left exactly as found: its
    weights, optimizer and random state are never written, and the dtypes
    switched to float64 for the check are restored.

    The check fails, naming the output or tensor, the first element (or
    direction) and the value, when an output or the checked scalar is NaN or
    infinite, when a back-prop gradient has a non-finite element, or when a
    finite difference is not finite.

    Elements (or directions) whose perturbation crosses a kink, such as ReLU
    at 0 or a tie in max pooling, are detected by comparing the one-sided
    differences ``(f(x+ε) − f(x)) / ε`` and ``(f(x) − f(x−ε)) / ε``: when they
    disagree by more than the tolerance, and by at least as much as the
    back-prop value disagrees with the central difference, the element is
    reported as a non-differentiable point and does not fail the check.

    Args:
        target: a ``keras.Layer``, a ``keras.Model`` or a function of tensors.
            An unbuilt layer is built by calling it once on ``inputs``. A
            function must compute in its inputs' dtype (float64 during the
            check); only its inputs are checked.
        inputs: the inputs: a tensor or NumPy array, a list or dict of them
            passed as one argument, or a tuple passed as positional
            arguments.
        targets: the targets passed to ``loss`` (same structure as the
            outputs).
        loss: a loss name, a ``keras.losses.Loss``, a function
            ``(y_true, y_pred) -> loss`` or a list/dict of them (one per
            output). None: use the random-cotangent scalar.
        mode: ``"full"`` compares every element (or a random subset of
            ``max_elements`` per tensor); ``"fast"`` compares
            ``num_directions`` random directional derivatives
            ``(f(x+εv) − f(x−εv)) / 2ε`` with ``<∇f, v>`` per tensor, at a
            cost that does not grow with the tensor's size. When a tensor
            fails in fast mode, up to ``max_elements`` (default 256) of its
            elements are checked one by one to name the worst element.
        eps: finite-difference step, default ``1e-6``.
        rtol: relative tolerance, default ``1e-3``. A value passes when
            ``|backprop − numeric| <= atol + rtol * |numeric|``.
        atol: absolute tolerance, default ``1e-5``.
        max_elements: at most this many randomly chosen elements per tensor
            in full mode (None: all of them).
        num_directions: random directions per tensor in fast mode.
        seed: seed for the cotangent, the directions and the element subsets;
            None uses 0, so repeated checks agree.
        raise_on_failure: raise ``GradientCheckError`` instead of returning a
            failed report.
        training: the ``training`` argument passed to a layer or model.
            False (default) checks inference behaviour; True checks training
            behaviour with the same random state in every evaluation.

    Returns:
        A ``GradientCheckReport``; ``str(report)`` is a table.

    Raises:
        GradientCheckError: ``raise_on_failure=True`` and the check failed.
        ValueError: an argument is out of range, or there is nothing to check.
        TypeError: an argument has the wrong type (``target``, ``loss``, a
            number given as a string, a flag that is not a ``bool``, ...).

    Example:

    ```python
    import keras
    import numpy as np
    from keras_dlm.gradcheck import check_gradients

    layer = keras.layers.Dense(3, activation="tanh")
    x = np.random.default_rng(0).normal(size=(4, 5)).astype("float32")
    report = check_gradients(layer, x)
    assert report.passed
    print(report)
    ```
    """
    settings = _check_inputs(
        target,
        targets,
        loss,
        mode=mode,
        eps=eps,
        rtol=rtol,
        atol=atol,
        max_elements=max_elements,
        num_directions=num_directions,
        seed=seed,
        training=training,
        raise_on_failure=raise_on_failure,
    )
    rng = np.random.default_rng(settings.seed)
    function = _CheckedScalar(target, inputs, targets, loss, settings.training, rng)
    if not function.base:
        raise ValueError(
            "Nothing to check: the target has no trainable weights and `inputs` "
            "holds no floating tensors."
        )
    layer_scope = (
        _float64_layers(target)
        if isinstance(target, keras.Layer)
        else contextlib.nullcontext()
    )
    with _grad_backend.float64_scope(), layer_scope:
        value, non_finite_outputs, comparisons = _compare_gradients(
            function, settings, rng
        )
    report = _build_report(function, value, non_finite_outputs, comparisons, settings)
    if settings.raise_on_failure and not report.passed:
        raise GradientCheckError(report)
    return report


class GradientCheck(keras.callbacks.Callback):
    """Checks the gradients of the model being trained, with its compiled loss.

    At the start of ``fit`` (and, with ``every_n_epochs``, after every N-th
    epoch) it runs ``check_gradients(model, x, targets=y, loss=model.loss,
    mode=mode)`` on the given sample. Keep the sample small: full mode costs
    two forward passes per weight. The model is left exactly as found.

    Args:
        sample: an ``(x, y)`` tuple: inputs and targets for the check.
        mode: ``"fast"`` (default) or ``"full"``, as in ``check_gradients``.
        every_n_epochs: also check after every N-th epoch (None: only at
            train begin).
        raise_on_failure: raise ``GradientCheckError`` (stopping ``fit``)
            when the check fails, whether gradients disagree or the loss,
            an output or a gradient is not finite; False prints the report
            (which names the cause) and trains on.
        **check_kwargs: passed on to ``check_gradients`` (``eps``, ``rtol``,
            ``atol``, ``max_elements``, ``num_directions``, ``seed``).

    Attributes:
        reports: ``(epoch, report)`` pairs, epoch -1 for train begin.

    Example:

    ```python
    import keras
    import numpy as np
    from keras_dlm.gradcheck import GradientCheck

    x = np.random.default_rng(0).normal(size=(8, 4)).astype("float32")
    y = np.random.default_rng(1).normal(size=(8, 1)).astype("float32")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    check = GradientCheck((x[:4], y[:4]))
    model.fit(x, y, epochs=1, verbose=0, callbacks=[check])
    assert check.reports[0][1].passed
    ```
    """

    def __init__(
        self,
        sample: tuple[Any, Any],
        mode: str = "fast",
        every_n_epochs: int | None = None,
        raise_on_failure: bool = True,
        **check_kwargs: Any,
    ):
        super().__init__()
        if not isinstance(sample, (tuple, list)):
            raise invalid_argument(
                "sample",
                sample,
                "an (x, y) pair of inputs and targets",
                error=TypeError,
            )
        if len(sample) != 2:
            raise invalid_argument(
                "sample",
                sample,
                "an (x, y) pair of inputs and targets, not a "
                f"{type(sample).__name__} of length {len(sample)}",
            )
        unknown = sorted(set(check_kwargs) - set(_CALLBACK_KWARGS))
        if unknown:
            raise TypeError(
                f"GradientCheck got unexpected keyword arguments {unknown}; "
                f"accepted: {sorted(_CALLBACK_KWARGS)}."
            )
        # Bad settings fail here rather than when fit starts.
        _check_settings(mode=mode, **check_kwargs)
        every_n_epochs = check_integer(
            "every_n_epochs", every_n_epochs, allow_none=True
        )
        raise_on_failure = check_bool("raise_on_failure", raise_on_failure)
        self.sample = tuple(sample)
        self.mode = mode
        self.every_n_epochs = every_n_epochs
        self.raise_on_failure = raise_on_failure
        self.check_kwargs = check_kwargs
        self.reports: list[tuple[int, GradientCheckReport]] = []

    def _check(self, epoch: int) -> None:
        loss = getattr(self.model, "loss", None)
        if loss is None:
            raise ValueError(
                "GradientCheck needs a compiled model with a loss: call "
                "model.compile(loss=...) before fit."
            )
        x, y = self.sample
        report = check_gradients(
            self.model, x, targets=y, loss=loss, mode=self.mode, **self.check_kwargs
        )
        self.reports.append((epoch, report))
        if not report.passed:
            if self.raise_on_failure:
                raise GradientCheckError(report)
            print(report)

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._check(-1)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if self.every_n_epochs and (epoch + 1) % self.every_n_epochs == 0:
            self._check(epoch)
