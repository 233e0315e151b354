"""seqlab-compare data=cdnow seeds=[1,2,3]: baselines and networks on one data config
(seqlab.training.compare)."""

import hydra
from omegaconf import DictConfig

from seqlab import config_dir
from seqlab.cli import user_errors
from seqlab.config import CompareConfig, validate


@hydra.main(version_base="1.3", config_path=config_dir(), config_name="compare")
def main(cfg: DictConfig) -> None:
    with user_errors():
        config = validate(cfg, CompareConfig)
        from seqlab.training.compare import compare

        compare(config)


if __name__ == "__main__":
    main()
