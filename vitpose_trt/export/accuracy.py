"""How far an exported ONNX file is from fp32 PyTorch on real crops: heatmap errors and keypoint agreement.

Heatmaps are (N, K, 64, 48) float32. Keypoint agreement uses the plain argmax of each heatmap (not the
DARK/UDP decoders of the runtime): it asks whether both models put each peak in the same heatmap cell,
measured in network-input pixels (one heatmap cell = `HEATMAP_STRIDE` input pixels). With random weights
heatmaps are nearly flat and argmax agreement means little; judge those by relative L2 and cosine.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..artifacts.openvino_metadata import openvino_model
from ..dependencies import import_optional
from ..errors import ConfigError
from ..openvino_cpu import compiled_for_cpu
from ..specs import HEATMAP_STRIDE, INPUT_NAME

#: Crops per forward pass when computing reference / candidate heatmaps.
INFERENCE_BATCH = 8
#: fp32 ONNX vs fp32 PyTorch: relative L2 above this fails the export (AccuracyError).
FP32_TOLERANCE = 1e-4
#: Relative L2 above which a converted file's report is flagged (printed warning; the file is kept). bf16
#: (OpenVINO computing the fp32 file in bf16) has the bound of the other 16-bit float.
REPORT_TOLERANCE = {"fp16": 1e-2, "bf16": 1e-2, "int8": 0.1, "fp8": 0.1}
#: The runtimes a report can run a file in.
RUNTIMES = ("onnxruntime", "openvino")
#: Keypoints count as agreeing when their argmax peaks are at most this many input pixels apart.
AGREEMENT_RADIUS_PX = HEATMAP_STRIDE
KEYPOINT_METHOD = "argmax of each heatmap (no sub-pixel refinement), distances in network-input pixels"


def heatmaps_from_torch(model, crops: np.ndarray, batch: int = INFERENCE_BATCH) -> np.ndarray:
    """Run `model` (fp32 PyTorch, eval) on crops (N, 3, 256, 192) float32 -> heatmaps (N, K, 64, 48) float32."""
    torch = import_optional("torch", "the accuracy check")
    outputs = []
    with torch.no_grad():
        for start in range(0, len(crops), batch):
            chunk = torch.from_numpy(np.ascontiguousarray(crops[start : start + batch], dtype=np.float32))
            outputs.append(model(chunk).float().numpy())
    return np.concatenate(outputs)


def heatmaps_from_onnx(path: str | Path, crops: np.ndarray, batch: int = INFERENCE_BATCH) -> np.ndarray:
    """Run an ONNX file in ONNX Runtime on the CPU: crops (N, 3, 256, 192) float32 -> (N, K, 64, 48) float32."""
    ort = import_optional("onnxruntime", "the accuracy check")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    outputs = []
    for start in range(0, len(crops), batch):
        chunk = np.ascontiguousarray(crops[start : start + batch], dtype=np.float32)
        outputs.append(np.asarray(session.run(None, {INPUT_NAME: chunk})[0], dtype=np.float32))
    return np.concatenate(outputs)


def heatmaps_from_openvino(path: str | Path, crops: np.ndarray, precision: str = "fp32",
                           batch: int = INFERENCE_BATCH) -> np.ndarray:
    """Run an ONNX file or OpenVINO IR in OpenVINO on the CPU, computing in `precision` ("fp32" | "bf16") as
    the openvino backend does (`openvino_cpu.compiled_for_cpu`: bf16 keeps the residual Adds in fp32): crops
    (N, 3, 256, 192) float32 -> (N, K, 64, 48) float32. `ConfigError` when this CPU cannot compute in
    `precision` (OpenVINO would fall back to fp32)."""
    openvino = import_optional("openvino", "the OpenVINO accuracy check")
    request = compiled_for_cpu(openvino, openvino_model(path), precision).compiled.create_infer_request()
    outputs = []
    for start in range(0, len(crops), batch):
        chunk = np.ascontiguousarray(crops[start : start + batch], dtype=np.float32)
        outputs.append(np.asarray(request.infer({INPUT_NAME: chunk})[0], dtype=np.float32))
    return np.concatenate(outputs)


def heatmaps_from_file(path: str | Path, crops: np.ndarray, runtime: str = "onnxruntime",
                       precision: str = "fp32") -> np.ndarray:
    """Heatmaps (N, K, 64, 48) float32 of `path` on crops (N, 3, 256, 192) in `runtime` ("onnxruntime":
    the file as it is; "openvino": computing its unquantized ops in `precision`)."""
    if runtime not in RUNTIMES:
        raise ConfigError(f"unknown runtime {runtime!r}; valid: {', '.join(RUNTIMES)}")
    if runtime == "openvino":
        return heatmaps_from_openvino(path, crops, precision)
    return heatmaps_from_onnx(path, crops)


def argmax_keypoints(heatmaps: np.ndarray) -> np.ndarray:
    """Peak of each heatmap: (N, K, H, W) -> (N, K, 2) float (x, y) in network-input pixels."""
    n, k, _, w = heatmaps.shape
    flat = heatmaps.reshape(n, k, -1).argmax(axis=-1)
    return np.stack([flat % w, flat // w], axis=-1).astype(np.float64) * HEATMAP_STRIDE


@dataclass
class AccuracyReport:
    """A candidate's heatmaps vs the fp32 PyTorch reference on the same crops."""

    model: str
    precision: str
    onnx: str
    num_crops: int
    crop_source: str
    max_abs: float
    relative_l2: float
    cosine: float
    keypoint_mean_px: float
    keypoint_max_px: float
    keypoint_agreement: float
    tolerance: float | None = None
    reference: str = "PyTorch fp32 (CPU)"
    keypoint_method: str = KEYPOINT_METHOD
    agreement_radius_px: float = AGREEMENT_RADIUS_PX
    notes: list[str] = field(default_factory=list)

    @property
    def within_tolerance(self) -> bool:
        return self.tolerance is None or self.relative_l2 <= self.tolerance

    def to_dict(self) -> dict:
        return {**asdict(self), "within_tolerance": self.within_tolerance}

    @classmethod
    def from_dict(cls, data: dict) -> AccuracyReport:
        """Read back `to_dict`'s form (a report file)."""
        return cls(**{key: data[key] for key in cls.__dataclass_fields__ if key in data})

    def summary(self) -> str:
        """One line for the console."""
        return (
            f"{self.precision} vs {self.reference} on {self.num_crops} crops: max-abs {self.max_abs:.3g}, "
            f"rel-L2 {self.relative_l2:.3g}, cosine {self.cosine:.6f}, keypoints (argmax) mean "
            f"{self.keypoint_mean_px:.2f} px / max {self.keypoint_max_px:.1f} px, "
            f"{100 * self.keypoint_agreement:.1f}% within {self.agreement_radius_px:g} px"
        )


def accuracy_report(reference: np.ndarray, candidate: np.ndarray, **fields) -> AccuracyReport:
    """Compare heatmaps (N, K, 64, 48) of a candidate against the reference; `fields` fill the report's names."""
    ref = reference.astype(np.float64).ravel()
    cand = candidate.astype(np.float64).ravel()
    diff = cand - ref
    ref_norm, cand_norm = np.linalg.norm(ref), np.linalg.norm(cand)
    distances = np.linalg.norm(argmax_keypoints(candidate) - argmax_keypoints(reference), axis=-1)
    return AccuracyReport(
        num_crops=len(reference),
        max_abs=float(np.abs(diff).max()),
        relative_l2=float(np.linalg.norm(diff) / max(ref_norm, np.finfo(np.float64).tiny)),
        cosine=float(ref @ cand / max(ref_norm * cand_norm, np.finfo(np.float64).tiny)),
        keypoint_mean_px=float(distances.mean()),
        keypoint_max_px=float(distances.max()),
        keypoint_agreement=float((distances <= AGREEMENT_RADIUS_PX).mean()),
        **fields,
    )
