"""Vanishing and exploding gradients, seen in the run itself.

Every `every_n_steps` optimizer steps this logs (as `grad_norm/...` through every Lightning
logger, so CSV and W&B both get them):
- the gradient norm of each parameter group: input-to-hidden (`ih_l{k}[_reverse]`) and
  hidden-to-hidden (`hh_l{k}[_reverse]`) weights with their biases, `embeddings`, `head`, and the
  global norm before (`global`) and after (`global_clipped`) Lightning's gradient clipping;
- ||dL/dh_t|| for every layer and direction (`dh_l{k}[_reverse]`): the norm of the total BPTT
  gradient w.r.t. each hidden state, averaged over the real (unpadded) sequences of the batch,
  and `dh_first_over_last_*`: its value at the step a direction reads first over the step it reads
  last (well below 1: vanishing; above 1: exploding). docs/gradients.md explains the maths.
At the end of training W&B gets the curve over t of the latest logged step and the logged curves
together (as charts), and the run dir gets gradients/gradients.json and PNG plots.

Every step it also compares the global norm with the median of the last `median_window` steps
and warns when it jumps by more than `jump_factor` and above `min_norm` (an exploding step): at
most once per epoch and once per `every_n_steps` steps (short epochs), with the norm left after
Lightning's clipping, because with clipping on such steps are routine and one line per step
buried every other message.
"""

import json
import logging
import statistics
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.loggers import WandbLogger

from seqlab.config import MIN_MEDIAN_WINDOW, GradientsConfig
from seqlab.files import write_text_atomic
from seqlab.models.pooling import time_mask
from seqlab.models.unrolled import RecordsHiddenStates
from seqlab.training.gradient_norms import GLOBAL, global_norm, group_norms

if TYPE_CHECKING:
    from seqlab.models.classifier import SequenceClassifier

log = logging.getLogger(__name__)
PREFIX = "grad_norm/"
CLIPPED = "global_clipped"  # the global norm after Lightning's gradient clipping
RATIO = "dh_first_over_last_"  # + layer and direction: ||dL/dh_t|| first-read over last-read
RESULTS_FILE = "gradients.json"
_MIN_HISTORY = MIN_MEDIAN_WINDOW  # norms needed before a jump is judged against their median


def hidden_gradient_curves(
    states: dict[str, list[torch.Tensor]], lengths: torch.Tensor
) -> tuple[dict[str, list[float]], dict[str, float]]:
    """Mean over the batch of ||dL/dh_t|| per step t (padded steps excluded), per layer and
    direction, and the ratio first-read step / last-read step averaged over sequences."""
    curves, ratios = {}, {}
    for name, hs in states.items():
        grads = torch.stack([_grad_or_zero(h) for h in hs], dim=1)  # (batch, time, hidden)
        norms = grads.norm(dim=-1)
        real = time_mask(lengths, norms.shape[1]).to(norms.dtype)
        counts = real.sum(dim=0)
        curve = (norms * real).sum(dim=0) / counts.clamp(min=1)
        # Steps no sequence in this batch reaches have no value (NaN, a gap in the plot).
        curves[name] = curve.masked_fill(counts == 0, float("nan")).tolist()
        rows = torch.arange(len(lengths))
        first_step, last_step = torch.zeros_like(lengths), lengths - 1
        if name.endswith("_reverse"):  # the reverse direction reads t = T-1 first
            first_step, last_step = last_step, first_step
        first = norms[rows, first_step].mean()
        last = norms[rows, last_step].mean()
        ratios[name] = float(first / last) if last > 0 else float("nan")
    return curves, ratios


def _grad_or_zero(h: torch.Tensor) -> torch.Tensor:
    return h.grad.detach() if h.grad is not None else torch.zeros_like(h)


class GradientDiagnostics(Callback):
    @classmethod
    def from_config(cls, config: GradientsConfig, run_dir: Path) -> "GradientDiagnostics":
        return cls(
            run_dir,
            every_n_steps=config.every_n_steps,
            hidden_states=config.hidden_states,
            jump_factor=config.jump_factor,
            median_window=config.median_window,
            plots=config.plots,
            min_norm=config.min_norm,
        )

    def __init__(
        self,
        run_dir: Path,
        every_n_steps: int,
        hidden_states: bool,
        jump_factor: float,
        median_window: int,
        plots: bool,
        min_norm: float = 1.0,
    ):
        # (the values' ranges: GradientsConfig in seqlab/config.py)
        self.run_dir = Path(run_dir)
        self.every_n_steps, self.hidden_states = every_n_steps, hidden_states
        self.jump_factor, self.plots = jump_factor, plots
        self.min_norm = min_norm
        self.recent: deque[float] = deque(maxlen=median_window)
        self.encoder: RecordsHiddenStates | None = None
        self.due = False
        self.lengths: torch.Tensor | None = None
        self.jump: tuple[int, float, float] | None = None  # this step's (step, norm, median)
        self.reported: tuple[int, int] | None = None  # (epoch, step) of the last reported jump
        self.history: dict[str, Any] = {"steps": [], "norms": [], "hidden": [], "ratios": []}

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        encoder = getattr(pl_module, "encoder", None)
        if isinstance(encoder, RecordsHiddenStates):  # a recurrent encoder or branch
            self.encoder = encoder
        elif stage == "fit":
            log.warning(
                "gradient diagnostics need a recurrent model; %s has no recurrent layer, so "
                "they are skipped (set callbacks.gradients.enabled=false to silence this)",
                type(encoder).__name__,
            )

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        if self.encoder is None:
            return
        self.due = trainer.global_step % self.every_n_steps == 0
        if self.due and self.hidden_states:
            self.encoder.request_hidden_states()
            self.lengths = batch.lengths

    def on_before_optimizer_step(
        self, trainer: L.Trainer, pl_module: L.LightningModule, optimizer: Any
    ) -> None:
        """Runs after backward and before Lightning clips the gradients."""
        if self.encoder is None:
            return
        if not self.due:
            norm = cast("SequenceClassifier", pl_module).measured_grad_norm()
            self.check_jump(trainer.global_step, global_norm(pl_module) if norm is None else norm)
            return
        norms = group_norms(pl_module)
        self.check_jump(trainer.global_step, norms[GLOBAL])
        self.pending: dict[str, dict[str, Any]] = {"norms": norms, "hidden": {}, "ratios": {}}
        states = self.encoder.take_hidden_states()
        if states:
            assert self.lengths is not None  # kept with the request for the hidden states
            # one state per recurrent step (a chunk of model.chunk steps; lstm_fcn's shuffle:
            # a channel)
            steps = self.encoder.step_lengths(self.lengths)
            curves, ratios = hidden_gradient_curves(states, steps)
            self.pending.update(hidden=curves, ratios=ratios)

    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        """The optimizer has stepped; the gradients it used (clipped, if asked) are still there."""
        if self.encoder is None:
            return
        if self.jump is not None:
            self._report_jump(trainer, pl_module, *self.jump)
            self.jump = None
        if not self.due:
            return
        self.due = False
        step = trainer.global_step - 1  # Lightning has already counted this optimizer step
        pending = self.pending
        pending["norms"][CLIPPED] = global_norm(pl_module)
        self.history["steps"].append(step)
        for key in ("norms", "hidden", "ratios"):
            self.history[key].append(pending[key])
        scalars = {f"{PREFIX}{name}": value for name, value in pending["norms"].items()}
        scalars.update({f"{PREFIX}{RATIO}{name}": r for name, r in pending["ratios"].items()})
        for logger in trainer.loggers:
            logger.log_metrics(scalars, step=step)

    def check_jump(self, step: int, norm: float) -> bool:
        """Whether `norm` exceeds jump_factor times the median of the recent global norms and
        min_norm (once a model has converged its median is tiny, and a hard batch lifting the
        norm from 0.03 to 0.7 is no explosion); a jump is kept for the report at batch end."""
        jumped = False
        if len(self.recent) >= _MIN_HISTORY:
            median = statistics.median(self.recent)
            if median > 0 and norm > max(self.jump_factor * median, self.min_norm):
                jumped = True
                self.jump = (step, norm, median)
        self.recent.append(norm)
        return jumped

    def _report_jump(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        step: int,
        norm: float,
        median: float,
    ) -> None:
        """The first exploding step of an epoch, with the norm the optimizer actually used."""
        if self.reported is not None:
            epoch, last = self.reported
            if epoch == trainer.current_epoch or step - last < self.every_n_steps:
                return
        self.reported = (trainer.current_epoch, step)
        clip = getattr(trainer, "gradient_clip_val", None)
        if clip:
            outcome = (
                f"clipped to norm {global_norm(pl_module):.4g} (trainer.gradient_clip_val={clip})"
            )
        else:
            outcome = "not clipped: set trainer.gradient_clip_val=1.0 or lower optim.lr"
        log.warning(
            "epoch %d, step %d: the global gradient norm %.4g is %.1fx its running median %.4g "
            "(an exploding step), %s; further ones this epoch or in the next %d steps are not "
            "reported",
            trainer.current_epoch,
            step,
            norm,
            norm / median,
            median,
            outcome,
            self.every_n_steps,
        )

    def _log_wandb_curves(self, trainer: L.Trainer) -> None:
        """The curve of the latest logged step and its evolution, as W&B charts. Logged once,
        at the end of training: building W&B tables at every logged step cost about 10% of a
        short run's time."""
        wandb_loggers = [lg for lg in trainer.loggers if isinstance(lg, WandbLogger)]
        if not wandb_loggers:
            return
        import wandb

        charts = {}
        steps, curves = self.history["steps"], self.history["hidden"]
        shown = _evenly_spaced(len(steps), 12)
        for name, latest in curves[-1].items():
            table = wandb.Table(
                data=[[t + 1, v] for t, v in enumerate(latest)], columns=["t", "dL/dh_t"]
            )
            charts[f"{PREFIX}dh_{name}"] = wandb.plot.line(
                table, "t", "dL/dh_t", title=f"||dL/dh_t|| {name}, step {steps[-1]}"
            )
            charts[f"{PREFIX}dh_{name}_evolution"] = wandb.plot.line_series(
                xs=list(range(1, len(latest) + 1)),
                ys=[curves[i][name] for i in shown],
                keys=[f"step {steps[i]}" for i in shown],
                title=f"||dL/dh_t|| {name} over training",
                xname="t",
            )
        for logger in wandb_loggers:
            logger.experiment.log(charts)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.encoder is None or not trainer.is_global_zero or not self.history["steps"]:
            return
        if self.history["hidden"] and self.history["hidden"][-1]:
            self._log_wandb_curves(trainer)
        folder = self.run_dir / "gradients"
        folder.mkdir(parents=True, exist_ok=True)
        write_text_atomic(folder / RESULTS_FILE, json.dumps(self.history) + "\n")
        if self.plots:
            from seqlab.reports.gradient_plots import save_plots

            save_plots(self.history, folder)


def _evenly_spaced(count: int, most: int) -> list[int]:
    if count <= most:
        return list(range(count))
    return sorted({round(i * (count - 1) / (most - 1)) for i in range(most)})
