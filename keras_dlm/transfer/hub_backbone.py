"""HubBackbone: a TF-Hub (reusable SavedModel) backbone as a native Keras 3 layer."""

from __future__ import annotations

import inspect
import os
from typing import Any

import keras

from keras_dlm._backend import keras_internals
from keras_dlm._checks import check_bool, invalid_argument
from keras_dlm.transfer import _deps
from keras_dlm.transfer._resolve import check_handle, resolve_handle, resolve_timeout

_TF1_HUB_PROTO = "tfhub_module.pb"


def _check_optional_string(name: str, value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise invalid_argument(name, value, "a string or None", error=TypeError)
    return value


def _accepts_training(function: Any) -> bool:
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False
    return "training" in parameters


@keras.saving.register_keras_serializable(package="keras_dlm")
class HubBackbone(keras.layers.Layer):
    """A TF-Hub backbone (TF2 SavedModel) as a Keras 3 layer, TensorFlow backend.

    ``tensorflow_hub.KerasLayer`` is a tf_keras (Keras 2) layer and cannot be
    used in a Keras 3 model. This layer loads the same modules natively: the
    module's variables become the layer's weights (so ``fit`` trains them,
    ``save`` stores them and ``summary`` counts them), its regularization
    losses are added while the layer is trainable, and ``training`` reaches
    the module only when asked for (see ``train_batchnorm``).

    By default batch-normalization layers inside the module stay in inference
    mode even while the backbone is fine-tuned: their moving statistics never
    change. The Keras guide's recipe, calling ``backbone(x, training=False)``
    in a functional model, is overridden by ``fit()`` up to Keras 3.15.1, so
    the switch lives inside this layer.

    Saving and safe mode: ``get_config`` stores the handle, and the fine-tuned
    values are stored with the model's weights. Reloading a ``.keras`` file
    that holds a ``HubBackbone`` loads the SavedModel again, which runs its
    TensorFlow graph, so like ``keras.layers.TFSMLayer`` it is refused in
    Keras' safe mode: pass ``safe_mode=False`` to ``keras.saving.load_model``
    (or call ``keras.config.enable_unsafe_deserialization()``) for files and
    modules you trust. The handle must still resolve where the model is
    loaded.

    Args:
        handle: a local directory holding a TF2 SavedModel in TF-Hub's reusable
            format (``__call__(inputs, training)``, ``variables``,
            ``trainable_variables``, ``regularization_losses``), or a hub URL
            resolved (and cached in ``TFHUB_CACHE_DIR``) by ``tensorflow_hub``.
            Without network access an uncached URL raises a ``ConnectionError``
            explaining how to download the module elsewhere. A directory
            without ``saved_model.pb`` raises ``FileNotFoundError``.
        trainable: whether the module's trainable variables are trained.
        train_batchnorm: pass ``training=True`` to the module during training
            (only if the module accepts ``training`` and the layer is
            trainable), so that its batch-norm layers use batch statistics and
            update their moving averages. Default ``False``.
        signature: name of a signature to call instead of ``__call__`` (for
            modules without ``__call__``, e.g. from ``model.export()``).
            Signatures take no ``training`` argument and carry no
            regularization losses.
        output_key: the output to return when the module returns a dict
            (signatures always do); may be omitted when there is one output.
        arguments: extra keyword arguments passed to every module call.
        dtype: the layer's dtype policy. Hub modules are traced for float32,
            so the default keeps the layer in float32 under a
            ``mixed_float16`` global policy.
        download_timeout: seconds allowed to connect to the hub server and
            for each read while a URL handle is downloaded (a stalled server
            fails with ``ConnectionError`` after that long without data).
            Default ``None``: the environment variable
            ``KERAS_DLM_HUB_TIMEOUT``, else 10 seconds.
        **kwargs: base ``keras.layers.Layer`` arguments such as ``name``.

    Call arguments:
        inputs: a tensor (or, for a signature with several inputs, a dict of
            tensors keyed by the signature's input names).
        training: Python bool, set by Keras; see ``train_batchnorm``.

    Output:
        The module's output (``output_key`` selects one from a dict).

    Example:

    >>> import keras, tempfile
    >>> from keras_dlm.transfer import HubBackbone, export_hub_module
    >>> body = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
    ...                          keras.layers.Dense(4)])
    >>> path = export_hub_module(body, tempfile.mkdtemp())
    >>> backbone = HubBackbone(path, trainable=True)
    >>> model = keras.Sequential([keras.Input((8, 8, 1)), backbone,
    ...                           keras.layers.Dense(3, activation="softmax")])
    >>> len(backbone.trainable_weights)
    2
    """

    def __init__(
        self,
        handle: str,
        *,
        trainable: bool = False,
        train_batchnorm: bool = False,
        signature: str | None = None,
        output_key: str | None = None,
        arguments: dict[str, Any] | None = None,
        dtype: Any = "float32",
        download_timeout: float | None = None,
        **kwargs: Any,
    ) -> None:
        check_handle(handle)
        trainable = check_bool("trainable", trainable)
        train_batchnorm = check_bool("train_batchnorm", train_batchnorm)
        _check_optional_string("signature", signature)
        _check_optional_string("output_key", output_key)
        if arguments is not None and not isinstance(arguments, dict):
            raise invalid_argument(
                "arguments",
                arguments,
                "a dict of keyword arguments or None",
                error=TypeError,
            )
        if download_timeout is not None:
            download_timeout = resolve_timeout(download_timeout)
        tf = _deps.tensorflow()
        super().__init__(trainable=trainable, dtype=dtype, **kwargs)
        self.handle = handle
        self.train_batchnorm = train_batchnorm
        self.signature = signature
        self.output_key = output_key
        self.arguments = dict(arguments or {})
        self.download_timeout = download_timeout

        path = resolve_handle(handle, timeout=download_timeout)
        is_tf1_hub = tf.io.gfile.exists(os.path.join(path, _TF1_HUB_PROTO))
        module = tf.saved_model.load(path, tags=[] if is_tf1_hub else None)
        self._module = module

        if signature is None:
            if not callable(module):
                available = sorted(getattr(module, "signatures", {}).keys())
                raise ValueError(
                    f"The module at {handle!r} has no `__call__`; pass "
                    f"`signature=` one of {available}."
                )
            self._function = module
            self._input_name = None
            self._module_takes_training = _accepts_training(module.__call__)
            variables = list(getattr(module, "variables", []))
            trainable_variables = list(getattr(module, "trainable_variables", []))
            regularization_losses = list(getattr(module, "regularization_losses", []))
            if not variables:
                concrete = self._any_concrete_function(module.__call__)
                if concrete is not None:
                    variables = list(concrete.variables)
                    trainable_variables = list(concrete.trainable_variables)
        else:
            signatures = getattr(module, "signatures", {})
            if signature not in signatures:
                raise ValueError(
                    f"`signature` {signature!r} is not in the module at {handle!r}; "
                    f"expected one of {sorted(signatures.keys())}."
                )
            function = signatures[signature]
            self._function = function
            input_names = sorted(function.structured_input_signature[1].keys())
            self._input_name = input_names[0] if len(input_names) == 1 else None
            self._module_takes_training = False
            variables = list(function.variables)
            trainable_variables = list(function.trainable_variables)
            regularization_losses = []
        for loss in regularization_losses:
            if not callable(loss):
                raise ValueError(
                    f"The module at {handle!r} has a regularization loss that is "
                    f"not callable ({loss!r}); expected zero-argument callables."
                )
        self._regularization_losses = regularization_losses

        trainable_ids = {id(variable) for variable in trainable_variables}
        seen: set[int] = set()
        for variable in variables + trainable_variables:
            if id(variable) in seen:
                continue
            seen.add(id(variable))
            # The Keras variable wraps the module's own tf.Variable (no copy),
            # so what the optimizer updates is what the module's graph reads.
            weight = keras.Variable(
                initializer=variable,
                shape=variable.shape,
                dtype=variable.dtype,
                trainable=id(variable) in trainable_ids,
                name=variable.name.split(":")[0].replace("/", "_"),
            )
            self._track_variable(weight)
        self.built = True

    @staticmethod
    def _any_concrete_function(function: Any) -> Any:
        concrete_functions = getattr(function, "concrete_functions", None)
        if concrete_functions:
            return concrete_functions[0]
        return None

    @property
    def module(self) -> Any:
        """The loaded SavedModel object."""
        return self._module

    def _passes_training(self, training: Any) -> bool:
        return bool(
            training
            and self.trainable
            and self.train_batchnorm
            and self._module_takes_training
        )

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        tf = _deps.tensorflow()
        keyword_arguments = dict(self.arguments)
        if isinstance(inputs, dict):
            keyword_arguments.update(inputs)
            positional: tuple[Any, ...] = ()
        elif self.signature is not None:
            if self._input_name is None:
                raise ValueError(
                    f"Signature {self.signature!r} takes several inputs; call the "
                    "layer on a dict keyed by the signature's input names."
                )
            keyword_arguments[self._input_name] = inputs
            positional = ()
        else:
            positional = (inputs,)
        if self._module_takes_training:
            keyword_arguments["training"] = self._passes_training(training)
        result = self._function(*positional, **keyword_arguments)

        if self.trainable:
            for loss in self._regularization_losses:
                self.add_loss(tf.cast(loss(), "float32"))

        if isinstance(result, dict):
            if self.output_key is not None:
                if self.output_key not in result:
                    raise ValueError(
                        f"`output_key` {self.output_key!r} is not an output of the "
                        f"module; expected one of {sorted(result)}."
                    )
                return result[self.output_key]
            if len(result) == 1:
                return next(iter(result.values()))
            raise ValueError(
                f"The module returns a dict with keys {sorted(result)}; pass "
                "`output_key=` to choose one."
            )
        if self.output_key is not None:
            raise ValueError(
                f"`output_key` {self.output_key!r} was given but the module "
                f"returns a {type(result).__name__}, not a dict."
            )
        return result

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {
                "handle": self.handle,
                "train_batchnorm": self.train_batchnorm,
                "signature": self.signature,
                "output_key": self.output_key,
                "arguments": dict(self.arguments),
                "download_timeout": self.download_timeout,
            }
        )
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> HubBackbone:
        if keras_internals.in_safe_mode():
            raise ValueError(
                f"Requested the deserialization of a HubBackbone (handle "
                f"{config.get('handle')!r}), which loads a SavedModel and runs "
                "its TensorFlow graph, so it is refused in Keras' safe mode. If "
                "you trust the file and the module, pass `safe_mode=False` to "
                "`keras.saving.load_model` or call "
                "`keras.config.enable_unsafe_deserialization()`."
            )
        return cls(**config)
