"""Files written by the released vitpose-trt 0.1.0 (schema 1) still load; newer schemas are refused."""

from __future__ import annotations

import json

import numpy as np
import pytest

import vitpose_trt as vt
from vitpose_trt.artifacts import (
    ONNX_METADATA_KEY,
    ONNXRUNTIME_CPU_TARGET,
    SCHEMA_VERSION,
    ArtifactMetadata,
    PoseSettings,
    metadata_from_onnx,
    sidecar_for_engine,
)
from vitpose_trt.errors import ConfigError, EngineLoadError
from vitpose_trt.keypoints import KEYPOINT_SETS
from vitpose_trt.specs import MODELS


def _raw_metadata(path) -> dict:
    import onnx

    props = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
    return json.loads(props[ONNX_METADATA_KEY])


def test_the_files_really_are_schema_1(schema_1_files):
    raw = _raw_metadata(schema_1_files / "tiny.onnx")
    assert raw["schema"] == 1 and "task" not in raw and raw["pipeline"]["warp"] == "classic"
    sidecar = json.loads((schema_1_files / "tiny.json").read_text())
    assert sidecar["engine"]["schema"] == 1 and sidecar["engine"]["inputs"][0]["dtype"] == "FLOAT"


def test_schema_1_onnx_metadata_reads_as_pose_metadata(schema_1_files):
    metadata = metadata_from_onnx(schema_1_files / "tiny.onnx")
    assert metadata.schema == SCHEMA_VERSION and metadata.task == "pose" and metadata.model == "vitpose-tiny"
    assert metadata.pose == PoseSettings.official(KEYPOINT_SETS["aic"], MODELS["vitpose-tiny"])
    assert metadata.provenance.opset == 17 and metadata.provenance.simplified
    int8 = metadata_from_onnx(schema_1_files / "tiny-int8-cpu.onnx")
    assert (int8.precision, int8.target) == ("int8", ONNXRUNTIME_CPU_TARGET)
    assert int8.provenance.quantizer == "onnxruntime.quantization.quantize_dynamic"
    assert len(int8.provenance.unquantized_nodes) == 4  # QK^T and attention@V of the tiny model's 2 blocks


def test_schema_1_sidecar_reads_with_typed_io_and_build_options(schema_1_files):
    sidecar = sidecar_for_engine(schema_1_files / "tiny.engine")
    assert sidecar.artifact == metadata_from_onnx(schema_1_files / "tiny.onnx")
    assert sidecar.io.inputs[0].dtype == "float32" and sidecar.io.inputs[0].shape == (-1, 3, 256, 192)
    assert sidecar.io.outputs[0].shape == (-1, 14, 64, 48) and sidecar.batch == (1, 2, 4)
    assert sidecar.build_options.workspace_mib == 64 and sidecar.library == "tensorrt_rtx"


def test_schema_1_onnx_gives_the_released_versions_poses(schema_1_files):
    saved = np.load(schema_1_files / "poses.npz")
    poses = vt.PoseEstimator(schema_1_files / "tiny.onnx")(saved["image"], saved["boxes"])
    np.testing.assert_array_equal(poses.keypoints, saved["keypoints"])
    np.testing.assert_array_equal(poses.scores, saved["scores"])


def test_schema_1_cpu_int8_is_still_refused_by_the_engine_builder(schema_1_files, tmp_path):
    from vitpose_trt.engine import BuildOptions, engine_from_onnx

    with pytest.raises(ConfigError, match="ONNX Runtime on CPUs"):
        engine_from_onnx(schema_1_files / "tiny-int8-cpu.onnx", BuildOptions(builder="tensorrt-rtx"), tmp_path,
                         progress=False)


def test_newer_schemas_are_refused_with_a_message(schema_1_files):
    current = metadata_from_onnx(schema_1_files / "tiny.onnx").to_dict()
    with pytest.raises(EngineLoadError, match="schema 3 is newer than this vitpose-trt reads .* upgrade"):
        ArtifactMetadata.from_dict({**current, "schema": SCHEMA_VERSION + 1}, "future.onnx")
    sidecar = json.loads((schema_1_files / "tiny.json").read_text())
    sidecar["engine"]["schema"] = 3
    with pytest.raises(EngineLoadError, match="engine schema 3 .* upgrade vitpose-trt"):
        type(sidecar_for_engine(schema_1_files / "tiny.engine")).from_dict(sidecar, "future.json")


def test_schema_2_round_trips_and_names_unknown_tasks(schema_1_files):
    metadata = metadata_from_onnx(schema_1_files / "tiny.onnx")
    assert ArtifactMetadata.from_json(metadata.to_json()) == metadata
    with pytest.raises(EngineLoadError, match="unknown task 'segmentation'"):
        ArtifactMetadata.from_dict({**metadata.to_dict(), "task": "segmentation"}, "other.onnx")
