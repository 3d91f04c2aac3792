"""One call from a corpus to trained word vectors, as gensim's ``Word2Vec(...)``."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import keras

from keras_dlm._checks import (
    check_bool,
    check_choice,
    check_integer,
    check_number,
    invalid_argument,
)
from keras_dlm.word2vec._corpus import _check_reiterable, _is_path
from keras_dlm.word2vec._model import Word2Vec
from keras_dlm.word2vec._vocabulary import Tokenizer, Vocabulary, _check_tokenizer


def train(
    corpus: Any,
    *,
    mode: str = "skipgram",
    embedding_dim: int = 100,
    window: int = 5,
    negative: int = 5,
    epochs: int = 5,
    min_count: int = 5,
    max_size: int | None = None,
    sample: float | None = 1e-3,
    ns_exponent: float = 0.75,
    cbow_mean: bool = True,
    shared_negatives: int | None = None,
    workers: int | None = None,
    batch_size: int = 4096,
    alpha: float = 0.025,
    min_alpha: float = 0.0001,
    tokenizer: Tokenizer | None = None,
    lowercase: bool = False,
    shuffle: bool = True,
    seed: int | None = None,
    callbacks: Sequence[keras.callbacks.Callback] | None = None,
    verbose: str | int = "auto",
) -> Word2Vec:
    """Trains word vectors on ``corpus`` in one call.

    The five steps of the longer path, with matching settings: builds the
    `Vocabulary`, creates the `Word2Vec` model, makes the dataset for
    ``epochs`` passes (so gensim's learning-rate decay ends exactly at the
    end), compiles with gensim's decaying SGD and fits with Keras's progress
    bar. Every argument is checked before the corpus is read. Use the five
    steps for anything this does not expose (a custom optimizer, several
    ``fit`` calls, a distribution strategy).

    Args:
        corpus: a path to a UTF-8 text file (one sentence a line; ``.gz``
            and ``.bz2`` too) or a re-iterable of token lists.
        mode: ``"skipgram"`` or ``"cbow"``.
        embedding_dim: size of the word vectors.
        window: maximum half-width of the context window.
        negative: noise words per positive example.
        epochs: passes over the corpus.
        min_count: drop words seen fewer times than this.
        max_size: keep at most this many words (the most frequent).
        sample: subsampling threshold in [0, 1]; ``0``/``None`` disables it.
        ns_exponent: exponent of the noise distribution.
        cbow_mean: average (True) or sum (False) the CBOW context vectors.
        shared_negatives: ``None`` (the mode's default: 8 in skip-gram,
            per example in CBOW), ``1`` (a draw of noise words per example)
            or ``k``, consecutive examples sharing one draw (see
            `Word2Vec`); ``batch_size`` must then be a multiple of ``k``.
        workers: threads of the input pipeline (see `Word2Vec`); ``None``:
            every core the process may use.
        batch_size: examples a step.
        alpha: initial learning rate (gensim's default).
        min_alpha: final learning rate, reached at the end of the last epoch.
        tokenizer: splits each line of a file corpus (default: whitespace);
            see `Vocabulary.build`.
        lowercase: lowercase tokens and looked-up words.
        shuffle: shuffle examples within each chunk (see `make_dataset`).
        seed: seeds the initial vectors and every random draw.
        callbacks: Keras callbacks given to ``fit``.
        verbose: ``fit``'s verbosity: ``"auto"`` (a progress bar), 0, 1 or 2.

    Returns:
        The trained `Word2Vec` model: ``model.wv`` holds the vectors,
        ``model.history`` the loss per epoch, ``model.vocabulary`` the
        vocabulary.

    Example:

    ```python
    from keras_dlm.word2vec import train

    corpus = [["King", "Queen", "royal"], ["cat", "dog", "pet"]] * 100
    model = train(corpus, embedding_dim=8, window=2, min_count=1,
                  lowercase=True, seed=0, verbose=0)
    print(model.wv.most_similar("king", topn=2))
    ```
    """
    mode = check_choice("mode", mode, ("skipgram", "cbow"))
    embedding_dim = check_integer("embedding_dim", embedding_dim)
    window = check_integer("window", window)
    negative = check_integer("negative", negative)
    epochs = check_integer("epochs", epochs)
    min_count = check_integer("min_count", min_count)
    max_size = check_integer("max_size", max_size, allow_none=True)
    sample = check_number("sample", sample, low=0.0, high=1.0, allow_none=True)
    ns_exponent = check_number("ns_exponent", ns_exponent)
    cbow_mean = check_bool("cbow_mean", cbow_mean)
    shared_negatives = check_integer(
        "shared_negatives", shared_negatives, allow_none=True
    )
    batch_size = check_integer("batch_size", batch_size)
    if shared_negatives and batch_size % shared_negatives:
        raise invalid_argument(
            "batch_size",
            batch_size,
            f"a multiple of shared_negatives={shared_negatives}",
        )
    alpha = check_number("alpha", alpha, low=0.0, low_inclusive=False)
    min_alpha = check_number("min_alpha", min_alpha, low=0.0, high=alpha)
    tokenizer = _check_tokenizer(tokenizer)
    lowercase = check_bool("lowercase", lowercase)
    shuffle = check_bool("shuffle", shuffle)
    workers = check_integer("workers", workers, allow_none=True)
    seed = check_integer("seed", seed, minimum=0, allow_none=True)
    if callbacks is not None and (
        isinstance(callbacks, keras.callbacks.Callback)
        or not all(isinstance(item, keras.callbacks.Callback) for item in callbacks)
    ):
        raise invalid_argument(
            "callbacks", callbacks, "None or a list of keras callbacks", error=TypeError
        )
    if verbose != "auto":
        verbose = check_choice("verbose", verbose, (0, 1, 2))
    if _is_path(corpus) and not os.path.isfile(corpus):
        raise FileNotFoundError(
            "Argument `corpus` must be an existing file. Received: "
            f"corpus={os.fspath(corpus)!r}"
        )
    _check_reiterable(corpus)

    vocabulary = Vocabulary.build(
        corpus,
        min_count=min_count,
        max_size=max_size,
        sample=sample,
        tokenizer=tokenizer,
        lowercase=lowercase,
    )
    model = Word2Vec(
        vocabulary,
        embedding_dim=embedding_dim,
        mode=mode,
        window=window,
        negative=negative,
        ns_exponent=ns_exponent,
        cbow_mean=cbow_mean,
        shared_negatives=shared_negatives,
        workers=workers,
        seed=seed,
    )
    # The batch stream splits file lines on whitespace; a custom tokenizer
    # is applied by reading the corpus through the vocabulary instead.
    stream = corpus if tokenizer is None else vocabulary.sentences(corpus)
    dataset = model.make_dataset(
        stream, batch_size=batch_size, epochs=epochs, shuffle=shuffle
    )
    model.compile(alpha=alpha, min_alpha=min_alpha)
    model.fit(dataset, epochs=epochs, callbacks=callbacks, verbose=verbose)
    return model
