"""The command that relaunches DDP ranks parses back to the same run dir (issue 13, item 12)."""

import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser

from seqlab.training.ddp import hydra_quoted


@pytest.mark.parametrize(
    "path", ["/tmp/run dir", "/tmp/grüße/ü", "/tmp/it's", "/tmp/a,b=c", "C:\\runs\\", "/tmp/[x]"]
)
def test_a_quoted_run_dir_parses_back_to_itself(path):
    override = OverridesParser.create().parse_override(f"hydra.run.dir={hydra_quoted(path)}")
    assert override.value() == path
