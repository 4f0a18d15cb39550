"""PersonDetector on the grid detectors: exactly the painted persons, in every layout; options and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from detector_models import paint_person

import vitpose_trt as vt
from vitpose_trt.errors import ConfigError, EngineLoadError

INPUT = (256, 320)
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _scene():
    """An RGB input-sized image with two persons and a car; the persons' boxes (xyxy) and scores."""
    image = np.zeros((*INPUT, 3), np.uint8)
    first = paint_person(image, (2, 3), 0.9, (60, 120))
    second = paint_person(image, (5, 7), 0.6, (40, 80))
    paint_person(image, (5, 1), 0.0, (40, 80), car_score=0.8)
    return image, np.array([first, second], np.float32), np.array([230 / 255, 153 / 255], np.float32)


def test_every_layout_finds_exactly_the_painted_persons(grid_onnx, layout):
    image, boxes, scores = _scene()
    detector = vt.PersonDetector(grid_onnx(layout), color="rgb")
    assert detector.settings.layout == layout and detector.settings.classes == (0,)
    found = detector(image)
    np.testing.assert_allclose(found.boxes, boxes, atol=1e-3)
    np.testing.assert_allclose(found.scores, scores, atol=1e-5)
    bgr = vt.PersonDetector(grid_onnx(layout))(np.ascontiguousarray(image[:, :, ::-1]))
    np.testing.assert_array_equal(bgr.boxes, found.boxes)


def test_classes_pick_other_objects(grid_onnx, layout):
    image, _, _ = _scene()
    cars = vt.PersonDetector(grid_onnx(layout), color="rgb", classes=[2])(image)
    assert len(cars.boxes) == 1 and abs(cars.scores[0] - 204 / 255) < 1e-5


def test_thresholds_and_the_cap(grid_onnx, layout):
    image, boxes, _ = _scene()
    assert len(vt.PersonDetector(grid_onnx(layout), color="rgb", score_threshold=0.7)(image).boxes) == 1
    capped = vt.PersonDetector(grid_onnx(layout), color="rgb", max_persons=1)(image)
    np.testing.assert_allclose(capped.boxes, boxes[:1], atol=1e-3)


def test_an_image_without_persons_gives_empty_arrays(grid_onnx, layout):
    found = vt.PersonDetector(grid_onnx(layout))(np.zeros((*INPUT, 3), np.uint8))
    assert found.boxes.shape == (0, 4) and found.scores.shape == (0,) and found.boxes.dtype == np.float32


def test_other_image_sizes_map_back_to_image_pixels(grid_onnx, layout):
    """A scene painted in input px, shown inside a bigger image the detector must shrink: the boxes come back
    in the bigger image's pixels (2x, minus the letterbox padding for YOLO; per-axis scales for DETR)."""
    image, boxes, _ = _scene()
    detector = vt.PersonDetector(grid_onnx(layout), color="rgb")
    big = np.repeat(np.repeat(image, 2, axis=0), 2, axis=1)  # 512 x 640: same aspect, nothing padded
    # PIL's bilinear (DETR's resize) blurs over 2 px when it shrinks: the painted box sizes drift a little.
    np.testing.assert_allclose(detector(big).boxes, boxes * 2, atol=4.0 if layout == "detr" else 1.0)


@pytest.mark.parametrize("layout", ["yolo", "yolo-end2end"])
def test_boxes_wholly_in_the_letterbox_padding_are_dropped(grid_onnx, layout):
    """A 320 x 64 image fills input rows 96-160; the grey padding (114) reads as persons of 114 x 114 px to the
    grid detector (score 114/255). Padding rows 1, 2, 5 and 6 reach into the image: their boxes, clipped, are
    kept; rows 0 and 7 lie wholly outside it (clipped, no height): dropped, as no pose model can crop them."""
    found = vt.PersonDetector(grid_onnx(layout), color="rgb")(np.zeros((64, 320, 3), np.uint8))
    sizes = found.boxes[:, 2:] - found.boxes[:, :2]
    assert len(found.boxes) == 4 * 10 and (sizes > 0).all()
    np.testing.assert_allclose(np.unique(np.round(found.boxes[:, 1::2], 3), axis=0),
                               [[0.0, 9.0], [0.0, 41.0], [23.0, 64.0], [55.0, 64.0]], atol=1e-2)
    np.testing.assert_allclose(found.scores, 114 / 255, atol=1e-5)


def test_batches_equal_single_calls(grid_onnx):
    image, _, _ = _scene()
    detector = vt.PersonDetector(grid_onnx("yolo"), color="rgb", max_batch=2)
    images = [image, np.zeros_like(image), image[::-1].copy()]
    for batched, alone in zip(detector.batch(images), [detector(i) for i in images]):
        np.testing.assert_array_equal(batched.boxes, alone.boxes)
        np.testing.assert_array_equal(batched.scores, alone.scores)


def test_stages_are_reported(grid_onnx):
    names = []
    detector = vt.PersonDetector(grid_onnx("detr"), on_stage=lambda n, s: names.append(n))
    detector(np.zeros((64, 64, 3), np.uint8))
    from vitpose_trt.detect.detector import STAGES

    assert names == list(STAGES)


@pytest.mark.parametrize("option, value, message", [
    ("score_threshold", 1.5, "score_threshold"), ("iou_threshold", -0.1, "iou_threshold"),
    ("score_threshold", "high", "score_threshold"), ("max_persons", 0, "max_persons"),
    ("classes", 0, "classes must be a list of class indices"), ("classes", "person", "classes must be a list"),
    ("classes", ["person"], "integers >= 0"), ("classes", [1.5], "integers >= 0"), ("classes", [True], "integers"),
    ("classes", [], "non-empty"), ("classes", [-1], "integers >= 0"),
    ("layout", "yolov8", "unknown detector layout 'yolov8'; valid: yolo, yolo-end2end, detr"),
])
def test_options_outside_their_range_are_refused(grid_onnx, option, value, message):
    with pytest.raises(ConfigError, match=message):
        vt.PersonDetector(grid_onnx("yolo"), **{option: value})


def test_a_file_of_another_kind_is_not_tried_as_a_detector(tmp_path):
    (tmp_path / "dets.json").write_text("[]")
    with pytest.raises(EngineLoadError, match=r"dets\.json: a person detector reads \.onnx, \.xml, \.engine, \.plan "
                                              r"files; an ONNX as Ultralytics or transformers export it"):
        vt.PersonDetector(tmp_path / "dets.json")
    with pytest.raises(EngineLoadError, match=r"yolo\.onnx: no such model file"):
        vt.PersonDetector(str(tmp_path / "yolo.onnx"))


def test_a_pose_model_is_not_a_detector(tmp_path, tiny_model):
    from vitpose_trt.export import export_onnx

    path = export_onnx(tiny_model, tmp_path / "pose.onnx")
    with pytest.raises(ConfigError, match="pose model .* not a person detector"):
        vt.PersonDetector(path)


def test_a_foreign_onnx_of_no_accepted_layout_lists_the_layouts(tmp_path, tiny_model):
    import torch

    path = tmp_path / "pose-no-metadata.onnx"
    with torch.no_grad():
        torch.onnx.export(tiny_model, (torch.zeros(1, 3, 256, 192),), str(path), dynamo=False, opset_version=17,
                          input_names=["images"], output_names=["heatmaps"])
    with pytest.raises(EngineLoadError, match="fit no accepted detector layout.*YOLO raw.*YOLO end-to-end.*DETR"):
        vt.PersonDetector(path)


def test_no_person_class_and_no_classes_is_refused(tmp_path):
    import torch

    class ThreeClasses(torch.nn.Module):
        def forward(self, images):
            return torch.nn.functional.avg_pool2d(images, 32).flatten(2).repeat(1, 3, 1)[:, :7]  # (N, 4 + 3, A)

    path = tmp_path / "three.onnx"
    with torch.no_grad():
        torch.onnx.export(ThreeClasses(), (torch.zeros(1, 3, 64, 64),), str(path), dynamo=False, opset_version=17,
                          input_names=["images"], output_names=["output0"])
    with pytest.raises(ConfigError, match="3 classes and none is named 'person'; pass classes="):
        vt.PersonDetector(path)
    assert vt.PersonDetector(path, classes=[1]).settings.classes == (1,)
    assert vt.PersonDetector(path, classes=np.array([2, 0])).settings.classes == (2, 0)
    with pytest.raises(ConfigError, match="class indices in 0..2"):
        vt.PersonDetector(path, classes=[3])


def test_ultralytics_class_names_are_read(tmp_path):
    from detector_models import export_detector

    names = {0: "forklift", 1: "worker", 2: "person"}
    path = export_detector("yolo-end2end", tmp_path / "named.onnx", names=names)
    detector = vt.PersonDetector(path)
    assert detector.settings.class_names == ("forklift", "worker", "person") and detector.settings.classes == (2,)
    assert detector.settings.source == "ultralytics"


def test_threads_share_a_detector_and_get_what_sequential_calls_get(grid_onnx):
    from concurrent.futures import ThreadPoolExecutor

    image, _, _ = _scene()
    images = [image, np.zeros_like(image), np.ascontiguousarray(image[::-1]), np.ascontiguousarray(image[:, ::-1])]
    detector = vt.PersonDetector(grid_onnx("yolo"), color="rgb")
    expected = [detector(i) for i in images]
    with ThreadPoolExecutor(4) as pool:
        for _ in range(3):
            for got, want in zip(pool.map(detector, images * 5), expected * 5):
                np.testing.assert_array_equal(got.boxes, want.boxes)
