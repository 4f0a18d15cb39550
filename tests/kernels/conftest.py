"""The CMake build of the crop kernel (fatbin, host tests, crops_host_tool), once per session."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def kernel_build(tmp_path_factory) -> Path:
    cmake = shutil.which("cmake")
    assert cmake, "cmake is needed (pip install cmake, in the [test] extra)"
    build = tmp_path_factory.mktemp("kernel-build")
    for command in ([cmake, "-S", str(REPO), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release"],
                    [cmake, "--build", str(build), "--parallel", "2"]):
        result = subprocess.run(command, capture_output=True, text=True)
        assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}"
    return build
