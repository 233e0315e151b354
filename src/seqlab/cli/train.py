"""seqlab-train: compose the config with Hydra, validate it, then train and test.

Nothing heavy is imported at module level, so `seqlab-train --cfg job` prints the composed
config without loading torch or lightning.
"""

import json
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from seqlab import config_dir
from seqlab.cli import user_errors
from seqlab.config import TrainConfig, validate
from seqlab.layout import METRICS_FILE
from seqlab.schema import plain
from seqlab.training.ddp import is_launching_process
from seqlab.training.run_state import RunState, config_digest, job_state


@hydra.main(version_base="1.3", config_path=config_dir(), config_name="train")
def main(cfg: DictConfig) -> dict[str, float]:
    with user_errors():
        config = validate(cfg, TrainConfig)
        if _in_multirun():
            finished = _continue_job(config)
            if finished is not None:
                return finished
        if config.print_config and is_launching_process():
            from seqlab.console import print_config_tree

            print_config_tree(plain(config))
        from seqlab.training.ddp import ddp_job_scope
        from seqlab.training.pipeline import train

        with ddp_job_scope():
            metrics = train(config)
    # Returned for sweepers: the Optuna sweeper optimises the key its config names.
    return metrics


def _in_multirun() -> bool:
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def _continue_job(config: TrainConfig) -> dict[str, float] | None:
    """A multirun started again with its own command: a finished job is skipped (its metrics
    returned for the sweeper), a stopped one resumed, a new one run."""
    job_dir = Path(config.paths.output_dir)
    state = job_state(job_dir, config_digest(config))
    if state is RunState.FINISHED:
        print(f"{job_dir}: finished earlier; skipped")
        return json.loads((job_dir / METRICS_FILE).read_text())
    if state is RunState.STOPPED and config.resume is None:
        config.resume = str(job_dir)
    return None


if __name__ == "__main__":
    main()
