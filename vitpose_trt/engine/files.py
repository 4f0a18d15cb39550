"""Engine-side file handling: atomic writes, content digests and output-directory checks."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from ..errors import ConfigError

#: Bytes read at a time when hashing (engines and ONNX weights can be gigabytes).
HASH_CHUNK = 1 << 24
#: Prefix of in-progress temp files, so a crashed build's leftovers are recognisable.
TEMP_PREFIX = ".vitpose-trt-"
#: Folder under the system temp dir for per-engine build locks.
LOCK_DIR = "vitpose-trt-locks"
#: Mode of a newly created file before the umask applies (what open() would use).
_DEFAULT_FILE_MODE = 0o666


def write_atomically(path: Path, data: bytes | memoryview) -> None:
    """Write `data` to `path` via a temp file in the same directory and os.replace.

    Readers see the old file or the new one, never a partial one. The temp file is removed when
    anything (including KeyboardInterrupt) interrupts the write.
    """
    fd, temp = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(temp, _DEFAULT_FILE_MODE & ~_current_umask())  # mkstemp makes 0600 files
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


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
    """A FileLock that serialises builds of the same engine file across processes.

    Lives in the temp folder (named by the engine's absolute path), not beside the engine, so output
    folders hold only engines and sidecars.
    """
    from filelock import FileLock

    key = hashlib.sha1(str(Path(engine_path).resolve()).encode(), usedforsecurity=False).hexdigest()
    folder = Path(tempfile.gettempdir()) / LOCK_DIR
    folder.mkdir(exist_ok=True)
    return FileLock(folder / f"{key}.lock")


def sha256_of_bytes(data: bytes | memoryview) -> str:
    return hashlib.sha256(data).hexdigest()
