"""Turns a batch's float features and categorical ids into one vector per time step.

Each categorical column (tokens, event type, item, ...) gets its own embedding table sized from
the data's meta; the embeddings are concatenated with the float features.
"""

import torch
from torch import nn

from seqlab.data.batch import PAD_ID
from seqlab.data.meta import DataMeta


class InputLayer(nn.Module):
    def __init__(
        self, meta: DataMeta, embedding_dim: int, embedding_dropout: float, freeze_embeddings: bool
    ):
        super().__init__()
        self.embeddings = nn.ModuleList(
            nn.Embedding(size, embedding_dim, padding_idx=PAD_ID) for size in meta.category_sizes
        )
        for table in self.embeddings:
            table.weight.requires_grad_(not freeze_embeddings)
        self.dropout = nn.Dropout(embedding_dropout)
        self.output_dim = meta.num_features + embedding_dim * len(meta.category_sizes)

    def forward(self, inputs: torch.Tensor, categories: torch.Tensor) -> torch.Tensor:
        if not self.embeddings:
            return inputs
        embedded = [table(categories[..., column]) for column, table in enumerate(self.embeddings)]
        return torch.cat([inputs, self.dropout(torch.cat(embedded, dim=-1))], dim=-1)
