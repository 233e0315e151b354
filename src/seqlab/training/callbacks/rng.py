"""Random-number state saved with every checkpoint, so a resumed run draws the same numbers.

Lightning restores weights, optimiser, loops and callbacks but not the global generators, so a
run resumed after a crash would shuffle and drop out differently from the uninterrupted one.
States are stored as tensors and plain numbers so the checkpoint still loads with weights_only.
The generators' key arrays (624 numbers each) are single tensors rather than lists: every
checkpoint (last.ckpt after each epoch) is walked element by element when it is copied for the
background writer, and 1,250 list items would make that copy slow. Checkpoints that hold the
keys as lists still load.
"""

import random
from typing import Any, cast

import numpy as np
import torch
from lightning.pytorch.callbacks import Callback


class RngStateCheckpoint(Callback):
    def state_dict(self) -> dict[str, Any]:
        # legacy=True (the default) on the global MT19937 generator: the 5-tuple form (numpy's
        # stub types the default call as the dict form)
        legacy_state = cast(tuple[str, np.ndarray, int, int, float], np.random.get_state())
        kind, keys, position, has_gauss, cached_gauss = legacy_state
        version, internal, gauss_next = random.getstate()
        return {
            "torch": torch.get_rng_state(),
            "numpy": [
                kind,
                torch.from_numpy(keys.astype(np.int64)),
                position,
                has_gauss,
                cached_gauss,
            ],
            "python": [version, torch.tensor(internal, dtype=torch.int64), gauss_next],
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        torch.set_rng_state(state_dict["torch"])
        kind, keys, position, has_gauss, cached_gauss = state_dict["numpy"]
        np.random.set_state(
            (
                kind,
                np.asarray(keys, dtype=np.int64).astype(np.uint32),
                position,
                has_gauss,
                cached_gauss,
            )
        )
        version, internal, gauss_next = state_dict["python"]
        random.setstate((version, tuple(int(n) for n in internal), gauss_next))
