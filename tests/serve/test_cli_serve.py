"""vitpose-serve's user errors: one line, exit 2, before any model or server is loaded."""

from __future__ import annotations

import subprocess
import sys

import pytest

from vitpose_trt.cli.serve import main
from vitpose_trt.errors import ConfigError
from vitpose_trt.serve.server import (
    ServerOptions,
    check_numpy_for_pytriton,
    library_path_with_running_libpython,
)

#: Runs vitpose-serve with some modules made unimportable (as if this vitpose-trt did not have them).
_WITHOUT_MODULES = """
import importlib.abc, sys
blocked = set(sys.argv[1].split(","))
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name in blocked:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, Block())
from vitpose_trt.cli.serve import main
sys.exit(main(sys.argv[2:]))
"""


def _serve_without(modules: list[str], arguments: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", _WITHOUT_MODULES, ",".join(modules), *arguments],
                          capture_output=True, text=True, timeout=120)


def test_a_missing_detector_file_is_a_clear_user_error(served_onnx, tmp_path):
    result = _serve_without([], [str(served_onnx), "--detector", str(tmp_path / "det.onnx")])
    assert result.returncode == 2, result.stderr
    assert "--detector" in result.stderr and "no such file" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_missing_pytriton_says_what_to_install(served_onnx):
    result = _serve_without(["pytriton", "pytriton.triton"], [str(served_onnx)])
    assert result.returncode == 2, result.stderr
    assert "vitpose-trt[cpu,serve]" in result.stderr and "numpy<2" in result.stderr


@pytest.mark.parametrize(("arguments", "message"), [
    (["--http-port", "8001"], "three different numbers"),
    (["--http-port", "70000"], "1..65535"),
    (["--max-batch", "0"], "max_batch must be >= 1"),
    (["--max-boxes", "0"], "max_boxes must be a positive integer"),
    (["--precision", "bf16"], "the onnxruntime backend runs a file in the precision it was exported in"),
    (["--backend", "openvino", "--precision", "fp16"], "unknown precision 'fp16' for openvino; valid: fp32, bf16"),
])
def test_bad_options_exit_2(served_onnx, capsys, arguments, message):
    assert main([str(served_onnx), *arguments]) == 2
    assert message in capsys.readouterr().err


def test_numpy_outside_pytritons_requirement_is_refused(monkeypatch):
    """PyTriton 0.7 declares numpy<2 (its stubs corrupt tensors under numpy 2): the server refuses to start."""
    import importlib.metadata

    import numpy as np

    monkeypatch.setattr(importlib.metadata, "requires", lambda name: ["numpy<2.0.0,>=1.21", "pyzmq>=23.0"])
    monkeypatch.setattr(importlib.metadata, "version", lambda name: "0.7.0")
    monkeypatch.setattr(np, "__version__", "2.4.6")
    with pytest.raises(ConfigError, match=r"needs numpy<2.0.0,>=1.21 .* numpy 2.4.6 is installed"):
        check_numpy_for_pytriton()
    monkeypatch.setattr(np, "__version__", "1.26.4")
    check_numpy_for_pytriton()


def test_the_server_finds_the_running_libpython_first():
    import sysconfig

    libdir = sysconfig.get_config_var("LIBDIR")
    assert library_path_with_running_libpython(f"/a:{libdir}:/b").split(":") == [libdir, "/a", "/b"]
    assert library_path_with_running_libpython("") == libdir


def test_server_options_are_checked():
    with pytest.raises(ConfigError):
        ServerOptions(queue_delay_us=-1)


def test_a_port_in_use_is_a_user_error(served_onnx, capsys):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main([str(served_onnx), "--grpc-port", str(port)]) == 2
    assert f"cannot listen on 127.0.0.1:{port} (grpc)" in capsys.readouterr().err
