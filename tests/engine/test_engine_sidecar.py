"""The engine sidecar: round trip, validation, and the runtime's compatibility check with its rebuild command."""

from __future__ import annotations

import dataclasses
import json
import shutil
import types

import pytest
import tensorrt_rtx

from vitpose_trt.engine import (
    EngineSidecar,
    check_engine_compatible,
    sidecar_for_engine,
)
from vitpose_trt.engine.compatibility import rebuild_command
from vitpose_trt.errors import EngineLoadError


@pytest.fixture(scope="module")
def fp16_sidecar(tiny_engine):
    return sidecar_for_engine(tiny_engine("fp16").engine_path)


def _library(name: str, version: str) -> types.ModuleType:
    """A module object named like a builder library with the given version (what the check reads)."""
    module = types.ModuleType(name)
    module.__version__ = version
    return module


def test_round_trip_is_lossless(fp16_sidecar):
    again = EngineSidecar.from_json(fp16_sidecar.to_json())
    assert again == fp16_sidecar


def test_compatible_engine_passes(fp16_sidecar):
    check_engine_compatible(fp16_sidecar, tensorrt_rtx, "NVIDIA GeForce RTX 4090", "8.9")
    check_engine_compatible(fp16_sidecar, tensorrt_rtx, "NVIDIA RTX A6000", (8, 6))
    check_engine_compatible(fp16_sidecar, tensorrt_rtx, "NVIDIA GeForce RTX 5090", "SM120")


def test_other_library_is_refused_with_a_rebuild_command(fp16_sidecar, tmp_path):
    tensorrt = _library("tensorrt", "10.3.0.26")
    with pytest.raises(EngineLoadError) as info:
        check_engine_compatible(fp16_sidecar, tensorrt, "NVIDIA H100 80GB HBM3", "9.0",
                                engine_path=tmp_path / "vitpose-tiny-fp16.engine")
    message = str(info.value)
    assert "built with TensorRT-RTX, but this runtime uses TensorRT" in message
    assert (f"vitpose-export --model vitpose-tiny --dataset coco --weights CHECKPOINT --precision fp16 "
            f"--builder tensorrt --batch 1:8:32 --output {tmp_path} --force") in message


def test_other_library_version_is_refused(fp16_sidecar):
    newer = _library("tensorrt_rtx", "1.8.0.40")
    with pytest.raises(EngineLoadError, match="built with TensorRT-RTX 1.7.*1.8.0.40 is installed"):
        check_engine_compatible(fp16_sidecar, newer, "NVIDIA GeForce RTX 4090", "8.9")
    # Versions compare as numbers: a local-build suffix does not make it another release.
    same = _library("tensorrt_rtx", tensorrt_rtx.__version__ + ".post1")
    check_engine_compatible(fp16_sidecar, same, "NVIDIA GeForce RTX 4090", "8.9")


def test_untargeted_gpu_is_refused_and_the_command_adds_its_capability(fp16_sidecar):
    narrowed = dataclasses.replace(fp16_sidecar, compute_capabilities=("SM86",),
                                   build_options=dataclasses.replace(fp16_sidecar.build_options,
                                                                     compute_capabilities=("SM86",)))
    with pytest.raises(EngineLoadError) as info:
        check_engine_compatible(narrowed, tensorrt_rtx, "NVIDIA GeForce RTX 2080 Ti", "7.5")
    message = str(info.value)
    assert "targets compute capability SM86, but NVIDIA GeForce RTX 2080 Ti is SM75" in message
    assert "--compute-capability 8.6,7.5" in message


def test_tensorrt_engine_on_another_model_of_the_same_capability_warns(fp16_sidecar):
    built_on_l4 = dataclasses.replace(fp16_sidecar, library="tensorrt", library_version="10.3.0.26",
                                      gpu_name="NVIDIA L4", compute_capabilities=("SM89",))
    tensorrt = _library("tensorrt", "10.3.0.26")
    with pytest.warns(UserWarning, match="built on NVIDIA L4, running on NVIDIA GeForce RTX 4090"):
        check_engine_compatible(built_on_l4, tensorrt, "NVIDIA GeForce RTX 4090", "8.9")
    with pytest.raises(EngineLoadError, match="targets compute capability SM89, but NVIDIA A100"):
        check_engine_compatible(built_on_l4, tensorrt, "NVIDIA A100-SXM4-80GB", "8.0")


def test_rebuild_command_keeps_the_build_settings(fp16_sidecar):
    custom = dataclasses.replace(fp16_sidecar, build_options=dataclasses.replace(
        fp16_sidecar.build_options, workspace_mib=512, optimization_level=4, compute_capabilities=("SM89", "SM120")))
    command = rebuild_command(custom, "tensorrt_rtx")
    assert "--compute-capability 8.9,12.0" in command
    assert "--workspace 512" in command and "--opt-level 4" in command


def test_missing_sidecar_is_refused(tmp_path, tiny_engine):
    engine = tmp_path / "lonely.engine"
    shutil.copy(tiny_engine("fp32").engine_path, engine)
    with pytest.raises(EngineLoadError, match="no metadata sidecar lonely.json"):
        sidecar_for_engine(engine)


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda d: d.pop("engine"), "no 'engine' object"),
        (lambda d: d["engine"].update(schema=99), "engine schema 99"),
        (lambda d: d.update(schema=99), "newer than this vitpose-trt"),
        (lambda d: d["engine"].pop("sha256"), "incomplete or malformed"),
        (lambda d: d["engine"].update(batch=[1, 8]), "incomplete or malformed"),
        (lambda d: d["engine"]["target"].update(compute_capabilities=["ampere"]), "incomplete or malformed"),
    ],
)
def test_damaged_sidecar_is_refused(tmp_path, tiny_engine, damage, message):
    built = tiny_engine("fp32")
    engine = tmp_path / "model.engine"
    shutil.copy(built.engine_path, engine)
    data = json.loads(built.sidecar_path.read_text())
    damage(data)
    (tmp_path / "model.json").write_text(json.dumps(data))
    with pytest.raises(EngineLoadError, match=message):
        sidecar_for_engine(engine)


def test_sidecar_that_is_not_json_is_refused(tmp_path):
    (tmp_path / "model.json").write_text("{not json")
    with pytest.raises(EngineLoadError, match="not valid JSON"):
        sidecar_for_engine(tmp_path / "model.engine")
