"""vitpose-serve: serve pose estimation on NVIDIA Triton (through PyTriton), until SIGTERM or Ctrl-C.

Models: `vitpose` (image + person boxes -> keypoints, scores) and, with --detector, `vitpose_e2e`
(image -> boxes, keypoints, scores). Images travel as JPEG/PNG bytes (`image`) or raw (H, W, 3) uint8
pixels (`image_raw`); see vitpose_trt/serve/protocol.py and docs/serving.md. Triton's dynamic batcher
groups concurrent requests and the crops of all of them share inferences. GPU models get one instance per
visible GPU; CPU models --instances (default 2). Health: GET /v2/health/ready on the HTTP port; metrics:
GET /metrics on the metrics port. SIGTERM stops gracefully (in-flight requests finish) and exits 0.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from ..errors import ConfigError
from ..serve.protocol import MAX_BOXES, MAX_ENCODED_BYTES, MAX_IMAGE_PIXELS
from ..serve.server import (
    DEFAULT_EXIT_TIMEOUT_S,
    DEFAULT_GRPC_PORT,
    DEFAULT_HTTP_PORT,
    DEFAULT_MAX_BATCH,
    DEFAULT_METRICS_PORT,
    DEFAULT_QUEUE_DELAY_US,
)
from .common import (
    EXIT_CODE_MEANINGS,
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USER_ERROR,
    add_precision_option,
    add_verbose_flag,
    exit_codes_help,
    run_command,
)

#: CPU instances by default: with one, batches run one after another and the CPU idles during their Python
#: parts (benchmarks/serve/README.md).
DEFAULT_CPU_INSTANCES = 2
#: Signals that stop the server gracefully.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
#: The exit codes vitpose-serve ends with.
EXIT_CODES = {EXIT_OK: "stopped by SIGTERM or Ctrl-C, in-flight requests finished",
              EXIT_FAILURE: EXIT_CODE_MEANINGS[EXIT_FAILURE] + "; requests cut off at --exit-timeout",
              EXIT_USER_ERROR: "user error (arguments, missing or unusable files, ports in use)"}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vitpose-serve", description=__doc__, epilog=exit_codes_help(EXIT_CODES),
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", metavar="MODEL", help="pose model: engine (.engine/.plan), ONNX, checkpoint, model name "
                   "or Hugging Face Hub id (as PoseEstimator takes)")
    p.add_argument("--detector", metavar="DET", help="person detector (.onnx/.engine): also serve vitpose_e2e")
    p.add_argument("--backend", default="auto", help="auto (by MODEL), onnxruntime, openvino, torch, tensorrt or "
                   "torch-cuda")
    add_precision_option(p)
    p.add_argument("--color", default="rgb", choices=("rgb", "bgr"), help="channel order of image_raw (default rgb)")
    p.add_argument("--host", default="127.0.0.1", help="address of all ports (default 127.0.0.1; 0.0.0.0 in a "
                   "container)")
    p.add_argument("--http-port", type=int, default=DEFAULT_HTTP_PORT, metavar="N")
    p.add_argument("--grpc-port", type=int, default=DEFAULT_GRPC_PORT, metavar="N")
    p.add_argument("--metrics-port", type=int, default=DEFAULT_METRICS_PORT, metavar="N")
    p.add_argument("--max-batch", type=int, default=DEFAULT_MAX_BATCH, metavar="N",
                   help=f"most requests per batch (default {DEFAULT_MAX_BATCH})")
    p.add_argument("--queue-delay-us", type=int, default=DEFAULT_QUEUE_DELAY_US, metavar="US",
                   help=f"how long a request may wait for others to batch with (default {DEFAULT_QUEUE_DELAY_US})")
    p.add_argument("--instances", type=int, default=DEFAULT_CPU_INSTANCES, metavar="N",
                   help=f"instances of a CPU model, sharing it (default {DEFAULT_CPU_INSTANCES}: one batch's crops and "
                   "decoding overlap another's inference); GPU models get one per visible GPU")
    p.add_argument("--threads", type=int, metavar="N", help="CPU threads per inference (CPU backends)")
    p.add_argument("--max-boxes", type=int, default=MAX_BOXES, metavar="N", help=f"per request (default {MAX_BOXES})")
    p.add_argument("--max-image-pixels", type=int, default=MAX_IMAGE_PIXELS, metavar="N",
                   help=f"largest image accepted (default {MAX_IMAGE_PIXELS})")
    p.add_argument("--exit-timeout", type=int, default=DEFAULT_EXIT_TIMEOUT_S, metavar="S",
                   help=f"seconds in-flight requests get when stopping (default {DEFAULT_EXIT_TIMEOUT_S})")
    add_verbose_flag(p)
    return p


def _serve(args: argparse.Namespace) -> int:
    from ..serve.instances import handlers_per_instance
    from ..serve.models import instance_builder, served_models
    from ..serve.protocol import POSE_MODEL, RequestLimits
    from ..serve.server import ServerOptions, pytriton_modules, serve

    if args.precision is not None:  # a precision the backend cannot compute in is refused before anything loads
        from ..runtime.backends import checked_precision

        checked_precision(args.model, args.backend, args.precision)
    options = ServerOptions(host=args.host, http_port=args.http_port, grpc_port=args.grpc_port,
                            metrics_port=args.metrics_port, max_batch=args.max_batch,
                            queue_delay_us=args.queue_delay_us, exit_timeout_s=args.exit_timeout)
    options.check_ports_free()
    limits = RequestLimits(max_image_pixels=args.max_image_pixels, max_encoded_bytes=MAX_ENCODED_BYTES,
                           max_boxes=args.max_boxes)
    if args.detector is not None and not Path(args.detector).is_file():
        raise ConfigError(f"--detector {args.detector}: no such file")  # before loading anything
    pytriton_modules()
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING)
    stop = _stop_on_signals()

    from ..runtime import PoseEstimator

    build = instance_builder(lambda: PoseEstimator(args.model, backend=args.backend, color=args.color,
                                                   threads=args.threads, precision=args.precision),
                             args.detector, limits)
    first = build()
    estimator = first[POSE_MODEL].estimator
    handlers = handlers_per_instance(build, first, estimator.backend.device, args.instances)
    models = served_models(handlers, estimator.keypoints.num_keypoints)
    serve(models, options, stop, on_ready=lambda: _say_ready(options, models))
    print("vitpose-serve: stopped", flush=True)
    return 0


def _stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT (the server then stops gracefully)."""
    stop = threading.Event()
    for number in STOP_SIGNALS:
        signal.signal(number, lambda *_: stop.set())
    return stop


def _say_ready(options, models) -> None:
    names = ", ".join(f"{m.name} ({len(m.handlers)} instance{'s' * (len(m.handlers) > 1)})" for m in models)
    print(f"vitpose-serve: ready: {names}; http {options.host}:{options.http_port}, grpc {options.host}:"
          f"{options.grpc_port}, metrics {options.host}:{options.metrics_port}", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    return run_command(_serve, parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
