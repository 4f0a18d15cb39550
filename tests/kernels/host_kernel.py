"""Running the crop kernel's body on the host (crops_host_tool), parametrised exactly as `CudaCrops` does."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np

from vitpose_trt.runtime import cuda_crops
from vitpose_trt.specs import INPUT_HEIGHT, INPUT_WIDTH, PIXEL_MEAN_RGB, PIXEL_STD_RGB


def host_crops(build: Path, tmp_path: Path, image: np.ndarray, warps: np.ndarray, color: str, flip: bool,
               dtype: str, size: tuple[int, int] = (INPUT_HEIGHT, INPUT_WIDTH), mean=PIXEL_MEAN_RGB,
               std=PIXEL_STD_RGB, border: float = 0.0) -> np.ndarray:
    """(copies * N, 3, H, W) crops of `image` through the (N, 2, 3) image -> crop `warps`, of `size` (H, W)."""
    inverse = cuda_crops.inverse_warps(warps)
    files = {name: tmp_path / f"{name}.raw" for name in ("image", "warps", "mean_scale", "out")}
    image.tofile(files["image"])
    inverse.tofile(files["warps"])
    cuda_crops.mean_scale(mean, std).tofile(files["mean_scale"])
    args = [build / "crops_host_tool", files["image"], image.shape[0], image.shape[1], int(color == "bgr"),
            files["warps"], len(inverse), int(flip), dtype, size[0], size[1], files["mean_scale"], border,
            files["out"]]
    subprocess.run([str(a) for a in args], check=True)
    out_dtype = np.float32 if dtype == "f32" else np.float16
    copies = 2 if flip else 1
    return np.fromfile(files["out"], out_dtype).reshape(copies * len(inverse), 3, *size)
