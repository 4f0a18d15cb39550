"""Official ViTPose (mmpose) checkpoint layout -> the keys of `vitpose_trt.model.architecture.ViTPose`.

Our parameter names are the official ones (`backbone.patch_embed.proj.*`, `backbone.blocks.{i}.*`,
`backbone.last_norm.*`, `keypoint_head.*`) with one exception: `backbone.pos_embed` is stored folded.
The official (1, 1 + T, C) table is only ever used as `pos[:, 1:] + pos[:, :1]`, so the conversion adds
the class slot into the T patch slots once and the exported graph carries a (1, T, C) constant.
"""

from __future__ import annotations

from ..specs import MODELS

POS_EMBED = "backbone.pos_embed"
#: Prefixes whose keys are enough to call a state dict official-layout.
OFFICIAL_PREFIXES = ("backbone.patch_embed.", "backbone.blocks.", "keypoint_head.")
#: Keys of official checkpoints that inference never uses (the ViT class token, kept for resizing).
UNUSED_KEYS = ("backbone.cls_token",)
#: Token counts of every known variant's patch grid (T); an official pos_embed has T + 1 slots.
GRID_TOKENS = frozenset(spec.num_tokens for spec in MODELS.values())


def is_official_layout(state_dict: dict) -> bool:
    """True when `state_dict` uses the official ViTPose parameter names."""
    return any(key.startswith(OFFICIAL_PREFIXES) for key in state_dict)


def folded_position_embedding(pos):
    """(1, 1 + T, C) official table -> (1, T, C) `pos[:, 1:] + pos[:, :1]`, summed in float32.

    A table that already has T slots (our own saved state dicts) is returned unchanged.
    """
    if pos.ndim == 3 and pos.shape[1] - 1 in GRID_TOKENS:
        pos = pos.float()
        return pos[:, 1:] + pos[:, :1]
    return pos


def convert_state_dict(state_dict: dict) -> dict:
    """Official single-head, plain-MLP state dict -> our state dict (new dict; tensors not copied).

    ViTPose++ checkpoints go through `vitpose_trt.model.moe.convert_state_dict` first. Keys this
    function does not know are passed through, so that a shape check can report them as unexpected.
    """
    converted = {key: value for key, value in state_dict.items() if key not in UNUSED_KEYS}
    if POS_EMBED in converted:
        converted[POS_EMBED] = folded_position_embedding(converted[POS_EMBED])
    return converted
