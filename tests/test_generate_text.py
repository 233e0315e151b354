"""task=generate on text: class-conditioned messages (experiment=sms_generate_gru).

Teacher-forcing steps, padding never counted, perplexity and the unigram baseline against
hand computations, seeded and conditioned sampling, refusals, and a small run end to end:
train a generator and a classifier on a synthetic two-class corpus, seqlab-generate writes
and judges the messages."""

import json
import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from seqlab.config import GenerateConfig, PathsConfig
from seqlab.data.batch import IGNORE_LABEL, Batch, SequenceDataset
from seqlab.data.registry import build_datamodule
from seqlab.errors import SeqlabError
from seqlab.models.text_generator import TextGenerator
from seqlab.training.generate_text import _classifier_checkpoint, unigram_report

from conftest import OPTIM, compose_train, eval_config, run_cli, small_recurrent

WORDS = {
    "ham": ["ok", "see", "you", "later", "home", "love", "dinner", "soon"],
    "spam": ["win", "cash", "prize", "call", "now", "free", "txt", "claim"],
}
MODEL = small_recurrent("gru")


def write_corpus(folder, count: int = 200, seed: int = 0):
    """`ham|spam<TAB>text` lines as in the SMS file; each class has its own words."""
    rng = np.random.default_rng(seed)
    lines = []
    for i in range(count):
        label = "spam" if i % 3 == 0 else "ham"
        words = rng.choice(WORDS[label], size=int(rng.integers(2, 9)))
        lines.append(f"{label}\t{' '.join(words)}\n")
    path = folder / "sms.txt"
    path.write_text("".join(lines))
    return path


def text_data(folder) -> dict:
    write_corpus(folder)
    return {
        "kind": "text",
        "embedded": None,
        "root": str(folder),
        "train_file": "sms.txt",
        "format": "lines",
        "positive_class": "spam",
        "cache_dir": None,
        "batch_size": 8,
        "bucketing": False,
    }


@pytest.fixture
def datamodule(tmp_path):
    module = build_datamodule(text_data(tmp_path), "generate")
    module.setup("fit")
    return module


def generator(datamodule, seed: int = 0) -> TextGenerator:
    torch.manual_seed(seed)
    return TextGenerator(
        model=MODEL,
        meta=datamodule.meta.to_dict(),
        optim=OPTIM,
        metrics={"average": "binary"},
        data=None,
        fitted=datamodule.fitted_state(),
        task={"name": "generate"},
    ).eval()


def test_a_message_becomes_boundary_then_words_in_and_words_then_boundary_out(datamodule):
    tokenizer = datamodule.tokenizer
    train = datamodule.splits["train"]
    boundary = tokenizer.get_vocab_size()
    assert datamodule.meta.num_classes == boundary + 1
    assert datamodule.fitted_state()["conditions"] == ["ham", "spam"]
    text = datamodule.sample_texts("train")[0]
    words = tokenizer.encode(text).ids
    length = int(train.lengths[0])
    assert length == len(words) + 1
    tokens, classes = train.categories[0, :, 0], train.categories[0, :, 1]
    assert tokens[:length].tolist() == [boundary, *words]
    assert train.labels[0, :length].tolist() == [*words, boundary]
    label = 1 if set(text.split()) <= set(WORDS["spam"]) else 0
    assert classes[:length].tolist() == [label + 1] * length
    assert (train.labels[0, length:] == IGNORE_LABEL).all()
    assert (train.categories[0, length:] == 0).all()


def _batch(dataset: SequenceDataset, rows: list[int]) -> Batch:
    index = torch.tensor(rows)
    return dataset.batch(index, int(dataset.lengths[index].max()))


def test_padding_never_counts_in_loss_or_perplexity(datamodule):
    module = generator(datamodule)
    train = datamodule.splits["train"]
    lengths = train.lengths
    short, long = int(lengths.argmin()), int(lengths.argmax())
    assert lengths[short] < lengths[long]

    def loss_of(batch: Batch) -> float:
        with torch.no_grad():
            module._step(batch, "val")
        return module.epoch_values("val")["val/loss"]

    alone = {row: loss_of(_batch(train, [row])) for row in (short, long)}
    together = _batch(train, [short, long])
    weights = {row: int(lengths[row]) for row in (short, long)}
    expected = sum(alone[r] * weights[r] for r in alone) / sum(weights.values())
    assert loss_of(together) == pytest.approx(expected, rel=1e-5)
    scrambled = together.categories.clone()
    scrambled[0, int(lengths[short]) :, 0] = 5  # a real word where the short one is padded
    changed = Batch(together.inputs, scrambled, together.lengths, together.labels)
    assert loss_of(changed) == pytest.approx(expected, rel=1e-5)


def test_test_perplexity_is_exp_of_the_mean_nll_over_real_tokens_per_class_too(datamodule):
    module = generator(datamodule)
    test = datamodule.splits["test"]
    with torch.no_grad():
        for start in range(0, len(test), 8):
            module._step(_batch(test, list(range(start, min(start + 8, len(test))))), "test")
        values = module.epoch_values("test")
        logits = module(_batch(test, list(range(len(test))))).log_softmax(dim=-1)
    labels = test.labels[:, : logits.shape[1]]
    real = labels != IGNORE_LABEL
    nll = -logits[real].gather(1, labels[real][:, None])[:, 0]
    classes = (test.categories[:, :1, 1] - 1).expand_as(labels)[real]
    assert values["test/perplexity"] == pytest.approx(math.exp(nll.mean().item()), rel=1e-5)
    assert values["test/loss"] == pytest.approx(nll.mean().item(), rel=1e-5)
    for index, name in enumerate(("ham", "spam")):
        mine = nll[classes == index].mean().item()
        assert values[f"test/perplexity/{name}"] == pytest.approx(math.exp(mine), rel=1e-5)


def test_unigram_perplexity_matches_a_hand_computation():
    # vocabulary: 0 padding, 1 [UNK], 2 "a", 3 "b", 4 the boundary; K = 4 outside padding
    def split(messages: list[tuple[list[int], int]]) -> SequenceDataset:
        longest = max(len(words) for words, _ in messages) + 1
        labels = torch.full((len(messages), longest), IGNORE_LABEL)
        categories = torch.zeros(len(messages), longest, 2, dtype=torch.long)
        for row, (words, label) in enumerate(messages):
            labels[row, : len(words) + 1] = torch.tensor([*words, 4])
            categories[row, : len(words) + 1, 1] = label + 1
        lengths = torch.tensor([len(words) + 1 for words, _ in messages])
        return SequenceDataset(None, categories, lengths, labels)

    train = split([([2, 2, 3], 0), ([3], 1)])  # targets: a a b end | b end
    test = split([([2, 1], 0), ([3], 1)])  # targets: a unk end | b end
    report = unigram_report({"train": train, "test": test}, 5, ["ham", "spam"])
    # add-one over 4 ids, 6 training targets: unk 1/10, a 3/10, b 3/10, end 3/10
    p = {1: 0.1, 2: 0.3, 3: 0.3, 4: 0.3}
    test_tokens = [2, 1, 4, 3, 4]
    expected = math.exp(-np.mean([math.log(p[t]) for t in test_tokens]))
    assert report["unigram/perplexity"] == pytest.approx(expected)
    ham_tokens = [2, 1, 4]
    assert report["unigram/perplexity/ham"] == pytest.approx(
        math.exp(-np.mean([math.log(p[t]) for t in ham_tokens]))
    )
    # ham alone: targets a a b end (4) + 4 -> unk 1/8, a 3/8, b 2/8, end 2/8
    ham = {1: 1 / 8, 2: 3 / 8, 3: 2 / 8, 4: 2 / 8}
    assert report["unigram_class/perplexity/ham"] == pytest.approx(
        math.exp(-np.mean([math.log(ham[t]) for t in ham_tokens]))
    )


def test_sampling_is_reproducible_with_a_seed_and_stops_at_the_end(datamodule):
    module = generator(datamodule)
    classes = torch.tensor([0, 0, 1, 1, 0, 1])

    def draw(seed: int):
        return module.sample_messages(classes, 12, generator=torch.Generator().manual_seed(seed))

    (first, lengths), (again, _), (other, _) = draw(3), draw(3), draw(4)
    assert torch.equal(first, again) and not torch.equal(first, other)
    for row, length in zip(first, lengths, strict=True):
        assert 1 <= length <= 12 and (row[length:] == 0).all()
        assert (row[:length] > 1).all() and (row[:length] != module.boundary).all()


def test_conditioning_on_ham_or_spam_changes_the_samples(datamodule):
    module = generator(datamodule)
    count = 8
    ham = module.sample_messages(
        torch.zeros(count, dtype=torch.long), 10, generator=torch.Generator().manual_seed(0)
    )
    spam = module.sample_messages(
        torch.ones(count, dtype=torch.long), 10, generator=torch.Generator().manual_seed(0)
    )
    assert not torch.equal(ham[0], spam[0])


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        (["experiment=sms_generate_gru", "data.tokenizer=bpe"], "data.tokenizer=word"),
        (["experiment=sms_generate_gru", "data.max_length=20"], "data.max_length=null"),
        (["experiment=sms_generate_gru", "model=bigru"], "decoder runs forward"),
        (["task=generate", "data=sms_spam", "model=mlp"], "autoregressive recurrent decoder"),
        (["experiment=sms_generate_gru", "model.chunk=2"], "use model.chunk=1"),
        (["task=generate", "data=memory", "model=gru"], "data.kind='memory'"),
    ],
)
def test_what_text_generation_cannot_do_is_refused_in_one_line(overrides, named):
    with pytest.raises(SeqlabError) as error:
        compose_train(overrides)
    message = str(error.value)
    assert named in message and message.startswith("config: ") and "\n" not in message


def test_the_text_experiment_composes():
    config = compose_train(["experiment=sms_generate_gru"])
    assert config.task.name == "generate" and config.data.kind == "text"
    assert config.callbacks.checkpoint.monitor == "val/loss"


def _fake_checkpoint(path, task: str, kind: str, classes: list[str]):
    hparams = {
        "model": {},
        "meta": {"class_names": classes},
        "optim": {},
        "metrics": {},
        "data": {"kind": kind},
        "task": {"name": task},
    }
    torch.save({"hyper_parameters": hparams}, path)
    return str(path)


@pytest.mark.parametrize(
    ("task", "kind", "classes", "named"),
    [
        ("generate", "text", ["ham", "spam"], "a task=generate checkpoint"),
        ("tag", "events", ["no", "yes"], "a task=tag checkpoint"),
        ("classify", "events", ["ham", "spam"], "trained on events data"),
        ("classify", "text", ["neg", "pos"], "classifies ['neg', 'pos']"),
    ],
)
def test_a_classifier_that_cannot_judge_the_messages_is_refused(
    tmp_path, task, kind, classes, named
):
    path = _fake_checkpoint(tmp_path / "c.ckpt", task, kind, classes)
    with pytest.raises(SeqlabError) as error:
        _classifier_checkpoint(path, ["ham", "spam"])
    assert named in str(error.value) and "\n" not in str(error.value)


QUICK = [
    "logger.wandb.enabled=false",
    "print_config=false",
    "print_parameters=false",
    "callbacks.progress_bar=false",
    "callbacks.gradients.enabled=false",
    "data.cache_dir=null",
    "data.batch_size=16",
]


@pytest.mark.slow
def test_a_small_run_trains_samples_and_judges_messages(tmp_path):
    from seqlab.training.generate_text import generate_text
    from seqlab.training.pipeline import evaluate, train

    write_corpus(tmp_path)
    data = [f"data.root={tmp_path}", "data.train_file=sms.txt", "data.min_frequency=1"]
    small = ["model.hidden_size=16", "model.embedding_dim=8", *QUICK, *data]
    generator_dir, classifier_dir = tmp_path / "gen", tmp_path / "clf"
    metrics = train(
        compose_train(
            ["experiment=sms_generate_gru", "trainer.max_epochs=6", "optim.lr=0.01", *small],
            output_dir=generator_dir,
        )
    )
    for key in ("test/loss", "test/perplexity", "unigram/perplexity", "val/loss_best"):
        assert key in metrics, key
    assert metrics["test/perplexity"] < metrics["unigram/perplexity"]
    train(
        compose_train(
            ["experiment=sms_spam_gru", "trainer.max_epochs=6", "optim.lr=0.01", *small],
            output_dir=classifier_dir,
        )
    )
    generator_ckpt = next((generator_dir / "checkpoints").glob("epoch*.ckpt"))
    classifier_ckpt = next((classifier_dir / "checkpoints").glob("epoch*.ckpt"))
    # seqlab-eval scores the best checkpoint as the run did
    evaluated = evaluate(eval_config(generator_ckpt, tmp_path / "eval"))
    for key in ("test/loss", "test/perplexity", "test/perplexity/spam", "unigram/perplexity"):
        assert evaluated[key] == pytest.approx(metrics[key], rel=1e-6), key

    result = run_cli(
        "seqlab.cli.generate",
        f"ckpt_path={generator_ckpt}",
        "n=40",
        "temperature=0.9",
        f"classifier={classifier_ckpt}",
        f"hydra.run.dir={tmp_path / 'out'}",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = tmp_path / "out"
    assert not list(out.glob(".*.tmp"))
    lines = (out / "samples.txt").read_text().splitlines()
    assert len(lines) == 40 and all(line.strip() for line in lines)
    judged = json.loads((out / "judged.json").read_text())
    for key in ("share", "share/ham", "share/spam", "acc", "precision", "recall", "f1", "auroc"):
        assert f"judged/{key}" in judged, key
    # the corpus's classes share no word: conditioned messages must use their class's words
    assert judged["judged/share"] >= 0.9
    import pandas as pd

    table = pd.read_csv(out / "samples.csv")
    assert (table["class"].value_counts() == 20).all()
    pairs = zip(table["class"], table["text"], strict=True)
    own = [word in WORDS[label] for label, text in pairs for word in text.split()]
    assert np.mean(own) >= 0.9  # the words of the class each message was conditioned on

    def generated(folder: str) -> str:
        config = GenerateConfig(ckpt_path=str(generator_ckpt), n=10, seed=5)
        return generate_text(replace(config, paths=PathsConfig(output_dir=folder))).read_text()

    first, again = generated(str(tmp_path / "a")), generated(str(tmp_path / "b"))
    assert first == again

    refused = run_cli(
        "seqlab.cli.generate",
        f"ckpt_path={generator_ckpt}",
        f"classifier={generator_ckpt}",
        f"hydra.run.dir={tmp_path / 'refused'}",
    )
    lines = [line for line in refused.stderr.splitlines() if line.strip()]
    assert refused.returncode == 2 and len(lines) == 1 and "task=generate" in lines[0]


def test_the_real_sms_messages_become_decoder_steps_with_their_classes(shared_datasets):
    config = compose_train(["experiment=sms_generate_gru", "data.cache_dir=null"])
    module = build_datamodule(config.data, "generate")
    module.setup("fit")
    test = module.splits["test"]
    classes = test.categories[:, 0, 1] - 1
    assert len(test) == 1115 and int((classes == 1).sum()) == 149  # 20%, stratified
    real = test.labels != IGNORE_LABEL
    assert torch.equal(real.sum(dim=1), test.lengths)
    report = unigram_report(module.splits, module.meta.num_classes, ["ham", "spam"])
    # a smoothed unigram beats the uniform guess over the K = num_classes - 1 ids
    assert 1 < report["unigram/perplexity"] < module.meta.num_classes - 1
    assert report["unigram_class/perplexity"] < report["unigram/perplexity"]
