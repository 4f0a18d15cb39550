"""`VideoPoses` on the GPU (issue 15): upload + detection on one CUDA stream and poses on another
(`gpu_overlap.GpuStages`) give the results of the same engines run one stage after another, and the ids of
the CPU pipeline. The `gpu` tests skip without a GPU; the host-side checks run everywhere."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import vitpose_trt as vt
from vitpose_trt.apps.gpu_overlap import FRAMES_IN_STAGES, slot_count
from vitpose_trt.apps.video_poses import VideoPoses

#: Keypoint agreement (image px) between the pipelined and the serial GPU runs: the same engines on the same
#: device images, only on other streams (and CUDA-graph replays instead of eager runs).
SAME_ENGINE_ATOL = 1e-3


def test_slots_cover_every_frame_in_flight():
    assert slot_count(1) == 1 + FRAMES_IN_STAGES and slot_count(4) == 4 + FRAMES_IN_STAGES


def test_gpu_stages_without_a_gpu_raise_device_error():
    code = ("from vitpose_trt.apps.gpu_overlap import GpuStages\n"
            "from vitpose_trt.errors import DeviceError, MissingDependencyError\n"
            "try:\n    GpuStages(None, None, 4)\nexcept (DeviceError, MissingDependencyError) as exc:\n"
            "    print(type(exc).__name__, exc)\n")
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True,
                         timeout=120).stdout
    assert out.startswith(("DeviceError", "MissingDependencyError")) and "GPU video pipelining" in out, out


@pytest.fixture(scope="module", params=["tensorrt", "torch-cuda"])
def gpu_top_down(request, tiny_model, tiny_onnx, grid_detector_onnx, tmp_path_factory):
    """The grid detector and the tiny pose model as TensorRT engines, or as modules on torch-cuda."""
    if request.param == "torch-cuda":
        from vitpose_trt.runtime.backends.torch_cuda import TorchCudaBackend

        return vt.TopDown(vt.PersonDetector(_grid_detector_on_torch_cuda()),
                          vt.PoseEstimator(TorchCudaBackend(tiny_model, precision="fp32")))
    from vitpose_trt.engine import BuildOptions, engine_from_onnx
    from vitpose_trt.export.detector_import import imported_detector

    folder = tmp_path_factory.mktemp("video-engines")
    detector_onnx, _ = imported_detector(grid_detector_onnx, folder / "detector")
    detector = engine_from_onnx(detector_onnx, BuildOptions(batch=(1, 1, 2)), folder, progress=False)
    pose = engine_from_onnx(tiny_onnx, BuildOptions(batch=(1, 8, 16)), folder, progress=False)
    return vt.TopDown(vt.PersonDetector(detector.engine_path), vt.PoseEstimator(pose.engine_path))


def _grid_detector_on_torch_cuda():
    """The grid detector module (the one grid_detector_onnx holds) on torch-cuda in fp32."""
    from detector_models import CELL, NUM_CLASSES, GridYolo

    from vitpose_trt.artifacts import ModelIO, TensorSpec
    from vitpose_trt.runtime.backends.torch_cuda import TorchCudaBackend

    size = (256, 320)  # grid_detector's input (height, width)
    cells = (size[0] // CELL) * (size[1] // CELL)
    io = ModelIO((TensorSpec("images", "float32", (-1, 3, *size)),),
                 (TensorSpec("output0", "float32", (-1, 4 + NUM_CLASSES, cells)),))
    return TorchCudaBackend(GridYolo(), io=io, precision="fp32")


@pytest.mark.gpu
@pytest.mark.parametrize("detect_every", [1, 3])
def test_two_stream_pipeline_equals_the_serial_run_and_the_cpu_ids(gpu_top_down, tiny_onnx, grid_detector_onnx,
                                                                     walking_video, detect_every):
    from vitpose_trt.apps.gpu_overlap import GpuStages

    path, _ = walking_video
    video = VideoPoses(gpu_top_down, path, detect_every=detect_every)
    assert isinstance(video._stages, GpuStages)
    pipelined = list(video)
    serial = list(VideoPoses(gpu_top_down, path, detect_every=detect_every, pipelined=False))
    cpu = vt.TopDown(vt.PersonDetector(grid_detector_onnx), vt.PoseEstimator(tiny_onnx))
    on_cpu = list(VideoPoses(cpu, path, detect_every=detect_every, pipelined=False))
    assert len(pipelined) == len(serial) == len(on_cpu)
    for a, b, c in zip(pipelined, serial, on_cpu):
        np.testing.assert_array_equal(a.track_ids, b.track_ids)
        np.testing.assert_array_equal(a.track_ids, c.track_ids)
        np.testing.assert_allclose(a.poses.keypoints, b.poses.keypoints, atol=SAME_ENGINE_ATOL)
        np.testing.assert_allclose(a.poses.boxes, c.poses.boxes, atol=2.0)  # GPU letterbox resamples
