"""ViTPose in PyTorch: plain ViT backbone and the classic / simple heatmap heads.

Parameter names follow the official ViTPose checkpoints (`backbone.*`, `keypoint_head.*`) except that
`backbone.pos_embed` holds the already-folded (1, num_tokens, C) position embedding: the official
checkpoint's (1, 1 + num_tokens, C) table is only ever used as `pos[:, 1:] + pos[:, :1]`, a constant
that `convert_state_dict` folds once so the exported graph carries no runtime add of constants.
Nothing in `forward` depends on the batch size, so the model exports with a dynamic batch axis.
"""

from __future__ import annotations

from ..dependencies import import_optional

# This module defines nn.Module subclasses, so it needs torch at import time; without torch the import
# fails with MissingDependencyError (an ImportError) carrying the install hint.
torch = import_optional("torch", "the PyTorch model")
nn = torch.nn

from ..keypoints import KeypointSet  # noqa: E402
from ..specs import ModelSpec  # noqa: E402

#: BatchNorm eps of the classic head (PyTorch default, as in the official configs).
HEAD_BN_EPS = 1e-5


class Attention(nn.Module):
    """Multi-head self-attention with a fused qkv projection; (N, T, C) -> (N, T, C)."""

    def __init__(self, dim: int, num_heads: int):
        super().__init__()
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=True)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, tokens, dim = x.shape
        # -1 for the batch keeps the exported Reshape free of a runtime Shape on the batch axis.
        qkv = self.qkv(x).reshape(-1, tokens, 3, self.num_heads, dim // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = ((q * self.scale) @ k.transpose(-2, -1)).softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(-1, tokens, dim))


class Mlp(nn.Module):
    """fc1 -> GELU -> fc2; (N, T, C) -> (N, T, C)."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    """Pre-norm transformer block."""

    def __init__(self, spec: ModelSpec):
        super().__init__()
        dim = spec.embed_dim
        self.norm1 = nn.LayerNorm(dim, eps=spec.layer_norm_eps)
        self.attn = Attention(dim, spec.num_heads)
        self.norm2 = nn.LayerNorm(dim, eps=spec.layer_norm_eps)
        self.mlp = Mlp(dim, dim * spec.mlp_ratio)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    """16x16 stride-16 conv with padding 2: (N, 3, 256, 192) -> (N, C, 16, 12)."""

    def __init__(self, spec: ModelSpec):
        super().__init__()
        self.proj = nn.Conv2d(3, spec.embed_dim, spec.patch_size, spec.patch_size, spec.patch_padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)


class Backbone(nn.Module):
    """ViT backbone: (N, 3, 256, 192) -> feature map (N, C, 16, 12)."""

    def __init__(self, spec: ModelSpec):
        super().__init__()
        self.grid = spec.grid
        self.patch_embed = PatchEmbed(spec)
        self.pos_embed = nn.Parameter(torch.zeros(1, spec.num_tokens, spec.embed_dim))
        self.blocks = nn.ModuleList(Block(spec) for _ in range(spec.depth))
        self.last_norm = nn.LayerNorm(spec.embed_dim, eps=spec.layer_norm_eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(x)
        dim = x.shape[1]
        x = x.flatten(2).transpose(1, 2) + self.pos_embed
        for block in self.blocks:
            x = block(x)
        return self.last_norm(x).transpose(1, 2).reshape(-1, dim, *self.grid)


class ClassicHead(nn.Module):
    """2 x [ConvTranspose 4x4 s2 -> BN -> ReLU] -> 1x1 conv: (N, C, 16, 12) -> (N, K, 64, 48)."""

    def __init__(self, in_channels: int, channels: int, num_keypoints: int):
        super().__init__()
        self.deconv_layers = nn.Sequential(
            nn.ConvTranspose2d(in_channels, channels, 4, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(channels, eps=HEAD_BN_EPS),
            nn.ReLU(inplace=True),
            nn.ConvTranspose2d(channels, channels, 4, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(channels, eps=HEAD_BN_EPS),
            nn.ReLU(inplace=True),
        )
        self.final_layer = nn.Conv2d(channels, num_keypoints, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.final_layer(self.deconv_layers(x))


class SimpleHead(nn.Module):
    """ReLU -> bilinear x4 (align_corners=False) -> 3x3 conv: (N, C, 16, 12) -> (N, K, 64, 48)."""

    def __init__(self, in_channels: int, num_keypoints: int, upscale: int = 4):
        super().__init__()
        self.upscale = upscale
        self.final_layer = nn.Conv2d(in_channels, num_keypoints, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = nn.functional.interpolate(torch.relu(x), scale_factor=self.upscale, mode="bilinear", align_corners=False)
        return self.final_layer(x)


class ViTPose(nn.Module):
    """Top-down pose model: (N, 3, 256, 192) float32 normalised crops -> (N, K, 64, 48) heatmaps.

    `spec` is the architecture, `keypoints` the keypoint set whose head this is.
    """

    def __init__(self, spec: ModelSpec, keypoints: KeypointSet):
        super().__init__()
        self.spec = spec
        self.keypoints = keypoints
        self.backbone = Backbone(spec)
        k = keypoints.num_keypoints
        if spec.head == "classic":
            self.keypoint_head: nn.Module = ClassicHead(spec.embed_dim, spec.deconv_channels, k)
        else:
            self.keypoint_head = SimpleHead(spec.embed_dim, k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.keypoint_head(self.backbone(x))
