"""How far a converted detector (fp16) is from its fp32 file: matched boxes, scores, recall, raw outputs.

Both files run in ONNX Runtime on the same held-out photos, fitted by the exporter's own preprocessing
(`detect.fitting`), and are decoded alike (`detect.decode`) at the detector's default thresholds. Each fp32
box is matched to the best unmatched candidate box by IoU: recall is the share matched with IoU >= MATCH_IOU,
and IoU and score differences are over the matched pairs. With random weights a detector may find nobody,
so the relative L2 of the raw outputs is reported too and judged when there are no boxes to match.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..artifacts.detector_settings import DetectorSettings
from ..dependencies import import_optional
from ..detect.decode import candidates_from_outputs, image_detections
from ..detect.fitting import fit_for, fitted_pixels
from ..detect.nms import pairwise_iou
from .accuracy import REPORT_TOLERANCE
from .calibration import HELD_OUT_IMAGES, sample_image

#: A candidate box matches a reference box at this IoU or more.
MATCH_IOU = 0.5
#: fp16 bounds: recall of the fp32 boxes and the mean IoU of the matched ones; without boxes to match, the
#: relative L2 of the raw outputs (the pose models' fp16 bound; DETR logits of random weights make it larger).
MIN_RECALL = 0.9
MIN_MEAN_IOU = 0.9
MAX_OUTPUT_RELATIVE_L2 = REPORT_TOLERANCE["fp16"]


def fitted_sample_images(names: tuple[str, ...], settings: DetectorSettings) -> tuple[np.ndarray, list]:
    """((N, 3, H, W) float32 detector inputs, their `Fit`s) of scikit-image photos, as the CPU runtime makes them."""
    images = [sample_image(name) for name in names]
    fits = [fit_for(image.shape[:2], settings.input_size, settings.resize) for image in images]
    pixels = [fitted_pixels(i, f, settings.input_size, settings.resize, settings.pad_value) for i, f in zip(images, fits)]
    return np.stack([p.transpose(2, 0, 1) for p in pixels]).astype(np.float32) / np.float32(settings.divisor), fits


@dataclass
class DetectorAccuracyReport:
    """A converted detector's detections vs the fp32 file's on the same photos."""

    model: str
    precision: str
    onnx: str
    images: list[str]
    score_threshold: float
    reference_boxes: int
    boxes: int
    recall: float | None
    mean_matched_iou: float | None
    max_score_difference: float | None
    output_relative_l2: float
    reference: str = "fp32 ONNX (ONNX Runtime)"
    notes: list[str] = field(default_factory=list)

    @property
    def within_tolerance(self) -> bool:
        """Matched boxes judge when there are fp32 boxes; the raw outputs only when there are none."""
        if self.recall is None:
            return self.output_relative_l2 <= MAX_OUTPUT_RELATIVE_L2
        return self.recall >= MIN_RECALL and (self.mean_matched_iou or 0.0) >= MIN_MEAN_IOU

    def to_dict(self) -> dict:
        return {**asdict(self), "within_tolerance": self.within_tolerance}

    def summary(self) -> str:
        matched = "no fp32 boxes to match" if self.recall is None else (
            f"recall {self.recall:.3f}, mean IoU {self.mean_matched_iou:.3f}, max score diff "
            f"{self.max_score_difference:.3g}")
        return (f"{self.precision} vs {self.reference} on {len(self.images)} photos: {self.reference_boxes} -> "
                f"{self.boxes} boxes, {matched}, raw output rel-L2 {self.output_relative_l2:.3g}")


def detector_report(reference_onnx: Path, candidate_onnx: Path, settings: DetectorSettings, precision: str,
                    model: str) -> DetectorAccuracyReport:
    """Compare `candidate_onnx` with `reference_onnx` (both ONNX files of one detector) on the held-out photos."""
    inputs, fits = fitted_sample_images(HELD_OUT_IMAGES, settings)
    raw = [_outputs(path, settings.input_name, inputs) for path in (reference_onnx, candidate_onnx)]
    found = [_image_boxes(outputs, settings, fits) for outputs in raw]
    pairs = [_matches(ref, cand) for ref, cand in zip(*found)]
    ious = np.concatenate([p[0] for p in pairs]) if pairs else np.zeros(0)
    score_differences = np.concatenate([p[1] for p in pairs]) if pairs else np.zeros(0)
    reference_count = sum(len(r.scores) for r in found[0])
    matched = int((ious >= MATCH_IOU).sum())
    return DetectorAccuracyReport(
        model=model, precision=precision, onnx=str(candidate_onnx), images=list(HELD_OUT_IMAGES),
        score_threshold=settings.score_threshold, reference_boxes=reference_count,
        boxes=sum(len(c.scores) for c in found[1]),
        recall=matched / reference_count if reference_count else None,
        mean_matched_iou=float(ious.mean()) if len(ious) else None,
        max_score_difference=float(score_differences.max()) if len(score_differences) else None,
        output_relative_l2=_relative_l2(raw[0], raw[1]),
    )


def _outputs(path: Path, input_name: str, inputs: np.ndarray) -> dict[str, np.ndarray]:
    ort = import_optional("onnxruntime", "detector accuracy reports")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    runs = [session.run(names, {input_name: image[None]}) for image in inputs]  # batch 1 fits any export
    return {name: np.concatenate([run[i] for run in runs]) for i, name in enumerate(names)}


def _image_boxes(outputs: dict, settings: DetectorSettings, fits: list):
    candidates = candidates_from_outputs(outputs, settings, settings.classes, settings.score_threshold)
    found = image_detections(candidates, settings.iou_threshold, settings.max_detections)
    return [type(d)(fit.image_boxes(d.boxes), d.scores, d.classes) for fit, d in zip(fits, found)]


def _matches(reference, candidate) -> tuple[np.ndarray, np.ndarray]:
    """(IoU, |score difference|) of each reference box, highest score first, with its best unmatched candidate
    (IoU 0 when none is left); score differences of the pairs that match."""
    count = len(reference.boxes)
    both = np.concatenate([reference.boxes, candidate.boxes])[None]
    overlaps = pairwise_iou(both)[0, :count, count:]
    free = np.ones(len(candidate.boxes), bool)
    ious, differences = [], []
    for row in range(count):
        best = int(np.argmax(np.where(free, overlaps[row], -1.0))) if free.any() else None
        iou = float(overlaps[row, best]) if best is not None else 0.0
        ious.append(iou)
        if iou >= MATCH_IOU:
            free[best] = False
            differences.append(abs(float(reference.scores[row]) - float(candidate.scores[best])))
    return np.asarray(ious, np.float64), np.asarray(differences, np.float64)


def _relative_l2(reference: dict, candidate: dict) -> float:
    ref = np.concatenate([reference[k].astype(np.float64).ravel() for k in sorted(reference)])
    cand = np.concatenate([candidate[k].astype(np.float64).ravel() for k in sorted(reference)])
    return float(np.linalg.norm(cand - ref) / max(np.linalg.norm(ref), np.finfo(np.float64).tiny))
