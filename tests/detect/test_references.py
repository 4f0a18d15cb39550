"""Letterbox, box mapping, decoding and NMS against straightforward references written here from the published
algorithms (Ultralytics' LetterBox, scale_boxes and non_max_suppression; transformers' RT-DETR post-processing)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vitpose_trt.artifacts import DetectorSettings
from vitpose_trt.detect.decode import candidates_from_outputs, image_detections
from vitpose_trt.detect.fitting import fit_for, fitted_pixels
from vitpose_trt.detect.nms import kept_by_nms

SIZES = [(512, 512), (300, 451), (720, 1280), (481, 333), (640, 640), (17, 999)]


def _reference_letterbox(image, new_shape):
    """Ultralytics' LetterBox (auto=False, scaleup=True, centred), step by step."""
    shape = image.shape[:2]
    r = min(new_shape[0] / shape[0], new_shape[1] / shape[1])
    new_unpad = int(round(shape[1] * r)), int(round(shape[0] * r))
    dw, dh = (new_shape[1] - new_unpad[0]) / 2, (new_shape[0] - new_unpad[1]) / 2
    if shape[::-1] != new_unpad:
        image = cv2.resize(image, new_unpad, interpolation=cv2.INTER_LINEAR)
    top, bottom = int(round(dh - 0.1)), int(round(dh + 0.1))
    left, right = int(round(dw - 0.1)), int(round(dw + 0.1))
    return cv2.copyMakeBorder(image, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(114, 114, 114))


def _reference_scale_boxes(input_shape, boxes, image_shape):
    """Ultralytics' scale_boxes (input px -> image px) and clip_boxes."""
    gain = min(input_shape[0] / image_shape[0], input_shape[1] / image_shape[1])
    pad = (round((input_shape[1] - image_shape[1] * gain) / 2 - 0.1),
           round((input_shape[0] - image_shape[0] * gain) / 2 - 0.1))
    out = boxes.astype(np.float32).copy()
    out[:, [0, 2]] -= pad[0]
    out[:, [1, 3]] -= pad[1]
    out /= gain
    out[:, [0, 2]] = out[:, [0, 2]].clip(0, image_shape[1])
    out[:, [1, 3]] = out[:, [1, 3]].clip(0, image_shape[0])
    return out, gain, pad


@pytest.mark.parametrize("size", SIZES)
def test_letterbox_is_ultralytics(size):
    image = np.random.default_rng(0).integers(0, 256, (*size, 3), dtype=np.uint8)
    fit = fit_for(size, (640, 640), "letterbox")
    np.testing.assert_array_equal(fitted_pixels(image, fit, (640, 640), "letterbox", 114),
                                  _reference_letterbox(image, (640, 640)))


@pytest.mark.parametrize("size", SIZES)
def test_input_boxes_map_back_as_ultralytics_and_round_trip(size):
    rng = np.random.default_rng(1)
    fit = fit_for(size, (384, 640), "letterbox")
    corners = np.sort(rng.uniform(0, 1, (20, 2, 2)), axis=1) * np.array(size[::-1])  # inside the image
    image_boxes = corners.reshape(20, 4).astype(np.float32)
    expected, gain, pad = _reference_scale_boxes((384, 640), image_boxes * 0 + image_boxes, size)
    in_input = image_boxes * gain + np.array([pad[0], pad[1], pad[0], pad[1]], np.float32)
    reference, _, _ = _reference_scale_boxes((384, 640), in_input, size)
    np.testing.assert_array_equal(fit.image_boxes(in_input), reference)
    np.testing.assert_allclose(fit.image_boxes(in_input), image_boxes, atol=1e-3 * max(size))


def _settings(layout, outputs, classes=(0,), iou=0.7):
    return DetectorSettings(layout=layout, input_name="images", output_names=outputs, input_size=(640, 640),
                            num_classes=80, classes=classes, resize="letterbox", score_threshold=0.25,
                            iou_threshold=iou, max_detections=300)


def _reference_yolo(prediction, threshold, iou, classes, max_det):
    """Ultralytics' non_max_suppression for one image: best class per box, score filter, class filter,
    class-offset greedy NMS (IoU > iou suppresses), max_det."""
    rows = prediction.T
    boxes = np.concatenate([rows[:, :2] - rows[:, 2:4] / 2, rows[:, :2] + rows[:, 2:4] / 2], axis=1)
    conf, label = rows[:, 4:].max(1), rows[:, 4:].argmax(1)
    keep = (conf > threshold) & np.isin(label, classes)
    boxes, conf, label = boxes[keep], conf[keep], label[keep]
    order = np.argsort(-conf, kind="stable")
    shifted = boxes + label[:, None] * 7680.0
    kept = []
    for i in order:
        if all(_iou(shifted[i], shifted[j]) <= iou for j in kept):
            kept.append(i)
    kept = kept[:max_det]
    return boxes[kept], conf[kept], label[kept]


def _iou(a, b):
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


@pytest.mark.parametrize("classes", [(0,), (0, 2, 5)])
def test_yolo_decode_and_nms_are_ultralytics(classes):
    rng = np.random.default_rng(2)
    batch, anchors = 3, 600
    centres = rng.uniform(0, 640, (batch, 2, anchors))
    sizes = rng.uniform(10, 200, (batch, 2, anchors))
    scores = rng.uniform(0, 1, (batch, 80, anchors)) ** 6  # mostly low, some high: clusters of overlaps
    prediction = np.concatenate([centres, sizes, scores], axis=1).astype(np.float32)
    found = image_detections(candidates_from_outputs({"output0": prediction}, _settings("yolo", ("output0",)),
                                                     classes, 0.25), 0.7, 50)
    for image, got in enumerate(found):
        boxes, conf, labels = _reference_yolo(prediction[image], 0.25, 0.7, classes, 50)
        np.testing.assert_allclose(got.boxes, boxes, rtol=1e-6, atol=1e-4)
        np.testing.assert_array_equal(got.scores, conf)
        np.testing.assert_array_equal(got.classes, labels)
    assert sum(len(f.boxes) for f in found) > 10


def test_greedy_nms_on_a_chain_of_overlaps():
    """Each box overlaps the next: greedy keeps 0, 2, 4 (a one-shot matrix rule would keep only 0)."""
    boxes = np.array([[[10.0 * i, 0, 10.0 * i + 15, 10] for i in range(5)]], np.float32)
    scores = np.array([[0.9, 0.8, 0.7, 0.6, 0.5]], np.float32)
    keep = kept_by_nms(boxes, scores, np.ones((1, 5), bool), 0.1)  # neighbours overlap by IoU 0.2
    assert keep.tolist() == [[True, False, True, False, True]]


def test_detr_decode_is_transformers_post_processing():
    """sigmoid, top Q over all (query, class) pairs, class filter, score > threshold."""
    rng = np.random.default_rng(3)
    logits = rng.normal(0, 2, (2, 30, 80)).astype(np.float32)
    boxes = np.concatenate([rng.uniform(0.2, 0.8, (2, 30, 2)), rng.uniform(0.05, 0.3, (2, 30, 2))], -1)
    settings = _settings("detr", ("logits", "pred_boxes"), iou=None)
    outputs = {"logits": logits, "pred_boxes": boxes.astype(np.float32)}
    found = image_detections(candidates_from_outputs(outputs, settings, (0,), 0.5), None, 300)
    for image, got in enumerate(found):
        probability = 1 / (1 + np.exp(-logits[image].reshape(-1)))
        top = np.argsort(-probability, kind="stable")[:30]
        score, label, query = probability[top], top % 80, top // 80
        keep = (label == 0) & (score > 0.5)
        cxcywh = boxes[image][query[keep]] * 640
        expected = np.concatenate([cxcywh[:, :2] - cxcywh[:, 2:] / 2, cxcywh[:, :2] + cxcywh[:, 2:] / 2], axis=1)
        np.testing.assert_allclose(got.boxes, expected, rtol=1e-5, atol=1e-3)
        np.testing.assert_allclose(got.scores, score[keep], rtol=1e-6)
