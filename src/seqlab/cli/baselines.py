"""seqlab-baselines: classical models on aggregate features of an event log, scored like the
networks (same splits, metrics, run-dir and W&B conventions, job_type `baseline`)."""

import hydra
from omegaconf import DictConfig

from seqlab import config_dir
from seqlab.cli import user_errors
from seqlab.config import BaselinesConfig, validate


@hydra.main(version_base="1.3", config_path=config_dir(), config_name="baselines")
def main(cfg: DictConfig) -> None:
    with user_errors():
        config = validate(cfg, BaselinesConfig)
        if config.print_config:
            from seqlab.console import print_config_tree
            from seqlab.schema import plain

            print_config_tree(plain(config))
        from seqlab.baselines.classical import run_baselines

        run_baselines(config)


if __name__ == "__main__":
    main()
