"""The text config groups and experiments the issue promises, composed and schema-checked."""

import pytest

from seqlab.errors import SeqlabError

from conftest import DATA_CONFIGS, EXPERIMENTS, compose_train

TEXT_DATA = ["text", "r8", "sst2", "sms_spam"]


def test_the_text_groups_and_experiments_exist():
    assert set(TEXT_DATA) <= set(DATA_CONFIGS)
    assert {"keras_lstm", "r8_bilstm", "sst2_bilstm", "sms_spam_gru"} <= set(EXPERIMENTS)


@pytest.mark.parametrize("data", TEXT_DATA)
@pytest.mark.parametrize("model", ["mlp", "rnn", "bilstm", "gru"])
def test_text_data_composes_with_every_model_kind(data, model):
    config = compose_train([f"data={data}", f"model={model}"])
    assert config.data.kind == "text"
    assert config.data.split_seed == config.seed
    assert config.data.cache_dir == "auto"  # the user's cache folder, found when it runs


def test_ready_configs_point_at_their_sources():
    r8 = compose_train(["data=r8"]).data
    assert (r8.embedded, r8.text_column, r8.label_column) == (
        "reuters-r8",
        "Text",
        "Category",
    )
    sst2 = compose_train(["data=sst2", "paths.root_dir=/repo"]).data
    assert sst2.root == "/repo/../shared/datasets/text" and sst2.embedded is None
    assert sst2.val_file == "stsa.binary.dev" and sst2.positive_class == "1"
    spam = compose_train(["experiment=sms_spam_gru"])
    assert spam.data.positive_class == "spam" and spam.metrics.average == "binary"
    assert spam.data.test_file is None  # carved, stratified and seeded


def test_hub_name_on_the_command_line():
    data = compose_train(["data=text", "data.hf_name=imdb", "data.offline=true"]).data
    assert data.hf_name == "imdb" and data.offline is True


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("data.tokenizer=chars", "data.tokenizer"),
        ("data.decode_errors=ignore", "data.decode_errors"),
        ("+data.vocab=10", "unknown key data.vocab; did you mean data.vocab_size"),
    ],
)
def test_bad_text_options_name_the_key(override, message):
    with pytest.raises(SeqlabError, match=message):
        compose_train(["data=text", override])
