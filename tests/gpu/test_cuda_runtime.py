"""The GPU runtime on a real GPU: crop kernel vs the cv2 path, CuPy decode vs numpy, the TensorRT and
torch-cuda backends vs the CPU backends, CUDA-graph replays vs eager runs. All `gpu`: skipped without one.

The model is the peaked vitpose-tiny (tests/runtime/peaked_models.py): its smooth single-peak heatmaps
make keypoints comparable across backends and precisions.
"""

from __future__ import annotations

import numpy as np
import pytest
from astronaut_cases import ASTRONAUT_BOXES as BOXES

import vitpose_trt as vt
from vitpose_trt.decode import flip_back, keypoints_from_heatmaps
from vitpose_trt.geometry import warps_from_boxes
from vitpose_trt.keypoints import KEYPOINT_SETS
from vitpose_trt.runtime.cpu_crops import CpuCrops
from vitpose_trt.specs import PIXEL_STD_RGB

pytestmark = pytest.mark.gpu

#: Keypoint tolerances (image px) against the CPU backends: fp32 engines (TF32 allowed), fp16 torch.
FP32_KEYPOINT_TOLERANCE = 0.1
FP16_KEYPOINT_TOLERANCE = 0.5
SCORE_TOLERANCE = 1e-2
HEATMAP_REL_L2 = 5e-3
#: Crop values allowed to differ from cv2's by (exactly) one level: rounding ties on another CPU's OpenCV path.
MAX_TIE_FRACTION = 1e-3
#: Heatmap differences allowed between batch sizes (kernels may differ per batch size; fp16 for torch-cuda).
BATCH_SIZE_ATOL = {"tensorrt": 1e-4, "torch-cuda": 5e-3}


@pytest.fixture(scope="module")
def cp():
    import cupy

    return cupy


def _rel_l2(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


@pytest.mark.parametrize("warp", ["udp", "classic"])
@pytest.mark.parametrize("color, flip", [("bgr", False), ("bgr", True), ("rgb", True)])
def test_cuda_crops_equal_the_cv2_crops(cp, astronaut_bgr, warp, color, flip):
    from vitpose_trt.runtime.cuda_crops import CudaCrops

    image = astronaut_bgr if color == "bgr" else np.ascontiguousarray(astronaut_bgr[:, :, ::-1])
    warps = warps_from_boxes(BOXES, warp)
    expected = CpuCrops(color)(image, warps, flip).copy()
    got = cp.asnumpy(CudaCrops(color)(image, warps, flip))
    # The spec: within one 8-bit level. The kernel repeats OpenCV 5's x86 float path, so nearly all values are
    # bit-equal (all on the development machine); another CPU's OpenCV dispatch may round a few ties apart.
    assert (np.abs(got - expected) * np.array(PIXEL_STD_RGB, np.float32)[:, None, None]).max() <= 1.0 + 1e-3
    assert np.mean(got != expected) < MAX_TIE_FRACTION


def test_cuda_crops_read_gpu_images_in_place_with_any_strides(cp, astronaut_bgr):
    from vitpose_trt.runtime.cuda_crops import CudaCrops

    warps = warps_from_boxes(BOXES, "udp")
    expected = CpuCrops("bgr")(astronaut_bgr, warps, True).copy()
    on_gpu = cp.asarray(astronaut_bgr)
    as_rgb_view = on_gpu[:, :, ::-1]  # negative channel stride, no copy
    np.testing.assert_array_equal(cp.asnumpy(CudaCrops("bgr")(on_gpu, warps, True)), expected)
    np.testing.assert_array_equal(cp.asnumpy(CudaCrops("rgb")(as_rgb_view, warps, True)), expected)
    padded = cp.zeros((600, 700, 4), cp.uint8)
    padded[:512, :512, :3] = on_gpu
    np.testing.assert_array_equal(cp.asnumpy(CudaCrops("bgr")(padded[:512, :512, :3], warps, True)), expected)


def test_cuda_crops_write_fp16_into_a_given_buffer(cp, astronaut_bgr, engine_max_batch):
    from vitpose_trt.runtime.cuda_crops import CudaCrops

    warps = warps_from_boxes(BOXES[:3], "classic")
    out = cp.full((engine_max_batch, 3, 256, 192), cp.nan, dtype=cp.float16)
    crops = CudaCrops("bgr")(astronaut_bgr, warps, True, out=out)
    assert crops.data.ptr == out.data.ptr and crops.shape == (6, 3, 256, 192)
    expected = cp.asnumpy(CudaCrops("bgr")(astronaut_bgr, warps, True)).astype(np.float16)
    np.testing.assert_array_equal(cp.asnumpy(crops).view(np.uint16), expected.view(np.uint16))
    assert bool(cp.isnan(out[6:]).all()), "rows past the crops must stay untouched"


def test_cuda_crops_with_no_boxes(cp, astronaut_bgr):
    from vitpose_trt.runtime.cuda_crops import CudaCrops

    assert CudaCrops()(astronaut_bgr, np.zeros((0, 2, 3)), True).shape == (0, 3, 256, 192)


@pytest.mark.parametrize("method", ["argmax", "quarter-offset", "dark", "dark-udp"])
def test_cupy_decode_of_real_heatmaps_matches_numpy(cp, peaked_onnx, astronaut_bgr, method):
    backend = vt.PoseEstimator(peaked_onnx).backend
    heatmaps = _heatmaps(backend, CpuCrops("bgr")(astronaut_bgr, warps_from_boxes(BOXES, "udp"), True).copy())
    flip_index = KEYPOINT_SETS["coco"].flip_index
    merged = (heatmaps[:6] + flip_back(heatmaps[6:], flip_index, False)) * 0.5
    merged_gpu = (cp.asarray(heatmaps[:6]) + flip_back(cp.asarray(heatmaps[6:]), flip_index, False, xp=cp)) * 0.5
    coords, scores = keypoints_from_heatmaps(merged, method)
    coords_gpu, scores_gpu = keypoints_from_heatmaps(merged_gpu, method, xp=cp)
    np.testing.assert_allclose(cp.asnumpy(coords_gpu), coords, atol=1e-3)
    np.testing.assert_allclose(cp.asnumpy(scores_gpu), scores, rtol=1e-6)


def test_tensorrt_heatmaps_match_onnxruntime(cp, peaked_engine, peaked_onnx, astronaut_bgr):
    crops = CpuCrops("bgr")(astronaut_bgr, warps_from_boxes(BOXES, "udp"), False).copy()
    reference = _heatmaps(vt.PoseEstimator(peaked_onnx).backend, crops).copy()
    backend = vt.PoseEstimator(peaked_engine, backend="tensorrt").backend
    heatmaps = cp.asnumpy(_heatmaps(backend, cp.asarray(crops)))
    assert heatmaps.dtype == np.float32 and heatmaps.shape == reference.shape
    assert _rel_l2(heatmaps, reference) < HEATMAP_REL_L2


@pytest.mark.parametrize("backend", ["tensorrt", "torch-cuda"])
def test_graph_replays_equal_eager_runs_for_every_batch_size(cp, request, peaked_model, astronaut_bgr,
                                                             engine_max_batch, backend):
    source = _gpu_source(request, backend, peaked_model)
    gpu = vt.PoseEstimator(source, backend=backend, max_batch=engine_max_batch).backend
    assert gpu.cuda_graphs
    warps = warps_from_boxes(np.concatenate([BOXES, BOXES[:2]]), "udp")
    crops = cp.asarray(CpuCrops("bgr")(astronaut_bgr, warps, False).copy())
    for count in range(1, engine_max_batch + 1):
        eager = cp.asnumpy(_heatmaps(gpu, crops[:count]))  # first run of the bucket: eager, then captured
        replayed = cp.asnumpy(_heatmaps(gpu, crops[:count]))
        np.testing.assert_array_equal(replayed, eager)
        alone = cp.asnumpy(_heatmaps(gpu, crops[count - 1 : count]))  # stale rows never leak into results
        np.testing.assert_allclose(alone[0], eager[-1], rtol=1e-3, atol=BATCH_SIZE_ATOL[backend])


@pytest.mark.parametrize("on_gpu", [False, True], ids=["numpy-image", "cupy-image"])
def test_tensorrt_estimator_matches_the_cpu_estimator(cp, peaked_engine, peaked_onnx, astronaut_bgr, on_gpu):
    expected = vt.PoseEstimator(peaked_onnx)(astronaut_bgr, BOXES)
    estimator = vt.PoseEstimator(peaked_engine, backend="tensorrt")
    image = cp.asarray(astronaut_bgr) if on_gpu else astronaut_bgr
    got = estimator(image, BOXES)
    assert np.abs(got.keypoints - expected.keypoints).max() < FP32_KEYPOINT_TOLERANCE
    assert np.abs(got.scores - expected.scores).max() < SCORE_TOLERANCE


def test_torch_cuda_estimator_matches_the_cpu_torch_estimator(cp, peaked_model, astronaut_bgr):
    expected = vt.PoseEstimator(peaked_model, backend="torch")(astronaut_bgr, BOXES)
    estimator = vt.PoseEstimator(peaked_model, backend="torch-cuda")
    assert estimator.backend.metadata.precision == "fp16"
    got = estimator(astronaut_bgr, BOXES)
    assert np.abs(got.keypoints - expected.keypoints).max() < FP16_KEYPOINT_TOLERANCE
    assert np.abs(got.scores - expected.scores).max() < SCORE_TOLERANCE * max(1.0, float(expected.scores.max()))
    assert next(peaked_model.parameters()).device.type == "cpu", "the caller's module must stay on the CPU"


@pytest.mark.parametrize("backend", ["tensorrt", "torch-cuda"])
def test_crops_written_into_the_input_buffer_skip_the_copy(cp, request, peaked_model, astronaut_bgr, backend):
    from vitpose_trt.runtime.cuda_crops import CudaCrops

    gpu = vt.PoseEstimator(_gpu_source(request, backend, peaked_model), backend=backend).backend
    warps = warps_from_boxes(BOXES[:3], "udp")
    separate = cp.asnumpy(_heatmaps(gpu, CudaCrops("bgr")(astronaut_bgr, warps, True)))
    buffer = gpu.input_buffer("input")
    in_place = CudaCrops("bgr")(astronaut_bgr, warps, True, out=buffer)
    assert in_place.data.ptr == buffer.data.ptr
    np.testing.assert_allclose(cp.asnumpy(_heatmaps(gpu, in_place)), separate, rtol=1e-3, atol=BATCH_SIZE_ATOL[backend])


def test_a_module_cuda_graphs_cannot_capture_runs_eagerly_with_a_warning(cp):
    import torch

    from vitpose_trt.artifacts import ModelIO, TensorSpec
    from vitpose_trt.runtime.backends.torch_cuda import TorchCudaBackend
    from vitpose_trt.runtime.batch_buckets import WARMUP_RUNS

    class CopiesFromTheHost(torch.nn.Module):
        def forward(self, x):  # the host tensor's copy to the GPU cannot be captured
            return x * torch.tensor([2.0, 3.0]).to(x)

    io = ModelIO((TensorSpec("x", "float32", (-1, 2)),), (TensorSpec("y", "float32", (-1, 2)),))
    gpu = TorchCudaBackend(CopiesFromTheHost(), io=io, precision="fp32")
    x = np.array([[1.0, 1.0], [2.0, -1.0]], np.float32)
    for _ in range(WARMUP_RUNS - 1):
        np.testing.assert_array_equal(cp.asnumpy(gpu.run({"x": x})["y"]), x * [2.0, 3.0])
    with pytest.warns(RuntimeWarning, match="cannot be captured in a CUDA graph"):
        np.testing.assert_array_equal(cp.asnumpy(gpu.run({"x": x})["y"]), x * [2.0, 3.0])
    assert not gpu.cuda_graphs
    for rows in (1, 2):
        np.testing.assert_array_equal(cp.asnumpy(gpu.run({"x": x[:rows]})["y"]), x[:rows] * [2.0, 3.0])


def _gpu_source(request, backend: str, peaked_model):
    """The peaked tiny model as `backend` takes it; the engine is built only when a test asks for TensorRT."""
    return request.getfixturevalue("peaked_engine") if backend == "tensorrt" else peaked_model


def _heatmaps(backend, crops):
    """float32 heatmaps of `crops` through a backend's named-tensor `run`, cast to its input dtype first."""
    dtype = backend.io.input("input").dtype
    heatmaps = backend.run({"input": crops if crops.dtype == dtype else crops.astype(dtype)})["heatmaps"]
    return heatmaps.astype("float32")
