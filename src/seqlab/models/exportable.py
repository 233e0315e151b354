"""A trained classifier as one graph that ONNX and TorchScript can hold: (float inputs and/or
categorical ids, lengths) -> class probabilities, with padding handled inside the graph.

The fused recurrent kernels only skip padding through packed sequences, which neither format
carries. Here each layer and direction runs as its own one-layer kernel on plain tensors: the
forward direction reads padding only after a sequence's real steps, so its outputs there are
unchanged; the reverse direction gets each sequence reversed within its own length, so it
starts at the last real step, as packing makes it. Outputs at padded steps never reach the
pooling. The numbers are those of the packed model, for any amount of padding. Chunking,
layer normalisation and the pooling (attention included) are the encoder's own functions and
modules, called here as in training. LSTM-FCN and GRU-FCN keep their convolutions and get
this form of their recurrent branch. Training on a CPU runs the same scheme on the trained
parameters (models/padded.py); this copy holds modules an exporter can trace.
"""

import copy
from typing import cast

import torch
from torch import nn

from seqlab.models.fcn import RecurrentFCNEncoder
from seqlab.models.network import SequenceNetwork
from seqlab.models.padded import reverse_steps, take_steps
from seqlab.models.recurrent import RecurrentEncoder, chunk_steps, pool_states


class ExportableRecurrent(nn.Module):
    def __init__(self, encoder: RecurrentEncoder):
        super().__init__()
        rnn = encoder.rnn
        self.pooling, self.directions = encoder.pooling, encoder.directions
        self.chunk, self.norm, self.attention = encoder.chunk, encoder.norm, encoder.attention
        extra = {"nonlinearity": rnn.nonlinearity} if isinstance(rnn, nn.RNN) else {}
        self.layers = nn.ModuleList()
        for layer in range(rnn.num_layers):
            width = rnn.input_size if layer == 0 else rnn.hidden_size * self.directions
            directions = nn.ModuleList()
            for suffix in ("", "_reverse")[: self.directions]:
                single = type(rnn)(width, rnn.hidden_size, batch_first=True, **extra)
                for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                    trained = getattr(rnn, f"{name}_l{layer}{suffix}")
                    getattr(single, f"{name}_l0").data.copy_(trained.detach())
                directions.append(single)
            self.layers.append(directions)

    def forward(self, inputs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        inputs, lengths = chunk_steps(inputs, lengths, self.chunk)
        reverse = reverse_steps(lengths, inputs.shape[1])
        hidden = inputs
        outputs: list[torch.Tensor] = []
        for layer in self.layers:
            outputs = []
            for direction, rnn in enumerate(cast(nn.ModuleList, layer)):
                if direction == 0:
                    outputs.append(rnn(hidden)[0])
                else:
                    reversed_out = rnn(take_steps(hidden, reverse))[0]
                    outputs.append(take_steps(reversed_out, reverse))
            hidden = torch.cat(outputs, dim=-1)
        last = take_steps(outputs[0], (lengths - 1).unsqueeze(1))[:, 0]
        if self.directions == 2:
            # the reverse direction ends on the first step
            last = torch.cat([last, outputs[1][:, 0]], dim=-1)
        return pool_states(hidden, lengths, last, self.pooling, self.norm, self.attention)


def exportable_encoder(encoder: nn.Module) -> nn.Module:
    """The encoder with each recurrent layer in the form above (a copy; the trained module is
    left as it is)."""
    if isinstance(encoder, RecurrentEncoder):
        return ExportableRecurrent(encoder)
    if isinstance(encoder, RecurrentFCNEncoder):
        exportable = copy.deepcopy(encoder)
        exportable.add_module("recurrent", ExportableRecurrent(encoder.recurrent))  # replaced
        return exportable
    return encoder


class ExportableClassifier(nn.Module):
    """forward(inputs, categories, lengths) -> probabilities; `inputs` is absent for pure token
    data and `categories` for purely numeric data (graph_inputs names those present)."""

    def __init__(self, module: SequenceNetwork):
        super().__init__()
        module = module.eval()
        self.embeddings = module.inputs.embeddings
        embedded = sum(cast(nn.Embedding, table).embedding_dim for table in self.embeddings)
        self.num_features = module.inputs.output_dim - embedded
        self.encoder = exportable_encoder(module.encoder)
        self.head = module.head
        self.graph_inputs = [
            *(["inputs"] if self.num_features else []),
            *(["categories"] if len(self.embeddings) else []),
            "lengths",
        ]
        self.eval()

    @property
    def fixed_length(self) -> int | None:
        """The one length the encoder takes, if it takes one (an MLP over the flattened
        sequence, a recurrent branch reading the whole series as one step); inputs are
        padded to it."""
        return getattr(self.encoder, "fixed_length", None)

    def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
        named = dict(zip(self.graph_inputs, tensors, strict=True))
        lengths = named["lengths"]
        parts = [named["inputs"]] if "inputs" in named else []
        if "categories" in named:
            categories = named["categories"]
            parts += [table(categories[..., i]) for i, table in enumerate(self.embeddings)]
        steps = parts[0] if len(parts) == 1 else torch.cat(parts, dim=-1)
        return self.head(self.encoder(steps, lengths)).softmax(dim=-1)
