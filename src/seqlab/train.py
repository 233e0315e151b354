"""seqlab-train: compose the config with Hydra, validate it, then train and test.

Nothing heavy is imported at module level, so `seqlab-train --cfg job` prints the composed
config without loading torch or lightning.
"""

import hydra
from omegaconf import DictConfig

from seqlab import config_dir
from seqlab.errors import SeqlabError, exit_with
from seqlab.hydra_ddp import is_launching_process
from seqlab.schema import TrainConfig, validate


@hydra.main(version_base="1.3", config_path=config_dir(), config_name="train")
def main(cfg: DictConfig) -> dict[str, float]:
    try:
        config = validate(cfg, TrainConfig)
        if config["print_config"] and is_launching_process():
            from seqlab.console import print_config_tree

            print_config_tree(config)
        from seqlab.hydra_ddp import ddp_job_scope
        from seqlab.pipeline import train

        with ddp_job_scope():
            metrics = train(config)
    except SeqlabError as error:
        exit_with(error)
    # Returned for sweepers: the Optuna sweeper optimises the key its config names.
    return metrics


if __name__ == "__main__":
    main()
