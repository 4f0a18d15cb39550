"""The served models on PyTriton (NVIDIA's Python front end of a real `tritonserver`), until told to stop.

PyTriton starts the `tritonserver` binary it bundles (HTTP, gRPC and Prometheus metrics ports, health
endpoints, dynamic batching); each model's requests reach the handlers in this process through Triton's
Python backend. PyTriton and tritonclient load only when `serve` is called.

Two traps handled here: the Python backend's stub embeds `libpython3.X.so` and finds it on the default
library path, which on pyenv/conda interpreters is another patch release than the running one (models
then fail to load): the server gets the running interpreter's LIBDIR first in LD_LIBRARY_PATH. And
PyTriton 0.7's stubs are built for numpy 1.x: under numpy 2 they corrupt every output tensor, so a numpy
that violates PyTriton's own numpy requirement is refused up front.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import socket
import sysconfig
import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..dependencies import import_optional
from ..errors import ConfigError, MissingDependencyError, VitPoseError
from .protocol import TensorSpec

#: Triton's own default ports.
DEFAULT_HTTP_PORT, DEFAULT_GRPC_PORT, DEFAULT_METRICS_PORT = 8000, 8001, 8002
#: Requests Triton's dynamic batcher may group into one call of a handler.
DEFAULT_MAX_BATCH = 8
#: How long the batcher waits for more requests to fill a batch (microseconds).
DEFAULT_QUEUE_DELAY_US = 2000
#: Seconds Triton waits for in-flight requests when stopping.
DEFAULT_EXIT_TIMEOUT_S = 10
#: Seconds between checks that the server and its Python-backend proxies are still alive.
LIVENESS_PERIOD_S = 1.0
#: PyTriton guards these endpoints with a token by default; all but statistics stay guarded here, so
#: that batch sizes can be read (`PoseClient.batch_sizes`).
GUARDED_ENDPOINTS = ("shared-memory", "model-repository", "trace", "logging")
SERVE_INSTALL_HINT = "`pip install 'vitpose-trt[cpu,serve]'` (in its own environment: PyTriton 0.7 needs numpy<2)"


class ServerStopped(VitPoseError):
    """The Triton server or one of its model proxies stopped while serving."""


@dataclass(frozen=True)
class ServerOptions:
    """Where and how Triton listens and batches. host: the address of all three ports."""

    host: str = "127.0.0.1"
    http_port: int = DEFAULT_HTTP_PORT
    grpc_port: int = DEFAULT_GRPC_PORT
    metrics_port: int = DEFAULT_METRICS_PORT
    max_batch: int = DEFAULT_MAX_BATCH
    queue_delay_us: int = DEFAULT_QUEUE_DELAY_US
    exit_timeout_s: int = DEFAULT_EXIT_TIMEOUT_S

    def __post_init__(self) -> None:
        ports = (self.http_port, self.grpc_port, self.metrics_port)
        if any(not 1 <= port <= 65535 for port in ports) or len(set(ports)) != len(ports):
            raise ConfigError(f"ports must be three different numbers in 1..65535, got {ports}")
        if self.max_batch < 1 or self.queue_delay_us < 0 or self.exit_timeout_s < 0:
            raise ConfigError("max_batch must be >= 1, queue_delay_us and exit_timeout_s >= 0")

    def check_ports_free(self) -> None:
        """Raise `ConfigError` when a port cannot be bound on `host` (in use, or not an address of this machine)."""
        for name, port in (("http", self.http_port), ("grpc", self.grpc_port), ("metrics", self.metrics_port)):
            with socket.socket() as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    probe.bind((self.host, port))
                except OSError as exc:
                    raise ConfigError(f"cannot listen on {self.host}:{port} ({name}): {exc.strerror or exc}; pick "
                                      f"another --{name}-port or --host") from None


@dataclass(frozen=True)
class ServedModel:
    """One model to serve: its name, one handler per instance (`handlers`), and its tensors."""

    name: str
    handlers: tuple[Callable, ...]
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]


def serve(models: list[ServedModel], options: ServerOptions, stop: threading.Event,
          on_ready: Callable[[], None] | None = None) -> None:
    """Serve `models` until `stop` is set, then stop Triton (in-flight requests finish first).

    on_ready: called once every model is loaded and the ports listen. Raises `ServerStopped` when the
    server dies on its own, or when it did not stop cleanly (in-flight requests outlasted the exit timeout,
    and Triton cut them off); `MissingDependencyError` / `ConfigError` when PyTriton cannot run here.
    """
    options.check_ports_free()
    triton_module, model_config = pytriton_modules()
    os.environ["LD_LIBRARY_PATH"] = library_path_with_running_libpython(os.environ.get("LD_LIBRARY_PATH", ""))
    triton = triton_module.Triton(config=_triton_config(triton_module, options),
                                  security_config=triton_module.TritonSecurityConfig(
                                      restricted_endpoints=list(GUARDED_ENDPOINTS)))
    exits = []
    with triton:
        for model in models:
            _bind(triton, model_config, model, options)
        triton.run()
        _on_tritonserver_exit(triton, lambda success, code: exits.append((success, code)))
        if on_ready is not None:
            on_ready()
        while not stop.wait(LIVENESS_PERIOD_S):
            if not triton.is_alive():
                raise ServerStopped("the Triton server stopped on its own; run with --verbose for its log")
    if exits and not exits[0][0]:
        raise ServerStopped(f"the Triton server did not stop cleanly (exit code {exits[0][1]}): requests still "
                            f"running after --exit-timeout {options.exit_timeout_s} s were cut off")


def _on_tritonserver_exit(triton, callback: Callable[[bool, int], None]) -> None:
    """Have `callback(success, exit_code)` called when the tritonserver process ends. PyTriton tells only its
    log ("exited with failure") and stops alike either way; its process wrapper takes such callbacks."""
    process = getattr(triton, "_triton_server", None)
    if process is not None and hasattr(process, "register_on_exit"):
        process.register_on_exit(callback)


def pytriton_modules():
    """(pytriton.triton, pytriton.model_config), after checking numpy fits PyTriton's own requirement."""
    triton_module = import_optional("pytriton.triton", "vitpose-serve")
    check_numpy_for_pytriton()
    return triton_module, import_optional("pytriton.model_config", "vitpose-serve")


def check_numpy_for_pytriton() -> None:
    """Raise `ConfigError` when the installed numpy is outside what nvidia-pytriton declares it needs."""
    from packaging.requirements import Requirement

    try:
        requirements = importlib.metadata.requires("nvidia-pytriton") or []
    except importlib.metadata.PackageNotFoundError:
        raise MissingDependencyError(f"nvidia-pytriton is needed for vitpose-serve: install {SERVE_INSTALL_HINT}") from None
    for text in requirements:
        requirement = Requirement(text)
        if requirement.name == "numpy" and requirement.marker is None and \
                not requirement.specifier.contains(np.__version__, prereleases=True):
            raise ConfigError(
                f"nvidia-pytriton {importlib.metadata.version('nvidia-pytriton')} needs numpy{requirement.specifier} "
                f"(its Triton Python-backend stubs are built for numpy 1.x and corrupt tensors under numpy 2), but "
                f"numpy {np.__version__} is installed: serve from an environment of its own, {SERVE_INSTALL_HINT}")


def library_path_with_running_libpython(current: str) -> str:
    """LD_LIBRARY_PATH with the running interpreter's LIBDIR first (the Python-backend stub's libpython)."""
    libdir = sysconfig.get_config_var("LIBDIR") or ""
    rest = [entry for entry in current.split(os.pathsep) if entry and entry != libdir]
    return os.pathsep.join([libdir, *rest] if libdir else rest)


def _triton_config(triton_module, options: ServerOptions):
    return triton_module.TritonConfig(
        http_address=options.host, http_port=options.http_port, grpc_address=options.host,
        grpc_port=options.grpc_port, metrics_address=options.host, metrics_port=options.metrics_port,
        exit_timeout_secs=options.exit_timeout_s, allow_gpu_metrics=False if _no_gpu_metrics() else None,
        log_verbose=1 if logging.getLogger("pytriton").isEnabledFor(logging.DEBUG) else None,
    )


def _no_gpu_metrics() -> bool:
    from ..gpus import gpu_visible

    return not gpu_visible()


def _bind(triton, model_config, model: ServedModel, options: ServerOptions) -> None:
    def tensors(specs):
        return [model_config.Tensor(name=s.name, dtype=s.dtype, shape=s.shape, optional=s.optional) for s in specs]

    batcher = model_config.DynamicBatcher(max_queue_delay_microseconds=options.queue_delay_us)
    triton.bind(model_name=model.name, infer_func=list(model.handlers), inputs=tensors(model.inputs),
                outputs=tensors(model.outputs),
                config=model_config.ModelConfig(max_batch_size=options.max_batch, batcher=batcher))
