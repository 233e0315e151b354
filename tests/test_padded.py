"""Padded batches on a CPU run one-layer fused kernels (models/padded.py) instead of packing:
the same outputs, final states and gradients as the packed forward."""

import copy

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from seqlab.models.padded import mostly_real, one_layer_templates, padded_recurrence
from seqlab.models.recurrent import RecurrentEncoder

LENGTHS = torch.tensor([9, 3, 7, 1, 9])
CELLS = [
    ("lstm", {}),
    ("gru", {}),
    ("rnn", {"nonlinearity": "tanh"}),
]


def packed_reference(rnn: nn.RNNBase, inputs: torch.Tensor, lengths: torch.Tensor):
    """What packing gives: outputs (zero at padded steps) and the top layer's final states."""
    packed = pack_padded_sequence(inputs, lengths, batch_first=True, enforce_sorted=False)
    out, hidden = rnn(packed)
    outputs, _ = pad_packed_sequence(out, batch_first=True, total_length=inputs.shape[1])
    h_n = hidden[0] if isinstance(hidden, tuple) else hidden
    directions = 2 if rnn.bidirectional else 1
    last = h_n[-directions:].transpose(0, 1).reshape(h_n.shape[1], -1)
    return outputs, last


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize(("cell", "extra"), CELLS, ids=[c for c, _ in CELLS])
def test_padded_kernels_give_the_packed_outputs_states_and_gradients(
    cell, extra, layers, bidirectional
):
    torch.manual_seed(0)
    rnn = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[cell](
        4, 6, num_layers=layers, bidirectional=bidirectional, batch_first=True, **extra
    )
    inputs = torch.randn(len(LENGTHS), int(LENGTHS.max()), 4)
    garbage = inputs.clone()
    real = torch.arange(inputs.shape[1])[None, :] < LENGTHS[:, None]
    garbage[~real] = float("nan")  # whatever padding holds never reaches a real step

    want_out, want_last = packed_reference(rnn, inputs, LENGTHS)
    want_out.sum().backward(retain_graph=True)
    (want_last**2).sum().backward()
    want_grads = [p.grad.clone() for p in rnn.parameters()]
    rnn.zero_grad()

    got_out, got_last = padded_recurrence(rnn, one_layer_templates(rnn), garbage, LENGTHS)
    got_out.sum().backward(retain_graph=True)
    (got_last**2).sum().backward()
    assert torch.allclose(got_out, want_out, atol=1e-6)
    assert (got_out[~real] == 0).all()
    assert torch.allclose(got_last, want_last, atol=1e-6)
    for got, want in zip([p.grad for p in rnn.parameters()], want_grads, strict=True):
        assert torch.allclose(got, want, atol=1e-5)


def test_the_encoder_trains_on_the_padded_path_and_keeps_packing_for_relu_and_inference():
    lstm = RecurrentEncoder(4, "lstm", 6, 1, True, 0.0, "max", single_bias=False)
    relu = RecurrentEncoder(4, "rnn", 6, 1, True, 0.0, "max", False, nonlinearity="relu")
    assert len(lstm._templates) == 1 and relu._templates == []
    # the templates are not part of the module: no extra parameters or checkpoint keys
    assert set(lstm.state_dict()) == {f"rnn.{k}" for k in lstm.rnn.state_dict()}
    inputs = torch.randn(len(LENGTHS), int(LENGTHS.max()), 4)
    want = copy.deepcopy(lstm)
    want._templates = []  # the packed path
    assert torch.allclose(lstm(inputs, LENGTHS), want(inputs, LENGTHS), atol=1e-6)
    with torch.no_grad():  # inference packs, so it gives packing's numbers exactly
        assert torch.equal(lstm(inputs, LENGTHS), want(inputs, LENGTHS))
    mostly_padding = torch.tensor([9, 1, 1, 1, 1])  # 13 real steps of 45: packed
    assert not mostly_real(mostly_padding, 9) and mostly_real(LENGTHS, 9)
    assert torch.equal(lstm(inputs, mostly_padding), want(inputs, mostly_padding))


def test_building_the_templates_draws_no_random_number():
    """A seeded model's weights are those it had before the padded path existed: the templates'
    own initialisation leaves the generator where it was."""
    rnn = nn.LSTM(4, 6, num_layers=2, bidirectional=True, batch_first=True)
    torch.manual_seed(0)
    before = torch.rand(3)
    torch.manual_seed(0)
    one_layer_templates(rnn)
    assert torch.equal(torch.rand(3), before)
