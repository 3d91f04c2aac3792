"""``keras-dlm word2vec``: train word vectors on a text file, or query them."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from keras_dlm._checks import check_integer, check_number, check_path_is_new
from keras_dlm.cli._errors import CommandLineError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds the ``word2vec`` options to ``parser``."""
    parser.add_argument(
        "corpus",
        nargs="?",
        help="UTF-8 text file, one sentence a line, whitespace-separated tokens",
    )
    parser.add_argument("--mode", choices=("skipgram", "cbow"), default="skipgram")
    parser.add_argument("--dim", type=int, default=100, help="vector size (100)")
    parser.add_argument("--window", type=int, default=5, help="max half-window (5)")
    parser.add_argument("--negative", type=int, default=5, help="noise words (5)")
    parser.add_argument("--epochs", type=int, default=5, help="corpus passes (5)")
    parser.add_argument("--min-count", type=int, default=5, help="drop rarer words (5)")
    parser.add_argument(
        "--sample", type=float, default=1e-3, help="subsampling in [0, 1] (1e-3)"
    )
    parser.add_argument("--batch-size", type=int, default=4096, help="examples a step")
    parser.add_argument(
        "--shared-negatives",
        type=int,
        default=None,
        help=(
            "consecutive examples sharing one draw of noise words; 0 or 1 draws "
            "them per example (default: Word2Vec's, 8 for skipgram and per "
            "example for cbow, where sharing lowered quality in our measurements)"
        ),
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help=(
            "threads of the input pipeline that prepares batches while the "
            "step runs (gensim's name; default: every core this process may "
            "use); the TensorFlow backend uses it, JAX and PyTorch ignore it"
        ),
    )
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument(
        "--lowercase",
        action="store_true",
        help="lowercase the corpus before counting and training; with --query, "
        "lowercase the query word",
    )
    parser.add_argument("--out", help="where to write the vectors (word2vec format)")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing --out file (refused otherwise, before training)",
    )
    parser.add_argument("--binary", action="store_true", help="binary word2vec format")
    parser.add_argument("--query", metavar="WORD", help="print the neighbours of WORD")
    parser.add_argument("--vectors", help="vectors file to query")
    parser.add_argument("--topn", type=int, default=10, help="neighbours to print (10)")


def _checked(check: Callable[..., Any], option: str, value: Any, **limits: Any) -> Any:
    """Runs a `keras_dlm._checks` check, as a one-line command-line error."""
    try:
        return check(option, value, **limits)
    except (TypeError, ValueError) as error:
        message = str(error).replace("Argument ", "", 1)
        raise CommandLineError(
            message.replace("overwrite=True", "--overwrite")
        ) from None


def _existing_file(option: str, path: str) -> str:
    if not os.path.isfile(path):
        what = "a folder" if os.path.isdir(path) else "no such file"
        raise CommandLineError(f"{option} {path}: {what}")
    return path


def _query(args: argparse.Namespace) -> int:
    if not args.vectors:
        raise CommandLineError("--query needs --vectors FILE")
    if args.corpus or args.out:
        raise CommandLineError(
            "--query reads --vectors; it does not take CORPUS or --out (train "
            "first, then query)"
        )
    _existing_file("--vectors", args.vectors)
    _checked(check_integer, "--topn", args.topn)

    from keras_dlm.word2vec import WordVectors

    try:
        wv = WordVectors.load_word2vec_format(args.vectors, binary=args.binary)
    except ValueError as error:
        raise CommandLineError(str(error)) from None
    if args.lowercase:
        wv = WordVectors(wv.index_to_key, wv.vectors, lowercase=True)
    try:
        neighbours = wv.most_similar(args.query, topn=args.topn)
    except KeyError as error:
        print(f"keras-dlm word2vec: {error.args[0]}", file=sys.stderr)
        return 1
    for word, score in neighbours:
        print(f"{score:.4f}  {word}")
    return 0


def _check_training_options(args: argparse.Namespace) -> int | None:
    """Checks every training option and the output; returns shared negatives."""
    if not args.corpus or not args.out:
        raise CommandLineError(
            "give CORPUS and --out FILE to train, or --query WORD --vectors FILE "
            "to query"
        )
    if args.vectors:
        raise CommandLineError("--vectors is for --query; to train, give --out")
    _existing_file("corpus", args.corpus)
    for option, value in (
        ("--dim", args.dim),
        ("--window", args.window),
        ("--negative", args.negative),
        ("--epochs", args.epochs),
        ("--min-count", args.min_count),
        ("--batch-size", args.batch_size),
    ):
        _checked(check_integer, option, value)
    _checked(check_number, "--sample", args.sample, low=0.0, high=1.0)
    _checked(check_integer, "--seed", args.seed, minimum=0, allow_none=True)
    _checked(check_integer, "--workers", args.workers, allow_none=True)
    shared = args.shared_negatives
    _checked(check_integer, "--shared-negatives", shared, minimum=0, allow_none=True)
    _checked(check_path_is_new, "--out", args.out, overwrite=args.overwrite)
    folder = os.path.dirname(os.path.abspath(args.out))
    if not os.access(folder, os.W_OK):
        raise CommandLineError(f"--out {args.out}: the folder {folder} is not writable")
    # None leaves the choice to Word2Vec; 0 and 1 both mean per example.
    return None if shared is None else max(shared, 1)


def _train(args: argparse.Namespace) -> int:
    shared = _check_training_options(args)

    from keras_dlm.word2vec import Vocabulary, Word2Vec

    start = time.perf_counter()
    try:
        vocabulary = Vocabulary.build(
            args.corpus,
            min_count=args.min_count,
            sample=args.sample,
            lowercase=args.lowercase,
        )
    except ValueError as error:  # no word reached --min-count
        raise CommandLineError(str(error).replace("min_count", "--min-count")) from None
    print(
        f"vocabulary: {len(vocabulary)} words, {vocabulary.total_words} tokens"
        + (
            f", {vocabulary.replaced_bytes} undecodable bytes replaced"
            if vocabulary.replaced_bytes
            else ""
        )
    )
    model = Word2Vec(
        vocabulary,
        embedding_dim=args.dim,
        mode=args.mode,
        window=args.window,
        negative=args.negative,
        shared_negatives=shared,
        workers=args.workers,
        seed=args.seed,
    )
    # Runs of examples sharing negatives must not straddle batches.
    batch_size = args.batch_size
    if batch_size % model.shared_negatives:
        batch_size += model.shared_negatives - batch_size % model.shared_negatives
    dataset = model.make_dataset(args.corpus, batch_size=batch_size, epochs=args.epochs)
    model.compile()
    model.fit(dataset, epochs=args.epochs, verbose=1 if sys.stdout.isatty() else 2)
    model.wv.save_word2vec_format(
        args.out, binary=args.binary, overwrite=args.overwrite
    )
    elapsed = time.perf_counter() - start
    words = vocabulary.total_words * args.epochs
    print(
        f"wrote {args.out}: {words} words in {elapsed:.1f} s, {words / elapsed:,.0f} words/s"
    )
    return 0


def run(args: argparse.Namespace) -> int:
    """Trains vectors (``CORPUS --out``) or queries them (``--query --vectors``).

    Every option, the corpus and the output file are checked before the
    corpus is read; a mistake is a `CommandLineError` (one line, exit 2).
    """
    if args.query is not None:
        return _query(args)
    return _train(args)
