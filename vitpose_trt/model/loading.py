"""`load_model`: build a ViTPose module from a name and/or a checkpoint."""

from __future__ import annotations

import warnings
from pathlib import Path

from ..dependencies import import_optional
from ..keypoints import keypoint_set_by_name
from ..specs import spec_by_name

#: Variant used when neither weights nor a name say which.
DEFAULT_MODEL = "vitpose-b"


def load_model(weights: str | Path | None = None, name: str | None = None, dataset: str | None = None):
    """Return an eval-mode `ViTPose` module: (N, 3, 256, 192) float32 -> (N, K, 64, 48).

    weights: official ViTPose `.pth`, Hugging Face folder or `.safetensors`, a Hugging Face Hub id
    (`org/name` or `org/name@revision`, e.g. "usyd-community/vitpose-base-simple": its safetensors are
    downloaded once into the huggingface_hub cache; an existing path of that name wins), or None for random
    init (warns: only useful for benchmarks and tests). name: a key of `vitpose_trt.MODELS`, inferred from the
    weights when None. dataset: a key of `vitpose_trt.KEYPOINT_SETS`; picks the expert and head of a
    ViTPose++ checkpoint; defaults to the spec's keypoint set.
    """
    import_optional("torch", "the PyTorch model")
    from .architecture import ViTPose

    if weights is None:
        spec = spec_by_name(name or DEFAULT_MODEL)
        keypoints = keypoint_set_by_name(dataset or spec.default_keypoints)
        warnings.warn(
            f"no weights given: {spec.name} has random weights (fine for benchmarks, useless for poses)",
            stacklevel=2,
        )
        return ViTPose(spec, keypoints).eval()
    from .checkpoints import model_from_checkpoint
    from .hub import checkpoint_location

    for check, value in ((spec_by_name, name), (keypoint_set_by_name, dataset)):
        if value is not None:
            check(value)  # a misspelt name fails before a download, not after
    return model_from_checkpoint(checkpoint_location(weights), name=name, dataset=dataset)
