"""seqlab-train: compose the config with Hydra, validate it, then train and test.

Nothing heavy is imported at module level, so `seqlab-train --cfg job` prints the composed
config without loading torch or lightning.
"""

import hydra
from omegaconf import DictConfig

from seqlab import config_dir
from seqlab.cli import user_errors
from seqlab.config import TrainConfig, validate
from seqlab.training.ddp import is_launching_process


@hydra.main(version_base="1.3", config_path=config_dir(), config_name="train")
def main(cfg: DictConfig) -> dict[str, float]:
    with user_errors():
        config = validate(cfg, TrainConfig)
        if config["print_config"] and is_launching_process():
            from seqlab.console import print_config_tree

            print_config_tree(config)
        from seqlab.training.ddp import ddp_job_scope
        from seqlab.training.pipeline import train

        with ddp_job_scope():
            metrics = train(config)
    # Returned for sweepers: the Optuna sweeper optimises the key its config names.
    return metrics


if __name__ == "__main__":
    main()
