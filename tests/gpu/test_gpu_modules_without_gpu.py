"""The GPU runtime's host side, on any machine: what runs on the CPU is checked here, and without a GPU
every GPU entry point fails with one clear error (DeviceError; MissingDependencyError without CuPy).

"No GPU" is made real in a subprocess with CUDA_VISIBLE_DEVICES="" (CUDA then reports no device, on a GPU
machine too), and "no CuPy" by blocking the import, so these checks run the same everywhere.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from vitpose_trt.errors import ConfigError, InputError
from vitpose_trt.geometry import warps_from_boxes
from vitpose_trt.preprocess import normalisation_table
from vitpose_trt.runtime import cuda_crops
from vitpose_trt.runtime.batch_buckets import batch_buckets, bucket_for
from vitpose_trt.specs import INPUT_HEIGHT, INPUT_WIDTH

#: Architectures of the default fatbin (CMakeLists.txt), each compiled here by NVRTC as a check.
DEFAULT_ARCHS = (80, 86, 87, 89, 90, 120)

_PROBE = r"""
import importlib.abc, json, sys
blocked = set(sys.argv[1].split(",")) - {""}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in blocked:
            raise ImportError(f"blocked for the test: {name}")
sys.meta_path.insert(0, Block())
try:
    exec(sys.argv[2])
    print(json.dumps({"error": None}))
except Exception as exc:
    print(json.dumps({"error": type(exc).__name__, "message": str(exc),
                      "mro": [c.__name__ for c in type(exc).__mro__]}))
"""


def _outcome(code: str, blocked: tuple[str, ...] = ()) -> dict:
    """Run `code` in a fresh interpreter that sees no CUDA device; return the exception it raised."""
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    result = subprocess.run([sys.executable, "-c", _PROBE, ",".join(blocked), code], capture_output=True,
                            text=True, env=env, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def _cupy_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("cupy") is not None


def _assert_no_gpu_error(outcome: dict) -> None:
    """DeviceError (saying a GPU is needed and what to use instead) with CuPy, else the install hint."""
    if _cupy_installed():
        assert outcome["error"] == "DeviceError", outcome
        assert "needs an NVIDIA GPU" in outcome["message"] and "backend='onnxruntime'" in outcome["message"]
    else:
        assert outcome["error"] == "MissingDependencyError", outcome
        assert "cupy-cuda13x" in outcome["message"]


CROPS = "from vitpose_trt.runtime.cuda_crops import CudaCrops; CudaCrops()"
TORCH_CUDA = "from vitpose_trt.runtime.backends.torch_cuda import TorchCudaBackend; TorchCudaBackend('vitpose-tiny')"


@pytest.mark.parametrize("code", [CROPS, TORCH_CUDA], ids=["crops", "torch-cuda"])
def test_gpu_stages_without_gpu_raise_device_error(code):
    _assert_no_gpu_error(_outcome(code))


@pytest.mark.parametrize("code", [CROPS, TORCH_CUDA], ids=["crops", "torch-cuda"])
def test_gpu_stages_without_cupy_name_the_package(code):
    outcome = _outcome(code, blocked=("cupy",))
    assert outcome["error"] == "MissingDependencyError" and "ImportError" in outcome["mro"]
    assert "cupy-cuda13x" in outcome["message"]


def test_tensorrt_backend_without_gpu_raises_device_error(peaked_engine):
    code = f"import vitpose_trt as vt; vt.PoseEstimator({str(peaked_engine)!r}, backend='tensorrt')"
    _assert_no_gpu_error(_outcome(code))


def test_tensorrt_backend_needs_the_sidecar(peaked_engine, tmp_path):
    lone = tmp_path / "lone.engine"
    lone.write_bytes(peaked_engine.read_bytes())
    outcome = _outcome(f"from vitpose_trt.runtime.backends.tensorrt import TensorRTBackend; TensorRTBackend({str(lone)!r})")
    assert outcome["error"] == "EngineLoadError" and "sidecar" in outcome["message"], outcome


def test_inverse_warps_are_cv2_inverses_rounded_to_float32():
    cv2 = pytest.importorskip("cv2")
    boxes = np.array([[10.0, 20.0, 110.0, 220.0], [-50.0, 300.0, 90.0, 400.0], [200.5, 10.25, 203.0, 19.0]])
    rng = np.random.default_rng(0)
    rotated = rng.normal(size=(4, 2, 3)) * [[[1.3, 0.4, 40.0]]]
    for warps in (warps_from_boxes(boxes, "udp"), warps_from_boxes(boxes, "classic"), rotated):
        expected = np.stack([cv2.invertAffineTransform(m).reshape(6) for m in warps]).astype(np.float32)
        np.testing.assert_array_equal(cuda_crops.inverse_warps(warps), expected)


def test_inverse_warps_reject_wrong_shapes():
    with pytest.raises(InputError, match=r"\(N, 2, 3\)"):
        cuda_crops.inverse_warps(np.zeros((3, 6)))


def test_mean_scale_reproduces_the_cpu_normalisation_bits():
    mean_scale = cuda_crops.mean_scale()
    levels = np.arange(256, dtype=np.float32)
    kernel_values = (levels[None, :] - mean_scale[:3, None]) * mean_scale[3:, None]
    np.testing.assert_array_equal(kernel_values, normalisation_table())


def test_launch_grid_covers_every_crop_pixel_once():
    grid = cuda_crops.launch_grid(5)
    assert grid[2] == 5
    assert grid[0] * cuda_crops.BLOCK[0] >= INPUT_WIDTH > (grid[0] - 1) * cuda_crops.BLOCK[0]
    assert grid[1] * cuda_crops.BLOCK[1] >= INPUT_HEIGHT > (grid[1] - 1) * cuda_crops.BLOCK[1]


def test_fatbin_is_used_only_when_built_from_the_current_sources(tmp_path):
    sources = tmp_path / "kernels"
    sources.mkdir()
    for path in cuda_crops.KERNEL_DIR.iterdir():
        if path.suffix in cuda_crops.KERNEL_SUFFIXES:
            (sources / path.name).write_bytes(path.read_bytes())
    digest = cuda_crops.kernel_source_digest(sources)
    assert digest == cuda_crops.kernel_source_digest()
    (sources / "crops-0123456789abcdef.fatbin").write_bytes(b"stale")
    assert cuda_crops.fatbin_path(sources, sources) is None
    current = sources / f"crops-{digest}.fatbin"
    current.write_bytes(b"fresh")
    assert cuda_crops.fatbin_path(sources, sources) == current
    header = sources / "crop_math.cuh"
    header.write_text(header.read_text() + "\n// edited\n")
    assert cuda_crops.kernel_source_digest(sources) != digest
    assert cuda_crops.fatbin_path(sources, sources) is None


def test_nvrtc_compiles_the_inlined_kernel_source_for_every_default_arch():
    cupy = pytest.importorskip("cupy", reason="CuPy (the [test] extra installs cupy-cuda13x)")
    nvrtc = cupy.cuda.nvrtc
    source = cuda_crops.kernel_source()
    assert '#include "' not in source, "the NVRTC source must not depend on include paths"
    for arch in DEFAULT_ARCHS:
        program = nvrtc.createProgram(source, cuda_crops.KERNEL_SOURCE, (), ())
        try:
            nvrtc.compileProgram(program, [*cuda_crops.NVRTC_OPTIONS, f"--gpu-architecture=compute_{arch}"])
            ptx = nvrtc.getPTX(program)
        finally:
            nvrtc.destroyProgram(program)
        ptx = ptx.decode() if isinstance(ptx, bytes) else ptx
        for entry in cuda_crops.ENTRY_POINTS.values():
            assert f".entry {entry}(" in ptx, (arch, entry)


def test_batch_buckets_are_powers_of_two_then_max_batch():
    assert batch_buckets(1) == (1,)
    assert batch_buckets(16) == (1, 2, 4, 8, 16)
    assert batch_buckets(12) == (1, 2, 4, 8, 12)
    assert [bucket_for(n, batch_buckets(12)) for n in (1, 2, 3, 5, 8, 9, 12)] == [1, 2, 4, 8, 8, 12, 12]
    with pytest.raises(ConfigError, match="exceeds max_batch 12"):
        bucket_for(13, batch_buckets(12))
    with pytest.raises(ConfigError):
        batch_buckets(0)


def test_kernel_sources_ship_with_the_package():
    kernel_dir = Path(cuda_crops.KERNEL_DIR)
    assert (kernel_dir / "crops.cu").is_file() and (kernel_dir / "crop_math.cuh").is_file()
