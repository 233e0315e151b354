"""seqlab-eval ckpt_path=<file>: test a trained model, rebuilt from its checkpoint alone."""

import hydra
from omegaconf import DictConfig

from seqlab import config_dir
from seqlab.cli import user_errors
from seqlab.config import EvalConfig, validate


@hydra.main(version_base="1.3", config_path=config_dir(), config_name="eval")
def main(cfg: DictConfig) -> None:
    with user_errors():
        config = validate(cfg, EvalConfig)
        from seqlab.training.ddp import ddp_job_scope
        from seqlab.training.pipeline import evaluate

        with ddp_job_scope():
            evaluate(config)


if __name__ == "__main__":
    main()
