"""The search space: which hyperparameters keras-tuner explores, and their ranges.

One table, :data:`_PARAMETERS`, describes every built-in hyperparameter
(name, kind, the ``SearchSpace`` argument holding its range or choices, the
values that argument may take, its sampling and its condition); checking the
arguments, :meth:`SearchSpace.names`, :meth:`SearchSpace.declare` and
:meth:`SearchSpace.values` all read it.
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

from keras_dlm._checks import check_integer, check_number, invalid_argument

OPTIMIZERS = ("sgd", "adam", "rmsprop", "adamw")
SCHEDULES = ("none", "step", "cliff", "onecycle", "cyclical")
# What a SearchSpace tries when it is not told: the schedules whose trials
# last as long as their epochs (one-cycle and cyclical are opt-in).
_DEFAULT_SCHEDULES = ("none", "step", "cliff")


@dataclasses.dataclass(frozen=True)
class _Parameter:
    """One built-in hyperparameter.

    Attributes:
        name: its name in trials, tables and ``best_hyperparameters``.
        kind: ``"float"``, ``"int"`` or ``"choice"``.
        argument: the ``SearchSpace`` argument holding its range or choices.
        low, high, high_inclusive: the values a range's bounds may take
            (``low`` inclusive unless ``low_inclusive`` is False).
        sampling: keras-tuner's sampling of a float range.
        condition: ``(parent, value)``: the parameter exists only while the
            parent hyperparameter has that value (a conditional scope).
        choices: the allowed choices of a ``"choice"`` parameter (``None``:
            any positive integer, for batch sizes).
    """

    name: str
    kind: str
    argument: str
    low: float | None = None
    high: float | None = None
    low_inclusive: bool = True
    high_inclusive: bool = True
    sampling: str = "linear"
    condition: tuple[str, str] | None = None
    choices: tuple[str, ...] | None = None


_PARAMETERS = (
    _Parameter("dropout", "float", "dropout", 0.0, 1.0, high_inclusive=False),
    _Parameter(
        "learning_rate",
        "float",
        "learning_rate",
        0.0,
        None,
        low_inclusive=False,
        sampling="log",
    ),
    _Parameter("optimizer", "choice", "optimizers", choices=OPTIMIZERS),
    _Parameter(
        "momentum",
        "float",
        "momentum",
        0.0,
        1.0,
        high_inclusive=False,
        condition=("optimizer", "sgd"),
    ),
    _Parameter("schedule", "choice", "schedules", choices=SCHEDULES),
    _Parameter(
        "step_drop_every", "int", "step_drop_every", 1, condition=("schedule", "step")
    ),
    _Parameter(
        "step_factor",
        "float",
        "step_factor",
        0.0,
        1.0,
        low_inclusive=False,
        condition=("schedule", "step"),
    ),
    _Parameter("cliff_every", "int", "cliff_every", 1, condition=("schedule", "cliff")),
    _Parameter(
        "cliff_factor",
        "float",
        "cliff_factor",
        0.0,
        1.0,
        low_inclusive=False,
        condition=("schedule", "cliff"),
    ),
    _Parameter(
        "cliff_decay_rate",
        "float",
        "cliff_decay_rate",
        0.0,
        1.0,
        low_inclusive=False,
        condition=("schedule", "cliff"),
    ),
    _Parameter(
        "cyclical_step_epochs",
        "int",
        "cyclical_step_epochs",
        1,
        condition=("schedule", "cyclical"),
    ),
    # Optional: exists only when `batch_sizes` is given.
    _Parameter("batch_size", "choice", "batch_sizes"),
)
_RESERVED_NAMES = frozenset(parameter.name for parameter in _PARAMETERS)
_PARENT_CHOICES = {
    parameter.name: parameter.argument
    for parameter in _PARAMETERS
    if parameter.kind == "choice"
}


def _check_range(
    name: str,
    value: Any,
    *,
    integer: bool = False,
    low: float | None = None,
    high: float | None = None,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
) -> tuple[Any, Any]:
    """Checks a ``(min, max)`` pair (or one number, meaning a fixed value)."""
    expected = (
        "an integer or an (min, max) pair of integers"
        if integer
        else ("a number or a (min, max) pair of numbers")
    )
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        pair = (value, value)
    elif isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2:
        pair = tuple(value)
    else:
        raise invalid_argument(name, value, expected, error=TypeError)
    if integer:
        checked = tuple(
            check_integer(name, bound, minimum=low, maximum=high) for bound in pair
        )
    else:
        checked = tuple(
            check_number(
                name,
                bound,
                low=low,
                high=high,
                low_inclusive=low_inclusive,
                high_inclusive=high_inclusive,
            )
            for bound in pair
        )
    if checked[0] > checked[1]:
        raise invalid_argument(name, value, "a (min, max) pair with min <= max")
    return checked


def _check_choices(name: str, value: Any, allowed: Sequence[Any] | None) -> tuple:
    """Checks a non-empty sequence of distinct choices (one string: one choice)."""
    if isinstance(value, str):
        value = (value,)
    if not isinstance(value, Sequence) or len(value) == 0:
        raise invalid_argument(
            name, value, "a non-empty sequence of choices", error=TypeError
        )
    choices = tuple(value)
    if len(set(choices)) != len(choices):
        raise invalid_argument(name, value, "a sequence of distinct choices")
    if allowed is not None:
        unknown = [choice for choice in choices if choice not in allowed]
        if unknown:
            listed = ", ".join(repr(choice) for choice in allowed)
            raise invalid_argument(name, value, f"a sequence of {listed}")
    return choices


class SearchSpace:
    """The hyperparameters a search explores and their ranges.

    Every range is a ``(min, max)`` pair or a single number (a fixed value).
    The learning rate is sampled log-uniformly, the other numbers uniformly.
    The momentum exists only when the optimizer is ``"sgd"``; the parameters
    of a learning-rate schedule exist only when that schedule is chosen
    (keras-tuner conditional scopes). A parameter that does not exist in a
    trial is reported as ``None`` by :meth:`values`, in ``SearchResult`` tables
    and in the best hyperparameters.

    The names used in results: ``dropout``, ``learning_rate``, ``optimizer``,
    ``momentum`` (sgd), ``schedule``; ``step_drop_every`` and ``step_factor``
    (``StepDecay(drop_every, factor)``, epochs); ``cliff_every``,
    ``cliff_factor`` and ``cliff_decay_rate`` (``CliffDecay`` with a cliff every
    ``cliff_every`` epochs, each multiplying the rate by ``cliff_factor``, and
    exponential decay by ``cliff_decay_rate`` per epoch after a cliff);
    ``batch_size`` when ``batch_sizes`` is given; and the names in ``extra``.

    Args:
        dropout: dropout rate range, within [0, 1).
        learning_rate: learning-rate range (log-uniform), positive.
        schedules: learning-rate schedules to try: ``"none"``, ``"step"``
            (``keras_dlm.schedules.StepDecay``), ``"cliff"``
            (``keras_dlm.schedules.CliffDecay``), ``"onecycle"``
            (``keras_dlm.schedules.OneCycle`` over the trial's steps, peaking at
            the trial's learning rate), ``"cyclical"``
            (``keras_dlm.schedules.Cyclical`` in ``"triangular2"`` mode between
            a tenth of the trial's learning rate and the rate itself). Default:
            ``("none", "step", "cliff")``.
        optimizers: optimizers to try: ``"sgd"``, ``"adam"``, ``"rmsprop"``,
            ``"adamw"``.
        momentum: SGD momentum range, within [0, 1).
        extra: further hyperparameters for ``build_fn``, read with
            ``hp.get(name)``: a mapping from name to a ``(min, max)`` tuple
            (integers give ``hp.Int``, otherwise ``hp.Float``) or to a list of
            choices (``hp.Choice``).
        batch_sizes: batch sizes to try; ``None`` leaves the batch size to
            ``fit`` (32 by default).
        step_drop_every: StepDecay's ``drop_every`` range, in epochs.
        step_factor: StepDecay's ``factor`` range, within (0, 1].
        cliff_every: distance between CliffDecay's cliffs range, in epochs.
        cliff_factor: CliffDecay's ``cliff_factor`` range, within (0, 1].
        cliff_decay_rate: CliffDecay's ``decay_rate`` range, within (0, 1].
        cyclical_step_epochs: Cyclical's half cycle (``step_size``) range, in
            epochs.

    Example:

    >>> from keras_dlm.tuning import SearchSpace
    >>> space = SearchSpace(dropout=(0.1, 0.3), schedules=("none", "step"))
    >>> print(*space.names())
    dropout learning_rate optimizer momentum schedule step_drop_every step_factor
    """

    def __init__(
        self,
        dropout: float | tuple[float, float] = (0.0, 0.5),
        learning_rate: float | tuple[float, float] = (1e-4, 1e-1),
        schedules: Sequence[str] = _DEFAULT_SCHEDULES,
        optimizers: Sequence[str] = ("sgd", "adam"),
        momentum: float | tuple[float, float] = (0.0, 0.95),
        extra: Mapping[str, tuple | list] | None = None,
        *,
        batch_sizes: Sequence[int] | None = None,
        step_drop_every: int | tuple[int, int] = (1, 5),
        step_factor: float | tuple[float, float] = (0.1, 0.9),
        cliff_every: int | tuple[int, int] = (2, 6),
        cliff_factor: float | tuple[float, float] = (0.05, 0.5),
        cliff_decay_rate: float | tuple[float, float] = (0.8, 1.0),
        cyclical_step_epochs: int | tuple[int, int] = (1, 4),
    ) -> None:
        arguments = {
            "dropout": dropout,
            "learning_rate": learning_rate,
            "schedules": schedules,
            "optimizers": optimizers,
            "momentum": momentum,
            "batch_sizes": batch_sizes,
            "step_drop_every": step_drop_every,
            "step_factor": step_factor,
            "cliff_every": cliff_every,
            "cliff_factor": cliff_factor,
            "cliff_decay_rate": cliff_decay_rate,
            "cyclical_step_epochs": cyclical_step_epochs,
        }
        for parameter in _PARAMETERS:
            value = arguments[parameter.argument]
            if parameter.kind == "choice":
                if value is not None or parameter.name != "batch_size":
                    value = _check_choices(parameter.argument, value, parameter.choices)
                if parameter.name == "batch_size" and value is not None:
                    for size in value:
                        check_integer("batch_sizes", size)
            else:
                value = _check_range(
                    parameter.argument,
                    value,
                    integer=parameter.kind == "int",
                    low=parameter.low,
                    high=parameter.high,
                    low_inclusive=parameter.low_inclusive,
                    high_inclusive=parameter.high_inclusive,
                )
            setattr(self, parameter.argument, value)
        self.extra = _check_extra(extra)

    def _parameters(self) -> list[_Parameter]:
        """The table's parameters this space produces (their parent can take their value)."""
        present = []
        for parameter in _PARAMETERS:
            if getattr(self, parameter.argument) is None:
                continue  # batch_size without batch_sizes
            if parameter.condition is not None:
                parent, value = parameter.condition
                if value not in getattr(self, _PARENT_CHOICES[parent]):
                    continue
            present.append(parameter)
        return present

    def names(self) -> list[str]:
        """Returns the names of every hyperparameter this space can produce.

        Hyperparameters that a ``build_fn`` declares itself on ``hp`` are not
        among them; :meth:`values` adds them.
        """
        return [parameter.name for parameter in self._parameters()] + list(self.extra)

    def declare(self, hp: Any) -> dict[str, Any]:
        """Declares the hyperparameters on ``hp`` and returns their current values.

        Args:
            hp: a ``keras_tuner.HyperParameters``.

        Returns:
            A dictionary from every name in :meth:`names` to its value in
            ``hp``, ``None`` for parameters inactive in this trial.
        """
        for parameter in self._parameters():
            spec = getattr(self, parameter.argument)
            if parameter.condition is None:
                _declare(hp, parameter.name, parameter.kind, spec, parameter.sampling)
            else:
                parent, value = parameter.condition
                with hp.conditional_scope(parent, [value]):
                    _declare(
                        hp, parameter.name, parameter.kind, spec, parameter.sampling
                    )
        for name, (kind, spec) in self.extra.items():
            _declare(hp, name, kind, spec, "linear")
        # keras-tuner returns None from an inactive conditional parameter, but
        # a value left over from another trial could also be present: read
        # everything back through values() so inactive means None everywhere.
        return self.values(hp, include_undeclared=False)

    def values(self, hp: Any, *, include_undeclared: bool = True) -> dict[str, Any]:
        """Returns the values in ``hp`` for :meth:`names`, ``None`` when inactive.

        Works on a ``keras_tuner.HyperParameters`` or a plain dictionary of
        values; keras-tuner's own ``tuner/*`` entries are left out.

        Args:
            hp: the trial's hyperparameters.
            include_undeclared: also return, after the space's own names, the
                hyperparameters that ``build_fn`` declared itself on ``hp``
                (e.g. ``hp.Int("units", ...)``), those active in this trial.
        """
        if isinstance(hp, Mapping):
            raw = dict(hp)
            is_active = None
        else:
            raw = dict(hp.values)
            is_active = hp.is_active
        result = {}
        for name in self.names():
            condition = _condition(name)
            active = condition is None or raw.get(condition[0]) == condition[1]
            result[name] = raw.get(name) if active else None
        if include_undeclared:
            for name, value in raw.items():
                if name in result or name.startswith("tuner/"):
                    continue
                if is_active is None or is_active(name):
                    result[name] = value
        return result

    def __repr__(self) -> str:
        ranges = ", ".join(
            f"{argument}={getattr(self, argument)!r}"
            for argument in dict.fromkeys(p.argument for p in _PARAMETERS)
        )
        extra = {name: spec for name, (_, spec) in self.extra.items()}
        return f"SearchSpace({ranges}, extra={extra!r})"


def _condition(name: str) -> tuple[str, str] | None:
    for parameter in _PARAMETERS:
        if parameter.name == name:
            return parameter.condition
    return None


def _check_extra(extra: Mapping[str, Any] | None) -> dict[str, tuple[str, Any]]:
    """Checks ``extra`` and returns name -> (kind, range or choices)."""
    if extra is None:
        return {}
    if not isinstance(extra, Mapping):
        raise invalid_argument(
            "extra", extra, "a mapping from names to ranges", error=TypeError
        )
    checked = {}
    for name, spec in extra.items():
        if (
            not isinstance(name, str)
            or name in _RESERVED_NAMES
            or name.startswith("tuner/")
        ):
            raise invalid_argument(
                "extra",
                extra,
                f"a mapping whose names are strings other than "
                f"{sorted(_RESERVED_NAMES)} and do not start with 'tuner/'",
            )
        argument = f"extra[{name!r}]"
        if isinstance(spec, list):
            checked[name] = ("choice", _check_choices(argument, spec, None))
        elif isinstance(spec, tuple) and len(spec) == 2:
            integer = all(
                isinstance(b, numbers.Integral) and not isinstance(b, bool)
                for b in spec
            )
            checked[name] = (
                "int" if integer else "float",
                _check_range(argument, spec, integer=integer, low=None),
            )
        else:
            raise invalid_argument(
                argument,
                spec,
                "a (min, max) tuple or a list of choices",
                error=TypeError,
            )
    return checked


def _declare(hp: Any, name: str, kind: str, spec: Any, sampling: str) -> Any:
    """Declares one hyperparameter on ``hp``: a choice, or a range (fixed if min == max)."""
    if kind == "choice":
        return hp.Choice(name, list(spec))
    low, high = spec
    if low == high:
        return hp.Fixed(name, low)
    if kind == "int":
        return hp.Int(name, int(low), int(high))
    return hp.Float(name, low, high, sampling=sampling)
