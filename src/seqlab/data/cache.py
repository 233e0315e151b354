"""Where cached data lives (a text kind's tokeniser and token ids, as Arrow files).

`auto` is the user's cache folder, $XDG_CACHE_HOME/seqlab (else ~/.cache/seqlab), found on the
machine that runs: a checkpoint stores the word `auto`, never a folder of the machine or the
working directory it was trained in. A cache that cannot be written is skipped with a warning:
it only saves time.
"""

import logging
import os
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

AUTO = "auto"


def cache_folder(setting: str | None) -> Path | None:
    """The folder `data.cache_dir` names (None: no cache, or one that cannot be written)."""
    if setting is None:
        return None
    if setting == AUTO:
        base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        folder = Path(base) / "seqlab"
    else:
        folder = Path(setting).expanduser()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        log.warning(
            "data.cache_dir: %s cannot be written (%s); going on without a cache",
            folder,
            error.strerror or error,
        )
        return None
    return folder
