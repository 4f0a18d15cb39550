"""benchmarks/gpu/: run.sh without a GPU, the summariser on synthetic step outputs, and the CPU-side logic of
kernel_timings.py (its CPU half for real; its GPU checks with numpy standing in for CuPy). No GPU needed."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

GPU_CHECK = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu"
RUN_SH = GPU_CHECK / "run.sh"
RUN_TIMEOUT_S = 30
CARD = "NVIDIA H100 80GB HBM3"
CARD_SLUG = "nvidia-h100-80gb-hbm3"


def _load(name: str):
    """benchmarks/gpu/<name>.py as a module (its folder on sys.path for its sibling imports)."""
    if str(GPU_CHECK) not in sys.path:
        sys.path.insert(0, str(GPU_CHECK))
    spec = importlib.util.spec_from_file_location(f"gpu_check_{name}", GPU_CHECK / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def summarise():
    return _load("summarise")


@pytest.fixture(scope="module")
def kernel_timings():
    return _load("kernel_timings")


# --- run.sh without a GPU ------------------------------------------------------------------------------

FAKE_NVIDIA_SMI = {
    "missing": None,
    "failing": "echo 'NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver.'; exit 9",
    "no devices": "echo 'No devices were found'; exit 6",
}


@pytest.mark.parametrize("nvidia_smi", FAKE_NVIDIA_SMI)
def test_run_sh_without_a_gpu_prints_one_line_and_exits_2(tmp_path, nvidia_smi):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    if FAKE_NVIDIA_SMI[nvidia_smi]:
        fake = bin_dir / "nvidia-smi"
        fake.write_text(f"#!/bin/sh\n{FAKE_NVIDIA_SMI[nvidia_smi]}\n")
        fake.chmod(0o755)
    out_dir = tmp_path / "out"
    env = {"PATH": str(bin_dir), "GPU_CHECK_OUT_DIR": str(out_dir), "PYTHON": sys.executable}
    run = subprocess.run(["/bin/bash", str(RUN_SH)], env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    assert run.returncode == 2
    assert run.stdout == ""
    assert len(run.stderr.splitlines()) == 1 and "no NVIDIA GPU" in run.stderr
    assert not out_dir.exists()


def test_run_sh_is_valid_bash():
    subprocess.run(["bash", "-n", str(RUN_SH)], check=True, timeout=RUN_TIMEOUT_S)


# --- summarise.py on synthetic inputs -------------------------------------------------------------------

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" errors="3" failures="2" skipped="1" tests="7">
<testcase classname="tests.gpu.test_cuda_runtime" name="test_ok" time="0.1"/>
<testcase classname="tests.gpu.test_cuda_runtime" name="test_trt_engine" time="0.1">
  <failure message="vitpose_trt.errors.MissingDependencyError: tensorrt is needed for the TensorRT backend but is not installed: install x">trace
E   vitpose_trt.errors.MissingDependencyError: tensorrt is needed for the TensorRT backend but is not installed</failure>
</testcase>
<testcase classname="tests.gpu.test_cuda_runtime" name="test_fixture_needs_skimage" time="0.1">
  <error message="failed on setup with &quot;ModuleNotFoundError: No module named 'skimage'&quot;">trace
E   ModuleNotFoundError: No module named 'skimage'</error>
</testcase>
<testcase classname="tests.gpu.test_cuda_runtime" name="test_crops_match" time="0.1">
  <failure message="AssertionError: assert 3.0 &lt;= 1.001">trace
E   AssertionError: assert 3.0 &lt;= 1.001</failure>
</testcase>
<testcase classname="tests.engine.test_tensorrt_gpu" name="test_skipped" time="0.0">
  <skipped type="pytest.skip" message="could not import 'tensorrt': No module named 'tensorrt'">x</skipped>
</testcase>
<testcase classname="" name="tests.test_geometry" time="0.0">
  <error message="collection failure">trace
E   ModuleNotFoundError: No module named 'hypothesis'</error>
</testcase>
<testcase classname="" name="tests.test_broken" time="0.0">
  <error message="collection failure">trace
E     File "tests/test_broken.py", line 3
E   SyntaxError: invalid syntax</error>
</testcase>
</testsuite></testsuites>
"""
PYTEST_LOG = "...\n=========== 1 failed, 1 passed, 1 skipped, 500 deselected, 3 errors in 41.20s ===========\n"


def _bench_report(device_memory_mib: float | None) -> dict:
    stages = {s: {"p50": 0.5, "p90": 0.6} for s in ("crop", "infer", "flip_merge", "decode_download", "validate_map")}
    row = {"mode": "pipeline", "model": "vitpose-b", "backend": "torch", "precision": "fp16", "batch": 8,
           "latency_ms": {"p50": 4.0, "p90": 4.5}, "throughput": 2000.0, "throughput_unit": "persons/s",
           "stages_ms": stages, "roofline_percent": 40.0, "peak_precision": "fp16",
           "device_memory_mib": device_memory_mib, "iters": 30, "warmup": 10}
    return {"schema": 1, "results": [row], "skipped": []}


def _kernels(checks: list[dict]) -> dict:
    timings = [
        {"stage": "crops", "device": "cuda", "frame": "1080p", "persons": 8, "out_dtype": "float32",
         "image_on": "host", "median_ms": 0.4},
        {"stage": "crops", "device": "cpu", "frame": "1080p", "persons": 8, "out_dtype": "float32",
         "image_on": "host", "median_ms": 6.0},
        {"stage": "decode", "device": "cuda", "method": "dark-udp", "persons": 64, "median_ms": 0.8},
        {"stage": "decode", "device": "cpu", "method": "dark-udp", "persons": 64, "median_ms": 32.0},
    ]
    return {"schema": "x", "cuda": {"cuda_runtime": 13000}, "checks": checks, "timings": timings,
            "skipped": [{"stage": "decode", "device": "cuda", "method": "dark", "reason": "time budget (--budget-s) spent"}]}


STEPS = [
    ("import", "passed", "0", "1", "20", ""),
    ("pytest", "failed", "1", "50", "120", "== 1 failed =="),
    ("kernels", "passed", "0", "20", "60", ""),
    ("bench-torch", "refused", "2", "1", "100", "vitpose-bench: error: --backend torch: nothing to run"),
    ("bench-tensorrt", "skipped", "", "", "", "tensorrt: not installed (import tensorrt: No module named 'tensorrt')"),
]


def _inputs(folder: Path, junit: str = JUNIT, steps=STEPS, checks=None, device_memory_mib=512.0) -> list[str]:
    """Write synthetic step outputs into `folder`; return summarise.py's arguments for them."""
    checks = [{"name": "cupy decode == numpy decode (dark)", "passed": True, "detail": "max 1e-6 px"}] \
        if checks is None else checks
    files = {"steps.tsv": "".join("\t".join(s) + "\n" for s in steps),
             "gpus.csv": f"{CARD}, 81559 MiB, 570.86, 9.0\n", "pytest.xml": junit, "pytest.log": PYTEST_LOG,
             "bench-torch.json": json.dumps(_bench_report(device_memory_mib)),
             "kernels.json": json.dumps(_kernels(checks))}
    for name, text in files.items():
        (folder / name).write_text(text)
    return ["--out-dir", str(folder / "out"), "--steps", str(folder / "steps.tsv"), "--gpus", str(folder / "gpus.csv"),
            "--pytest-junit", str(folder / "pytest.xml"), "--pytest-log", str(folder / "pytest.log"),
            "--bench", str(folder / "bench-torch.json"), "--kernels", str(folder / "kernels.json"),
            "--note", "a note"]


def _written(folder: Path) -> tuple[dict, str]:
    stem = folder / "out" / f"results-{CARD_SLUG}"
    return json.loads(stem.with_suffix(".json").read_text()), stem.with_suffix(".md").read_text()


def test_summary_sorts_what_failed_from_what_could_not_run(summarise, tmp_path):
    assert summarise.main(_inputs(tmp_path)) == 1
    doc, markdown = _written(tmp_path)
    assert doc["card"]["name"] == CARD and doc["card"]["compute_cap"] == "9.0" and doc["verdict"] == "failed"
    could_not, failed = "\n".join(doc["could_not_run"]), "\n".join(doc["failed"])
    assert "bench-tensorrt: tensorrt: not installed" in could_not
    assert "bench-torch: vitpose-bench: error" in could_not
    assert "need tensorrt, which is not installed: test_trt_engine" in could_not
    assert "need skimage, which is not installed: test_fixture_needs_skimage" in could_not
    assert "tests/test_geometry.py could not be collected (ModuleNotFoundError: No module named 'hypothesis')" in could_not
    assert "1 gpu test(s) skipped: could not import 'tensorrt'" in could_not
    assert "kernel timings: decode cuda: time budget (--budget-s) spent" in could_not
    assert "test_crops_match: AssertionError" in failed and "tests/test_broken.py could not be collected" in failed
    assert "test_trt_engine" not in failed and "hypothesis" not in failed
    assert doc["pytest"]["summary"] == "1 failed, 1 passed, 1 skipped, 500 deselected, 3 errors in 41.20s"
    assert "1 failed, 1 passed" in markdown and "## Could not run" in markdown and "a note" in markdown


def test_summary_tables(summarise, tmp_path):
    summarise.main(_inputs(tmp_path))
    doc, markdown = _written(tmp_path)
    (row,) = doc["bench"]
    assert row["precision"] == "fp16" and row["backend"] == "torch"
    assert row["persons"] == 8 and row["stages_p50_ms"]["infer"] == 0.5 and row["throughput"] == 2000.0
    assert "| vitpose-b | torch | fp16 | 8 | 4.00 | 2000 | 0.500 |" in markdown
    assert "| 1080p | 8 | 0.400 | - | - | - | 6.00 | 15.0x |" in markdown
    assert "| dark-udp | 64 | 0.800 | 32.00 | 40.0x |" in markdown
    assert "passed: cupy decode == numpy decode (dark)" in markdown


def test_missing_libraries_alone_do_not_fail_the_check(summarise, tmp_path):
    junit = _without_case(_without_case(JUNIT, "test_crops_match"), "tests.test_broken")
    assert summarise.main(_inputs(tmp_path, junit=junit)) == 0
    doc, markdown = _written(tmp_path)
    assert doc["verdict"] == "passed" and doc["failed"] == [] and doc["could_not_run"]
    assert "Nothing failed." in markdown


def _without_case(junit: str, name: str) -> str:
    """`junit` without the <testcase> whose name attribute is `name`."""
    start = junit.index(f'name="{name}"')
    start = junit.rindex("<testcase", 0, start)
    return junit[:start] + junit[junit.index("</testcase>", start) + len("</testcase>"):]


def test_a_timeout_or_a_failed_check_fails_the_check(summarise, tmp_path):
    junit = _without_case(_without_case(JUNIT, "test_crops_match"), "tests.test_broken")
    steps = [*STEPS[:2], ("kernels", "timeout", "124", "60", "60", "last line")]
    failed_check = [{"name": "cuda crops == cv2 crops (4k, udp)", "passed": False, "detail": "max 3 levels"}]
    assert summarise.main(_inputs(tmp_path, junit=junit, steps=steps, checks=failed_check)) == 1
    failed = "\n".join(_written(tmp_path)[0]["failed"])
    assert "kernels: stopped by its 60 s time budget (last line)" in failed
    assert "check failed: cuda crops == cv2 crops (4k, udp): max 3 levels" in failed


def test_missing_inputs_are_reported_not_fatal(summarise, tmp_path):
    (tmp_path / "steps.tsv").write_text("pytest\tskipped\t\t\t\tthe check's 400 s time budget is spent\n")
    args = ["--out-dir", str(tmp_path / "out"), "--steps", str(tmp_path / "steps.tsv"),
            "--pytest-junit", str(tmp_path / "absent.xml"), "--gpus", str(tmp_path / "absent.csv")]
    assert summarise.main(args) == 0
    doc = json.loads((tmp_path / "out" / "results-unknown-gpu.json").read_text())
    assert doc["could_not_run"] == ["pytest: the check's 400 s time budget is spent"]
    assert "no readable JUnit XML" in doc["pytest"]["junit_error"]


def test_card_slug(summarise):
    assert summarise.card_slug(CARD) == CARD_SLUG
    assert summarise.card_slug("NVIDIA H200") == "nvidia-h200"
    assert summarise.card_slug("???") == "unknown-gpu"


def test_missing_module_reads_every_way_a_module_is_reported_missing():
    outcomes = _load("pytest_outcomes")
    assert outcomes.missing_module("ModuleNotFoundError: No module named 'cupy_backends.cuda'") == "cupy_backends"
    assert outcomes.missing_module("tensorrt is needed for the TensorRT backend but is not installed: x") == "tensorrt"
    assert outcomes.missing_module("neither tensorrt nor tensorrt_rtx is installed (pip install ...)") == "tensorrt"
    assert outcomes.missing_module("AssertionError: assert 3 <= 1") is None


# --- kernel_timings.py ----------------------------------------------------------------------------------

FAST = ["--runs", "2", "--warmup", "0", "--frames", "1080p", "--persons", "1,2", "--decode-batches", "1,3"]


def test_kernel_timings_cpu_half(kernel_timings, tmp_path):
    out = tmp_path / "k.json"
    assert kernel_timings.main(["--json", str(out), "--device", "cpu", *FAST]) == 0
    report = json.loads(out.read_text())
    crops = [t for t in report["timings"] if t["stage"] == "crops"]
    decode = [t for t in report["timings"] if t["stage"] == "decode"]
    assert [(t["device"], t["persons"]) for t in crops] == [("cpu", 1), ("cpu", 2)]
    assert len(decode) == 2 * 4 and {t["device"] for t in decode} == {"cpu"}
    assert all(t["runs"] == 2 and t["median_ms"] > 0 for t in report["timings"])
    assert report["skipped"] == [] and report["checks"] == [] and report["cuda"] is None


def test_kernel_timings_without_a_gpu_say_why(kernel_timings, tmp_path, monkeypatch):
    from vitpose_trt.errors import DeviceError
    from vitpose_trt.runtime import cuda_device

    def no_gpu(*args, **kwargs):
        raise DeviceError("the GPU kernel timings needs an NVIDIA GPU, but CUDA found none")

    monkeypatch.setattr(cuda_device, "cuda_device", no_gpu)
    out = tmp_path / "k.json"
    assert kernel_timings.main(["--json", str(out), "--device", "gpu", *FAST]) == 0
    report = json.loads(out.read_text())
    assert report["timings"] == [] and "CUDA found none" in report["skipped"][0]["reason"]
    assert report["checks"][0]["passed"] is None


def test_kernel_timings_stop_at_the_budget(kernel_timings, tmp_path):
    out = tmp_path / "k.json"
    kernel_timings.main(["--json", str(out), "--device", "cpu", "--budget-s", "0", *FAST])
    report = json.loads(out.read_text())
    assert report["timings"] == [] and len(report["skipped"]) == 2 + 2 * 4
    assert {s["reason"] for s in report["skipped"]} == {"time budget (--budget-s) spent"}


class _NumpyAsCupy:
    """numpy under CuPy's names, for running the GPU checks' comparison logic on the CPU."""

    asnumpy = staticmethod(np.asarray)

    def __getattr__(self, name):
        return getattr(np, name)


def _cpu_crops_as_cuda(offset_levels: float):
    """A CudaCrops stand-in: cv2 crops (plus `offset_levels` 8-bit levels), written into `out` when given."""
    from vitpose_trt.runtime.cpu_crops import CpuCrops
    from vitpose_trt.specs import PIXEL_STD_RGB

    class Stage:
        def __init__(self, color):
            self.cpu = CpuCrops(color)

        def __call__(self, image, warps, flip=False, out=None):
            crops = self.cpu(image, warps, flip) + offset_levels / np.float32(PIXEL_STD_RGB[0])
            if out is None:
                return crops
            out[: len(crops)] = crops
            return out[: len(crops)]

    return Stage


@pytest.mark.parametrize("offset_levels, passed", [(0.0, True), (2.0, False)])
def test_crop_checks_compare_within_one_level(kernel_timings, monkeypatch, offset_levels, passed):
    from vitpose_trt.runtime import cuda_crops

    monkeypatch.setattr(cuda_crops, "CudaCrops", _cpu_crops_as_cuda(offset_levels))
    checks = kernel_timings.crop_checks(_NumpyAsCupy())
    parity = [c for c in checks if c["name"].startswith("cuda crops")]
    rounded = [c for c in checks if c["name"].startswith("fp16 crops")]
    assert len(parity) == len(rounded) == len(kernel_timings.FRAMES) * len(kernel_timings.WARPS)
    assert all(c["passed"] is passed for c in parity)
    assert all(c["passed"] for c in rounded)


def test_decode_checks_run_every_method(kernel_timings):
    checks = kernel_timings.decode_checks(_NumpyAsCupy())
    from vitpose_trt.keypoints import DECODERS

    assert [c["passed"] for c in checks] == [True] * len(DECODERS)
    assert all(f"({method}," in c["name"] for c, method in zip(checks, DECODERS))


def test_peaked_heatmaps_peak_where_placed(kernel_timings):
    maps = kernel_timings.peaked_heatmaps(3)
    assert maps.shape == (3, 17, 64, 48) and maps.dtype == np.float32
    flat = maps.reshape(3, 17, -1).argmax(axis=2)
    y, x = np.divmod(flat, 48)
    margin = int(kernel_timings.PEAK_MARGIN)
    assert (x >= margin - 1).all() and (x <= 47 - margin + 1).all() and (y >= margin - 1).all()


def test_stand_in_tqdm_is_enough_for_the_benchmark_loop():
    spec = importlib.util.spec_from_file_location("stand_in_tqdm", GPU_CHECK / "stand_ins" / "tqdm.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with module.tqdm(total=3, unit="call") as bar:
        bar.set_postfix_str("x")
        bar.update(1)
    assert list(module.tqdm([1, 2])) == [1, 2]
