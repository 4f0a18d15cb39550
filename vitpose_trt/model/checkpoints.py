"""`model_from_checkpoint`: any supported checkpoint layout -> an eval-mode `ViTPose`.

Stages: read the file without running pickled code (`checkpoint_files`), rename Hugging Face keys to
the official layout (`huggingface`), fold the ViTPose++ expert and pick the dataset's head (`moe`),
fold the position table (`official`), infer or check the variant and keypoint set (`matching`), then
load into a module built on the meta device (no wasted random init) with every shape checked first.
"""

from __future__ import annotations

from pathlib import Path

from ..dependencies import import_optional
from ..errors import CheckpointError, ConfigError
from ..keypoints import KeypointSet, keypoint_set_by_count, keypoint_set_by_name
from ..specs import ModelSpec, spec_by_name
from . import huggingface, matching, moe, official
from .checkpoint_files import CheckpointTensors, tensors_from_path


def model_from_checkpoint(path: str | Path, name: str | None = None, dataset: str | None = None):
    """Return an eval-mode `ViTPose` ((N, 3, 256, 192) float32 -> (N, K, 64, 48)) with the weights at `path`.

    path: official `.pth` (with or without the `state_dict` wrapper), HF `save_pretrained` folder or
    `.safetensors` file, or a ViTPose++ checkpoint of either kind. name: a `vitpose_trt.MODELS` key,
    inferred from the weights when None; `CheckpointError` when the weights don't fit it. dataset: a
    `vitpose_trt.KEYPOINT_SETS` key; picks the ViTPose++ expert and head (default COCO) and must match the
    head's keypoint count; when None the keypoint set is the one with the head's K keypoints.
    Raises `ConfigError` for unknown names, `CheckpointError` for unreadable or ill-fitting weights.
    """
    requested = spec_by_name(name) if name is not None else None
    if dataset is not None:
        keypoint_set_by_name(dataset)
    checkpoint = tensors_from_path(Path(path))
    layout = _official_layout(checkpoint)
    parts = moe.part_features(layout)
    state_dict = official.convert_state_dict(moe.convert_state_dict(layout, dataset))
    shapes = matching.weight_shapes(state_dict, parts)
    num_heads = huggingface.num_heads_from_config(checkpoint.hf_config)
    if requested is not None and requested not in matching.specs_fitting(shapes, num_heads):
        raise _unfit_error(checkpoint.path, requested, None, state_dict, shapes, num_heads)
    spec = requested or matching.spec_for_weights(shapes, num_heads, checkpoint.path)
    keypoints = matching.keypoints_for_weights(shapes, dataset, checkpoint.path)
    return _loaded_model(spec, keypoints, state_dict, checkpoint.path, shapes, num_heads)


def _official_layout(checkpoint: CheckpointTensors) -> dict:
    """The checkpoint's tensors under official ViTPose names (HF layouts renamed)."""
    tensors = checkpoint.tensors
    if huggingface.is_hf_layout(tensors):
        return huggingface.convert_state_dict(tensors)
    if official.is_official_layout(tensors):
        return tensors
    raise CheckpointError(
        f"{checkpoint.path} is neither an official ViTPose nor a Hugging Face VitPose checkpoint "
        f"(first keys: {', '.join(list(tensors)[:matching.MAX_LISTED])})"
    )


def _loaded_model(
    spec: ModelSpec,
    keypoints: KeypointSet,
    state_dict: dict,
    path: Path,
    shapes: matching.WeightShapes,
    num_heads: int | None,
):
    """`ViTPose(spec, keypoints)` holding `state_dict` (float32, eval mode); `CheckpointError` if it doesn't fit."""
    torch = import_optional("torch", "the PyTorch model")
    from .architecture import ViTPose

    with torch.device("meta"):
        model = ViTPose(spec, keypoints)
    expected = {key: value.shape for key, value in model.state_dict().items()}
    if any(matching.fit_problems(expected, state_dict)):
        raise _unfit_error(path, spec, keypoints, state_dict, shapes, num_heads)
    full = {key: value.float() if value.is_floating_point() else value for key, value in state_dict.items()}
    for key, value in model.state_dict().items():
        # Buffers old checkpoints lack (num_batches_tracked): a real zero instead of the meta placeholder.
        full.setdefault(key, torch.zeros(value.shape, dtype=value.dtype))
    model.load_state_dict(full, strict=True, assign=True)
    return model.eval()


def _unfit_error(
    path: Path,
    spec: ModelSpec,
    keypoints: KeypointSet | None,
    state_dict: dict,
    shapes: matching.WeightShapes,
    num_heads: int | None,
) -> CheckpointError:
    """CheckpointError listing what doesn't fit `spec` and which variant would."""
    torch = import_optional("torch", "the PyTorch model")
    from .architecture import ViTPose

    if keypoints is None:
        try:
            keypoints = keypoint_set_by_count(shapes.num_keypoints)
        except ConfigError:
            keypoints = keypoint_set_by_name(spec.default_keypoints)
    with torch.device("meta"):
        expected = {key: value.shape for key, value in ViTPose(spec, keypoints).state_dict().items()}
    report = matching.fit_message(matching.fit_problems(expected, state_dict))
    if not report:
        reasons = [f"the weights are {shapes.describe()}"]
        if spec.part_features != shapes.part_features:
            reasons.append(f"{spec.name} has {spec.part_features} ViTPose++ part features")
        if num_heads is not None and num_heads != spec.num_heads:
            reasons.append(f"{spec.name} has {spec.num_heads} attention heads, config.json says {num_heads}")
        report = ", ".join(reasons)
    return CheckpointError(
        f"{path} does not fit {spec.name} ({keypoints.name}, {keypoints.num_keypoints} keypoints): {report}; "
        f"{matching.would_fit(shapes, num_heads)}"
    )
