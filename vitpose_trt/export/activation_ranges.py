"""Largest activation magnitudes of an fp32 ONNX graph on real crops, in bounded memory.

AutoCast's own reference run keeps every intermediate tensor of every calibration batch in memory
(measured: 18 GiB peak for ViT-B with 16 crops). Only the per-tensor maximum |x| matters for its range
rule, so this runs ONNX Runtime one crop at a time and keeps a running maximum: memory is one crop's
activations, whatever the crop count or model size.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..dependencies import import_optional

#: ONNX Runtime session option: where a graph loaded from bytes finds its external data file.
_EXTERNAL_FOLDER_OPTION = "session.model_external_initializers_file_folder_path"


def tensor_absmax(src: str | Path, crops: np.ndarray, progress: bool = True) -> dict[str, float]:
    """Max |value| of the input and of every floating-point node output of ONNX file `src` over `crops`.

    crops: (N, *input item shape) float32 inputs of the graph's one input (pose crops (N, 3, 256, 192), or a
    detector's fitted images). Returns {tensor name: max |value|}. Runs on the CPU.
    """
    onnx = import_optional("onnx", "fp16 range analysis")
    ort = import_optional("onnxruntime", "fp16 range analysis")
    tqdm = import_optional("tqdm", "progress bars").tqdm
    model = onnx.load(str(src), load_external_data=False)
    marked = {o.name for o in model.graph.output}
    for node in model.graph.node:
        for name in node.output:
            if name and name not in marked:
                # ONNX Runtime accepts an untyped graph output and infers its type.
                model.graph.output.append(onnx.ValueInfoProto(name=name))
                marked.add(name)
    options = ort.SessionOptions()
    options.add_session_config_entry(_EXTERNAL_FOLDER_OPTION, str(Path(src).resolve().parent))
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    (graph_input,) = session.get_inputs()
    crops = np.ascontiguousarray(crops, dtype=np.float32)
    absmax = {graph_input.name: float(np.abs(crops).max())}
    for crop in tqdm(crops, desc="fp16 range analysis", unit="input", disable=not progress):
        for name, value in zip(names, session.run(None, {graph_input.name: crop[None]})):
            if np.issubdtype(value.dtype, np.floating) and value.size:
                absmax[name] = max(absmax.get(name, 0.0), float(np.abs(value).max()))
    return absmax


def nodes_out_of_range(src: str | Path, absmax: dict[str, float], limit: float) -> list[str]:
    """Names of the nodes of ONNX file `src` with any input or output over `limit` in `absmax`.

    Mirrors AutoCast's I/O range rule (Constant nodes never count) on floating-point tensors.
    """
    onnx = import_optional("onnx", "fp16 range analysis")
    model = onnx.load(str(src), load_external_data=False)
    return [
        node.name
        for node in model.graph.node
        if node.op_type != "Constant" and any(absmax.get(t, 0.0) > limit for t in (*node.input, *node.output))
    ]
