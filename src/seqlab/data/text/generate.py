"""task=generate on text: class-conditioned messages, word by word, with teacher forcing.

A message of token ids t1..tn becomes n + 1 decoder steps. Step s reads two categorical ids,
token s - 1 and the message's class, and its target is token s: the first step reads the
boundary id (start of message), the last one's target is the boundary id again (end of
message), so the decoder learns when to stop. One id serves both roles: it is only ever read
at the start and only ever predicted at the end. Targets of padding steps are IGNORE_LABEL, so
padding never counts in loss or perplexity.

The class is the second categorical column, read at every step (its own embedding,
concatenated to the token's by the shared input layer), so the condition never has to survive
a long message inside the hidden state. Class ids are the class index + 1 (0 is padding).

The tokeniser is the text data's own (word-level, trained on the training split); its id 0
(padding) is never a target, id 1 ([UNK]) is a target like any word, and the boundary id is
the tokeniser's vocabulary size, so the decoder predicts vocabulary size + 1 classes.
"""

from typing import TYPE_CHECKING

import numpy as np
import torch

from seqlab.data.batch import IGNORE_LABEL, SequenceDataset
from seqlab.data.meta import DataMeta
from seqlab.data.padding import pad_sequences
from seqlab.data.text import tokenize

if TYPE_CHECKING:
    from tokenizers import Tokenizer

BOUNDARY_TOKEN = "[EOS]"  # read as the start of a message, predicted as its end


def teacher_forcing(
    ids: dict[str, list[np.ndarray]],
    labels: dict[str, np.ndarray],
    class_names: tuple[str, ...],
    tokenizer: "Tokenizer",
) -> tuple[dict[str, SequenceDataset], DataMeta]:
    """Per split, every message's decoder steps: (token, class) ids in, the next token out."""
    vocabulary = tokenizer.get_vocab_size()
    boundary = vocabulary
    longest = max(len(row) for rows in ids.values() for row in rows) + 1
    splits = {}
    for name, rows in ids.items():
        steps = [
            np.stack([np.concatenate([[boundary], row]), np.full(len(row) + 1, label + 1)], axis=1)
            for row, label in zip(rows, labels[name], strict=True)
        ]
        categories, lengths = pad_sequences(steps, longest, dtype=np.int64)
        targets = [np.concatenate([row, [boundary]]).reshape(-1, 1) for row in rows]
        padded, _ = pad_sequences(targets, longest, dtype=np.int64)
        real = torch.arange(longest)[None, :] < lengths[:, None]
        labels_per_step = torch.where(real, padded[..., 0], IGNORE_LABEL)
        splits[name] = SequenceDataset(None, categories, lengths, labels_per_step)
    meta = DataMeta(
        num_features=0,
        num_classes=vocabulary + 1,
        class_names=(*token_names(tokenizer), BOUNDARY_TOKEN),
        max_length=longest,
        category_sizes=(vocabulary + 1, len(class_names) + 1),
        category_names=("tokens", "class"),
        padding_id=0,
        unknown_id=tokenize.UNK_ID,
    )
    return splits, meta


def token_names(tokenizer: "Tokenizer") -> list[str]:
    """The tokeniser's tokens in id order."""
    vocabulary = tokenizer.get_vocab()
    return sorted(vocabulary, key=vocabulary.__getitem__)


def message_classes(categories: torch.Tensor) -> torch.Tensor:
    """Each message's class index, from its first step's class id."""
    return categories[:, 0, 1] - 1
