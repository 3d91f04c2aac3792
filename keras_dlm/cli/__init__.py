"""The ``keras-dlm`` command line: one module per subcommand."""

from keras_dlm.cli._errors import CommandLineError
from keras_dlm.cli._main import build_parser, main

__all__ = ["CommandLineError", "build_parser", "main"]
