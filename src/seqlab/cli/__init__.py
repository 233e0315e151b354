"""Console scripts: each composes its config with Hydra, validates it, and calls one function.

A SeqlabError (a problem in the user's input) becomes one line on stderr and exit status 2;
anything else is a bug and keeps its traceback.
"""

import io
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from seqlab.errors import SeqlabError, exit_with


def plain_where_needed() -> None:
    """A console whose encoding cannot show a character (LANG=C, a non-UTF-8 pipe) prints '?'
    for it: otherwise the first bullet of a progress bar raises UnicodeEncodeError after
    training, before the test and metrics.json."""
    for stream in (sys.stdout, sys.stderr):
        if not isinstance(stream, io.TextIOWrapper):
            continue
        try:  # (a C locale's own handler, surrogateescape, raises on these too)
            "\u2022\u2014\u2026\u2500".encode(stream.encoding or "ascii")
        except (UnicodeEncodeError, LookupError):
            stream.reconfigure(errors="replace")


plain_where_needed()  # every console script imports this package first


@contextmanager
def user_errors() -> Iterator[None]:
    try:
        yield
    except SeqlabError as error:
        exit_with(error)
