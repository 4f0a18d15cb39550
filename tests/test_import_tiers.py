"""Every module imports with the heavy libraries blocked (DESIGN.md import tiers), and CLIs answer --help."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import vitpose_trt

BLOCKED = ["torch", "tensorrt", "tensorrt_rtx", "cupy", "onnxruntime", "huggingface_hub", "pytriton", "tritonclient",
           "openvino", "nncf"]

#: Modules that subclass torch classes at import time; without torch they must raise
#: MissingDependencyError (an ImportError) with an install hint, and nothing else may import them eagerly.
TORCH_CLASS_MODULES = {"vitpose_trt.model.architecture"}

_PROBE = r"""
import importlib, importlib.abc, json, pkgutil, sys
blocked = set(sys.argv[1].split(","))
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in blocked:
            raise ImportError(f"blocked for the test: {name}")
        return None
sys.meta_path.insert(0, Block())
import vitpose_trt
results = {}
for info in pkgutil.walk_packages(vitpose_trt.__path__, "vitpose_trt."):
    try:
        importlib.import_module(info.name)
        results[info.name] = "ok"
    except Exception as exc:
        results[info.name] = f"{type(exc).__name__}: {exc}"
leaked = sorted(m for m in sys.modules if m.split(".")[0] in blocked)
print(json.dumps({"results": results, "leaked": leaked}))
"""


def test_every_module_imports_without_heavy_libraries():
    out = subprocess.run([sys.executable, "-c", _PROBE, ",".join(BLOCKED)], capture_output=True, text=True, check=True)
    report = json.loads(out.stdout)
    assert report["leaked"] == []
    assert len(report["results"]) >= 10
    for module, result in report["results"].items():
        if module in TORCH_CLASS_MODULES:
            assert result.startswith("MissingDependencyError") and "install" in result, (module, result)
        else:
            assert result == "ok", (module, result)


def _console_scripts() -> list[str]:
    import tomllib

    pyproject = Path(vitpose_trt.__file__).parents[1] / "pyproject.toml"
    return list(tomllib.loads(pyproject.read_text())["project"]["scripts"])


@pytest.mark.parametrize("script", _console_scripts())
def test_cli_help_works_without_heavy_libraries(script):
    module = {s: f"vitpose_trt.cli.{s.split('-', 1)[1]}" for s in _console_scripts()}[script]
    code = (
        "import importlib.abc, sys\n"
        f"blocked = set({BLOCKED!r})\n"
        "class B(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, n, p=None, t=None):\n"
        "        if n.split('.')[0] in blocked: raise ImportError(n)\n"
        "sys.meta_path.insert(0, B())\n"
        f"import {module} as m\n"
        "sys.exit(m.main(['--help']))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert f"usage: {script}" in out.stdout
    # Every command's help ends with its exit codes (which ones: tests/reliability/test_cli_user_errors.py).
    assert "exit codes:" in out.stdout and "\n  2    user error" in out.stdout


def test_missing_library_gives_install_hint():
    from vitpose_trt.dependencies import import_optional
    from vitpose_trt.errors import MissingDependencyError

    with pytest.raises(MissingDependencyError, match="install"):
        import_optional("vitpose_trt_no_such_library_xyz", "a test")
