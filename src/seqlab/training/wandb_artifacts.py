"""What a W&B run keeps besides metrics: the model as an artifact (the best checkpoint, and
last.ckpt with log_model=all) carrying its test metrics and config, and the code that made it
(src/ and conf/). Offline runs stage the files, so `wandb sync` uploads them later."""

import shutil
import tempfile
from pathlib import Path
from typing import Any

import seqlab
from seqlab.config import WandbConfig
from seqlab.errors import SeqlabError

LOG_MODEL_CHOICES = ("best", "all", "false")
CODE_SUFFIXES = {".py", ".yaml", ".yml", ".toml", ".json"}


def log_model_mode(wandb_cfg: WandbConfig) -> str:
    """The option as one of LOG_MODEL_CHOICES (the command line turns `false` into a bool)."""
    mode = str(wandb_cfg.log_model).lower()
    if mode not in LOG_MODEL_CHOICES:
        raise SeqlabError(
            f"config: logger.wandb.log_model={wandb_cfg.log_model!r}; use one of "
            f"{', '.join(LOG_MODEL_CHOICES)}"
        )
    return mode


def log_model(
    wandb_cfg: WandbConfig,
    best: str | None,
    last: str | None,
    metrics: dict[str, float],
    config: dict[str, Any],
) -> None:
    """Versions of one `model-<run id>` artifact: best (alias best), and with `all` last.ckpt
    after it (alias last); W&B gives the newest version `latest` itself. Only the process that
    holds the W&B run logs."""
    import wandb

    mode = log_model_mode(wandb_cfg)
    if wandb.run is None or mode == "false":
        return
    wanted = [("best", best or last)] + ([("last", last)] if mode == "all" else [])
    entries = [(alias, path) for alias, path in wanted if path is not None]
    for alias, path in entries:
        artifact = wandb.Artifact(
            f"model-{wandb.run.id}",
            type="model",
            metadata={"checkpoint": Path(path).name, "metrics": metrics, "config": config},
        )
        artifact.add_file(str(path), name="model.ckpt")
        wandb.run.log_artifact(artifact, aliases=[alias])


def log_code() -> None:
    """The package's source (src/, when seqlab runs from a checkout) and the configs it read,
    from the process that holds the W&B run.

    W&B's log_code walks every file under its root; the project root holds .venv and outputs,
    so the two folders are copied to a small temporary root first (W&B stages its own copies
    before the block ends)."""
    import wandb

    run = wandb.run
    if run is None:
        return
    package = Path(seqlab.__file__).parent
    source = package.parent if package.parent.name == "src" else package
    folders = {"src" if source.name == "src" else "src/seqlab": source}
    folders["conf"] = Path(seqlab.config_dir())
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "local")
    with tempfile.TemporaryDirectory() as root:
        for name, folder in folders.items():
            shutil.copytree(folder, Path(root) / name, ignore=ignore)
        run.log_code(root=root, include_fn=lambda path, root: Path(path).suffix in CODE_SUFFIXES)
