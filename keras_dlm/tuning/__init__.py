"""Hyperparameter search with keras-tuner (extra ``tuner``).

Searches dropout rates, optimizers, learning rates and learning-rate decay
schedules for models built from keras_dlm parts:

- :class:`SearchSpace`: the ranges;
- :class:`TunableModel`: a ``keras_tuner.HyperModel`` around a ``build_fn``;
- :func:`search`: runs the search and returns a :class:`SearchResult`;
- :func:`model_family`: the built-in models of ``keras-dlm tune``;
- :class:`TrialTiming`, :func:`epochs_that_fit`, :func:`retrain_reserve`:
  planning a search from a wall-time budget;
- :class:`ResumeWarning`, :class:`FailedTrialsWarning`: what :func:`search`
  warns about (filter them by category).

Importing this package imports keras-tuner; a missing keras-tuner raises an
ImportError that names the extra to install.
"""

from __future__ import annotations

from keras_dlm.tuning._budget import TrialTiming, epochs_that_fit, retrain_reserve
from keras_dlm.tuning._families import MODEL_FAMILIES, make_sequence_task, model_family
from keras_dlm.tuning._hypermodel import TunableModel, make_optimizer
from keras_dlm.tuning._result import SearchResult, TrialRecord
from keras_dlm.tuning._search import (
    TUNERS,
    FailedTrialsWarning,
    ResumeWarning,
    check_resume,
    check_search_arguments,
    search,
    state_file,
)
from keras_dlm.tuning._space import OPTIMIZERS, SCHEDULES, SearchSpace

__all__ = [
    "MODEL_FAMILIES",
    "OPTIMIZERS",
    "SCHEDULES",
    "TUNERS",
    "FailedTrialsWarning",
    "ResumeWarning",
    "SearchResult",
    "SearchSpace",
    "TrialRecord",
    "TrialTiming",
    "TunableModel",
    "check_resume",
    "check_search_arguments",
    "epochs_that_fit",
    "make_optimizer",
    "make_sequence_task",
    "model_family",
    "retrain_reserve",
    "search",
    "state_file",
]
