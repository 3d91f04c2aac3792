"""The one exception a ``keras-dlm`` subcommand raises for a user's mistake."""

from __future__ import annotations


class CommandLineError(Exception):
    """A user error on the command line: a bad option, file or folder.

    ``keras-dlm`` prints it as one line on stderr,
    ``keras-dlm <command>: error: <message>``, and exits with status 2 (as
    argparse does for a malformed option), without a traceback. Raise it
    before any training starts. Bugs stay ordinary exceptions with tracebacks.
    """
