"""Reverse-mode gradients from the active backend's own autodiff.

Keras 3 has no public multi-backend gradient op, so the gradient checker
(``keras_dlm.gradcheck``) goes through this adapter: ``tf.GradientTape`` on
TensorFlow, ``jax.value_and_grad`` on JAX, ``torch.autograd.grad`` on
PyTorch. Backend libraries are imported inside the functions, so importing
this module never imports TensorFlow under JAX or PyTorch.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import keras
import numpy as np

from keras_dlm._backend import backend_name, keras_internals

ScalarFn = Callable[[Sequence[Any]], Any]


@contextlib.contextmanager
def float64_scope() -> Iterator[None]:
    """Makes float64 computation possible for the duration of the block.

    What stands in the way, undone when the block ends:

    - JAX truncates float64 to float32 unless ``jax_enable_x64`` is on; it is
      turned on for the block only, so the rest of the program keeps its
      default dtypes.
    - Keras's type promotion (``keras.backend.result_type``, used by ops such
      as ``tanh`` and ``matmul``) maps float64 to float32 on every backend but
      TensorFlow, mirroring JAX's default; for the block it keeps float64, as
      it does on TensorFlow.
    - On TensorFlow with oneDNN enabled (the default on many x86 CPUs),
      Grappler's remapper asks oneDNN about every fusable float64 pattern in a
      ``tf.function`` and logs ``Not handling type DT_DOUBLE`` for each; the
      remapper (which fuses nothing in float64 on oneDNN anyway) is turned off
      for the functions traced in the block, so nothing is logged and no
      other message is hidden.
    """
    name = backend_name()
    if name == "tensorflow":
        with _without_remapper():
            yield
        return
    table = keras_internals.bit64_to_bit32_dtype_table()
    saved = table["float64"]
    table["float64"] = "float64"
    try:
        if name == "jax":
            import jax

            if jax.config.jax_enable_x64:
                yield
            else:
                with jax.enable_x64(True):
                    yield
        else:
            yield
    finally:
        table["float64"] = saved


@contextlib.contextmanager
def _without_remapper() -> Iterator[None]:
    import tensorflow as tf

    previous = tf.config.optimizer.get_experimental_options().get("remapping")
    tf.config.optimizer.set_experimental_options({"remapping": False})
    try:
        yield
    finally:
        # The remapper is on unless someone turned it off; TensorFlow's public
        # API cannot unset an option, so "unset" comes back as "on".
        tf.config.optimizer.set_experimental_options(
            {"remapping": True if previous is None else previous}
        )


def to_float64_tensor(array: np.ndarray) -> Any:
    """Converts a NumPy array to a float64 tensor of the active backend."""
    return keras.ops.convert_to_tensor(np.asarray(array, dtype=np.float64), "float64")


def _torch_rng_state() -> tuple[Any, list[Any]]:
    import torch

    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []
    return torch.get_rng_state(), cuda


@contextlib.contextmanager
def _replayed_torch_rng(state: tuple[Any, list[Any]]) -> Iterator[None]:
    """Runs the block from the given global RNG state, then restores the old one.

    Keras's PyTorch backend draws unseeded dropout from torch's global
    generator; replaying one state makes every evaluation see the same mask
    and leaves the caller's random stream untouched.
    """
    import torch

    saved = _torch_rng_state()
    torch.set_rng_state(state[0])
    if state[1]:
        torch.cuda.set_rng_state_all(state[1])
    try:
        yield
    finally:
        torch.set_rng_state(saved[0])
        if saved[1]:
            torch.cuda.set_rng_state_all(saved[1])


def forward_once(fn: Callable[[Sequence[Any]], Any], args: Sequence[Any]) -> Any:
    """Calls ``fn(args)`` once, eagerly, leaving no trace in any random stream.

    On PyTorch the call runs without autograd and from a replayed global RNG
    state, so the caller's random numbers are as they were; the other
    backends draw from Keras's seed generators, whose state a
    ``keras.StatelessScope`` keeps unchanged.
    """
    if backend_name() == "torch":
        import torch

        with torch.no_grad(), _replayed_torch_rng(_torch_rng_state()):
            return fn(list(args))
    return fn(list(args))


def value_and_grad(fn: ScalarFn, args: Sequence[Any]) -> tuple[float, list[np.ndarray]]:
    """Evaluates a scalar function and its gradient by back-propagation.

    Args:
        fn: a function of a list of tensors returning a scalar tensor.
        args: float64 tensors; the gradient is taken with respect to each.

    Returns:
        ``(value, gradients)``: the value as a Python float and one float64
        NumPy array per argument (zeros where the value does not depend on it).
    """
    name = backend_name()
    if name == "tensorflow":
        import tensorflow as tf

        args = [tf.convert_to_tensor(arg) for arg in args]
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            for arg in args:
                tape.watch(arg)
            value = fn(args)
        grads = tape.gradient(
            value, args, unconnected_gradients=tf.UnconnectedGradients.ZERO
        )
        # Embedding lookups give IndexedSlices; densify them.
        return float(value.numpy()), [
            np.asarray(tf.convert_to_tensor(g), dtype=np.float64) for g in grads
        ]
    if name == "jax":
        import jax

        value_and_grad_fn = jax.value_and_grad(lambda xs: fn(xs))
        try:
            # Eager JAX runs recurrent layers' scans op by op; compiled is
            # much faster even counting the compilation.
            value, grads = jax.jit(value_and_grad_fn)(list(args))
        except (jax.errors.JAXTypeError, TypeError):
            value, grads = value_and_grad_fn(list(args))
        return float(value), [np.asarray(g, dtype=np.float64) for g in grads]
    if name == "torch":
        import torch

        leaves = [arg.detach().clone().requires_grad_(True) for arg in args]
        with _replayed_torch_rng(_torch_rng_state()):
            value = fn(leaves)
        grads = torch.autograd.grad(value, leaves, allow_unused=True)
        return float(value.detach().cpu()), [
            np.zeros(tuple(leaf.shape))
            if g is None
            else g.detach().cpu().numpy().astype(np.float64)
            for leaf, g in zip(leaves, grads, strict=True)
        ]
    raise NotImplementedError(
        f"Gradient checking supports the tensorflow, jax and torch backends; "
        f"the active backend is {name!r}."
    )


def make_evaluator(
    fn: ScalarFn, *, compile: bool = True
) -> Callable[[Sequence[Any]], float]:
    """Returns a fast forward-only evaluator of a scalar function.

    Finite differences call the function many times, so on JAX it is
    ``jax.jit``-compiled and on TensorFlow wrapped in ``tf.function`` (both
    falling back to eager calls if tracing fails); on PyTorch it runs without
    recording the autograd graph.

    Args:
        fn: a function of a list of tensors returning a scalar tensor.
        compile: whether to try ``jax.jit`` / ``tf.function``.

    Returns:
        A function of a list of tensors returning a Python float.
    """
    name = backend_name()
    if name == "jax":
        import jax

        if not compile:
            return lambda args: float(fn(list(args)))
        jitted = jax.jit(lambda xs: fn(xs))
        state = {"use_jit": True}

        def evaluate_jax(args: Sequence[Any]) -> float:
            if state["use_jit"]:
                try:
                    return float(jitted(list(args)))
                except (jax.errors.JAXTypeError, TypeError):
                    # A target that converts tensors to NumPy cannot be traced;
                    # eager calls give the same numbers, only slower.
                    state["use_jit"] = False
            return float(fn(list(args)))

        return evaluate_jax
    if name == "torch":
        import torch

        rng_state = _torch_rng_state()

        def evaluate_torch(args: Sequence[Any]) -> float:
            with torch.no_grad(), _replayed_torch_rng(rng_state):
                return float(fn(list(args)).cpu())

        return evaluate_torch
    if name == "tensorflow" and compile:
        import tensorflow as tf

        traced = tf.function(lambda xs: fn(xs), autograph=False)
        tf_state = {"use_function": True}

        def evaluate_tf(args: Sequence[Any]) -> float:
            if tf_state["use_function"]:
                try:
                    return float(traced(list(args)))
                except (
                    TypeError,
                    NotImplementedError,
                    tf.errors.OperatorNotAllowedInGraphError,
                ):
                    # A target that needs eager tensors (NumPy conversions)
                    # cannot be traced; eager calls give the same numbers.
                    tf_state["use_function"] = False
            return float(keras.ops.convert_to_numpy(fn(list(args))))

        return evaluate_tf
    return lambda args: float(keras.ops.convert_to_numpy(fn(list(args))))
