"""Gradient norms: the global one (as torch's clipping computes it) and one per parameter group
(the recurrent layers' input-to-hidden and hidden-to-hidden weights, embeddings, head)."""

import re

import torch

GLOBAL = "global"  # the group of all parameters together
# the recurrent encoders' layer, or the recurrent branch of lstm_fcn / gru_fcn
_RNN_PARAMETER = re.compile(
    r"encoder\.(?:recurrent\.)?rnn\.(?:weight|bias)_(ih|hh)_(l\d+(?:_reverse)?)"
)


def parameter_group(name: str) -> str:
    """`encoder.rnn.weight_hh_l1_reverse` (or `encoder.recurrent.rnn...`) -> `hh_l1_reverse`;
    embeddings, head, other modules (an FCN's convolutions: `encoder`)."""
    match = _RNN_PARAMETER.fullmatch(name)
    if match:
        return f"{match[1]}_{match[2]}"
    if name.startswith("inputs.embeddings."):
        return "embeddings"
    return name.split(".")[0]


def group_norms(module: torch.nn.Module) -> dict[str, float]:
    """L2 norm of the gradients of each parameter group and of all of them (`GLOBAL`)."""
    squares: dict[str, torch.Tensor] = {}
    for name, parameter in module.named_parameters():
        if parameter.grad is not None:
            group = parameter_group(name)
            square = parameter.grad.detach().float().pow(2).sum()
            squares[group] = squares.get(group, 0.0) + square
    norms = {group: float(total.sqrt()) for group, total in squares.items()}
    norms[GLOBAL] = global_norm(module)
    return norms


def global_norm(module: torch.nn.Module) -> float:
    """L2 norm of every gradient of the module together (0.0 before any backward)."""
    return float(gradient_norm(list(module.parameters())))


def gradient_norm(parameters: list[torch.Tensor]) -> torch.Tensor:
    """L2 norm of the gradients of these parameters together, as torch's clipping computes it
    (a tensor: callers that need more values read them in one transfer)."""
    gradients = [p.grad for p in parameters if p.grad is not None]
    return torch.nn.utils.get_total_norm(gradients) if gradients else torch.tensor(0.0)
