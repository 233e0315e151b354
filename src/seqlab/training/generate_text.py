"""task=generate on text: the unigram baseline after the test, and seqlab-generate for text.

Unigram baseline: each token's share of the training messages' targets (the words, [UNK] and
the end of message; padding never), add-one smoothed over the decoder's whole output
vocabulary (p(w) = (count(w) + 1) / (N + K), K = the vocabulary without padding), scored on
the test messages' targets like the decoder: `unigram/perplexity` = exp(mean -log p(w)). Per
class, the same unigram on that class's test messages (`unigram/perplexity/<class>`), and a
unigram fitted on that class's training messages alone (`unigram_class/...`), the baseline
that knows the condition too.

seqlab-generate ckpt_path=<text generate ckpt> n=1000: n messages, split evenly over the
classes (class by class in blocks; the first n mod classes get one more), sampled in batches
(one decoder step for all messages of a batch at once), written as samples.txt (one message a
line) and samples.csv (sample, class, text). With classifier=<task=classify ckpt of the same
classes>, that classifier reads samples.csv through seqlab-predict's code path
(predictions.csv: its call on each message) and judged.json holds the share of messages it
assigns to the class they were conditioned on, overall and per class, and its five metrics
against the conditioned class (`judged/{acc,precision,recall,f1,auroc,loss}`).
"""

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from seqlab.config import GenerateConfig
from seqlab.data.batch import IGNORE_LABEL, PAD_ID, SequenceDataset
from seqlab.data.text.generate import message_classes
from seqlab.errors import SeqlabError
from seqlab.files import atomic_path, write_text_atomic
from seqlab.models.tasks import TaskName, task_of

MESSAGES = 4096  # messages per sampling call: bounds the (messages x vocabulary) logits
TEXT_FILE, CSV_FILE, JUDGED_FILE = "samples.txt", "samples.csv", "judged.json"


def unigram_report(
    splits: dict[str, SequenceDataset], vocabulary: int, conditions: list[str]
) -> dict[str, float]:
    """The unigram baselines' perplexities on the test messages (module docstring)."""
    train_tokens, train_classes = _targets(splits["train"])
    test_tokens, test_classes = _targets(splits["test"])
    everyone = _unigram(train_tokens, vocabulary)
    metrics = {"unigram/perplexity": _perplexity(everyone, test_tokens)}
    own = np.zeros(len(test_tokens))
    for index, name in enumerate(conditions):
        mine = test_classes == index
        fitted = _unigram(train_tokens[train_classes == index], vocabulary)
        own[mine] = -np.log(fitted[test_tokens[mine]])
        metrics[f"unigram/perplexity/{name}"] = _perplexity(everyone, test_tokens[mine])
        metrics[f"unigram_class/perplexity/{name}"] = _perplexity(fitted, test_tokens[mine])
    metrics["unigram_class/perplexity"] = float(np.exp(own.mean()))
    return metrics


def _targets(split: SequenceDataset) -> tuple[np.ndarray, np.ndarray]:
    """Every real target token of a split and the class of its message."""
    labels = split.labels
    real = labels != IGNORE_LABEL
    classes = message_classes(split.categories)[:, None].expand_as(labels)
    return labels[real].numpy(), classes[real].numpy()


def _unigram(tokens: np.ndarray, vocabulary: int) -> np.ndarray:
    """Add-one smoothed token probabilities over ids 1..vocabulary-1 (padding, id 0, gets 0)."""
    counts = np.bincount(tokens, minlength=vocabulary).astype(np.float64) + 1.0
    counts[PAD_ID] = 0.0
    return counts / counts.sum()


def _perplexity(probabilities: np.ndarray, tokens: np.ndarray) -> float:
    return float(np.exp(-np.log(probabilities[tokens]).mean()))


# -- seqlab-generate ------------------------------------------------------------------------


def generates_text(ckpt_path: str) -> bool:
    """Whether the checkpoint is a task=generate run on text data."""
    from seqlab.models.modules import read_checkpoint

    hparams = read_checkpoint(ckpt_path)["hyper_parameters"]
    return task_of(hparams.get("task")).samples and hparams["data"].get("kind") == "text"


def generate_text(config: GenerateConfig) -> Path:
    """seqlab-generate on a text checkpoint: samples.txt, samples.csv (and with a classifier,
    judged.json and predictions.csv) in the run dir; returns samples.txt's path."""
    import pandas as pd
    from tokenizers import Tokenizer

    from seqlab.models.modules import load_module, sampling
    from seqlab.models.text_generator import TextGenerator

    module, _ = load_module(config.ckpt_path, sampling)
    assert isinstance(module, TextGenerator)  # generates_text chose this path
    module.eval()
    if config.classifier:  # refused before anything is sampled
        _classifier_checkpoint(config.classifier, module.conditions)
    classes = torch.arange(config.n) * len(module.conditions) // config.n
    tokens, lengths = sample_messages(module, classes, config)
    tokenizer = Tokenizer.from_str(module.hparams["fitted"]["tokenizer"])
    texts = tokenizer.decode_batch(
        [row[:length].tolist() for row, length in zip(tokens, lengths, strict=True)]
    )
    run_dir = Path(config.paths.output_dir)
    write_text_atomic(run_dir / TEXT_FILE, "".join(f"{text}\n" for text in texts))
    names = np.array(module.conditions, dtype=object)[classes.numpy()]
    table = pd.DataFrame({"sample": np.arange(len(texts)), "class": names, "text": texts})
    with atomic_path(run_dir / CSV_FILE) as temporary:
        table.to_csv(temporary, index=False)
    if config.classifier:
        judged = judge(config.classifier, run_dir / CSV_FILE, module.conditions, run_dir)
        judged |= {"judged/temperature": config.temperature, "judged/messages": len(texts)}
        write_text_atomic(run_dir / JUDGED_FILE, json.dumps(judged, indent=2) + "\n")
        print(f"wrote {run_dir / JUDGED_FILE}: share {judged['judged/share']:.4f}")
    return run_dir / TEXT_FILE


def sample_messages(
    module: Any, classes: torch.Tensor, config: GenerateConfig
) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids (messages, steps) and lengths of one message per class index in `classes`,
    from one seeded stream, in calls of at most MESSAGES messages; at most as many tokens as
    the longest message of the checkpoint's data."""
    generator = torch.Generator().manual_seed(config.seed)
    max_steps = int(module.hparams["meta"]["max_length"])
    parts = [
        module.sample_messages(
            classes[start : start + MESSAGES],
            max_steps,
            temperature=config.temperature,
            greedy=config.greedy,
            generator=generator,
        )
        for start in range(0, len(classes), MESSAGES)
    ]
    width = max(tokens.shape[1] for tokens, _ in parts)
    tokens = torch.cat(
        [torch.nn.functional.pad(t, (0, width - t.shape[1]), value=PAD_ID) for t, _ in parts]
    )
    return tokens, torch.cat([lengths for _, lengths in parts])


def _classifier_checkpoint(path: str, conditions: list[str]) -> None:
    """Refuse, in one line, a classifier that cannot judge these messages."""
    from seqlab.models.modules import read_checkpoint

    hparams = read_checkpoint(path)["hyper_parameters"]
    task = task_of(hparams.get("task")).name
    if task != TaskName.classify:
        raise SeqlabError(
            f"classifier={path}: a task={task} checkpoint, which does not classify messages; "
            "pass the best checkpoint of a task=classify run on text (experiment=sms_spam_gru)"
        )
    kind = hparams["data"].get("kind")
    if kind != "text":
        raise SeqlabError(
            f"classifier={path}: trained on {kind} data, which cannot read text messages; "
            "pass the checkpoint of a text classifier (experiment=sms_spam_gru)"
        )
    names = sorted(hparams["meta"]["class_names"])
    if names != sorted(conditions):
        raise SeqlabError(
            f"classifier={path}: classifies {names}, but the messages are conditioned on "
            f"{sorted(conditions)}; pass a classifier of the same classes"
        )


def judge(
    classifier: str, samples_csv: Path, conditions: list[str], run_dir: Path
) -> dict[str, float]:
    """The classifier's call on every generated message (seqlab-predict's path; written to
    predictions.csv) against the class it was conditioned on."""
    from seqlab.data.input_config import InputLabels, ReaderConfig
    from seqlab.models.modules import labelling, load_network
    from seqlab.training.predict import predict_probabilities, read_input
    from seqlab.training.predictions_file import write_predictions

    network, checkpoint = load_network(classifier, labelling)
    hparams = checkpoint["hyper_parameters"]
    reader = ReaderConfig(
        format="csv", text_column="text", label_column="class", labels=InputLabels.true
    )
    data = read_input(hparams, classifier, str(samples_csv), reader)
    cpu = {"accelerator": "cpu", "devices": 1}
    probabilities, metrics = predict_probabilities(
        network, data, hparams["data"]["batch_size"], cpu, run_dir
    )
    assert probabilities is not None  # one process
    class_names = hparams["meta"]["class_names"]
    write_predictions(run_dir, data, probabilities, class_names, "csv", 0)
    truth = data.dataset.labels.numpy()
    right = probabilities.argmax(axis=1) == truth
    judged = {"judged/share": float(right.mean())}
    for index, name in enumerate(class_names):
        if name in conditions:
            judged[f"judged/share/{name}"] = float(right[truth == index].mean())
    return judged | {name.replace("test/", "judged/"): value for name, value in metrics.items()}


def refuse_judge(config: GenerateConfig) -> None:
    """classifier= judges generated text; other checkpoints generate none."""
    if config.classifier:
        raise SeqlabError(
            f"classifier={config.classifier}: judges generated text, but "
            f"{config.ckpt_path} is not a task=generate checkpoint of text data; drop "
            "classifier= (or pass the checkpoint of experiment=sms_generate_gru)"
        )
