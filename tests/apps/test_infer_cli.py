"""vitpose-infer on real photos and a generated video: valid COCO results equal to direct estimator calls,
rendered images and video, detections matched by id and by file name, and user errors in one line."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest
from apps_data import BOXES, PHOTOS, VIDEO_FRAMES, VIDEO_SIZE, coco_file_name

from vitpose_trt.cli.infer import main
from vitpose_trt.gpus import gpu_visible

RESULT_KEYS = {"image_id", "category_id", "keypoints", "score", "bbox", "file_name"}
K = 17


def _results(folder) -> list[dict]:
    return json.loads((folder / "results.json").read_text())


def _check_coco_results(results: list[dict]) -> None:
    """COCO keypoint-results format: the keys, [x, y, score] * K finite floats, scores in 0..1."""
    for r in results:
        assert set(r) == RESULT_KEYS and isinstance(r["image_id"], int) and r["category_id"] == 1
        assert len(r["keypoints"]) == 3 * K and all(math.isfinite(v) for v in r["keypoints"])
        assert all(0.0 <= s <= 1.0 for s in r["keypoints"][2::3]) and 0.0 <= r["score"] <= 1.0


def test_folder_gives_coco_results_equal_to_direct_estimator_calls(tiny_onnx, photo_folder, tmp_path, capsys):
    import cv2

    from vitpose_trt.runtime import PoseEstimator

    assert main([str(tiny_onnx), str(photo_folder), "--output", str(tmp_path / "out")]) == 0
    assert "frames/s" in capsys.readouterr().out
    results = _results(tmp_path / "out")
    _check_coco_results(results)
    assert [r["image_id"] for r in results] == [image_id for image_id, _, _ in PHOTOS]  # ids from the file names
    estimator = PoseEstimator(str(tiny_onnx))
    for r, (image_id, _, suffix) in zip(results, PHOTOS):
        image = cv2.imread(str(photo_folder / coco_file_name(image_id, suffix)))
        expected = estimator(image, [[0, 0, image.shape[1], image.shape[0]]]).to_coco(image_id)[0]
        assert r["file_name"] == coco_file_name(image_id, suffix)
        assert r["bbox"] == [0.0, 0.0, image.shape[1], image.shape[0]]
        np.testing.assert_allclose(r["keypoints"], expected["keypoints"], rtol=0, atol=1e-4)
        assert r["score"] == pytest.approx(expected["score"], abs=1e-6)


def test_openvino_backend_gives_the_onnxruntime_results(tiny_onnx, photo_folder, tmp_path):
    argv = [str(tiny_onnx), str(photo_folder), "--backend", "openvino", "--precision", "fp32"]
    assert main([*argv, "--output", str(tmp_path / "ov")]) == 0
    assert main([str(tiny_onnx), str(photo_folder), "--output", str(tmp_path / "ort")]) == 0
    for ours, reference in zip(_results(tmp_path / "ov"), _results(tmp_path / "ort"), strict=True):
        # Random weights: nearly flat heatmaps, whose DARK refinement moves with the last float bits.
        np.testing.assert_allclose(ours["keypoints"], reference["keypoints"], rtol=0, atol=0.05)


def test_results_load_into_pycocotools(tiny_onnx, photo_folder, tmp_path):
    from pycocotools.coco import COCO

    assert main([str(tiny_onnx), str(photo_folder), "--output", str(tmp_path)]) == 0
    gt = COCO()
    gt.dataset = {"images": [{"id": i} for i, _, _ in PHOTOS], "annotations": [],
                  "categories": [{"id": 1, "name": "person"}]}
    gt.createIndex()
    loaded = gt.loadRes(str(tmp_path / "results.json"))
    assert sorted(loaded.getImgIds()) == [1, 2, 3] and len(loaded.anns) == len(PHOTOS)


def test_video_with_render_writes_a_readable_video_of_every_frame(tiny_onnx, short_video, tmp_path):
    import cv2

    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "vitpose_trt.cli.infer", str(tiny_onnx), str(short_video), "--render",
           "--score-threshold", "0", "--output", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"{VIDEO_FRAMES} frames, {VIDEO_FRAMES} poses" in done.stdout and "frames/s" in done.stdout
    results = _results(out)
    _check_coco_results(results)
    assert [r["image_id"] for r in results] == list(range(VIDEO_FRAMES))
    rendered, original = cv2.VideoCapture(str(out / "walk.mp4")), cv2.VideoCapture(str(short_video))
    frames = 0
    while True:
        ok, frame = rendered.read()
        ok_original, source_frame = original.read()
        if not ok:
            break
        assert ok_original and frame.shape[1::-1] == VIDEO_SIZE
        # Every keypoint is drawn at threshold 0: the frame must differ from the input well beyond codec noise.
        assert np.abs(frame.astype(int) - source_frame.astype(int)).max() > 100
        frames += 1
    assert frames == VIDEO_FRAMES and not original.read()[0]
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []  # no temp files left


def test_render_images_and_refuse_to_overwrite_inputs(tiny_onnx, photo_folder, tmp_path, capsys):
    import cv2

    assert main([str(tiny_onnx), str(photo_folder), "--render", "--output", str(tmp_path)]) == 0
    for image_id, _, suffix in PHOTOS:
        name = coco_file_name(image_id, suffix)
        drawn, source = cv2.imread(str(tmp_path / name)), cv2.imread(str(photo_folder / name))
        assert drawn.shape == source.shape
    capsys.readouterr()
    assert main([str(tiny_onnx), str(photo_folder), "--render", "--output", str(photo_folder)]) == 2
    assert "would overwrite the input" in capsys.readouterr().err
    # A run stopped after its first image, without --render, resumed with it: every image is drawn.
    resumed = tmp_path / "resumed"
    assert main([str(tiny_onnx), str(photo_folder), "--output", str(resumed)]) == 0
    stream = resumed / "results.jsonl"
    stream.write_text(stream.read_text().splitlines(keepends=True)[0])
    assert main([str(tiny_onnx), str(photo_folder), "--output", str(resumed), "--resume", "--render"]) == 0
    for image_id, _, suffix in PHOTOS:
        name = coco_file_name(image_id, suffix)
        np.testing.assert_array_equal(cv2.imread(str(resumed / name)), cv2.imread(str(tmp_path / name)))


@pytest.mark.parametrize("threshold", ["0", "1"])
def test_render_notes_when_no_keypoint_is_drawn(tiny_onnx, photo_folder, tmp_path, capsys, threshold):
    """Scores are at most 1: above threshold 1 no keypoint is drawn, only the boxes, and the run says so."""
    import cv2

    out = tmp_path / "out"
    arguments = [str(tiny_onnx), str(photo_folder), "--render", "--score-threshold", threshold, "--output", str(out)]
    assert main(arguments) == 0
    shown = any(s > float(threshold) for r in _results(out) for s in r["keypoints"][2::3])
    assert shown == (threshold == "0")
    assert ("only the boxes are drawn" in capsys.readouterr().out) == (not shown)
    name = coco_file_name(*PHOTOS[0][::2])
    assert np.any(cv2.imread(str(out / name)) != cv2.imread(str(photo_folder / name)))  # the boxes, at least


def test_detections_matched_by_image_id_and_file_name(tiny_onnx, photo_folder, tmp_path, capsys):
    dets = [
        {"image_id": 1, "category_id": 1, "bbox": [120, 20, 250, 470], "score": 0.9},
        {"image_id": 1, "category_id": 1, "bbox": [330, 60, 170, 300], "score": 0.05},
        {"file_name": coco_file_name(3, ".jpg"), "category_id": 1, "bbox": [20, 10, 400, 280], "score": 0.8},
        {"image_id": 3, "category_id": 17, "bbox": [10, 10, 100, 100], "score": 0.7},
        {"image_id": 99, "category_id": 1, "bbox": [10, 10, 100, 100], "score": 0.7},
    ]
    (tmp_path / "dets.json").write_text(json.dumps(dets))
    argv = [str(tiny_onnx), str(photo_folder), "--detections", str(tmp_path / "dets.json"), "--output", str(tmp_path)]
    assert main([*argv, "--min-box-score", "0.1"]) == 0
    results = _results(tmp_path)
    assert [(r["image_id"], r["bbox"]) for r in results] == [(1, [120, 20, 250, 470]), (3, [20, 10, 400, 280])]
    assert main([*argv, "--category-id", "all"]) == 0
    results = _results(tmp_path)
    # Matched by id first, then by name.
    assert [(r["image_id"], r["category_id"]) for r in results] == [(1, 1), (1, 1), (3, 17), (3, 1)]
    capsys.readouterr()
    (tmp_path / "nothing.json").write_text(json.dumps([dets[-1]]))
    assert main([str(tiny_onnx), str(photo_folder), "--detections", str(tmp_path / "nothing.json"),
                 "--output", str(tmp_path)]) == 0
    assert "none of the 1 detections matched" in capsys.readouterr().out and _results(tmp_path) == []


def test_a_stray_file_leaves_the_coco_files_their_ids_and_their_detections(tiny_onnx, photo_folder, tmp_path):
    import shutil

    import cv2

    folder = tmp_path / "mixed"
    shutil.copytree(photo_folder, folder)
    cv2.imwrite(str(folder / "zz_extra.png"), np.zeros((64, 64, 3), np.uint8))
    dets = [{"image_id": image_id, "category_id": 1, "bbox": box, "score": 0.9}
            for image_id, boxes in BOXES.items() for box in boxes]
    (tmp_path / "dets.json").write_text(json.dumps(dets))
    assert main([str(tiny_onnx), str(folder), "--detections", str(tmp_path / "dets.json"),
                 "--output", str(tmp_path / "out")]) == 0
    lines = (tmp_path / "out" / "results.jsonl").read_text().splitlines()
    found = {r["file_name"]: (r["image_id"], [p["bbox"] for p in r["persons"]]) for r in map(json.loads, lines)}
    assert found == {**{coco_file_name(i, suffix): (i, BOXES[i]) for i, _, suffix in PHOTOS}, "zz_extra.png": (4, [])}


def test_a_model_name_runs_with_random_weights_and_a_warning(photo_folder, tmp_path):
    with pytest.warns(UserWarning, match="random weights"):
        assert main(["vitpose-tiny", str(photo_folder / coco_file_name(2, ".png")), "--output", str(tmp_path)]) == 0
    results = _results(tmp_path)
    _check_coco_results(results)
    assert len(results) == 1 and results[0]["image_id"] == 2


def _terminal_lines(text: str) -> list[str]:
    """The non-blank lines a terminal shows for `text`: a progress bar redrawn with carriage returns and
    cleared at the end (tqdm leave=False) leaves nothing."""
    shown = (line.rsplit("\r", 1)[-1] for line in text.split("\n"))
    return [line for line in shown if line.strip()]


def test_user_errors_exit_2_in_one_line(tiny_onnx, photo_folder, tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "broken.jpg").write_bytes(b"not a jpeg")
    (tmp_path / "dets.json").write_text(json.dumps([{"image_id": 1, "bbox": [1, 2, 3]}]))
    model, photos = str(tiny_onnx), str(photo_folder)
    cases = {
        "no such file or folder": [model, str(tmp_path / "missing.jpg")],
        "not an image": [model, str(tmp_path / "notes.txt")],
        "not a readable image": [model, str(tmp_path / "broken.jpg")],
        "bbox must be [x, y, width, height]": [model, photos, "--detections", str(tmp_path / "dets.json")],
        "--category-id 'person'": [model, photos, "--detections", str(tmp_path / "dets.json"), "--category-id",
                                   "person"],
        "--min-box-score nan: a finite number": [model, photos, "--detections", str(tmp_path / "dets.json"),
                                                 "--min-box-score", "nan"],
        "--category-id and --min-box-score filter the boxes of --detections": [model, photos, "--category-id", "2"],
        "notes.txt: a person detector reads .onnx, .xml, .engine, .plan files": [model, photos, "--detector",
            str(tmp_path / "notes.txt")],
        "missing.onnx: no such model file": [model, photos, "--detector", str(tmp_path / "missing.onnx")],
        "--resume: vitpose-tiny is a model name with random weights": ["vitpose-tiny", photos, "--resume"],
        "of --detections; a --detector's persons are filtered by --detector-threshold": [
            model, photos, "--detector", model, "--min-box-score", "0.5"],
        "--score-threshold 2.0": [model, photos, "--score-threshold", "2"],
        "unknown backend": [model, photos, "--backend", "tflite"],
        "precision= is for torch-cuda": [model, photos, "--precision", "bf16"],
        "unknown precision 'fp8' for openvino": [model, photos, "--backend", "openvino", "--precision", "fp8"],
        "not a model name": ["vitpose-xxl", photos],
    }
    if not gpu_visible():  # a GPU backend where there is no GPU: the user's to fix, like an unusable file
        cases["the torch-cuda backend needs an NVIDIA GPU"] = ["vitpose-tiny", photos, "--backend", "torch-cuda"]
    for expected, argv in cases.items():
        assert main([*argv, "--output", str(tmp_path / "out")]) == 2, expected
        err = _terminal_lines(capsys.readouterr().err)
        assert len(err) == 1 and err[0].startswith("vitpose-infer: error: ") and expected in err[0], (expected, err)
    assert not (tmp_path / "out" / "results.json").exists()
