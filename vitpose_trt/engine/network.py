"""A strongly typed TensorRT network from an ONNX file, with every parser error collected.

Strong typing is what keeps one code path for TensorRT 10, TensorRT 11 and TensorRT-RTX: precision
comes from the ONNX graph (fp16 casts, INT8/FP8 Q/DQ), never from builder flags. TensorRT 10 needs
the STRONGLY_TYPED creation flag to get it; TensorRT 11 and TensorRT-RTX are always strongly typed
and accept (ignore) the flag.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from ..artifacts.io import TensorSpec
from ..errors import EngineBuildError


@dataclass
class ParsedNetwork:
    """The network and the objects it depends on: TensorRT requires the builder and parser to outlive it."""

    builder: object
    network: object
    parser: object

    @property
    def inputs(self) -> list[TensorSpec]:
        return [_tensor_info(self.network.get_input(i)) for i in range(self.network.num_inputs)]

    @property
    def outputs(self) -> list[TensorSpec]:
        return [_tensor_info(self.network.get_output(i)) for i in range(self.network.num_outputs)]


def network_from_onnx(trt: ModuleType, onnx_path: Path, logger) -> ParsedNetwork:
    """Parse `onnx_path` (external data next to it is found by the parser) into a strongly typed network.

    Raises EngineBuildError quoting every parser error, or the library's log when an object could
    not be created.
    """
    builder = _checked(trt.Builder(logger), "the TensorRT builder", logger)
    flags = 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)
    network = _checked(builder.create_network(flags), "a network definition", logger)
    parser = _checked(trt.OnnxParser(network, logger), "the ONNX parser", logger)
    parsed_ok = parser.parse_from_file(str(onnx_path))
    errors = [_parser_error_text(parser.get_error(i)) for i in range(parser.num_errors)]
    if not parsed_ok or errors:
        detail = "\n".join(errors) or logger.quoted_errors()
        raise EngineBuildError(f"the ONNX parser rejected {onnx_path}:\n{detail}")
    if network.num_inputs == 0 or network.num_outputs == 0:
        raise EngineBuildError(f"{onnx_path} parsed into a network without inputs or outputs")
    return ParsedNetwork(builder, network, parser)


def _tensor_info(tensor) -> TensorSpec:
    return TensorSpec.of(tensor.name, tensor.dtype.name, tuple(int(d) for d in tensor.shape))


def _parser_error_text(error) -> str:
    """One line per parser error: node, operator, code and description (`str(error)` has them all)."""
    return str(error).strip()


def _checked(obj, what: str, logger):
    """Return `obj`, or raise EngineBuildError when a TensorRT factory gave None."""
    if obj is None:
        raise EngineBuildError(f"could not create {what}:\n{logger.quoted_errors()}")
    return obj
