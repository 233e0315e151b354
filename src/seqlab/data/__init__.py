"""Data modules, one sub-package per kind (ucr, text, events, memory), plus the shared pieces:
Batch, DataMeta, padding, splits and bucketing. `registry` maps `data.kind` to each kind."""
