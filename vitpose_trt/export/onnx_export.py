"""`export_onnx`: a PyTorch ViTPose -> a simplified fp32 ONNX file with a dynamic batch axis and metadata.

Uses the legacy TorchScript exporter (`dynamo=False`): it keeps the batch axis dynamic from any
example batch and matches PyTorch to ~1e-7 (FIELD.md). Opset 17-20 only: opset 23 emits the ONNX
`Attention` op, which TensorRT-RTX cannot build in fp32.
"""

from __future__ import annotations

import dataclasses
import tempfile
import warnings
from pathlib import Path

from ..artifacts.metadata import ArtifactMetadata
from ..artifacts.onnx_metadata import with_metadata
from ..artifacts.provenance import Provenance
from ..dependencies import import_optional
from ..errors import ConfigError, ExportError
from ..specs import INPUT_HEIGHT, INPUT_NAME, INPUT_WIDTH, OUTPUT_NAME
from .files import EXTERNAL_DATA_THRESHOLD_BYTES, save_onnx_atomic, tensor_bytes
from .recipes import EXPORTER

DEFAULT_OPSET = 17
SUPPORTED_OPSETS = range(17, 21)
#: Name of the dynamic batch axis in the ONNX graph.
BATCH_AXIS = "batch"
#: Batch of the example input traced by the exporter (any size works with dynamic_axes; 2 avoids a
#: size-1 dimension that tracing could mistake for a broadcast).
EXAMPLE_BATCH = 2


def export_onnx(
    model,
    path: str | Path,
    opset: int = DEFAULT_OPSET,
    simplify: bool = True,
    external_data_threshold: int = EXTERNAL_DATA_THRESHOLD_BYTES,
) -> Path:
    """Export `model` (a vitpose_trt ViTPose, eval mode) to an fp32 ONNX file at `path`; return `path`.

    Graph: input `INPUT_NAME` (N, 3, 256, 192) float32 -> output `OUTPUT_NAME` (N, K, 64, 48) float32,
    N dynamic. Simplified with onnxslim when `simplify`. `metadata_props[ONNX_METADATA_KEY]` holds
    `ArtifactMetadata.for_pose_model(model.spec, model.keypoints)` with the export's provenance. Tensors go to an external
    data file when they exceed `external_data_threshold` bytes. Written atomically.
    """
    if opset not in SUPPORTED_OPSETS:
        raise ConfigError(
            f"unsupported opset {opset}: use {SUPPORTED_OPSETS.start}-{SUPPORTED_OPSETS.stop - 1} "
            "(opset 23 emits ONNX Attention, which TensorRT-RTX cannot build in fp32)"
        )
    onnx = import_optional("onnx", "ONNX export")
    proto = _traced_onnx(model, opset)
    if simplify:
        onnxslim = import_optional("onnxslim", "ONNX export")
        proto = onnxslim.slim(proto)
    provenance = Provenance(exporter=EXPORTER, opset=opset, simplified=simplify)
    metadata = dataclasses.replace(ArtifactMetadata.for_pose_model(model.spec, model.keypoints), provenance=provenance)
    with_metadata(proto, metadata)
    # The checker serialises the proto, which protobuf refuses past 2 GiB (ViTPose-H fp32).
    if tensor_bytes(proto) <= EXTERNAL_DATA_THRESHOLD_BYTES:
        try:
            onnx.checker.check_model(proto)
        except onnx.checker.ValidationError as exc:
            raise ExportError(f"exported ONNX graph is invalid: {exc}") from exc
    return save_onnx_atomic(proto, path, external_data_threshold)


def _traced_onnx(model, opset: int):
    """Run the legacy exporter into a temporary folder and load the result (tensors in memory).

    The exporter traces in eval mode (its default `training=EVAL`) without changing `model`'s own mode.
    """
    torch = import_optional("torch", "ONNX export")
    onnx = import_optional("onnx", "ONNX export")
    example = torch.zeros(EXAMPLE_BATCH, 3, INPUT_HEIGHT, INPUT_WIDTH)
    dynamic = {INPUT_NAME: {0: BATCH_AXIS}, OUTPUT_NAME: {0: BATCH_AXIS}}
    with tempfile.TemporaryDirectory(prefix="vitpose-export-") as tmp:
        raw = Path(tmp) / "raw.onnx"
        with warnings.catch_warnings(), torch.no_grad():
            # The legacy exporter announces its own deprecation on every call; it is chosen on purpose.
            warnings.simplefilter("ignore", category=DeprecationWarning)
            warnings.simplefilter("ignore", category=FutureWarning)
            try:
                torch.onnx.export(
                    model, (example,), str(raw), dynamo=False, opset_version=opset,
                    input_names=[INPUT_NAME], output_names=[OUTPUT_NAME], dynamic_axes=dynamic,
                    do_constant_folding=True,
                )
            except (RuntimeError, torch.onnx.errors.OnnxExporterError) as exc:
                raise ExportError(f"torch.onnx.export failed: {exc}") from exc
        return onnx.load(str(raw))
