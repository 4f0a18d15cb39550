"""Engine-side file handling: content digests, output-directory checks and build locks.

Atomic writes and locks come from `vitpose_trt.atomic_files` (`write_bytes_atomically`, `path_lock`).
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterable
from pathlib import Path

from ..atomic_files import TEMP_PREFIX, path_lock
from ..errors import ConfigError

#: Bytes read at a time when hashing (engines and ONNX weights can be gigabytes).
HASH_CHUNK = 1 << 24


def writable_directory(path: Path) -> Path:
    """Create `path` if needed and check that files can be created in it; ConfigError otherwise."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(prefix=TEMP_PREFIX, dir=path):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError(f"cannot write engines to {path}: {reason}; choose another --output-dir") from exc
    return path


def sha256_of_files(paths: Iterable[Path]) -> str:
    """Hex sha256 over the concatenated contents of `paths`, in the order given."""
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as handle:
            while chunk := handle.read(HASH_CHUNK):
                digest.update(chunk)
    return digest.hexdigest()


def build_lock(engine_path: Path):
    """A FileLock that serialises builds of the same engine file across processes (`atomic_files.path_lock`)."""
    return path_lock(engine_path)


def sha256_of_bytes(data: bytes | memoryview) -> str:
    return hashlib.sha256(data).hexdigest()
