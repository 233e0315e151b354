"""seqlab-dashboard project=<p> [entity=<e>] [group=<g>] [dry_run=true]: the project's W&B
workspace (seqlab.reports.dashboard and .workspace), saved to W&B or written as JSON into the
run dir."""

from pathlib import Path

import hydra
from omegaconf import DictConfig

from seqlab import config_dir
from seqlab.cli import user_errors
from seqlab.config import DashboardConfig, validate


@hydra.main(version_base="1.3", config_path=config_dir(), config_name="dashboard")
def main(cfg: DictConfig) -> None:
    with user_errors():
        config = validate(cfg, DashboardConfig)
        from seqlab.reports.workspace import dashboard

        written = dashboard(config, Path(config.paths.output_dir))
        print(f"{'wrote' if config.dry_run else 'saved'} {written}")


if __name__ == "__main__":
    main()
