"""Lightning's DDP launcher, made safe for Hydra multiruns.

Lightning relaunches the other ranks of a Hydra app with the parent's whole command line. In a
multirun that includes `-m` and every sweep value, so each child would run a sweep of its own.
Here the children get exactly the job's own overrides and its run dir, and after each job the
process group and the rendezvous variables are cleared so the next job starts clean.
"""

import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

RENDEZVOUS_VARIABLES = ("LOCAL_RANK", "NODE_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


def is_launching_process() -> bool:
    """True in the process the user started, False in ranks that Lightning launched."""
    return os.environ.get("LOCAL_RANK", "0") == "0" and os.environ.get("NODE_RANK", "0") == "0"


def _job_subprocess_command(local_rank: int) -> tuple[Sequence[str], str]:
    from hydra.core.hydra_config import HydraConfig
    from hydra.utils import get_original_cwd

    import __main__

    hydra_cfg = HydraConfig.get()
    if __main__.__spec__ is None:
        command = [sys.executable, os.path.abspath(sys.argv[0])]
    else:
        command = [sys.executable, "-m", __main__.__spec__.name]
    # The job's overrides as Hydra parsed them in this process, so they parse the same in every
    # rank; the values added here are quoted, as a path may hold spaces or non-ASCII letters.
    command += list(hydra_cfg.overrides.task)
    command += [
        f"hydra.run.dir={hydra_quoted(hydra_cfg.runtime.output_dir)}",
        f"hydra.job.name={hydra_quoted(f'{hydra_cfg.job.name}_rank{local_rank}')}",
        "hydra.output_subdir=null",  # only the launching process writes .hydra/
    ]
    return command, get_original_cwd()


def hydra_quoted(text: str) -> str:
    """`text` as a quoted value of a Hydra override, its quotes and backslashes escaped."""
    from hydra.core.override_parser.types import Quote, QuotedString

    return QuotedString(text=text, quote=Quote.single).with_quotes()


@contextmanager
def ddp_job_scope() -> Iterator[None]:
    """Run one Hydra job that may use DDP; leave no process group or rendezvous state behind."""
    from seqlab.training.lightning_private import set_hydra_relaunch_command

    set_hydra_relaunch_command(_job_subprocess_command)
    launched_here = is_launching_process()
    try:
        yield
    finally:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()
        if launched_here:
            for name in RENDEZVOUS_VARIABLES:
                os.environ.pop(name, None)
