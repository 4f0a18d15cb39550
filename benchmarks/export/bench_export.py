"""Time and peak memory of `vitpose-export` per precision (default: ViT-B, fp32/fp16/int8/fp8, ONNX stage only).

Each precision runs in its own `vitpose-export` process (random weights, `--builder none`), so its peak RSS
is that process's own high-water mark (`os.wait4` rusage). Every run includes the fp32 export and its check
against PyTorch; the fp32 row is that baseline, so "conversion" = run time - fp32 run time.

    python benchmarks/export/bench_export.py                     # writes results.json and results.md here
    python benchmarks/export/bench_export.py --model vitpose-s --precisions fp32,int8 --results /tmp/r
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from vitpose_trt.export.files import external_data_path, write_json_atomic

HERE = Path(__file__).resolve().parent
KIB = 1024
MIB = 1024 * KIB


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def run_export(model: str, precision: str, output: Path) -> dict:
    """One `vitpose-export` process: wall seconds, peak RSS (MiB), exit code, its report and file sizes."""
    cmd = [sys.executable, "-m", "vitpose_trt.cli.export", "--model", model, "--precision", precision,
           "--builder", "none", "--output", str(output)]
    started = time.perf_counter()
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        log.seek(0)
        tail = log.read().decode(errors="replace").splitlines()[-5:]
    stem = model if precision == "fp32" else f"{model}-{precision}"
    onnx_path = output / f"{stem}.onnx"
    row = {"precision": precision, "seconds": round(seconds, 1), "peak_rss_mib": round(usage.ru_maxrss * KIB / MIB),
           "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1), "exit_code": proc.returncode}
    if proc.returncode != 0:
        row["error"] = tail
        return row
    size = onnx_path.stat().st_size + (external_data_path(onnx_path).stat().st_size
                                       if external_data_path(onnx_path).exists() else 0)
    report = json.loads((output / f"{stem}.report.json").read_text())
    row.update(onnx_mib=round(size / MIB, 1), relative_l2=report["relative_l2"], cosine=report["cosine"])
    return row


def markdown(result: dict) -> str:
    env = result["environment"]
    lines = [
        f"# `vitpose-export` time and peak memory: {result['model']} (measured)",
        "",
        f"Measured {result['date']} on {env['cpu']} ({env['cpus']} CPUs visible), {env['python']}, torch "
        f"{env['torch']}, onnx {env['onnx']}, onnxruntime {env['onnxruntime']}, nvidia-modelopt {env['modelopt']}. "
        f"Load average before the runs: {env['load_before']}; after: {env['load_after']} (other jobs shared "
        "the machine, so times are upper bounds). Random weights; ONNX stage only (`--builder none`).",
        "",
        "Each row is one `vitpose-export --precision P` process and includes the fp32 export + check "
        "(the fp32 row); conversion = seconds - fp32 seconds. rel-L2 / cosine: converted heatmaps vs fp32 "
        "PyTorch on the 15 held-out crops.",
        "",
        "| precision | seconds | conversion s | CPU s | peak RSS MiB | ONNX MiB | rel-L2 | cosine |",
        "|---|---|---|---|---|---|---|---|",
    ]
    base = next((r["seconds"] for r in result["runs"] if r["precision"] == "fp32" and not r["exit_code"]), None)
    for r in result["runs"]:
        if r["exit_code"]:
            lines.append(f"| {r['precision']} | failed (exit {r['exit_code']}): {' '.join(r['error'])[-200:]} "
                         "| | | | | | |")
            continue
        conv = "-" if r["precision"] == "fp32" or base is None else f"{r['seconds'] - base:.1f}"
        lines.append(f"| {r['precision']} | {r['seconds']} | {conv} | {r['cpu_seconds']} | {r['peak_rss_mib']} "
                     f"| {r['onnx_mib']} | {r['relative_l2']:.2e} | {r['cosine']:.6f} |")
    return "\n".join(lines) + "\n"


def environment() -> dict:
    import modelopt
    import onnx
    import onnxruntime
    import torch

    return {"cpu": cpu_name(), "cpus": os.cpu_count(), "python": platform.python_version(),
            "torch": torch.__version__, "onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__,
            "modelopt": modelopt.__version__}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="vitpose-b")
    p.add_argument("--precisions", default="fp32,fp16,int8,fp8")
    p.add_argument("--results", default=str(HERE / "results"), help="path stem of the .json and .md written")
    args = p.parse_args(argv)
    env = {**environment(), "load_before": [round(x, 2) for x in os.getloadavg()]}
    runs = []
    with tempfile.TemporaryDirectory(prefix="vitpose-bench-export-") as tmp:
        for precision in args.precisions.split(","):
            print(f"{args.model} {precision} ...", flush=True)
            runs.append(run_export(args.model, precision, Path(tmp) / precision))
            print(f"  {runs[-1]}", flush=True)
    env["load_after"] = [round(x, 2) for x in os.getloadavg()]
    result = {"model": args.model, "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
              "environment": env, "runs": runs}
    write_json_atomic(result, Path(args.results + ".json"))
    Path(args.results + ".md").write_text(markdown(result))
    print(markdown(result))
    return 0 if all(r["exit_code"] == 0 for r in runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
