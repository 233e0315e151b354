"""seqlab-predict and seqlab-eval input=...: from the checkpoint alone (the training data deleted),
every data kind's input formats with and without labels, metrics equal to seqlab-eval, bad input
refused with one line and nothing written, old checkpoints re-exported."""

import gzip
import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
from hydra import compose, initialize_config_dir

from seqlab import config_dir
from seqlab.config import EvalConfig, PredictConfig, validate
from seqlab.data.registry import data_config
from seqlab.errors import SeqlabError
from seqlab.training.pipeline import evaluate, train
from seqlab.training.predict import predict

from conftest import (
    ONE_THREAD,
    compose_train,
    corpus,
    events_config,
    quick_overrides,
    run_cli,
    subprocess_env,
    synthetic_events,
    write_lines,
)

pytestmark = pytest.mark.slow
TEST_KEYS = {f"test/{m}" for m in ("acc", "auroc", "f1", "loss", "precision", "recall")}


def compose_config(name: str, schema: type, out: Path, *overrides: str) -> dict:
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        cfg = compose(name, overrides=[*overrides, f"paths.output_dir={out}"])
    return validate(cfg, schema)


def run_predict(ckpt: Path, source: Path | str, out: Path, *overrides: str) -> dict:
    return predict(
        compose_config(
            "predict", PredictConfig, out, f"ckpt_path={ckpt}", f"input={source}", *overrides
        )
    )


def run_eval(ckpt: Path, source: Path, out: Path, *overrides: str) -> dict:
    config = compose_config(
        "eval", EvalConfig, out, f"ckpt_path={ckpt}", f"input={source}", "logger=csv", *overrides
    )
    return evaluate(config)


def ucr_rows(count: int, seed: int, length: int = 12, labelled: bool = True) -> list[str]:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(count):
        label = i % 2 + 1
        values = np.sin(np.linspace(0, 3, length) * label) + rng.normal(0, 0.3, length)
        rows.append(",".join(([str(label)] if labelled else []) + [f"{v:.5f}" for v in values]))
    return rows


def ts_file(path: Path, rows: list[str], labelled: bool) -> Path:
    """The same series as .ts; rows are UCR 2015 rows with the label first."""
    label_line = "@classLabel true 1 2" if labelled else "@classLabel false"
    header = f"@problemName Toy\n@univariate true\n{label_line}\n@data\n"
    body = []
    for row in rows:
        label, *values = row.split(",")
        body.append(",".join(values) + (f":{label}" if labelled else ""))
    path.write_text(header + "\n".join(body) + "\n")
    return path


def best_checkpoint(run_dir: Path) -> Path:
    return next((run_dir / "checkpoints").glob("epoch*.ckpt"))


@pytest.fixture(scope="module")
def ucr(tmp_path_factory):
    """An MLP trained on toy UCR files that are deleted afterwards; copies of the test file kept."""
    root = tmp_path_factory.mktemp("ucr")
    data, kept = root / "data", root / "kept"
    data.mkdir(), kept.mkdir()
    test_rows = ucr_rows(21, seed=1)
    (data / "Toy_TRAIN").write_text("\n".join(ucr_rows(40, seed=0)) + "\n")
    (data / "Toy_TEST").write_text("\n".join(test_rows) + "\n")
    shutil.copy(data / "Toy_TEST", kept / "test.txt")
    overrides = quick_overrides(
        f"data.root={data}", "data.name=Toy", "model=mlp", "model.hidden_sizes=[16]", "logger=csv"
    )
    metrics = train(compose_train(overrides, output_dir=root / "train"))
    shutil.rmtree(data)
    return SimpleNamespace(
        ckpt=best_checkpoint(root / "train"),
        metrics=metrics,
        test=kept / "test.txt",
        rows=test_rows,
        data=data,
        kept=kept,
    )


def test_ucr_after_the_data_is_deleted_eval_and_predict_equal_training(ucr, tmp_path):
    evaluated = run_eval(ucr.ckpt, ucr.test, tmp_path / "eval")
    assert set(evaluated) == TEST_KEYS
    for key in TEST_KEYS:
        assert evaluated[key] == pytest.approx(ucr.metrics[key], abs=1e-6), key
    predicted = run_predict(ucr.ckpt, ucr.test, tmp_path / "predict")
    assert predicted == evaluated
    written = json.loads((tmp_path / "predict" / "metrics.json").read_text())
    assert written == json.loads((tmp_path / "eval" / "metrics.json").read_text())
    table = pd.read_csv(
        tmp_path / "predict" / "predictions.csv", dtype={"predicted": str, "label": str}
    )
    assert list(table.columns) == ["id", "predicted", "p_1", "p_2", "label"]
    assert list(table["id"]) == list(range(21))
    assert list(table["label"]) == [row.split(",")[0] for row in ucr.rows]
    assert (table["predicted"] == table["label"]).mean() == pytest.approx(predicted["test/acc"])
    assert np.allclose(table[["p_1", "p_2"]].sum(axis=1), 1.0, atol=1e-6)


def test_ucr_without_labels_and_as_ts_give_the_same_predictions(ucr, tmp_path):
    run_predict(ucr.ckpt, ucr.test, tmp_path / "labelled")
    expected = pd.read_csv(tmp_path / "labelled" / "predictions.csv")
    unlabelled = tmp_path / "unlabelled.txt"
    unlabelled.write_text("\n".join(r.split(",", 1)[1] for r in ucr.rows) + "\n")
    inputs = {
        "ucr2015": unlabelled,
        "ts-labelled": ts_file(tmp_path / "l.ts", ucr.rows, labelled=True),
        "ts-unlabelled": ts_file(tmp_path / "u.ts", ucr.rows, labelled=False),
    }
    for name, source in inputs.items():
        metrics = run_predict(ucr.ckpt, source, tmp_path / name)
        table = pd.read_csv(tmp_path / name / "predictions.csv")
        labelled = name == "ts-labelled"
        assert ("label" in table.columns) == labelled and bool(metrics) == labelled, name
        assert (tmp_path / name / "metrics.json").exists() == labelled
        pd.testing.assert_frame_equal(table, expected[list(table.columns)])


def test_top_k_and_parquet_output(ucr, tmp_path):
    run_predict(ucr.ckpt, ucr.test, tmp_path, "output.top_k=1", "output.format=parquet")
    table = pd.read_parquet(tmp_path / "predictions.parquet")
    assert list(table.columns) == ["id", "predicted", "top1", "top1_p", "label"]
    assert (table["top1"] == table["predicted"]).all() and (table["top1_p"] >= 0.5).all()


def bad_ucr_inputs(folder: Path, rows: list[str]) -> dict[str, tuple[Path, str]]:
    two_channels = folder / "two.ts"
    two_channels.write_text("@classLabel true 1 2\n@data\n1,2,3:4,5,6:1\n")
    short = ts_file(folder / "short.ts", [",".join(r.split(",")[:11]) for r in rows], True)
    unseen = folder / "unseen.txt"
    unseen.write_text("\n".join(["7" + r[1:] for r in rows[:3]]) + "\n")
    empty = folder / "empty.txt"
    empty.write_text("\n")
    garbage = folder / "garbage.txt"
    garbage.write_text("1,abc,def\n")
    return {
        "channels": (two_channels, "has 2 channel(s); the model was trained on 1"),
        "length": (short, "has 10 steps; the MLP (model.input=flatten) takes exactly 12"),
        "unseen label": (unseen, "label '7' was never seen in training (classes: 1, 2)"),
        "empty": (empty, "empty input"),
        "missing": (folder / "absent.txt", "file not found"),
        "unreadable": (garbage, "rows of 3 values; the model was trained on series of 12"),
    }


def test_bad_ucr_input_fails_naming_the_problem_and_writes_nothing(ucr, tmp_path):
    for name, (source, message) in bad_ucr_inputs(tmp_path, ucr.rows).items():
        out = tmp_path / name
        with pytest.raises(SeqlabError, match=None) as error:
            run_predict(ucr.ckpt, source, out)
        assert message in str(error.value), (name, str(error.value))
        assert not (out / "predictions.csv").exists() and not (out / "metrics.json").exists()


def test_bad_input_on_the_command_line_is_one_line_and_exit_2(ucr, tmp_path):
    source, message = bad_ucr_inputs(tmp_path, ucr.rows)["unseen label"]
    run_dir = tmp_path / "run"
    result = run_cli(
        "seqlab.cli.predict", f"ckpt_path={ucr.ckpt}", f"input={source}", f"hydra.run.dir={run_dir}"
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("seqlab: error: ") and message in lines[-1]
    assert not list(run_dir.glob("predictions*")) and not (run_dir / "metrics.json").exists()


def test_an_old_checkpoint_names_the_re_export_which_makes_it_work(ucr, tmp_path):
    checkpoint = torch.load(ucr.ckpt, map_location="cpu", weights_only=True)
    del checkpoint["hyper_parameters"]["fitted"]
    old = tmp_path / "old.ckpt"
    torch.save(checkpoint, old)
    with pytest.raises(SeqlabError, match=f"seqlab-export ckpt_path={old} format=ckpt"):
        run_predict(old, ucr.test, tmp_path / "refused")
    # the training data back in place, as the message asks
    ucr.data.mkdir()
    try:
        (ucr.data / "Toy_TRAIN").write_text("\n".join(ucr_rows(40, seed=0)) + "\n")
        shutil.copy(ucr.test, ucr.data / "Toy_TEST")
        result = run_cli(
            "seqlab.cli.export",
            f"ckpt_path={old}",
            "format=ckpt",
            f"hydra.run.dir={tmp_path / 'export'}",
        )
        assert result.returncode == 0, result.stderr[-2000:]
    finally:
        shutil.rmtree(ucr.data)
    reexported = tmp_path / "export" / "checkpoints" / "old.ckpt"
    assert run_predict(reexported, ucr.test, tmp_path / "new") == run_predict(
        ucr.ckpt, ucr.test, tmp_path / "orig"
    )


def test_export_cli_writes_a_model_that_onnxruntime_runs_from_the_sidecar(ucr, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    for file_format, file in (("onnx", "model.onnx"), ("torchscript", "model.pt")):
        result = run_cli(
            "seqlab.cli.export",
            f"ckpt_path={ucr.ckpt}",
            f"format={file_format}",
            f"hydra.run.dir={tmp_path / file_format}",
        )
        assert result.returncode == 0, result.stderr[-2000:]
        sidecar = json.loads((tmp_path / file_format / "model.json").read_text())
        assert sidecar["file"] == file and sidecar["class_names"] == ["1", "2"]
        assert sidecar["input_spec"]["fixed_length"] == 12
    # what a user without seqlab does: scale with the sidecar's statistics, run, read the names
    sidecar = json.loads((tmp_path / "onnx" / "model.json").read_text())
    scaler = sidecar["preprocessing"]["scaler"]
    rows = np.loadtxt(ucr.test, delimiter=",", dtype=np.float32)
    x = ((rows[:, 1:, None] - scaler["mean"]) / scaler["scale"]).astype(np.float32)
    session = ort.InferenceSession(str(tmp_path / "onnx" / "model.onnx"))
    lengths = np.full(len(x), x.shape[1], dtype=np.int64)
    probabilities = session.run(None, {"inputs": x, "lengths": lengths})[0]
    run_predict(ucr.ckpt, ucr.test, tmp_path / "predict")
    table = pd.read_csv(tmp_path / "predict" / "predictions.csv")
    assert np.abs(probabilities - table[["p_1", "p_2"]].to_numpy()).max() <= 1e-5


@pytest.mark.ddp
@pytest.mark.parametrize("labelled", [True, False])
def test_two_processes_write_the_same_bytes_as_one(ucr, tmp_path, labelled):
    """Under DDP Lightning's trainer.test (labelled) or trainer.predict runs, in one CPU process
    seqlab's own loop: both give the same predictions.csv, and the same metrics.json."""
    source = ucr.test
    if not labelled:
        source = tmp_path / "unlabelled.txt"
        source.write_text("\n".join(r.split(",", 1)[1] for r in ucr.rows) + "\n")
    outputs, metrics = {}, {}
    for name, extra in (("single", []), ("ddp", ["trainer=ddp_cpu"])):
        run_dir = tmp_path / name
        result = run_cli(
            "seqlab.cli.predict",
            f"ckpt_path={ucr.ckpt}",
            f"input={source}",
            "batch_size=4",
            f"hydra.run.dir={run_dir}",
            *extra,
            env=ONE_THREAD,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        outputs[name] = (run_dir / "predictions.csv").read_bytes()
        assert len(outputs[name].splitlines()) == 22  # 21 inputs, each once, and the header
        metrics[name] = (run_dir / "metrics.json").read_bytes() if labelled else None
        assert (run_dir / "metrics.json").exists() == labelled
    assert outputs["ddp"] == outputs["single"]
    assert metrics["ddp"] == metrics["single"]


HEAVY = {"lightning", "wandb", "torchmetrics", "sklearn"}


@pytest.mark.parametrize("command", ["predict", "export"])
def test_one_cpu_process_imports_neither_lightning_nor_wandb(ucr, tmp_path, command):
    """seqlab-predict (labelled input: metrics too) and seqlab-export run the network alone;
    the modules that take seconds to import stay out, and the outputs are written."""
    run_dir = tmp_path / command
    arguments = [f"ckpt_path={ucr.ckpt}", f"hydra.run.dir={run_dir}"]
    if command == "predict":
        arguments.append(f"input={ucr.test}")
    probe = (
        f"import sys; sys.argv = ['seqlab-{command}', *sys.argv[1:]]\n"
        f"from seqlab.cli.{command} import main\n"
        "try: main()\nexcept SystemExit as stop: assert not stop.code, stop.code\n"
        f"print('HEAVY', sorted(set({sorted(HEAVY)}) & {{m.split('.')[0] for m in sys.modules}}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, *arguments],
        capture_output=True,
        text=True,
        timeout=300,
        env=subprocess_env(ONE_THREAD),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "HEAVY []" in result.stdout.splitlines(), result.stdout[-2000:]
    written = {"predict": ["predictions.csv", "metrics.json"], "export": ["model.onnx"]}
    assert all((run_dir / name).is_file() for name in written[command])


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_standardize_is_scikit_learn_transform_to_the_bit(dtype):
    """Prediction scales new data from the stored state without importing scikit-learn."""
    from sklearn.preprocessing import StandardScaler

    from seqlab.data.scaler import scaler_state, standardize

    rng = np.random.default_rng(3)
    train = rng.normal(2.0, 3.0, size=(200, 3)).astype(dtype)
    train[:, 2] = 7  # a constant channel: scale 1
    scaler = StandardScaler().fit(train)
    new = rng.normal(1.0, 4.0, size=(50, 3)).astype(dtype)
    ours, theirs = standardize(new, scaler_state(scaler)), scaler.transform(new)
    assert ours.dtype == theirs.dtype
    assert np.array_equal(ours, theirs)


# -- text ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def text(tmp_path_factory):
    root = tmp_path_factory.mktemp("text")
    data, kept = root / "data", root / "kept"
    data.mkdir(), kept.mkdir()
    write_lines(data / "train.txt", corpus(80))
    rows = corpus(15, seed=1)
    write_lines(data / "test.txt", rows)
    shutil.copy(data / "test.txt", kept / "test.txt")
    overrides = quick_overrides(
        "data=text",
        f"data.root={data}",
        "data.train_file=train.txt",
        "data.test_file=test.txt",
        f"data.cache_dir={data / 'cache'}",
        "data.batch_size=8",
        "model=bilstm",
        "model.hidden_size=8",
        "model.embedding_dim=8",
        "logger=csv",
        "trainer.max_epochs=2",
    )
    metrics = train(compose_train(overrides, output_dir=root / "train"))
    shutil.rmtree(data)
    return SimpleNamespace(
        ckpt=best_checkpoint(root / "train"), metrics=metrics, test=kept / "test.txt", rows=rows
    )


def test_text_formats_with_and_without_labels_give_the_same_predictions(text, tmp_path):
    evaluated = run_eval(text.ckpt, text.test, tmp_path / "eval")
    for key in TEST_KEYS:
        assert evaluated[key] == pytest.approx(text.metrics[key], abs=1e-5), key
    assert run_predict(text.ckpt, text.test, tmp_path / "lines") == evaluated
    expected = pd.read_csv(tmp_path / "lines" / "predictions.csv")
    assert list(expected["label"]) == [label for label, _ in text.rows]
    frame = pd.DataFrame(
        {
            "key": [f"k{i}" for i in range(len(text.rows))],
            "body": [t for _, t in text.rows],
            "topic": [label for label, _ in text.rows],
        }
    )
    plain = tmp_path / "plain.txt"
    plain.write_text("".join(f"{t}\n" for _, t in text.rows))
    frame.to_csv(tmp_path / "t.csv", index=False)
    frame.to_csv(tmp_path / "t.tsv", index=False, sep="\t")
    frame.to_json(tmp_path / "t.jsonl", orient="records", lines=True)
    frame.to_parquet(tmp_path / "t.parquet", index=False)
    columns = ["reader.text_column=body", "reader.label_column=topic", "reader.id_column=key"]
    inputs = {"plain": (plain, [])} | {
        suffix: (tmp_path / f"t.{suffix}", columns) for suffix in ("csv", "tsv", "jsonl", "parquet")
    }
    for name, (source, overrides) in inputs.items():
        metrics = run_predict(text.ckpt, source, tmp_path / name, *overrides)
        table = pd.read_csv(tmp_path / name / "predictions.csv")
        assert ("label" in table) == (name != "plain") and bool(metrics) == (name != "plain")
        if name != "plain":
            assert metrics == evaluated and list(table["id"]) == list(frame["key"])
        probabilities = [c for c in expected.columns if c.startswith("p_")]
        np.testing.assert_allclose(table[probabilities], expected[probabilities], atol=1e-7)


def test_text_from_standard_input_counts_unknown_tokens(text, tmp_path):
    import subprocess
    import sys

    from conftest import REPO_ROOT, subprocess_env

    lines = "".join(f"{t} zyzzyva\n" for _, t in text.rows)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "seqlab.cli.predict",
            f"ckpt_path={text.ckpt}",
            "input=-",
            f"hydra.run.dir={tmp_path}",
        ],
        input=lines,
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env=subprocess_env(),
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    table = pd.read_csv(tmp_path / "predictions.csv")
    assert len(table) == len(text.rows) and "label" not in table
    log = (tmp_path / "predict.log").read_text()
    assert (tmp_path / "stdin.txt").read_text() == lines
    assert f"stdin.txt: {len(text.rows)} token(s) never seen in training became [UNK]" in log


# -- events --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def events(tmp_path_factory):
    root = tmp_path_factory.mktemp("events")
    log = synthetic_events(entities=90)
    path = root / "events.csv"
    log.to_csv(path, index=False)
    config = compose_train(
        quick_overrides("model=gru", "model.hidden_size=8", "logger=csv"), output_dir=root / "train"
    )
    config.data = data_config(events_config(path))
    metrics = train(config)
    path.unlink()
    return SimpleNamespace(ckpt=best_checkpoint(root / "train"), metrics=metrics, log=log)


def test_event_logs_with_and_without_labels(events, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="seqlab")
    full = tmp_path / "full.csv"
    events.log.to_csv(full, index=False)
    evaluated = run_eval(events.ckpt, full, tmp_path / "eval")
    assert run_predict(events.ckpt, full, tmp_path / "full") == evaluated
    table = pd.read_csv(tmp_path / "full" / "predictions.csv")
    first_seen = list(dict.fromkeys(events.log["customer"]))
    assert list(table["id"]) == [c for c in first_seen if c in set(table["id"])]
    history = events.log[pd.to_datetime(events.log["ts"]) < pd.Timestamp("2020-04-01")].copy()
    history.loc[history.index[:5], "item"] = "never-seen"
    cut = tmp_path / "history.csv"
    history.to_csv(cut, index=False)
    assert run_predict(events.ckpt, cut, tmp_path / "history") == {}
    unlabelled = pd.read_csv(tmp_path / "history" / "predictions.csv")
    assert "label" not in unlabelled and list(unlabelled["id"]) == list(table["id"])
    assert "events get the rare/unseen id" in caplog.text


def test_standard_input_for_a_non_text_checkpoint_is_one_error(ucr, tmp_path):
    with pytest.raises(SeqlabError, match="standard input carries text lines") as error:
        run_predict(ucr.ckpt, "-", tmp_path / "out")
    assert "ucr" in str(error.value)
    assert not list((tmp_path / "out").glob("predictions*"))


def test_generated_data_has_no_input_files_to_predict(tmp_path):
    run_dir = tmp_path / "memory"
    overrides = quick_overrides(
        "data=memory",
        "data.length=6",
        "data.num_train=64",
        "data.num_val=16",
        "data.num_test=16",
        "model=gru",
        "model.hidden_size=8",
        "trainer.max_epochs=1",
    )
    train(compose_train(overrides, run_dir))
    source = tmp_path / "anything.txt"
    source.write_text("1 2 3\n")
    with pytest.raises(SeqlabError, match="this data kind generates its data"):
        run_predict(best_checkpoint(run_dir), source, tmp_path / "out")
    assert not list((tmp_path / "out").glob("predictions*"))


def test_a_compressed_or_binary_input_is_one_line_and_writes_nothing(text, tmp_path):
    packed = tmp_path / "test.txt.gz"
    packed.write_bytes(gzip.compress(text.test.read_bytes()))
    with pytest.raises(
        SeqlabError, match=r"test.txt.gz: a gzip-compressed file; decompress it first \(gunzip "
    ):
        run_predict(text.ckpt, packed, tmp_path / "gz")
    binary = tmp_path / "weights.bin"
    binary.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(SeqlabError, match=r"weights.bin: a binary file \(it holds NUL bytes\)"):
        run_predict(text.ckpt, binary, tmp_path / "bin")
    assert not list(tmp_path.rglob("predictions.*"))


def test_a_csv_given_to_a_model_trained_on_lines_is_read_by_its_suffix(tmp_path, caplog):
    """Its header is not predicted as a text, and a quoted newline stays inside its text."""
    from seqlab.data.input_config import ReaderConfig
    from seqlab.data.text.config import TextDataConfig
    from seqlab.data.text.predict import read_texts
    from seqlab.schema import to_dataclass

    table = tmp_path / "new.csv"
    table.write_text('text,label\n"first, with a comma",ham\n"two\nlines",spam\n')
    config = to_dataclass(TextDataConfig, {"format": "lines"})
    with caplog.at_level(logging.WARNING):
        rows = read_texts(config, ("ham", "spam"), str(table), ReaderConfig())
    assert rows.texts == ["first, with a comma", "two\nlines"]
    assert rows.labels == ["ham", "spam"]
    assert "read as csv by its suffix (the model was trained on lines files" in caplog.text


def test_eval_finds_moved_data_and_caches_where_told_never_where_training_did(tmp_path):
    data, moved = tmp_path / "data", tmp_path / "moved"
    data.mkdir()
    write_lines(data / "train.txt", corpus(60))
    write_lines(data / "test.txt", corpus(15, seed=1))
    trained_cache = tmp_path / "training-cache"
    overrides = quick_overrides(
        "data=text",
        f"data.root={data}",
        "data.train_file=train.txt",
        "data.test_file=test.txt",
        f"data.cache_dir={trained_cache}",
        "model=gru",
        "model.hidden_size=8",
        "model.embedding_dim=8",
        "logger=csv",
        "trainer.max_epochs=1",
    )
    metrics = train(compose_train(overrides, output_dir=tmp_path / "train"))
    data.rename(moved)
    shutil.rmtree(trained_cache)
    here = tmp_path / "eval-cache"
    config = compose_config(
        "eval",
        EvalConfig,
        tmp_path / "eval",
        f"ckpt_path={best_checkpoint(tmp_path / 'train')}",
        f"data.root={moved}",
        f"data.cache_dir={here}",
        "logger=csv",
    )
    evaluated = evaluate(config)
    for key in TEST_KEYS:
        assert evaluated[key] == pytest.approx(metrics[key], abs=1e-5), key
    assert list((here / "text").glob("*/*.arrow"))
    assert not trained_cache.exists()
