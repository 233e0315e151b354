"""Input files as users really have them: saved by Excel or Notepad (a byte-order mark), in
another encoding or binary, with typos in dates, with a changed TEST length, with a class of a
single example. Each either reads correctly or stops with one line naming the file, the place
and the fix."""

import pandas as pd
import pytest

from seqlab.errors import SeqlabError

from conftest import corpus, events_config, fitted_datamodule, synthetic_events, ucr_data

BOM = b"\xef\xbb\xbf"


def write_bytes(path, text: str, prefix: bytes = b"") -> None:
    path.write_bytes(prefix + text.encode("utf-8"))


UCR2015_TRAIN = "".join(f"{-1 if i % 2 else 1},{i},{i + 1},{i + 2}\n" for i in range(10))
UCR2015_TEST = "1,0,1,2\n-1,1,2,3\n"
TS_HEADER = "@problemName Toy\n@univariate true\n@equalLength true\n@classLabel true a b\n@data\n"


# -- item 3: a UTF-8 byte-order mark is not part of the first label or line -------------------


@pytest.mark.parametrize("bom_in", ["train", "test", "both"])
def test_a_bom_in_a_ucr2015_file_adds_no_class(tmp_path, bom_in):
    write_bytes(tmp_path / "Toy_TRAIN", UCR2015_TRAIN, BOM if bom_in != "test" else b"")
    write_bytes(tmp_path / "Toy_TEST", UCR2015_TEST, BOM if bom_in != "train" else b"")
    module = fitted_datamodule(ucr_data(tmp_path))
    assert module.meta.class_names == ("-1", "1")


def test_a_bom_in_a_ts_file_is_read_as_its_header(tmp_path):
    rows = "1,2,3:a\n3,2,1:b\n" * 4
    write_bytes(tmp_path / "Toy_TRAIN.ts", TS_HEADER + rows, BOM)
    write_bytes(tmp_path / "Toy_TEST.ts", TS_HEADER + "1,2,3:a\n", BOM)
    assert fitted_datamodule(ucr_data(tmp_path)).meta.class_names == ("a", "b")


@pytest.mark.parametrize("file_format", ["lines", "tab"])
def test_a_bom_in_a_text_file_adds_no_class(tmp_path, file_format):
    rows = corpus(40)
    if file_format == "lines":
        body = "".join(f"{label} {text}\n" for label, text in rows)
        test = "good fine film\nbad awful film\n"
        options = {}
    else:  # Orange's .tab: names, types, flags, then the rows
        body = "label\ttext\nd\ts\nclass\tmeta\n"
        body += "".join(f"{label}\t{text}\n" for label, text in rows)
        test = body.split("\n", 3)[3].split("\n", 2)
        test = "label\ttext\nd\ts\nclass\tmeta\n" + "\n".join(test[:2]) + "\n"
        options = {"format": "tab"}
    write_bytes(tmp_path / "train.txt", body, BOM)
    write_bytes(tmp_path / "test.txt", test, BOM)
    data = {"kind": "text", "embedded": None, "root": str(tmp_path), "cache_dir": None}
    data |= {"train_file": "train.txt", "test_file": "test.txt", "batch_size": 8, **options}
    assert fitted_datamodule(data).meta.class_names == ("bad", "good")


def test_a_bom_in_a_csv_text_or_event_file_is_read_as_the_header(tmp_path):
    """pandas and `datasets` already skip it; kept so a change of reader cannot bring it back."""
    text = tmp_path / "train.csv"
    text.write_bytes(
        BOM + pd.DataFrame(corpus(40), columns=["label", "text"]).to_csv(index=False).encode()
    )
    data = {"kind": "text", "embedded": None, "train_file": str(text), "cache_dir": None}
    assert fitted_datamodule(data).meta.class_names == ("bad", "good")
    events = tmp_path / "events.csv"
    events.write_bytes(BOM + synthetic_events().to_csv(index=False).encode())
    assert fitted_datamodule(events_config(events)).history.labels.size > 0


# -- item 11: a UCR file that is not UTF-8, or not text at all --------------------------------


def test_a_latin1_ucr_file_names_the_byte_offset(tmp_path):
    (tmp_path / "Toy_TRAIN").write_bytes(UCR2015_TRAIN.encode() + b"1,caf\xe9,2,3\n")
    write_bytes(tmp_path / "Toy_TEST", UCR2015_TEST)
    offset = len(UCR2015_TRAIN.encode()) + len(b"1,caf")
    with pytest.raises(SeqlabError) as error:
        fitted_datamodule(ucr_data(tmp_path))
    message = str(error.value)
    assert f"Toy_TRAIN: byte {offset} (line 11)" in message and "UTF-8" in message
    assert "\n" not in message


def test_a_binary_file_given_as_ucr_data_is_named_as_binary(tmp_path):
    (tmp_path / "Toy_TRAIN").write_bytes(b"1,2,3\n" + bytes(range(0, 40)))
    write_bytes(tmp_path / "Toy_TEST", UCR2015_TEST)
    with pytest.raises(SeqlabError, match=r"Toy_TRAIN: byte 6 is a NUL byte: a binary file"):
        fitted_datamodule(ucr_data(tmp_path))


# -- item 2: event dates outside a sane range are typos, not history --------------------------


def typo_log(tmp_path, date: str):
    frame = synthetic_events()
    frame.loc[5, "ts"] = date
    path = tmp_path / "events.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("date", ["3000-01-01 00:00:00", "1066-10-14 09:00:00"])
def test_an_out_of_range_date_is_refused_with_its_row(tmp_path, date):
    with pytest.raises(SeqlabError) as error:
        fitted_datamodule(events_config(typo_log(tmp_path, date)))
    message = str(error.value)
    assert f"{date[:10]}" in message and "data row 6" in message
    assert "data.time_range" in message


def test_the_sane_range_of_dates_is_configurable(tmp_path):
    path = typo_log(tmp_path, "1899-12-31 12:00:00")
    with pytest.raises(SeqlabError, match="data row 6"):
        fitted_datamodule(events_config(path))
    wide = {"earliest": "1800-01-01", "latest": "2100-01-01"}
    module = fitted_datamodule(
        events_config(path, time_range=wide, cutoff={"time": "2020-04-01", "events": None})
    )
    assert module.history.events["time"].min() == pd.Timestamp("1899-12-31 12:00:00")


def test_a_cdnow_style_date_far_in_the_future_never_wraps_into_the_past(tmp_path):
    """30000101 in a YYYYMMDD column was read as 1830-11-23 (a nanosecond cast overflowed)."""
    rows = [f"{c} 1997{m:02d}01 1 10.0" for c in range(1, 41) for m in (1, 3, 11)]
    rows[7] = "3 30000101 1 10.0"
    path = tmp_path / "cdnow.txt"
    path.write_text("customer_id date number_of_cds dollar_value\n" + "\n".join(rows) + "\n")
    data = {"kind": "events", "path": str(path), "split_seed": 0}
    with pytest.raises(SeqlabError, match=r"'30000101' at data row 8; .*data\.time_range"):
        fitted_datamodule(data)
