"""Bad input to the builder: corrupt ONNX, unsupported ops, missing library, unwritable output, Ctrl-C."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from vitpose_trt.artifacts import ONNX_METADATA_KEY, ArtifactMetadata
from vitpose_trt.engine import BuildOptions, engine_from_onnx
from vitpose_trt.errors import ConfigError, EngineBuildError, EngineLoadError
from vitpose_trt.specs import INPUT_NAME, OUTPUT_NAME, spec_by_name

RTX = BuildOptions(builder="tensorrt-rtx")


def _onnx_with_single_node(path, op_type: str, domain: str = "", input_name: str = INPUT_NAME,
                           metadata: bool = True):
    """A one-node ONNX graph (N,3,256,192) -> (N,17,64,48) with vitpose-trt metadata."""
    import onnx
    from onnx import TensorProto, helper

    from vitpose_trt.keypoints import keypoint_set_by_name

    node = helper.make_node(op_type, [input_name], [OUTPUT_NAME], domain=domain)
    graph = helper.make_graph(
        [node], "single",
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, ["batch", 3, 256, 192])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["batch", 17, 64, 48])],
    )
    opsets = [helper.make_opsetid("", 17)] + ([helper.make_opsetid(domain, 1)] if domain else [])
    model = helper.make_model(graph, opset_imports=opsets)
    if metadata:
        info = ArtifactMetadata.for_pose_model(spec_by_name("vitpose-tiny"), keypoint_set_by_name("coco"))
        entry = model.metadata_props.add()
        entry.key, entry.value = ONNX_METADATA_KEY, info.to_json()
    onnx.save(model, str(path))
    return path


def test_corrupt_onnx_quotes_the_parser(tmp_path):
    path = tmp_path / "corrupt.onnx"
    path.write_bytes(b"garbage\n")
    with pytest.raises(EngineBuildError, match="ONNX parser rejected") as info:
        engine_from_onnx(path, RTX, tmp_path / "out", progress=False)
    assert "Failed to parse the ONNX model" in str(info.value)  # the parser's own words


def test_truncated_onnx_quotes_the_parser(tmp_path, tiny_onnx):
    data = tiny_onnx("fp32").read_bytes()
    path = tmp_path / "truncated.onnx"
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(EngineBuildError, match="ONNX"):
        engine_from_onnx(path, RTX, tmp_path / "out", progress=False)
    assert not (tmp_path / "out" / "truncated.engine").exists()


def test_unsupported_op_quotes_the_parser(tmp_path):
    path = _onnx_with_single_node(tmp_path / "custom.onnx", "FancyPoseOp", domain="com.example")
    with pytest.raises(EngineBuildError) as info:
        engine_from_onnx(path, RTX, tmp_path / "out", progress=False)
    message = str(info.value)
    assert "FancyPoseOp" in message and "INVALID_NODE" in message
    assert list((tmp_path / "out").iterdir()) == []


def test_wrong_input_name_is_a_config_error(tmp_path):
    path = _onnx_with_single_node(tmp_path / "renamed.onnx", "Identity", input_name="pixels")
    with pytest.raises(ConfigError, match="exactly one input named 'input'.*pixels"):
        engine_from_onnx(path, RTX, tmp_path / "out", progress=False)


def test_onnx_without_vitpose_metadata_is_refused(tmp_path):
    path = _onnx_with_single_node(tmp_path / "foreign.onnx", "Identity", metadata=False)
    with pytest.raises(EngineLoadError, match="no vitpose-trt metadata"):
        engine_from_onnx(path, RTX, tmp_path / "out", progress=False)


def test_missing_onnx_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        engine_from_onnx(tmp_path / "nowhere.onnx", RTX, tmp_path, progress=False)


def test_unwritable_output_directory_is_a_clear_error(tmp_path, tiny_onnx):
    blocker = tmp_path / "taken"
    blocker.write_text("a file where the output folder should go")
    with pytest.raises(ConfigError, match=r"cannot write engines to .*taken.*choose another --output-dir"):
        engine_from_onnx(tiny_onnx("fp32"), RTX, blocker, progress=False)
    with pytest.raises(ConfigError, match="cannot write engines to"):
        engine_from_onnx(tiny_onnx("fp32"), RTX, blocker / "sub", progress=False)


_NO_LIBRARY = r"""
import importlib.abc, json, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tensorrt", "tensorrt_rtx"):
            raise ImportError(f"blocked for the test: {name}")
sys.meta_path.insert(0, Block())
from vitpose_trt.engine import BuildOptions, engine_from_onnx
from vitpose_trt.errors import MissingDependencyError
out = {}
for builder in ("auto", "tensorrt", "tensorrt-rtx"):
    try:
        engine_from_onnx(sys.argv[1], BuildOptions(builder=builder), sys.argv[2], progress=False)
        out[builder] = "built"
    except MissingDependencyError as exc:
        out[builder] = str(exc)
print(json.dumps(out))
"""


def test_missing_builder_library_gives_install_hint(tmp_path, tiny_onnx):
    result = subprocess.run([sys.executable, "-c", _NO_LIBRARY, str(tiny_onnx("fp32")), str(tmp_path)],
                            capture_output=True, text=True, check=True)
    messages = json.loads(result.stdout)
    assert "vitpose-trt[rtx]" in messages["tensorrt-rtx"] and "install" in messages["tensorrt-rtx"]
    assert "vitpose-trt[gpu]" in messages["tensorrt"]
    assert "neither TensorRT nor TensorRT-RTX" in messages["auto"] and "install" in messages["auto"]
    assert list(tmp_path.iterdir()) == []


_INTERRUPTED = textwrap.dedent(r"""
    import json, os, signal, sys
    from pathlib import Path
    import vitpose_trt.engine.build as build
    from vitpose_trt.engine import BuildOptions, engine_from_onnx

    # Real Ctrl-C: SIGINT to this process once TensorRT reports its first completed step, so it
    # arrives mid-build deterministically (a tiny build is too quick to interrupt from outside).
    real_monitor = build.progress_monitor
    def interrupting_monitor(trt, show=True):
        monitor = real_monitor(trt, show)
        class Interrupting(type(monitor)):
            sent = False
            def step_complete(self, phase_name, step):
                if not Interrupting.sent:
                    Interrupting.sent = True
                    os.kill(os.getpid(), signal.SIGINT)
                return super().step_complete(phase_name, step)
        return Interrupting()
    build.progress_monitor = interrupting_monitor

    out = Path(sys.argv[2])
    try:
        engine_from_onnx(sys.argv[1], BuildOptions(builder="tensorrt-rtx"), out, progress=True)
        print(json.dumps({"outcome": "finished"}))
    except KeyboardInterrupt:
        print(json.dumps({"outcome": "interrupted", "left": sorted(p.name for p in out.iterdir())}))
""")


def test_ctrl_c_cancels_the_build_and_leaves_nothing_behind(tmp_path, tiny_onnx):
    result = subprocess.run([sys.executable, "-c", _INTERRUPTED, str(tiny_onnx("fp32")), str(tmp_path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {"outcome": "interrupted", "left": []}
    assert "BuildCanceled" not in result.stderr  # an expected cancellation is not reported as an error
