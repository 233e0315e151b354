"""Variable-length sequences as one zero-padded tensor plus their lengths, for every data kind
(float features, or categorical ids with 0 as padding)."""

import numpy as np
import torch


def pad_sequences(
    series: list[np.ndarray], max_length: int, dtype: type = np.float32
) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack (length, channels) arrays into one zero-padded (n, max_length, channels) tensor."""
    lengths = np.fromiter((len(s) for s in series), dtype=np.int64, count=len(series))
    return pad_flat(np.concatenate(series), lengths, max_length, dtype)


def pad_flat(
    values: np.ndarray, lengths: np.ndarray, max_length: int, dtype: type = np.float32
) -> tuple[torch.Tensor, torch.Tensor]:
    """The same from sequences stored back to back ((sum of lengths, channels), e.g. an event
    table sorted by entity): one scatter, no loop over sequences. Float features by default,
    or categorical ids with dtype=np.int64 (0 = padding)."""
    lengths = np.asarray(lengths, dtype=np.int64)
    padded: np.ndarray = np.zeros((len(lengths), max_length, values.shape[1]), dtype=dtype)
    rows = np.repeat(np.arange(len(lengths)), lengths)
    steps = np.arange(len(values)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    padded[rows, steps] = values
    return torch.from_numpy(padded), torch.from_numpy(lengths)
