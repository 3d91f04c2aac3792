"""Row-wise (sparse) variable updates for hand-written train steps, per backend.

A model whose gradients touch only a few rows of a large table (embedding
tables, word vectors) should not pay for a dense update of the whole table.
Keras 3 has no backend-neutral sparse assignment, so this module provides
one, plus the glue that lets a single backend-neutral ``step(data) -> logs``
function act as ``Model.train_step`` on every backend:

- TensorFlow: ``tf.Variable.scatter_add`` with ``tf.IndexedSlices`` (one
  ``ResourceScatterAdd`` op, duplicates summed);
- JAX: the step runs inside ``keras.StatelessScope`` with the state that
  Keras's JAX trainer passes in; ``value.at[indices].add(updates)`` is turned
  into an in-place update by XLA because Keras donates the state buffers;
- PyTorch: ``Tensor.index_add_`` on the parameter under ``torch.no_grad()``.

It also holds the TensorFlow-only input and compilation choices that make
such steps fast on a CPU (`stacked_batch_input`, `default_jit_compile`,
`default_steps_per_execution`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import keras

from keras_dlm._backend import backend_name

# How far the TensorFlow feed of `stacked_batch_input` reads ahead: whole
# groups of batches before `unbatch`, single batches after it (enough for
# one 16-step graph call).
_GROUPS_AHEAD = 2
_BATCHES_AHEAD = 16


def gather_rows(variable: keras.Variable, indices: Any) -> Any:
    """Reads rows ``indices`` of a 2-D variable without reading the whole table.

    On TensorFlow, ``keras.ops.take`` on a variable first reads the full
    table (``ReadVariableOp``), and a later in-place ``scatter_add`` then
    has to copy it; ``tf.gather`` on the resource variable reads only the
    rows (``ResourceGather``).
    """
    if backend_name() == "tensorflow":
        import tensorflow as tf

        return tf.gather(variable.value, indices)
    return keras.ops.take(variable, indices, axis=0)


def scatter_add(variable: keras.Variable, indices: Any, updates: Any) -> None:
    """Adds ``updates[i]`` to row ``indices[i]`` of ``variable``, in place.

    Rows named several times receive the sum of their updates. Must be called
    from a step run by `run_sparse_train_step` (or eagerly on TensorFlow and
    PyTorch).

    Args:
        variable: a 2-D Keras variable.
        indices: 1-D integer tensor of row indices.
        updates: tensor of shape ``(len(indices), variable.shape[1])``.
    """
    name = backend_name()
    if name == "tensorflow":
        import tensorflow as tf

        variable.value.scatter_add(
            tf.IndexedSlices(tf.cast(updates, variable.dtype), indices)
        )
    elif name == "jax":
        variable.assign(
            variable.value.at[indices].add(updates.astype(variable.value.dtype))
        )
    elif name == "torch":
        import torch

        with torch.no_grad():
            parameter = variable.value
            parameter.index_add_(
                0, indices.to(torch.int64), updates.to(parameter.dtype)
            )
    else:
        raise NotImplementedError(
            f"Sparse updates are not implemented for the {name!r} backend; "
            "supported: tensorflow, jax, torch."
        )


def run_sparse_train_step(
    model: keras.Model, step: Callable[[Any], dict[str, Any]], *args: Any
) -> Any:
    """Runs ``step(data)`` as ``model.train_step`` on the active backend.

    ``step`` reads variables, updates them with `scatter_add` or
    ``variable.assign``/``assign_add`` and returns the logs. On JAX, Keras
    calls ``train_step(state, data)`` and expects ``(logs, new_state)``; the
    step then runs inside a ``keras.StatelessScope`` holding ``state``, and
    the new state is read back from the scope. On TensorFlow and PyTorch,
    Keras calls ``train_step(data)`` and the variables are updated in place.

    Args:
        model: the compiled model whose ``train_step`` this is.
        step: the backend-neutral step.
        *args: the arguments Keras passed to ``train_step``.

    Returns:
        What Keras expects ``train_step`` to return on this backend.
    """
    name = backend_name()
    if name == "jax":
        state, data = args
        references = (
            model.trainable_variables,
            model.non_trainable_variables,
            model.optimizer.variables,
            model.metrics_variables,
        )
        mapping = [
            (reference, value)
            for group, values in zip(references, state, strict=True)
            for reference, value in zip(group, values, strict=True)
        ]
        with keras.StatelessScope(state_mapping=mapping) as scope:
            logs = step(data)
        new_state = []
        for group, values in zip(references, state, strict=True):
            new_values = []
            for reference, value in zip(group, values, strict=True):
                current = scope.get_current_value(reference)
                new_values.append(value if current is None else current)
            new_state.append(new_values)
        return logs, tuple(new_state)
    if name == "torch":
        import torch

        # Keras's torch variables require grad; reading them under no_grad
        # keeps PyTorch from recording an autograd graph nobody uses.
        with torch.no_grad():
            return step(args[0])
    return step(args[0])


def default_jit_compile() -> bool | str:
    """The ``jit_compile`` a sparse-update model should default to.

    Keras's ``"auto"`` turns XLA off for TensorFlow on CPU-only machines, and
    a step of a few dozen small ops then pays the graph executor's per-op
    overhead. XLA fuses those ops and compiles the scatter-adds in place, so
    on TensorFlow the default is ``True`` (CPU or not) outside a
    ``tf.distribute`` strategy scope; JAX always compiles and PyTorch stays
    eager under ``"auto"``.
    """
    if backend_name() != "tensorflow":
        return "auto"
    import tensorflow as tf

    # Under a tf.distribute strategy the mirrored variables live on several
    # devices, which one XLA cluster cannot address (Keras's "auto" turns
    # XLA off there too).
    return not tf.distribute.has_strategy()


def default_steps_per_execution() -> int:
    """The ``steps_per_execution`` a sparse-update model should default to.

    On TensorFlow a Keras step is a ``tf.function`` call from Python, which
    costs about as much as a small sparse step itself: running 16 steps per
    call (a ``tf.while_loop`` inside the graph) halved the step time of
    Word2Vec here. JAX and PyTorch keep 1 (on JAX, 8 steps per call was
    measured slower).
    """
    return 16 if backend_name() == "tensorflow" else 1


def stacked_batch_input(
    dataset: keras.utils.PyDataset,
    stacked_batches: Callable[[], Iterator[dict[str, Any]]],
    batch_spec: dict[str, tuple[tuple[int, ...], Any]],
    threads: int | None = None,
    batches: int | None = None,
) -> Any:
    """What to give ``fit`` for a `PyDataset` that can also yield batch groups.

    On TensorFlow, Keras feeds a ``PyDataset`` through
    ``tf.data.Dataset.from_generator`` one batch at a time, which cost about
    as much as the training step itself here. This returns instead a
    ``tf.data`` pipeline over ``stacked_batches()`` (dicts of NumPy arrays
    whose leading axis counts batches) that ``unbatch`` slices apart in C++;
    the next groups are generated on a tf.data thread while the step runs,
    and tf.data's autotune is off (its timer used to hold ``fit`` open for
    up to 41 s after the last step). On JAX and PyTorch, Keras iterates the
    ``PyDataset`` directly in Python, and ``dataset`` is returned unchanged.

    Args:
        dataset: the ``PyDataset`` (returned as is off TensorFlow).
        stacked_batches: called once per ``fit`` iterator; an endless
            iterator of stacked batch groups.
        batch_spec: ``{key: (shape, dtype)}`` of one batch (no group axis).
        threads: size of the pipeline's own thread pool (default: tf.data's
            shared pool).
        batches: when ``stacked_batches()`` yields exactly this many
            batches per call (one epoch), the dataset declares that
            cardinality, so Keras knows the epoch's length and starts a
            new iterator (a new call) each epoch.

    Returns:
        A ``tf.data.Dataset`` on TensorFlow (of ``batches`` batches per
        iterator; endless without ``batches``: then pass
        ``steps_per_epoch``), else ``dataset``.
    """
    if backend_name() != "tensorflow":
        return dataset
    import tensorflow as tf

    signature = {
        key: tf.TensorSpec((None, *shape), tf.as_dtype(dtype))
        for key, (shape, dtype) in batch_spec.items()
    }
    # tf.data's autotune thread wakes at doubling intervals (10 ms, 20 ms,
    # ... 41 s), and fit waited for its next wake-up after the last step:
    # a 5-epoch fit ended at 1.27, 2.55, 5.11, 10.2, 20.5 or 41 s. With
    # autotune off the buffer sizes below are used as given.
    options = tf.data.Options()
    options.autotune.enabled = False
    if threads:
        options.threading.private_threadpool_size = threads
    pipeline = (
        tf.data.Dataset.from_generator(stacked_batches, output_signature=signature)
        # The group after next is generated (in Python, on a tf.data
        # thread) while the step runs on the current one; prefetching only
        # after `unbatch` left the Python feed and the step taking turns.
        .prefetch(_GROUPS_AHEAD)
        .unbatch()
        .prefetch(_BATCHES_AHEAD)
        .with_options(options)
    )
    if batches is not None:
        pipeline = pipeline.apply(tf.data.experimental.assert_cardinality(batches))
    return pipeline
