"""How an artifact was made: exporter, opset, and the converter or quantizer recipe with its choices.

Caches decide by it whether a file on disk is the current recipe's (`quantizer`), reports and users read
the rest. Pure data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields

#: Tuple-valued fields (JSON lists).
_LIST_FIELDS = ("fp32_op_types", "unquantized_nodes", "fp32_out_of_range_nodes", "quantized_op_types")


@dataclass(frozen=True)
class Provenance:
    """exporter: what wrote the fp32 graph ("" for imported files); opset: its default-domain opset;
    simplified: onnxslim ran. converter: the fp16 converter, quantizer: the int8/fp8 quantizer ("" = none).
    calibration_crops: crops the conversion saw. high_precision_dtype: dtype of unconverted parts.
    fp32_op_types / unquantized_nodes / fp32_out_of_range_nodes: what a conversion left in higher precision.
    fp16_data_max: the fp16 range bound used. quantized_op_types, activations, weights: the int8 scheme."""

    exporter: str = ""
    opset: int | None = None
    simplified: bool = False
    converter: str = ""
    quantizer: str = ""
    calibration_crops: int = 0
    high_precision_dtype: str = ""
    fp32_op_types: tuple[str, ...] = ()
    unquantized_nodes: tuple[str, ...] = ()
    fp32_out_of_range_nodes: tuple[str, ...] = ()
    fp16_data_max: float | None = None
    quantized_op_types: tuple[str, ...] = ()
    activations: str = ""
    weights: str = ""

    def __post_init__(self) -> None:
        for key in _LIST_FIELDS:  # JSON lists and callers' lists become tuples (hashable, immutable)
            object.__setattr__(self, key, tuple(str(v) for v in getattr(self, key)))

    def to_dict(self) -> dict:
        data = asdict(self)
        for key in _LIST_FIELDS:
            data[key] = list(data[key])
        return data

    @classmethod
    def from_dict(cls, data: Mapping) -> Provenance:
        """Parse `to_dict`'s form (unknown keys, e.g. schema 1's "target" in `extra`, are left out)."""
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})
