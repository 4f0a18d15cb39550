"""Person detection on the GPU: the letterbox warp, decode and NMS on CuPy, PersonDetector and TopDown on
torch-cuda, each against the CPU path (skipped where no NVIDIA GPU is visible)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import vitpose_trt as vt
from vitpose_trt.artifacts import DetectorSettings, ModelIO, TensorSpec

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "detect"))

pytestmark = pytest.mark.gpu

INPUT = (256, 320)
#: fp16 on the GPU vs fp32 on the CPU: box corners within this many px, scores within this much.
BOX_ATOL_PX, SCORE_ATOL = 1.0, 5e-3


@pytest.fixture(scope="module")
def cp():
    import cupy

    return cupy


def _settings(resize: str) -> DetectorSettings:
    return DetectorSettings(layout="yolo", input_name="images", output_names=("output0",), input_size=(640, 640),
                            num_classes=80, classes=(0,), resize=resize, score_threshold=0.25, iou_threshold=0.7,
                            max_detections=300)


@pytest.mark.parametrize("size", [(512, 512), (300, 451), (720, 1280)])
def test_gpu_letterbox_is_the_cpu_letterbox_up_to_resampling(cp, size):
    from vitpose_trt.detect.fitting import fit_for
    from vitpose_trt.detect.inputs import CpuDetectorInputs, CudaDetectorInputs

    image = np.random.default_rng(0).integers(0, 256, (*size, 3), dtype=np.uint8)
    settings = _settings("letterbox")
    fit = fit_for(size, settings.input_size, "letterbox")
    cpu = np.empty((1, 3, 640, 640), np.float32)
    CpuDetectorInputs("bgr", settings).write(image, fit, cpu, 0)
    stage = CudaDetectorInputs("bgr", settings)
    gpu = stage.batch(1)
    stage.write(cp.asarray(image), fit, gpu, 0)
    levels = np.abs(cp.asnumpy(gpu) - cpu)[0] * 255
    (left, top), (width, height) = fit.pad, fit.resized
    assert levels[:, top + 2 : top + height - 2, left + 2 : left + width - 2].max() <= 1.0 + 1e-3


def test_cupy_decode_and_nms_equal_numpy(cp):
    from vitpose_trt.detect.decode import candidates_from_outputs, image_detections

    rng = np.random.default_rng(2)
    prediction = np.concatenate([rng.uniform(0, 640, (3, 2, 600)), rng.uniform(10, 200, (3, 2, 600)),
                                 rng.uniform(0, 1, (3, 80, 600)) ** 6], axis=1).astype(np.float32)
    settings = _settings("letterbox")
    on_cpu = image_detections(candidates_from_outputs({"output0": prediction}, settings, range(80), 0.25), 0.7, 300)
    on_gpu = image_detections(candidates_from_outputs({"output0": cp.asarray(prediction)}, settings, range(80), 0.25,
                                                      xp=cp), 0.7, 300, xp=cp)
    for cpu, gpu in zip(on_cpu, on_gpu):
        np.testing.assert_allclose(gpu.boxes, cpu.boxes, atol=1e-3)
        np.testing.assert_array_equal(gpu.classes, cpu.classes)


def _grid_on_torch_cuda():
    from detector_models import NUM_CLASSES, GridYolo

    from vitpose_trt.runtime.backends import open_backend

    cells = (INPUT[0] // 32) * (INPUT[1] // 32)
    io = ModelIO((TensorSpec("images", "float32", (-1, 3, *INPUT)),),
                 (TensorSpec("output0", "float32", (-1, 4 + NUM_CLASSES, cells)),))
    return open_backend(GridYolo(), "torch-cuda", io=io)


def test_person_detector_and_top_down_on_the_gpu_match_the_cpu(grid_scene, tiny_model):
    image, boxes = grid_scene
    gpu_detector = vt.PersonDetector(_grid_on_torch_cuda(), color="rgb")
    found = gpu_detector(image)
    np.testing.assert_allclose(found.boxes, boxes, atol=BOX_ATOL_PX)
    pipeline = vt.TopDown(gpu_detector, vt.PoseEstimator(tiny_model, backend="torch-cuda", color="rgb"))
    cpu = vt.PoseEstimator(tiny_model, backend="torch", color="rgb")(image, found.boxes)
    poses = pipeline(image)
    assert np.abs(poses.keypoints - cpu.keypoints).max() < 2.0


@pytest.fixture(scope="module")
def grid_scene():
    from detector_models import paint_person

    image = np.zeros((*INPUT, 3), np.uint8)
    boxes = [paint_person(image, (2, 3), 0.9, (60, 120)), paint_person(image, (5, 7), 0.6, (40, 80))]
    return image, np.array(boxes, np.float32)
