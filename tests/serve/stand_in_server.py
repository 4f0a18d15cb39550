"""vitpose-serve's server with `vitpose_e2e` on the stand-in detector (stand_in_pipeline.py), for the tests.

Usage: python stand_in_server.py MODEL --host H --http-port N --grpc-port N --metrics-port N
Built from the same parts as vitpose-serve (instance_builder, served_models, serve); only the pipeline
factory differs, because vitpose_trt.detect does not exist yet.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from stand_in_pipeline import BrightRegionPipeline  # noqa: E402

from vitpose_trt.runtime import PoseEstimator  # noqa: E402
from vitpose_trt.serve.instances import handlers_per_instance  # noqa: E402
from vitpose_trt.serve.models import instance_builder, served_models  # noqa: E402
from vitpose_trt.serve.protocol import POSE_MODEL, RequestLimits  # noqa: E402
from vitpose_trt.serve.server import ServerOptions, serve  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("model")
    for name in ("--http-port", "--grpc-port", "--metrics-port"):
        p.add_argument(name, type=int, required=True)
    p.add_argument("--host", required=True)
    args = p.parse_args()
    stop = threading.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: stop.set())
    build = instance_builder(lambda: PoseEstimator(args.model, color="rgb", threads=1), "bright-regions",
                             RequestLimits(), make_pipeline=BrightRegionPipeline)
    first = build()
    handlers = handlers_per_instance(build, first, "cpu", 1)
    options = ServerOptions(host=args.host, http_port=args.http_port, grpc_port=args.grpc_port,
                            metrics_port=args.metrics_port, queue_delay_us=20000)
    serve(served_models(handlers, first[POSE_MODEL].estimator.keypoints.num_keypoints), options, stop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
