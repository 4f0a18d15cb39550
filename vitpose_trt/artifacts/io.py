"""What goes in and out of a model: named tensors with dtypes and shapes, and checks of arrays against them.

Read from the artifact itself (the ONNX graph, the engine's tensors, or a torch module's declaration), so a
backend can run any model: it needs no knowledge of the task. Dtypes are numpy names ("float32",
"float16", "int64", ...); a dimension of `DYNAMIC` (-1) varies: only the first (batch) one of an input
may, while outputs may vary anywhere.
Pure data and numpy only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..errors import EngineLoadError, InputError

#: A dimension that is not fixed by the artifact.
DYNAMIC = -1
#: Index of the batch dimension of every tensor.
BATCH_AXIS = 0
#: TensorRT's DataType names (as in schema-1 engine sidecars) -> numpy dtype names.
TENSORRT_DTYPES = {"FLOAT": "float32", "HALF": "float16", "BF16": "bfloat16", "INT8": "int8", "UINT8": "uint8",
                   "INT32": "int32", "INT64": "int64", "BOOL": "bool", "FP8": "float8_e4m3fn"}
#: ONNX Runtime's type strings ("tensor(float)") -> numpy dtype names.
ONNXRUNTIME_DTYPES = {"tensor(float)": "float32", "tensor(float16)": "float16", "tensor(double)": "float64",
                      "tensor(int8)": "int8", "tensor(uint8)": "uint8", "tensor(int32)": "int32",
                      "tensor(int64)": "int64", "tensor(bool)": "bool", "tensor(bfloat16)": "bfloat16"}


def dtype_name(dtype) -> str:
    """The numpy name of `dtype`: a numpy dtype, a numpy name, TensorRT's ("HALF") or ONNX Runtime's
    ("tensor(float16)") spelling; `EngineLoadError` for one this toolkit cannot hold in numpy."""
    text = str(dtype)
    name = TENSORRT_DTYPES.get(text) or ONNXRUNTIME_DTYPES.get(text)
    if name is not None:
        return name
    try:
        return np.dtype(text).name
    except TypeError:
        raise EngineLoadError(f"tensor type {text!r} is not one vitpose-trt can exchange with numpy") from None


def dimension(value) -> int:
    """A shape entry as an int: fixed sizes as they are, symbolic or unknown ones (None, "batch", -1) DYNAMIC."""
    return int(value) if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else DYNAMIC


@dataclass(frozen=True)
class TensorSpec:
    """One named input or output. shape: sizes per axis, `DYNAMIC` where the artifact leaves it open."""

    name: str
    dtype: str
    shape: tuple[int, ...]

    @classmethod
    def of(cls, name: str, dtype, shape) -> TensorSpec:
        """A spec from any spelling of dtype and shape (see `dtype_name`, `dimension`)."""
        return cls(str(name), dtype_name(dtype), tuple(dimension(d) for d in shape))

    @property
    def item_shape(self) -> tuple[int, ...]:
        """The shape of one batch item (every axis but the batch axis)."""
        return self.shape[BATCH_AXIS + 1:]

    @property
    def fixed_batch(self) -> int | None:
        """The batch size the artifact fixes, or None when it is dynamic."""
        return None if self.shape[BATCH_AXIS] == DYNAMIC else self.shape[BATCH_AXIS]

    def to_dict(self) -> dict:
        return {"name": self.name, "dtype": self.dtype, "shape": list(self.shape)}

    @classmethod
    def from_dict(cls, data: Mapping) -> TensorSpec:
        return cls.of(data["name"], data["dtype"], [int(d) for d in data["shape"]])

    def describe(self) -> str:
        dims = ", ".join("N" if i == BATCH_AXIS and d == DYNAMIC else "?" if d == DYNAMIC else str(d)
                         for i, d in enumerate(self.shape))
        return f"{self.name} {self.dtype} ({dims})"


@dataclass(frozen=True)
class ModelIO:
    """A model's inputs and outputs, in the artifact's order."""

    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]

    def __post_init__(self) -> None:
        for what, tensors in (("inputs", self.inputs), ("outputs", self.outputs)):
            if not tensors:
                raise EngineLoadError(f"a model needs at least one of its {what}; this one has none")
            if any(len(tensor.shape) < 1 for tensor in tensors):
                raise EngineLoadError(f"{what} must have a batch axis; this model has a scalar among them")
        for tensor in self.inputs:
            if any(d == DYNAMIC for d in tensor.item_shape):
                raise EngineLoadError(
                    f"input {tensor.describe()}: only the first (batch) axis may vary. A person detector exported "
                    "with a variable image size (Ultralytics' dynamic=True) gets a fixed one when imported: "
                    "vitpose-export --detector FILE.onnx --precision fp32 --builder none [--detector-size H,W] "
                    "--output DIR, then use the ONNX it writes")

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.inputs)

    @property
    def output_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.outputs)

    @property
    def fixed_batch(self) -> int | None:
        """The batch size every input fixes, or None when the batch is dynamic."""
        return self.inputs[0].fixed_batch

    def input(self, name: str) -> TensorSpec:
        return _named(self.inputs, name, "input")

    def output(self, name: str) -> TensorSpec:
        return _named(self.outputs, name, "output")

    def checked_batch(self, feeds: Mapping[str, object], max_batch: int) -> int:
        """The batch size N of `feeds` (input name -> array), after checking them against the inputs.

        Every input must be given, nothing else; each array needs the input's dtype and item shape, all
        the same N, 1 <= N <= max_batch. Raises `InputError` saying what differs.
        """
        missing, unknown = set(self.input_names) - set(feeds), set(feeds) - set(self.input_names)
        if missing or unknown:
            raise InputError(f"inputs {sorted(feeds)} do not match the model's {list(self.input_names)}")
        counts = {_checked_array(spec, feeds[spec.name]) for spec in self.inputs}
        if len(counts) != 1:
            raise InputError(f"inputs have different batch sizes {sorted(counts)}")
        (count,) = counts
        if not 1 <= count <= max_batch:
            raise InputError(f"batch of {count}: this model runs 1..{max_batch} items per call")
        return count

    def to_dict(self) -> dict:
        return {"inputs": [t.to_dict() for t in self.inputs], "outputs": [t.to_dict() for t in self.outputs]}

    @classmethod
    def from_dict(cls, data: Mapping) -> ModelIO:
        return cls(tuple(TensorSpec.from_dict(t) for t in data["inputs"]),
                   tuple(TensorSpec.from_dict(t) for t in data["outputs"]))


def io_of_onnxruntime_session(session) -> ModelIO:
    """The inputs and outputs of an `onnxruntime.InferenceSession` (symbolic dimensions are `DYNAMIC`)."""
    return ModelIO(tuple(TensorSpec.of(t.name, t.type, t.shape) for t in session.get_inputs()),
                   tuple(TensorSpec.of(t.name, t.type, t.shape) for t in session.get_outputs()))


def io_of_openvino_model(model) -> ModelIO:
    """The inputs and outputs of an `openvino.Model` or `CompiledModel` (dynamic dimensions are `DYNAMIC`)."""
    def spec(port) -> TensorSpec:
        shape = [d.get_length() if d.is_static else DYNAMIC for d in port.get_partial_shape()]
        return TensorSpec.of(port.get_any_name(), port.get_element_type().to_dtype(), shape)

    return ModelIO(tuple(spec(port) for port in model.inputs), tuple(spec(port) for port in model.outputs))


def with_output_shapes(io: ModelIO, outputs: Mapping[str, object]) -> ModelIO:
    """`io` with each output's item shape taken from `outputs` (name -> an array the model returned): the
    concrete sizes of outputs an exporter left symbolic."""
    shaped = tuple(TensorSpec(t.name, t.dtype, (DYNAMIC, *outputs[t.name].shape[BATCH_AXIS + 1:])) for t in io.outputs)
    return ModelIO(io.inputs, shaped)


def _named(tensors: tuple[TensorSpec, ...], name: str, what: str) -> TensorSpec:
    for tensor in tensors:
        if tensor.name == name:
            return tensor
    raise EngineLoadError(f"the model has no {what} named {name!r} (its {what}s: {[t.name for t in tensors]})")


def _checked_array(spec: TensorSpec, array) -> int:
    """The batch size of `array` after checking its dtype and item shape against `spec`."""
    shape = tuple(getattr(array, "shape", ()))
    if len(shape) != len(spec.shape) or shape[BATCH_AXIS + 1:] != spec.item_shape:
        raise InputError(f"input {spec.name!r} has shape {shape}; the model takes {spec.describe()}")
    if str(getattr(array, "dtype", "")) != spec.dtype:
        raise InputError(f"input {spec.name!r} is {getattr(array, 'dtype', type(array).__name__)}; "
                         f"the model takes {spec.dtype}")
    return shape[BATCH_AXIS]
