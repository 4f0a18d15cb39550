"""The CMake project: the crop-kernel fatbin builds, the host tests of its math pass under ctest, and the
host-compiled kernel body reproduces the CPU crop stage (cv2.warpAffine) on a real image, bit for bit.

One CMake configure + build per session (about 10 s on 2 cores), into a temporary build folder.
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest
from host_kernel import host_crops

from vitpose_trt.geometry import warps_from_boxes
from vitpose_trt.runtime import cuda_crops
from vitpose_trt.runtime.cpu_crops import CpuCrops
from vitpose_trt.specs import PIXEL_STD_RGB

REPO = Path(__file__).resolve().parents[2]
DEFAULT_ARCHS = ("80", "86", "87", "89", "90", "120")
#: Host tests registered with ctest: 10 cases, compiled by g++ and again by nvcc.
HOST_TEST_CASES = 10
#: Boxes (xyxy) on the 512x512 astronaut: face, torso, one crossing the image corner, a tiny and a huge one.
BOXES = np.array([
    [170.0, 20.0, 330.0, 220.0],
    [60.0, 150.0, 470.0, 512.0],
    [-80.0, 380.0, 120.0, 600.0],
    [300.0, 300.0, 312.0, 318.0],
    [-300.0, -200.0, 900.0, 800.0],
])  # fmt: skip
#: One 8-bit level, in normalised units, per channel.
ONE_LEVEL = 1.0 / np.array(PIXEL_STD_RGB, dtype=np.float32)[:, None, None]


#: CUDA fatbin container: magic, and the kinds of its entries.
FATBIN_MAGIC = 0xBA55ED50
FATBIN_PTX, FATBIN_ELF = 1, 2


def _nvcc() -> str | None:
    return shutil.which("nvcc")


def fatbin_entries(data: bytes) -> list[tuple[str, int]]:
    """("ptx" | "sass", SM version) per entry of a CUDA fatbin container (cuobjdump's --list view)."""
    magic, _, header_size, body_size = struct.unpack_from("<IHHQ", data, 0)
    assert magic == FATBIN_MAGIC, "not a CUDA fatbin"
    entries, offset = [], header_size
    while offset < header_size + body_size:
        kind, _, entry_header_size, padded_size = struct.unpack_from("<HHII", data, offset)
        (sm_version,) = struct.unpack_from("<I", data, offset + 28)
        entries.append(({FATBIN_PTX: "ptx", FATBIN_ELF: "sass"}[kind], sm_version))
        offset += entry_header_size + padded_size
    return entries


def test_ctest_runs_every_host_test_and_all_pass(kernel_build):
    ctest = shutil.which("ctest")
    result = subprocess.run([ctest, "--test-dir", str(kernel_build), "--output-on-failure"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    compilers = 2 if _nvcc() else 1
    # CTest 3.x: "100% tests passed, 0 tests failed out of N"; CTest 4.x: "100% tests passed out of N".
    summary = re.search(r"100% tests passed(?:, 0 tests failed)? out of (\d+)", result.stdout)
    assert summary and int(summary.group(1)) == HOST_TEST_CASES * compilers, result.stdout


@pytest.mark.skipif(_nvcc() is None, reason="the CUDA toolkit (nvcc) is not installed")
def test_fatbin_holds_sass_for_default_archs_and_ptx_for_newest(kernel_build):
    supported = subprocess.run([_nvcc(), "--list-gpu-arch"], capture_output=True, text=True).stdout.split()
    expected = [a for a in DEFAULT_ARCHS if f"compute_{a}" in supported]
    fatbin = cuda_crops.fatbin_path(kernel_build)
    assert fatbin is not None, f"no crops-<digest>.fatbin for the current sources in {kernel_build}"
    entries = fatbin_entries(fatbin.read_bytes())
    assert sorted(sm for kind, sm in entries if kind == "sass") == sorted(int(a) for a in expected)
    assert [sm for kind, sm in entries if kind == "ptx"] == [int(expected[-1])]


@pytest.fixture(scope="module")
def astronaut_rgb(astronaut_bgr) -> np.ndarray:
    return np.ascontiguousarray(astronaut_bgr[:, :, ::-1])


@pytest.mark.parametrize("warp", ["udp", "classic"])
@pytest.mark.parametrize("color, flip", [("bgr", False), ("rgb", True)])
def test_host_kernel_matches_cpu_crop_stage(kernel_build, tmp_path, astronaut_bgr, astronaut_rgb, warp, color, flip):
    image = astronaut_bgr if color == "bgr" else astronaut_rgb
    warps = warps_from_boxes(BOXES, warp)
    expected = CpuCrops(color=color)(image, warps, flip).copy()
    got = host_crops(kernel_build, tmp_path, image, warps, color, flip, "f32")
    assert got.shape == expected.shape
    levels = np.abs(got - expected) / ONE_LEVEL
    assert levels.max() <= 1.0 + 1e-3, f"worst difference {levels.max():.3f} levels"
    # The kernel repeats OpenCV 5's float32 arithmetic (its x86 SIMD path) step by step: equal bits here,
    # not just within a level. (The GPU tests, on other CPUs, demand the one-level spec.)
    assert np.count_nonzero(got != expected) == 0, f"{np.count_nonzero(got != expected)} values differ"


def test_host_kernel_fp16_output_is_fp32_output_rounded(kernel_build, tmp_path, astronaut_bgr):
    warps = warps_from_boxes(BOXES[:2], "udp")
    f32 = host_crops(kernel_build, tmp_path, astronaut_bgr, warps, "bgr", True, "f32")
    f16 = host_crops(kernel_build, tmp_path, astronaut_bgr, warps, "bgr", True, "f16")
    np.testing.assert_array_equal(f16.view(np.uint16), f32.astype(np.float16).view(np.uint16))
