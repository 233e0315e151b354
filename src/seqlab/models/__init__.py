"""The networks: encoders (MLP, recurrent), the shared input layer and the LightningModule that
adds the head, loss, optimiser and metrics. `registry` maps `model.kind` to each encoder, `tasks`
maps `task.name` to the module each task trains.

Nothing here imports from seqlab.training: models know nothing of callbacks or runs.
"""
