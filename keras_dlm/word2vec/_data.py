"""Vectorized, streaming generation of Word2Vec training batches."""

from __future__ import annotations

import itertools
import math
import threading
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import keras
import numpy as np

from keras_dlm._checks import check_bool, check_integer, invalid_argument
from keras_dlm.word2vec._corpus import _check_reiterable, _iter_sentences
from keras_dlm.word2vec._vocabulary import Vocabulary

# Corpus tokens turned into training examples at a time: large enough for
# NumPy to amortize its call overhead, small enough to stream any corpus.
_CHUNK_TOKENS = 1 << 18
# A corpus of at most this many tokens is read and encoded once and kept as
# word indices (4 bytes a token, 128 MiB at most); a larger one is re-read
# from its source every pass, so it need not fit in memory.
_CACHE_TOKENS = 1 << 25
# Chunks of the TensorFlow example pipeline (keras_dlm._backend.word2vec_input):
# several per pass even of a small corpus, so that its threads share the
# work; a new fit skips the few chunks the previous one had read ahead.
_PIPELINE_CHUNK_TOKENS = 1 << 16


class EpochMismatchWarning(UserWarning):
    """`Word2Vec.fit` runs more epochs than `Word2Vec.make_dataset` planned."""


def _alias_table(probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Walker's alias table (Vose's construction) for O(1) sampling.

    Drawing ``i`` uniformly and keeping it with probability ``accept[i]``,
    else taking ``alias[i]``, samples ``probabilities`` exactly. It replaces a
    binary search of the cumulative distribution per negative (gensim's
    ``bisect_left`` on its ``cum_table``), which was a third of the batch
    generation time.

    Returns:
        ``accept`` (float64) and ``alias`` (int32), one entry per outcome.
    """
    size = len(probabilities)
    scaled = (
        np.asarray(probabilities, np.float64) * size / np.sum(probabilities)
    ).tolist()
    accept = np.ones(size, dtype=np.float64)
    alias = np.arange(size, dtype=np.int32)
    small = [i for i, value in enumerate(scaled) if value < 1.0]
    large = [i for i, value in enumerate(scaled) if value >= 1.0]
    while small and large:
        light, heavy = small.pop(), large[-1]
        accept[light] = scaled[light]
        alias[light] = heavy
        scaled[heavy] -= 1.0 - scaled[light]
        if scaled[heavy] < 1.0:
            small.append(large.pop())
    # Whatever is left is 1 up to rounding: always accepted.
    return accept, alias


def _window_contexts(
    ids: np.ndarray,
    sentence: np.ndarray,
    window: int,
    rng: np.random.Generator,
    balanced: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Contexts of every position under a reduced random window.

    Each centre position draws its effective half-window ``b`` uniformly from
    ``1..window`` (gensim's and the C tool's "reduced window"); the context
    is the positions at distance ``1..b`` on either side, within the same
    sentence. With ``balanced``, the draws are a random permutation of
    ``1..window`` repeated (each position's ``b`` is still uniform, and each
    value is drawn the same number of times, to within one), so that the
    CBOW batches cut into blocks of equal ``b`` (`cbow_block_sizes`) use
    every example of a chunk.

    Returns:
        ``contexts`` (n, 2 * window) word indices, columns ordered by offset
        ``-window..-1, 1..window``, ``valid`` (n, 2 * window) bool and
        ``half`` (n,) the effective half-windows.
    """
    n = len(ids)
    if balanced:
        half = rng.permutation(np.resize(np.arange(1, window + 1), n))
    else:
        half = rng.integers(1, window + 1, size=n)
    contexts = np.zeros((n, 2 * window), dtype=np.int32)
    valid = np.zeros((n, 2 * window), dtype=bool)
    for distance in range(1, window + 1):
        if distance >= n:
            break
        within = half >= distance
        same = sentence[distance:] == sentence[:-distance]
        # Context on the left: position i - distance.
        column = window - distance
        valid[distance:, column] = within[distance:] & same
        contexts[distance:, column] = ids[:-distance]
        # Context on the right: position i + distance.
        column = window + distance - 1
        valid[:-distance, column] = within[:-distance] & same
        contexts[:-distance, column] = ids[distance:]
    return contexts, valid, half


def cbow_block_sizes(batch_size: int, window: int) -> list[int]:
    """Rows of each block of a CBOW batch, for half-windows ``1..window``.

    `make_dataset` orders the rows of a CBOW batch in ``window`` blocks:
    block ``k`` (0-based) holds ``cbow_block_sizes(...)[k]`` examples whose
    effective half-window is ``k + 1``, so their context lies in the
    ``2 * (k + 1)`` middle columns of ``inputs``. When `Word2Vec.fit`
    trains on such a stream, the step scatters only those columns (6 a row
    on average at ``window=5`` instead of 10).
    """
    base, extra = divmod(batch_size, window)
    return [base + (block < extra) for block in range(window)]


class _BatchStream:
    """An endless stream of training batches, one corpus pass after another.

    A corpus of at most ``_CACHE_TOKENS`` tokens is encoded once and kept as
    word indices; a larger one is re-read every pass (so it may be larger
    than memory). Each pass applies subsampling with fresh random draws,
    draws fresh reduced windows, turns a chunk of ``_CHUNK_TOKENS`` tokens
    at a time into examples with NumPy and (``shuffle``) shuffles them
    within the chunk. Negatives are drawn for each batch as it is handed out.
    """

    def __init__(
        self,
        corpus: Any,
        vocabulary: Vocabulary,
        *,
        mode: str,
        window: int,
        negative: int,
        shared_negatives: int | None,
        ns_exponent: float,
        batch_size: int,
        epochs: int,
        seed: int | None,
        shuffle: bool = True,
        chunk_tokens: int = _CHUNK_TOKENS,
    ) -> None:
        self.corpus = corpus
        self.vocabulary = vocabulary
        self.mode = mode
        self.window = window
        self.negative = negative
        self.shared_negatives = shared_negatives
        self.batch_size = batch_size
        self.shuffle = bool(shuffle)
        self.chunk_tokens = chunk_tokens
        self.rng = np.random.default_rng(seed)
        self.seed = int(self.rng.integers(1 << 20)) if seed is None else seed
        self.keep = vocabulary.keep_probabilities.astype(np.float32)
        self.subsample = bool(vocabulary.sample)
        self.accept, self.alias = _alias_table(
            vocabulary.noise_distribution(ns_exponent)
        )
        self.cache = vocabulary.total_words <= _CACHE_TOKENS
        self._encoded: list[tuple[np.ndarray, np.ndarray]] = []
        self.planned_tokens = max(1, vocabulary.total_words * epochs)
        self.tokens_seen = 0
        self.examples_per_kept_token: float | None = None
        self._batches = self._generate()

    def __iter__(self) -> Iterator[dict[str, np.ndarray]]:
        return self

    def __next__(self) -> dict[str, np.ndarray]:
        return next(self._batches)

    def _chunks(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Endless ``(word indices, sentence lengths)`` chunks, pass after pass."""
        cached_tokens = 0
        for chunk in self._read_chunks():
            if self.cache:
                cached_tokens += len(chunk[0])
                # The vocabulary's count decided; a corpus larger than the
                # one it was built from must not grow the cache past it.
                if cached_tokens > _CACHE_TOKENS:
                    self.cache = False
                    self._encoded.clear()
                else:
                    self._encoded.append(chunk)
            yield chunk
        if not self.cache:
            while True:
                yield from self._read_chunks()
        while True:
            yield from self._encoded

    def _read_chunks(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """One pass over the corpus, encoded a chunk at a time."""
        for sentences in self._sentence_chunks():
            ids = self.vocabulary.encode(itertools.chain.from_iterable(sentences))
            lengths = np.fromiter(
                map(len, sentences), dtype=np.int64, count=len(sentences)
            )
            yield ids, lengths

    def _sentence_chunks(self) -> Iterator[list[list[str]]]:
        sentences: list[list[str]] = []
        tokens = 0
        produced = False
        for sentence in _iter_sentences(
            self.corpus, tokenizer=self.vocabulary.tokenizer
        ):
            sentences.append(sentence)
            tokens += len(sentence)
            if tokens >= self.chunk_tokens:
                produced = True
                yield sentences
                sentences, tokens = [], 0
        if sentences:
            produced = True
            yield sentences
        if not produced:
            raise ValueError("The corpus is empty: it yielded no sentences.")

    def _examples(self, chunk: tuple[np.ndarray, np.ndarray]) -> dict[str, np.ndarray]:
        ids, lengths = chunk
        sentence = np.repeat(np.arange(len(lengths), dtype=np.int32), lengths)
        raw_tokens = len(ids)
        keep = ids >= 0
        if self.subsample:
            keep &= (
                self.rng.random(raw_tokens, dtype=np.float32)
                < self.keep[np.maximum(ids, 0)]
            )
        ids, sentence = ids[keep], sentence[keep]
        contexts, valid, half = _window_contexts(
            ids, sentence, self.window, self.rng, balanced=self.mode == "cbow"
        )
        if self.mode == "skipgram":
            # The context word's input vector predicts the centre word.
            rows, columns = np.nonzero(valid)
            examples = {
                "inputs": contexts[rows, columns],
                "targets": ids[rows],
            }
            order = self.rng.permutation(len(rows)) if self.shuffle else None
            slots = rows
        else:
            rows = np.flatnonzero(valid.any(axis=1))
            half = half[rows]
            # Grouped by effective half-window, for the blocks that `take`
            # cuts batches from; within a group, shuffled (or in corpus
            # order). "progress" is given per slot: each group's slots take
            # its own examples' progress in corpus order.
            slots = np.argsort(half, kind="stable")
            if self.shuffle:
                order = self.rng.permutation(len(rows))
                order = order[np.argsort(half[order], kind="stable")]
            else:
                order = slots
            picked = rows[order]
            mask = valid[picked]
            examples = {
                "inputs": np.where(mask, contexts[picked], 0),
                "targets": ids[picked],
                "context_mask": mask.astype(np.float32),
                # Internal: where each group starts (see `_queues`); batches
                # do not carry it.
                "half_window": half[order],
            }
            slots = rows[slots]
            order = None
        if len(ids) and self.examples_per_kept_token is None:
            self.examples_per_kept_token = len(rows) / len(ids)
        # Training progress (gensim's: corpus tokens seen / tokens planned)
        # of each example, interpolated within the chunk.
        fraction = slots / max(len(ids), 1)
        examples["progress"] = (
            (self.tokens_seen + fraction * raw_tokens) / self.planned_tokens
        ).astype(np.float32)
        self.tokens_seen += raw_tokens
        if order is not None:
            # In corpus order a batch of 4096 skip-gram pairs is some 700
            # consecutive tokens of one text: its topic words then receive
            # hundreds of updates in one step, all computed from the same
            # stale vectors and summed (gensim applies them one after
            # another). Shuffling within the chunk spreads them over the
            # chunk's steps; "progress" keeps its order, so the learning rate
            # still falls step by step.
            for key in examples:
                if key != "progress":
                    examples[key] = examples[key][order]
        return examples

    def first_chunk(self) -> dict[str, np.ndarray]:
        """Generates (and keeps) the first chunk, to calibrate the epoch size."""
        if not hasattr(self, "_pending"):
            self._pending = self._examples(next(self._chunk_iterator()))
        return self._pending

    def _chunk_iterator(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        if not hasattr(self, "_chunk_source"):
            self._chunk_source = self._chunks()
        return self._chunk_source

    def example_plan(self) -> dict[str, Any] | None:
        """The encoded corpus and settings for the TensorFlow example pipeline.

        Reads the corpus once more (its cached encoding is built lazily as
        the NumPy stream goes). Returns None for a corpus too large to hold
        in memory (more than ``_CACHE_TOKENS`` tokens).
        """
        if hasattr(self, "_plan"):
            return self._plan
        self._plan = None
        if not self.cache:
            return None
        pieces, raw_tokens = [], 0
        for chunk in self._read_chunks():
            raw_tokens += len(chunk[0])
            if raw_tokens > _CACHE_TOKENS:
                return None
            pieces.append(chunk)
        ids = np.concatenate([piece[0] for piece in pieces]).astype(np.int32)
        lengths = np.concatenate([piece[1] for piece in pieces])
        sentence = np.repeat(np.arange(len(lengths), dtype=np.int32), lengths)
        # Chunks end at sentence ends (windows never cross a chunk), after
        # the sentence that reaches each multiple of the chunk size.
        ends = np.cumsum(lengths)
        marks = np.arange(1, -(-raw_tokens // _PIPELINE_CHUNK_TOKENS))
        last = np.searchsorted(ends, marks * _PIPELINE_CHUNK_TOKENS, side="left")
        raw_bounds = np.unique(np.concatenate([[0], ends[last], [raw_tokens]]))
        known = ids >= 0
        kept_before = np.concatenate([[0], np.cumsum(known)])
        groups = self.batch_size // (self.shared_negatives or 1)
        self._plan = {
            "ids": ids[known],
            "sentences": sentence[known],
            "chunk_starts": kept_before[raw_bounds].astype(np.int64),
            "raw_before": raw_bounds.astype(np.float64),
            "keep": self.keep if self.subsample else None,
            "accept": self.accept,
            "alias": self.alias,
            "planned_tokens": self.planned_tokens,
            "mode": self.mode,
            "window": self.window,
            "negative": self.negative,
            "groups": groups,
            "batch_size": self.batch_size,
            "shuffle": self.shuffle,
            "seed": self.seed,
        }
        return self._plan

    def _draw_negatives(self, shape: tuple[int, ...]) -> np.ndarray:
        candidates = self.rng.integers(0, len(self.alias), size=shape, dtype=np.int32)
        keep = self.rng.random(shape) < self.accept[candidates]
        return np.where(keep, candidates, self.alias[candidates])

    def _queues(self, examples: dict[str, np.ndarray]) -> list[dict[str, np.ndarray]]:
        """A chunk's examples split into the queues that batches are cut from.

        Skip-gram: one queue. CBOW: one queue per effective half-window
        ``1..window``, for the blocks of `cbow_block_sizes`.
        """
        if self.mode != "cbow":
            return [examples]
        ends = np.cumsum(
            np.bincount(examples["half_window"], minlength=self.window + 1)
        )
        return [
            {
                key: value[ends[block - 1] : ends[block]]
                for key, value in examples.items()
                if key != "half_window"
            }
            for block in range(1, self.window + 1)
        ]

    def take(self, count: int) -> dict[str, np.ndarray]:
        """The next ``count`` batches, stacked on a new leading axis.

        Taking several batches at once costs one slice and one negative
        draw instead of ``count``; the TensorFlow input pipeline slices
        them apart again in C++ (see `Word2VecDataset.stacked_epoch`).
        A CBOW batch is the concatenation of one block per effective
        half-window (`cbow_block_sizes`), each cut from its own queue.
        """
        if self.mode == "cbow":
            sizes = cbow_block_sizes(self.batch_size, self.window)
        else:
            sizes = [self.batch_size]
        if not hasattr(self, "_buffers"):
            self._buffers = self._queues(self.first_chunk())
            self._starts = [0] * len(sizes)
        while any(
            len(buffer["targets"]) - start < count * size
            for buffer, start, size in zip(
                self._buffers, self._starts, sizes, strict=True
            )
        ):
            new = self._queues(self._examples(next(self._chunk_iterator())))
            self._buffers = [
                {
                    key: np.concatenate([value[start:], part[key]])
                    for key, value in buffer.items()
                }
                for buffer, start, part in zip(
                    self._buffers, self._starts, new, strict=True
                )
            ]
            self._starts = [0] * len(sizes)
        blocks = []
        for queue, (buffer, size) in enumerate(zip(self._buffers, sizes, strict=True)):
            start = self._starts[queue]
            blocks.append(
                {
                    key: value[start : start + count * size].reshape(
                        count, size, *value.shape[1:]
                    )
                    for key, value in buffer.items()
                }
            )
            self._starts[queue] += count * size
        if len(blocks) == 1:
            batches = blocks[0]
        else:
            batches = {
                key: np.concatenate([block[key] for block in blocks], axis=1)
                for key in blocks[0]
            }
        groups = self.batch_size // (self.shared_negatives or 1)
        batches["negatives"] = self._draw_negatives((count, groups, self.negative))
        return batches

    def _generate(self) -> Iterator[dict[str, np.ndarray]]:
        while True:
            yield {key: value[0] for key, value in self.take(1).items()}


class Word2VecDataset(keras.utils.PyDataset):
    """Training batches for `Word2Vec.fit`, made by `Word2Vec.make_dataset`.

    An endless stream of corpus passes cut into ``len(dataset)`` batches per
    Keras epoch; the epoch length is the expected number of batches in one
    corpus pass (estimated from the vocabulary counts and the first chunk),
    so Keras epochs match corpus passes on average. Each batch is a dict
    with ``inputs`` (context word, or the ``(batch, 2 * window)`` context of
    CBOW with ``context_mask``), ``targets`` (centre word), ``negatives``
    and ``progress`` (the fraction of the planned training done). The rows
    of a CBOW batch come in ``window`` blocks of equal effective
    half-window (sizes from `cbow_block_sizes`; block ``k`` uses only the
    ``2 * (k + 1)`` middle columns), which `Word2Vec.fit` tells the step so
    that it skips the padding of the other columns. On
    TensorFlow, `Word2Vec.fit` reads it through `stacked_epoch` as a
    ``tf.data`` pipeline rather than batch by batch.
    """

    def __init__(self, stream: _BatchStream, num_batches: int, epochs: int) -> None:
        super().__init__()
        self._stream = stream
        self._num_batches = int(num_batches)
        self._planned_epochs = int(epochs)
        self._epochs_requested = 0
        self._batches_requested = 0
        self._next_chunk = 0
        self._pipelines = 0
        # `stacked_epoch`'s groups not yet trained on, and what its last
        # call yielded (with the model's step counter when it began).
        self._replay: list[dict[str, np.ndarray]] = []
        self._last_call: list[dict[str, np.ndarray]] = []
        self._last_call_steps: int | None = None
        self._generation = 0
        self._epoch_lock = threading.Lock()

    @property
    def epochs(self) -> int:
        """The number of passes the dataset was made for (its decay plan)."""
        return self._planned_epochs

    def _request_epochs(self, epochs: int, steps_per_epoch: int | None = None) -> None:
        """Records that ``fit`` will read ``epochs`` more epochs; warns past the plan.

        The default learning rate falls to ``min_alpha`` at the end of the
        planned passes and stays there, so any further pass trains at the
        floor rate: almost nothing, at full cost. Epochs of a user's
        ``steps_per_epoch`` count by their batches.
        """
        self._epochs_requested += epochs
        self._batches_requested += epochs * (steps_per_epoch or self._num_batches)
        planned = self._planned_epochs * self._num_batches
        if self._batches_requested <= planned:
            return
        if steps_per_epoch is None and self._batches_requested == (
            self._epochs_requested * self._num_batches
        ):
            runs = f"{self._epochs_requested} epochs"
        else:
            runs = f"{self._batches_requested} batches (planned: {planned})"
        warnings.warn(
            EpochMismatchWarning(
                f"fit will run {runs} in all on a dataset made by "
                f"make_dataset(epochs={self._planned_epochs}): the learning "
                "rate reaches min_alpha at the end of the "
                f"{self._planned_epochs} planned epochs, so the later ones "
                "barely train. Pass the total number of epochs to make_dataset."
            ),
            stacklevel=3,
        )

    @property
    def num_batches(self) -> int:
        return self._num_batches

    def __len__(self) -> int:
        return self._num_batches

    def __getitem__(self, index: int) -> tuple[dict[str, np.ndarray]]:
        # The stream hands out its next batch whatever the index (so fit's
        # shuffle=True changes nothing).
        del index
        return (next(self._stream),)

    def batch_spec(self) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
        """``{key: (shape, dtype)}`` of one batch, without drawing one."""
        stream = self._stream
        spec = {
            key: ((stream.batch_size, *value.shape[1:]), value.dtype)
            for key, value in stream.first_chunk().items()
            if key != "half_window"
        }
        groups = stream.batch_size // (stream.shared_negatives or 1)
        spec["negatives"] = ((groups, stream.negative), np.dtype(np.int32))
        return spec

    def example_plan(self) -> dict[str, Any] | None:
        """The corpus and settings for a TensorFlow example pipeline, or None.

        Each call numbers a new pipeline (its negatives get fresh seeds);
        None when the corpus is too large to hold in memory.
        """
        plan = self._stream.example_plan()
        if plan is None:
            return None
        self._pipelines += 1
        return dict(plan, stream=self._pipelines)

    def chunk_indices(self) -> Iterator[int]:
        """Endless numbers of the chunks to generate, continuing across fits."""
        while True:
            index = self._next_chunk
            self._next_chunk += 1
            yield index

    def stacked_epoch(
        self,
        count: int = 16,
        steps_trained: Callable[[], int] | None = None,
        batches: int | None = None,
    ) -> Iterator[dict[str, np.ndarray]]:
        """One epoch, ``len(self)`` batches, in groups of up to ``count``.

        Each call continues the stream where the previous one stopped. Keras
        on TensorFlow runs whole groups of ``steps_per_execution`` steps
        per call, so an endless input with ``steps_per_epoch=len(self)``
        trained up to 15 batches more than an epoch per epoch (6 more, 60%,
        for a 10-batch epoch) and used up the planned passes early, leaving
        the learning rate at ``min_alpha``. An input that ends after the
        epoch stops the last call there.

        Keras opens iterators it never trains from (under a
        ``tf.distribute`` strategy, one to look at a batch; after the last
        epoch, the next epoch's), and their input pipelines read ahead. A
        new call therefore stops the generators of earlier calls, and when
        the model's step counter has not moved since the previous call
        began, serves that call's groups again before reading on.

        Args:
            count: batches per group.
            steps_trained: the model's step counter (none: never replay).
            batches: the epoch's length when not ``len(self)`` (a user's
                ``steps_per_epoch``).
        """
        with self._epoch_lock:
            self._generation += 1
            generation = self._generation
            steps = steps_trained() if steps_trained is not None else None
            if steps is not None and steps == self._last_call_steps:
                self._replay = self._last_call + self._replay
            self._last_call, self._last_call_steps = [], steps
        remaining = self._num_batches if batches is None else batches
        while remaining:
            with self._epoch_lock:
                if generation != self._generation:
                    return  # a newer iterator has taken over the stream
                if self._replay:
                    group = self._replay.pop(0)
                else:
                    group = self._stream.take(min(count, remaining))
                size = len(group["targets"])
                if size > remaining:
                    self._replay.insert(
                        0, {key: value[remaining:] for key, value in group.items()}
                    )
                    group = {key: value[:remaining] for key, value in group.items()}
                    size = remaining
                self._last_call.append(group)
            yield group
            remaining -= size


def _make_dataset(
    corpus: Any,
    vocabulary: Vocabulary,
    *,
    mode: str,
    window: int,
    negative: int,
    shared_negatives: int | None,
    ns_exponent: float,
    batch_size: int,
    epochs: int,
    seed: int | None,
    shuffle: bool = True,
) -> Word2VecDataset:
    _check_reiterable(corpus)
    batch_size = check_integer("batch_size", batch_size)
    epochs = check_integer("epochs", epochs)
    seed = check_integer("seed", seed, minimum=0, allow_none=True)
    shuffle = check_bool("shuffle", shuffle)
    if shared_negatives and shared_negatives > 1 and batch_size % shared_negatives:
        raise invalid_argument(
            "batch_size",
            batch_size,
            f"a multiple of shared_negatives={shared_negatives}",
        )
    stream = _BatchStream(
        corpus,
        vocabulary,
        mode=mode,
        window=window,
        negative=negative,
        shared_negatives=shared_negatives,
        ns_exponent=ns_exponent,
        batch_size=batch_size,
        epochs=epochs,
        seed=seed,
        shuffle=shuffle,
    )
    stream.first_chunk()
    if not stream.examples_per_kept_token:
        raise ValueError(
            "The corpus gives no training examples: no two vocabulary words "
            "share a sentence. Lower min_count or use a larger corpus."
        )
    kept = float(np.sum(vocabulary.counts * vocabulary.keep_probabilities))
    expected = kept * stream.examples_per_kept_token
    return Word2VecDataset(
        stream, max(1, math.ceil(expected / batch_size)), epochs=epochs
    )
