"""ViTPose models with peaked heatmaps, in our layout and in Hugging Face's, plus HF's pipeline as an oracle.

Random weights give flat heatmaps whose argmax flips with any rounding difference, so comparing keypoints
would measure noise. These builders keep the real architecture and set the weights so the network
computes something with a known answer:

- every transformer block adds zero (attention output and MLP fc2 weights are 0): the backbone is
  last_norm(patch_embed(x) + position embedding);
- the position embedding puts, for keypoint k, a Gaussian (sigma TOKEN_SIGMA tokens) around a random
  sub-token centre into channel k; two "ballast" channels at +-BALLAST make the final LayerNorm's variance
  constant, so the norm acts as x - mean (a third channel cancels the Gaussians' mean);
- the patch embedding adds the image through random weights (PATCH_CONTENT relative amplitude), so the
  crops' content moves the peaks a little;
- both deconvs upsample each keypoint channel with a separable 4-tap Gaussian (sigma DECONV_SIGMA),
  BatchNorm is the identity and the 1x1 conv copies channel k to heatmap k.

The heatmaps are smooth Gaussian-shaped peaks (sigma ~6 heatmap px) at sub-pixel positions, which both
DARK implementations recover (HF blurs with sigma 0.8, the official code with sigma 2).
"""

from __future__ import annotations

import numpy as np

#: HF's classic head has 256 deconv channels fixed: vitpose-s fits it (vitpose-tiny has 64).
HF_VARIANT = dict(hidden_size=384, num_hidden_layers=12, num_attention_heads=12)
TOKEN_GRID = (16, 12)
TOKEN_SIGMA = 1.5
DECONV_SIGMA = 1.0
BALLAST = 100.0
PATCH_CONTENT = 0.01
NUM_KEYPOINTS = 17
#: Keypoint centres stay this many tokens away from the grid's edges.
CENTRE_MARGIN = 2


def deconv_kernel() -> np.ndarray:
    """(4, 4) separable stride-2 kernel: Gaussian taps at +-0.5, +-1.5 px; each output phase sums to 1."""
    taps = np.exp(-np.array([1.5, 0.5, 0.5, 1.5]) ** 2 / (2 * DECONV_SIGMA**2))
    taps /= taps[0] + taps[2]
    return np.outer(taps, taps).astype(np.float32)


def position_table(dim: int, seed: int = 0) -> np.ndarray:
    """(T, dim) float32 per-token embedding: keypoint Gaussians in channels 0..K-1 plus the ballast."""
    rng = np.random.default_rng(seed)
    rows, cols = TOKEN_GRID
    centres_r = rng.uniform(CENTRE_MARGIN, rows - 1 - CENTRE_MARGIN, NUM_KEYPOINTS)
    centres_c = rng.uniform(CENTRE_MARGIN, cols - 1 - CENTRE_MARGIN, NUM_KEYPOINTS)
    grid_r, grid_c = np.mgrid[0:rows, 0:cols]
    distance2 = (grid_r[None] - centres_r[:, None, None]) ** 2 + (grid_c[None] - centres_c[:, None, None]) ** 2
    maps = np.exp(-distance2 / (2 * TOKEN_SIGMA**2)).reshape(NUM_KEYPOINTS, -1).T
    table = np.zeros((rows * cols, dim), np.float32)
    table[:, :NUM_KEYPOINTS] = maps
    table[:, dim - 3] = -maps.sum(axis=1)
    table[:, dim - 2], table[:, dim - 1] = BALLAST, -BALLAST
    return table


def _set_peaked(torch, patch_proj, pos, blocks_out, last_norm, deconvs, norms, final, seed: int) -> None:
    """Write the peaked weights into the given modules/parameters (names differ per layout)."""
    generator = torch.Generator().manual_seed(seed)
    dim = patch_proj.weight.shape[0]
    for linear in blocks_out:
        linear.weight.zero_()
        linear.bias.zero_()
    # HF keeps the official (1, 1 + T, C) table whose class slot is added to every token: left at zero.
    pos.zero_()
    pos[0, -TOKEN_GRID[0] * TOKEN_GRID[1]:] = torch.from_numpy(position_table(dim, seed))
    weights = torch.zeros_like(patch_proj.weight)
    fan_in = weights[0].numel()
    weights[:NUM_KEYPOINTS] = torch.randn(NUM_KEYPOINTS, *weights.shape[1:], generator=generator) * (
        PATCH_CONTENT / fan_in**0.5)
    patch_proj.weight.copy_(weights)
    patch_proj.bias.zero_()
    last_norm.weight.fill_(BALLAST * (2.0 / dim) ** 0.5)
    last_norm.bias.zero_()
    kernel = torch.from_numpy(deconv_kernel())
    for deconv, norm in zip(deconvs, norms):
        deconv.weight.zero_()
        norm.weight.fill_(1.0)
        norm.bias.zero_()
        norm.running_mean.zero_()
        norm.running_var.fill_(1.0)
        for k in range(NUM_KEYPOINTS):
            deconv.weight[k, k] = kernel
    final.weight.zero_()
    final.bias.zero_()
    for k in range(NUM_KEYPOINTS):
        final.weight[k, k] = 1.0


def peaked_vitpose(name: str = "vitpose-tiny", seed: int = 0):
    """Our `ViTPose` (COCO head) of variant `name` with peaked heatmaps."""
    import torch

    import vitpose_trt as vt

    model = vt.load_model(name=name)
    backbone, head = model.backbone, model.keypoint_head
    with torch.no_grad():
        _set_peaked(
            torch, backbone.patch_embed.proj, backbone.pos_embed,
            [linear for block in backbone.blocks for linear in (block.attn.proj, block.mlp.fc2)],
            backbone.last_norm, (head.deconv_layers[0], head.deconv_layers[3]),
            (head.deconv_layers[1], head.deconv_layers[4]), head.final_layer, seed,
        )
    return model


def peaked_hf_model(seed: int = 0):
    """A transformers `VitPoseForPoseEstimation` (vitpose-s sizes, classic head, COCO, layer_norm_eps 1e-6)."""
    import torch
    from transformers import (
        VitPoseBackboneConfig,
        VitPoseConfig,
        VitPoseForPoseEstimation,
    )

    backbone_config = VitPoseBackboneConfig(
        **HF_VARIANT, layer_norm_eps=1e-6, out_indices=[HF_VARIANT["num_hidden_layers"]]
    )
    config = VitPoseConfig(backbone_config=backbone_config, use_simple_decoder=False, num_labels=NUM_KEYPOINTS)
    torch.manual_seed(seed)
    model = VitPoseForPoseEstimation(config).eval()
    backbone, head = model.backbone, model.head
    with torch.no_grad():
        _set_peaked(
            torch, backbone.embeddings.patch_embeddings.projection, backbone.embeddings.position_embeddings,
            [linear for layer in backbone.encoder.layer for linear in (layer.attention.output.dense, layer.mlp.fc2)],
            backbone.layernorm, (head.deconv1, head.deconv2), (head.batchnorm1, head.batchnorm2), head.conv, seed,
        )
    return model


def hf_pipeline(model, image_rgb: np.ndarray, boxes_xywh: np.ndarray):
    """HF's pipeline: (keypoints (N, K, 2), scores (N, K), pixel_values (N, 3, 256, 192), heatmaps).

    `VitPoseImageProcessor` needs torchvision for its default backend; without it transformers hands out
    the PIL backend (`VitPoseImageProcessorPil`: the same scipy warp, normalisation and DARK code), used
    here directly.
    """
    import torch
    from transformers.models.vitpose.image_processing_pil_vitpose import (
        VitPoseImageProcessorPil,
    )

    processor = VitPoseImageProcessorPil()
    boxes = [np.asarray(boxes_xywh, dtype=np.float32)]
    inputs = processor(image_rgb, boxes=boxes, return_tensors="pt")
    with torch.inference_mode():
        outputs = model(**inputs)
    results = processor.post_process_pose_estimation(outputs, boxes=boxes)[0]
    keypoints = np.stack([r["keypoints"].numpy() for r in results])
    scores = np.stack([r["scores"].numpy() for r in results])
    return keypoints, scores, inputs["pixel_values"].numpy(), outputs.heatmaps.numpy()
