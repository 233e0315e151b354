"""The Optuna sweeper (hydra_plugins/seqlab_optuna_sweeper): search space parsing, trial
outcomes, tiny real searches that create the sqlite study, resume it, record a failing trial
while going on, and prune; and workers started at once on one study (sqlite, journal file,
PostgreSQL), a dead worker's trial, and the storage forms refused."""

import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from contextlib import ExitStack
from pathlib import Path

import optuna
import pytest
import yaml
from hydra.core.utils import JobReturn, JobStatus
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState

from hydra_plugins.seqlab_optuna_sweeper import slots, space
from hydra_plugins.seqlab_optuna_sweeper.storage import open_store
from hydra_plugins.seqlab_optuna_sweeper.sweeper import outcome
from seqlab.errors import SeqlabError

from conftest import REPO_ROOT, compose_train, run_cli, subprocess_env

# A test-only hparams_search config, found through hydra.searchpath: a tiny MLP, two epochs.
TINY_SEARCH = """\
# @package _global_
defaults:
  - override /model: mlp
  - override /hydra/sweeper: seqlab_optuna

experiment_name: tiny_search
print_config: false
data: {protocol: val_split}  # the search selects on val/f1_best
logger: {wandb: {enabled: false}}
callbacks: {progress_bar: false}
trainer: {max_epochs: 2}
print_parameters: false
model: {hidden_sizes: [16]}
hydra:
  sweeper:
    n_trials: 2
    # Enumerates the choices, so both trials below are known in advance.
    sampler: {_target_: optuna.samplers.BruteForceSampler, seed: 0}
    pruner: null
    params:
      trainer.max_epochs: choice(2, -5)  # -5: lightning raises, the trial must FAIL
"""


def test_search_space_from_hydra_sweep_syntax():
    params = {
        "optim.lr": "tag(log, interval(1e-4, 1e-2))",
        "model.hidden_size": "choice(32, 64)",
        "model.num_layers": "range(1, 4)",
        "model.hidden_sizes": "choice([8, 8], [16])",
    }
    found, fixed = space.parse(params, ["model.hidden_size=choice(8,16)", "trainer.max_epochs=3"])
    assert found["optim.lr"] == FloatDistribution(1e-4, 1e-2, log=True)
    assert found["model.hidden_size"] == CategoricalDistribution([8, 16])  # the command line wins
    assert found["model.num_layers"] == IntDistribution(1, 3)  # stop excluded, as in Hydra
    assert found["model.hidden_sizes"] == CategoricalDistribution(["[8,8]", "[16]"])
    assert fixed == ["trainer.max_epochs=3"]
    overrides = space.to_overrides({"model.hidden_sizes": "[8,8]", "optim.lr": 0.001})
    assert overrides == ["model.hidden_sizes=[8,8]", "optim.lr=0.001"]


def job(status: JobStatus, value: object) -> JobReturn:
    result = JobReturn()
    result.status, result.return_value = status, value
    return result


@pytest.mark.parametrize(
    ("returned", "state", "value"),
    [
        (job(JobStatus.COMPLETED, {"val/f1_best": 0.75}), TrialState.COMPLETE, 0.75),
        (job(JobStatus.COMPLETED, {"val/f1_best": math.nan}), TrialState.FAIL, None),
        (job(JobStatus.COMPLETED, {"val/f1_best": math.inf}), TrialState.FAIL, None),
        (job(JobStatus.FAILED, RuntimeError("boom")), TrialState.FAIL, None),
        (job(JobStatus.FAILED, optuna.TrialPruned("epoch 3")), TrialState.PRUNED, None),
    ],
    ids=["finite", "nan", "inf", "raised", "pruned"],
)
def test_trial_outcomes(returned, state, value):
    assert outcome(returned, "val/f1_best")[:2] == (state, value)


def test_a_metric_the_run_does_not_return_is_a_config_error():
    with pytest.raises(SeqlabError, match="val/f2_best is not a metric"):
        outcome(job(JobStatus.COMPLETED, {"val/f1_best": 0.5}), "val/f2_best")


def test_a_validation_metric_of_a_run_without_validation_names_the_protocol():
    with pytest.raises(SeqlabError, match="add data.protocol=val_split to the search"):
        outcome(job(JobStatus.COMPLETED, {"test/f1": 0.5}), "val/f1_best")


@pytest.fixture(scope="module")
def search(tmp_path_factory):
    """Run the tiny search, then resume it with one more (always pruned) trial."""
    root = tmp_path_factory.mktemp("optuna")
    (root / "conf" / "hparams_search").mkdir(parents=True)
    (root / "conf" / "hparams_search" / "tiny.yaml").write_text(TINY_SEARCH)
    sweep = root / "sweep"
    common = [
        "-m",
        f"hydra.searchpath=[file://{root / 'conf'}]",
        "hparams_search=tiny",
        f"hydra.sweep.dir={sweep}",
    ]
    first = run_cli("seqlab.cli.train", *common)
    stamps = {p.parent.name: p.stat().st_mtime_ns for p in sweep.glob("*/metrics.json")}
    second = run_cli(
        "seqlab.cli.train",
        *common,
        "hydra.sweeper.n_trials=3",
        # A new search space: brute force would refuse it.
        "hydra.sweeper.sampler={_target_:optuna.samplers.RandomSampler,seed:0}",
        # A threshold no F1 reaches: the trial is pruned at its first validation epoch.
        "hydra.sweeper.pruner={_target_:optuna.pruners.ThresholdPruner,lower:1.1}",
        "trainer.max_epochs=2",
        "optim.lr=choice(0.001,0.002)",
    )
    return sweep, first, second, stamps


def load_study(sweep):
    return optuna.load_study(study_name="tiny_search", storage=f"sqlite:///{sweep / 'optuna.db'}")


@pytest.mark.slow
def test_search_stores_the_study_in_sqlite_and_goes_on_after_a_failed_trial(search):
    sweep, first, _, stamps = search
    assert first.returncode == 0, first.stderr[-3000:]
    first_two = load_study(sweep).trials[:2]
    states = {t.params["trainer.max_epochs"]: t.state for t in first_two}
    assert states == {2: TrialState.COMPLETE, -5: TrialState.FAIL}
    done = next(t for t in first_two if t.state == TrialState.COMPLETE)
    failed = next(t for t in first_two if t.state == TrialState.FAIL)
    assert set(stamps) == {str(done.number)}  # the failed job wrote no metrics
    assert (sweep / str(failed.number) / ".hydra" / "overrides.yaml").is_file()
    metrics = json.loads((sweep / str(done.number) / "metrics.json").read_text())
    assert done.value == pytest.approx(metrics["val/f1_best"])


@pytest.mark.slow
def test_resume_continues_the_numbering_and_prunes(search):
    sweep, _, second, stamps = search
    assert second.returncode == 0, second.stderr[-3000:]
    trials = load_study(sweep).trials
    assert [t.number for t in trials] == [0, 1, 2]
    pruned = trials[2]
    assert pruned.state == TrialState.PRUNED
    assert list(pruned.intermediate_values) == [0]  # reported at epoch 0, then stopped
    assert "optim.lr" in pruned.params
    assert (sweep / "2" / ".hydra" / "overrides.yaml").is_file()
    assert not (sweep / "2" / "metrics.json").exists()
    # The first search's run dirs were left alone.
    assert {p.parent.name: p.stat().st_mtime_ns for p in sweep.glob("*/metrics.json")} == stamps
    assert "running up to 1 more" in second.stderr + second.stdout


@pytest.mark.slow
def test_unknown_search_space_parameter_stops_before_any_trial(tmp_path):
    result = run_cli(
        "seqlab.cli.train",
        "-m",
        "hparams_search=mlp_optuna",
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
        "model.hiden_size=choice(8,16)",
        timeout=120,
    )
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.startswith("seqlab: error")]
    assert len(lines) == 1 and "unknown search-space parameter" in lines[0], result.stderr
    assert "model.hiden_size" in lines[0]
    assert not (tmp_path / "sweep" / "optuna.db").exists()


@pytest.mark.parametrize("name", ["mlp_optuna", "lstm_optuna"])
def test_hparams_search_configs_compose_with_a_sample_of_their_space(name):
    path = REPO_ROOT / "conf" / "hparams_search" / f"{name}.yaml"
    sweeper = yaml.safe_load(path.read_text())["hydra"]["sweeper"]
    assert sweeper["metric"] == "val/f1_best" and sweeper["direction"] == "maximize"
    found, fixed = space.parse(sweeper["params"], [])
    assert set(found) == set(sweeper["params"]) and not fixed
    sample = space.sample_values(found)
    config = compose_train([f"hparams_search={name}", *space.to_overrides(sample)])
    assert config.experiment_name == name
    for key, value in sample.items():
        section, _, leaf = key.partition(".")
        expected = yaml.safe_load(value) if isinstance(value, str) else value
        assert getattr(getattr(config, section), leaf) == expected


# ---- many workers on one study ----

# Four parameter sets and n_trials=4: the workers must run each set exactly once. Every worker
# seeds its sampler alike, so without per-draw seeds and the taken-set check they would repeat.
WORKERS_SEARCH = """\
# @package _global_
defaults:
  - override /model: mlp
  - override /hydra/sweeper: seqlab_optuna

experiment_name: workers
print_config: false
data: {protocol: val_split}
logger: {wandb: {enabled: false}}
callbacks: {progress_bar: false}
trainer: {max_epochs: 1}
print_parameters: false
model: {hidden_sizes: [8]}
hydra:
  sweeper:
    study_name: shared
    n_trials: 4
    sampler: {_target_: optuna.samplers.RandomSampler, seed: 0}
    pruner: null
    params:
      optim.lr: choice(0.001, 0.002)
      model.hidden_sizes: choice([8], [16])
"""
POSTGRES_BIN = Path("/usr/lib/postgresql/15/bin")


def worker_command(root: Path, storage: str, name: str, *extra: str) -> list[str]:
    conf = root / "conf" / "hparams_search"
    if not (conf / "workers.yaml").is_file():
        conf.mkdir(parents=True, exist_ok=True)
        (conf / "workers.yaml").write_text(WORKERS_SEARCH)
    return [
        sys.executable,
        "-m",
        "seqlab.cli.train",
        "-m",
        f"hydra.searchpath=[file://{root / 'conf'}]",
        "hparams_search=workers",
        f'hydra.sweeper.storage="{storage}"',
        f"hydra.sweep.dir={root / name}",
        *extra,
    ]


def run_workers(commands: list[list[str]], timeout: int = 600) -> list[tuple[int, str]]:
    """Start every command at once; (exit status, output) of each (Hydra logs to stdout). The
    output goes to files: a full pipe would stall a worker until the test read it."""
    with ExitStack() as stack:
        outputs = [stack.enter_context(tempfile.TemporaryFile("w+")) for _ in commands]
        processes = [
            subprocess.Popen(
                command,
                cwd=REPO_ROOT,
                stdout=output,
                stderr=subprocess.STDOUT,
                text=True,
                env=subprocess_env(),
            )
            for command, output in zip(commands, outputs, strict=True)
        ]
        results = []
        for process, output in zip(processes, outputs, strict=True):
            status = process.wait(timeout)
            output.seek(0)
            results.append((status, output.read()))
        return results


def optuna_storage(setting: str):
    """The same Optuna storage the sweeper opens for `setting`, for the test to read."""
    return open_store(setting, Path("/nonexistent"), grace_period=120).storage


@pytest.fixture(scope="module")
def postgresql():
    """A PostgreSQL server from Debian's package, on a unix socket in a temporary folder."""
    if not (POSTGRES_BIN / "pg_ctl").is_file() or shutil.which("runuser") is None:
        pytest.skip(f"PostgreSQL is not installed ({POSTGRES_BIN})")
    pytest.importorskip("psycopg", reason="psycopg is not installed (pip install seqlab[postgres])")
    if os.geteuid() != 0:
        pytest.skip("starting PostgreSQL as its own user needs root (runuser -u postgres)")
    folder = Path(tempfile.mkdtemp(prefix="seqlab-pg-"))
    shutil.chown(folder, "postgres", "postgres")
    data = folder / "data"
    with socket.socket() as probe:  # the socket file's name carries the port
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    def as_postgres(*command: str, check: bool = True) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *command], check=check,
                       capture_output=True, timeout=120)  # fmt: skip

    pg_ctl = str(POSTGRES_BIN / "pg_ctl")
    as_postgres(str(POSTGRES_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres")
    options = f"-k {folder} -p {port} -c listen_addresses=''"
    try:
        # -l: the server's output to a file, not to this pipe (which it would hold open)
        as_postgres(
            pg_ctl, "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w", "start"
        )
        as_postgres(str(POSTGRES_BIN / "createdb"), "-h", str(folder), "-p", str(port), "seqlab")
        yield f"postgresql://postgres@/seqlab?host={folder}&port={port}"
    finally:
        as_postgres(pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop", check=False)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(params=["sqlite", "journal", "postgresql"])
def storage_setting(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shared' / 'study.db'}"
    if request.param == "journal":
        return str(tmp_path / "shared" / "study.journal")
    return request.getfixturevalue("postgresql")


@pytest.mark.slow
def test_workers_started_at_once_share_one_study(storage_setting, tmp_path):
    """Two workers, one study, n_trials=4: four trials in all, each parameter set once."""
    commands = [worker_command(tmp_path, storage_setting, f"w{i}") for i in range(2)]
    for status, stderr in run_workers(commands):
        assert status == 0, stderr[-3000:]
    study = optuna.load_study(study_name="shared", storage=optuna_storage(storage_setting))
    done = study.get_trials(states=(TrialState.COMPLETE,))
    assert len(done) == 4
    assert not study.get_trials(states=(TrialState.RUNNING, TrialState.PRUNED))
    sets = {(t.params["optim.lr"], t.params["model.hidden_sizes"]) for t in done}
    assert sets == {(lr, h) for lr in (0.001, 0.002) for h in ("[8]", "[16]")}
    # A FAIL trial can only be a skipped draw (a repeat, replaced), never a run.
    for trial in study.get_trials(states=(TrialState.FAIL,)):
        assert slots.SKIPPED_ATTR in trial.user_attrs
        assert not any((tmp_path / f"w{i}" / str(trial.number)).exists() for i in range(2))
    ran = {int(p.parent.name) for p in tmp_path.glob("w*/*/metrics.json")}
    assert ran == {t.number for t in done}
    workers = {t.user_attrs[slots.WORKER_ATTR] for t in done}
    assert len(workers) <= 2 and all(w.startswith(socket.gethostname()) for w in workers)


def running_trial(setting: str):
    """A study with one RUNNING trial whose worker sent one heartbeat, then went silent."""
    store = open_store(setting, Path("/nonexistent"), grace_period=2)
    study = optuna.create_study(study_name="shared", storage=store.storage, direction="maximize")
    with warnings.catch_warnings():  # the sweeper beats outside optimize() too
        warnings.filterwarnings("ignore", "Heartbeat of storage is supposed to")
        trial = study.ask()
    with store.heartbeat(trial):
        pass
    return trial.number


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", "journal"])
def test_a_dead_workers_trial_is_failed_after_the_grace_period_and_its_slot_reused(kind, tmp_path):
    setting = (
        f"sqlite:///{tmp_path / 'study.db'}" if kind == "sqlite" else str(tmp_path / "s.journal")
    )
    dead = running_trial(setting)
    time.sleep(4)  # past the grace period
    command = worker_command(
        tmp_path, setting, "w", "hydra.sweeper.n_trials=1", "hydra.sweeper.grace_period=2"
    )
    ((status, stderr),) = run_workers([command])
    assert status == 0, stderr[-3000:]
    assert f"trial {dead} sent no heartbeat" in stderr
    trials = optuna.load_study(study_name="shared", storage=optuna_storage(setting)).trials
    assert trials[dead].state == TrialState.FAIL and not slots.takes_slot(trials[dead])
    assert [t.state for t in trials if t.number != dead] == [TrialState.COMPLETE]


@pytest.mark.slow
def test_a_live_workers_trial_keeps_its_slot(tmp_path):
    """A running trial with a fresh heartbeat is another worker's: no worker runs over it."""
    setting = f"sqlite:///{tmp_path / 'study.db'}"
    alive = running_trial(setting)
    command = worker_command(tmp_path, setting, "w", "hydra.sweeper.n_trials=1")
    ((status, stderr),) = run_workers([command])
    assert status == 0, stderr[-3000:]
    assert "the study holds its 1 trials; this worker stops" in stderr
    trials = optuna.load_study(study_name="shared", storage=optuna_storage(setting)).trials
    assert [(t.number, t.state) for t in trials] == [(alive, TrialState.RUNNING)]
    assert not list((tmp_path / "w").glob("*/metrics.json"))


@pytest.mark.slow
def test_a_worker_stopped_by_a_signal_frees_its_trials_slot(tmp_path):
    """SLURM preemption: SIGTERM stops the worker (128 + 15) and its trial is recorded FAIL
    without a failure, so the same command run again runs that slot, not one fewer."""
    setting = f"sqlite:///{tmp_path / 'study.db'}"
    # a trial that trains until stopped, with last.ckpt after every epoch to show it has begun
    long_trial = worker_command(
        tmp_path,
        setting,
        "w",
        "hydra.sweeper.n_trials=1",
        "trainer.max_epochs=2000",
        "callbacks.early_stopping.enabled=false",
        "callbacks.checkpoint.last_every_s=0",
    )
    with tempfile.TemporaryFile("w+") as output:
        worker = subprocess.Popen(
            long_trial, cwd=REPO_ROOT, stdout=output, stderr=subprocess.STDOUT,
            env=subprocess_env(),
        )  # fmt: skip
        deadline = time.monotonic() + 300
        while not list((tmp_path / "w").glob("*/checkpoints/*.ckpt")):  # training has begun
            assert worker.poll() is None and time.monotonic() < deadline
            time.sleep(0.5)
        worker.send_signal(signal.SIGTERM)
        status = worker.wait(120)
        output.seek(0)
        assert status == 128 + signal.SIGTERM, output.read()[-3000:]
    (stopped,) = optuna.load_study(study_name="shared", storage=optuna_storage(setting)).trials
    assert stopped.state == TrialState.FAIL and not slots.takes_slot(stopped)
    again = worker_command(tmp_path, setting, "w", "hydra.sweeper.n_trials=1")
    ((status, text),) = run_workers([again])
    assert status == 0, text[-3000:]
    trials = optuna.load_study(study_name="shared", storage=optuna_storage(setting)).trials
    assert [t.state for t in trials] == [TrialState.FAIL, TrialState.COMPLETE]


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("study.db", "'study.db' is not a storage; use sqlite:///<file>.db, postgresql://"),
        ("mysql://user@host/db", "mysql is not supported; use sqlite:///"),
        ("sqlite:///:memory:", "an in-memory database cannot be shared or resumed"),
        ("sqlite://", "an in-memory database cannot be shared or resumed"),
    ],
)
def test_storage_forms_other_than_sqlite_postgresql_or_journal_are_refused(
    setting, message, tmp_path
):
    with pytest.raises(SeqlabError, match=re.escape(message)):
        open_store(setting, tmp_path, grace_period=120)
    assert not list(tmp_path.iterdir())


def test_a_grace_period_under_two_seconds_is_refused(tmp_path):
    with pytest.raises(SeqlabError, match="grace_period=1: a heartbeat needs at least 2 s"):
        open_store(None, tmp_path, grace_period=1)


@pytest.mark.slow
def test_a_bad_storage_stops_the_search_with_one_line(tmp_path):
    command = worker_command(tmp_path, "study.db", "w")
    ((status, stderr),) = run_workers([command])
    assert status == 2
    lines = [line for line in stderr.splitlines() if line.startswith("seqlab: error")]
    assert len(lines) == 1 and "hydra.sweeper.storage='study.db' is not a storage" in lines[0]
    assert not list((tmp_path / "w").iterdir()) and not (REPO_ROOT / "study.db").exists()


def finished(number: int, params: dict, state=TrialState.COMPLETE, **attrs):
    distributions = {k: CategoricalDistribution([1, 2, 3]) for k in params}
    trial = optuna.trial.create_trial(
        state=state,
        value=0.5 if state == TrialState.COMPLETE else None,
        params=params,
        distributions=distributions,
        user_attrs=attrs,
    )
    trial.number = number
    return trial


def test_which_trials_take_a_slot_and_which_sets_are_taken():
    grid = {"a": CategoricalDistribution([1, 2, 3]), "b": CategoricalDistribution([1, 2])}
    trials = [
        finished(0, {"a": 1, "b": 1}),
        finished(1, {"a": 2, "b": 1}, TrialState.FAIL, **{slots.FAILURE_ATTR: "boom"}),
        finished(2, {"a": 3, "b": 1}, TrialState.FAIL),  # abandoned: its worker died
        finished(3, {"a": 3, "b": 2}, TrialState.FAIL, **{slots.SKIPPED_ATTR: 0}),
        finished(4, {"a": 1}),  # another search space
    ]
    assert [slots.takes_slot(t) for t in trials] == [True, True, False, False, True]
    taken = slots.taken_sets(trials, grid)
    assert taken == {(1, 1): 0, (2, 1): 1}
    assert slots.repeated({"b": 1, "a": 2}, taken, grid) == 1
    assert slots.repeated({"a": 3, "b": 1}, taken, grid) is None
    assert slots.size(grid) == 6
    free = [slots.untaken(grid, taken, seed) for seed in range(20)]
    assert {(f["a"], f["b"]) for f in free} == {(3, 1), (1, 2), (2, 2), (3, 2)}
    assert slots.untaken(grid, {(a, b): 0 for a in (1, 2, 3) for b in (1, 2)}, 0) is None


def test_finite_and_infinite_spaces():
    assert (
        slots.size({"n": IntDistribution(1, 9, step=2), "x": FloatDistribution(0, 1, step=0.25)})
        == 25
    )
    assert slots.size({"x": FloatDistribution(0.0, 1.0)}) is None
    assert slots.untaken({"x": FloatDistribution(0.0, 1.0)}, {}, 0) is None
