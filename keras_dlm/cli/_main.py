"""Entry point of the ``keras-dlm`` command."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import re
import sys
import tempfile
from collections.abc import Iterator, Sequence
from typing import NoReturn

from keras_dlm._version import __version__
from keras_dlm.cli._errors import CommandLineError

# Each subcommand lives in its own module, which defines ``add_arguments`` and
# ``run``; the module is imported only when that subcommand is used, so that
# ``keras-dlm --help`` stays fast and needs no optional extra.
_SUBCOMMANDS = {
    "info": (
        "keras_dlm.cli.info",
        "print the Keras backend, library versions and devices",
    ),
    "lr-find": ("keras_dlm.cli.lr_find", "learning-rate range test on the digits CNN"),
    "tune": ("keras_dlm.cli.tune", "hyperparameter search with keras-tuner"),
    "word2vec": ("keras_dlm.cli.word2vec", "train or query word2vec vectors"),
    "transfer": (
        "keras_dlm.cli.transfer",
        "train an image classifier on a TF-Hub backbone",
    ),
}


# What TensorFlow (and the CUDA libraries it probes) print on stderr while it
# starts on a machine without a GPU: absl's C++ logging writes these before
# TF_CPP_MIN_LOG_LEVEL is read, so the variable alone does not silence them.
_STARTUP_NOISE = re.compile(
    r"All log messages before absl::InitializeLog\(\) is called"
    r"|cudart_stub\.cc:\d+\] Could not find cuda drivers"
    r"|failed call to cuInit"
    r"|cpu_feature_guard\.cc:\d+\]"
    # Printed at INFO level on CPUs where TensorFlow turns oneDNN on.
    r"|port\.cc:\d+\] oneDNN custom operations are on"
    r"|^To enable the following instructions: .*rebuild TensorFlow"
    r"|Unable to register cu(DNN|FFT|BLAS) factory"
)


@contextlib.contextmanager
def _stderr_without(noise: re.Pattern[str]) -> Iterator[None]:
    """Holds back what is written to stderr, then prints it less `noise` lines.

    Works on file descriptor 2, which C++ libraries write to directly (they
    never see `sys.stderr`).
    """
    if sys.stderr is not None:
        sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no descriptor 2 (a detached process): nothing to filter
        yield
        return
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            if sys.stderr is not None:
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            text = held.read().decode("utf-8", errors="replace")
            kept = [
                line
                for line in text.splitlines(keepends=True)
                if not noise.search(line)
            ]
            if kept:
                os.write(2, "".join(kept).encode("utf-8"))


def _start_backend_quietly() -> None:
    """Imports Keras and lists the devices, without TensorFlow's start-up logs.

    A user who set TF_CPP_MIN_LOG_LEVEL keeps their choice and sees whatever
    TensorFlow prints at that level; otherwise the level is 2 (errors only) and
    the start-up lines printed regardless of the level are dropped.
    """
    if "TF_CPP_MIN_LOG_LEVEL" in os.environ:
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    with _stderr_without(_STARTUP_NOISE):
        from keras_dlm import _backend

        # Devices are probed (CUDA included) on first use: do it here.
        _backend.list_devices()


class _OneLineErrorParser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line on stderr, status 2.

    argparse prints the whole usage block before its error; a malformed
    option is then reported like every other user error of ``keras-dlm``
    (``keras-dlm <command>: error: ...``), with a pointer to ``--help``.
    Subparsers inherit the class.
    """

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    """Builds the ``keras-dlm`` argument parser with every subcommand."""
    parser = _OneLineErrorParser(
        prog="keras-dlm",
        description=(
            "Keras 3 components for ten deep-learning methods. The Keras backend "
            "is chosen by the KERAS_BACKEND environment variable."
        ),
    )
    parser.add_argument(
        "--version", action="version", version=f"keras-dlm {__version__}"
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        help="show a traceback for user errors too (they are one line otherwise)",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in _SUBCOMMANDS.items():
        subparser = subparsers.add_parser(name, help=help_text, description=help_text)
        subparser.set_defaults(_module=module_name)
        importlib.import_module(module_name).add_arguments(subparser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs ``keras-dlm`` with ``argv`` (default: ``sys.argv[1:]``).

    Returns:
        The process exit status.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    # TensorFlow's C++ start-up banners and CUDA probes are noise on the
    # command line; a user who set TF_CPP_MIN_LOG_LEVEL keeps their choice.
    _start_backend_quietly()
    module = importlib.import_module(args._module)
    try:
        return int(module.run(args) or 0)
    except CommandLineError as error:
        if args.debug:
            raise
        print(f"keras-dlm {args.command}: error: {error}", file=sys.stderr)
        return 2
