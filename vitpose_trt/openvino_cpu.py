"""Compiling models for OpenVINO's CPU plugin in an explicit precision: shared by the openvino backend and the
export reports, so that a report measures what the backend runs.

`INFERENCE_PRECISION_HINT` is always set (OpenVINO's own default is bf16 on CPUs with AMX, which would change
results silently), and a CPU that cannot compute in the precision asked for is a `ConfigError`, never a
quiet fp32 fallback.

bf16 keeps the residual stream in fp32. With the bf16 hint OpenVINO's CPU plugin runs nearly every node in
bf16, the transformer's residual stream included: each block's `x + attn(x)` and `x + mlp(x)` is rounded to
8 mantissa bits, and the rounding errors of 24 Adds pile up. Emulated on ViT-B (benchmarks/cpu_pipeline/
bf16_emulation.py: matmul inputs and outputs rounded to bf16, accumulation in fp32): everything in bf16
gives heatmap rel-L2 0.0110 against fp32 (OpenVINO measured 0.0112 on an AMX Xeon), over the 16-bit bound
of 0.01; with the residual Adds in fp32, 0.0074. So under bf16 every Add of two computed tensors (a
residual or shortcut connection; an Add with a constant input is a bias) is marked to keep its precision,
with the CPU plugin's own attribute `DisablePrecisionConversion` (OpenVINO 2026: the plugin then leaves the
node out of its bf16 enforcement). The attribute cannot be set from Python (an rt_info string makes the
compilation fail), so the marked model is written as an IR with the attribute in its XML and read back.
"""

from __future__ import annotations

import tempfile
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

from .errors import ConfigError

#: Our precision names -> OpenVINO's `INFERENCE_PRECISION_HINT` values (the first is the default).
INFERENCE_PRECISIONS = {"fp32": "f32", "bf16": "bf16"}
DEFAULT_PRECISION = "fp32"
#: The CPU plugin.
DEVICE = "CPU"
#: One stream with every thread on the one request the estimator makes at a time.
PERFORMANCE_HINT = "LATENCY"

#: OpenVINO's runtime attribute that keeps a node's precision, and its value: no conversion to bf16 or f16.
KEEP_PRECISION_ATTRIBUTE = {"name": "DisablePrecisionConversion", "version": "0", "value": "dynamic:bf16,f16"}
#: Node types whose outputs carry no values computed from the model's inputs.
VALUE_FREE = ("Constant", "ShapeOf")
#: The precisions under which the residual Adds are kept in fp32.
REDUCED_PRECISIONS = ("bf16",)


def residual_adds(model) -> list[str]:
    """Friendly names of the Adds of an `openvino.Model` whose inputs both carry values computed from the model's
    inputs. A bias does not, even reshaped from a Constant to a shape taken from the data (`ShapeOf` passes
    on shapes, not values)."""
    constant: dict[str, bool] = {}

    def is_constant(node) -> bool:
        name = node.get_friendly_name()
        if name not in constant:
            kind = node.get_type_name()
            constant[name] = kind in VALUE_FREE or (kind != "Parameter" and node.get_input_size() > 0 and all(
                is_constant(node.input_value(i).get_node()) for i in range(node.get_input_size())))
        return constant[name]

    return sorted(op.get_friendly_name() for op in model.get_ordered_ops() if op.get_type_name() == "Add"
                  and not any(is_constant(op.input_value(i).get_node()) for i in range(2)))


@contextmanager
def precision_marked(openvino, model, precision: str,
                     fp32_residuals: bool = True) -> Iterator[tuple[object, list[str]]]:
    """(the model to compile, names of the nodes kept in fp32) for `precision` ("fp32" | "bf16").

    fp32, or fp32_residuals=False, or no residual Adds: `model` itself and []. Otherwise a copy of `model`
    whose residual Adds carry `KEEP_PRECISION_ATTRIBUTE`, read from an IR in a temporary folder that is
    deleted when the block ends (compile inside the block).
    """
    names = residual_adds(model) if precision in REDUCED_PRECISIONS and fp32_residuals else []
    if not names:
        yield model, []
        return
    with tempfile.TemporaryDirectory(prefix="vitpose-openvino-") as folder:
        xml = Path(folder) / "model.xml"
        openvino.save_model(model, str(xml), compress_to_fp16=False)
        xml.write_text(ir_with_kept_precision(xml.read_text(encoding="utf-8"), set(names)), encoding="utf-8")
        yield openvino.Core().read_model(str(xml)), names


def ir_with_kept_precision(ir_xml: str, names: set[str]) -> str:
    """The IR XML `ir_xml` with `KEEP_PRECISION_ATTRIBUTE` in the runtime info of the layers named `names`."""
    root = ElementTree.fromstring(ir_xml)
    for layer in root.iter("layer"):
        if layer.get("name") in names:
            rt_info = layer.find("rt_info")
            if rt_info is None:
                rt_info = ElementTree.Element("rt_info")
                layer.insert(0, rt_info)
            ElementTree.SubElement(rt_info, "attribute", KEEP_PRECISION_ATTRIBUTE)
    return ElementTree.tostring(root, encoding="unicode")


class CompiledForCpu(NamedTuple):
    """An `openvino.CompiledModel` and the names of the nodes kept in fp32 under a reduced precision."""

    compiled: object
    fp32_nodes: list[str]


def compile_properties(precision: str, threads: int | None) -> dict[str, str | int]:
    """OpenVINO CPU properties for `precision` ("fp32" | "bf16") and `threads` (None: OpenVINO's default)."""
    if precision not in INFERENCE_PRECISIONS:
        raise ConfigError(f"unknown precision {precision!r} for openvino; valid: {', '.join(INFERENCE_PRECISIONS)}")
    properties: dict[str, str | int] = {"INFERENCE_PRECISION_HINT": INFERENCE_PRECISIONS[precision],
                                        "PERFORMANCE_HINT": PERFORMANCE_HINT}
    if threads is not None:
        properties["INFERENCE_NUM_THREADS"] = threads
    return properties


def cpu_capabilities(openvino) -> tuple[str, ...]:
    """OpenVINO's `OPTIMIZATION_CAPABILITIES` of this CPU ("FP32", "BF16", "INT8", ...)."""
    return tuple(openvino.Core().get_property(DEVICE, "OPTIMIZATION_CAPABILITIES"))


def compiled_for_cpu(openvino, model, precision: str = DEFAULT_PRECISION, threads: int | None = None,
                     fp32_residuals: bool = True, extra_properties: dict | None = None) -> CompiledForCpu:
    """`model` (an `openvino.Model`) compiled for the CPU in `precision`, with `compile_properties` plus
    `extra_properties` (e.g. PERF_COUNT). Under bf16 the residual Adds stay fp32 unless `fp32_residuals` is
    False. Raises `ConfigError` when this CPU would compute in another precision (OpenVINO's fallback);
    OpenVINO's own RuntimeError when it cannot compile the model."""
    properties = {**compile_properties(precision, threads), **(extra_properties or {})}
    if precision != DEFAULT_PRECISION and precision.upper() not in cpu_capabilities(openvino):  # before marking
        raise _unavailable(openvino, precision, INFERENCE_PRECISIONS[DEFAULT_PRECISION])
    with precision_marked(openvino, model, precision, fp32_residuals) as (marked, kept):
        compiled = openvino.Core().compile_model(marked, DEVICE, properties)
    effective = compiled.get_property("INFERENCE_PRECISION_HINT")
    if effective != getattr(openvino.Type, INFERENCE_PRECISIONS[precision]):
        raise _unavailable(openvino, precision, effective.get_type_name())
    return CompiledForCpu(compiled, kept)


def _unavailable(openvino, precision: str, instead: str) -> ConfigError:
    return ConfigError(f"this CPU cannot run {precision} in OpenVINO (it would run {instead} instead; OpenVINO's "
                       f"CPU capabilities here: {', '.join(cpu_capabilities(openvino))}); bf16 needs AVX512-BF16 or "
                       "AMX: use precision='fp32'")
