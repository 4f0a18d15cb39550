"""The OpenVINO backend: the same heatmaps and keypoints as ONNX Runtime in fp32, explicit precisions, IRs.

Real OpenVINO runs on the peaked tiny model. bf16 runs where the CPU has bf16 instructions and is refused
(never a quiet fp32 fallback) where it has not: each test checks whichever this CPU allows.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from astronaut_cases import ASTRONAUT_BOXES

import vitpose_trt as vt
from vitpose_trt.cpu_features import has_bf16
from vitpose_trt.errors import ConfigError, EngineLoadError
from vitpose_trt.runtime.backends import backend_name_for, open_backend

#: fp32 OpenVINO vs fp32 ONNX Runtime: the same maths, other kernels (relative L2 of heatmaps).
FP32_PARITY = 1e-5
#: bf16 vs fp32: the export reports' bound for 16-bit floats (export.accuracy.REPORT_TOLERANCE).
BF16_BOUND = 1e-2


def _relative_l2(candidate, reference) -> float:
    return float(np.linalg.norm(candidate - reference) / np.linalg.norm(reference))


@pytest.fixture(scope="module")
def crops():
    return np.random.default_rng(0).standard_normal((3, 3, 256, 192), dtype=np.float32)


@pytest.mark.parametrize("source", ["model.xml", "a/b/Model.XML"])
def test_an_openvino_ir_picks_the_openvino_backend(source):
    assert backend_name_for(source) == backend_name_for(Path(source)) == "openvino"


def test_fp32_heatmaps_match_onnxruntime_with_an_explicit_f32_hint(peaked_tiny_onnx, crops):
    import openvino

    backend = open_backend(peaked_tiny_onnx, "openvino", threads=1, max_batch=4)
    assert (backend.name, backend.device, backend.precision, backend.max_batch) == ("openvino", "cpu", "fp32", 4)
    assert backend.compiled.get_property("INFERENCE_PRECISION_HINT") == openvino.Type.f32
    assert backend.compiled.get_property("INFERENCE_NUM_THREADS") == 1
    assert backend.metadata.precision == "fp32" and backend.metadata.model == "vitpose-tiny"
    assert backend.io.input_names == ("input",) and backend.io.output("heatmaps").item_shape == (17, 64, 48)
    heatmaps = backend.run({"input": crops})["heatmaps"]
    reference = open_backend(peaked_tiny_onnx, "onnxruntime").run({"input": crops})["heatmaps"]
    assert heatmaps.shape == reference.shape and heatmaps.dtype == np.float32
    assert _relative_l2(heatmaps, reference) < FP32_PARITY


def test_keypoints_match_the_onnxruntime_backend(peaked_tiny_onnx, astronaut_bgr):
    ours = vt.PoseEstimator(peaked_tiny_onnx, backend="openvino")
    reference = vt.PoseEstimator(peaked_tiny_onnx, backend="onnxruntime")
    poses, expected = ours(astronaut_bgr, ASTRONAUT_BOXES), reference(astronaut_bgr, ASTRONAUT_BOXES)
    assert ours.flip_test and np.abs(poses.keypoints - expected.keypoints).max() < 1e-2
    np.testing.assert_allclose(poses.scores, expected.scores, atol=1e-4)


def test_bf16_runs_where_the_cpu_has_it_and_is_refused_elsewhere(peaked_tiny_onnx, crops):
    """Never a silent fallback: on a CPU without bf16, OpenVINO would compute in f32 instead."""
    if not has_bf16():
        with pytest.raises(ConfigError, match="cannot run bf16 in OpenVINO.*AVX512-BF16 or AMX"):
            vt.PoseEstimator(peaked_tiny_onnx, backend="openvino", precision="bf16")
        return
    backend = open_backend(peaked_tiny_onnx, "openvino", precision="bf16")
    assert backend.precision == "bf16" and backend.metadata.precision == "bf16"
    assert len(backend.fp32_nodes) == 4  # the residual Adds of the tiny model's two blocks
    reference = open_backend(peaked_tiny_onnx, "openvino").run({"input": crops})["heatmaps"]
    assert _relative_l2(backend.run({"input": crops})["heatmaps"], reference) < BF16_BOUND


def test_precision_is_only_for_backends_that_choose_it(peaked_tiny_onnx):
    with pytest.raises(ConfigError, match="onnxruntime backend runs a file in the precision it was exported in"):
        vt.PoseEstimator(peaked_tiny_onnx, precision="bf16")
    with pytest.raises(ConfigError, match="unknown precision 'fp16' for openvino; valid: fp32, bf16"):
        open_backend(peaked_tiny_onnx, "openvino", precision="fp16")
    loaded = open_backend(peaked_tiny_onnx, "openvino")
    with pytest.raises(ConfigError, match="set when a backend is opened"):
        vt.PoseEstimator(loaded, precision="fp32")
    assert vt.PoseEstimator(loaded).backend is loaded


def test_calls_from_several_threads_get_their_own_results(peaked_tiny_onnx, crops):
    backend = open_backend(peaked_tiny_onnx, "openvino", threads=1)
    assert backend.thread_safe
    expected = [backend.run({"input": crops[i : i + 1]})["heatmaps"] for i in range(len(crops))]
    results = [None] * len(crops)

    def work(i):
        for _ in range(3):
            results[i] = backend.run({"input": crops[i : i + 1]})["heatmaps"]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(crops))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for got, want in zip(results, expected):
        np.testing.assert_array_equal(got, want)


def test_missing_or_broken_files_raise_engine_load_error(tmp_path):
    with pytest.raises(EngineLoadError, match="no such model file"):
        open_backend(tmp_path / "missing.xml", "openvino")
    broken = tmp_path / "broken.xml"
    broken.write_text("<net>not a model")
    with pytest.raises(EngineLoadError, match="OpenVINO cannot read it"):
        open_backend(broken)
    checkpoint = tmp_path / "model.pth"
    checkpoint.write_bytes(b"PK\x03\x04")
    with pytest.raises(EngineLoadError, match=r"model\.pth: the openvino backend reads \.onnx, \.xml files"):
        open_backend(checkpoint, "openvino")


def test_slow_int8_reason_names_the_missing_instructions(monkeypatch):
    from vitpose_trt import cpu_features

    for flags, slow in ((frozenset({"avx2", "fma"}), True), (frozenset({"avx2", "avx_vnni"}), False),
                        (frozenset({"avx512f", "amx_int8"}), False), (frozenset(), False)):
        monkeypatch.setattr(cpu_features, "cpu_flags", lambda flags=flags: flags)
        reason = cpu_features.slow_int8_reason()
        assert (reason is not None) == slow
    monkeypatch.setattr(cpu_features, "cpu_flags", lambda: frozenset({"avx2", "avx512f"}))
    assert cpu_features.slow_int8_reason() == ("this CPU has no int8 dot-product instructions (none of avx512_vnni, "
                                               "avx_vnni, amx_int8 in /proc/cpuinfo; it has avx2, avx512f)")


def test_the_residual_adds_are_the_two_of_each_block(peaked_tiny_onnx):
    from vitpose_trt.artifacts.openvino_metadata import openvino_model
    from vitpose_trt.openvino_cpu import residual_adds

    names = residual_adds(openvino_model(peaked_tiny_onnx))  # vitpose-tiny: 2 blocks; biases are left out
    assert names == [f"/backbone/blocks.{b}/{add}" for b in range(2) for add in ("Add", "Add_1")]


def test_bf16_marks_the_residual_adds_with_the_attribute_the_cpu_plugin_reads(peaked_tiny_onnx, crops):
    """The CPU plugin reads `DisablePrecisionConversion` on every node it compiles (any precision): a string in
    its place breaks the compilation, so the attribute travels through an IR. At fp32 the marks change nothing."""
    import openvino

    from vitpose_trt.artifacts.openvino_metadata import openvino_model
    from vitpose_trt.openvino_cpu import (
        KEEP_PRECISION_ATTRIBUTE,
        precision_marked,
        residual_adds,
    )

    model = openvino_model(peaked_tiny_onnx)
    key = f"{KEEP_PRECISION_ATTRIBUTE['name']}_{KEEP_PRECISION_ATTRIBUTE['version']}"
    with precision_marked(openvino, model, "fp32") as (same, kept):
        assert same is model and kept == []
    with precision_marked(openvino, model, "bf16", fp32_residuals=False) as (same, kept):
        assert same is model and kept == []
    reference = openvino.Core().compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})({0: crops})[0]
    with precision_marked(openvino, model, "bf16") as (marked, kept):
        assert kept == residual_adds(model)
        marks = {op.get_friendly_name(): key in op.get_rt_info() for op in marked.get_ops()}
        assert {name for name, marked_here in marks.items() if marked_here} == set(kept)
        compiled = openvino.Core().compile_model(marked, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
        np.testing.assert_array_equal(compiled({0: crops})[0], reference)
    plain = openvino_model(peaked_tiny_onnx)
    next(op for op in plain.get_ops() if op.get_friendly_name() == kept[0]).get_rt_info()[key] = "dynamic:bf16"
    with pytest.raises(RuntimeError, match="DisablePrecisionConversion"):
        openvino.Core().compile_model(plain, "CPU")
