"""One exception type for problems the user can fix (bad configs, files, checkpoints).

Entry points turn it into a single line on stderr and a non-zero exit; anything else is a bug
and keeps its traceback.
"""

import sys


class SeqlabError(Exception):
    """A problem in the user's input; the message names it and says how to fix it."""


EXIT_USER_ERROR = 2


def require(ok: bool, key: str, value: object, rule: str) -> None:
    """A range check of one config value, run with the config check before torch loads; the
    dataclass that declares the option calls it from __post_init__."""
    if not ok:
        raise SeqlabError(
            f"config: {key}={value!r} {rule}; fix it in the config or on the command line"
        )


def require_path_part(key: str, value: str | None) -> None:
    """A name that becomes part of a file path (a run dir, a data file) must stay one part, or
    `../` in it would read or write outside data.root and outputs/."""
    if value is not None:
        require(
            value not in ("", ".", "..") and not any(c in value for c in "/\\\0"),
            key,
            value,
            "is used as a file or folder name: it cannot be empty, '.', '..' or hold / or \\",
        )


def exit_with(error: SeqlabError) -> None:
    print(f"seqlab: error: {error}", file=sys.stderr)
    sys.exit(EXIT_USER_ERROR)
