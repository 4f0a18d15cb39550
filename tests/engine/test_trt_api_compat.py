"""The builder and runtime use only TensorRT API present in TensorRT 10, TensorRT 11 and TensorRT-RTX.

No `tensorrt-stubs` package exists on PyPI and full TensorRT cannot be installed here, so this is a
static check: an AST scan of vitpose_trt/engine and vitpose_trt/runtime collects every
`trt.<name>`, `trt.<Class>.<member>` and method/property used on the library's objects (recognised by
the project's variable names: builder, network, config, parser, profile, engine, context, runtime,
cache, plan, tensor), and asserts that each one

1. exists on the installed `tensorrt_rtx` bindings (whose API mirrors TensorRT's), and
2. is not in the list of API removed in TensorRT 11 (scanned over the whole package), and
3. when it exists only in TensorRT-RTX, is used only inside functions named for RTX.

Facts this relies on (read from NVIDIA's documentation):
- Removed in TensorRT 11 (Python): BuilderFlag.FP16/INT8/FP8/BF16/INT4/FP4,
  OBEY_/PREFER_PRECISION_CONSTRAINTS, DIRECT_IO, IBuilderConfig.int8_calibrator,
  set_/get_calibration_profile, set_/get_/clear_quantization_flag, quantization_flags,
  ICudaEngine.device_memory_size (use device_memory_size_v2) and the profile variant without _v2
  [docs.nvidia.com/deeplearning/tensorrt/latest/api/migration/tensorrt-10x-to-11x-python-api-reference.html];
  IAlgorithm/IAlgorithmContext/IAlgorithmIOInfo/IAlgorithmSelector/IAlgorithmVariant, the INT8
  calibrators, platformHasFastFp16/Int8
  [docs.nvidia.com/deeplearning/tensorrt/latest/api/migration/tensorrt-10x-to-11x-c-api-reference.html].
- NetworkDefinitionCreationFlag.STRONGLY_TYPED: needed on TensorRT 10 for a strongly typed network,
  deprecated and ignored on TensorRT 11 (always strongly typed), so setting it is right for both
  [docs.rs/trtx-sys NetworkDefinitionCreationFlag; NVIDIA trt-strong-typing-migration skill].
  EXPLICIT_BATCH has been ignored since TensorRT 10.0 [TensorRT Python API, Builder page].
- IProgressMonitor exists since TensorRT 10.0 [TensorRT 10.0.1 C++ API, IProgressMonitor]; the
  runtime's ExecutionContextAllocationStrategy was added in 10.0 [TensorRT 8.x-to-10.x Python API
  migration reference, "Python APIs Added in 10.x"]. JetPack 6 ships TensorRT 10.3 (FIELD.md).
- TensorRT-RTX only: ComputeCapability and IBuilderConfig.num_compute_capabilities /
  set_compute_capability [docs.nvidia.com/deeplearning/tensorrt-rtx/latest/inference-library/cpu-engines.html].
"""

from __future__ import annotations

import ast
from pathlib import Path

import tensorrt_rtx

import vitpose_trt

PACKAGE = Path(vitpose_trt.__file__).parent
SCANNED = [PACKAGE / "engine", PACKAGE / "runtime"]
#: Variable / attribute names that hold library objects, and the class each one is.
RECEIVER_CLASSES = {
    "builder": "Builder", "network": "INetworkDefinition", "config": "IBuilderConfig",
    "parser": "OnnxParser", "profile": "IOptimizationProfile", "engine": "ICudaEngine",
    "context": "IExecutionContext", "runtime": "Runtime", "_runtime": "Runtime", "cache": "ITimingCache",
    "plan": "IHostMemory", "tensor": "ITensor",
}
#: Names that hold the imported library module.
MODULE_NAMES = {"trt"}
#: Removed in TensorRT 11 wherever they appear (see the module docstring for sources).
REMOVED_NAMES = {
    "int8_calibrator", "set_calibration_profile", "get_calibration_profile", "set_quantization_flag",
    "get_quantization_flag", "clear_quantization_flag", "quantization_flags", "device_memory_size",
    "get_device_memory_size_for_profile", "platform_has_fast_fp16", "platform_has_fast_int8",
    "algorithm_selector", "IAlgorithm", "IAlgorithmContext", "IAlgorithmIOInfo", "IAlgorithmSelector",
    "IAlgorithmVariant", "IInt8Calibrator", "IInt8EntropyCalibrator", "IInt8EntropyCalibrator2",
    "IInt8MinMaxCalibrator", "IInt8LegacyCalibrator", "CalibrationAlgoType", "QuantizationFlag",
}
#: BuilderFlag members removed in TensorRT 11 (weak typing and precision constraints).
REMOVED_BUILDER_FLAGS = {
    "FP16", "INT8", "FP8", "BF16", "INT4", "FP4", "OBEY_PRECISION_CONSTRAINTS", "PREFER_PRECISION_CONSTRAINTS",
    "DIRECT_IO",
}
#: TensorRT-RTX-only API (see the module docstring): allowed only in functions whose name says rtx.
RTX_ONLY = {("module", "ComputeCapability"), ("IBuilderConfig", "num_compute_capabilities"),
            ("IBuilderConfig", "set_compute_capability")}
#: Library base classes the code subclasses, and the callbacks a subclass must implement.
CALLBACKS = {"IProgressMonitor": {"phase_start", "step_complete", "phase_finish"}, "ILogger": {"log"}}


def _receiver_name(node: ast.expr) -> str | None:
    """`x` for `x.attr`, `b` for `a.b.attr` with `a` a plain name (self.engine, parsed.builder); else None.

    Deeper chains (cupy.cuda.runtime.getDevice) are other libraries' objects, not TensorRT's.
    """
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        return node.attr
    return None


class _UseCollector(ast.NodeVisitor):
    """Collects (owner, attribute, enclosing function, line) for each library API use."""

    def __init__(self) -> None:
        self.functions = ["<module>"]
        self.uses: list[tuple[str, str, str, int]] = []

    def visit_FunctionDef(self, node) -> None:
        self.functions.append(node.name)
        self.generic_visit(node)
        self.functions.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Attribute(self, node: ast.Attribute) -> None:
        receiver = _receiver_name(node.value)
        owner = None
        if receiver in MODULE_NAMES:
            owner = "module"
        elif isinstance(node.value, ast.Attribute) and _receiver_name(node.value.value) in MODULE_NAMES:
            owner = f"module.{node.value.attr}"
        elif receiver in RECEIVER_CLASSES:
            owner = RECEIVER_CLASSES[receiver]
        if owner is not None:
            self.uses.append((owner, node.attr, self.functions[-1], node.lineno))
        self.generic_visit(node)


def _uses(tree: ast.AST):
    collector = _UseCollector()
    collector.visit(tree)
    return collector.uses


def _scanned_files() -> list[Path]:
    return sorted(p for folder in SCANNED for p in folder.rglob("*.py"))


def _library_object(owner: str):
    if owner == "module":
        return tensorrt_rtx
    if owner.startswith("module."):
        return getattr(tensorrt_rtx, owner.split(".", 1)[1])
    return getattr(tensorrt_rtx, owner)


def _all_uses() -> dict[tuple[str, str], list[str]]:
    uses: dict[tuple[str, str], list[str]] = {}
    for path in _scanned_files():
        for owner, attr, function, line in _uses(ast.parse(path.read_text(), str(path))):
            uses.setdefault((owner, attr), []).append(f"{path.relative_to(PACKAGE)}:{line} in {function}")
    return uses


def test_scan_sees_the_builder_and_runtime_calls():
    uses = _all_uses()
    expected = {("Builder", "create_network"), ("Builder", "build_serialized_network"),
                ("IBuilderConfig", "set_memory_pool_limit"), ("IOptimizationProfile", "set_shape"),
                ("module", "OnnxParser"), ("module.NetworkDefinitionCreationFlag", "STRONGLY_TYPED")}
    assert expected <= set(uses), expected - set(uses)
    assert len(uses) >= 30  # the scan is not vacuous


def test_every_used_api_exists_in_tensorrt_rtx():
    missing = {}
    for (owner, attr), where in _all_uses().items():
        if not hasattr(_library_object(owner), attr):
            missing[f"{owner}.{attr}"] = where
    assert missing == {}, f"not in tensorrt_rtx {tensorrt_rtx.__version__}: {missing}"


def test_rtx_only_api_stays_in_rtx_functions():
    misplaced = {f"{owner}.{attr}": [w for w in where if "rtx" not in w.rsplit(" in ", 1)[1]]
                 for (owner, attr), where in _all_uses().items()
                 if (owner, attr) in RTX_ONLY or owner == "module.ComputeCapability"}
    assert all(not places for places in misplaced.values()), misplaced
    assert misplaced, "the RTX compute-capability API should be used (config._set_rtx_targets)"


def test_no_api_removed_in_tensorrt_11_anywhere_in_the_package():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Attribute):
                removed = node.attr in REMOVED_NAMES or (
                    node.attr in REMOVED_BUILDER_FLAGS and _receiver_name(node.value) == "BuilderFlag")
                if removed:
                    found.append(f"{path.relative_to(PACKAGE)}:{node.lineno} .{node.attr}")
            elif isinstance(node, ast.Constant) and node.value in REMOVED_NAMES:  # getattr(obj, "name")
                found.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.value!r}")
    assert found == [], found


def test_library_callbacks_are_implemented():
    subclasses = 0
    for path in _scanned_files():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.ClassDef):
                continue
            for base in node.bases:
                if isinstance(base, ast.Attribute) and _receiver_name(base.value) in MODULE_NAMES:
                    assert hasattr(tensorrt_rtx, base.attr), f"{path}: base trt.{base.attr}"
                    methods = {n.name for n in node.body if isinstance(n, ast.FunctionDef)}
                    required = CALLBACKS.get(base.attr, set())
                    assert required <= methods, f"{path}: {node.name} lacks {required - methods}"
                    assert {m for m in required if hasattr(getattr(tensorrt_rtx, base.attr), m)} == required
                    subclasses += 1
    assert subclasses >= 2  # BuildProgress (IProgressMonitor) and BuildLog (ILogger)
