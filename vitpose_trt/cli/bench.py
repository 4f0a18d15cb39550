"""vitpose-bench: latency and throughput reports (model-only and end-to-end pipeline).

Model-only mode times a backend's inference on ready-made crops; pipeline mode times a whole frame
(image + N boxes -> keypoints) stage by stage. Every model x backend x precision x batch (or persons)
is one result: latency p50/p90/p99, throughput, % of the device's measured matmul peak, peak memory.
With no arguments: vitpose-b (random weights) on the best backend available here. Ctrl-C or SIGTERM
drops the case at hand and writes the report (--json / --markdown / --plot) of the cases finished so far.

With --server URL it load-tests a running pose server instead (vitpose-serve, or a Triton model
repository's `vitpose` model): --clients concurrent clients send --requests requests in all (the image
with --persons boxes each); it reports latency p50/p90/p99, throughput, and that every request got
exactly one answer, its own.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from ..errors import ConfigError
from .common import (
    EXIT_CODE_MEANINGS,
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USER_ERROR,
    add_verbose_flag,
    exit_codes_help,
    given_flags,
    run_command,
)

DEFAULT_MODEL = "vitpose-b"
#: The exit codes vitpose-bench ends with (no inputs to skip, no --strict or --resume).
EXIT_CODES = {EXIT_OK: "done: the report is written", EXIT_FAILURE: EXIT_CODE_MEANINGS[EXIT_FAILURE]
              + "; --server: a request failed, lost, answered twice or with another request's poses",
              EXIT_USER_ERROR: "user error (arguments, missing or unusable files, no pose server at --server)",
              EXIT_INTERRUPTED: "stopped by Ctrl-C or SIGTERM; the report of the finished cases is written"}
DEFAULT_BATCHES = "1,8"
#: Timed / warm-up calls per case when not given: few on a CPU (seconds per call), more on a GPU.
DEFAULT_ITERS = {"cpu": 10, "cuda": 100}
DEFAULT_WARMUP = {"cpu": 2, "cuda": 10}
#: Server load test defaults: concurrent clients, requests in all, seconds before it stops sending.
DEFAULT_CLIENTS, DEFAULT_REQUESTS, LOAD_TIME_LIMIT_S = 4, 64, 600.0
DEFAULT_PROTOCOL, DEFAULT_LOAD_WARMUP = "grpc", 1
#: Options (flag -> argparse dest) of one mode only: given in the other, they would be silently ignored. Their
#: defaults are None (applied where used), so that any value given shows.
BENCH_ONLY = {f"--{dest.replace('_', '-')}": dest for dest in (
    "model", "backend", "precision", "batch", "iters", "threads", "pipeline", "detector", "markdown", "plot",
    "cache_dir")}
SERVER_ONLY = {f"--{dest}": dest for dest in ("protocol", "clients", "requests", "encode")}
#: Largest batch / persons accepted (a sanity bound; engines are built for far less).
MAX_BATCH = 4096


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vitpose-bench", description=__doc__, epilog=exit_codes_help(EXIT_CODES),
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", help="comma-separated model names (vitpose-s, ...), files (.onnx, .engine, checkpoint) "
                   "or Hugging Face Hub ids (org/name[@revision], e.g. usyd-community/vitpose-base-simple) (default "
                   f"{DEFAULT_MODEL})")
    p.add_argument("--backend", help="comma-separated: tensorrt, onnxruntime, openvino, torch (default: the best "
                   "available of tensorrt, onnxruntime, torch)")
    p.add_argument("--precision", help="comma-separated: fp32, fp16, bf16 (openvino), int8 (default: the "
                   "backend's usual one)")
    p.add_argument("--batch", help=f"comma-separated crops per call, model-only mode (default {DEFAULT_BATCHES})")
    p.add_argument("--iters", help="timed calls per case (default 10 on a CPU, 100 with a GPU)")
    p.add_argument("--warmup", help="untimed calls per case first (default 2 on a CPU, 10 with a GPU); with "
                   f"--server, requests per client before the timed ones (default {DEFAULT_LOAD_WARMUP})")
    p.add_argument("--threads", help="CPU threads for the backends and the matmul peak (default: usable cores)")
    p.add_argument("--pipeline", action="store_true", default=None,
                   help="time image + boxes -> keypoints, stage by stage")
    p.add_argument("--persons", help=f"comma-separated persons per frame, pipeline mode (default {DEFAULT_BATCHES})")
    p.add_argument("--image", help="pipeline mode: image file (default: scikit-image's astronaut photo)")
    p.add_argument("--detector", metavar="DET", help="pipeline mode: also run this person detector (.onnx or "
                   ".engine) on every frame; stages detect_* in the report (poses still run on --persons boxes)")
    p.add_argument("--json", help="write the report as JSON here")
    p.add_argument("--markdown", help="write the report as Markdown here")
    p.add_argument("--plot", help="write a PNG plot of throughput vs batch here")
    s = p.add_argument_group("server load test (--server)")
    s.add_argument("--server", metavar="URL", help="host:port of a running pose server's gRPC (or --protocol http) port")
    s.add_argument("--protocol", choices=("grpc", "http"),
                   help=f"the server port's protocol (default {DEFAULT_PROTOCOL})")
    s.add_argument("--clients", help=f"concurrent clients (default {DEFAULT_CLIENTS})")
    s.add_argument("--requests", help=f"requests in all (default {DEFAULT_REQUESTS})")
    s.add_argument("--encode", choices=(".jpg", ".png"), help="send the image as JPEG/PNG bytes (default: raw pixels)")
    p.add_argument("--cache-dir", help="where exported ONNX/engines are cached (default $VITPOSE_TRT_CACHE "
                                       "or ~/.cache/vitpose-trt/bench)")
    add_verbose_flag(p)
    return p


def _names(text: str | None, flag: str) -> list[str] | None:
    if text is None:
        return None
    items = [t.strip() for t in text.split(",")]
    if not all(items):
        raise ConfigError(f"{flag} {text!r}: empty item in the comma-separated list")
    return items


def _int(text: str, flag: str, low: int, high: int | None = None) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ConfigError(f"{flag} {text!r} is not an integer") from None
    if value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"in {low}..{high}"
        raise ConfigError(f"{flag} {value} out of range: must be {bound}")
    return value


def _int_or(default: int, text: str | None, flag: str, low: int, high: int | None = None) -> int:
    """`default` when the option was not given, else its checked value (`_int`)."""
    return default if text is None else _int(text, flag, low, high)


def _ints(text: str, flag: str) -> list[int]:
    return list(dict.fromkeys(_int(t, flag, 1, MAX_BATCH) for t in _names(text, flag)))


def _checked_output(path: str | None, flag: str, suffix: str | None = None) -> Path | None:
    """The file path `flag` gave, once its folder is known to be writable or creatable (before any run)."""
    if path is None:
        return None
    out = Path(path)
    if out.is_dir():
        raise ConfigError(f"{flag} {path}: is a folder; give a file name")
    if suffix and out.suffix.lower() != suffix:
        raise ConfigError(f"{flag} {path}: must end in {suffix}")
    _checked_folder(out.parent, f"{flag} {path}")
    return out


def _checked_folder(folder: Path, what: str) -> None:
    """Raise ConfigError (starting with `what`) unless `folder` is, or can be made, a writable folder: its
    nearest existing ancestor (itself, when it exists) must be a writable folder."""
    existing = next(path for path in (folder, *folder.parents) if path.exists())
    if not existing.is_dir():
        raise ConfigError(f"{what}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"{what}: folder {existing} is not writable")


def _batches(args: argparse.Namespace) -> list[int]:
    if args.pipeline and args.batch is not None:
        raise ConfigError("--batch is for model-only mode; in --pipeline mode give --persons")
    if not args.pipeline and (args.persons is not None or args.image is not None):
        raise ConfigError("--persons and --image need --pipeline")
    text = (args.persons if args.pipeline else args.batch) or DEFAULT_BATCHES
    return _ints(text, "--persons" if args.pipeline else "--batch")


def _loop_counts(args: argparse.Namespace, on_gpu: bool) -> tuple[int, int]:
    device = "cuda" if on_gpu else "cpu"
    iters = _int_or(DEFAULT_ITERS[device], args.iters, "--iters", 1)
    warmup = _int_or(DEFAULT_WARMUP[device], args.warmup, "--warmup", 0)
    return iters, warmup


def _threads(args: argparse.Namespace) -> int:
    if args.threads is not None:
        return _int(args.threads, "--threads", 1)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _write_outputs(report: dict, outputs: dict) -> None:
    from ..atomic_files import write_text_atomically
    from ..bench.plot import write_throughput_plot
    from ..bench.report import write_json
    from ..bench.tables import markdown_report

    if outputs["json"]:
        write_json(report, outputs["json"])
    if outputs["markdown"]:
        text = markdown_report(report)
        write_text_atomically(outputs["markdown"], text)
    if outputs["plot"]:
        write_throughput_plot(report["results"], outputs["plot"])


def _bench(args: argparse.Namespace) -> int:
    if args.server is not None:
        return _server_load(args)
    server_only = given_flags(args, SERVER_ONLY)
    if server_only:
        raise ConfigError(f"{', '.join(server_only)}: only for --server (the load test of a running server)")
    from ..apps.interruption import interrupt_on_sigterm
    from ..bench.artifacts import cache_dir
    from ..bench.plan import benchmark_plan
    from ..bench.run import benchmark_report
    from ..bench.sources import model_sources
    from ..bench.tables import text_table
    from ..dependencies import import_optional
    from ..gpus import gpu_visible

    outputs = {"json": _checked_output(args.json, "--json", ".json"),
               "markdown": _checked_output(args.markdown, "--markdown"),
               "plot": _checked_output(args.plot, "--plot", ".png")}
    cache = cache_dir(args.cache_dir)
    _checked_folder(cache, f"--cache-dir {args.cache_dir}" if args.cache_dir else f"cache folder {cache}")
    if outputs["plot"]:
        import_optional("matplotlib", "--plot")
    batches, threads = _batches(args), _threads(args)
    iters, warmup = _loop_counts(args, gpu_visible())
    sources = model_sources(_names(DEFAULT_MODEL if args.model is None else args.model, "--model"))
    plan = benchmark_plan(sources, _names(args.backend, "--backend"), _names(args.precision, "--precision"), batches)
    for skip in plan.skipped:
        print(f"skipped: {skip['model']} / {skip['backend']} / {skip['precision']}: {skip['reason']}", file=sys.stderr)
    if args.detector is not None and not args.pipeline:
        raise ConfigError("--detector times detection + pose: it needs --pipeline")
    if args.detector is not None and not Path(args.detector).is_file():
        raise ConfigError(f"--detector {args.detector}: no such file")
    run_one = _pipeline_runner(args) if args.pipeline else None
    extra = {"run_one": run_one} if run_one else {}
    with interrupt_on_sigterm():
        report = benchmark_report(plan, warmup=warmup, iters=iters, threads=threads,
                                  cache=cache, command=["vitpose-bench", *args.argv], **extra)
    print(text_table(report["results"]))
    return _written_report(report, outputs)


def _written_report(report: dict, outputs: dict) -> int:
    """Write the report's files (a stopped run's too, when any case finished); return the exit code."""
    if "stopped" not in report:
        _write_outputs(report, outputs)
        return 0
    written = [str(path) for path in outputs.values() if path]
    if report["results"] and written:
        _write_outputs(report, outputs)
        outcome = f"the report of the finished cases is in {', '.join(written)}"
    else:
        outcome = "the table above holds the finished cases" if report["results"] else "no case finished"
    print(f"vitpose-bench: {report['stopped']}; {outcome}", file=sys.stderr)
    return EXIT_INTERRUPTED


def _server_load(args: argparse.Namespace) -> int:
    """--server: the load test (the model options do not apply)."""
    from ..bench.pipeline import image_for_pipeline, person_boxes
    from ..bench.server_load import LoadPlan, run_load, server_sender

    bench_only = given_flags(args, BENCH_ONLY)
    if bench_only:
        raise ConfigError(f"{', '.join(bench_only)}: not for --server (the server runs its own model; the load "
                          "test reports to the terminal and --json)")
    output = _checked_output(args.json, "--json", ".json")
    persons = _int_or(1, args.persons, "--persons", 0, MAX_BATCH)
    plan = LoadPlan(clients=_int_or(DEFAULT_CLIENTS, args.clients, "--clients", 1, MAX_BATCH),
                    requests=_int_or(DEFAULT_REQUESTS, args.requests, "--requests", 1),
                    warmup=_int_or(DEFAULT_LOAD_WARMUP, args.warmup, "--warmup", 0), time_limit_s=LOAD_TIME_LIMIT_S)
    protocol = args.protocol or DEFAULT_PROTOCOL
    image, color, label = image_for_pipeline(args.image)
    _checked_server(args.server, protocol)
    sender = server_sender(args.server, protocol, args.encode, color)
    report = {"server": args.server, "protocol": protocol, "image": label, "encode": args.encode,
              **run_load(sender, image, person_boxes(image.shape, persons), plan)}
    latency = report["latency_ms"] or {}
    print(f"{report['answered']}/{plan.requests} answered ({report['failed']} failed, {report['lost']} lost, "
          f"{report['duplicated']} duplicated, {report['mismatched']} mismatched) by {plan.clients} clients in "
          f"{report['wall_s']:.2f} s: {report['requests_per_s']:.2f} requests/s, {report['persons_per_s']:.2f} "
          f"persons/s; latency p50 {latency.get('p50', 0):.1f} ms, p99 {latency.get('p99', 0):.1f} ms")
    if output:
        from ..atomic_files import write_text_atomically

        write_text_atomically(output, json.dumps(report, indent=2) + "\n")
    account_ok = report["answered"] == plan.requests and not (report["duplicated"] or report["mismatched"])
    return EXIT_OK if account_ok else EXIT_FAILURE


def _checked_server(url: str, protocol: str) -> None:
    """Fail in one line before the load test when no pose server is ready at `url` (nothing listening there,
    another protocol's port, its model not loaded): a wrong address is the user's to fix, not a failed run."""
    from ..serve.client import PoseClient
    from ..serve.protocol import POSE_MODEL

    with PoseClient(url, protocol=protocol) as client:
        if not client.is_ready(POSE_MODEL):
            raise ConfigError(f"--server {url}: no pose server ready there ({protocol}): is it running, at this "
                              f"address and {protocol} port, with its {POSE_MODEL} model loaded?")


def _pipeline_runner(args: argparse.Namespace):
    """`run_pipeline_case` bound to the image (--image, or scikit-image's astronaut)."""
    from functools import partial

    from ..bench.pipeline import image_for_pipeline, run_pipeline_case

    image, color, label = image_for_pipeline(args.image)
    return partial(run_pipeline_case, image=image, color=color, image_label=label, detector=args.detector)


def main(argv: Sequence[str] | None = None) -> int:
    return run_command(_bench, parser(), argv)


if __name__ == "__main__":
    raise SystemExit(main())
