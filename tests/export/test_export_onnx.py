"""fp32 export: names, dynamic batch, metadata, agreement with PyTorch, external data, atomic writes."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from vitpose_trt.artifacts import ArtifactMetadata, metadata_from_onnx
from vitpose_trt.errors import ConfigError
from vitpose_trt.export import export_onnx
from vitpose_trt.export.accuracy import heatmaps_from_onnx
from vitpose_trt.export.files import external_data_path, uses_external_data
from vitpose_trt.specs import (
    HEATMAP_HEIGHT,
    HEATMAP_WIDTH,
    INPUT_HEIGHT,
    INPUT_NAME,
    INPUT_WIDTH,
    OUTPUT_NAME,
)


def _relative_l2(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def test_fp32_onnx_matches_pytorch_on_real_crops(tiny_fp32_onnx, held_out):
    crops, reference = held_out
    heatmaps = heatmaps_from_onnx(tiny_fp32_onnx, crops)
    assert heatmaps.shape == (15, 17, HEATMAP_HEIGHT, HEATMAP_WIDTH)
    assert _relative_l2(heatmaps, reference) < 1e-5


@pytest.mark.parametrize("batch", [1, 5])
def test_batch_axis_is_dynamic(tiny_fp32_onnx, held_out, batch):
    crops, reference = held_out
    heatmaps = heatmaps_from_onnx(tiny_fp32_onnx, crops[:batch], batch=batch)
    assert heatmaps.shape[0] == batch
    np.testing.assert_allclose(heatmaps, reference[:batch], atol=1e-5)


def test_graph_names_shapes_and_opset(tiny_fp32_onnx):
    model = onnx.load(str(tiny_fp32_onnx))
    onnx.checker.check_model(model)
    (inp,), (out,) = model.graph.input, model.graph.output
    assert (inp.name, out.name) == (INPUT_NAME, OUTPUT_NAME)
    dims = [d.dim_param or d.dim_value for d in inp.type.tensor_type.shape.dim]
    assert dims == ["batch", 3, INPUT_HEIGHT, INPUT_WIDTH]
    assert inp.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert {o.domain: o.version for o in model.opset_import}[""] == 17
    # onnxslim ran: the raw legacy export of the tiny model has 161 nodes.
    assert len(model.graph.node) < 100


def test_metadata_lets_a_runtime_configure_itself(tiny_fp32_onnx, tiny_model):
    metadata = metadata_from_onnx(tiny_fp32_onnx)
    expected = ArtifactMetadata.for_pose_model(tiny_model.spec, tiny_model.keypoints, "fp32")
    assert metadata.model == "vitpose-tiny" and metadata.precision == "fp32"
    assert metadata.pose == expected.pose and metadata.pose.warp == "udp"
    assert (metadata.pose.mean, metadata.pose.std, metadata.pose.input_size) == (
        expected.pose.mean, expected.pose.std, expected.pose.input_size)
    assert metadata.pose.keypoints.num_keypoints == 17
    assert metadata.provenance.opset == 17


def test_unsupported_opset_is_a_config_error(tiny_model, tmp_path):
    with pytest.raises(ConfigError, match="opset 23"):
        export_onnx(tiny_model, tmp_path / "m.onnx", opset=23)
    assert list(tmp_path.iterdir()) == []


def test_external_data_branch_with_lowered_threshold(tiny_model, held_out, tmp_path):
    crops, reference = held_out
    path = export_onnx(tiny_model, tmp_path / "vitpose-tiny.onnx", external_data_threshold=1024)
    data = external_data_path(path)
    assert data.is_file() and data.stat().st_size > 10 * path.stat().st_size
    assert uses_external_data(onnx.load(str(path), load_external_data=False))
    assert _relative_l2(heatmaps_from_onnx(path, crops), reference) < 1e-5
    assert metadata_from_onnx(path).model == "vitpose-tiny"
    # Nothing but the two files is left behind (atomic writes clean their staging folder).
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vitpose-tiny.onnx", "vitpose-tiny.onnx.data"]
    # Re-exporting inline removes the now-stale data file.
    export_onnx(tiny_model, path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vitpose-tiny.onnx"]
    assert not uses_external_data(onnx.load(str(path), load_external_data=False))
    assert _relative_l2(heatmaps_from_onnx(path, crops), reference) < 1e-5


def test_fp32_mismatch_with_pytorch_is_an_accuracy_error(tmp_path):
    """A model left in training mode: PyTorch uses batch statistics in BatchNorm, the ONNX file does not."""
    import torch

    import vitpose_trt as vt
    from vitpose_trt.errors import AccuracyError
    from vitpose_trt.export import export_precision

    torch.manual_seed(0)
    model = vt.load_model(name="vitpose-tiny").train()
    with pytest.raises(AccuracyError, match="differs from PyTorch"):
        export_precision(model, "fp32", tmp_path, log=lambda line: None)
    assert model.training, "export must not change the caller's model"


def test_highest_supported_opset(tiny_model, held_out, tmp_path):
    crops, reference = held_out
    path = export_onnx(tiny_model, tmp_path / "m.onnx", opset=20)
    assert {o.domain: o.version for o in onnx.load(str(path)).opset_import}[""] == 20
    assert _relative_l2(heatmaps_from_onnx(path, crops), reference) < 1e-5
