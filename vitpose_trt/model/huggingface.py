"""Hugging Face transformers `VitPoseForPoseEstimation` layout -> the official ViTPose layout.

HF splits the fused qkv projection into query/key/value, renames the norms and the head, and keeps
the official (1, 1 + T, C) position table. `convert_state_dict` maps every HF name to its official
name (qkv concatenated in q, k, v order, as the official `Attention` splits it); the official
conversion then folds the position table. ViTPose++ experts (`mlp.experts.{j}`) keep their names.
HF checkpoints hold one head (`head.*`); HF's conversion of ViTPose++ keeps only the COCO head.
"""

from __future__ import annotations

import re

from ..dependencies import import_optional

#: Prefixes whose keys are enough to call a state dict HF-layout.
HF_PREFIXES = ("backbone.embeddings.", "backbone.encoder.", "head.")
_QKV = ("query", "key", "value")
_QKV_KEY = re.compile(r"backbone\.encoder\.layer\.(\d+)\.attention\.attention\.(query|key|value)\.(weight|bias)$")

#: (HF pattern, official replacement), applied in order with re.sub on full key names.
_RENAMES = (
    (r"^backbone\.embeddings\.patch_embeddings\.projection\.", "backbone.patch_embed.proj."),
    (r"^backbone\.embeddings\.position_embeddings$", "backbone.pos_embed"),
    (r"^backbone\.encoder\.layer\.(\d+)\.attention\.output\.dense\.", r"backbone.blocks.\1.attn.proj."),
    (r"^backbone\.encoder\.layer\.(\d+)\.layernorm_before\.", r"backbone.blocks.\1.norm1."),
    (r"^backbone\.encoder\.layer\.(\d+)\.layernorm_after\.", r"backbone.blocks.\1.norm2."),
    (r"^backbone\.encoder\.layer\.(\d+)\.mlp\.", r"backbone.blocks.\1.mlp."),
    (r"^backbone\.layernorm\.", "backbone.last_norm."),
    (r"^head\.deconv1\.", "keypoint_head.deconv_layers.0."),
    (r"^head\.batchnorm1\.", "keypoint_head.deconv_layers.1."),
    (r"^head\.deconv2\.", "keypoint_head.deconv_layers.3."),
    (r"^head\.batchnorm2\.", "keypoint_head.deconv_layers.4."),
    (r"^head\.conv\.", "keypoint_head.final_layer."),
)


def is_hf_layout(state_dict: dict) -> bool:
    """True when `state_dict` uses transformers' VitPose parameter names."""
    return any(key.startswith(HF_PREFIXES) for key in state_dict)


def official_key(hf_key: str) -> str:
    """The official name of one HF parameter (unknown names come back unchanged)."""
    for pattern, replacement in _RENAMES:
        renamed, count = re.subn(pattern, replacement, hf_key)
        if count:
            return renamed
    return hf_key


def convert_state_dict(state_dict: dict) -> dict:
    """HF `VitPoseForPoseEstimation` state dict -> official-layout state dict (pos_embed not folded).

    Query/key/value (C, C) weights and (C,) biases of block i become `backbone.blocks.{i}.attn.qkv.*`
    of shape (3C, C) / (3C,). A block missing one of the three keeps the others under their HF names,
    so the shape check reports them.
    """
    torch = import_optional("torch", "converting Hugging Face checkpoints")
    converted: dict = {}
    parts: dict = {}
    for key, value in state_dict.items():
        match = _QKV_KEY.match(key)
        if match:
            layer, which, kind = match.groups()
            parts.setdefault((layer, kind), {})[which] = (key, value)
        else:
            converted[official_key(key)] = value
    for (layer, kind), found in parts.items():
        if all(name in found for name in _QKV):
            converted[f"backbone.blocks.{layer}.attn.qkv.{kind}"] = torch.cat([found[n][1] for n in _QKV], dim=0)
        else:
            converted.update(dict(found.values()))
    return converted


def num_heads_from_config(config: dict | None) -> int | None:
    """`num_attention_heads` of a VitPoseConfig's backbone (None without a config)."""
    if not config:
        return None
    backbone = config.get("backbone_config") or {}
    heads = backbone.get("num_attention_heads")
    return int(heads) if heads is not None else None

