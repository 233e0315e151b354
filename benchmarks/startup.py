"""How long a user waits: printing the composed config, and command start to first training step;
plus peak memory of the default run. Each in a fresh process, as a user runs it.

    PYTHONPATH=src python benchmarks/startup.py [--repeats 3]

- `seqlab-train --cfg job` (composes and prints; must not import torch or lightning);
- `import seqlab.training.pipeline` in a fresh interpreter: every heavy import a run needs;
- command start to the first training step of `experiment=gunpoint_lstm` (default loggers:
  CSV + offline W&B, progress bar, config tree printed), through benchmarks/first_step.py;
- peak RSS of that default experiment for a few epochs (/usr/bin/time -f %M, the training
  process; W&B's service process is separate);
- `seqlab-predict` of a GunPoint checkpoint on GunPoint's test file (150 labelled series:
  predictions.csv and metrics.json), alternating with `python -c "import torch"`, and the heavy
  modules that command imports (none of lightning, wandb, torchmetrics, sklearn on one CPU);
  `--predict-before <other checkout>/src` measures only that, with the other checkout's
  seqlab-predict in the same rounds, and compares their files.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import REPO_ROOT, isolate_wandb

DEFAULT_RUN = ["experiment=gunpoint_lstm"]


def _env(threads: int) -> dict:
    """Only the additions; every call merges them into os.environ as it is then (W&B dirs)."""
    src = str(REPO_ROOT / "src")
    path = os.environ.get("PYTHONPATH")
    return {"PYTHONPATH": f"{src}:{path}" if path else src, "OMP_NUM_THREADS": str(threads)}


def _timed(command: list[str], env: dict) -> float:
    start = time.perf_counter()
    subprocess.run(
        command, cwd=REPO_ROOT, env={**os.environ, **env}, check=True, capture_output=True
    )
    return time.perf_counter() - start


def cfg_job(env: dict, repeats: int) -> dict:
    command = [sys.executable, "-m", "seqlab.cli.train", *DEFAULT_RUN, "--cfg", "job"]
    times = [_timed(command, env) for _ in range(repeats)]
    probe = (
        "import sys; sys.argv = ['seqlab-train', 'experiment=gunpoint_lstm', '--cfg', 'job'];"
        "from seqlab.cli.train import main\ntry: main()\nexcept SystemExit: pass\n"
        "print('HEAVY', sorted({'torch', 'lightning', 'torchmetrics', 'wandb', 'datasets'}"
        " & set(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
    ).stdout
    heavy = next(line for line in out.splitlines() if line.startswith("HEAVY"))
    return {
        "cfg_job_s": statistics.median(times),
        "cfg_job_runs_s": times,
        "cfg_job_imports": heavy,
    }


def import_pipeline(env: dict, repeats: int) -> float:
    """Seconds `import seqlab.training.pipeline` takes inside a fresh interpreter (timed there: the
    process's own exit, about 1.5 s after importing lightning here, is no part of a start)."""
    code = (
        "import time; t = time.perf_counter(); import seqlab.training.pipeline; "
        "print(time.perf_counter() - t)"
    )
    runs = [
        float(
            subprocess.run(
                [sys.executable, "-c", code],
                cwd=REPO_ROOT,
                env={**os.environ, **env},
                check=True,
                capture_output=True,
                text=True,
            ).stdout.split()[-1]
        )
        for _ in range(repeats)
    ]
    return statistics.median(runs)


def to_first_step(env: dict, repeats: int) -> dict:
    times = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as folder:
            isolate_wandb(Path(folder) / "wandb_home")
            marker = Path(folder) / "first_step"
            command = [
                sys.executable,
                str(REPO_ROOT / "benchmarks" / "first_step.py"),
                *DEFAULT_RUN,
                "trainer.max_epochs=1",
                f"hydra.run.dir={folder}/run",
            ]
            start = time.time()
            subprocess.run(
                command,
                cwd=REPO_ROOT,
                env={**os.environ, **env, "FIRST_STEP_FILE": str(marker)},
                check=True,
                capture_output=True,
            )
            times.append(float(marker.read_text()) - start)
    return {"to_first_step_s": statistics.median(times), "to_first_step_runs_s": times}


def peak_rss(env: dict, epochs: int) -> dict:
    time_bin = shutil.which("time") or "/usr/bin/time"
    with tempfile.TemporaryDirectory() as folder:
        isolate_wandb(Path(folder) / "wandb_home")
        report = Path(folder) / "rss"
        command = [
            time_bin,
            "-f",
            "%M",
            "-o",
            str(report),
            sys.executable,
            "-m",
            "seqlab.cli.train",
            *DEFAULT_RUN,
            f"trainer.max_epochs={epochs}",
            f"hydra.run.dir={folder}/run",
        ]
        subprocess.run(
            command, cwd=REPO_ROOT, env={**os.environ, **env}, check=True, capture_output=True
        )
        kib = int(report.read_text().split()[-1])
    return {"peak_rss_mib": kib / 1024, "peak_rss_epochs": epochs}


PREDICT_PROBE = (
    "import sys; sys.argv = ['seqlab-predict', *sys.argv[1:]];"
    "from seqlab.cli.predict import main\ntry: main()\nexcept SystemExit: pass\n"
    "print('HEAVY', sorted({'lightning', 'wandb', 'torchmetrics', 'sklearn', 'scipy'}"
    " & set(sys.modules)))"
)


def predict_start(env: dict, repeats: int, before_src: Path | None = None) -> dict:
    """seqlab-predict against `import torch`, side by side in fresh processes (one of each per
    repeat, alternating), after training a one-epoch GunPoint checkpoint. `before_src`: the src/
    of another checkout (an earlier commit), whose seqlab-predict runs in the same rounds; its
    files are compared with this one's."""
    from seqlab.data.embedded import embedded_path

    source = embedded_path(
        "sktime", "1.2.0", "sktime/datasets/data/GunPoint/GunPoint_TEST.ts", "set --root"
    )
    with tempfile.TemporaryDirectory() as folder:
        run = Path(folder) / "train"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "seqlab.cli.train",
                *DEFAULT_RUN,
                "trainer.max_epochs=1",
                "logger=csv",
                f"hydra.run.dir={run}",
            ],
            cwd=REPO_ROOT,
            env={**os.environ, **env},
            check=True,
            capture_output=True,
        )
        ckpt = next((run / "checkpoints").glob("epoch*.ckpt"))
        arguments = [f"ckpt_path={ckpt}", f"input={source}"]
        command = [sys.executable, "-m", "seqlab.cli.predict", *arguments]
        before_env = {**env, "PYTHONPATH": str(before_src)} if before_src else None
        times: dict[str, list[float]] = {"import_torch": [], "predict": [], "before": []}
        same = []
        for attempt in range(repeats):
            times["import_torch"].append(_timed([sys.executable, "-c", "import torch"], env))
            after = Path(folder) / f"p{attempt}"
            times["predict"].append(_timed([*command, f"hydra.run.dir={after}"], env))
            if before_env:
                before = Path(folder) / f"b{attempt}"
                times["before"].append(_timed([*command, f"hydra.run.dir={before}"], before_env))
                same.append(
                    all(
                        (before / name).read_bytes() == (after / name).read_bytes()
                        for name in ("predictions.csv", "metrics.json")
                    )
                )
        heavy = subprocess.run(
            [sys.executable, "-c", PREDICT_PROBE, *arguments, f"hydra.run.dir={folder}/probe"],
            cwd=REPO_ROOT,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
        ).stdout
    torch_s = statistics.median(times["import_torch"])
    result = {
        "import_torch_s": torch_s,
        "import_torch_runs_s": times["import_torch"],
        "predict_s": statistics.median(times["predict"]),
        "predict_runs_s": times["predict"],
        "predict_over_import_torch": statistics.median(times["predict"]) / torch_s,
        "predict_imports": next(line for line in heavy.splitlines() if line.startswith("HEAVY")),
    }
    if before_env:
        result |= {
            "before_predict_s": statistics.median(times["before"]),
            "before_predict_runs_s": times["before"],
            "before_over_import_torch": statistics.median(times["before"]) / torch_s,
            "before_files_identical": all(same),
        }
    return result


def measure(repeats: int, threads: int, rss_epochs: int = 20) -> dict:
    env = _env(threads)
    return {
        **cfg_job(env, repeats),
        "import_pipeline_s": import_pipeline(env, repeats),
        **to_first_step(env, repeats),
        **peak_rss(env, rss_epochs),
        **predict_start(env, repeats),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--predict-before",
        type=Path,
        help="only seqlab-predict against import torch, also with the src/ of this checkout",
    )
    args = parser.parse_args()
    if args.predict_before:
        result = predict_start(_env(args.threads), args.repeats, args.predict_before.resolve())
    else:
        result = measure(args.repeats, args.threads)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
