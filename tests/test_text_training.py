"""Short real trainings on a tiny text set: the CLI config path, eval from checkpoint, DDP."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from seqlab.training.pipeline import evaluate, train

from conftest import (
    EXPECTED_KEYS,
    REPO_ROOT,
    compose_train,
    corpus,
    eval_config,
    quick_overrides,
    write_lines,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def tiny_files(tmp_path):
    write_lines(tmp_path / "train.txt", corpus(120))
    write_lines(tmp_path / "test.txt", corpus(40, seed=1))
    return [
        "data=text",
        f"data.root={tmp_path}",
        "data.train_file=train.txt",
        "data.test_file=test.txt",
        f"data.cache_dir={tmp_path / 'cache'}",
        "data.batch_size=16",
        "optim.lr=0.01",
        "optim.scheduler=none",  # a constant rate: six epochs are too few for a cosine decay
        "trainer.max_epochs=6",
    ]


@pytest.mark.parametrize("model", ["bilstm", "mlp"])
def test_a_text_model_learns_and_evaluates_from_its_checkpoint(tmp_path, tiny_files, model):
    extra = ["model.input=mean", "model.hidden_sizes=[16]"] if model == "mlp" else []
    config = compose_train(
        quick_overrides(*tiny_files, f"model={model}", "model.embedding_dim=16", *extra),
        output_dir=tmp_path / "train",
    )
    trained = train(config)
    assert set(trained) == EXPECTED_KEYS
    assert trained["test/acc"] >= 0.9  # the two classes use different words
    best = next((tmp_path / "train" / "checkpoints").glob("epoch*.ckpt"))
    evaluated = evaluate(eval_config(best, tmp_path / "eval"))
    test_metrics = {k: v for k, v in trained.items() if k.startswith("test/")}
    assert evaluated == pytest.approx(test_metrics, abs=1e-7)


DDP_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    import lightning as L
    from seqlab.data.registry import build_datamodule
    from seqlab.models.classifier import SequenceClassifier

    folder = Path(sys.argv[1])

    class Record(L.Callback):
        def on_train_epoch_start(self, trainer, module):
            sampler = trainer.train_dataloader.sampler
            record = {
                "sampler": type(sampler).__name__,
                "rank": sampler.rank,
                "replicas": sampler.num_replicas,
                "batches": list(sampler),
                "loader_len": len(trainer.train_dataloader),
            }
            name = f"rank{trainer.global_rank}-epoch{trainer.current_epoch}.json"
            (folder / name).write_text(json.dumps(record))

    data = build_datamodule({"kind": "text", "root": str(folder), "train_file": "train.txt",
                             "test_file": "test.txt", "cache_dir": str(folder / "cache"),
                             "batch_size": 4})
    data.setup("fit")
    model = {"kind": "recurrent", "cell": "gru", "hidden_size": 8, "num_layers": 1,
             "bidirectional": False, "dropout": 0.0, "pooling": "last", "single_bias": False,
             "embedding_dim": 8, "embedding_dropout": 0.0, "freeze_embeddings": False}
    optim = {"name": "adam", "lr": 0.01, "weight_decay": 0.0, "momentum": 0.9,
             "scheduler": "none", "class_weights": None}
    module = SequenceClassifier(model=model, meta=data.meta.to_dict(), optim=optim,
                                metrics={"average": "macro"})
    trainer = L.Trainer(accelerator="cpu", devices=2, strategy="ddp", max_epochs=2,
                        logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, callbacks=[Record()])
    trainer.fit(module, datamodule=data)
    """
)


@pytest.mark.ddp
def test_ddp_ranks_train_on_disjoint_bucketed_batches(tmp_path):
    write_lines(tmp_path / "train.txt", corpus(90))  # 81 train rows: 21 batches of 4 -> 22
    write_lines(tmp_path / "test.txt", corpus(20, seed=1))
    script = tmp_path / "ddp_text.py"
    script.write_text(DDP_SCRIPT)
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT / "src")},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    for epoch in (0, 1):
        ranks = [json.loads((tmp_path / f"rank{r}-epoch{epoch}.json").read_text()) for r in (0, 1)]
        assert [r["sampler"] for r in ranks] == ["BucketBatchSampler"] * 2  # not replaced
        assert [(r["rank"], r["replicas"]) for r in ranks] == [(0, 2), (1, 2)]
        assert len(ranks[0]["batches"]) == len(ranks[1]["batches"]) == ranks[0]["loader_len"]
        seen = [{i for batch in r["batches"] for i in batch} for r in ranks]
        assert seen[0].isdisjoint(seen[1]) and len(seen[0] | seen[1]) == 81
    first = json.loads((tmp_path / "rank0-epoch0.json").read_text())["batches"]
    assert first != json.loads((tmp_path / "rank0-epoch1.json").read_text())["batches"]
