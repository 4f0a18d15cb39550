"""ViTPose++ (mixture-of-experts) and multi-head checkpoints -> one plain, single-head ViTPose.

In a ViTPose++ block, `mlp.fc2` (Linear hidden -> C - P) gives the first C - P output channels for
every dataset and expert j (`mlp.experts.{j}`, Linear hidden -> P) the last P channels for dataset j:
the official forward is `cat([fc2(h), experts[j](h)], -1)`. Stacking expert j's rows under fc2's rows
gives one Linear hidden -> C that computes exactly that, so the folded model is a plain ViTPose.
Heads (official `TopDownMoE`, `tools/model_split.py`): `keypoint_head` belongs to dataset 0 (COCO),
`associate_keypoint_heads.{i}` to dataset i + 1, in the order of `vitpose_trt.specs.MOE_DATASET_INDEX`.
Everything here works on official-layout keys.
"""

from __future__ import annotations

import re
import warnings

from ..dependencies import import_optional
from ..errors import CheckpointError
from ..keypoints import keypoint_set_by_name
from ..specs import MOE_DATASET_INDEX

_EXPERT_KEY = re.compile(r"^backbone\.blocks\.(\d+)\.mlp\.experts\.(\d+)\.(weight|bias)$")
_ASSOCIATE_KEY = re.compile(r"^associate_keypoint_heads\.(\d+)\.(.+)$")
MAIN_HEAD = "keypoint_head."
PATCH_WEIGHT = "backbone.patch_embed.proj.weight"
FINAL_LAYER = "keypoint_head.final_layer."


def part_features(state_dict: dict) -> int:
    """P, the channels each expert adds (0 for a plain checkpoint, including split ViTPose++ files)."""
    fc2 = state_dict.get("backbone.blocks.0.mlp.fc2.weight")
    if fc2 is None or PATCH_WEIGHT not in state_dict or not num_experts(state_dict):
        return 0
    return int(state_dict[PATCH_WEIGHT].shape[0] - fc2.shape[0])


def num_experts(state_dict: dict) -> int:
    """How many experts the blocks carry (0 for a plain checkpoint)."""
    return len({m.group(2) for m in map(_EXPERT_KEY.match, state_dict) if m})


def associate_heads(state_dict: dict) -> list[int]:
    """Indices i of the `associate_keypoint_heads.{i}` the checkpoint holds, ascending."""
    return sorted({int(m.group(1)) for m in map(_ASSOCIATE_KEY.match, state_dict) if m})


def convert_state_dict(state_dict: dict, dataset: str | None) -> dict:
    """Fold the expert and pick the head of `dataset` (None: COCO / the main head) -> plain official layout.

    A plain single-head checkpoint comes back unchanged but for leftover expert and associate-head
    keys (which `tools/model_split.py` leaves in its outputs), which are dropped.
    """
    is_moe = part_features(state_dict) > 0
    index = _dataset_index(state_dict, dataset, is_moe)
    split_leftovers = num_experts(state_dict) and not is_moe  # tools/model_split.py's coco file: coco only
    if dataset is None and associate_heads(state_dict) and not split_leftovers:
        _warn_coco_chosen(associate_heads(state_dict))
    if is_moe:
        state_dict = _expert_folded(state_dict, index, dataset or "coco")
    head = _head_selected(state_dict, index, dataset, is_moe)
    return {k: v for k, v in head.items() if not (_EXPERT_KEY.match(k) or _ASSOCIATE_KEY.match(k))}


def _warn_coco_chosen(heads: list[int]) -> None:
    """A UserWarning that a checkpoint with heads for several datasets runs its COCO head (and expert), because
    no dataset was asked for: what a tool without a dataset option does, not what every user wants."""
    by_index = {index: name for name, index in MOE_DATASET_INDEX.items()}
    others = [by_index.get(head + 1, f"head {head + 1}") for head in heads]
    warnings.warn(f"this checkpoint has heads for coco, {', '.join(others)}: the coco one runs (pick another with "
                  "load_model(..., dataset=...) or vitpose-export --dataset, then use the exported file)",
                  UserWarning, stacklevel=2)


def _dataset_index(state_dict: dict, dataset: str | None, is_moe: bool) -> int:
    """The expert / head index of `dataset` (0 = COCO), or `CheckpointError` if this checkpoint can't serve it."""
    multi_task = num_experts(state_dict) or associate_heads(state_dict)
    if dataset is not None and dataset not in MOE_DATASET_INDEX and multi_task:
        raise CheckpointError(
            f"dataset {dataset!r} has no ViTPose++ expert or head; datasets with one: {', '.join(MOE_DATASET_INDEX)}"
        )
    index = MOE_DATASET_INDEX.get(dataset, 0) if dataset else 0
    if num_experts(state_dict) and not is_moe and index != 0:
        raise CheckpointError(
            "this checkpoint's fc2 layers already include the COCO expert (an output of the official "
            f"tools/model_split.py); dataset {dataset!r} needs the unsplit ViTPose++ checkpoint or its split file"
        )
    return index


def _expert_folded(state_dict: dict, index: int, dataset: str) -> dict:
    torch = import_optional("torch", "folding ViTPose++ experts")
    folded = dict(state_dict)
    blocks = sorted({int(m.group(1)) for m in map(_EXPERT_KEY.match, state_dict) if m})
    for block in blocks:
        for kind in ("weight", "bias"):
            fc2_key = f"backbone.blocks.{block}.mlp.fc2.{kind}"
            expert_key = f"backbone.blocks.{block}.mlp.experts.{index}.{kind}"
            if expert_key not in state_dict:
                raise CheckpointError(
                    f"ViTPose++ checkpoint has no {expert_key} for dataset {dataset!r} "
                    f"(it holds {num_experts(state_dict)} experts)"
                )
            if fc2_key in state_dict:
                folded[fc2_key] = torch.cat([state_dict[fc2_key], state_dict[expert_key]], dim=0)
    return folded


def _head_selected(state_dict: dict, index: int, dataset: str | None, is_moe: bool) -> dict:
    """Replace `keypoint_head.*` by the head of dataset `index` when the checkpoint has several heads."""
    extra_heads = associate_heads(state_dict)
    if index == 0 or not (extra_heads or is_moe):
        return state_dict
    wanted = index - 1
    if wanted not in extra_heads:
        raise CheckpointError(
            f"checkpoint holds no head for dataset {dataset!r} (associate_keypoint_heads.{wanted}); heads present: "
            f"keypoint_head (coco){''.join(f', associate_keypoint_heads.{i}' for i in extra_heads)}. "
            "Hugging Face ViTPose++ conversions keep only the COCO head: use the official .pth for other datasets"
        )
    prefix = f"associate_keypoint_heads.{wanted}."
    selected = {k: v for k, v in state_dict.items() if not k.startswith(MAIN_HEAD)}
    selected.update({MAIN_HEAD + k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)})
    return _final_layer_trimmed(selected, keypoint_set_by_name(dataset).num_keypoints)


def _final_layer_trimmed(state_dict: dict, num_keypoints: int) -> dict:
    """Keep the first K output channels of the final layer, as the official `model_split.py` does."""
    for kind in ("weight", "bias"):
        key = FINAL_LAYER + kind
        if key in state_dict and state_dict[key].shape[0] > num_keypoints:
            state_dict[key] = state_dict[key][:num_keypoints]
    return state_dict
