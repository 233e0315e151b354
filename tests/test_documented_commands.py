"""Every command in a shell block of README.md and docs/*.md runs here with tiny settings, or is
listed in NOT_HERE with the reason it cannot run on a CPU machine without a network. Where a
block shows output after a `$ ` prompt, the output is checked (`...` stands for any text).

A renamed option, a removed experiment or a broken script then fails this suite, not a user.
Tiny settings: one epoch of two batches, W&B off, sweeps cut to their first value, one seed, one
dataset; outputs go to a temporary folder; placeholders (<run>, <ckpt>, ...) become files made by
the fixtures below.
"""

import ast
import json
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from seqlab.data.embedded import embedded_path

from conftest import REPO_ROOT, SHARED_DATASETS, subprocess_env, synthetic_events

DOCS = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
PROGRAMS = re.compile(r"^(make|seqlab-|\.venv/bin/|python|torchrun|srun|[A-Z_]+=\S+ )")
BIN = Path(sys.executable).parent

NOT_HERE = {
    "make train": "the default experiment in full; the README's first command, run by CI's users"
    " and by `make train ARGS=...` below with tiny settings",
    "make test": "the suite itself (CI runs it)",
    "make lint": "CI runs it (.ci/run)",
    "make format": "rewrites the checkout's files; `make lint` (CI) checks the same rules",
    "make typecheck": "CI runs it (.ci/run)",
    "make test-fast": "a subset of the suite that CI runs",
    "torchrun --nnodes=2 --nproc-per-node=4 --node-rank=$NODE_RANK --master-addr=$MASTER_HOST "
    "--master-port=29500 -m seqlab.cli.train trainer=ddp trainer.num_nodes=2 trainer.devices=4": (
        "two nodes with four GPUs each"
    ),
    "srun --nodes=2 --ntasks-per-node=4 --gpus-per-node=4 .venv/bin/seqlab-train trainer=ddp "
    "trainer.num_nodes=2 trainer.devices=4": "SLURM and GPUs",
    'srun .venv/bin/seqlab-train resume=auto "hydra.run.dir=outputs/slurm/${SLURM_JOB_ID}/run"': (
        "SLURM"
    ),
    "seqlab-train -m hydra/launcher=slurm trainer=ddp trainer.num_nodes=2 trainer.devices=4 "
    "hydra.launcher.gpus_per_node=4 hydra.launcher.tasks_per_node=4 model=lstm,gru seed=1,2,3": (
        "SLURM and GPUs"
    ),
    "seqlab-train -m hparams_search=mlp_optuna "
    "hydra.sweeper.storage=outputs/train/optuna/shared/study.journal "
    "hydra.sweeper.study_name=shared hydra.sweep.dir=outputs/train/optuna/shared/w$i &": (
        "four workers in the background of one shell; tests/test_optuna_sweeper.py starts two at "
        "once on sqlite, a journal file and PostgreSQL"
    ),
    "srun .venv/bin/seqlab-train -m hparams_search=lstm_optuna hydra.sweeper.n_trials=64 "
    "hydra.sweeper.storage=outputs/train/optuna/lstm_shared/study.journal "
    "hydra.sweeper.study_name=lstm_shared "
    "hydra.sweep.dir=outputs/train/optuna/lstm_shared/worker_${SLURM_ARRAY_TASK_ID}": "SLURM",
    "seqlab-train -m hparams_search=mlp_optuna "
    "'hydra.sweeper.storage=\"postgresql://seqlab@/optuna?host=/var/run/postgresql\"' "
    "hydra.sweeper.study_name=shared": (
        "a PostgreSQL server with a seqlab user; tests/test_optuna_sweeper.py starts a server of "
        "its own for the same URL form"
    ),
    "make wandb-sweep SWEEP=grid": "W&B online (wandb login and the network)",
    "make wandb-agent SWEEP_ID=<entity>/<project>/<id>": "W&B online (wandb login and the network)",
    "seqlab-dashboard project=seqlab entity=<team>": "W&B online (wandb login and the network)",
    "seqlab-train data=text data.hf_name=imdb": "downloads from the Hugging Face hub",
}

# Commands whose tiny form needs more than the generic settings.
FUTURES_TINY = ("task.samples=2",)  # sampled futures per customer, at test time
EXTRA = {
    "seqlab-train experiment=memory_sweep": ("data.task=adding", "model=rnn", "data.length=50"),
    "seqlab-train experiment=cdnow_futures_lstm": FUTURES_TINY,
    "seqlab-train experiment=cdnow_futures_lstm seed=1": FUTURES_TINY,
}

NEEDS_SHARED = ("../shared", "sst2", "sms_", "yoochoose")


@dataclass
class Documented:
    command: str  # as the docs print it, continuation lines joined, comment removed
    where: str  # file:line
    expected: list[str] = field(default_factory=list)  # output lines shown after a `$ ` prompt


def documented_commands() -> list[Documented]:
    found: dict[str, Documented] = {}
    for path in DOCS:
        text = path.read_text()
        for block in re.finditer(r"^```(\w*)\n(.*?)^```", text, re.S | re.M):
            if block.group(1) not in ("", "bash", "sh", "shell", "console"):
                continue
            first_line = text[: block.start()].count("\n") + 2
            current: Documented | None = None
            pending = ""
            for offset, raw in enumerate(block.group(2).splitlines()):
                line = pending + raw.strip()
                pending = ""
                if line.endswith("\\"):
                    pending = line[:-1].rstrip() + " "
                    continue
                prompted = line.startswith("$ ")
                line = line.removeprefix("$ ")
                if PROGRAMS.match(line):
                    command = strip_comment(line)
                    where = f"{path.relative_to(REPO_ROOT)}:{first_line + offset}"
                    current = found.setdefault(command, Documented(command, where))
                    if not prompted:
                        current = None
                elif current is not None and line:
                    current.expected.append(line)
    return list(found.values())


def strip_comment(line: str) -> str:
    """The command without its trailing `# comment` (the docs put one space or more before it)."""
    return re.split(r"\s#\s", line + " ", maxsplit=1)[0].strip()


COMMANDS = documented_commands()


def test_every_listed_exception_is_still_documented():
    documented = {c.command for c in COMMANDS}
    assert not set(NOT_HERE) - documented, "NOT_HERE lists commands the docs no longer show"
    assert not set(EXTRA) - documented


def test_the_docs_show_commands_of_every_kind():
    """The parser finds what the pages hold (a broken parser would run nothing)."""
    programs = {c.command.split()[0] for c in COMMANDS}
    assert {"make", "seqlab-train", "seqlab-eval", "seqlab-predict", "seqlab-ucr"} <= programs
    assert len(COMMANDS) > 60


# ---- placeholders: files made once per session by tiny runs ----


def tiny_train(*arguments: str) -> None:
    """seqlab-train with the tiny settings; the caller names the run or sweep dir."""
    result = subprocess.run(
        [str(BIN / "seqlab-train"), *arguments, *TRAIN_TINY],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env=subprocess_env(),
    )
    assert result.returncode == 0, result.stderr[-3000:]


def best(run_dir: Path) -> Path:
    return sorted((run_dir / "checkpoints").glob("epoch*.ckpt"))[-1]


TRAIN_TINY = (
    "++trainer.max_epochs=1",
    "++trainer.limit_train_batches=2",
    "++trainer.limit_val_batches=2",
    "++trainer.limit_test_batches=2",
    "logger.wandb.enabled=false",
    "print_config=false",
    "callbacks.progress_bar=false",
)


@dataclass
class Placeholders:
    root: Path
    made: dict[str, Path] = field(default_factory=dict)

    def run(self, name: str, *overrides: str) -> Path:
        if name not in self.made:
            tiny_train(*overrides, f"hydra.run.dir={self.root / name}")
            self.made[name] = self.root / name
        return self.made[name]

    def sweep(self) -> Path:
        if "sweep" not in self.made:
            out = self.root / "sweep"
            tiny_train("-m", "experiment=gunpoint_mlp", "seed=1,2", f"hydra.sweep.dir={out}")
            self.made["sweep"] = out
        return self.made["sweep"]

    def memory_sweep(self) -> Path:
        """experiment=memory_sweep cut to one job (it is a multirun of its own)."""
        if "memory" not in self.made:
            out = self.root / "memory"
            sweep = ("data.task=adding", "model=rnn", "data.length=50")
            tiny_train("experiment=memory_sweep", *sweep, f"hydra.sweep.dir={out}")
            self.made["memory"] = out
        return self.made["memory"]

    def search(self) -> Path:
        """A two-trial mlp_optuna search: its runs hold val/*_best (a validation part)."""
        if "search" not in self.made:
            out = self.root / "search"
            tiny_train(
                "-m",
                "hparams_search=mlp_optuna",
                "hydra.sweeper.n_trials=2",
                f"hydra.sweep.dir={out}",
            )
            self.made["search"] = out
        return self.made["search"]

    def files(self) -> Path:
        folder = self.root / "files"
        if not folder.is_dir():
            folder.mkdir()
            reviews = "review,stars\n" + "".join(
                f'"{"great fun" if i % 2 else "dull and slow"} {i}",{1 + i % 2}\n'
                for i in range(60)
            )
            (folder / "reviews.csv").write_text(reviews)
            (folder / "lines.txt").write_text("oil prices rise\nwheat exports fall\n")
            log = synthetic_events(entities=80).rename(
                columns={"customer": "user_id", "event": "event_type", "amount": "price"}
            )
            log["ts"] = log["ts"].str.replace("2020-04", "2024-06").str.replace("2020-", "2024-")
            log.to_parquet(folder / "log.parquet")
        return folder

    def substitute(self, command: str) -> str:
        ucr = lambda: self.run("ucr", "experiment=gunpoint_mlp")  # noqa: E731
        futures = lambda: self.run(  # noqa: E731
            "futures", "experiment=cdnow_futures_lstm", *FUTURES_TINY
        )
        gunpoint_test = embedded_path(
            "sktime", "1.2.0", "sktime/datasets/data/GunPoint/GunPoint_TEST.ts", "-"
        )
        table = {
            "outputs/train/runs/<run>/checkpoints/last.ckpt": lambda: (
                ucr() / "checkpoints/last.ckpt"
            ),
            "outputs/train/runs/<run>/checkpoints/epoch005.ckpt": lambda: best(
                self.run("tag", "experiment=cdnow_tag_gru")
            ),
            "<run dir>/checkpoints/<best>.ckpt": lambda: best(futures()),
            "<a cdnow_futures_lstm checkpoint>": lambda: best(futures()),
            "<generator run>/checkpoints/<best>.ckpt": lambda: best(
                self.run("smsgen", "experiment=sms_generate_gru")
            ),
            "<classifier run>/checkpoints/<best>.ckpt": lambda: best(
                self.run("smsclass", "experiment=sms_spam_gru")
            ),
            "<old ckpt>": lambda: best(ucr()),
            "ckpt_path=<ckpt> input=- ": lambda: (
                f"ckpt_path={best(self.run('text', 'data=r8'))} input=- "
            ),
            "<ckpt>": lambda: best(ucr()),
            "<labelled file>": lambda: gunpoint_test,
            "<file>": lambda: gunpoint_test,
            "<the run's seed>": lambda: "42",
            "<sweep dir>": lambda: self.memory_sweep(),
            "outputs/train/multiruns/grid_gunpoint": lambda: self.sweep(),
            "outputs/train/optuna/mlp_optuna": lambda: self.search(),
            "sweepA sweepB outputs/train/runs/2026-...": lambda: f"{self.sweep()} {self.sweep()}/0",
            "reviews.csv": lambda: self.files() / "reviews.csv",
            "lines.txt": lambda: self.files() / "lines.txt",
            "log.parquet": lambda: self.files() / "log.parquet",
        }
        for placeholder, make in table.items():
            if placeholder in command:
                command = command.replace(placeholder, str(make()))
        return command


@pytest.fixture(scope="module")
def placeholders(tmp_path_factory) -> Placeholders:
    return Placeholders(tmp_path_factory.mktemp("documented"))


# ---- from a documented command to its tiny form ----

OUTPUT_KEYS = ("hydra.run.dir", "hydra.sweep.dir", "SWEEP_DIR", "UCR_OUT")


def without(words: list[str], keys: tuple[str, ...]) -> list[str]:
    def key(word: str) -> str:
        return word.lstrip("+~").split("=", 1)[0]

    return [w for w in words if key(w) not in {k.lstrip("+") for k in keys}]


def first_values(words: list[str]) -> list[str]:
    """A multirun's sweeps cut to their first value (a,b,c -> a; brackets and choice() kept)."""
    cut = []
    for word in words:
        name, sep, value = word.partition("=")
        if sep and "," in value and not value.startswith(("[", "choice(", "'")):
            word = f"{name}={value.split(',')[0]}"
        cut.append(word)
    return cut


def train_words(words: list[str], out: Path) -> list[str]:
    tiny = [*TRAIN_TINY, f"hydra.run.dir={out / 'run'}", f"hydra.sweep.dir={out / 'sweep'}"]
    words = without(first_values(words), tuple(t.split("=")[0] for t in tiny))
    if any(w.startswith("hparams_search=") for w in words):
        tiny.append("hydra.sweeper.n_trials=2")
    return [*words, *tiny]


def tiny_form(words: list[str], out: Path) -> list[str]:
    program, args = words[0], words[1:]
    name = program.removeprefix(".venv/bin/")
    if program in ("python", ".venv/bin/python") and args[:2] == ["-m", "seqlab.cli.train"]:
        return [sys.executable, "-m", "seqlab.cli.train", *train_words(args[2:], out)]
    if program in ("python", ".venv/bin/python"):
        if args and args[0] == "benchmarks/generate_throughput.py":
            args = [*args, "--samples", "5", "--out", str(out / "throughput.json")]
        if args and args[0] == "benchmarks/chunk_epochs.py":  # one variant, one epoch
            tiny = ["--datasets", "Gun_Point", "--chunks", "auto", "--epochs", "1"]
            args = [*args, *tiny, "--out", str(out / "chunk_epochs.json")]
        if args and args[0] == "benchmarks/multirun_overhead.py":
            return [sys.executable, args[0], *train_words(args[1:], out)]
        return [sys.executable, *args]
    if name == "seqlab-train":
        return [str(BIN / name), *train_words(args, out)]
    if name == "seqlab-compare":
        args = [a for a in args if not a.startswith(("seeds=", "train.trainer.max_epochs="))]
        tiny = ["seeds=[1]", "train.trainer.max_epochs=1", "++train.trainer.limit_train_batches=2"]
        tiny += ["++train.trainer.limit_val_batches=2", "logger.wandb.enabled=false"]
        return [str(BIN / name), *without(args, ("logger.wandb.enabled",)), *tiny]
    if name == "seqlab-ucr":
        return [str(BIN / name), *ucr_args(args, out)]
    if name == "seqlab-report":  # argparse, not Hydra: only its --out moves
        if "--out" in args:
            args[args.index("--out") + 1] = str(out / "report")
        return [str(BIN / name), *args]
    if name == "seqlab-generate":  # a few samples, not a hundred per customer
        args = [a if not a.startswith("n=") else "n=4" for a in args]
    if name.startswith("seqlab-"):
        return [str(BIN / name), *without(args, OUTPUT_KEYS), f"hydra.run.dir={out / 'run'}"]
    if program == "make":
        return make_words(args, out)
    raise AssertionError(f"no tiny form for {program}; add one or list it in NOT_HERE")


def ucr_args(args: list[str], out: Path) -> list[str]:
    words, overrides = (
        (args, []) if "--" not in args else (args[: args.index("--")], args[args.index("--") + 1 :])
    )
    tiny = []
    skip = False
    for i, word in enumerate(words):
        if skip:
            skip = False
            continue
        if word in ("--seeds", "--out", "--datasets", "--experiments"):
            value = words[i + 1]
            if word == "--seeds":
                value = "1"
            elif word == "--out":
                value = str(out / "ucr")
            elif word == "--datasets":
                value = "Coffee" if value == "all" else value.split(",")[0]
            else:
                value = value.split(",")[0]
            tiny += [word, value]
            skip = True
        else:
            tiny.append(word)
    if "--seeds" not in tiny:
        tiny += ["--seeds", "1"]
    if "--out" not in tiny:
        tiny += ["--out", str(out / "ucr")]
    overrides = without(overrides, TRAIN_TINY) + [t for t in TRAIN_TINY if "limit_val" not in t]
    return [*tiny, "--no-wandb", "--", *overrides]


def make_words(args: list[str], out: Path) -> list[str]:
    target, settings = args[0], dict(a.split("=", 1) for a in args[1:])
    extra = shlex.split(settings.pop("ARGS", ""))
    if target == "train":
        settings["ARGS"] = shlex.join(train_words(extra, out))
    elif target == "sweep":
        settings.update(MODELS=settings.get("MODELS", "mlp").split(",")[0], SEEDS="1")
        settings["SWEEP_DIR"] = str(out / "sweep")
        settings["ARGS"] = shlex.join(without(train_words(extra, out), OUTPUT_KEYS))
    elif target == "ucr-bench":
        datasets = settings.get("UCR_DATASETS", "GunPoint")
        settings.update(UCR_SEEDS="1", UCR_OUT=str(out / "ucr"))
        settings["UCR_DATASETS"] = "Coffee" if datasets == "all" else datasets.split(",")[0]
        settings["ARGS"] = shlex.join([t for t in TRAIN_TINY if "limit_val" not in t])
    else:
        settings["ARGS"] = shlex.join(extra)
    return ["make", "-s", target, *(f"{k}={v}" for k, v in settings.items())]


def split_command(command: str) -> tuple[dict[str, str], list[str], str | None]:
    """Environment assignments, the words, and a file redirected to standard input."""
    words = shlex.split(command)
    env = {}
    while words and re.match(r"^[A-Z_]+=", words[0]):
        key, value = words.pop(0).split("=", 1)
        env[key] = value
    stdin = None
    if "<" in words:
        at = words.index("<")
        stdin, words = words[at + 1], words[:at] + words[at + 2 :]
    return env, words, stdin


def expected_pattern(line: str) -> re.Pattern:
    return re.compile(".*".join(re.escape(part) for part in line.split("...")))


RUNNABLE = [c for c in COMMANDS if c.command not in NOT_HERE]


@pytest.mark.slow
@pytest.mark.parametrize("documented", RUNNABLE, ids=[c.where for c in RUNNABLE])
def test_documented_command_runs(documented: Documented, placeholders, tmp_path):
    command = documented.command
    if not SHARED_DATASETS.is_dir() and any(n in command for n in NEEDS_SHARED):
        pytest.skip(f"{documented.where} needs {SHARED_DATASETS}")
    command = placeholders.substitute(command + " ")
    for word, extra in EXTRA.items():
        if documented.command == word:
            command += " " + " ".join(extra)
    env, words, stdin = split_command(command)
    argv = tiny_form(words, tmp_path)
    stdin_text = Path(stdin).read_text() if stdin else None
    result = subprocess.run(
        argv,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        input=stdin_text,
        env=subprocess_env(
            {**env, "PYTHONPATH": str(REPO_ROOT / "src")} if "PYTHONPATH" in env else env
        ),
    )
    shown = result.stdout + result.stderr
    if documented.expected:
        lines = shown.splitlines()
        for line in documented.expected:
            assert any(expected_pattern(line).fullmatch(o) for o in lines), (
                f"{documented.where}: the docs show {line!r}; the command printed:\n"
                + shown[-2000:]
            )
        return
    assert result.returncode == 0, f"{documented.where}: {argv}\n{shown[-4000:]}"


def test_predict_docs_onnxruntime_snippet_classifies_ucr_files(placeholders, tmp_path):
    """The Python snippet of docs/predict.md on a whitespace-separated UCR file (as exported)."""
    pytest.importorskip("onnxruntime")
    text = (REPO_ROOT / "docs" / "predict.md").read_text()
    snippet = re.search(r"```python\n(import json, numpy as np, onnxruntime.*?)```", text, re.S)
    assert snippet, "docs/predict.md lost its onnxruntime snippet"
    checkpoint = best(placeholders.run("ucr", "experiment=gunpoint_mlp"))
    export = subprocess.run(
        [str(BIN / "seqlab-export"), f"ckpt_path={checkpoint}", "format=onnx"]
        + [f"hydra.run.dir={tmp_path}"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=subprocess_env(),
    )
    assert export.returncode == 0, export.stderr[-2000:]
    rows = [" ".join(f"{v:.4f}" for v in [0.1 * i] * 150) for i in range(3)]
    (tmp_path / "new_series.txt").write_text("\n".join(rows) + "\n")
    run = subprocess.run(
        [sys.executable, "-c", snippet.group(1)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ},
    )
    assert run.returncode == 0, run.stderr[-2000:]
    names = json.loads((tmp_path / "model.json").read_text())["class_names"]
    printed = ast.literal_eval(run.stdout.strip())  # the snippet prints a list of class names
    assert len(printed) == 3 and set(printed) <= set(names)
