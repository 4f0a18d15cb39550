"""Triton servers for the serving tests: started as subprocesses on loopback and free ports, one at a time.

The server runs in the serving environment (numpy 1.x: PyTriton 0.7's requirement), found as
$VITPOSE_TRT_SERVE_PYTHON or <repo>/.venv-serve/bin/python (`.ci/run` makes it); the tests and the
client run in the test environment. Only one PyTriton server may run on a machine at a time, so
`ServerPool` keeps at most one alive: asking for another stops the current one first.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
SERVE_PYTHON_VARIABLE = "VITPOSE_TRT_SERVE_PYTHON"
#: Seconds a server gets to load its models and open its ports, and to stop.
START_TIMEOUT_S = 120
STOP_TIMEOUT_S = 40
LOOPBACK = "127.0.0.1"
POLL_S = 0.3


def serve_python() -> str:
    """The serving environment's interpreter; AssertionError saying how to make one when there is none."""
    path = os.environ.get(SERVE_PYTHON_VARIABLE) or str(REPO / ".venv-serve" / "bin" / "python")
    assert Path(path).exists(), (
        f"no serving environment at {path}: make it with `python3 -m venv .venv-serve && .venv-serve/bin/pip install "
        f"-e '.[cpu,serve]'` (PyTriton 0.7 needs numpy<2), or point ${SERVE_PYTHON_VARIABLE} at one")
    return path


def free_ports(count: int) -> list[int]:
    """`count` distinct TCP ports free on loopback right now."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind((LOOPBACK, 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((LOOPBACK, port)) == 0


@dataclass
class Server:
    """A running server process: its ports and log file."""

    process: subprocess.Popen
    ports: dict[str, int]
    log: Path
    models: tuple[str, ...]
    stopped_code: int | None = field(default=None)

    @property
    def grpc_url(self) -> str:
        return f"{LOOPBACK}:{self.ports['grpc']}"

    @property
    def http_url(self) -> str:
        return f"{LOOPBACK}:{self.ports['http']}"

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else "(no log)"

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Send `sig`, wait for the exit (kill after STOP_TIMEOUT_S) and return the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.stopped_code = self.process.returncode
        return self.stopped_code


def start_server(command: list[str], ports: dict[str, int], log: Path, models: tuple[str, ...]) -> Server:
    """Run `command` (its own process group, PYTHONPATH = this repo) and wait until `models` are ready."""
    from vitpose_trt.serve.client import PoseClient

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    handle = log.open("wb")
    process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, env=env, cwd=REPO,
                               start_new_session=True)
    server = Server(process, ports, log, models)
    deadline = time.monotonic() + START_TIMEOUT_S
    with PoseClient(server.grpc_url, timeout_s=5) as client:
        while not all(client.is_ready(model) for model in models):
            if process.poll() is not None or time.monotonic() > deadline:
                server.stop(signal.SIGKILL)
                raise AssertionError(f"server did not become ready (exit code {process.returncode}):\n"
                                     f"{server.log_tail()}")
            time.sleep(POLL_S)
    return server


class ServerPool:
    """At most one server at a time; `shared()` is the session's vitpose-serve, restarted when needed."""

    def __init__(self, model_path: Path, log_dir: Path):
        self.model_path, self.log_dir = model_path, log_dir
        self.current: Server | None = None
        self._shared: Server | None = None
        self._starts = 0

    def shared(self) -> Server:
        """vitpose-serve MODEL on free loopback ports (max batch 8, 20 ms queue delay)."""
        if self._shared is not None and self._shared is self.current and self._shared.process.poll() is None:
            return self._shared
        self._shared = self.start_cli([str(self.model_path), "--max-batch", "8", "--queue-delay-us", "20000",
                                       "--threads", "1"])
        return self._shared

    def start_cli(self, arguments: list[str], models: tuple[str, ...] = ("vitpose",)) -> Server:
        """`vitpose-serve` with `arguments` plus loopback ports, after stopping the current server."""
        return self.start_script(["-m", "vitpose_trt.cli.serve", *arguments], models)

    def start_script(self, arguments: list[str], models: tuple[str, ...]) -> Server:
        """The serving interpreter with `arguments` + --host/--*-port options, after stopping the current one."""
        self.stop_current()
        http, grpc, metrics = free_ports(3)
        ports = {"http": http, "grpc": grpc, "metrics": metrics}
        self._starts += 1
        command = [serve_python(), *arguments, "--host", LOOPBACK, "--http-port", str(http), "--grpc-port",
                   str(grpc), "--metrics-port", str(metrics)]
        self.current = start_server(command, ports, self.log_dir / f"server-{self._starts}.log", models)
        return self.current

    def stop_current(self) -> None:
        if self.current is not None:
            self.current.stop()
            self.current = None


def reference_poses(model_path: Path, cases: list[tuple[np.ndarray, np.ndarray]], work_dir: Path) -> list[dict]:
    """[{"keypoints", "scores"}] of `PoseEstimator(model_path)` in the serving environment, per (image RGB, boxes)."""
    arrays = {}
    for index, (image, boxes) in enumerate(cases):
        arrays[f"image_{index}"], arrays[f"boxes_{index}"] = image, np.asarray(boxes, np.float32)
    cases_path, out_path = work_dir / "cases.npz", work_dir / "reference.npz"
    np.savez(cases_path, **arrays)
    script = Path(__file__).with_name("reference_poses.py")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    subprocess.run([serve_python(), str(script), str(model_path), str(cases_path), str(out_path)], check=True,
                   env=env, timeout=START_TIMEOUT_S)
    out = np.load(out_path)
    return [{"keypoints": out[f"keypoints_{i}"], "scores": out[f"scores_{i}"]} for i in range(len(cases))]


def stats_after(client, requests: int, model: str = "vitpose", timeout_s: float = 10.0):
    """`client.batch_stats(model)` once it counts `requests` requests (Triton records them after answering)."""
    deadline = time.monotonic() + timeout_s
    stats = client.batch_stats(model)
    while stats.requests < requests and time.monotonic() < deadline:
        time.sleep(POLL_S / 3)
        stats = client.batch_stats(model)
    return stats
