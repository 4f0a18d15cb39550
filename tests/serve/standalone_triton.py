"""Run PyTriton's bundled `tritonserver` binary on a model repository, as a standalone Triton server would.

Usage: python standalone_triton.py REPO --host H --http-port N --grpc-port N --metrics-port N
(run with the serving environment's interpreter). The bundle has only the Python backend: its stub for
this Python version goes into a backend folder beside symlinks to the backend library, as PyTriton
itself does; the running interpreter's LIBDIR leads LD_LIBRARY_PATH (the stub's libpython), and this
interpreter's bin folder leads PATH (the stub's Python environment). The process becomes tritonserver
(exec), so SIGTERM reaches Triton directly.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from pytriton.utils.distribution import (
    get_libs_path,
    get_root_module_path,
    get_stub_path,
)

from vitpose_trt.serve.server import library_path_with_running_libpython


def backend_folder() -> Path:
    """A temporary backends/ folder with the Python backend and this Python's stub."""
    bundle = get_root_module_path() / "tritonserver" / "backends" / "python"
    folder = Path(tempfile.mkdtemp(prefix="triton-backends-")) / "python"
    folder.mkdir()
    for name in ("libtriton_python.so", "triton_python_backend_utils.py"):
        (folder / name).symlink_to(bundle / name)
    (folder / "triton_python_backend_stub").symlink_to(get_stub_path(f"{sys.version_info[0]}.{sys.version_info[1]}"))
    return folder.parent


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("repository")
    p.add_argument("--host", required=True)
    for name in ("--http-port", "--grpc-port", "--metrics-port"):
        p.add_argument(name, required=True)
    args = p.parse_args()
    binary = get_root_module_path() / "tritonserver" / "bin" / "tritonserver"
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = library_path_with_running_libpython(f"{env.get('LD_LIBRARY_PATH', '')}:{get_libs_path()}")
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    command = [str(binary), f"--model-repository={args.repository}", f"--backend-directory={backend_folder()}",
               f"--http-address={args.host}", f"--http-port={args.http_port}", f"--grpc-address={args.host}",
               f"--grpc-port={args.grpc_port}", f"--metrics-address={args.host}", f"--metrics-port={args.metrics_port}",
               "--allow-gpu-metrics=false", "--exit-timeout-secs=10", "--strict-readiness=true"]
    os.execve(binary, command, env)


if __name__ == "__main__":
    sys.exit(main())
