"""seqlab-export ckpt_path=<file> format=onnx|torchscript|ckpt (seqlab.training.export)."""

import hydra
from omegaconf import DictConfig

from seqlab import config_dir
from seqlab.cli import user_errors
from seqlab.config import ExportConfig, validate


@hydra.main(version_base="1.3", config_path=config_dir(), config_name="export")
def main(cfg: DictConfig) -> None:
    with user_errors():
        config = validate(cfg, ExportConfig)
        from seqlab.training.export import export

        for path in export(config):
            print(f"wrote {path}")


if __name__ == "__main__":
    main()
