"""Where the CPU systems' time goes: the network alone (batch 8), profiled per operator type.

The pipeline benchmark (bench_cpu_pipeline.py) says how fast each system is; this says why. For each of our
systems it runs the same file the pipeline runs, opened with the same options as vitpose-trt's backends
(`session_options` / `openvino_cpu.compiled_for_cpu`), on 8 random crops, with the library's own profiler on:
- ONNX Runtime: `SessionOptions.enable_profiling`; time per operator type (`DynamicQuantizeMatMul` is the
  int8 weight MatMul: its activations are quantized inside it);
- OpenVINO: `PERF_COUNT`; time per (layer type, kernel), e.g. ("FullyConnected", "jit_gemm_I8"): the kernel
  name says which oneDNN implementation ran (brgemm with VNNI/AMX, a generic gemm without).
Each system runs in its own process; the first call (warm-up) is not counted. Profiling adds a little
overhead to every operator, so the totals are a little above the pipeline's network time.

Reproduce (repository root, venv active; uses the pipeline benchmark's cached files, exporting them the
first time): python benchmarks/cpu_pipeline/op_profile.py [--calls 3] [--threads N]
Writes op-profile.md and op-profile.json beside this file (--out to change).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

from bench_cpu_pipeline import ALL_BF16_SYSTEMS, HERE, OUR_SYSTEMS, SYSTEMS, prepare, skipped_systems

BATCH = 8
#: Operator rows shown per system (the rest are summed into one "other" row).
TOP_ROWS = 8


def _crops() -> np.ndarray:
    return np.random.default_rng(0).random((BATCH, 3, 256, 192), dtype=np.float32)


def onnxruntime_profile(path: str, threads: int, calls: int) -> dict:
    """{"seconds": [per call], "ops": {op type: seconds per call}} of ONNX Runtime on `path`."""
    import onnxruntime as ort

    from vitpose_trt.runtime.backends.onnxruntime import CPU_PROVIDER, session_options

    options = session_options(ort, threads)
    options.enable_profiling = True
    with tempfile.TemporaryDirectory() as folder:
        options.profile_file_prefix = str(Path(folder) / "ort")
        session = ort.InferenceSession(path, options, providers=[CPU_PROVIDER])
        feed = {session.get_inputs()[0].name: _crops()}
        session.run(None, feed)
        seconds = []
        for _ in range(calls):
            start = time.perf_counter()
            session.run(None, feed)
            seconds.append(time.perf_counter() - start)
        events = json.loads(Path(session.end_profiling()).read_text())
    per_op: Counter = Counter()
    for event in events:
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            per_op[event["args"]["op_name"]] += event["dur"] / 1e6
    # The profile covers the warm-up call too: scale its operator times to the timed calls' share.
    runs = [e["dur"] for e in events if e.get("name") == "model_run"]
    share = sum(runs[1:]) / sum(runs)
    return {"seconds": seconds, "ops": {op: t * share / calls for op, t in per_op.items()}}


def openvino_profile(path: str, precision: str, threads: int, calls: int, fp32_residuals: bool = True) -> dict:
    """{"seconds": [per call], "ops": {"layer type / kernel": seconds per call}} of OpenVINO on `path` (bf16:
    residual Adds kept in fp32 unless `fp32_residuals` is False, as the backend does)."""
    import openvino

    from vitpose_trt.artifacts.openvino_metadata import openvino_model
    from vitpose_trt.openvino_cpu import compiled_for_cpu

    compiled = compiled_for_cpu(openvino, openvino_model(path), precision, threads, fp32_residuals,
                                extra_properties={"PERF_COUNT": "YES"}).compiled
    request = compiled.create_infer_request()
    crops = _crops()
    request.infer({0: crops})
    seconds, per_op = [], Counter()
    for _ in range(calls):
        start = time.perf_counter()
        request.infer({0: crops})
        seconds.append(time.perf_counter() - start)
        for layer in request.profiling_info:
            per_op[f"{layer.node_type} / {layer.exec_type}"] += layer.real_time.total_seconds()
    return {"seconds": seconds, "ops": {op: t / calls for op, t in per_op.items()}}


def profile(system: str, paths: dict, threads: int, calls: int) -> dict:
    """The profile of one of our systems (this process)."""
    file, backend, precision = OUR_SYSTEMS[system]
    if backend == "onnxruntime":
        return onnxruntime_profile(paths[file], threads, calls)
    return openvino_profile(paths[file], precision, threads, calls, fp32_residuals=system not in ALL_BF16_SYSTEMS)


def _profile_in_subprocess(system: str, paths: dict, threads: int, calls: int) -> dict:
    command = [sys.executable, __file__, "--profile", system, "--paths", json.dumps(paths),
               "--threads", str(threads), "--calls", str(calls)]
    out = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def markdown(results: dict) -> str:
    lines = [f"# Network alone, batch {BATCH}, per operator: {results['model']}", "",
             f"Command: `{results['command']}`", ""]
    for system, prof in results["profiles"].items():
        median = float(np.median(prof["seconds"]))
        total = sum(prof["ops"].values())
        lines += [f"## {system}: {BATCH / median:.2f} crops/s ({median:.3f} s a batch, median of "
                  f"{len(prof['seconds'])}, profiler on)", "", "| operator | s a batch | share |", "|---|---|---|"]
        ranked = sorted(prof["ops"].items(), key=lambda kv: -kv[1])
        for op, seconds in ranked[:TOP_ROWS]:
            lines.append(f"| {op} | {seconds:.3f} | {100 * seconds / total:.1f}% |")
        rest = sum(seconds for _, seconds in ranked[TOP_ROWS:])
        lines += [f"| (other {len(ranked) - TOP_ROWS}) | {rest:.3f} | {100 * rest / total:.1f}% |", ""]
    lines += [f"- skipped {name}: {reason}" for name, reason in results["skipped"].items()]
    env = results["environment"]
    flags = [flag for flag, present in env.get("cpu_flags", {}).items() if present]
    lines += ["", f"CPU: {env.get('cpu')}, threads {results['threads']}, low-precision instructions: "
              f"{', '.join(flags) or 'none'}; OpenVINO CPU capabilities: {env.get('openvino_cpu_capabilities')}", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="vitpose-b")
    parser.add_argument("--calls", type=int, default=3, help="profiled calls per system after one warm-up call")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "vitpose-trt" / "cpu-pipeline")
    parser.add_argument("--out", type=Path, default=HERE / "op-profile")
    ours = [s for s in SYSTEMS if s in OUR_SYSTEMS]
    parser.add_argument("--systems", default=",".join(ours), help="comma-separated subset of " + ", ".join(ours))
    parser.add_argument("--profile", choices=ours, help=argparse.SUPPRESS)
    parser.add_argument("--paths", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.profile:
        print(json.dumps(profile(args.profile, json.loads(args.paths), args.threads, args.calls)))
        return 0
    systems = tuple(s.strip() for s in args.systems.split(","))
    unknown = set(systems) - set(ours)
    if unknown:
        parser.error(f"unknown systems {sorted(unknown)}; valid: {', '.join(ours)}")
    skipped = skipped_systems(systems)
    systems = tuple(s for s in systems if s not in skipped)
    paths = prepare(args.model, args.cache, systems)
    profiles = {}
    for system in systems:
        print(f"profiling {system} ...", file=sys.stderr, flush=True)
        profiles[system] = _profile_in_subprocess(system, paths, args.threads, args.calls)

    from vitpose_trt.atomic_files import write_text_atomically
    from vitpose_trt.bench.environment import environment

    results = {"model": args.model, "threads": args.threads, "batch": BATCH, "profiles": profiles,
               "skipped": skipped, "environment": environment(args.threads),
               "command": "python benchmarks/cpu_pipeline/op_profile.py " + " ".join(argv or sys.argv[1:])}
    write_text_atomically(args.out.with_suffix(".json"), json.dumps(results, indent=2))
    write_text_atomically(args.out.with_suffix(".md"), markdown(results))
    print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
