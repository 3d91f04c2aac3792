"""The search space: which hyperparameters keras-tuner explores, and their ranges."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

OPTIMIZERS = ("sgd", "adam", "rmsprop", "adamw")
SCHEDULES = ("none", "step", "cliff")

# Hyperparameters that exist only while their parent has one of these values
# (keras-tuner conditional scopes): name -> (parent, parent value).
_CONDITIONS = {
    "momentum": ("optimizer", "sgd"),
    "step_drop_every": ("schedule", "step"),
    "step_factor": ("schedule", "step"),
    "cliff_every": ("schedule", "cliff"),
    "cliff_factor": ("schedule", "cliff"),
    "cliff_decay_rate": ("schedule", "cliff"),
}


def _as_range(
    name: str, value: Any, *, low: float, high: float, integer: bool = False
) -> tuple[float, float]:
    """Checks a ``(min, max)`` pair (or one number, meaning a fixed value)."""
    if isinstance(value, bool) or value is None:
        raise TypeError(
            f"`{name}` must be a number or a (min, max) pair; received {value!r}."
        )
    if isinstance(value, (int, float)):
        pair = (value, value)
    elif isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2:
        pair = tuple(value)
    else:
        raise TypeError(
            f"`{name}` must be a number or a (min, max) pair; received {value!r}."
        )
    for bound in pair:
        if isinstance(bound, bool) or not isinstance(bound, (int, float)):
            raise TypeError(f"`{name}` bounds must be numbers; received {value!r}.")
        if integer and int(bound) != bound:
            raise TypeError(f"`{name}` bounds must be integers; received {value!r}.")
        if not (low <= bound <= high) or math.isnan(bound):
            raise ValueError(
                f"`{name}` must lie in [{low}, {high}]; received {value!r}."
            )
    if pair[0] > pair[1]:
        raise ValueError(
            f"`{name}` must be (min, max) with min <= max; received {value!r}."
        )
    if integer:
        return int(pair[0]), int(pair[1])
    return float(pair[0]), float(pair[1])


def _as_choices(name: str, value: Any, allowed: Sequence[str] | None) -> tuple:
    if isinstance(value, str):
        value = (value,)
    if not isinstance(value, Sequence) or len(value) == 0:
        raise TypeError(
            f"`{name}` must be a non-empty sequence of choices; received {value!r}."
        )
    choices = tuple(value)
    if len(set(choices)) != len(choices):
        raise ValueError(f"`{name}` has repeated choices; received {value!r}.")
    if allowed is not None:
        unknown = [choice for choice in choices if choice not in allowed]
        if unknown:
            raise ValueError(
                f"`{name}` has unknown choices {unknown}; expected some of {allowed}."
            )
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
            (``keras_dlm.schedules.CliffDecay``).
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
        schedules: Sequence[str] = SCHEDULES,
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
    ) -> None:
        self.dropout = _as_range("dropout", dropout, low=0.0, high=0.999)
        self.learning_rate = _as_range(
            "learning_rate", learning_rate, low=1e-12, high=1e3
        )
        self.schedules = _as_choices("schedules", schedules, SCHEDULES)
        self.optimizers = _as_choices("optimizers", optimizers, OPTIMIZERS)
        self.momentum = _as_range("momentum", momentum, low=0.0, high=0.999)
        self.step_drop_every = _as_range(
            "step_drop_every", step_drop_every, low=1, high=10_000, integer=True
        )
        self.step_factor = _as_range("step_factor", step_factor, low=1e-6, high=1.0)
        self.cliff_every = _as_range(
            "cliff_every", cliff_every, low=1, high=10_000, integer=True
        )
        self.cliff_factor = _as_range("cliff_factor", cliff_factor, low=1e-6, high=1.0)
        self.cliff_decay_rate = _as_range(
            "cliff_decay_rate", cliff_decay_rate, low=1e-6, high=1.0
        )
        if batch_sizes is not None:
            batch_sizes = _as_choices("batch_sizes", batch_sizes, None)
            for size in batch_sizes:
                if isinstance(size, bool) or not isinstance(size, int) or size < 1:
                    raise ValueError(
                        "`batch_sizes` must hold positive integers; received "
                        f"{batch_sizes!r}."
                    )
        self.batch_sizes = batch_sizes
        self.extra = self._check_extra(extra)

    def _check_extra(self, extra: Mapping[str, Any] | None) -> dict[str, Any]:
        if extra is None:
            return {}
        if not isinstance(extra, Mapping):
            raise TypeError(
                f"`extra` must be a mapping from names to ranges; received {extra!r}."
            )
        checked = {}
        reserved = set(self._builtin_names()) | {"batch_size"}
        for name, spec in extra.items():
            if (
                not isinstance(name, str)
                or name in reserved
                or name.startswith("tuner/")
            ):
                raise ValueError(
                    f"`extra` name {name!r} is not allowed: it must be a string "
                    f"other than {sorted(reserved)} and not start with 'tuner/'."
                )
            if isinstance(spec, list):
                checked[name] = ("choice", _as_choices(f"extra[{name!r}]", spec, None))
            elif isinstance(spec, tuple) and len(spec) == 2:
                integer = all(
                    isinstance(b, int) and not isinstance(b, bool) for b in spec
                )
                bounds = _as_range(
                    f"extra[{name!r}]",
                    spec,
                    low=-math.inf,
                    high=math.inf,
                    integer=integer,
                )
                checked[name] = ("int" if integer else "float", bounds)
            else:
                raise TypeError(
                    f"`extra[{name!r}]` must be a (min, max) tuple or a list of "
                    f"choices; received {spec!r}."
                )
        return checked

    @staticmethod
    def _builtin_names() -> list[str]:
        return [
            "dropout",
            "learning_rate",
            "optimizer",
            "momentum",
            "schedule",
            "step_drop_every",
            "step_factor",
            "cliff_every",
            "cliff_factor",
            "cliff_decay_rate",
        ]

    def names(self) -> list[str]:
        """Returns the names of every hyperparameter this space can produce."""
        names = ["dropout", "learning_rate", "optimizer"]
        if "sgd" in self.optimizers:
            names.append("momentum")
        names.append("schedule")
        if "step" in self.schedules:
            names += ["step_drop_every", "step_factor"]
        if "cliff" in self.schedules:
            names += ["cliff_every", "cliff_factor", "cliff_decay_rate"]
        if self.batch_sizes is not None:
            names.append("batch_size")
        return names + list(self.extra)

    def declare(self, hp: Any) -> dict[str, Any]:
        """Declares the hyperparameters on ``hp`` and returns their current values.

        Args:
            hp: a ``keras_tuner.HyperParameters``.

        Returns:
            A dictionary from every name in :meth:`names` to its value in
            ``hp``, ``None`` for parameters inactive in this trial.
        """
        values: dict[str, Any] = {}
        values["dropout"] = _number(hp, "dropout", self.dropout)
        values["learning_rate"] = _number(
            hp, "learning_rate", self.learning_rate, sampling="log"
        )
        values["optimizer"] = hp.Choice("optimizer", list(self.optimizers))
        if "sgd" in self.optimizers:
            with hp.conditional_scope("optimizer", ["sgd"]):
                values["momentum"] = _number(hp, "momentum", self.momentum)
        values["schedule"] = hp.Choice("schedule", list(self.schedules))
        if "step" in self.schedules:
            with hp.conditional_scope("schedule", ["step"]):
                values["step_drop_every"] = _number(
                    hp, "step_drop_every", self.step_drop_every, integer=True
                )
                values["step_factor"] = _number(hp, "step_factor", self.step_factor)
        if "cliff" in self.schedules:
            with hp.conditional_scope("schedule", ["cliff"]):
                values["cliff_every"] = _number(
                    hp, "cliff_every", self.cliff_every, integer=True
                )
                values["cliff_factor"] = _number(hp, "cliff_factor", self.cliff_factor)
                values["cliff_decay_rate"] = _number(
                    hp, "cliff_decay_rate", self.cliff_decay_rate
                )
        if self.batch_sizes is not None:
            values["batch_size"] = hp.Choice("batch_size", list(self.batch_sizes))
        for name, (kind, spec) in self.extra.items():
            if kind == "choice":
                values[name] = hp.Choice(name, list(spec))
            else:
                values[name] = _number(hp, name, spec, integer=kind == "int")
        # keras-tuner returns None from an inactive conditional parameter, but
        # a value left over from another trial could also be present: read
        # everything back through values() so inactive means None everywhere.
        return self.values(hp)

    def values(self, hp: Any) -> dict[str, Any]:
        """Returns the values in ``hp`` for :meth:`names`, ``None`` when inactive.

        Works on a ``keras_tuner.HyperParameters`` or a plain dictionary of
        values; keras-tuner's own ``tuner/*`` entries are left out.
        """
        raw = dict(hp) if isinstance(hp, Mapping) else dict(hp.values)
        result = {}
        for name in self.names():
            condition = _CONDITIONS.get(name)
            active = condition is None or raw.get(condition[0]) == condition[1]
            result[name] = raw.get(name) if active else None
        return result

    def __repr__(self) -> str:
        return (
            f"SearchSpace(dropout={self.dropout}, learning_rate={self.learning_rate}, "
            f"schedules={self.schedules}, optimizers={self.optimizers}, "
            f"momentum={self.momentum}, batch_sizes={self.batch_sizes}, "
            f"extra={ {k: v[1] for k, v in self.extra.items()} })"
        )


def _number(
    hp: Any,
    name: str,
    bounds: tuple[float, float],
    *,
    sampling: str = "linear",
    integer: bool = False,
) -> Any:
    low, high = bounds
    if low == high:
        return hp.Fixed(name, int(low) if integer else float(low))
    if integer:
        return hp.Int(name, int(low), int(high))
    return hp.Float(name, low, high, sampling=sampling)
