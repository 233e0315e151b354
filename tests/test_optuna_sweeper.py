"""The Optuna sweeper (hydra_plugins/seqlab_optuna_sweeper): search space parsing, trial
outcomes, and tiny real searches that create the sqlite study, resume it, record a failing
trial while going on, and prune."""

import json
import math

import optuna
import pytest
import yaml
from hydra.core.utils import JobReturn, JobStatus
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState

from hydra_plugins.seqlab_optuna_sweeper import space
from hydra_plugins.seqlab_optuna_sweeper.sweeper import outcome
from seqlab.errors import SeqlabError

from conftest import REPO_ROOT, compose_train, run_cli

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
    assert "running 1 more" in second.stderr + second.stdout


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
