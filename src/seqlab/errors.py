"""One exception type for problems the user can fix (bad configs, files, checkpoints).

Entry points turn it into a single line on stderr and a non-zero exit; anything else is a bug
and keeps its traceback.
"""

import sys


class SeqlabError(Exception):
    """A problem in the user's input; the message names it and says how to fix it."""


EXIT_USER_ERROR = 2


def exit_with(error: SeqlabError) -> None:
    print(f"seqlab: error: {error}", file=sys.stderr)
    sys.exit(EXIT_USER_ERROR)
