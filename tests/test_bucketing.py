"""The length-bucketed sampler: every sample once, seeded, alike lengths, disjoint DDP shares."""

import pytest
import torch

from seqlab.data.base import SequenceDataModule
from seqlab.data.batch import SequenceDataset
from seqlab.data.bucketing import BucketBatchSampler
from seqlab.errors import SeqlabError

LENGTHS = torch.randint(1, 200, (1003,), generator=torch.Generator().manual_seed(0))


def sampler(**options) -> BucketBatchSampler:
    settings = {"batch_size": 16, "shuffle": True, "seed": 3, "bucket_batches": 8, **options}
    return BucketBatchSampler(LENGTHS, **settings)


def flat(batches) -> list[int]:
    return [index for batch in batches for index in batch]


@pytest.mark.parametrize("shuffle", [True, False])
def test_every_sample_comes_exactly_once(shuffle):
    batches = list(sampler(shuffle=shuffle))
    assert sorted(flat(batches)) == list(range(len(LENGTHS)))
    assert len(batches) == len(sampler(shuffle=shuffle)) == 63  # ceil(1003 / 16)
    assert max(len(b) for b in batches) == 16


def test_same_seed_same_batches_other_seed_or_epoch_other_batches():
    first, again, other_seed = sampler(seed=3), sampler(seed=3), sampler(seed=4)
    assert list(first) == list(again)
    assert list(first) != list(other_seed)
    first.set_epoch(1)
    assert list(first) != list(again)  # a new order each epoch...
    again.set_epoch(1)
    assert list(first) == list(again)  # ...the same one for the same seed and epoch


def test_batches_hold_similar_lengths_and_come_in_random_order():
    batches = list(sampler())
    bucketed_padding = sum(16 * int(LENGTHS[b].max()) - int(LENGTHS[b].sum()) for b in batches)
    random_batches = torch.randperm(len(LENGTHS), generator=torch.Generator().manual_seed(0))
    random_padding = sum(
        len(b) * int(LENGTHS[b].max()) - int(LENGTHS[b].sum()) for b in random_batches.split(16)
    )
    assert bucketed_padding < random_padding / 5
    # shuffled across buckets: batch lengths do not rise monotonically through the epoch
    longest = [int(LENGTHS[b].max()) for b in batches]
    assert longest != sorted(longest) and longest != sorted(longest, reverse=True)
    # shuffled within buckets: the samples of one length are not in index order
    assert flat(batches) != sorted(flat(batches), key=lambda i: (int(LENGTHS[i]), i))


def test_evaluation_order_is_sorted_by_length_and_fixed():
    batches = list(sampler(shuffle=False))
    assert [int(LENGTHS[i]) for i in flat(batches)] == sorted(LENGTHS.tolist())
    assert batches == list(sampler(shuffle=False, seed=99))


@pytest.mark.parametrize("replicas", [2, 3, 4])
@pytest.mark.parametrize("shuffle", [True, False])
def test_ddp_ranks_get_disjoint_shares_of_equal_batch_count(replicas, shuffle):
    ranks = [list(sampler(shuffle=shuffle, num_replicas=replicas, rank=r)) for r in range(replicas)]
    counts = {len(batches) for batches in ranks}
    assert counts == {len(sampler(shuffle=shuffle, num_replicas=replicas, rank=0))}
    assert len(counts) == 1  # no rank waits for another at the all-reduce
    seen = [flat(batches) for batches in ranks]
    assert sorted(i for share in seen for i in share) == list(range(len(LENGTHS)))
    for rank in range(replicas):
        assert all(set(seen[rank]).isdisjoint(seen[other]) for other in range(rank))


def test_too_few_samples_for_the_processes_is_an_error():
    with pytest.raises(SeqlabError, match="3 samples cannot fill one batch on each of 4"):
        BucketBatchSampler(torch.tensor([1, 2, 3]), batch_size=2, shuffle=True, num_replicas=4)


class _Lengths(SequenceDataModule):
    """Any data kind gets bucketing from the base class: here, plain float series."""

    def build_splits(self):
        lengths = LENGTHS[:100]
        inputs = torch.arange(int(lengths.max()))[None, :, None].float().repeat(100, 1, 1)
        dataset = SequenceDataset(inputs, None, lengths, torch.zeros(100, dtype=torch.long))
        return {"train": dataset, "val": dataset, "test": dataset}, None


def test_the_base_module_switches_its_loaders_to_bucketed_batches():
    plain, bucketed = _Lengths(batch_size=10, num_workers=0), _Lengths(10, 0, bucketing=True)
    for module in (plain, bucketed):
        module.setup("fit")
    assert isinstance(bucketed.train_dataloader().sampler, BucketBatchSampler)
    assert not isinstance(plain.train_dataloader().sampler, BucketBatchSampler)

    def steps(loader):
        return sum(batch.inputs.shape[0] * batch.inputs.shape[1] for batch in loader)

    # batches are trimmed to their longest member, so bucketing pads far less
    real = int(LENGTHS[:100].sum())
    assert (
        steps(bucketed.train_dataloader())
        < 1.15 * real
        < 1.5 * real
        < steps(plain.train_dataloader())
    )
    labels = torch.cat([batch.lengths for batch in bucketed.test_dataloader()])
    assert labels.tolist() == sorted(LENGTHS[:100].tolist())
