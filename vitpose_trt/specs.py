"""ViTPose variants as data: the architecture table, input/output geometry and tensor names.

A `ModelSpec` fixes the architecture up to the keypoint count K, which comes from the keypoint set
(`vitpose_trt.keypoints`). Every model maps (N, 3, INPUT_HEIGHT, INPUT_WIDTH) float32 crops to
(N, K, HEATMAP_HEIGHT, HEATMAP_WIDTH) heatmaps.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from .errors import ConfigError

#: ONNX / engine tensor names shared by export, engine and runtime.
INPUT_NAME = "input"
OUTPUT_NAME = "heatmaps"

#: Network input (H, W) and heatmap (H, W) in pixels; heatmaps are input / HEATMAP_STRIDE.
INPUT_HEIGHT, INPUT_WIDTH = 256, 192
HEATMAP_STRIDE = 4
HEATMAP_HEIGHT, HEATMAP_WIDTH = INPUT_HEIGHT // HEATMAP_STRIDE, INPUT_WIDTH // HEATMAP_STRIDE

#: ViTPose++ expert index per dataset (order of the official multi-task training).
MOE_DATASET_INDEX = {"coco": 0, "aic": 1, "mpii": 2, "ap10k": 3, "apt36k": 4, "wholebody": 5}


@dataclass(frozen=True)
class ModelSpec:
    """One ViTPose architecture.

    head: "classic" (2 deconvs + 1x1 conv) or "simple" (ReLU, bilinear x4, 3x3 conv).
    num_experts / part_features: ViTPose++ MoE checkpoints (0 for plain ViTPose). They describe the
    checkpoint only: loading folds the chosen expert, so the built module is always a plain ViTPose.
    """

    name: str
    embed_dim: int
    depth: int
    num_heads: int
    head: str = "classic"
    mlp_ratio: int = 4
    patch_size: int = 16
    patch_padding: int = 2
    deconv_channels: int = 256
    layer_norm_eps: float = 1e-6
    num_experts: int = 0
    part_features: int = 0
    default_keypoints: str = "coco"
    official: bool = True

    @property
    def grid(self) -> tuple[int, int]:
        """Token grid (rows, cols) of the patch embedding at the network input size."""
        pad2 = 2 * self.patch_padding
        return (
            (INPUT_HEIGHT + pad2 - self.patch_size) // self.patch_size + 1,
            (INPUT_WIDTH + pad2 - self.patch_size) // self.patch_size + 1,
        )

    @property
    def num_tokens(self) -> int:
        rows, cols = self.grid
        return rows * cols

    @property
    def is_moe(self) -> bool:
        return self.num_experts > 0

    def to_dict(self) -> dict:
        return asdict(self)


def _variants() -> dict[str, ModelSpec]:
    sizes = {"s": (384, 12, 12), "b": (768, 12, 12), "l": (1024, 24, 16), "h": (1280, 32, 16)}
    # ViTPose++ part_features per size, as in the released checkpoints (HF's conversion script loads them
    # strictly with these values; the parameter counts 33M/125M/434M/899M agree). The official small config
    # file says 192, but the released ViTPose+-S weights have 96.
    moe_parts = {"s": 96, "b": 192, "l": 256, "h": 320}
    table: dict[str, ModelSpec] = {}
    for size, (dim, depth, heads) in sizes.items():
        table[f"vitpose-{size}"] = ModelSpec(f"vitpose-{size}", dim, depth, heads)
        table[f"vitpose-{size}-simple"] = ModelSpec(f"vitpose-{size}-simple", dim, depth, heads, head="simple")
        table[f"vitpose-plus-{size}"] = ModelSpec(
            f"vitpose-plus-{size}", dim, depth, heads, num_experts=6, part_features=moe_parts[size]
        )
    # Not an official variant: a tiny model (no weights exist) for tests and smoke runs.
    table["vitpose-tiny"] = ModelSpec("vitpose-tiny", 192, 2, 3, deconv_channels=64, official=False)
    table["vitpose-tiny-simple"] = ModelSpec("vitpose-tiny-simple", 192, 2, 3, head="simple", official=False)
    return table


#: Every known variant by name.
MODELS: dict[str, ModelSpec] = _variants()


def spec_by_name(name: str) -> ModelSpec:
    """Return the spec called `name`, or raise `ConfigError` listing the valid names."""
    try:
        return MODELS[name]
    except KeyError:
        raise ConfigError(f"unknown model {name!r}; valid models: {', '.join(MODELS)}") from None

#: ImageNet normalisation of the official pipeline, per RGB channel, on 0-255 pixel values.
PIXEL_MEAN_RGB = (123.675, 116.28, 103.53)
PIXEL_STD_RGB = (58.395, 57.12, 57.375)
