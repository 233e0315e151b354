"""seqlab-baselines: classical models on aggregate features of an event log, scored like the
networks (same splits, metrics, run-dir and W&B conventions, job_type `baseline`)."""

import hydra
from omegaconf import DictConfig

from seqlab import config_dir
from seqlab.errors import SeqlabError, exit_with
from seqlab.schema import BaselinesConfig, validate


@hydra.main(version_base="1.3", config_path=config_dir(), config_name="baselines")
def main(cfg: DictConfig) -> None:
    try:
        config = validate(cfg, BaselinesConfig)
        if config["print_config"]:
            from seqlab.console import print_config_tree

            print_config_tree(config)
        from seqlab.classical import run_baselines

        run_baselines(config)
    except SeqlabError as error:
        exit_with(error)


if __name__ == "__main__":
    main()
