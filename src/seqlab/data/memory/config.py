"""Options of `data=memory`: synthetic long-range memory tasks, generated from the seed."""

from dataclasses import dataclass
from enum import StrEnum

from seqlab.errors import require


class MemoryTask(StrEnum):
    adding = "adding"  # classify the sum of two marked values into num_classes bins
    first_symbol = "first_symbol"  # the class is the first symbol of the sequence


@dataclass
class MemoryDataConfig:
    kind: str = "memory"  # the data kind (seqlab.data.registry)
    task: MemoryTask = MemoryTask.adding  # which memory task to generate
    length: int = 100  # T, steps per sequence (2 or more)
    noise: float = 0.0  # adding: std of value noise; first_symbol: distractor probability
    num_classes: int = 2  # classes (adding: sum bins; first_symbol: symbols)
    num_train: int = 2000  # generated training sequences
    num_val: int = 500  # generated validation sequences
    num_test: int = 500  # generated test sequences
    batch_size: int = 64  # samples per batch
    num_workers: int = 0  # DataLoader worker processes; 0: batches cut in memory, no DataLoader
    seed: int = 0  # the generated data; the YAML ties it to ${seed}

    def __post_init__(self) -> None:
        require(self.batch_size >= 1, "data.batch_size", self.batch_size, "must be at least 1")
