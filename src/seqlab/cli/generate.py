"""seqlab-generate ckpt_path=<file> n=100: sampled futures from a task=generate checkpoint
(seqlab.training.generate), written to samples.csv in the run dir; of a text checkpoint,
class-conditioned messages (seqlab.training.generate_text): samples.txt and samples.csv."""

import hydra
from omegaconf import DictConfig

from seqlab import config_dir
from seqlab.cli import user_errors
from seqlab.config import GenerateConfig, validate


@hydra.main(version_base="1.3", config_path=config_dir(), config_name="generate")
def main(cfg: DictConfig) -> None:
    with user_errors():
        config = validate(cfg, GenerateConfig)
        from seqlab.training.generate import generate
        from seqlab.training.generate_text import generate_text, generates_text, refuse_judge

        if generates_text(config.ckpt_path):
            print(f"wrote {generate_text(config)}")
            return
        refuse_judge(config)
        print(f"wrote {generate(config)}")


if __name__ == "__main__":
    main()
