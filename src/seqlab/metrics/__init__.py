"""The five classification metrics of a split: `scores` derives them from an epoch's state with
torch alone (what seqlab-predict imports), `state` keeps that state across processes as a
torchmetrics Metric during training. Nothing is imported here, so that importing `scores` does
not import torchmetrics."""
