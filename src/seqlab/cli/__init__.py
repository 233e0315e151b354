"""Console scripts: each composes its config with Hydra, validates it, and calls one function.

A SeqlabError (a problem in the user's input) becomes one line on stderr and exit status 2;
anything else is a bug and keeps its traceback.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from seqlab.errors import SeqlabError, exit_with


@contextmanager
def user_errors() -> Iterator[None]:
    try:
        yield
    except SeqlabError as error:
        exit_with(error)
