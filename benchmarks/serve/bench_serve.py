"""Serving load test: vitpose-serve (PyTriton, dynamic batching) vs the in-process PoseEstimator.

For each ONNX model, ROUNDS times: start `vitpose-serve MODEL --threads T --instances I` on loopback for
each I in --instances, send REQUESTS requests from CLIENTS concurrent gRPC clients (raw pixels, then
JPEG bytes), stop it; then run the same loop in-process (CLIENTS threads calling one PoseEstimator with T
threads). Rounds interleave the systems, so load from elsewhere on the machine hits both alike. Writes
results.json and results.md (p50/p99 latency, throughput, the served / in-process ratio, the batch sizes
the server formed). Run it in the serving environment (numpy 1.x, PyTriton): see run.sh. Loopback only,
bounded in count and time; every server is stopped.

Usage: python bench_serve.py MODEL.onnx [...] --out DIR [--clients 4] [--requests 32] [--rounds 3]
       [--threads 2] [--instances 1,2] [--persons 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from vitpose_trt.bench.pipeline import image_for_pipeline, person_boxes
from vitpose_trt.bench.server_load import LoadPlan, in_process_sender, merged_load_report, run_load, server_sender
from vitpose_trt.runtime import PoseEstimator
from vitpose_trt.serve import PoseClient

LOOPBACK = "127.0.0.1"
START_TIMEOUT_S, STOP_TIMEOUT_S, TIME_LIMIT_S = 180, 60, 900
#: The server's batching: up to this many requests per batch, waiting up to this long for them.
MAX_BATCH, QUEUE_DELAY_US = 8, 2000
#: The issue's bar: served throughput at least this fraction of in-process (serving overhead under 10%).
MIN_RATIO = 0.9
#: Requests of the serving-path-only run (no inference: fast).
OVERHEAD_REQUESTS = 256


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind((LOOPBACK, 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def start_server(model: Path, threads: int, instances: int, log: Path) -> tuple[subprocess.Popen, int]:
    http, grpc, metrics = free_ports(3)
    command = [sys.executable, "-m", "vitpose_trt.cli.serve", str(model), "--threads", str(threads), "--instances",
               str(instances), "--host", LOOPBACK, "--http-port", str(http), "--grpc-port", str(grpc),
               "--metrics-port", str(metrics), "--max-batch", str(MAX_BATCH), "--queue-delay-us", str(QUEUE_DELAY_US)]
    process = subprocess.Popen(command, stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + START_TIMEOUT_S
    with PoseClient(f"{LOOPBACK}:{grpc}", timeout_s=5) as client:
        while not client.is_ready():
            if process.poll() is not None or time.monotonic() > deadline:
                stop_server(process)
                raise SystemExit(f"server did not start; log: {log}")
            time.sleep(0.5)
    return process, grpc


def stop_server(process: subprocess.Popen) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    return process.returncode


def served_round(model: Path, args, instances: int, image, boxes, plan: LoadPlan, log: Path) -> dict:
    """{"raw": report, "jpeg": report} from one server start, each with the batch sizes formed during it."""
    process, grpc = start_server(model, args.threads, instances, log)
    url, runs = f"{LOOPBACK}:{grpc}", {}
    try:
        for name, encode in (("raw", None), ("jpeg", ".jpg")):
            with PoseClient(url) as client:
                before = client.batch_stats().executions
            runs[name] = run_load(server_sender(url, encode=encode), image, boxes, plan)
            with PoseClient(url) as client:
                after = client.batch_stats().executions
            runs[name]["server_batches"] = {size: count - before.get(size, 0) for size, count in after.items()}
    finally:
        code = stop_server(process)
    if code != 0:
        raise SystemExit(f"vitpose-serve exited with {code} on SIGTERM; log: {log}")
    return runs


def _merged(reports: list[dict]) -> dict:
    merged = merged_load_report(reports)
    if "server_batches" in reports[0]:
        sizes = sorted({size for r in reports for size in r["server_batches"]})
        merged["server_batches"] = {str(s): sum(r["server_batches"].get(s, 0) for r in reports) for s in sizes}
        merged["server_batches"] = {s: n for s, n in merged["server_batches"].items() if n}
    return merged


def model_result(model: Path, args, image, boxes, plan: LoadPlan, out: Path) -> dict:
    estimator = PoseEstimator(model, color="rgb", threads=args.threads)
    served = {(i, kind): [] for i in args.instances for kind in ("raw", "jpeg")}
    in_process = []
    for _ in range(args.rounds):
        for instances in args.instances:
            runs = served_round(model, args, instances, image, boxes, plan, out / f"server-{model.stem}.log")
            for kind, report in runs.items():
                served[(instances, kind)].append(report)
        in_process.append(run_load(in_process_sender(estimator), image, boxes, plan))
    base = _merged(in_process)
    rows = {f"served, {i} instance{'s' * (i > 1)}, {'raw pixels' if k == 'raw' else 'JPEG bytes'}": _merged(reports)
            for (i, k), reports in served.items()}
    for report in rows.values():
        report["ratio"] = report["persons_per_s"] / base["persons_per_s"]
    return {"model": model.stem, "served": rows, "in_process": base}


def markdown(results: list[dict], setup: dict) -> str:
    lines = [f"Setup: {setup['clients']} concurrent gRPC clients, {setup['requests']} requests x {setup['rounds']} "
             f"rounds per row, {setup['persons']} persons per request ({setup['image']}), flip test on; ONNX Runtime "
             f"with {setup['threads']} threads in the server and in-process; server max batch {MAX_BATCH} requests, "
             f"queue delay {QUEUE_DELAY_US} us; {setup['machine']}, load average {setup['load_before']} before / "
             f"{setup['load_after']} after (other work shares this machine).", "",
             "| model | run | p50 ms | p99 ms | requests/s | persons/s | vs in-process | server batch sizes (count) |",
             "|---|---|---|---|---|---|---|---|"]
    for result in results:
        rows = [*result["served"].items(), ("in-process, concurrent calls", result["in_process"])]
        for label, run in rows:
            batches = ", ".join(f"{size}: {count}" for size, count in run.get("server_batches", {}).items()) or "-"
            lines.append(f"| {result['model']} | {label} | {run['latency_ms']['p50']:.0f} | "
                         f"{run['latency_ms']['p99']:.0f} | {run['requests_per_s']:.2f} | {run['persons_per_s']:.2f} | "
                         f"{run.get('ratio', 1.0):.2f}x | {batches} |")
    return "\n".join(lines) + "\n"


def overhead_run(model: Path, image, boxes, plan: LoadPlan) -> dict:
    """The serving path alone: a server (in this process) whose handler checks each request like the real
    one and answers canned poses without inference; its throughput is the ceiling serving puts on a model,
    its CPU per request (client + PyTriton proxy + checks, this process) the overhead per request."""
    import threading

    from vitpose_trt.serve.handlers import response_from_poses
    from vitpose_trt.serve.models import served_models
    from vitpose_trt.serve.protocol import RequestLimits
    from vitpose_trt.serve.request_inputs import boxes_from_request, image_from_request
    from vitpose_trt.serve.server import ServerOptions, serve

    canned = PoseEstimator(model, color="rgb", threads=1)(image, boxes)

    def no_inference(requests):
        answers = []
        for request in requests:
            image_from_request(request, "rgb", RequestLimits())
            found = boxes_from_request(request, RequestLimits()).astype(np.float32)
            answers.append(response_from_poses(type(canned)(canned.keypoints, canned.scores, found)))
        return answers

    http, grpc, metrics = free_ports(3)
    stop, result = threading.Event(), {}

    def load() -> None:
        try:
            before = os.times()
            result.update(run_load(server_sender(f"{LOOPBACK}:{grpc}"), image, boxes, plan))
            after = os.times()
            result["cpu_ms_per_request"] = ((after.user + after.system) - (before.user + before.system)) * 1000 / \
                plan.requests
        finally:
            stop.set()

    options = ServerOptions(host=LOOPBACK, http_port=http, grpc_port=grpc, metrics_port=metrics)
    serve(served_models({"vitpose": [no_inference]}, canned.num_keypoints), options, stop,
          on_ready=lambda: threading.Thread(target=load).start())
    return result


def overhead_markdown(run: dict) -> str:
    return (f"\nServing path alone (no inference, requests checked as usual, canned poses; {run['answered']} requests "
            f"from {run['clients']} clients, 1 instance): {run['requests_per_s']:.0f} requests/s, p50 "
            f"{run['latency_ms']['p50']:.1f} ms, p99 {run['latency_ms']['p99']:.1f} ms, "
            f"{run['cpu_ms_per_request']:.1f} ms CPU per request in the client + serving process.\n")


def _load() -> str:
    return " ".join(f"{v:.1f}" for v in os.getloadavg())


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", nargs="+", type=Path)
    p.add_argument("--out", type=Path, default=Path(__file__).parent)
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--requests", type=int, default=32)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--instances", type=lambda text: [int(v) for v in text.split(",")], default=[1, 2])
    p.add_argument("--persons", type=int, default=2)
    args = p.parse_args()
    image, _, label = image_for_pipeline(None)
    boxes = person_boxes(image.shape, args.persons)
    plan = LoadPlan(clients=args.clients, requests=args.requests, warmup=2, time_limit_s=TIME_LIMIT_S)
    load_before = _load()
    results = [model_result(model, args, image, boxes, plan, args.out) for model in args.models]
    overhead = overhead_run(args.models[0], image, boxes,
                            LoadPlan(clients=args.clients, requests=OVERHEAD_REQUESTS, warmup=2, time_limit_s=TIME_LIMIT_S))
    setup = {"clients": args.clients, "requests": args.requests, "rounds": args.rounds, "persons": args.persons,
             "threads": args.threads, "instances": args.instances, "image": label, "numpy": np.__version__,
             "machine": f"{platform.machine()}, {os.cpu_count()} cores", "load_before": load_before,
             "load_after": _load(), "min_ratio": MIN_RATIO}
    overhead.pop("latency_samples_ms")
    for result in results:
        for report in (*result["served"].values(), result["in_process"]):
            report.pop("latency_samples_ms")
    text = markdown(results, setup) + overhead_markdown(overhead)
    (args.out / "results.json").write_text(json.dumps({"setup": setup, "results": results, "serving_path_only": overhead},
                                                      indent=2) + "\n")
    (args.out / "results.md").write_text(text)
    print(text)
    runs = [run for result in results for run in (*result["served"].values(), result["in_process"])] + [overhead]
    accounts = all(run["lost"] == run["duplicated"] == run["mismatched"] == run["failed"] == 0 for run in runs)
    return 0 if accounts else 1


if __name__ == "__main__":
    sys.exit(main())
