"""Real TensorRT-RTX builds (on the CPU) of vitpose-tiny in fp32, fp16 and int8, their sidecars and rebuild rules."""

from __future__ import annotations

import json
import shutil

import pytest
import tensorrt_rtx as trt

from vitpose_trt.artifacts import ArtifactMetadata, metadata_from_onnx
from vitpose_trt.engine import BuildOptions, engine_from_onnx, sidecar_for_engine
from vitpose_trt.engine.builder_log import build_logger
from vitpose_trt.engine.files import sha256_of_files
from vitpose_trt.engine.network import network_from_onnx
from vitpose_trt.errors import ConfigError
from vitpose_trt.specs import (
    HEATMAP_HEIGHT,
    HEATMAP_WIDTH,
    INPUT_HEIGHT,
    INPUT_NAME,
    INPUT_WIDTH,
    OUTPUT_NAME,
)

RTX = "tensorrt-rtx"
PRECISIONS = ("fp32", "fp16", "int8")  # the tiny_onnx / tiny_engine fixtures (conftest.py) make these
TINY_MODEL = "vitpose-tiny"


@pytest.mark.parametrize("precision", PRECISIONS)
def test_tiny_engine_and_sidecar(precision, tiny_engine, tiny_onnx):
    built = tiny_engine(precision)
    stem = tiny_onnx(precision).stem
    assert built.engine_path.name == f"{stem}.engine" and built.sidecar_path.name == f"{stem}.json"
    assert not built.skipped and built.build_seconds > 0
    engine_bytes = built.engine_path.read_bytes()
    assert len(engine_bytes) > 0

    sidecar = sidecar_for_engine(built.engine_path)
    assert sidecar.precision == precision
    assert sidecar.artifact.model == TINY_MODEL and sidecar.artifact.pose.keypoint_set == "coco"
    assert sidecar.library == "tensorrt_rtx" and sidecar.library_version == trt.__version__
    assert sidecar.batch == (1, 8, 32)
    assert sidecar.gpu_name is None and "SM89" in sidecar.compute_capabilities
    assert "SM75" not in sidecar.compute_capabilities  # RTX leaves Turing out unless asked
    assert sidecar.io.input_names == (INPUT_NAME,) and sidecar.io.output_names == (OUTPUT_NAME,)
    assert sidecar.io.inputs[0].shape == (-1, 3, INPUT_HEIGHT, INPUT_WIDTH)
    assert sidecar.io.outputs[0].shape == (-1, 17, HEATMAP_HEIGHT, HEATMAP_WIDTH)
    assert sidecar.io.inputs[0].dtype == "float32"  # fp16/int8 graphs keep fp32 I/O
    assert sidecar.engine_sha256 == sha256_of_files([built.engine_path])
    assert sidecar.onnx_sha256 == sha256_of_files([tiny_onnx(precision)])
    # The sidecar starts from the ONNX's metadata, and its top level reads as such for the runtime.
    assert sidecar.artifact == metadata_from_onnx(tiny_onnx(precision))
    data = json.loads(built.sidecar_path.read_text())
    assert ArtifactMetadata.from_dict(data).pose.decode == "dark-udp"


def test_precision_comes_from_the_onnx_graph(tiny_engine, tiny_onnx):
    """Same builder call, no flags: the fp16 and int8 graphs give smaller engines with reduced-precision layers."""
    sizes = {p: tiny_engine(p).sidecar.engine_bytes for p in PRECISIONS}
    assert sizes["fp16"] < 0.8 * sizes["fp32"] and sizes["int8"] < 0.8 * sizes["fp32"]

    def layer_kinds(precision):
        parsed = network_from_onnx(trt, tiny_onnx(precision), build_logger(trt))
        layers = [parsed.network.get_layer(i) for i in range(parsed.network.num_layers)]
        types = {layer.type for layer in layers}
        dtypes = {layer.get_output(j).dtype for layer in layers for j in range(layer.num_outputs)}
        return types, dtypes

    fp32_types, fp32_dtypes = layer_kinds("fp32")
    fp16_types, fp16_dtypes = layer_kinds("fp16")
    int8_types, _ = layer_kinds("int8")
    assert trt.DataType.HALF not in fp32_dtypes and trt.DataType.HALF in fp16_dtypes
    assert trt.LayerType.QUANTIZE not in fp32_types and trt.LayerType.QUANTIZE in int8_types


def test_rebuild_skipped_until_something_changes(tmp_path, tiny_onnx):
    onnx_path = tiny_onnx("fp32")
    options = BuildOptions(builder=RTX)
    first = engine_from_onnx(onnx_path, options, tmp_path, progress=False)
    stamp = first.engine_path.stat().st_mtime_ns

    again = engine_from_onnx(onnx_path, options, tmp_path, progress=False)
    assert again.skipped and again.build_seconds == 0.0
    assert again.engine_path.stat().st_mtime_ns == stamp

    # "auto" resolves to the same library here (no full TensorRT installed), so it is the same build.
    auto = BuildOptions(batch=(1, 8, 32))
    if auto_resolves_to_rtx():
        assert engine_from_onnx(onnx_path, auto, tmp_path, progress=False).skipped

    forced = engine_from_onnx(onnx_path, BuildOptions(builder=RTX, force=True), tmp_path, progress=False)
    assert not forced.skipped
    # TensorRT-RTX CPU builds are byte-deterministic (FIELD.md), so a forced rebuild gives the same engine.
    assert forced.sidecar.engine_sha256 == first.sidecar.engine_sha256

    other_profile = engine_from_onnx(onnx_path, BuildOptions(builder=RTX, batch=(1, 4, 16)), tmp_path, progress=False)
    assert not other_profile.skipped and other_profile.sidecar.batch == (1, 4, 16)


def test_changed_onnx_or_damaged_engine_triggers_a_rebuild(tmp_path, tiny_onnx):
    onnx_path = tmp_path / "vitpose-tiny-fp16.onnx"
    shutil.copy(tiny_onnx("fp16"), onnx_path)
    options = BuildOptions(builder=RTX)
    first = engine_from_onnx(onnx_path, options, tmp_path / "out", progress=False)

    with open(first.engine_path, "r+b") as handle:  # same size, different bytes
        handle.write(b"\0" * 64)
    repaired = engine_from_onnx(onnx_path, options, tmp_path / "out", progress=False)
    assert not repaired.skipped
    assert sha256_of_files([repaired.engine_path]) == repaired.sidecar.engine_sha256

    shutil.copy(tiny_onnx("int8"), onnx_path)  # same file name, different graph
    rebuilt = engine_from_onnx(onnx_path, options, tmp_path / "out", progress=False)
    assert not rebuilt.skipped and rebuilt.sidecar.precision == "int8"


def test_output_dir_defaults_to_the_onnx_folder_and_no_temp_files_remain(tmp_path, tiny_onnx):
    onnx_path = tmp_path / "model.onnx"
    shutil.copy(tiny_onnx("fp32"), onnx_path)
    built = engine_from_onnx(onnx_path, BuildOptions(builder=RTX), progress=False)
    assert built.engine_path == tmp_path / "model.engine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.engine", "model.json", "model.onnx"]


def test_rtx_compute_capability_targets_and_builder_settings(tmp_path, tiny_onnx):
    options = BuildOptions(builder=RTX, batch=(2, 2, 2), compute_capabilities=("8.6", "12.0"),
                           workspace_mib=256, optimization_level=1)
    built = engine_from_onnx(tiny_onnx("fp32"), options, tmp_path, progress=False)
    sidecar = built.sidecar
    assert sidecar.compute_capabilities == ("SM86", "SM120")
    assert sidecar.batch == (2, 2, 2)
    assert sidecar.build_options.workspace_mib == 256 and sidecar.build_options.optimization_level == 1


def test_unknown_rtx_target_is_refused_with_the_valid_list(tmp_path, tiny_onnx):
    options = BuildOptions(builder=RTX, compute_capabilities=("9.0",))  # TensorRT-RTX has no SM90
    with pytest.raises(ConfigError, match="cannot target compute capability SM90.*SM86"):
        engine_from_onnx(tiny_onnx("fp32"), options, tmp_path, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_timing_cache_is_skipped_on_rtx(tmp_path, tiny_onnx):
    cache = tmp_path / "timing.cache"
    with pytest.warns(UserWarning, match="timing-cache is ignored"):
        engine_from_onnx(tiny_onnx("fp32"), BuildOptions(builder=RTX, timing_cache=cache), tmp_path / "out",
                         progress=False)
    assert not cache.exists()


def test_progress_bar_is_drawn(tmp_path, tiny_onnx, capsys):
    engine_from_onnx(tiny_onnx("fp32"), BuildOptions(builder=RTX), tmp_path, progress=True)
    assert "Building engine" in capsys.readouterr().err


def test_fixed_batch_onnx_needs_a_matching_profile(tmp_path, tiny_model):
    import onnx
    import torch

    from vitpose_trt.artifacts import ONNX_METADATA_KEY

    path = tmp_path / "static.onnx"
    torch.onnx.export(tiny_model, torch.zeros(1, 3, INPUT_HEIGHT, INPUT_WIDTH), str(path), dynamo=False,
                      opset_version=17, input_names=[INPUT_NAME], output_names=[OUTPUT_NAME])
    proto = onnx.load(str(path))
    entry = proto.metadata_props.add()
    entry.key = ONNX_METADATA_KEY
    entry.value = ArtifactMetadata.for_pose_model(tiny_model.spec, tiny_model.keypoints).to_json()
    onnx.save(proto, str(path))
    with pytest.raises(ConfigError, match="fixed batch of 1; build it with --batch 1"):
        engine_from_onnx(path, BuildOptions(builder=RTX), tmp_path / "out", progress=False)
    built = engine_from_onnx(path, BuildOptions(builder=RTX, batch=(1, 1, 1)), tmp_path / "out", progress=False)
    assert built.sidecar.io.inputs[0].shape == (1, 3, INPUT_HEIGHT, INPUT_WIDTH)


def auto_resolves_to_rtx() -> bool:
    import importlib.util

    return importlib.util.find_spec("tensorrt") is None


_BUILD_ONCE = r"""
import sys
from vitpose_trt.engine import BuildOptions, engine_from_onnx
built = engine_from_onnx(sys.argv[1], BuildOptions(builder="tensorrt-rtx"), sys.argv[2], progress=False)
print("skipped" if built.skipped else "built")
"""


def test_concurrent_builds_of_one_engine_take_turns(tmp_path, tiny_onnx):
    import subprocess
    import sys

    command = [sys.executable, "-c", _BUILD_ONCE, str(tiny_onnx("fp16")), str(tmp_path)]
    runs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outcomes = sorted(run.communicate(timeout=300)[0].strip() for run in runs)
    assert outcomes == ["built", "skipped"]
    sidecar = sidecar_for_engine(tmp_path / "vitpose-tiny-fp16.engine")
    assert sha256_of_files([tmp_path / "vitpose-tiny-fp16.engine"]) == sidecar.engine_sha256
