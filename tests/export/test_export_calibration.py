"""Calibration crops come from the runtime's preprocessing, from folders, COCO boxes or sample photos."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from skimage import data

from vitpose_trt.errors import CalibrationError
from vitpose_trt.export.accuracy import accuracy_report, argmax_keypoints
from vitpose_trt.export.calibration import (
    HELD_OUT_IMAGES,
    SAMPLE_CALIBRATION_IMAGES,
    boxes_from_coco,
    folder_crops,
    held_out_crops,
    image_files,
    sample_crops,
)
from vitpose_trt.preprocess import crops_from_boxes


@pytest.fixture()
def photo_folder(tmp_path):
    """Two real photos written as OpenCV BGR files, plus a corrupt .jpg and a non-image file."""
    cv2.imwrite(str(tmp_path / "a_astronaut.png"), data.astronaut()[:, :, ::-1])
    cv2.imwrite(str(tmp_path / "b_coffee.jpg"), data.coffee()[:, :, ::-1])
    (tmp_path / "c_corrupt.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    (tmp_path / "notes.txt").write_text("not an image")
    return tmp_path


def test_folder_crops_are_the_runtime_preprocessing_of_whole_images(photo_folder):
    crops = folder_crops(photo_folder, count=10, warp="udp", progress=False)
    assert crops.shape == (2, 3, 256, 192) and crops.dtype == np.float32
    for crop, name in zip(crops, ["a_astronaut.png", "b_coffee.jpg"]):
        image = cv2.imread(str(photo_folder / name))
        box = np.array([[0, 0, image.shape[1], image.shape[0]]], dtype=np.float32)
        np.testing.assert_array_equal(crop, crops_from_boxes(image, box, warp="udp", color="bgr")[0])


def test_folder_crops_stop_at_count(photo_folder):
    assert folder_crops(photo_folder, count=1, warp="classic", progress=False).shape[0] == 1


def test_coco_boxes_select_crops(photo_folder):
    coco = {
        "images": [{"id": 1, "file_name": "a_astronaut.png"}, {"id": 2, "file_name": "missing.png"}],
        "annotations": [
            {"image_id": 1, "bbox": [150, 20, 250, 480], "iscrowd": 0},
            {"image_id": 1, "bbox": [0, 0, 100, 100], "iscrowd": 0},
            {"image_id": 1, "bbox": [0, 0, 300, 300], "iscrowd": 1},
            {"image_id": 1, "bbox": [10, 10, 2, 2], "iscrowd": 0},
            {"image_id": 2, "bbox": [0, 0, 50, 50]},
        ],
    }
    annotations = photo_folder / "coco.json"
    annotations.write_text(json.dumps(coco))
    assert sorted(boxes_from_coco(annotations)) == ["a_astronaut.png", "missing.png"]
    crops = folder_crops(photo_folder, count=10, warp="udp", annotations=annotations, progress=False)
    image = cv2.imread(str(photo_folder / "a_astronaut.png"))
    expected = crops_from_boxes(image, np.array([[150, 20, 400, 500], [0, 0, 100, 100]], np.float32), "udp", "bgr")
    np.testing.assert_array_equal(crops, expected)


def test_bad_calibration_sources_are_calibration_errors(tmp_path, photo_folder):
    with pytest.raises(CalibrationError, match="does not exist"):
        image_files(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CalibrationError, match="no images"):
        image_files(tmp_path / "empty")
    only_corrupt = tmp_path / "corrupt"
    only_corrupt.mkdir()
    (only_corrupt / "x.png").write_bytes(b"garbage")
    with pytest.raises(CalibrationError, match="no readable images"):
        folder_crops(only_corrupt, count=4, warp="udp", progress=False)
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(CalibrationError, match="COCO"):
        folder_crops(photo_folder, count=4, warp="udp", annotations=tmp_path / "bad.json", progress=False)
    with pytest.raises(CalibrationError, match="at least 1"):
        folder_crops(photo_folder, count=0, warp="udp", progress=False)


def test_sample_photos_hold_out_the_accuracy_photos():
    assert not set(SAMPLE_CALIBRATION_IMAGES) & set(HELD_OUT_IMAGES)
    calibration = sample_crops(SAMPLE_CALIBRATION_IMAGES, "udp", 64)
    held_out = held_out_crops("udp")
    assert calibration.shape == (64, 3, 256, 192) and held_out.shape == (15, 3, 256, 192)
    assert np.isfinite(calibration).all() and calibration.std() > 0.5
    # Real photos, normalised: values span several standard deviations around 0.
    assert held_out.min() < -1.5 and held_out.max() > 1.5


def test_accuracy_metrics_on_peaked_heatmaps():
    rng = np.random.default_rng(0)
    reference = np.zeros((2, 3, 64, 48), dtype=np.float32)
    peaks = rng.integers([0, 0], [64, 46], size=(2, 3, 2))  # (row, col), col + 2 stays inside
    for n in range(2):
        for k in range(3):
            reference[n, k, peaks[n, k, 0], peaks[n, k, 1]] = 1.0
    np.testing.assert_array_equal(argmax_keypoints(reference)[..., ::-1] / 4, peaks)
    same = accuracy_report(reference, reference.copy(), model="m", precision="p", onnx="x", crop_source="s")
    assert (same.relative_l2, same.max_abs, same.keypoint_max_px, same.keypoint_agreement) == (0, 0, 0, 1)
    assert same.cosine == pytest.approx(1.0)
    moved = reference.copy()
    y, x = peaks[0, 0]
    moved[0, 0, y, x] = 0
    moved[0, 0, y, x + 2] = 1  # two heatmap cells = 8 input pixels
    report = accuracy_report(reference, moved, model="m", precision="p", onnx="x", crop_source="s")
    assert report.keypoint_max_px == pytest.approx(8.0)
    assert report.keypoint_agreement == pytest.approx(5 / 6)
    assert report.relative_l2 == pytest.approx(np.sqrt(2 / 6))
