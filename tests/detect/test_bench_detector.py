"""vitpose-bench --pipeline --detector: detection and pose timed per stage in one report."""

from __future__ import annotations

import json

import pytest

from vitpose_trt.bench.report import report_schema_errors
from vitpose_trt.cli.bench import main as bench_main


def test_detect_and_pose_stages_in_the_report(grid_onnx, bench_cache_dir, tmp_path, capsys):
    out = tmp_path / "report.json"
    code = bench_main(["--model", "vitpose-tiny", "--backend", "onnxruntime", "--pipeline", "--persons", "2",
                       "--iters", "2", "--warmup", "1", "--threads", "1", "--detector", str(grid_onnx("yolo")),
                       "--cache-dir", str(bench_cache_dir), "--json", str(out)])
    assert code == 0, capsys.readouterr().err
    report = json.loads(out.read_text())
    assert report_schema_errors(report) == []
    (row,) = report["results"]
    assert list(row["stages_ms"]) == ["detect_fit", "detect_infer", "detect_decode_download", "detect_validate_map",
                                      "crop", "infer", "flip_merge", "decode_download", "validate_map"]
    assert row["stages_ms"]["detect_infer"]["p50"] > 0 and any("--detector" in note for note in row["notes"])


def test_detector_needs_pipeline_mode_and_a_file(grid_onnx, tmp_path, capsys):
    assert bench_main(["--model", "vitpose-tiny", "--detector", str(grid_onnx("yolo"))]) == 2
    assert "needs --pipeline" in capsys.readouterr().err
    assert bench_main(["--model", "vitpose-tiny", "--pipeline", "--detector", str(tmp_path / "none.onnx")]) == 2
    assert "no such file" in capsys.readouterr().err


@pytest.fixture(scope="module")
def bench_cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("bench-cache")
