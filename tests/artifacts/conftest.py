"""Real schema-1 artifacts, written by the released vitpose-trt 0.1.0 (see released/README.md)."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

RELEASED = Path(__file__).with_name("released") / "vitpose_trt-0.1.0.tar.gz"

#: Run by the released package: a tiny model's fp32 ONNX, its CPU int8, an RTX engine, and its poses.
_WRITE_SCHEMA_1 = r"""
import sys, warnings
from pathlib import Path
import numpy as np, torch
import vitpose_trt as vt
assert vt.__file__.startswith(sys.argv[2]), vt.__file__
from vitpose_trt.export import export_onnx
from vitpose_trt.export.cpu_quantization import cpu_int8_onnx_from_fp32
from vitpose_trt.engine import BuildOptions, engine_from_onnx
out = Path(sys.argv[1])
torch.manual_seed(0)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    model = vt.load_model(name="vitpose-tiny", dataset="aic")
fp32 = export_onnx(model, out / "tiny.onnx")
cpu_int8_onnx_from_fp32(fp32, out / "tiny-int8-cpu.onnx")
engine_from_onnx(fp32, BuildOptions(builder="tensorrt-rtx", batch=(1, 2, 4), workspace_mib=64), progress=False)
rng = np.random.default_rng(0)
image = rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)
boxes = np.array([[20.0, 10.0, 140.0, 230.0], [150.0, 40.0, 300.0, 200.0]])
poses = vt.PoseEstimator(fp32)(image, boxes)
np.savez(out / "poses.npz", image=image, boxes=boxes, keypoints=poses.keypoints, scores=poses.scores)
"""


@pytest.fixture(scope="session")
def schema_1_files(tmp_path_factory) -> Path:
    """A folder with tiny.onnx, tiny-int8-cpu.onnx, tiny.engine + tiny.json and poses.npz, all written by 0.1.0."""
    root = tmp_path_factory.mktemp("released-0.1.0")
    package, out = root / "package", root / "files"
    out.mkdir()
    with tarfile.open(RELEASED) as archive:
        archive.extractall(package, filter="data")
    env = {**os.environ, "PYTHONPATH": str(package)}
    result = subprocess.run([sys.executable, "-c", _WRITE_SCHEMA_1, str(out), str(package)], env=env,
                            capture_output=True, text=True, cwd=root)
    assert result.returncode == 0, result.stderr[-3000:]
    return out
