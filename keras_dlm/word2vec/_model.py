"""Word2Vec (skip-gram and CBOW with negative sampling) as a keras.Model."""

from __future__ import annotations

import os
from typing import Any

import keras
import numpy as np
from keras import ops

from keras_dlm._backend import sparse as _sparse
from keras_dlm._backend import word2vec_input as _input
from keras_dlm._checks import (
    check_bool,
    check_choice,
    check_integer,
    check_number,
    invalid_argument,
)
from keras_dlm.word2vec._data import Word2VecDataset, _make_dataset, cbow_block_sizes
from keras_dlm.word2vec._vectors import WordVectors
from keras_dlm.word2vec._vocabulary import Vocabulary

# Before any TensorFlow thread exists (see retain_freed_heap).
_input.retain_freed_heap()

_MODES = ("skipgram", "cbow")
# shared_negatives=None: measured on head500 (benchmarks/word2vec.py), 8 in
# skip-gram trains at gensim's quality with 1.4-1.6x less CPU time a word than
# per-example negatives; in CBOW sharing lowered WS353 (0.033-0.056 against
# 0.076-0.086 at 5 epochs), so CBOW draws per example.
_DEFAULT_SHARED_NEGATIVES = {"skipgram": 8, "cbow": 1}
# Like gensim and the C tool, skip the update of a (word, target) pair whose
# score is already saturated: |x . y| >= 6 gives sigmoid within 0.25% of 0/1.
_MAX_EXP = 6.0


def _available_cores() -> int:
    """The cores this process may run on (taskset and cgroups respected)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


@keras.saving.register_keras_serializable(package="keras_dlm")
class Word2Vec(keras.Model):
    """Skip-gram or CBOW word vectors with negative sampling, trained by `fit`.

    The model holds two tables of shape ``(len(vocabulary), embedding_dim)``:
    the input vectors (the word vectors, ``model.wv``) and the output vectors
    used by negative sampling. ``train_step`` computes the negative-sampling
    gradients in closed form and adds them only to the rows a batch touches
    (TensorFlow ``scatter_add``, JAX ``.at[].add``, PyTorch ``index_add_``),
    so a step costs the same at a 10k or a 1M vocabulary.

    Training follows gensim: skip-gram lets each context word's input vector
    predict the centre word; CBOW predicts the centre word from the mean
    (``cbow_mean=True``) or sum of its context vectors and adds the full
    error to every context vector (divided by the context size when
    summing). Subsampling, reduced windows and negatives are drawn afresh
    each pass (see `make_dataset`). The default optimizer (``compile()``
    without arguments) is plain SGD whose learning rate falls linearly from
    ``alpha=0.025`` to ``min_alpha=0.0001`` over the training planned in
    `make_dataset`, as in gensim.

    Args:
        vocabulary: a `Vocabulary`.
        embedding_dim: size of the word vectors.
        mode: ``"skipgram"`` or ``"cbow"``.
        window: maximum half-width of the context window.
        negative: noise words per positive example.
        ns_exponent: exponent of the noise distribution ``count ** ns_exponent``.
        cbow_mean: average (True) or sum (False) the CBOW context vectors.
        shared_negatives: an integer ``k`` lets each run of ``k``
            consecutive examples of a batch share one draw of ``negative``
            noise words (as Intel's HogBatch shares them over a window):
            batched matrix products instead of per-example gathers; ``1``
            draws them for each example. The batch size must be a multiple
            of ``k``. ``None`` (default) picks the mode's measured best:
            8 in skip-gram (1.4-1.6x less CPU time a word than per example at
            the same quality), 1 in CBOW (where sharing cost quality).
        workers: threads of the input pipeline that prepares batches
            while the step runs (gensim's name). ``None`` (default): every
            core the process may use (``taskset`` respected). On TensorFlow
            it sizes the ``tf.data`` thread pool; the training step itself
            runs on the thread that calls it (one core). JAX and PyTorch
            read the batch stream in Python and ignore it.
        seed: seeds the initial vectors and the batch generator.
        **kwargs: passed to `keras.Model` (e.g. ``name``).

    Call arguments:
        inputs: integer tensor of word indices; the call returns their
            input (word) vectors, of shape ``inputs.shape + (embedding_dim,)``.

    Example:

    ```python
    corpus = [["king", "queen", "royal"], ["cat", "dog", "pet"]] * 50
    vocab = Vocabulary.build(corpus, min_count=1, sample=None)
    model = Word2Vec(vocab, embedding_dim=8, window=2, seed=0)
    dataset = model.make_dataset(corpus, batch_size=64, epochs=2)
    model.compile()
    model.fit(dataset, epochs=2, verbose=0)
    print(model.wv.most_similar("king", topn=2))
    ```
    """

    def __init__(
        self,
        vocabulary: Vocabulary | dict[str, Any],
        *,
        embedding_dim: int = 100,
        mode: str = "skipgram",
        window: int = 5,
        negative: int = 5,
        ns_exponent: float = 0.75,
        cbow_mean: bool = True,
        shared_negatives: int | None = None,
        workers: int | None = None,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if isinstance(vocabulary, dict):
            vocabulary = Vocabulary.from_config(vocabulary)
        if not isinstance(vocabulary, Vocabulary):
            raise invalid_argument(
                "vocabulary",
                vocabulary,
                "a keras_dlm.word2vec.Vocabulary (or its config)",
                error=TypeError,
            )
        check_choice("mode", mode, _MODES)
        embedding_dim = check_integer("embedding_dim", embedding_dim)
        window = check_integer("window", window)
        negative = check_integer("negative", negative)
        ns_exponent = check_number("ns_exponent", ns_exponent)
        cbow_mean = check_bool("cbow_mean", cbow_mean)
        shared_negatives = check_integer(
            "shared_negatives", shared_negatives, allow_none=True
        )
        if shared_negatives is None:
            shared_negatives = _DEFAULT_SHARED_NEGATIVES[mode]
        workers = check_integer("workers", workers, allow_none=True)
        seed = check_integer("seed", seed, minimum=0, allow_none=True)
        self.vocabulary = vocabulary
        self.embedding_dim = embedding_dim
        self.mode = mode
        self.window = window
        self.negative = negative
        self.ns_exponent = ns_exponent
        self.cbow_mean = cbow_mean
        self.shared_negatives = shared_negatives
        self.workers = workers
        self.seed = seed
        self._decay: tuple[float, float] | None = None
        # Set by `fit`: the CBOW batches come in half-window blocks.
        self._context_blocks = False
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.build()

    def build(self, input_shape: Any = None) -> None:
        del input_shape
        size = (len(self.vocabulary), self.embedding_dim)
        bound = 0.5 / self.embedding_dim
        # gensim's initialization: small uniform input vectors, zero outputs.
        # aggregation="sum": under tf.distribute.MirroredStrategy each
        # replica's scatter-add is summed across replicas and applied to
        # every copy, which is the single-device step on the whole batch
        # (with "none", TensorFlow would update each replica's copy alone).
        self.input_embeddings = self.add_weight(
            shape=size,
            initializer=keras.initializers.RandomUniform(-bound, bound, seed=self.seed),
            name="input_embeddings",
            aggregation="sum",
        )
        self.output_embeddings = self.add_weight(
            shape=size, initializer="zeros", name="output_embeddings", aggregation="sum"
        )
        self.built = True

    def call(self, inputs: Any) -> Any:
        """Looks up word vectors.

        Args:
            inputs: integer tensor of word indices.

        Returns:
            The input (word) vectors, of shape ``inputs.shape + (embedding_dim,)``.
        """
        return ops.take(self.input_embeddings, ops.cast(inputs, "int32"), axis=0)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return (*input_shape, self.embedding_dim)

    # ------------------------------------------------------------------ data

    def make_dataset(
        self,
        corpus: Any,
        *,
        batch_size: int = 4096,
        epochs: int = 5,
        seed: int | None = None,
        shuffle: bool = True,
    ) -> Word2VecDataset:
        """Streams training batches from ``corpus`` for `fit`.

        Every corpus pass subsamples frequent words afresh (keep probability
        from `Vocabulary.keep_probabilities`), draws each centre word's
        effective half-window uniformly from ``1..window``, and turns the
        text into examples with NumPy, a chunk at a time. A corpus of up to
        2**25 tokens is encoded once and kept in memory as word indices; a
        larger one is re-read every pass, so it may be larger than memory.
        Each batch gets freshly drawn negatives. In CBOW the half-windows
        of a chunk are a shuffled, balanced draw (each example's is still
        uniform on ``1..window``) and each batch holds ``window`` blocks of
        rows of equal half-window, so that the step scatters only the
        context columns in use (see `Word2VecDataset`).

        Args:
            corpus: a path to a UTF-8 text file or a re-iterable of token
                lists (the same corpus the vocabulary was built from).
            batch_size: examples per step (skip-gram pairs or CBOW windows).
            epochs: the number of passes you will give to `fit`; the default
                learning rate decays to ``min_alpha`` over this many passes.
            seed: seeds subsampling, windows and negatives (default: the
                model's seed).
            shuffle: shuffle the examples within each chunk of text
                (``2**18`` corpus tokens) before cutting batches. In corpus
                order a batch covers a few hundred consecutive words, whose
                frequent words then get many summed updates from the same
                stale vectors; shuffling measured better analogy accuracy
                (skip-gram, 20 epochs: 0.059 against 0.042, gensim 0.056).
                ``False`` keeps gensim's corpus order.

        Returns:
            A `Word2VecDataset` (a ``keras.utils.PyDataset``).
        """
        return _make_dataset(
            corpus,
            self.vocabulary,
            mode=self.mode,
            window=self.window,
            negative=self.negative,
            shared_negatives=self.shared_negatives,
            ns_exponent=self.ns_exponent,
            batch_size=batch_size,
            epochs=epochs,
            seed=self.seed if seed is None else seed,
            shuffle=shuffle,
        )

    # ------------------------------------------------------------- training

    def compile(
        self,
        optimizer: Any = None,
        *,
        alpha: float = 0.025,
        min_alpha: float = 0.0001,
        **kwargs: Any,
    ) -> None:
        """Configures training; the negative-sampling loss is built in.

        Args:
            optimizer: ``None`` (default) for SGD whose learning rate decays
                linearly from ``alpha`` to ``min_alpha`` with the training
                progress carried by each batch (gensim's schedule), or a
                ``keras.optimizers.SGD`` without momentum (its learning rate
                or schedule is used as is). Other optimizers would need dense
                slot updates and are refused.
            alpha: initial learning rate of the default schedule.
            min_alpha: final learning rate of the default schedule.
            **kwargs: passed to `keras.Model.compile` (``jit_compile``,
                ``steps_per_execution``, ``run_eagerly``); ``loss`` and
                ``metrics`` are not accepted. ``jit_compile`` defaults to
                True on TensorFlow outside a ``tf.distribute`` scope (XLA,
                CPU included: Keras's ``"auto"`` leaves it off on CPU) and
                to ``"auto"`` elsewhere; ``steps_per_execution`` defaults to
                16 on TensorFlow (one graph call per 16 steps, so callbacks
                see every 16th batch) and to 1 elsewhere.
        """
        for key in ("loss", "metrics", "loss_weights", "weighted_metrics"):
            if kwargs.get(key) is not None:
                raise invalid_argument(
                    key, kwargs[key], "None (the negative-sampling loss is built in)"
                )
            kwargs.pop(key, None)
        if optimizer is None:
            alpha = check_number("alpha", alpha, low=0, low_inclusive=False)
            min_alpha = check_number("min_alpha", min_alpha, low=0, high=alpha)
            optimizer = keras.optimizers.SGD(learning_rate=alpha)
            self._decay = (alpha, min_alpha)
        else:
            given = optimizer
            try:
                optimizer = keras.optimizers.get(optimizer)
            except ValueError:
                optimizer = None
            if (
                not isinstance(optimizer, keras.optimizers.SGD)
                or optimizer.momentum
                or optimizer.nesterov
            ):
                # Word2Vec updates only the embedding rows a batch touches,
                # which only plain SGD allows.
                raise invalid_argument(
                    "optimizer",
                    given,
                    "None (gensim's decaying SGD) or keras.optimizers.SGD "
                    "without momentum",
                )
            self._decay = None
        if not kwargs.get("run_eagerly"):
            kwargs.setdefault("jit_compile", _sparse.default_jit_compile())
            kwargs.setdefault(
                "steps_per_execution", _sparse.default_steps_per_execution()
            )
        super().compile(optimizer=optimizer, **kwargs)

    def fit(self, x: Any = None, y: Any = None, **kwargs: Any) -> Any:
        """Trains on a `make_dataset` stream (or any input `keras.Model.fit` takes).

        Same arguments as `keras.Model.fit`. A `Word2VecDataset` is fed to
        TensorFlow as a ``tf.data`` pipeline over groups of batches (see
        ``keras_dlm._backend.sparse.stacked_batch_input``) that ends after
        each epoch of ``len(dataset)`` batches, so every epoch trains
        exactly those batches whatever ``steps_per_execution`` and under a
        ``tf.distribute`` strategy; on JAX and PyTorch it is used as the
        ``PyDataset`` it is. A ``steps_per_epoch`` you pass (a positive integer) sets the
        epoch's length instead (the stream runs on across epochs, so
        shorter epochs only spread the planned passes over more of them; on
        JAX and PyTorch Keras takes the dataset to end after
        ``len(dataset)`` batches, so pass a divisor of it there). Warns
        with `EpochMismatchWarning` when the batches of all ``fit`` calls on
        one dataset add up to more than the ``make_dataset(epochs=...)``
        passes planned (the learning rate then sits at ``min_alpha``).
        """
        blocks = self._batches_in_blocks(x)
        if blocks != self._context_blocks:
            # The step's context update is chosen when it is traced.
            self._context_blocks = blocks
            self.train_function = None
        if isinstance(x, Word2VecDataset):
            # Checked before anything is recorded: 0 would silently mean
            # len(dataset), a negative count an epoch that never ends.
            check_integer(
                "steps_per_epoch", kwargs.get("steps_per_epoch"), allow_none=True
            )
            x._request_epochs(
                kwargs.get("epochs", 1) - kwargs.get("initial_epoch", 0),
                kwargs.get("steps_per_epoch"),
            )
            workers = self.workers or _available_cores()
            data, steps = _input.training_input(
                self, x, workers, kwargs.pop("steps_per_epoch", None)
            )
            if steps is not None:
                kwargs["steps_per_epoch"] = steps
            if data is not x:
                kwargs["shuffle"] = False  # the stream is already random
            x = data
        return super().fit(x, y, **kwargs)

    def get_compile_config(self) -> dict[str, Any]:
        config = super().get_compile_config()
        if config and self._decay is not None:
            config = dict(config)
            config["optimizer"] = None
            config["alpha"], config["min_alpha"] = self._decay
        return config

    def compile_from_config(self, config: dict[str, Any]) -> None:
        config = dict(config)
        optimizer = config.pop("optimizer", None)
        if optimizer is not None:
            optimizer = keras.optimizers.deserialize(optimizer)
        # jit_compile and steps_per_execution are left to this backend's
        # defaults: True saved on TensorFlow would mean torch.compile when
        # loaded on PyTorch, and 16 steps per call only pays on TensorFlow.
        keep = ("alpha", "min_alpha", "run_eagerly")
        self.compile(optimizer, **{key: config[key] for key in keep if key in config})
        if self.built:
            self.optimizer.build(self.trainable_variables)

    def train_step(self, *args: Any) -> Any:
        return _sparse.run_sparse_train_step(self, self._sparse_step, *args)

    def _learning_rate(self, progress: Any) -> Any:
        if self._decay is None:
            return ops.cast(self.optimizer.learning_rate, "float32")
        alpha, min_alpha = self._decay
        fraction = ops.clip(ops.cast(progress[0], "float32"), 0.0, 1.0)
        rate = alpha - (alpha - min_alpha) * fraction
        self.optimizer.learning_rate = rate
        return rate

    def _sparse_step(self, data: Any) -> dict[str, Any]:
        batch = data[0] if isinstance(data, tuple | list) else data
        rate = self._learning_rate(batch["progress"])
        self.optimizer.iterations.assign_add(1)
        targets = ops.cast(batch["targets"], "int32")
        negatives = ops.cast(batch["negatives"], "int32")
        inputs = ops.cast(batch["inputs"], "int32")
        if self.mode == "skipgram":
            hidden = _sparse.gather_rows(self.input_embeddings, inputs)
        else:
            mask = ops.cast(batch["context_mask"], "float32")
            context = _sparse.gather_rows(self.input_embeddings, inputs)
            hidden = ops.sum(context * mask[:, :, None], axis=1)
            count = ops.sum(mask, axis=1, keepdims=True)
            if self.cbow_mean:
                hidden = hidden / count
        error, loss = self._output_update(hidden, targets, negatives, rate)
        if self.mode == "skipgram":
            _sparse.scatter_add(self.input_embeddings, inputs, error)
        else:
            if not self.cbow_mean:
                error = error / count
            self._update_contexts(inputs, mask, error)
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result(), "learning_rate": rate}

    def _update_contexts(self, inputs: Any, mask: Any, error: Any) -> None:
        """Adds each example's ``error`` to its context words' input vectors.

        Batches of a `make_dataset` stream hold their rows in blocks of
        equal effective half-window (`cbow_block_sizes`): the context of
        block ``k`` lies in its ``2 * (k + 1)`` middle columns, and only
        those are scattered when `fit` trains on such a stream
        (``window + 1`` rows an example on average instead of
        ``2 * window``: the scatter-adds were most of the step). Any other input takes the path
        over all ``2 * window`` columns.
        """
        dim = self.embedding_dim
        batch_size, window = inputs.shape[0], self.window
        if not self._context_blocks or batch_size is None or window == 1:
            updates = error[:, None, :] * mask[:, :, None]
            _sparse.scatter_add(
                self.input_embeddings,
                ops.reshape(inputs, (-1,)),
                ops.reshape(updates, (-1, dim)),
            )
            return
        indices, updates = [], []
        first = 0
        for block, size in enumerate(cbow_block_sizes(batch_size, window)):
            last, left, right = first + size, window - block - 1, window + block + 1
            indices.append(ops.reshape(inputs[first:last, left:right], (-1,)))
            block_mask = mask[first:last, left:right]
            updates.append(
                ops.reshape(
                    error[first:last, None, :] * block_mask[:, :, None], (-1, dim)
                )
            )
            first = last
        _sparse.scatter_add(
            self.input_embeddings, ops.concatenate(indices), ops.concatenate(updates)
        )

    def _batches_in_blocks(self, x: Any) -> bool:
        """Whether `fit` on ``x`` gives the step CBOW batches in half-window blocks.

        True for a `Word2VecDataset` read through its NumPy stream by one
        replica; False for any other input, for the TensorFlow-ops example
        pipeline and under a ``tf.distribute`` strategy of several replicas
        or a ``keras.distribution`` (each replica or process would see a
        part of a batch, or several batches joined).
        """
        # Only the TensorFlow trainer has a distribute_strategy.
        strategy = getattr(self, "distribute_strategy", None)
        return (
            self.mode == "cbow"
            and isinstance(x, Word2VecDataset)
            and not _input.generates_in_tensorflow()
            and (strategy is None or strategy.num_replicas_in_sync == 1)
            and keras.distribution.distribution() is None
        )

    def _output_update(
        self, hidden: Any, targets: Any, negatives: Any, rate: Any
    ) -> tuple[Any, Any]:
        """Updates the output vectors; returns the error for ``hidden`` and the loss."""
        table = self.output_embeddings
        if self.shared_negatives > 1:
            # As in Intel's HogBatch: each group of `shared_negatives`
            # consecutive examples of the batch shares one draw of
            # `negative` noise words, which turns the noise part into
            # batched matrix products and gathers fewer rows.
            group = self.shared_negatives
            dim = self.embedding_dim
            grouped = ops.reshape(hidden, (-1, group, dim))
            noise = _sparse.gather_rows(table, negatives)  # (groups, negative, dim)
            positive = _sparse.gather_rows(table, targets)
            positive_score = ops.sum(hidden * positive, axis=-1)
            noise_score = ops.matmul(grouped, ops.transpose(noise, (0, 2, 1)))
            grouped_targets = ops.reshape(targets, (-1, group, 1))
            # Noise words equal to the target are skipped, as in gensim.
            noise_weight = ops.cast(
                ops.not_equal(negatives[:, None, :], grouped_targets), "float32"
            )
            positive_gradient = self._gradient(1.0, positive_score) * rate
            noise_gradient = self._gradient(0.0, noise_score) * noise_weight * rate
            error = positive_gradient[:, None] * positive + ops.reshape(
                ops.matmul(noise_gradient, noise), (-1, dim)
            )
            noise_update = ops.matmul(ops.transpose(noise_gradient, (0, 2, 1)), grouped)
            _sparse.scatter_add(
                table,
                ops.concatenate([targets, ops.reshape(negatives, (-1,))]),
                ops.concatenate(
                    [
                        positive_gradient[:, None] * hidden,
                        ops.reshape(noise_update, (-1, dim)),
                    ]
                ),
            )
            loss = -ops.log_sigmoid(positive_score) - ops.reshape(
                ops.sum(noise_weight * ops.log_sigmoid(-noise_score), axis=-1), (-1,)
            )
            return error, ops.mean(loss)
        words = ops.concatenate([targets[:, None], negatives], axis=1)
        rows = _sparse.gather_rows(table, words)  # (batch, 1 + negative, dim)
        scores = ops.squeeze(ops.matmul(rows, hidden[:, :, None]), axis=-1)
        labels = ops.concatenate(
            [ops.ones_like(scores[:, :1]), ops.zeros_like(scores[:, 1:])], axis=1
        )
        weight = ops.concatenate(
            [
                ops.ones_like(scores[:, :1]),
                ops.cast(ops.not_equal(negatives, targets[:, None]), "float32"),
            ],
            axis=1,
        )
        gradient = self._gradient(labels, scores) * weight * rate
        error = ops.squeeze(ops.matmul(gradient[:, None, :], rows), axis=1)
        _sparse.scatter_add(
            table,
            ops.reshape(words, (-1,)),
            ops.reshape(
                gradient[:, :, None] * hidden[:, None, :], (-1, self.embedding_dim)
            ),
        )
        signs = 2.0 * labels - 1.0
        loss = -ops.sum(weight * ops.log_sigmoid(signs * scores), axis=-1)
        return error, ops.mean(loss)

    @staticmethod
    def _gradient(label: Any, score: Any) -> Any:
        unsaturated = ops.cast(ops.less(ops.abs(score), _MAX_EXP), "float32")
        return (label - ops.sigmoid(score)) * unsaturated

    # ------------------------------------------------------------ results

    @property
    def wv(self) -> WordVectors:
        """The trained word (input) vectors as `WordVectors` (a copy)."""
        vectors = np.asarray(ops.convert_to_numpy(self.input_embeddings), np.float32)
        return WordVectors(
            self.vocabulary.words,
            vectors,
            counts=self.vocabulary.counts,
            tokenizer=self.vocabulary.tokenizer,
            lowercase=self.vocabulary.lowercase,
        )

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {
                "vocabulary": self.vocabulary.get_config(),
                "embedding_dim": self.embedding_dim,
                "mode": self.mode,
                "window": self.window,
                "negative": self.negative,
                "ns_exponent": self.ns_exponent,
                "cbow_mean": self.cbow_mean,
                "shared_negatives": self.shared_negatives,
                "workers": self.workers,
                "seed": self.seed,
            }
        )
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Word2Vec:
        config = dict(config)
        vocabulary = Vocabulary.from_config(config.pop("vocabulary"))
        return cls(vocabulary, **config)
