"""keras_dlm Word2Vec against gensim and fastText: speed, cores, quality.

Usage::

    python benchmarks/word2vec.py [--quick] [--corpus head500|lee|wiki]
        [--epochs 5 20] [--modes skipgram cbow]
        [--backends tensorflow jax torch] [--repeats N]
        [--scaling-cores 1 2] [--anchors gensim fasttext] [--tf-examples]

For each mode and epoch count it trains gensim (``workers`` = the cores
given), fastText (``train_unsupervised`` with subword n-grams off,
``minn=0, maxn=0``: plain word2vec; ``thread`` = the cores given) and
keras_dlm with its defaults (no batch size, shared negatives or thread
count passed) on the same corpus file with the same settings (dim 100,
window 5, negative 5, sample 1e-3, min_count 5, learning rate 0.025), each
run in its own process pinned with ``taskset`` to the cores given (all of
the machine's by default). Runs are interleaved (gensim, fastText,
keras_dlm, then the next repeat) so that the machine's load hits them
alike; each figure is the median over ``--repeats``. It reports words/s
(corpus tokens x epochs / wall time, vocabulary building included), wall
time, CPU cores actually used (CPU time / wall time), peak RSS, WordSim353
and SimLex-999 Spearman and analogy accuracy (questions-words.txt, first
30,000 words), all three tools scored by gensim's evaluators. A core-scaling
table follows: skip-gram at the first epoch count with each of
``--scaling-cores`` cores given, for every tool. Corpora (all offline, from
gensim's test data): ``head500`` (default, ``head500.noblanks.cor``, 331k
tokens, read as is), ``lee`` (``lee_background.cor``, 58k tokens once
tokenized by gensim's ``simple_preprocess`` as gensim's own Lee tests do;
the table adds the rank of "bombings" among the neighbours of "attacks",
which gensim's test wants below 50) and ``wiki`` (the shortened enwiki dump
through ``gensim.corpora.WikiCorpus``, 453k tokens). ``lee`` and ``wiki``
are tokenized once into a temporary one-sentence-per-line file that every
tool reads. PyTorch runs with ``torch.set_num_threads(--torch-threads)``
(default 1). A last table times one training step at a 10k and a 1M-word
synthetic vocabulary (the sparse-update check). Needs the ``bench`` extra
(gensim, fasttext). Writes ``benchmarks/results/word2vec.json``, with the
load average before and after.
"""

from __future__ import annotations

import argparse
import json
import math
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
SETTINGS = {
    "dim": 100,
    "window": 5,
    "negative": 5,
    "sample": 1e-3,
    "min_count": 5,
    "alpha": 0.025,
}
CORPORA = ("head500", "lee", "wiki")
ANCHORS = ("gensim", "fasttext")
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
    start, cpu = time.perf_counter(), _cpu_s()
    model = GensimWord2Vec(
        LineSentence(path),
        vector_size=SETTINGS["dim"],
        window=SETTINGS["window"],
        negative=SETTINGS["negative"],
        sample=SETTINGS["sample"],
        min_count=SETTINGS["min_count"],
        sg=1 if job["mode"] == "skipgram" else 0,
        epochs=job["epochs"],
        workers=job["cores"],
        seed=job["seed"],
    )
    return {
        **_timing(job, start, cpu),
        **_quality(model.wv, job["corpus"]),
    }


def _worker_fasttext(job: dict) -> dict:
    import fasttext
    import numpy as np
    from gensim.models import KeyedVectors

    start, cpu = time.perf_counter(), _cpu_s()
    model = fasttext.train_unsupervised(
        job["path"],
        model=job["mode"],
        dim=SETTINGS["dim"],
        ws=SETTINGS["window"],
        neg=SETTINGS["negative"],
        t=SETTINGS["sample"],
        minCount=SETTINGS["min_count"],
        lr=SETTINGS["alpha"],
        epoch=job["epochs"],
        minn=0,
        maxn=0,
        thread=job["cores"],
        verbose=0,
    )
    timing = _timing(job, start, cpu)
    words = [word for word in model.words if word != "</s>"]
    wv = KeyedVectors(SETTINGS["dim"])
    wv.add_vectors(words, np.stack([model.get_word_vector(w) for w in words]))
    return {**timing, **_quality(wv, job["corpus"])}


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _timing(job: dict, start: float, cpu: float) -> dict:
    wall = time.perf_counter() - start
    return {
        "wall_s": wall,
        "words_per_s": job["tokens"] * job["epochs"] / wall,
        "cores_used": (_cpu_s() - cpu) / wall,
        "peak_rss_mib": _peak_rss_mib(),
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

    if job.get("tf_examples"):
        # The examples generated by TensorFlow ops (off by default: it cost
        # more CPU a word than the NumPy stream when last measured).
        from keras_dlm._backend import word2vec_input

        word2vec_input._GENERATE_IN_TENSORFLOW = True
    path = job["path"]
    start, cpu = time.perf_counter(), _cpu_s()
    vocab = Vocabulary.build(
        path, min_count=SETTINGS["min_count"], sample=SETTINGS["sample"]
    )
    overrides = {}
    if job.get("shared") is not None:
        overrides["shared_negatives"] = job["shared"]
    model = Word2Vec(
        vocab,
        embedding_dim=SETTINGS["dim"],
        mode=job["mode"],
        window=SETTINGS["window"],
        negative=SETTINGS["negative"],
        seed=job["seed"],
        **overrides,
    )
    sizes = {"batch_size": job["batch_size"]} if job.get("batch_size") else {}
    dataset = model.make_dataset(path, epochs=job["epochs"], **sizes)
    model.compile(alpha=SETTINGS["alpha"])
    model.fit(dataset, epochs=job["epochs"], verbose=0)
    return {
        **_timing(dict(job, tokens=vocab.total_words), start, cpu),
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
        shared_negatives=job["shared"] or 1,
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
    command = [sys.executable, __file__, "--worker", json.dumps(job)]
    if job.get("cores"):
        # Pinned to the first `cores` CPUs this process may use.
        allowed = sorted(os.sched_getaffinity(0))[: job["cores"]]
        command = ["taskset", "-c", ",".join(map(str, allowed)), *command]
    completed = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if completed.returncode != 0:
        # One failed run (fastText sometimes stops with "Encountered NaN") is
        # recorded and reported; it does not discard the rest of the
        # invocation.
        lines = completed.stderr.strip().splitlines() or ["no error output"]
        print(f"  run failed: {job['kind']} {job}: {lines[-1]}", file=sys.stderr)
        return {"error": lines[-1]}
    return json.loads(completed.stdout.strip().splitlines()[-1])


def _medians(runs: list[dict]) -> dict:
    """Medians (and ranges) over the runs that did not fail.

    ``failed_runs`` and ``errors`` say which failed; with every run failed
    the result has no figures and the tables print "failed".
    """
    done = [run for run in runs if "error" not in run]
    result: dict = {
        "repeats": len(done),
        "failed_runs": len(runs) - len(done),
        "errors": [run["error"] for run in runs if "error" in run],
    }
    if not done:
        return result
    keys = [key for key, value in done[0].items() if isinstance(value, float | int)]
    result.update({key: statistics.median(run[key] for run in done) for key in keys})
    result["ranges"] = {
        key: [min(run[key] for run in done), max(run[key] for run in done)]
        for key in keys
    }
    return result


def _failed_note(result: dict) -> str:
    """What a table row adds when some or all of its runs failed."""
    if not result["failed_runs"]:
        return ""
    runs = result["failed_runs"] + result["repeats"]
    return f"  ({result['failed_runs']} of {runs} runs failed: {result['errors'][0]})"


def _interleaved(jobs: list[tuple[dict, str | None]], repeats: int) -> list[dict]:
    """Runs every job once per repeat, in turn, and returns their medians."""
    runs: list[list[dict]] = [[] for _ in jobs]
    for repeat in range(repeats):
        for index, (job, backend) in enumerate(jobs):
            runs[index].append(_run(dict(job, seed=job["seed"] + repeat), backend))
    return [_medians(job_runs) for job_runs in runs]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="5 epochs, TensorFlow only, no scaling or sparse tables",
    )
    parser.add_argument("--corpus", choices=CORPORA, default="head500")
    parser.add_argument("--epochs", type=int, nargs="+", default=[5, 20])
    parser.add_argument(
        "--modes",
        nargs="*",
        default=["skipgram", "cbow"],
        help="modes of the main table (none: only the scaling table)",
    )
    parser.add_argument("--backends", nargs="+", default=["tensorflow", "jax", "torch"])
    parser.add_argument("--anchors", nargs="+", choices=ANCHORS, default=list(ANCHORS))
    parser.add_argument(
        "--cores",
        type=int,
        default=len(os.sched_getaffinity(0)),
        help="cores given to every run of the main table (default: all)",
    )
    parser.add_argument(
        "--scaling-cores",
        type=int,
        nargs="*",
        default=[1, 2],
        help="core counts of the scaling table (none: skip it)",
    )
    parser.add_argument(
        "--shared",
        type=int,
        default=None,
        help="keras_dlm shared_negatives (default: the library's default)",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="keras_dlm batch size (default: the library's default)",
    )
    parser.add_argument(
        "--tf-examples",
        action="store_true",
        help="also run keras_dlm TensorFlow with its examples generated by "
        "TensorFlow ops in tf.data (a row 'keras_dlm tf-examples')",
    )
    parser.add_argument("--torch-threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-sparse", action="store_true")
    parser.add_argument("--json", default=str(_HERE / "results" / "word2vec.json"))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        job = json.loads(args.worker)
        worker = {
            "gensim": _worker_gensim,
            "fasttext": _worker_fasttext,
            "keras": _worker_keras,
            "sparse": _worker_sparse,
        }
        print(json.dumps(worker[job["kind"]](job)))
        return 0
    if args.quick:
        args.epochs, args.backends = [5], ["tensorflow"]
        args.scaling_cores, args.skip_sparse = [], True

    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as directory:
        path = _prepare_corpus(args.corpus, directory)
        with open(path, encoding="utf-8") as handle:
            tokens = sum(len(line.split()) for line in handle)
        rows = _quality_runs(args, path, tokens)
        scaling = _scaling_runs(args, path, tokens)
    sparse_rows = [] if args.skip_sparse else _sparse_runs(args)

    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    with open(args.json, "w", encoding="utf-8") as handle:
        json.dump(
            {
                "date": time.strftime("%Y-%m-%d %H:%M"),
                "machine": platform.platform(),
                "cpus": os.cpu_count(),
                "corpus": args.corpus,
                "corpus_tokens": tokens,
                "settings": SETTINGS,
                "cores": args.cores,
                "torch_threads": args.torch_threads,
                "load_average_before": load_before,
                "load_average_after": os.getloadavg(),
                "runs": rows,
                "scaling": scaling,
                "sparse_steps": sparse_rows,
            },
            handle,
            indent=2,
        )
    print(f"load average before {load_before}, after {os.getloadavg()}")
    return 0


def _jobs(
    args: argparse.Namespace, base: dict, cores: int
) -> list[tuple[str, dict, str | None]]:
    """(label, job, backend) of every tool for one mode, epoch count and core count."""
    base = dict(base, cores=cores)
    jobs = []
    for anchor in args.anchors:
        label = "gensim workers" if anchor == "gensim" else "fastText thread"
        jobs.append((f"{label}={cores}", dict(base, kind=anchor), None))
    for backend in args.backends:
        job = dict(
            base,
            kind="keras",
            shared=args.shared,
            batch_size=args.batch_size,
            torch_threads=args.torch_threads,
        )
        jobs.append((f"keras_dlm {backend}", job, backend))
    if args.tf_examples and "tensorflow" in args.backends:
        job = dict(base, kind="keras", shared=args.shared, batch_size=args.batch_size)
        jobs.append(
            ("keras_dlm tf-examples", dict(job, tf_examples=True), "tensorflow")
        )
    return jobs


def _quality_runs(args: argparse.Namespace, path: str, tokens: int) -> list[dict]:
    rows = []
    lee = args.corpus == "lee"
    header = (
        f"{'mode':9} {'ep':>3} {'who':22} {'words/s':>9} {'ratio':>6} {'wall s':>7} "
        f"{'cores':>5} {'RSS MiB':>8} {'WS353':>6} {'SimLex':>6} {'analogy':>7}"
    )
    print(
        f"corpus: {args.corpus} ({tokens} tokens), {args.cores} cores given; "
        "ratio to the first anchor\n" + header + (f" {'bombings':>8}" if lee else "")
    )
    for mode in args.modes:
        for epochs in args.epochs:
            base = {
                "mode": mode,
                "epochs": epochs,
                "seed": 1,
                "corpus": args.corpus,
                "path": path,
                "tokens": tokens,
            }
            jobs = _jobs(args, base, args.cores)
            results = _interleaved([(job, b) for _, job, b in jobs], args.repeats)
            reference = results[0].get("words_per_s", math.nan)
            for (label, _, _), result in zip(jobs, results, strict=True):
                row = {
                    "corpus": args.corpus,
                    "mode": mode,
                    "epochs": epochs,
                    "cores": args.cores,
                    "who": label,
                }
                if not result["repeats"]:
                    print(
                        f"{mode:9} {epochs:3d} {label:22} failed{_failed_note(result)}"
                    )
                    rows.append({**row, **result})
                    continue
                ratio = result["words_per_s"] / reference
                print(
                    f"{mode:9} {epochs:3d} {label:22} {result['words_per_s']:9,.0f} "
                    f"{ratio:6.2f} {result['wall_s']:7.1f} {result['cores_used']:5.2f} "
                    f"{result['peak_rss_mib']:8.0f} {result['ws353']:6.3f} "
                    f"{result['simlex']:6.3f} {result['analogy']:7.3f}"
                    + (f" {result['bombings_rank']:8.0f}" if lee else "")
                    + _failed_note(result),
                    flush=True,
                )
                rows.append({**row, "ratio_to_first_anchor": ratio, **result})
    return rows


def _scaling_runs(args: argparse.Namespace, path: str, tokens: int) -> list[dict]:
    """Skip-gram at the first epoch count with each number of cores given."""
    if not args.scaling_cores:
        return []
    base = {
        "mode": "skipgram",
        "epochs": args.epochs[0],
        "seed": 1,
        "corpus": args.corpus,
        "path": path,
        "tokens": tokens,
    }
    print(
        f"\ncore scaling: skip-gram, {args.epochs[0]} epochs, "
        f"runs interleaved, medians of {args.repeats}"
    )
    print(
        f"{'who':22} {'cores given':>11} {'words/s':>9} {'cores used':>10} {'x first':>8}"
    )
    jobs = [
        (cores, label.split("=")[0].split(" ")[0], job, backend)
        for cores in args.scaling_cores
        for label, job, backend in _jobs(args, base, cores)
    ]
    results = _interleaved([(job, b) for _, _, job, b in jobs], args.repeats)
    rows = []
    single = {}
    for (cores, who, job, backend), result in zip(jobs, results, strict=True):
        name = who if job["kind"] != "keras" else f"keras_dlm {backend}"
        if job.get("tf_examples"):
            name = "keras_dlm tf-examples"
        rows.append({"who": name, "cores": cores, **result})
        # Relative to the same tool at the first core count (none if that failed).
        first = single.setdefault(name, result.get("words_per_s", math.nan))
        if not result["repeats"]:
            print(f"{name:22} {cores:11d} failed{_failed_note(result)}", flush=True)
            continue
        print(
            f"{name:22} {cores:11d} {result['words_per_s']:9,.0f} "
            f"{result['cores_used']:10.2f} {result['words_per_s'] / first:8.2f}"
            + _failed_note(result),
            flush=True,
        )
    return rows


def _sparse_runs(args: argparse.Namespace) -> list[dict]:
    sparse_rows = []
    print(f"\n{'backend':11} {'negatives':10} {'10k ms':>8} {'1M ms':>8} {'1M/10k':>7}")
    for backend in args.backends:
        for shared in [args.shared] if args.shared else [0, 8]:
            job = {
                "kind": "sparse",
                "shared": shared or None,
                "torch_threads": args.torch_threads,
            }
            small = _run(dict(job, vocab_size=10_000), backend)
            large = _run(dict(job, vocab_size=1_000_000), backend)
            if "error" in small or "error" in large:
                print(f"{backend:11} failed: {(small.get('error') or large['error'])}")
                continue
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
