"""Attention pooling over time (`model.pooling=attention`): a learned weighted mean of the states.

Each state h_t gets a score v^T tanh(W h_t + b) (the additive attention of Bahdanau et al. 2015,
used for pooling by Yang et al. 2016); a softmax over the real steps turns the scores into
weights, so padded steps get weight exactly 0 and never change a result. The classifier then
reads sum_t a_t h_t: like max pooling it gives the gradient a short path to every step, and the
weights show which steps the model used.
"""

import torch
from torch import nn

from seqlab.models.pooling import time_mask


class AttentionPooling(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.project = nn.Linear(width, width)
        self.score = nn.Linear(width, 1, bias=False)

    def weights(self, states: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(batch, time) softmax weights over each sequence's real steps; 0 at padding."""
        scores = self.score(torch.tanh(self.project(states))).squeeze(-1)
        real = time_mask(lengths, states.shape[1])
        return scores.masked_fill(~real, float("-inf")).softmax(dim=1)

    def forward(self, states: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(batch, features): the weighted mean of (batch, time, features) states."""
        weights = self.weights(states, lengths)
        return torch.bmm(weights.unsqueeze(1), states).squeeze(1)
