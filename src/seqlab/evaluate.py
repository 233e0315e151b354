"""seqlab-eval ckpt_path=<file>: test a trained model, rebuilt from its checkpoint alone."""

import hydra
from omegaconf import DictConfig

from seqlab import config_dir
from seqlab.errors import SeqlabError, exit_with
from seqlab.schema import EvalConfig, validate


@hydra.main(version_base="1.3", config_path=config_dir(), config_name="eval")
def main(cfg: DictConfig) -> None:
    try:
        config = validate(cfg, EvalConfig)
        from seqlab.hydra_ddp import ddp_job_scope
        from seqlab.pipeline import evaluate

        with ddp_job_scope():
            evaluate(config)
    except SeqlabError as error:
        exit_with(error)


if __name__ == "__main__":
    main()
