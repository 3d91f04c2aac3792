"""``keras-dlm word2vec``: train word vectors on a text file, or query them."""

from __future__ import annotations

import argparse
import sys
import time


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
    parser.add_argument("--sample", type=float, default=1e-3, help="subsampling (1e-3)")
    parser.add_argument("--batch-size", type=int, default=4096, help="examples a step")
    parser.add_argument(
        "--shared-negatives",
        type=int,
        default=None,
        help=(
            "consecutive examples sharing one draw of noise words; 0 draws them "
            "per example (default: 8 for skipgram, 0 for cbow, where sharing "
            "lowered quality in our measurements)"
        ),
    )
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--out", help="where to write the vectors (word2vec format)")
    parser.add_argument("--binary", action="store_true", help="binary word2vec format")
    parser.add_argument("--query", metavar="WORD", help="print the neighbours of WORD")
    parser.add_argument("--vectors", help="vectors file to query")
    parser.add_argument("--topn", type=int, default=10, help="neighbours to print (10)")


def _query(args: argparse.Namespace) -> int:
    from keras_dlm.word2vec import WordVectors

    wv = WordVectors.load_word2vec_format(args.vectors, binary=args.binary)
    try:
        neighbours = wv.most_similar(args.query, topn=args.topn)
    except KeyError as error:
        print(f"keras-dlm word2vec: {error.args[0]}", file=sys.stderr)
        return 1
    for word, score in neighbours:
        print(f"{score:.4f}  {word}")
    return 0


def _train(args: argparse.Namespace) -> int:
    from keras_dlm.word2vec import Vocabulary, Word2Vec

    start = time.perf_counter()
    vocabulary = Vocabulary.build(
        args.corpus, min_count=args.min_count, sample=args.sample
    )
    print(
        f"vocabulary: {len(vocabulary)} words, {vocabulary.total_words} tokens"
        + (
            f", {vocabulary.replaced_bytes} undecodable bytes replaced"
            if vocabulary.replaced_bytes
            else ""
        )
    )
    shared = args.shared_negatives
    if shared is None:
        shared = 8 if args.mode == "skipgram" else 0
    shared = shared or None
    batch_size = args.batch_size
    if shared and batch_size % shared:
        batch_size += shared - batch_size % shared
    model = Word2Vec(
        vocabulary,
        embedding_dim=args.dim,
        mode=args.mode,
        window=args.window,
        negative=args.negative,
        shared_negatives=shared,
        seed=args.seed,
    )
    dataset = model.make_dataset(args.corpus, batch_size=batch_size, epochs=args.epochs)
    model.compile()
    model.fit(dataset, epochs=args.epochs, verbose=1 if sys.stdout.isatty() else 2)
    model.wv.save_word2vec_format(args.out, binary=args.binary)
    elapsed = time.perf_counter() - start
    words = vocabulary.total_words * args.epochs
    print(
        f"wrote {args.out}: {words} words in {elapsed:.1f} s, {words / elapsed:,.0f} words/s"
    )
    return 0


def run(args: argparse.Namespace) -> int:
    """Trains vectors (``CORPUS --out``) or queries them (``--query --vectors``)."""
    if args.query is not None:
        if not args.vectors:
            print("keras-dlm word2vec: --query needs --vectors FILE", file=sys.stderr)
            return 2
        return _query(args)
    if not args.corpus or not args.out:
        print(
            "keras-dlm word2vec: give CORPUS and --out FILE to train, or "
            "--query WORD --vectors FILE to query",
            file=sys.stderr,
        )
        return 2
    return _train(args)
