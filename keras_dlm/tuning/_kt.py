"""keras-tuner, imported once for the tuning package (extra ``tuner``).

Also the one place that reaches into keras-tuner's private modules:
``convert_to_metrics_dict`` (keras-tuner's own reduction of a trial's fit
histories to the metrics at the best epoch, averaged over executions) is not
exported publicly in keras-tuner 1.4.
"""

from __future__ import annotations

from keras_dlm._imports import import_optional

keras_tuner = import_optional("keras_tuner", extra="tuner", feature="keras_dlm.tuning")

try:
    from keras_tuner.src.engine.tuner_utils import convert_to_metrics_dict
except ImportError as error:  # pragma: no cover - depends on keras-tuner's layout
    raise ImportError(
        "keras_dlm.tuning needs keras_tuner.src.engine.tuner_utils."
        f"convert_to_metrics_dict, which keras-tuner {keras_tuner.__version__} "
        "does not have; install keras-tuner>=1.4.8,<1.5."
    ) from error

__all__ = ["convert_to_metrics_dict", "keras_tuner"]
