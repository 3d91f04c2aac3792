"""The ``keras-dlm`` command line: one module per subcommand."""

from keras_dlm.cli._main import build_parser, main

__all__ = ["build_parser", "main"]
