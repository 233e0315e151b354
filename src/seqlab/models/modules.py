"""Which LightningModule a run trains, and rebuilding it from a checkpoint: one choice for
seqlab-train, seqlab-eval and seqlab-generate.

classify and tag: SequenceClassifier (a head on the pooled state or on every step);
generate: SequenceGenerator (weekly counts of event data) or TextGenerator (class-conditioned
messages). The generators import the classifier, so they are imported here, when chosen.
"""

from typing import Any

from seqlab.errors import SeqlabError
from seqlab.models.classifier import SequenceClassifier, read_checkpoint


def module_class(task: dict[str, Any] | None, data: dict[str, Any]) -> type[SequenceClassifier]:
    if (task or {}).get("name") != "generate":
        return SequenceClassifier
    if data["kind"] == "text":
        from seqlab.models.text_generator import TextGenerator

        return TextGenerator
    from seqlab.models.generator import SequenceGenerator

    return SequenceGenerator


def load_module(path: str) -> tuple[SequenceClassifier, dict[str, Any]]:
    """The trained module of any seqlab checkpoint, and the checkpoint (torch's weights_only
    loader: no code in the file is run)."""
    checkpoint = read_checkpoint(path)
    hparams = checkpoint["hyper_parameters"]
    module = module_class(hparams.get("task"), hparams["data"])(**hparams)
    try:
        module.load_state_dict(checkpoint["state_dict"])
    except RuntimeError as error:  # torch lists every tensor that does not fit; name the first
        problems = [line.strip() for line in str(error).splitlines()[1:] if line.strip()]
        first = problems[0].split(". ")[0] if problems else str(error).splitlines()[0]
        raise SeqlabError(
            f"{path}: its weights do not fit the model its hyperparameters describe ({first}); "
            "pass a .ckpt written by seqlab-train, unedited"
        ) from None
    module.on_load_checkpoint(checkpoint)
    return module, checkpoint
