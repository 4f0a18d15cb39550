"""Backend choice, the ONNX Runtime session settings, artifacts without metadata and broken files."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from astronaut_cases import ASTRONAUT_BOXES

import vitpose_trt as vt
from vitpose_trt.errors import ConfigError, EngineLoadError
from vitpose_trt.runtime.backends import backend_class, backend_name_for


@pytest.mark.parametrize(
    "source, expected",
    [("model.engine", "tensorrt"), ("a/b/model.PLAN", "tensorrt"), ("model.onnx", "onnxruntime"),
     ("vitpose-b", "torch"), ("vitpose-tiny-simple", "torch")],
)
def test_auto_backend_by_source(source, expected):
    assert backend_name_for(source) == expected
    assert backend_name_for(Path(source)) == expected


def test_auto_backend_for_modules_and_checkpoint_paths(peaked_tiny, tmp_path):
    assert backend_name_for(peaked_tiny) == "torch"
    checkpoint = tmp_path / "weights.pth"
    checkpoint.write_bytes(b"")
    assert backend_name_for(checkpoint) == "torch"
    with pytest.raises(ConfigError, match="no such file"):
        backend_name_for(tmp_path / "missing.pth")
    with pytest.raises(ConfigError, match="cannot run"):
        backend_name_for(42)
    with pytest.raises(ConfigError, match="unknown backend"):
        backend_class("tensorflow")


def test_onnxruntime_session_is_tuned_for_the_cpu(peaked_tiny_onnx):
    import onnxruntime as ort

    estimator = vt.PoseEstimator(peaked_tiny_onnx, threads=1, max_batch=4)
    options = estimator.backend.session.get_session_options()
    assert options.graph_optimization_level == ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    assert options.execution_mode == ort.ExecutionMode.ORT_SEQUENTIAL
    assert options.intra_op_num_threads == 1
    assert estimator.backend.max_batch == 4
    cuda = "CUDAExecutionProvider" in ort.get_available_providers()
    expected = "CUDAExecutionProvider" if cuda else "CPUExecutionProvider"
    assert estimator.backend.providers[0] == expected


def test_settings_come_from_the_onnx_metadata(tmp_path, astronaut_bgr):
    """An AIC head: classic warp, shifted flip-back, quarter-offset decode, 14 keypoints."""
    from vitpose_trt.export import export_onnx

    aic = vt.load_model(name="vitpose-tiny", dataset="aic")
    estimator = vt.PoseEstimator(export_onnx(aic, tmp_path / "aic.onnx", simplify=False))
    assert estimator.keypoints.name == "aic"
    assert (estimator.warp, estimator.flip_test, estimator.flip_shift, estimator.decode) == (
        "classic", True, True, "quarter-offset")
    poses = estimator(astronaut_bgr, ASTRONAUT_BOXES[:2])
    assert poses.keypoints.shape == (2, 14, 2)
    by_torch = vt.PoseEstimator(aic, backend="torch")(astronaut_bgr, ASTRONAUT_BOXES[:2])
    np.testing.assert_allclose(poses.scores, by_torch.scores, atol=1e-4)


def test_onnx_without_metadata_warns_and_uses_the_keypoint_count(peaked_tiny, tmp_path, astronaut_bgr):
    import onnx

    from vitpose_trt.export import export_onnx

    path = export_onnx(peaked_tiny, tmp_path / "with-metadata.onnx", simplify=False)
    proto = onnx.load(str(path))
    del proto.metadata_props[:]
    bare = tmp_path / "bare.onnx"
    onnx.save(proto, str(bare))
    with pytest.warns(UserWarning, match="no vitpose-trt metadata"):
        estimator = vt.PoseEstimator(bare)
    assert estimator.keypoints.name == "coco" and estimator.metadata.model == "unknown"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reference = vt.PoseEstimator(path)
    np.testing.assert_array_equal(estimator(astronaut_bgr, ASTRONAUT_BOXES).keypoints,
                                  reference(astronaut_bgr, ASTRONAUT_BOXES).keypoints)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_fixed_batch_onnx_is_padded(peaked_tiny, tmp_path, astronaut_bgr, peaked_tiny_onnx):
    """A graph exported with a static batch of 4 (no dynamic axis) still takes 1..4 crops."""
    import torch

    path = tmp_path / "static.onnx"
    with torch.no_grad():
        torch.onnx.export(peaked_tiny, (torch.zeros(4, 3, 256, 192),), str(path), dynamo=False, opset_version=17,
                          input_names=["input"], output_names=["heatmaps"])
    with pytest.warns(UserWarning, match="no vitpose-trt metadata"):
        estimator = vt.PoseEstimator(path, flip_test=False)
    assert estimator.backend.static_batch == 4 and estimator.backend.max_batch == 4
    poses = estimator(astronaut_bgr, ASTRONAUT_BOXES)  # 6 persons: a chunk of 4 and a padded chunk of 2
    reference = vt.PoseEstimator(peaked_tiny_onnx, flip_test=False)(astronaut_bgr, ASTRONAUT_BOXES)
    np.testing.assert_allclose(poses.keypoints, reference.keypoints, atol=1e-3)
    with pytest.raises(ConfigError, match="fixed batch"):
        vt.PoseEstimator(path, max_batch=8)


def test_broken_onnx_file_raises_engine_load_error(tmp_path):
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a protobuf at all")
    with pytest.raises(EngineLoadError, match="ONNX Runtime cannot load"):
        vt.PoseEstimator(broken)
    with pytest.raises(EngineLoadError, match="missing.onnx: no such model file"):
        vt.PoseEstimator(tmp_path / "missing.onnx")
    (tmp_path / "hf").mkdir()
    with pytest.raises(EngineLoadError, match="hf: the onnxruntime backend reads .onnx files; a checkpoint runs on "
                                              "the torch backend, or export it first"):
        vt.PoseEstimator(tmp_path / "hf", backend="onnxruntime")


def test_torch_backend_options(peaked_tiny):
    import torch

    with pytest.raises(ConfigError, match="not a vitpose_trt ViTPose"):
        vt.PoseEstimator(torch.nn.Linear(2, 2), backend="torch")
    with pytest.raises(ConfigError, match="float32"):
        vt.PoseEstimator(vt.load_model(name="vitpose-tiny").half(), backend="torch")
    estimator = vt.PoseEstimator("vitpose-tiny", max_batch=3)
    assert estimator.backend.name == "torch" and estimator.metadata.model == "vitpose-tiny"


def test_checkpoint_path_runs_on_torch(peaked_tiny, tmp_path, astronaut_bgr):
    import torch

    path = tmp_path / "peaked-tiny.pth"
    torch.save(peaked_tiny.state_dict(), path)
    from_path = vt.PoseEstimator(path)
    assert from_path.backend.name == "torch" and from_path.metadata.model == "vitpose-tiny"
    from_module = vt.PoseEstimator(peaked_tiny)
    np.testing.assert_array_equal(from_path(astronaut_bgr, ASTRONAUT_BOXES).keypoints,
                                  from_module(astronaut_bgr, ASTRONAUT_BOXES).keypoints)
