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
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import keras
import numpy as np

from keras_dlm._backend import backend_name
from keras_dlm._backend import gradients as _grad_backend

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
        lines.extend(f"note: {note}" for note in self.notes)
        return "\n".join(lines)


class GradientCheckError(AssertionError):
    """Raised when back-prop gradients disagree with finite differences.

    The message is the report's table; the report is in ``.report``.
    """

    def __init__(self, report: GradientCheckReport):
        self.report = report
        names = ", ".join(t.name for t in report.failed)
        super().__init__(
            f"gradients of {names} disagree with finite differences\n{report}"
        )


# --------------------------------------------------------------------------
# Structures: inputs and targets may be tensors, tuples, lists or dicts.


def _flatten_with_names(structure: Any, prefix: str) -> list[tuple[str, Any]]:
    if isinstance(structure, dict):
        items = []
        for key in sorted(structure):
            items += _flatten_with_names(structure[key], f"{prefix}[{key!r}]")
        return items
    if isinstance(structure, (list, tuple)):
        items = []
        for i, item in enumerate(structure):
            items += _flatten_with_names(item, f"{prefix}[{i}]")
        return items
    return [(prefix, structure)]


def _pack(structure: Any, leaves: Iterator[Any]) -> Any:
    if isinstance(structure, dict):
        packed = {key: _pack(structure[key], leaves) for key in sorted(structure)}
        return {key: packed[key] for key in structure}
    if isinstance(structure, (list, tuple)):
        return type(structure)(_pack(item, leaves) for item in structure)
    return next(leaves)


def _is_float(x: Any) -> bool:
    dtype = getattr(x, "dtype", None)
    if dtype is None:
        return isinstance(x, float)
    return keras.backend.is_float_dtype(keras.backend.standardize_dtype(dtype))


def _to_numpy(x: Any) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(x))


# --------------------------------------------------------------------------
# float64 for the duration of the check


def _all_layers(target: keras.Layer) -> list[keras.Layer]:
    layers = list(target._flatten_layers(include_self=True, recursive=True))
    extra = []
    for layer in layers:
        functional = getattr(layer, "_functional", None)
        if isinstance(functional, keras.Layer):
            extra += list(functional._flatten_layers(include_self=True, recursive=True))
    seen: dict[int, keras.Layer] = {}
    for layer in layers + extra:
        seen.setdefault(id(layer), layer)
    return list(seen.values())


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
        for tensor in getattr(layer, "_inputs", None) or ():
            if isinstance(tensor, keras.KerasTensor):
                keras_tensors.setdefault(id(tensor), tensor)

    saved_policies = [(layer, layer._dtype_policy) for layer in layers]
    saved_variables = [
        (v, v._dtype)
        for v in variables.values()
        if keras.backend.is_float_dtype(v._dtype)
    ]
    # Input layers keep a dtype of their own, which Sequential casts its
    # inputs to; functional models cast to their input tensors' dtype.
    saved_tensors = [
        (t, t._dtype)
        for t in [*keras_tensors.values()]
        + [layer for layer in layers if isinstance(layer, keras.layers.InputLayer)]
        if keras.backend.is_float_dtype(t._dtype)
    ]
    policy = keras.DTypePolicy("float64")
    try:
        for layer, _ in saved_policies:
            layer._dtype_policy = policy
        for variable, _ in saved_variables:
            variable._dtype = "float64"
        for tensor, _ in saved_tensors:
            tensor._dtype = "float64"
        yield
    finally:
        for layer, original in saved_policies:
            layer._dtype_policy = original
        for variable, original in saved_variables:
            variable._dtype = original
        for tensor, original in saved_tensors:
            tensor._dtype = original


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
    raise TypeError(
        "Argument `loss` must be None, a loss name, a keras.losses.Loss, a "
        f"function (y_true, y_pred) -> loss, or a list/dict of them; received "
        f"{loss!r} of type {type(loss).__name__}."
    )


def _apply_loss(
    loss_fn: Any, targets: Any, outputs: Any, output_names: Sequence[str]
) -> Any:
    if callable(loss_fn):
        return loss_fn(targets, outputs)
    flat_outputs = [o for _, o in _flatten_with_names(outputs, "")]
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
# Argument validation


def _check_positive(
    name: str, value: Any, *, integer: bool = False, allow_none: bool = True
) -> None:
    if value is None and allow_none:
        return
    expected = "a positive integer" if integer else "a positive number"
    valid = isinstance(value, (int, np.integer) if integer else (int, float, np.number))
    valid = valid and not isinstance(value, bool)
    if not valid or not value > 0 or (not integer and not math.isfinite(value)):
        raise ValueError(f"Argument `{name}` must be {expected}; received {value!r}.")


# --------------------------------------------------------------------------
# The comparison itself


def _errors(backprop: np.ndarray, numeric: np.ndarray, rtol: float, atol: float):
    abs_err = np.abs(backprop - numeric)
    rel_err = abs_err / np.maximum(np.maximum(np.abs(backprop), np.abs(numeric)), atol)
    allowed = atol + rtol * np.abs(numeric)
    return abs_err, rel_err, allowed


def _kinks(
    backprop: np.ndarray,
    f_plus: np.ndarray,
    f_minus: np.ndarray,
    f_zero: float,
    step_plus: np.ndarray,
    step_minus: np.ndarray,
    numeric: np.ndarray,
    rtol: float,
    atol: float,
) -> np.ndarray:
    """Marks compared values whose perturbation crossed a kink."""
    forward = (f_plus - f_zero) / step_plus
    backward = (f_zero - f_minus) / step_minus
    disagreement = np.abs(forward - backward)
    tolerance = atol + rtol * np.maximum(np.abs(forward), np.abs(backward))
    error = np.abs(backprop - numeric)
    return (disagreement > tolerance) & (error <= disagreement + tolerance)


class _Problem:
    """The scalar function of the checked tensors, and how to evaluate it."""

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
        flat_inputs = _flatten_with_names(self.args_structure, "inputs")
        if not isinstance(inputs, tuple):
            flat_inputs = [(name[len("inputs[0]") :], x) for name, x in flat_inputs]
            flat_inputs = [("inputs" + name, x) for name, x in flat_inputs]
        self.input_leaves = flat_inputs

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
            flat_targets = _flatten_with_names(self.targets, "targets")
            converted = []
            for _, value in flat_targets:
                array = _to_numpy(value)
                if np.issubdtype(array.dtype, np.floating):
                    converted.append(_grad_backend.to_float64_tensor(array))
                else:
                    converted.append(keras.ops.convert_to_tensor(array))
            self.target_tensors = _pack(self.targets, iter(converted))

    def forward(self, values: Sequence[Any]) -> Any:
        leaves = list(self.constant_leaves)
        for position, value in zip(
            self.float_input_positions, values[self.num_weights :], strict=True
        ):
            leaves[position] = value
        args = _pack(self.args_structure, iter(leaves))
        if not self.is_layer:
            return self.target(*args)
        mapping = list(self.fixed_mapping) + list(
            zip(self.checked_variables, values[: self.num_weights], strict=True)
        )
        with keras.StatelessScope(state_mapping=mapping):
            return self.target(*args, training=self.training)

    def _note_dtype(self, number: int, output: Any) -> None:
        dtype = keras.backend.standardize_dtype(output.dtype)
        if dtype != "float64":
            note = (
                f"output {number} is {dtype}, not float64: finite differences "
                "lose precision (a function target must keep its inputs' dtype)"
            )
            if note not in self.notes:
                self.notes.append(note)

    def scalar(self, values: Sequence[Any]) -> Any:
        outputs = self.forward(values)
        flat_outputs = [o for _, o in _flatten_with_names(outputs, "outputs")]
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


def _check_full(
    problem: _Problem,
    evaluate: Callable[[Sequence[Any]], float],
    index: int,
    gradient: np.ndarray,
    f_zero: float,
    eps: float,
    rtol: float,
    atol: float,
    elements: np.ndarray,
) -> dict[str, Any]:
    base = problem.base[index]
    flat = base.reshape(-1)
    count = len(elements)
    f_plus = np.empty(count)
    f_minus = np.empty(count)
    step_plus = np.empty(count)
    step_minus = np.empty(count)
    values = list(problem.base_tensors)
    for j, k in enumerate(elements):
        perturbed = flat.copy()
        perturbed[k] = flat[k] + eps
        step_plus[j] = perturbed[k] - flat[k]
        values[index] = _grad_backend.to_float64_tensor(perturbed.reshape(base.shape))
        f_plus[j] = evaluate(values)
        perturbed[k] = flat[k] - eps
        step_minus[j] = flat[k] - perturbed[k]
        values[index] = _grad_backend.to_float64_tensor(perturbed.reshape(base.shape))
        f_minus[j] = evaluate(values)
    backprop = gradient.reshape(-1)[elements]
    return _compare(
        backprop, f_plus, f_minus, f_zero, step_plus, step_minus, rtol, atol
    )


def _check_directions(
    problem: _Problem,
    evaluate: Callable[[Sequence[Any]], float],
    index: int,
    gradient: np.ndarray,
    f_zero: float,
    eps: float,
    rtol: float,
    atol: float,
    num_directions: int,
    rng: np.random.Generator,
) -> dict[str, Any]:
    base = problem.base[index]
    f_plus = np.empty(num_directions)
    f_minus = np.empty(num_directions)
    backprop = np.empty(num_directions)
    values = list(problem.base_tensors)
    for d in range(num_directions):
        direction = rng.standard_normal(base.shape)
        direction /= max(float(np.linalg.norm(direction)), 1e-300)
        backprop[d] = float(np.sum(gradient * direction))
        values[index] = _grad_backend.to_float64_tensor(base + eps * direction)
        f_plus[d] = evaluate(values)
        values[index] = _grad_backend.to_float64_tensor(base - eps * direction)
        f_minus[d] = evaluate(values)
    steps = np.full(num_directions, eps)
    return _compare(backprop, f_plus, f_minus, f_zero, steps, steps, rtol, atol)


def _compare(
    backprop: np.ndarray,
    f_plus: np.ndarray,
    f_minus: np.ndarray,
    f_zero: float,
    step_plus: np.ndarray,
    step_minus: np.ndarray,
    rtol: float,
    atol: float,
) -> dict[str, Any]:
    """Compares back-prop with central differences, setting kinks apart."""
    numeric = (f_plus - f_minus) / (step_plus + step_minus)
    abs_err, rel_err, allowed = _errors(backprop, numeric, rtol, atol)
    failing = abs_err > allowed
    kinks = failing & _kinks(
        backprop, f_plus, f_minus, f_zero, step_plus, step_minus, numeric, rtol, atol
    )
    return {
        "backprop": backprop,
        "numeric": numeric,
        "abs_err": abs_err,
        "rel_err": rel_err,
        "allowed": allowed,
        "failing": failing & ~kinks,
        "kinks": kinks,
    }


def _worst(result: dict[str, Any]) -> int:
    # Worst = largest error relative to what the tolerance allows there;
    # kinks are excluded unless every value is a kink.
    score = result["abs_err"] / result["allowed"]
    score = np.where(result["kinks"], -np.inf, score)
    return int(np.argmax(score)) if np.isfinite(score).any() else 0


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
        GradientCheckError: ``raise_on_failure=True`` and a tensor failed.
        ValueError: an argument is out of range, or there is nothing to check.
        TypeError: ``target`` or ``loss`` has the wrong type.

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
    if not (isinstance(target, keras.Layer) or callable(target)):
        raise TypeError(
            "Argument `target` must be a keras.Layer, a keras.Model or a "
            f"function of tensors; received {target!r} of type {type(target).__name__}."
        )
    if mode not in _MODES:
        raise ValueError(f"Argument `mode` must be one of {_MODES}; received {mode!r}.")
    _check_positive("eps", eps)
    _check_positive("max_elements", max_elements, integer=True)
    _check_positive("num_directions", num_directions, integer=True, allow_none=False)
    for name, value in (("rtol", rtol), ("atol", atol)):
        if value is not None and (
            isinstance(value, bool)
            or not isinstance(value, (int, float, np.number))
            or not value >= 0
            or not math.isfinite(value)
        ):
            raise ValueError(
                f"Argument `{name}` must be a non-negative number; received {value!r}."
            )
    if seed is not None and (
        isinstance(seed, bool) or not isinstance(seed, (int, np.integer))
    ):
        raise TypeError(f"Argument `seed` must be an int or None; received {seed!r}.")
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
    eps = _DEFAULT_EPS if eps is None else float(eps)
    rtol = _DEFAULT_RTOL if rtol is None else float(rtol)
    atol = _DEFAULT_ATOL if atol is None else float(atol)
    rng = np.random.default_rng(0 if seed is None else int(seed))

    problem = _Problem(target, inputs, targets, loss, bool(training), rng)
    if not problem.base:
        raise ValueError(
            "Nothing to check: the target has no trainable weights and `inputs` "
            "holds no floating tensors."
        )

    layer_scope = (
        _float64_layers(target)
        if isinstance(target, keras.Layer)
        else contextlib.nullcontext()
    )
    results = []
    with _grad_backend.float64_scope(), layer_scope:
        problem.prepare()
        value, grads = _grad_backend.value_and_grad(
            problem.scalar, problem.base_tensors
        )
        evaluate = _grad_backend.make_evaluator(problem.scalar)
        f_zero = evaluate(problem.base_tensors)
        for index, gradient in enumerate(grads):
            size = problem.base[index].size
            if mode == "full":
                if max_elements is not None and size > max_elements:
                    elements = np.sort(
                        rng.choice(size, size=max_elements, replace=False)
                    )
                else:
                    elements = np.arange(size)
                result = _check_full(
                    problem,
                    evaluate,
                    index,
                    gradient,
                    f_zero,
                    eps,
                    rtol,
                    atol,
                    elements,
                )
                result["elements"] = elements
            else:
                result = _check_directions(
                    problem, evaluate, index, gradient, f_zero, eps, rtol, atol,
                    num_directions, rng,
                )  # fmt: skip
                if result["failing"].any():
                    limit = max_elements or _LOCALIZE_ELEMENTS
                    if size > limit:
                        elements = np.sort(rng.choice(size, size=limit, replace=False))
                    else:
                        elements = np.arange(size)
                    located = _check_full(
                        problem,
                        evaluate,
                        index,
                        gradient,
                        f_zero,
                        eps,
                        rtol,
                        atol,
                        elements,
                    )
                    located["elements"] = elements
                    result["located"] = located
            results.append(result)

    tensors = []
    for index, result in enumerate(results):
        shape = tuple(int(d) for d in problem.base[index].shape)
        passed = not bool(result["failing"].any())
        worst = _worst(result)
        worst_index = None
        worst_direction = None
        # The values shown at the worst element or direction.
        shown, shown_at = result, worst
        if mode == "full":
            elements = result["elements"]
            if len(elements):
                worst_index = tuple(
                    int(i) for i in np.unravel_index(elements[worst], shape)
                )
            kinks = tuple(
                tuple(int(i) for i in np.unravel_index(k, shape))
                for k in elements[result["kinks"]]
            )
        else:
            worst_direction = worst
            kinks = tuple(int(d) for d in np.flatnonzero(result["kinks"]))
            located = result.get("located")
            if located is not None and located["failing"].any():
                shown, shown_at = located, _worst(located)
                element = located["elements"][shown_at]
                worst_index = tuple(int(i) for i in np.unravel_index(element, shape))
        # Non-differentiable points are excluded from the errors, as from
        # the verdict.
        smooth = ~result["kinks"]
        abs_err = result["abs_err"][smooth]
        rel_err = result["rel_err"][smooth]
        has_values = len(result["abs_err"]) > 0
        tensors.append(
            TensorGradientCheck(
                name=problem.names[index],
                kind=problem.kinds[index],
                shape=shape,
                num_checked=len(result["abs_err"]),
                max_abs_error=float(abs_err.max()) if len(abs_err) else 0.0,
                max_rel_error=float(rel_err.max()) if len(rel_err) else 0.0,
                worst_index=worst_index,
                worst_direction=worst_direction,
                backprop_at_worst=float(shown["backprop"][shown_at])
                if has_values
                else 0.0,
                numeric_at_worst=float(shown["numeric"][shown_at])
                if has_values
                else 0.0,
                passed=passed,
                non_differentiable=kinks,
            )
        )
    report = GradientCheckReport(
        passed=all(t.passed for t in tensors),
        tensors=tuple(tensors),
        mode=mode,
        eps=eps,
        rtol=rtol,
        atol=atol,
        backend=backend_name(),
        value=float(value),
        notes=tuple(problem.notes),
    )
    if raise_on_failure and not report.passed:
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
            when the check fails; False prints the report and trains on.
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
        if not isinstance(sample, (tuple, list)) or len(sample) != 2:
            raise ValueError(
                "Argument `sample` must be an (x, y) pair of inputs and targets; "
                f"received {type(sample).__name__}"
                + (
                    f" of length {len(sample)}"
                    if isinstance(sample, (tuple, list))
                    else ""
                )
                + "."
            )
        if mode not in _MODES:
            raise ValueError(
                f"Argument `mode` must be one of {_MODES}; received {mode!r}."
            )
        _check_positive("every_n_epochs", every_n_epochs, integer=True)
        allowed = {
            "eps",
            "rtol",
            "atol",
            "max_elements",
            "num_directions",
            "seed",
            "training",
        }
        unknown = sorted(set(check_kwargs) - allowed)
        if unknown:
            raise TypeError(
                f"GradientCheck got unexpected keyword arguments {unknown}; "
                f"accepted: {sorted(allowed)}."
            )
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
