"""W&B asked to log online with no way to reach it: one quick probe, then either offline logging
(said once, with the sync command) or one line and exit status 2, as
logger.wandb.on_unreachable says. It never waits for W&B's own retries."""

import logging
import time

import pytest

from seqlab.config import LoggerConfig, OnUnreachable, WandbConfig
from seqlab.errors import SeqlabError
from seqlab.training.loggers import build_loggers, finish_wandb

from conftest import run_cli, wandb_env

# Nothing listens on the discard port of this machine: a connection is refused at once.
UNREACHABLE = "http://127.0.0.1:9"


def online(on_unreachable: str) -> dict:
    wandb = WandbConfig(offline=False, log_code=False, on_unreachable=OnUnreachable(on_unreachable))
    return LoggerConfig(csv=False, wandb=wandb)


@pytest.fixture
def no_wandb_server(monkeypatch):
    monkeypatch.setenv("WANDB_BASE_URL", UNREACHABLE)
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)  # a key: W&B itself would retry for minutes
    monkeypatch.delenv("WANDB_MODE", raising=False)


def test_unreachable_wandb_falls_back_to_offline_and_says_how_to_sync(
    tmp_path, no_wandb_server, caplog
):
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="seqlab.training.loggers"):
        try:
            (logger,) = build_loggers(online("offline"), tmp_path, {"seed": 1})
            assert logger.experiment.settings.mode in ("offline", "dryrun")
        finally:
            finish_wandb()
    assert time.monotonic() - started < 30
    assert len(caplog.records) == 1
    message = caplog.records[0].getMessage()
    assert "127.0.0.1:9" in message and "offline" in message
    assert f"wandb sync {tmp_path}/wandb/offline-run-*" in message
    assert list((tmp_path / "wandb").glob("offline-run-*"))


def test_unreachable_wandb_with_on_unreachable_error_stops_with_one_line(tmp_path, no_wandb_server):
    with pytest.raises(SeqlabError) as error:
        build_loggers(online("error"), tmp_path, {"seed": 1})
    message = str(error.value)
    assert "127.0.0.1:9" in message and "logger.wandb.offline=true" in message
    assert "\n" not in message
    assert not (tmp_path / "wandb").exists()


def test_on_unreachable_takes_only_offline_or_error():
    from conftest import compose_train

    with pytest.raises(SeqlabError, match=r"logger\.wandb\.on_unreachable"):
        compose_train(["logger.wandb.on_unreachable=retry"])


@pytest.mark.slow
def test_the_cli_stops_with_status_2_when_asked_to(tmp_path):
    result = run_cli(
        "seqlab.cli.train",
        "debug=fast",
        "logger.wandb.enabled=true",
        "logger.wandb.offline=false",
        "logger.wandb.on_unreachable=error",
        f"hydra.run.dir={tmp_path}/run",
        env={
            **wandb_env(tmp_path / "wandb"),
            "WANDB_BASE_URL": UNREACHABLE,
            "WANDB_API_KEY": "x" * 40,
            "WANDB_MODE": "",
        },
        timeout=120,
    )
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("seqlab: error")]
    assert len(errors) == 1 and "unreachable" in errors[0]
