"""Finding what to resume: `ckpt_path=last` or `resume=auto` continue the newest earlier run in
the same output folder, in its own run dir, and with its W&B run id."""

from dataclasses import dataclass
from pathlib import Path

from seqlab.errors import SeqlabError
from seqlab.layout import LAST_CHECKPOINT


@dataclass(frozen=True)
class ResumePoint:
    run_dir: Path  # where the resumed run keeps writing
    ckpt_path: str | None  # what Trainer.fit restores
    wandb_id: str | None  # the W&B run to continue


def resume_point(run_dir: Path, ckpt_path: str | None, resume: str | None) -> ResumePoint:
    if resume is None and ckpt_path != "last":
        return ResumePoint(run_dir, ckpt_path, None)  # a fresh run, or weights from a file
    if resume not in (None, "auto"):
        previous = Path(resume).expanduser()
        if not (previous / LAST_CHECKPOINT).is_file():
            raise SeqlabError(
                f"resume={resume}: no {LAST_CHECKPOINT} in that folder; pass a run "
                "dir of seqlab-train or resume=auto"
            )
    else:
        previous = _newest_resumable(run_dir)
    return ResumePoint(previous, str(previous / LAST_CHECKPOINT), _wandb_id(previous))


def _newest_resumable(run_dir: Path) -> Path:
    runs = run_dir.parent
    candidates = [
        p.parent.parent for p in runs.glob(f"*/{LAST_CHECKPOINT}") if p.parent.parent != run_dir
    ]
    if not candidates:
        raise SeqlabError(
            f"nothing to resume: no run under {runs} has {LAST_CHECKPOINT}; "
            "start a fresh run (drop resume/ckpt_path=last)"
        )
    return max(candidates, key=lambda p: (p / LAST_CHECKPOINT).stat().st_mtime)


def _wandb_id(run_dir: Path) -> str | None:
    """W&B names a run's folder `[offline-]run-<timestamp>-<id>`."""
    folders = sorted((run_dir / "wandb").glob("*run-*-*"))
    return folders[-1].name.rsplit("-", 1)[-1] if folders else None
