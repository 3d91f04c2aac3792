"""Skip-gram word vectors on a small offline Wikipedia dump, trained with fit.

The dump (about 450k tokens) ships with gensim's test data, so nothing is
downloaded; gensim is used only to read the dump (``pip install
"keras-dlm[bench,plot]"``). The script trains keras_dlm's Word2Vec, prints
neighbours and a few analogies, and with ``--plot PATH`` saves a 2-D PCA
projection of some word groups.

    KERAS_BACKEND=jax python examples/word2vec_wiki.py --epochs 5 --plot w2v.png
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np

from keras_dlm.word2vec import Vocabulary, Word2Vec

GROUPS = {
    "numbers": ["one", "two", "three", "four", "five", "six"],
    "months": ["january", "february", "march", "april", "june", "july"],
    "countries": ["france", "germany", "italy", "spain", "england", "china"],
    "family": ["father", "mother", "son", "daughter", "brother", "wife"],
}
ANALOGIES = [
    ("france", "paris", "germany"),
    ("man", "king", "woman"),
    ("two", "second", "three"),
]


def wiki_corpus_file() -> str:
    """Writes the dump's articles as one tokenized article per line (cached)."""
    from gensim.corpora import WikiCorpus
    from gensim.test.utils import datapath

    path = os.path.join(tempfile.gettempdir(), "keras_dlm_wiki_tokens.txt")
    if not os.path.exists(path):
        dump = datapath(
            "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
        )
        wiki = WikiCorpus(dump, dictionary={}, processes=1)
        with open(path + ".part", "w", encoding="utf-8") as handle:
            for tokens in wiki.get_texts():
                handle.write(" ".join(tokens) + "\n")
        os.replace(path + ".part", path)
    return path


def plot_groups(wv, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    words = [w for group in GROUPS.values() for w in group if w in wv]
    vectors = np.stack([wv.normed_vectors[wv.get_index(w)] for w in words])
    centred = vectors - vectors.mean(axis=0)
    _, _, components = np.linalg.svd(centred, full_matrices=False)
    points = centred @ components[:2].T
    figure, axes = plt.subplots(figsize=(6, 4.5), dpi=100)
    for name, group in GROUPS.items():
        rows = [words.index(w) for w in group if w in words]
        axes.scatter(points[rows, 0], points[rows, 1], label=name)
        for row in rows:
            axes.annotate(
                words[row],
                points[row],
                fontsize=8,
                xytext=(3, 3),
                textcoords="offset points",
            )
    axes.set_title("Skip-gram vectors, first two principal components")
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path)
    print("saved", path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--mode", choices=("skipgram", "cbow"), default="skipgram")
    parser.add_argument("--plot", help="save a 2-D projection of word groups here")
    args = parser.parse_args()

    path = wiki_corpus_file()
    start = time.perf_counter()
    vocab = Vocabulary.build(path, min_count=5)
    print(vocab)
    model = Word2Vec(
        vocab, mode=args.mode, window=5, negative=5, shared_negatives=8, seed=0
    )
    dataset = model.make_dataset(path, batch_size=4096, epochs=args.epochs)
    model.compile()
    model.fit(dataset, epochs=args.epochs, verbose=2)
    elapsed = time.perf_counter() - start
    print(f"{vocab.total_words * args.epochs / elapsed:,.0f} words/s")

    wv = model.wv
    for word in ("france", "war", "music"):
        if word in wv:
            print(word, "->", ", ".join(w for w, _ in wv.most_similar(word, topn=6)))
    for a, b, c in ANALOGIES:
        if all(w in wv for w in (a, b, c)):
            guesses = [
                w for w, _ in wv.most_similar(positive=[b, c], negative=[a], topn=3)
            ]
            print(f"{a} : {b} :: {c} : {', '.join(guesses)}")
    if args.plot:
        plot_groups(wv, args.plot)


if __name__ == "__main__":
    main()
