"""Finding what to resume, and from which checkpoint.

`ckpt_path=last` or `resume=auto`: a run dir that already holds checkpoints/last.ckpt is the run
to continue (an explicit `hydra.run.dir` names it); a fresh run dir continues the newest
unfinished run beside it (one without metrics.json) in that run's own dir and W&B run.
`resume=<run dir>` continues that run, finished or not. `ckpt_path=<file>` restores a checkpoint
into this new run. In a run dir, the newest checkpoint that loads is the one resumed; the others
are named with the reason they were skipped.
"""

from collections.abc import Mapping
from dataclasses import MISSING, dataclass, fields
from pathlib import Path
from typing import Any

import torch

from seqlab.errors import SeqlabError
from seqlab.layout import CHECKPOINT_DIR, LAST_CHECKPOINT, METRICS_FILE
from seqlab.models.modules import read_checkpoint


@dataclass(frozen=True)
class ResumePoint:
    run_dir: Path  # where the resumed run keeps writing
    ckpt_path: str | None  # what Trainer.fit restores
    wandb_id: str | None  # the W&B run to continue
    continued: bool = False  # True: an earlier run of seqlab-train goes on
    skipped: tuple[str, ...] = ()  # "<file>: <why>" for each newer checkpoint that did not load


def resume_point(run_dir: Path, ckpt_path: str | None, resume: str | None) -> ResumePoint:
    if resume is None and ckpt_path != "last":
        # read_checkpoint: one line for a missing, foreign or unreadable file
        if ckpt_path is not None and weights_only(read_checkpoint(ckpt_path)):
            last = Path(ckpt_path).with_name(LAST_CHECKPOINT.name)
            raise SeqlabError(
                f"{ckpt_path}: a best checkpoint (weights only, no optimizer or loop state) "
                f"cannot continue training; pass ckpt_path={last} (the run's "
                f"{LAST_CHECKPOINT.name}) or resume=<run dir>"
            )
        return ResumePoint(run_dir, ckpt_path, None)  # a fresh run, or a run's state from a file
    if resume not in (None, "auto"):
        previous = Path(resume).expanduser()
        if not _has_checkpoints(previous):
            raise SeqlabError(
                f"resume={resume}: no checkpoints/*.ckpt in that folder; pass a run "
                "dir of seqlab-train or resume=auto"
            )
    elif _has_checkpoints(run_dir):
        previous = run_dir
    else:
        found = _newest_unfinished_sibling(run_dir)
        if found is None and resume == "auto":
            return ResumePoint(run_dir, None, None)  # nothing to continue: start this run
        if found is None:
            raise SeqlabError(
                f"nothing to resume: no unfinished run under {run_dir.parent} has "
                f"{LAST_CHECKPOINT}; start a fresh run (drop ckpt_path=last), or pass "
                "resume=<run dir> to continue a finished one"
            )
        previous = found
    checkpoint, skipped = newest_loadable_checkpoint(previous)
    return ResumePoint(previous, str(checkpoint), _wandb_id(previous), True, skipped)


def check_fits(ckpt_path: str, hparams: Mapping[str, Any]) -> None:
    """The checkpoint restored into this run holds this run's model and data; Lightning would
    otherwise stop with a traceback on the first tensor of another shape, or not at all."""
    stored = read_checkpoint(ckpt_path)["hyper_parameters"]
    for section, other, fix in (
        ("model", "another model", "model settings"),
        ("meta", "another dataset", "data"),
    ):
        theirs, ours = stored[section], hparams[section]
        if section == "model":
            theirs, ours = _model_options(theirs), _model_options(ours)
        differing = sorted(k for k in theirs.keys() | ours.keys() if theirs.get(k) != ours.get(k))
        if differing:
            key = differing[0]
            raise SeqlabError(
                f"{ckpt_path}: a checkpoint of {other} ({section}.{key} is "
                f"{_short(theirs.get(key))} there, {_short(ours.get(key))} here); train with "
                f"the {fix} it was written with, or drop ckpt_path/resume"
            )


def _model_options(model: Mapping[str, Any]) -> dict[str, Any]:
    """A model section with every option of its kind: a checkpoint written before an option
    existed holds no value for it, and the option's default is the behaviour it was trained
    with (a new option never changes what an existing config does)."""
    from seqlab.models.registry import MODEL_KINDS

    kind = MODEL_KINDS.get(model.get("kind", ""))
    if kind is None:
        return dict(model)
    defaults = {
        option.name: option.default
        for option in fields(kind.config)
        if option.default is not MISSING
    }
    return {**defaults, **model}


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


def _has_checkpoints(run_dir: Path) -> bool:
    return any((run_dir / CHECKPOINT_DIR).glob("*.ckpt"))


def _newest_unfinished_sibling(run_dir: Path) -> Path | None:
    candidates = [
        p.parent.parent
        for p in run_dir.parent.glob(f"*/{LAST_CHECKPOINT}")
        if p.parent.parent != run_dir and not (p.parent.parent / METRICS_FILE).exists()
    ]
    if not candidates:
        return None
    return max(candidates, key=lambda p: (p / LAST_CHECKPOINT).stat().st_mtime)


def newest_loadable_checkpoint(run_dir: Path) -> tuple[Path, tuple[str, ...]]:
    """The newest checkpoint of `run_dir` that loads, and why each newer one was skipped."""
    # Lightning's SLURM auto-requeue writes hpc_ckpt_<n>.ckpt into the run dir itself.
    files = [*(run_dir / CHECKPOINT_DIR).glob("*.ckpt"), *run_dir.glob("hpc_ckpt_*.ckpt")]
    # last.ckpt first among files written in the same instant: it follows every epoch.
    files.sort(key=lambda p: (p.stat().st_mtime_ns, p.name == "last.ckpt"), reverse=True)
    skipped: list[str] = []
    for path in files:
        problem = _why_not_loadable(path)
        if problem is None:
            return path, tuple(skipped)
        skipped.append(f"{path}: {problem}")
    raise SeqlabError(
        f"{run_dir}: no checkpoint in it loads ({'; '.join(skipped)}); start a fresh run "
        "(drop resume/ckpt_path=last)"
    )


def _why_not_loadable(path: Path) -> str | None:
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for a truncated or foreign file
        reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
        return f"does not load ({type(error).__name__}{': ' + reason if reason else ''})"
    if isinstance(checkpoint, dict) and weights_only(checkpoint):
        return f"a best checkpoint (weights only), not a resume point; {LAST_CHECKPOINT.name} is"
    if not isinstance(checkpoint, dict) or not {"state_dict", "loops"} <= set(checkpoint):
        return "not a training checkpoint of seqlab-train (no state_dict and loops)"
    return None


def weights_only(checkpoint: Mapping[str, Any]) -> bool:
    """A best checkpoint (callbacks/checkpoint.py): weights for testing, evaluation,
    prediction and export, without the loop and optimizer state that training continues from."""
    return "state_dict" in checkpoint and "loops" not in checkpoint


def _wandb_id(run_dir: Path) -> str | None:
    """W&B names a run's folder `[offline-]run-<timestamp>-<id>`."""
    folders = sorted((run_dir / "wandb").glob("*run-*-*"))
    return folders[-1].name.rsplit("-", 1)[-1] if folders else None
