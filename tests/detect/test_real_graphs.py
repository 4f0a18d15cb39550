"""Real detector graphs: a YOLO-shaped network at 640 (Ultralytics' output layout and metadata) and a
transformers RT-DETR built from a config (random weights), each through PersonDetector on a real photo."""

from __future__ import annotations

import numpy as np
from detector_models import RTDETR_SIZE
from test_references import _reference_scale_boxes, _reference_yolo

import vitpose_trt as vt


def test_yolo_shaped_graph_at_640_is_recognised_and_decoded_as_ultralytics(yolo_shaped_onnx, astronaut_rgb):
    """Every class kept and the threshold at the 95th percentile of the scores, so NMS has hundreds of
    candidates to work through; the boxes equal Ultralytics' algorithm applied to the same raw output."""
    import onnxruntime as ort

    from vitpose_trt.detect.fitting import fit_for, fitted_pixels

    fit = fit_for(astronaut_rgb.shape[:2], (640, 640), "letterbox")
    pixels = fitted_pixels(astronaut_rgb, fit, (640, 640), "letterbox", 114).transpose(2, 0, 1)[None] / np.float32(255)
    raw = ort.InferenceSession(str(yolo_shaped_onnx)).run(None, {"images": pixels.astype(np.float32)})[0][0]
    threshold = float(np.quantile(raw[4:].max(axis=0), 0.95))
    every_class = list(range(80))
    detector = vt.PersonDetector(yolo_shaped_onnx, color="rgb", classes=every_class, score_threshold=threshold)
    assert (detector.settings.layout, detector.settings.input_size, detector.settings.source) == (
        "yolo", (640, 640), "ultralytics")
    found = detector(astronaut_rgb)
    boxes, scores, _ = _reference_yolo(raw, threshold, 0.7, every_class, 300)
    expected, _, _ = _reference_scale_boxes((640, 640), boxes, astronaut_rgb.shape[:2])
    assert len(found.boxes) > 20
    np.testing.assert_allclose(found.boxes, expected, atol=1e-3)
    np.testing.assert_allclose(found.scores, scores, rtol=1e-6)


def test_rtdetr_detections_equal_transformers_own_processing(rtdetr_onnx, astronaut_rgb):
    """The transformers way on the same ONNX: its RT-DETR image processor (PIL), ONNX Runtime, its
    post_process_object_detection; persons only. Random weights tie scores, so compare as sets."""
    import onnxruntime as ort
    import torch
    from transformers.models.rt_detr.image_processing_pil_rt_detr import (
        RTDetrImageProcessorPil,
    )

    threshold = 0.3
    processor = RTDetrImageProcessorPil(size={"height": RTDETR_SIZE, "width": RTDETR_SIZE})
    pixels = processor(images=astronaut_rgb, return_tensors="np")["pixel_values"]
    logits, boxes = ort.InferenceSession(str(rtdetr_onnx)).run(None, {"pixel_values": pixels})
    outputs = type("Outputs", (), {"logits": torch.from_numpy(logits), "pred_boxes": torch.from_numpy(boxes)})
    (theirs,) = processor.post_process_object_detection(outputs, threshold=threshold,
                                                        target_sizes=[astronaut_rgb.shape[:2]])
    persons = theirs["labels"].numpy() == 0
    expected_boxes, expected_scores = theirs["boxes"].numpy()[persons], theirs["scores"].numpy()[persons]
    detector = vt.PersonDetector(rtdetr_onnx, color="rgb", score_threshold=threshold)
    assert detector.settings.layout == "detr" and detector.settings.resize == "stretch"
    found = detector(astronaut_rgb)
    assert len(expected_scores) > 0 and len(found.scores) == len(expected_scores)
    order = np.lexsort((expected_boxes[:, 0], -expected_scores))
    mine = np.lexsort((found.boxes[:, 0], -found.scores))
    np.testing.assert_allclose(found.scores[mine], expected_scores[order], rtol=1e-6)
    np.testing.assert_allclose(found.boxes[mine], expected_boxes[order].clip(0, 512), atol=1e-2)
