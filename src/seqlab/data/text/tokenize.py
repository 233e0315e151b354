"""Tokenisers from the `tokenizers` library, trained on the training split only.

Word-level by default (every distinct lower-cased word of the training text, the most frequent
first), BPE optional (subwords, so unseen words still get known pieces). Id 0 is padding and
id 1 the unknown token in both, matching the padding id every seqlab batch uses.
"""

from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

from seqlab.data.batch import PAD_ID
from seqlab.errors import SeqlabError

PAD_TOKEN, UNK_TOKEN = "[PAD]", "[UNK]"
SPECIAL_TOKENS = (PAD_TOKEN, UNK_TOKEN)  # trained tokenisers give them ids 0 and 1, in order
UNK_ID = 1


def train_tokenizer(
    texts: list[str],
    kind: str,
    vocab_size: int,
    min_frequency: int,
    lowercase: bool,
    max_length: int | None,
) -> Tokenizer:
    if vocab_size <= len(SPECIAL_TOKENS):
        raise SeqlabError(
            f"data.vocab_size={vocab_size} leaves no room for words: the special tokens "
            f"{', '.join(SPECIAL_TOKENS)} take {len(SPECIAL_TOKENS)} ids; use e.g. "
            "data.vocab_size=20000"
        )
    if max_length is not None and max_length < 1:
        raise SeqlabError(f"data.max_length={max_length} must be at least 1 (or null: no limit)")
    trainer_class: type[trainers.WordLevelTrainer] | type[trainers.BpeTrainer]
    if kind == "word":
        tokenizer = Tokenizer(models.WordLevel(unk_token=UNK_TOKEN))
        trainer_class = trainers.WordLevelTrainer
    else:
        tokenizer = Tokenizer(models.BPE(unk_token=UNK_TOKEN))
        trainer_class = trainers.BpeTrainer
    # NFKC folds compatibility forms (full-width letters, ligatures) into one spelling.
    steps = [normalizers.NFKC(), *([normalizers.Lowercase()] if lowercase else [])]
    tokenizer.normalizer = normalizers.Sequence(steps)
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()  # words and runs of punctuation
    trainer = trainer_class(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=list(SPECIAL_TOKENS),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer, length=len(texts))
    if tokenizer.token_to_id(PAD_TOKEN) != PAD_ID or tokenizer.token_to_id(UNK_TOKEN) != UNK_ID:
        raise RuntimeError("the tokenizer did not give the special tokens ids 0 and 1")
    if max_length is not None:
        tokenizer.enable_truncation(max_length)
    return tokenizer


def encode(tokenizer: Tokenizer, texts: list[str]) -> list[list[int]]:
    """Token ids per text (the tokeniser's own batch encoder runs on several threads)."""
    return [encoding.ids for encoding in tokenizer.encode_batch(texts)]
