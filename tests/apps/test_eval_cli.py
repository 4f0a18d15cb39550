"""vitpose-eval on a tiny COCO-format set of real photos: AP 1.0 against the model's own poses, lower
against perturbed ones, --compare, --detections, --json, and user errors as one line with exit 2."""

from __future__ import annotations

import json

import numpy as np
import pytest
from apps_data import (
    BOXES,
    PHOTOS,
    annotation_file,
    box_centre_keypoints,
    coco_file_name,
)

from vitpose_trt.cli.eval import main

METRIC_KEYS = ("AP", "AP50", "AP75", "AR")


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path, monkeypatch):
    """Each test in its own folder: the prediction files go to ./out by default."""
    monkeypatch.chdir(tmp_path)


def _clean_xywh(box):
    """The official clean box of a box lying inside its image: both sides one pixel shorter."""
    x, y, w, h = box
    return [x, y, w - 1.0, h - 1.0]


@pytest.fixture(scope="module")
def own_keypoints(tiny_onnx, photo_folder):
    """Per image id, the flat [x, y, 2] * 17 lists the ONNX model predicts for each box, computed with a
    direct PoseEstimator call on the image read back from disk (not through the evaluation code)."""
    import cv2

    from vitpose_trt.runtime import PoseEstimator

    estimator = PoseEstimator(str(tiny_onnx))
    keypoints = {}
    for image_id, _, suffix in PHOTOS:
        image = cv2.imread(str(photo_folder / coco_file_name(image_id, suffix)))
        poses = estimator(image, np.array([_clean_xywh(b) for b in BOXES[image_id]]), box_format="xywh")
        visible = np.concatenate([poses.keypoints, np.full(poses.scores.shape + (1,), 2.0)], axis=2)
        keypoints[image_id] = visible.reshape(len(poses), -1).astype(np.float64).tolist()
    return keypoints


def _shifted(keypoints_by_box, dx: float, dy: float):
    return {i: [[v + (dx if j % 3 == 0 else dy if j % 3 == 1 else 0.0) for j, v in enumerate(flat)] for flat in flats]
            for i, flats in keypoints_by_box.items()}


def _evaluated(argv, capsys) -> tuple[str, str]:
    assert main(argv) == 0
    captured = capsys.readouterr()
    return captured.out, captured.err


def test_own_predictions_as_ground_truth_give_ap_one(tiny_onnx, photo_folder, own_keypoints, tmp_path, capsys):
    annotation_file(tmp_path / "gt.json", own_keypoints)
    out, _ = _evaluated([str(tiny_onnx), "--annotations", str(tmp_path / "gt.json"), "--images", str(photo_folder),
                         "--json", str(tmp_path / "m.json")], capsys)
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert {k: metrics[k] for k in METRIC_KEYS} == {k: 1.0 for k in METRIC_KEYS}
    assert metrics["images"] == len(PHOTOS) and metrics["poses"] == sum(len(b) for b in BOXES.values())
    assert "Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets= 20 ] = 1.000" in out
    _evaluated([str(tiny_onnx), "--annotations", str(tmp_path / "gt.json"), "--images", str(photo_folder),
                "--max-images", "1", "--json", str(tmp_path / "first.json")], capsys)
    first = json.loads((tmp_path / "first.json").read_text())
    assert first["images"] == 1 and first["poses"] == len(BOXES[1]) and first["AP"] == 1.0


def test_perturbed_ground_truth_gives_lower_ap(tiny_onnx, photo_folder, own_keypoints, tmp_path, capsys):
    scores = {}
    for shift in (0.0, 10.0, 30.0):
        annotation_file(tmp_path / "gt.json", _shifted(own_keypoints, shift, -shift))
        _evaluated([str(tiny_onnx), "--annotations", str(tmp_path / "gt.json"), "--images", str(photo_folder),
                    "--json", str(tmp_path / "m.json")], capsys)
        scores[shift] = json.loads((tmp_path / "m.json").read_text())["AP"]
    assert scores[0.0] == 1.0 > scores[10.0] > scores[30.0] >= 0.0


def test_compare_reports_the_ap_difference(tiny_onnx, other_checkpoint, photo_folder, own_keypoints, tmp_path, capsys):
    annotation_file(tmp_path / "gt.json", own_keypoints)
    out, _ = _evaluated([str(tiny_onnx), "--annotations", str(tmp_path / "gt.json"), "--images", str(photo_folder),
                         "--compare", str(other_checkpoint), "--json", str(tmp_path / "m.json")], capsys)
    report = json.loads((tmp_path / "m.json").read_text())
    other = report["compare"]
    assert report["AP"] == 1.0 and other["model"] == str(other_checkpoint)
    assert other["AP"] < 1.0  # different weights, different poses
    assert other["difference"]["AP"] == pytest.approx(other["AP"] - 1.0)
    assert report["APm"] == -1.0 and other["difference"]["APm"] is None  # no medium-sized persons here
    assert f"AP difference ({other_checkpoint} - {tiny_onnx}): {other['AP'] - 1.0:+.4f}" in out


def test_detections_matching_the_ground_truth_boxes_give_ap_one(tiny_onnx, photo_folder, own_keypoints, tmp_path,
                                                                 capsys):
    annotation_file(tmp_path / "gt.json", own_keypoints)
    detections = []
    for image_id, _, suffix in PHOTOS:
        for box in BOXES[image_id]:
            # Image 2 is named by its file, the others by id; a cat box (category 17) must be ignored.
            where = {"file_name": coco_file_name(image_id, suffix)} if image_id == 2 else {"image_id": image_id}
            detections.append({**where, "category_id": 1, "bbox": _clean_xywh(box), "score": 1.0})
    detections.append({"image_id": 3, "category_id": 17, "bbox": [0, 0, 50, 50], "score": 0.9})
    (tmp_path / "dets.json").write_text(json.dumps(detections))
    _evaluated([str(tiny_onnx), "--annotations", str(tmp_path / "gt.json"), "--images", str(photo_folder),
                "--detections", str(tmp_path / "dets.json"), "--json", str(tmp_path / "m.json")], capsys)
    report = json.loads((tmp_path / "m.json").read_text())
    assert report["boxes"] == "detections" and report["AP"] == 1.0 and report["poses"] == len(detections) - 1


@pytest.fixture(scope="module")
def wholebody_checkpoint(tmp_path_factory):
    import torch

    import vitpose_trt as vt

    path = tmp_path_factory.mktemp("wholebody") / "wholebody-tiny.pth"
    torch.save({"state_dict": vt.load_model(name="vitpose-tiny", dataset="wholebody").state_dict()}, path)
    return path


def test_resume_refuses_another_compare_model_before_evaluating_anything(tiny_onnx, other_checkpoint, photo_folder,
                                                                         own_keypoints, tmp_path, capsys):
    annotation_file(tmp_path / "gt.json", own_keypoints)
    argv = [str(tiny_onnx), "--annotations", str(tmp_path / "gt.json"), "--images", str(photo_folder), "--output",
            str(tmp_path / "ev")]
    _evaluated([*argv, "--compare", str(other_checkpoint)], capsys)
    assert main([*argv, "--compare", str(tiny_onnx), "--resume"]) == 2
    captured = capsys.readouterr()
    assert "predictions-compare.jsonl belongs to another run" in captured.err
    assert captured.out == ""  # refused before MODEL was evaluated (and its AP table printed) again


def _one_line_exit_2(argv, capsys) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("vitpose-eval: error: "), err
    return err[0]


def test_wholebody_model_is_refused_for_lack_of_sigmas(wholebody_checkpoint, photo_folder, tmp_path, capsys):
    annotation_file(tmp_path / "gt.json", box_centre_keypoints())
    line = _one_line_exit_2([str(wholebody_checkpoint), "--annotations", str(tmp_path / "gt.json"),
                             "--images", str(photo_folder)], capsys)
    assert "wholebody keypoint set has no OKS sigmas" in line


def _damaged(path, field, value, what="annotations"):
    """A copy of annotation file `path` whose first entry of `what` has `field` set to `value` (deleted: None)."""
    data = json.loads(path.read_text())
    if value is None:
        del data[what][0][field]
    else:
        data[what][0][field] = value
    damaged = path.with_name(f"{path.stem}-{what}-{field}.json")
    damaged.write_text(json.dumps(data))
    return damaged


@pytest.mark.parametrize("what, field, value, message", [
    ("annotations", "id", None, "annotation \\? lacks id"),
    ("annotations", "keypoints", [None] + [0] * 50, "keypoints are not \\[x, y, v\\] \\* K numbers"),
    ("annotations", "image_id", "1", "its id and image_id must be integers"),
    ("annotations", "area", None, "lacks area"),
    ("annotations", "iscrowd", "no", "iscrowd must be numbers"),
    ("images", "id", None, "every image needs an integer id and a file_name"),
    ("images", "file_name", 7, "every image needs an integer id and a file_name"),
    ("categories", "id", None, "every category needs an integer id"),
])
def test_damaged_annotation_files_are_refused_before_any_inference(photo_folder, tmp_path, what, field, value,
                                                                     message):
    """What pycocotools would otherwise fail on with a traceback, some of it only after the whole run."""
    from vitpose_trt.apps.coco_annotations import KeypointAnnotations
    from vitpose_trt.errors import InputError

    gt = tmp_path / "gt.json"
    annotation_file(gt, box_centre_keypoints())
    with pytest.raises(InputError, match=message):
        KeypointAnnotations(_damaged(gt, field, value, what), photo_folder)
    data = json.loads(gt.read_text())
    (tmp_path / "two.json").write_text(json.dumps({**data, "images": data["images"] + data["images"][:1]}))
    with pytest.raises(InputError, match="two images have the id 1"):
        KeypointAnnotations(tmp_path / "two.json", photo_folder)
    (tmp_path / "none.json").write_text(json.dumps({**data, "images": []}))
    with pytest.raises(InputError, match="lists no images"):
        KeypointAnnotations(tmp_path / "none.json", photo_folder)


def test_user_errors_exit_2_in_one_line(tiny_onnx, photo_folder, tmp_path, capsys):
    gt = tmp_path / "gt.json"
    annotation_file(gt, box_centre_keypoints())
    sixteen = tmp_path / "mpii-like.json"
    annotation_file(sixteen, box_centre_keypoints(16), num_keypoints=16)
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "list.json").write_text("[]")
    base = [str(tiny_onnx), "--images", str(photo_folder)]
    cases = {
        "no such folder": [str(tiny_onnx), "--annotations", str(gt), "--images", str(tmp_path / "nowhere")],
        "cannot read annotations": [*base, "--annotations", str(tmp_path / "missing.json")],
        "cannot read annotations: Expecting": [*base, "--annotations", str(tmp_path / "bad.json")],
        "not a COCO annotation file": [*base, "--annotations", str(tmp_path / "list.json")],
        "annotates 16": [*base, "--annotations", str(sixteen)],
        "cannot read detections": [*base, "--annotations", str(gt), "--detections", str(tmp_path / "bad.json")],
        "--max-images 0": [*base, "--annotations", str(gt), "--max-images", "0"],
        "unknown backend": [*base, "--annotations", str(gt), "--backend", "tflite"],
        "not a model name": ["no-such-model", "--images", str(photo_folder), "--annotations", str(gt)],
        "--resume: vitpose-tiny is a model name with random weights": [*base, "--annotations", str(gt), "--compare",
                                                                       "vitpose-tiny", "--resume"],
        "--min-box-score filters the boxes of --detections": [*base, "--annotations", str(gt), "--min-box-score",
                                                               "0.5"],
        "annotation 1: bbox is not [x, y, width, height] numbers": [*base, "--annotations",
                                                                     str(_damaged(gt, "bbox", ["1", "2", "3", "4"]))],
    }
    for expected, argv in cases.items():
        line = _one_line_exit_2(argv, capsys)
        assert expected in line, (expected, line)
