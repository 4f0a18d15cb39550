"""ONNX Runtime vs PyTorch eager on a shared CPU: interleaved rounds, so both see the same load.

On a machine shared with other jobs the load changes from second to second, and a backend timed a minute
after another sees a different machine. Here every round runs, back to back: one matmul-peak measurement,
then `CALLS` timed calls of each backend (order flipped every round), all in one process with the same
thread count. Per round: throughput of each backend, its % of that round's peak, and the ONNX Runtime /
PyTorch speed ratio. The summary is the median over rounds (and the min-latency view: each backend's
fastest call over all rounds, the closest to an unloaded machine).

usage: python benchmarks/model_only/interleaved_cpu.py [--model vitpose-s] [--batch 1,8] [--threads 2]
       [--rounds 12] [--calls 3] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import statistics

from vitpose_trt.bench.artifacts import cache_dir
from vitpose_trt.bench.environment import environment
from vitpose_trt.bench.model_only import flops_per_crop
from vitpose_trt.atomic_files import write_text_atomically
from vitpose_trt.bench.roofline import cpu_matmul_peak
from vitpose_trt.bench.sources import model_source
from vitpose_trt.bench.targets import backend_source, loaded_target
from vitpose_trt.bench.timing import timed_calls

BACKENDS = ("onnxruntime", "torch")
WARMUP = 3
#: Smaller than the report's 2048 so a peak measurement fits between two rounds (~0.1-0.3 s).
PEAK_MATRIX = 1024


def rounds_for_batch(model: str, batch: int, threads: int, rounds: int, calls: int) -> dict:
    source = model_source(model)
    targets = {b: loaded_target(source, b, backend_source(source, b, "fp32", batch, cache_dir()), batch, threads)
               for b in BACKENDS}
    flops = flops_per_crop(targets["onnxruntime"].metadata)
    for target in targets.values():
        timed_calls(target.run, WARMUP, 1)
    per_round = []
    for i in range(rounds):
        peak = cpu_matmul_peak(threads, size=PEAK_MATRIX, repeats=3).flops_per_s
        row = {"peak_gflops": peak / 1e9}
        for b in BACKENDS if i % 2 == 0 else BACKENDS[::-1]:
            seconds = timed_calls(targets[b].run, 0, calls)
            row[b] = {"seconds": seconds, "crops_per_s": batch * calls / sum(seconds)}
            row[b]["roofline_percent"] = 100 * row[b]["crops_per_s"] * flops / peak
        row["ort_over_torch"] = row["onnxruntime"]["crops_per_s"] / row["torch"]["crops_per_s"]
        per_round.append(row)
    summary = {"batch": batch, "threads": threads, "rounds": rounds, "calls_per_round": calls,
               "flops_per_crop": flops, "median_peak_gflops": statistics.median(r["peak_gflops"] for r in per_round),
               "median_ort_over_torch": statistics.median(r["ort_over_torch"] for r in per_round),
               "rounds_ort_faster": sum(r["ort_over_torch"] >= 1 for r in per_round)}
    for b in BACKENDS:
        summary[b] = {
            "median_crops_per_s": statistics.median(r[b]["crops_per_s"] for r in per_round),
            "median_roofline_percent": statistics.median(r[b]["roofline_percent"] for r in per_round),
            "min_latency_ms": 1000 * min(min(r[b]["seconds"]) for r in per_round),
            "median_latency_ms": 1000 * statistics.median(s for r in per_round for s in r[b]["seconds"]),
        }
    return {"summary": summary, "rounds": per_round}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="vitpose-s")
    p.add_argument("--batch", default="1,8")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=12)
    p.add_argument("--calls", type=int, default=3)
    p.add_argument("--json")
    args = p.parse_args()
    results = [rounds_for_batch(args.model, int(b), args.threads, args.rounds, args.calls)
               for b in args.batch.split(",")]
    for r in results:
        print(json.dumps(r["summary"]))
    if args.json:
        report = {"model": args.model, "environment": environment(args.threads), "results": results}
        text = json.dumps(report, indent=1) + "\n"
        write_text_atomically(args.json, text)


if __name__ == "__main__":
    main()
