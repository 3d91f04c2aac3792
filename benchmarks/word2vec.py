"""keras_dlm Word2Vec against gensim: throughput, quality, and sparse steps.

Usage::

    python benchmarks/word2vec.py [--quick] [--corpus head500|lee|wiki]
        [--epochs 5 20] [--modes skipgram cbow]
        [--backends tensorflow jax torch] [--repeats N]

For each mode and epoch count it trains gensim (workers=2) and keras_dlm on
the same corpus with the same settings (dim 100, window 5, negative 5,
sample 1e-3, min_count 5), each run in its own process, and reports words/s
(corpus tokens x epochs / wall time, vocabulary building included), wall
time, peak RSS, WordSim353 and SimLex-999 Spearman, and analogy accuracy
(questions-words.txt, first 30,000 words); the JSON adds each quality
figure's range over the repeats and the WordSim353 / SimLex OOV ratios.
Corpora (all offline, from gensim's test data): ``head500`` (default,
``head500.noblanks.cor``, 331k tokens, read as is), ``lee``
(``lee_background.cor``, 58k tokens once tokenized by gensim's
``simple_preprocess`` as gensim's own Lee tests do; the table adds the rank
of "bombings" among the neighbours of "attacks", which gensim's test wants
below 50) and ``wiki`` (the shortened enwiki dump through
``gensim.corpora.WikiCorpus``, 453k tokens). ``lee`` and ``wiki`` are
tokenized once into a temporary one-sentence-per-line file that both gensim
(``LineSentence``) and keras_dlm read, so both see the same tokens.
keras_dlm runs skip-gram with negatives shared by runs of 8 consecutive
examples and CBOW with per-example negatives (the settings the
docs recommend; ``--shared`` runs other choices). PyTorch runs with
``torch.set_num_threads(--torch-threads)`` (default 1: on this 2-core machine
shared with other work, two OpenMP threads made a step 10x slower). A last table times one
training step at a 10k and a 1M-word synthetic vocabulary (the sparse-update
check). Needs the ``bench`` extra (gensim). Writes
``benchmarks/results/word2vec.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_HERE = Path(__file__).resolve().parent
SETTINGS = {"dim": 100, "window": 5, "negative": 5, "sample": 1e-3, "min_count": 5}
CORPORA = ("head500", "lee", "wiki")
_WIKI_DUMP = "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
# gensim's LineSentence splits longer lines and its training truncates
# longer sentences (MAX_WORDS_IN_BATCH); the prepared files are split at
# this length so that both libraries train on exactly the same sentences.
_MAX_SENTENCE = 10000


def _write_sentences(sentences, path: str) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for tokens in sentences:
            for start in range(0, len(tokens), _MAX_SENTENCE):
                chunk = tokens[start : start + _MAX_SENTENCE]
                if chunk:
                    handle.write(" ".join(chunk) + "\n")


def _prepare_corpus(name: str, directory: str) -> str:
    """The path of a one-sentence-per-line text file holding corpus ``name``."""
    from gensim.test.utils import datapath

    if name == "head500":
        return datapath("head500.noblanks.cor")
    path = os.path.join(directory, f"{name}.txt")
    if name == "lee":
        from gensim.utils import simple_preprocess

        with open(datapath("lee_background.cor"), encoding="utf-8") as handle:
            _write_sentences((simple_preprocess(line) for line in handle), path)
    else:
        from gensim.corpora import WikiCorpus

        wiki = WikiCorpus(datapath(_WIKI_DUMP), dictionary={}, processes=1)
        _write_sentences(wiki.get_texts(), path)
    return path


def _quality(wv, corpus: str) -> dict[str, float]:
    from gensim.test.utils import datapath

    result = {}
    for name, file in (("ws353", "wordsim353.tsv"), ("simlex", "simlex999.txt")):
        outcome = wv.evaluate_word_pairs(datapath(file))
        spearman = outcome[1][0] if isinstance(outcome[1], tuple) else outcome.spearman
        result[name] = float(spearman)
        result[name + "_oov"] = float(outcome[2])
    score, _ = wv.evaluate_word_analogies(
        datapath("questions-words.txt"), restrict_vocab=30000
    )
    result["analogy"] = float(score)
    if corpus == "lee":
        # gensim's own Lee-corpus sanity test: "bombings" must rank below 50
        # among the neighbours of "attacks".
        ranked = wv.most_similar("attacks", topn=len(wv.index_to_key))
        neighbours = [word for word, _ in ranked]
        result["bombings_rank"] = neighbours.index("bombings")
    return result


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _worker_gensim(job: dict) -> dict:
    from gensim.models import Word2Vec as GensimWord2Vec
    from gensim.models.word2vec import LineSentence

    path = job["path"]
    start = time.perf_counter()
    model = GensimWord2Vec(
        LineSentence(path),
        vector_size=SETTINGS["dim"],
        window=SETTINGS["window"],
        negative=SETTINGS["negative"],
        sample=SETTINGS["sample"],
        min_count=SETTINGS["min_count"],
        sg=1 if job["mode"] == "skipgram" else 0,
        epochs=job["epochs"],
        workers=2,
        seed=job["seed"],
    )
    wall = time.perf_counter() - start
    tokens = model.corpus_total_words
    return {
        "wall_s": wall,
        "words_per_s": tokens * job["epochs"] / wall,
        "peak_rss_mib": _peak_rss_mib(),
        **_quality(model.wv, job["corpus"]),
    }


def _set_torch_threads(job: dict) -> None:
    import keras

    if keras.backend.backend() == "torch":
        import torch

        torch.set_num_threads(job.get("torch_threads", 1))


def _worker_keras(job: dict) -> dict:
    import keras

    _set_torch_threads(job)
    from keras_dlm.word2vec import Vocabulary, Word2Vec

    path = job["path"]
    start = time.perf_counter()
    vocab = Vocabulary.build(
        path, min_count=SETTINGS["min_count"], sample=SETTINGS["sample"]
    )
    model = Word2Vec(
        vocab,
        embedding_dim=SETTINGS["dim"],
        mode=job["mode"],
        window=SETTINGS["window"],
        negative=SETTINGS["negative"],
        shared_negatives=job["shared"],
        seed=job["seed"],
    )
    dataset = model.make_dataset(
        path, batch_size=job["batch_size"], epochs=job["epochs"]
    )
    if job.get("baseline"):
        # The previous TensorFlow path: no XLA, batches fed one by one
        # through Keras's PyDataset adapter (tf.data.from_generator).
        model.compile(jit_compile=False)
        keras.Model.fit(model, dataset, epochs=job["epochs"], verbose=0)
    else:
        model.compile()
        model.fit(dataset, epochs=job["epochs"], verbose=0)
    wall = time.perf_counter() - start
    return {
        "wall_s": wall,
        "words_per_s": vocab.total_words * job["epochs"] / wall,
        "peak_rss_mib": _peak_rss_mib(),
        "backend": keras.backend.backend(),
        **_quality(model.wv, job["corpus"]),
    }


def _worker_sparse(job: dict) -> dict:
    import keras
    import numpy as np

    from keras_dlm.word2vec import Vocabulary, Word2Vec

    _set_torch_threads(job)
    size = job["vocab_size"]
    counts = np.maximum(5, (1e7 / np.arange(1, size + 1)).astype(np.int64))
    vocab = Vocabulary([f"w{i}" for i in range(size)], counts, sample=None)
    model = Word2Vec(
        vocab,
        embedding_dim=100,
        window=5,
        negative=5,
        shared_negatives=job["shared"],
        seed=0,
    )
    rng = np.random.default_rng(0)
    batch_size = 4096
    noise = vocab.noise_distribution()
    shape = (batch_size // job["shared"], 5) if job["shared"] else (batch_size, 5)
    batches = [
        {
            "inputs": rng.choice(size, batch_size, p=noise).astype("int32"),
            "targets": rng.choice(size, batch_size, p=noise).astype("int32"),
            "negatives": rng.choice(size, shape, p=noise).astype("int32"),
            "progress": np.zeros(batch_size, "float32"),
        }
        for _ in range(8)
    ]

    class Fixed(keras.utils.PyDataset):
        def __init__(self, steps):
            super().__init__()
            self.steps = steps

        def __len__(self):
            return self.steps

        def __getitem__(self, index):
            return (batches[index % len(batches)],)

    model.compile()
    model.fit(Fixed(10), epochs=1, verbose=0)  # compile / warm up
    times = []
    for _ in range(5):
        start = time.perf_counter()
        model.fit(Fixed(40), epochs=1, verbose=0)
        times.append((time.perf_counter() - start) / 40)
    return {
        "step_ms": 1000 * statistics.median(times),
        "backend": keras.backend.backend(),
    }


def _run(job: dict, backend: str | None = None) -> dict:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    if backend:
        env["KERAS_BACKEND"] = backend
    completed = subprocess.run(
        [sys.executable, __file__, "--worker", json.dumps(job)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"job {job} failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def _median_runs(job: dict, repeats: int, backend: str | None = None) -> dict:
    runs = [_run(dict(job, seed=job["seed"] + r), backend) for r in range(repeats)]
    keys = [key for key, value in runs[0].items() if isinstance(value, float | int)]
    result = {key: statistics.median(run[key] for run in runs) for key in keys}
    result["repeats"] = repeats
    result["ranges"] = {
        key: [min(run[key] for run in runs), max(run[key] for run in runs)]
        for key in keys
    }
    return result


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="5 epochs, TensorFlow only"
    )
    parser.add_argument("--corpus", choices=CORPORA, default="head500")
    parser.add_argument("--epochs", type=int, nargs="+", default=[5, 20])
    parser.add_argument("--modes", nargs="+", default=["skipgram", "cbow"])
    parser.add_argument("--backends", nargs="+", default=["tensorflow", "jax", "torch"])
    parser.add_argument(
        "--shared",
        type=int,
        nargs="+",
        default=None,
        help="shared_negatives values to run (0: per example); default: 8 for "
        "skip-gram, 0 for CBOW",
    )
    parser.add_argument("--torch-threads", type=int, default=1)
    parser.add_argument(
        "--tf-baseline",
        action="store_true",
        help="also run TensorFlow without XLA and with the PyDataset feed",
    )
    parser.add_argument("--batch-size", type=int, default=4096)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--skip-sparse", action="store_true")
    parser.add_argument("--json", default=str(_HERE / "results" / "word2vec.json"))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        job = json.loads(args.worker)
        worker = {
            "gensim": _worker_gensim,
            "keras": _worker_keras,
            "sparse": _worker_sparse,
        }
        print(json.dumps(worker[job["kind"]](job)))
        return 0
    if args.quick:
        args.epochs, args.backends = [5], ["tensorflow"]

    with tempfile.TemporaryDirectory() as directory:
        path = _prepare_corpus(args.corpus, directory)
        rows = _quality_runs(args, path)
    sparse_rows = [] if args.skip_sparse else _sparse_runs(args)

    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    with open(args.json, "w", encoding="utf-8") as handle:
        json.dump(
            {
                "date": time.strftime("%Y-%m-%d"),
                "machine": platform.platform(),
                "cpus": os.cpu_count(),
                "corpus": args.corpus,
                "settings": SETTINGS,
                "batch_size": args.batch_size,
                "torch_threads": args.torch_threads,
                "load_average": os.getloadavg(),
                "runs": rows,
                "sparse_steps": sparse_rows,
            },
            handle,
            indent=2,
        )
    return 0


def _quality_runs(args: argparse.Namespace, path: str) -> list[dict]:
    rows = []
    lee = args.corpus == "lee"
    header = f"{'mode':9} {'ep':>3} {'who':29} {'words/s':>9} {'ratio':>6} {'wall s':>7} {'RSS MiB':>8} {'WS353':>6} {'SimLex':>6} {'analogy':>7}"
    print(f"corpus: {args.corpus}\n" + header + (f" {'bombings':>8}" if lee else ""))
    for mode in args.modes:
        for epochs in args.epochs:
            base = {
                "mode": mode,
                "epochs": epochs,
                "seed": 1,
                "corpus": args.corpus,
                "path": path,
            }
            gensim = _median_runs(dict(base, kind="gensim"), args.repeats)
            entries = [("gensim workers=2", gensim)]
            shared_values = args.shared or ([8] if mode == "skipgram" else [0])
            for backend in args.backends:
                for shared in shared_values:
                    job = dict(
                        base,
                        kind="keras",
                        shared=shared or None,
                        batch_size=args.batch_size,
                        torch_threads=args.torch_threads,
                    )
                    label = f"keras_dlm {backend} " + (
                        f"shared{shared}" if shared else "per-ex"
                    )
                    entries.append((label, _median_runs(job, args.repeats, backend)))
                    if backend == "tensorflow" and args.tf_baseline:
                        entries.append(
                            (
                                label + " base",
                                _median_runs(
                                    dict(job, baseline=True), args.repeats, backend
                                ),
                            )
                        )
            for label, result in entries:
                ratio = result["words_per_s"] / gensim["words_per_s"]
                print(
                    f"{mode:9} {epochs:3d} {label:29} {result['words_per_s']:9,.0f} {ratio:6.2f} "
                    f"{result['wall_s']:7.1f} {result['peak_rss_mib']:8.0f} {result['ws353']:6.3f} "
                    f"{result['simlex']:6.3f} {result['analogy']:7.3f}"
                    + (f" {result['bombings_rank']:8.0f}" if lee else ""),
                    flush=True,
                )
                rows.append(
                    {
                        "corpus": args.corpus,
                        "mode": mode,
                        "epochs": epochs,
                        "who": label,
                        "ratio_to_gensim": ratio,
                        **result,
                    }
                )
    return rows


def _sparse_runs(args: argparse.Namespace) -> list[dict]:
    sparse_rows = []
    print(f"\n{'backend':11} {'negatives':10} {'10k ms':>8} {'1M ms':>8} {'1M/10k':>7}")
    for backend in args.backends:
        for shared in args.shared or [0, 8]:
            job = {
                "kind": "sparse",
                "shared": shared or None,
                "torch_threads": args.torch_threads,
            }
            small = _run(dict(job, vocab_size=10_000), backend)
            large = _run(dict(job, vocab_size=1_000_000), backend)
            ratio = large["step_ms"] / small["step_ms"]
            label = f"shared{shared}" if shared else "per-ex"
            print(
                f"{backend:11} {label:10} {small['step_ms']:8.1f} {large['step_ms']:8.1f} {ratio:7.2f}",
                flush=True,
            )
            sparse_rows.append(
                {
                    "backend": backend,
                    "negatives": label,
                    "step_ms_10k": small["step_ms"],
                    "step_ms_1m": large["step_ms"],
                    "ratio": ratio,
                }
            )
    return sparse_rows


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
