"""seqlab-predict ckpt_path=<file> input=<file or ->: label new data with a trained model, from
the checkpoint alone (seqlab.training.predict)."""

import hydra
from omegaconf import DictConfig

from seqlab import config_dir
from seqlab.cli import user_errors
from seqlab.config import PredictConfig, validate


@hydra.main(version_base="1.3", config_path=config_dir(), config_name="predict")
def main(cfg: DictConfig) -> None:
    with user_errors():
        config = validate(cfg, PredictConfig)
        from seqlab.training.ddp import ddp_job_scope
        from seqlab.training.predict import one_cpu_process, predict

        if one_cpu_process(config.trainer):
            predict(config)  # no process to launch, and no Lightning to import
            return
        with ddp_job_scope():
            predict(config)


if __name__ == "__main__":
    main()
