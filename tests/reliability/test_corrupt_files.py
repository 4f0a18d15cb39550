"""Damaged, foreign or mismatched files are refused by `PoseEstimator` with an error naming the file and the fix.

ONNX files fail in ONNX Runtime's loader, engines in the sidecar and file checks that run before TensorRT
or a GPU is needed, checkpoints in `torch.load(weights_only=True)` / safetensors (never unpickling code).
"""

from __future__ import annotations

import json
import shutil

import pytest

import vitpose_trt as vt
from vitpose_trt.errors import (
    CheckpointError,
    EngineLoadError,
    MissingDependencyError,
    UserError,
)


def _copy_with_sidecar(engine, folder, name="model"):
    target = folder / f"{name}.engine"
    shutil.copyfile(engine, target)
    shutil.copyfile(engine.with_suffix(".json"), target.with_suffix(".json"))
    return target


def _raises(error, path, *fragments):
    with pytest.raises(error) as info:
        vt.PoseEstimator(path)
    message = str(info.value)
    assert isinstance(info.value, UserError)
    assert str(path) in message or path.name in message, message
    for fragment in fragments:
        assert fragment in message, message
    return message


ONNX_DAMAGE = {
    "garbage": lambda data: b"this is not a protobuf\x00\xff" * 4,
    "empty": lambda data: b"",
    "truncated": lambda data: data[: len(data) // 2],
    "cut at the end": lambda data: data[:-100],
}


@pytest.mark.parametrize("damage", ONNX_DAMAGE)
def test_damaged_onnx_names_the_file_and_the_fix(tmp_path, tiny_onnx_path, damage):
    path = tmp_path / "model.onnx"
    path.write_bytes(ONNX_DAMAGE[damage](tiny_onnx_path.read_bytes()))
    _raises(EngineLoadError, path, "re-export it with vitpose-export")


def test_onnx_missing_its_external_data_file(tmp_path, tiny_model):
    from vitpose_trt.export import export_onnx
    from vitpose_trt.export.files import external_data_path

    path = export_onnx(tiny_model, tmp_path / "model.onnx", external_data_threshold=0)
    external_data_path(path).unlink()
    _raises(EngineLoadError, path, "external data")


def test_onnx_with_damaged_metadata(tmp_path, tiny_onnx_path):
    import onnx

    from vitpose_trt.artifacts import ONNX_METADATA_KEY

    model = onnx.load(str(tiny_onnx_path))
    next(p for p in model.metadata_props if p.key == ONNX_METADATA_KEY).value = '{"model": "vitpose-tiny", '
    path = tmp_path / "model.onnx"
    onnx.save(model, str(path))
    _raises(EngineLoadError, path, "not valid JSON")


def test_truncated_engine_is_refused_before_any_gpu_is_needed(tmp_path, tiny_engine_path):
    path = _copy_with_sidecar(tiny_engine_path, tmp_path)
    path.write_bytes(path.read_bytes()[:1000])
    _raises(EngineLoadError, path, "truncated", "rebuild the engine and its sidecar together")


def test_engine_that_does_not_match_its_sidecar(tmp_path, tiny_engine_path):
    """Same size, other bytes (a different build or bit rot): the sha256 in the sidecar catches it."""
    path = _copy_with_sidecar(tiny_engine_path, tmp_path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    _raises(EngineLoadError, path, "sha256", "model.json")


@pytest.mark.parametrize(
    "edit, fragment",
    [
        (lambda text: text[: len(text) // 2], "not valid JSON"),
        (lambda text: "[1, 2, 3]", "not a JSON object"),
        (lambda text: json.dumps({k: v for k, v in json.loads(text).items() if k != "engine"}), "not an engine sidecar"),
        (lambda text: json.dumps({**json.loads(text), "engine": {**json.loads(text)["engine"], "schema": 99}}),
         "upgrade vitpose-trt"),
        (lambda text: json.dumps({**json.loads(text), "engine": {**json.loads(text)["engine"], "bytes": "many"}}),
         "incomplete or malformed"),
    ],
    ids=["truncated", "not an object", "no engine section", "newer schema", "bad field"],
)
def test_damaged_sidecar_names_itself(tmp_path, tiny_engine_path, edit, fragment):
    path = _copy_with_sidecar(tiny_engine_path, tmp_path)
    sidecar = path.with_suffix(".json")
    sidecar.write_text(edit(sidecar.read_text()))
    with pytest.raises(EngineLoadError, match=fragment) as info:
        vt.PoseEstimator(path)
    assert "model.json" in str(info.value)


def test_engine_without_its_sidecar(tmp_path, tiny_engine_path):
    path = tmp_path / "lone.engine"
    shutil.copyfile(tiny_engine_path, path)
    _raises(EngineLoadError, path, "no metadata sidecar lone.json", "vitpose-export")


def test_engine_of_a_library_that_is_not_installed(tmp_path, tiny_engine_path):
    """An engine built by full TensorRT (not installed here) names the library to install."""
    path = _copy_with_sidecar(tiny_engine_path, tmp_path)
    sidecar = path.with_suffix(".json")
    data = json.loads(sidecar.read_text())
    data["engine"].update(library="tensorrt", library_version="10.3.0.26")
    sidecar.write_text(json.dumps(data))
    with pytest.raises(MissingDependencyError, match="tensorrt") as info:
        vt.PoseEstimator(path)
    assert "model.engine" in str(info.value)


def test_damaged_checkpoints_are_refused(tmp_path, tiny_model):
    import torch

    good = tmp_path / "good.pth"
    torch.save(tiny_model.state_dict(), good)
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(good.read_bytes()[:5000])
    _raises(CheckpointError, truncated, "truncated")
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}......")
    _raises(CheckpointError, garbage)


class _RunsCode:
    """Unpickling this calls `exec`: the attack a weights-only loader must refuse."""

    def __reduce__(self):
        return (exec, ("import pathlib; pathlib.Path(__import__('os').environ['VT_PWNED']).write_text('ran')",))


def test_checkpoint_that_would_run_code_is_refused_without_running_it(tmp_path, monkeypatch, tiny_model):
    import torch

    marker = tmp_path / "pwned"
    monkeypatch.setenv("VT_PWNED", str(marker))
    path = tmp_path / "evil.pth"
    torch.save({"state_dict": dict(tiny_model.state_dict()), "meta": _RunsCode()}, path)
    torch.load(path, weights_only=False)  # the payload is live: a full unpickler runs it
    assert marker.read_text() == "ran"
    marker.unlink()
    _raises(CheckpointError, path, "refusing to load")
    assert not marker.exists()
