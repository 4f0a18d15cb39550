"""Pipeline mode on vitpose-tiny: real image, real PoseEstimator, stage times that add up to the frame."""

from __future__ import annotations

import numpy as np
import pytest

from vitpose_trt.bench.model_only import Case
from vitpose_trt.bench.pipeline import (
    image_for_pipeline,
    person_boxes,
    run_pipeline_case,
)
from vitpose_trt.bench.report import report_schema_errors
from vitpose_trt.bench.sources import model_source
from vitpose_trt.cli.bench import main
from vitpose_trt.errors import InputError

STAGES = {"crop", "infer", "flip_merge", "decode_download", "validate_map"}


def test_person_boxes_lie_inside_the_image():
    boxes = person_boxes((480, 640, 3), 16)
    assert boxes.shape == (16, 4) and boxes.dtype == np.float32
    assert np.all(boxes[:, 0] >= 0) and np.all(boxes[:, 2] <= 640) and np.all(boxes[:, 3] <= 480)
    assert np.all(boxes[:, 2] > boxes[:, 0]) and np.all(boxes[:, 3] > boxes[:, 1])
    np.testing.assert_array_equal(boxes, person_boxes((480, 640, 3), 16))


def test_unreadable_image_is_an_input_error(tmp_path):
    bad = tmp_path / "not-an-image.jpg"
    bad.write_text("hello")
    with pytest.raises(InputError, match="not a readable image"):
        image_for_pipeline(str(bad))


@pytest.mark.parametrize("backend", ["onnxruntime", "torch", "openvino"])
def test_pipeline_row_has_stages_that_add_up(backend, bench_cache):
    image, color, label = image_for_pipeline(None)
    case = Case(model_source("vitpose-tiny"), backend, "fp32", 3)
    row = run_pipeline_case(case, warmup=1, iters=3, threads=1, cache=bench_cache, peak=None,
                            image=image, color=color, image_label=label)
    report = {"schema": 1, "environment": {}, "peaks": [], "results": [row], "skipped": []}
    assert report_schema_errors(report) == []
    assert row["mode"] == "pipeline" and row["throughput_unit"] == "persons/s"
    assert set(row["stages_ms"]) == STAGES
    # The stages partition the frame, so their means add up to the mean frame latency.
    stage_mean_sum = sum(s["mean"] for s in row["stages_ms"].values())
    assert stage_mean_sum == pytest.approx(row["latency_ms"]["mean"], rel=0.05)
    assert row["stages_ms"]["infer"]["p50"] > row["stages_ms"]["flip_merge"]["p50"]
    # COCO's official setting is flip test: two crops per person.
    assert "flip_test True" in " ".join(row["notes"])


def test_pipeline_cli_refuses_a_missing_image(capsys, tmp_path):
    code = main(["--pipeline", "--model", "vitpose-tiny", "--backend", "onnxruntime", "--image",
                 str(tmp_path / "missing.jpg"), "--cache-dir", str(tmp_path)])
    assert code == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"vitpose-bench: error: --image {tmp_path / 'missing.jpg'}: not a readable image file"]
