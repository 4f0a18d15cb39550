"""Which ViTPose variant and keypoint set converted weights fit, and a report of what does not fit.

Works on our own state-dict layout (official names, folded `pos_embed`, one head, plain MLPs). The
attention head count is not visible in the weights: it comes from the spec table (or, for Hugging
Face folders, from config.json).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import CheckpointError, ConfigError
from ..keypoints import (
    KEYPOINT_SETS,
    KeypointSet,
    keypoint_set_by_count,
    keypoint_set_by_name,
)
from ..specs import MODELS, ModelSpec

PATCH_WEIGHT = "backbone.patch_embed.proj.weight"
DECONV_WEIGHT = "keypoint_head.deconv_layers.0.weight"
FINAL_WEIGHT = "keypoint_head.final_layer.weight"
_BLOCK_KEY = re.compile(r"^backbone\.blocks\.(\d+)\.")
#: Buffers that old checkpoints may lack; the model's own value (0) is as good as any.
OPTIONAL_SUFFIXES = (".num_batches_tracked",)
#: How many keys of each kind an error message lists before summarising the rest.
MAX_LISTED = 8


@dataclass(frozen=True)
class WeightShapes:
    """What the tensor shapes say about a ViTPose: sizes, head type, keypoint count, ViTPose++ parts."""

    embed_dim: int
    depth: int
    head: str
    deconv_channels: int
    num_keypoints: int
    part_features: int = 0

    def describe(self) -> str:
        head = f"classic head ({self.deconv_channels} ch)" if self.head == "classic" else "simple head"
        moe = f", ViTPose++ with {self.part_features} part features" if self.part_features else ""
        return f"embed dim {self.embed_dim}, depth {self.depth}, {head}, {self.num_keypoints} keypoints{moe}"


def weight_shapes(state_dict: dict, part_features: int = 0) -> WeightShapes:
    """Read sizes from a converted state dict; `CheckpointError` when it is not a ViTPose at all."""
    for key in (PATCH_WEIGHT, FINAL_WEIGHT):
        if key not in state_dict:
            raise CheckpointError(f"not a ViTPose checkpoint: no {key} (first keys: {_first_keys(state_dict)})")
    blocks = [int(m.group(1)) for m in map(_BLOCK_KEY.match, state_dict) if m]
    deconv = state_dict.get(DECONV_WEIGHT)
    return WeightShapes(
        embed_dim=int(state_dict[PATCH_WEIGHT].shape[0]),
        depth=max(blocks) + 1 if blocks else 0,
        head="classic" if deconv is not None else "simple",
        # ConvTranspose2d weights are (in, out, kH, kW).
        deconv_channels=int(deconv.shape[1]) if deconv is not None else 0,
        num_keypoints=int(state_dict[FINAL_WEIGHT].shape[0]),
        part_features=part_features,
    )


def specs_fitting(shapes: WeightShapes, num_heads: int | None = None) -> list[ModelSpec]:
    """Every spec of `MODELS` whose architecture these weights fit (num_heads: from a config, if known)."""
    return [
        spec
        for spec in MODELS.values()
        if (spec.embed_dim, spec.depth, spec.head) == (shapes.embed_dim, shapes.depth, shapes.head)
        and (spec.head != "classic" or spec.deconv_channels == shapes.deconv_channels)
        and spec.part_features == shapes.part_features
        and num_heads in (None, spec.num_heads)
    ]


def spec_for_weights(shapes: WeightShapes, num_heads: int | None, path) -> ModelSpec:
    """The one spec these weights fit, or `CheckpointError` describing them."""
    fitting = specs_fitting(shapes, num_heads)
    if not fitting:
        heads = f", {num_heads} attention heads" if num_heads else ""
        raise CheckpointError(
            f"{path}: no known ViTPose variant fits these weights ({shapes.describe()}{heads}); "
            f"known variants: {', '.join(MODELS)}"
        )
    return fitting[0]


def keypoints_for_weights(shapes: WeightShapes, dataset: str | None, path) -> KeypointSet:
    """The keypoint set of the head: `dataset` if given (must have K keypoints), else the one with K."""
    if dataset is None:
        try:
            return keypoint_set_by_count(shapes.num_keypoints)
        except ConfigError:
            known = ", ".join(f"{kset.name} {kset.num_keypoints}" for kset in KEYPOINT_SETS.values())
            raise CheckpointError(
                f"{path}: the head predicts {shapes.num_keypoints} keypoints and no known keypoint set has that "
                f"many (known: {known})"
            ) from None
    keypoints = keypoint_set_by_name(dataset)
    if keypoints.num_keypoints != shapes.num_keypoints:
        raise CheckpointError(
            f"{path}: the head predicts {shapes.num_keypoints} keypoints but dataset {dataset!r} has "
            f"{keypoints.num_keypoints}"
        )
    return keypoints


def fit_problems(expected: dict, state_dict: dict) -> tuple[list[str], list[str], list[str]]:
    """(missing, unexpected, mismatched) keys of `state_dict` against `expected` {key: shape}, with shapes."""
    missing = [
        f"{k} {tuple(shape)}"
        for k, shape in expected.items()
        if k not in state_dict and not k.endswith(OPTIONAL_SUFFIXES)
    ]
    unexpected = [f"{k} {tuple(v.shape)}" for k, v in state_dict.items() if k not in expected]
    mismatched = [
        f"{k} checkpoint {tuple(v.shape)} vs model {tuple(expected[k])}"
        for k, v in state_dict.items()
        if k in expected and tuple(v.shape) != tuple(expected[k])
    ]
    return missing, unexpected, mismatched


def fit_message(problems: tuple[list[str], list[str], list[str]]) -> str:
    """One line listing the missing, unexpected and mismatched keys (the first MAX_LISTED of each)."""
    parts = []
    for label, keys in zip(("missing", "unexpected", "mismatched"), problems):
        if keys:
            more = f" ... and {len(keys) - MAX_LISTED} more" if len(keys) > MAX_LISTED else ""
            parts.append(f"{len(keys)} {label}: {', '.join(keys[:MAX_LISTED])}{more}")
    return "; ".join(parts)


def would_fit(shapes: WeightShapes, num_heads: int | None) -> str:
    """'vitpose-b' (the variants these weights fit) or a note that none does, for error messages."""
    fitting = specs_fitting(shapes, num_heads)
    if fitting:
        return f"the weights fit {', '.join(spec.name for spec in fitting)}"
    return f"no known variant fits the weights ({shapes.describe()})"


def _first_keys(state_dict: dict) -> str:
    return ", ".join(list(state_dict)[:MAX_LISTED]) or "none"
