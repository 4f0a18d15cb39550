"""vitpose-infer --detector: persons found by a detector, then their poses, over a folder and a video."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from detector_models import paint_person

from vitpose_trt.cli.infer import main as infer_main

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore:no weights given:UserWarning")


def _scene(shift: int = 0) -> tuple[np.ndarray, list[tuple[float, ...]]]:
    """A BGR frame with two painted persons (cells move right with `shift`) and their xyxy boxes."""
    image = np.zeros((256, 320, 3), np.uint8)
    boxes = [paint_person(image, (2, 3 + shift), 0.9, (60, 120)), paint_person(image, (5, 7 - shift), 0.6, (40, 80))]
    return np.ascontiguousarray(image[:, :, ::-1]), boxes


def _xywh(box):
    return [box[0], box[1], box[2] - box[0], box[3] - box[1]]


@pytest.fixture(scope="module")
def pose_onnx(tmp_path_factory, tiny_model):
    from vitpose_trt.export import export_onnx

    return export_onnx(tiny_model, tmp_path_factory.mktemp("pose") / "vitpose-tiny.onnx")


def test_a_folder_gets_the_detectors_persons(grid_onnx, pose_onnx, tmp_path, capsys):
    folder = tmp_path / "images"
    folder.mkdir()
    frame, boxes = _scene()
    cv2.imwrite(str(folder / "people.png"), frame)
    cv2.imwrite(str(folder / "empty.png"), np.zeros_like(frame))
    code = infer_main([str(pose_onnx), str(folder), "--detector", str(grid_onnx("yolo")), "--output",
                       str(tmp_path / "out"), "--render"])
    assert code == 0, capsys.readouterr().err
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert [r["file_name"] for r in results] == ["people.png", "people.png"]
    np.testing.assert_allclose([r["bbox"] for r in results], [_xywh(b) for b in boxes], atol=1e-2)
    assert (tmp_path / "out" / "people.png").is_file()


def test_a_video_gets_persons_in_every_frame(grid_onnx, pose_onnx, tmp_path, capsys):
    path = tmp_path / "people.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 5.0, (320, 256))
    for shift in range(3):
        writer.write(_scene(shift)[0])
    writer.release()
    code = infer_main([str(pose_onnx), str(path), "--detector", str(grid_onnx("detr")), "--detector-threshold",
                       "0.3", "--output", str(tmp_path / "out")])
    assert code == 0, capsys.readouterr().err
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert sorted(r["image_id"] for r in results) == [0, 0, 1, 1, 2, 2]  # mp4v blurs edges: sizes within a cell
    for frame in range(3):
        got = sorted(r["bbox"][0] for r in results if r["image_id"] == frame)
        want = sorted(_xywh(b)[0] for b in _scene(frame)[1])
        np.testing.assert_allclose(got, want, atol=4.0)


@pytest.mark.parametrize("argv, fragment", [
    (["--detections", "d.json"], "--detections and --detector both give boxes"),
    (["--detector-threshold", "1.5"], "score_threshold must be a number in 0..1"),
])
def test_detector_option_errors_exit_2(grid_onnx, pose_onnx, tmp_path, capsys, argv, fragment):
    frame, _ = _scene()
    cv2.imwrite(str(tmp_path / "a.png"), frame)
    code = infer_main([str(pose_onnx), str(tmp_path / "a.png"), "--detector", str(grid_onnx("yolo")), "--output",
                       str(tmp_path / "out"), *argv])
    assert code == 2 and fragment in capsys.readouterr().err
