"""Which parts of ViTPose need fp32 for bf16 to stay within the 16-bit accuracy bound: bf16 emulated in PyTorch.

bf16 hardware (AVX512-BF16, AMX) is not on every machine, but its arithmetic can be imitated anywhere:
every matmul / convolution takes bf16-rounded inputs and weights, accumulates in fp32 (as AMX and
AVX512-BF16 do) and rounds its output to bf16; each variant also rounds to bf16 what it computes in
bf16 outside the matmuls. Heatmaps are compared with fp32 PyTorch on the export reports' 15 held-out real
crops (relative L2; bound 0.01 for 16-bit floats). Variants:
- all bf16: every tensor rounded, the residual stream too (what OpenVINO's bf16 hint does by default);
- residual fp32: the same, but each block's `x + attn(...)`, `x + mlp(...)` kept in fp32 (what
  vitpose-trt's openvino backend asks OpenVINO for under bf16: vitpose_trt/openvino_cpu.py);
- residual and head fp32: also the deconvolution head in fp32.
Same random weights as the pipeline benchmark (transformers' init of ViTPose-B).

Reproduce (repository root, venv active; ~1 min): python benchmarks/cpu_pipeline/bf16_emulation.py
Writes bf16-emulation.md and .json beside this file.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from bench_cpu_pipeline import HERE, prepare

#: Variant -> (residual stream in bf16, head in bf16).
VARIANTS = {"all bf16": (True, True), "residual fp32": (False, True), "residual and head fp32": (False, False)}
BOUND = 1e-2


def _bf16(tensor):
    import torch

    return tensor.to(torch.bfloat16).float()


def _linear(layer, x):
    import torch.nn.functional as F

    return _bf16(F.linear(_bf16(x), _bf16(layer.weight), None if layer.bias is None else _bf16(layer.bias)))


def _attention(attention, x):
    _, tokens, dim = x.shape
    heads = attention.num_heads
    qkv = _linear(attention.qkv, x).reshape(-1, tokens, 3, heads, dim // heads).permute(2, 0, 3, 1, 4)
    q, k, v = qkv[0], qkv[1], qkv[2]
    probabilities = _bf16(_bf16(_bf16(q * attention.scale) @ k.transpose(-2, -1)).softmax(dim=-1))
    return _linear(attention.proj, _bf16(probabilities @ v).transpose(1, 2).reshape(-1, tokens, dim))


def _block(block, x, residual_bf16: bool):
    keep = _bf16 if residual_bf16 else (lambda t: t)
    x = keep(x + _attention(block.attn, _bf16(block.norm1(x))))
    hidden = _bf16(block.mlp.act(_linear(block.mlp.fc1, _bf16(block.norm2(x)))))
    return keep(x + _linear(block.mlp.fc2, hidden))


def _head(head, features, head_bf16: bool):
    import torch.nn.functional as F

    if not head_bf16:
        return head(features)
    layers = head.deconv_layers
    x = features
    for deconv, norm, relu in (layers[0:3], layers[3:6]):
        x = _bf16(relu(norm(_bf16(F.conv_transpose2d(_bf16(x), _bf16(deconv.weight), stride=2, padding=1)))))
    final = head.final_layer
    return _bf16(F.conv2d(x, _bf16(final.weight), _bf16(final.bias)))


def emulated_heatmaps(model, crops, residual_bf16: bool, head_bf16: bool) -> np.ndarray:
    """(N, K, 64, 48) heatmaps of a classic-head `ViTPose` on crops (N, 3, 256, 192), bf16 emulated."""
    import torch

    backbone = model.backbone
    with torch.inference_mode():
        x = _bf16(backbone.patch_embed(_bf16(crops)))
        dim = x.shape[1]
        x = _bf16(x.flatten(2).transpose(1, 2) + backbone.pos_embed)
        for block in backbone.blocks:
            x = _block(block, x, residual_bf16)
        features = _bf16(backbone.last_norm(x)).transpose(1, 2).reshape(-1, dim, *backbone.grid)
        return _head(model.keypoint_head, features, head_bf16).float().numpy()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="vitpose-b")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "vitpose-trt" / "cpu-pipeline")
    parser.add_argument("--out", type=Path, default=HERE / "bf16-emulation")
    args = parser.parse_args(argv)

    import torch

    import vitpose_trt as vt
    from vitpose_trt.atomic_files import write_text_atomically
    from vitpose_trt.export.calibration import held_out_crops

    model = vt.load_model(prepare(args.model, args.cache, ())["hf"]).eval()
    crops = torch.from_numpy(held_out_crops("udp"))
    with torch.inference_mode():
        reference = model(crops).numpy()
    results = {}
    for name, (residual_bf16, head_bf16) in VARIANTS.items():
        heatmaps = emulated_heatmaps(model, crops, residual_bf16, head_bf16)
        results[name] = float(np.linalg.norm(heatmaps - reference) / np.linalg.norm(reference))
        print(f"{name}: rel-L2 {results[name]:.4f}", file=sys.stderr)
    lines = [f"# bf16 emulated on {args.model} (random weights, {len(crops)} held-out crops)", "",
             "| variant | heatmap rel-L2 vs fp32 | within the 16-bit bound (0.01) |", "|---|---|---|"]
    lines += [f"| {name} | {value:.4f} | {'yes' if value < BOUND else 'no'} |" for name, value in results.items()]
    lines += ["", "Command: `python benchmarks/cpu_pipeline/bf16_emulation.py`", ""]
    write_text_atomically(args.out.with_suffix(".json"), json.dumps({"model": args.model, "rel_l2": results}, indent=2))
    write_text_atomically(args.out.with_suffix(".md"), "\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
