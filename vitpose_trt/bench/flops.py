"""Analytic multiply-accumulate count of a ViTPose forward pass, per crop, from its `ModelSpec`.

Counts the matrix products (convolutions, linear layers, the two attention matmuls), which are where
the time goes; LayerNorm, softmax, GELU, BatchNorm and the bilinear resize are elementwise and left out
(under 1% of the total). One MAC = 2 FLOPs. The backbone totals match the official ViTPose figures
(S 4.5, B 17.1, L 59.9, H 124.0 GMACs at 256x192).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ..specs import HEATMAP_HEIGHT, HEATMAP_WIDTH, ModelSpec

FLOPS_PER_MAC = 2
#: Kernel and stride of the classic head's ConvTranspose layers, and the simple head's final conv kernel.
DECONV_KERNEL, DECONV_STRIDE, NUM_DECONVS = 4, 2, 2
SIMPLE_HEAD_KERNEL = 3
IMAGE_CHANNELS = 3


@dataclass(frozen=True)
class MacCount:
    """Multiply-accumulates for one (3, 256, 192) crop, by part of the network."""

    patch_embed: int
    attention_linear: int
    attention_matmul: int
    mlp: int
    head: int

    @property
    def backbone(self) -> int:
        return self.patch_embed + self.attention_linear + self.attention_matmul + self.mlp

    @property
    def total(self) -> int:
        return self.backbone + self.head

    @property
    def flops(self) -> int:
        """FLOPs per crop (2 per MAC)."""
        return FLOPS_PER_MAC * self.total

    def to_dict(self) -> dict:
        return {**asdict(self), "backbone": self.backbone, "total": self.total, "flops": self.flops}


def macs_of_spec(spec: ModelSpec, num_keypoints: int) -> MacCount:
    """MACs per crop of `spec` with a K = `num_keypoints` heatmap head (ViTPose++ experts folded)."""
    tokens, dim = spec.num_tokens, spec.embed_dim
    hidden = dim * spec.mlp_ratio
    patch_embed = tokens * dim * IMAGE_CHANNELS * spec.patch_size**2
    # Per block: fused qkv (dim -> 3 dim) and output projection (dim -> dim).
    attention_linear = spec.depth * tokens * (3 * dim * dim + dim * dim)
    # Per block: q @ k^T and attn @ v, each tokens x tokens x dim summed over heads.
    attention_matmul = spec.depth * 2 * tokens * tokens * dim
    mlp = spec.depth * tokens * 2 * dim * hidden
    return MacCount(patch_embed, attention_linear, attention_matmul, mlp, _head_macs(spec, num_keypoints))


def _head_macs(spec: ModelSpec, num_keypoints: int) -> int:
    rows, cols = spec.grid
    if spec.head == "simple":
        return HEATMAP_HEIGHT * HEATMAP_WIDTH * spec.embed_dim * num_keypoints * SIMPLE_HEAD_KERNEL**2
    macs, channels_in, pixels_in = 0, spec.embed_dim, rows * cols
    for _ in range(NUM_DECONVS):
        # A transposed conv scatters every input pixel through the full kernel.
        macs += pixels_in * channels_in * spec.deconv_channels * DECONV_KERNEL**2
        channels_in, pixels_in = spec.deconv_channels, pixels_in * DECONV_STRIDE**2
    return macs + pixels_in * channels_in * num_keypoints
