"""Writing files so that nobody ever sees half of one, and taking turns on a path across processes.

Every file vitpose-trt writes (ONNX files, engines, sidecars, reports, results, rendered images and
videos) is first written under a temporary name in the destination folder and then moved over the
real name with `os.replace`, which is atomic within one file system: a reader sees the old file or
the new one, and a crash or Ctrl-C leaves at most a hidden `TEMP_PREFIX` file, never a truncated
artifact under the real name. `path_lock` serialises whole jobs on one output (two builds of one
engine, two exports of one model into one folder) across processes.

Standard library only, plus `filelock` (a core dependency) inside `path_lock`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

#: Prefix of in-progress temp files and folders, so a crashed run's leftovers are recognisable.
TEMP_PREFIX = ".vitpose-trt-"
#: Folder under the system temp dir that holds the per-path lock files.
LOCK_DIR = "vitpose-trt-locks"


def _temp_name(path: Path) -> Path:
    # The suffix stays last: OpenCV picks the image / video encoder by it.
    return path.with_name(f"{TEMP_PREFIX}{path.stem}.{os.getpid()}.{uuid.uuid4().hex[:12]}{path.suffix}")


def _synced(path: Path) -> None:
    """Flush `path`'s data to disk, so the rename never publishes a file whose blocks are still in flight."""
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


@contextmanager
def staged_path(path: str | Path) -> Iterator[Path]:
    """Yield a fresh temp path beside `path` (same suffix, not yet created) for the caller to write.

    When the block ends normally the temp file is synced and moved over `path`; when it raises
    (KeyboardInterrupt included) the temp file is deleted and `path` is untouched. The parent folder
    is created if needed. New files get the usual mode (0666 minus the umask).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = _temp_name(path)
    try:
        yield temp
        _synced(temp)
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


@contextmanager
def staged_folder(parent: str | Path, name: str) -> Iterator[Path]:
    """Yield a new empty temp folder inside `parent` (for outputs of several files, e.g. ONNX + external
    data, that are moved into place one by one); it is removed with whatever is left in it afterwards."""
    parent = Path(parent)
    parent.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{name}.", dir=parent))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def write_bytes_atomically(path: str | Path, data: bytes | memoryview) -> Path:
    """Write `data` to `path` through `staged_path`; return `path`."""
    with staged_path(path) as temp, open(temp, "xb") as handle:
        handle.write(data)
    return Path(path)


def write_text_atomically(path: str | Path, text: str) -> Path:
    """Write `text` (UTF-8) to `path` through `staged_path`; return `path`."""
    return write_bytes_atomically(path, text.encode("utf-8"))


def path_lock(path: str | Path):
    """A `filelock.FileLock` that processes working on `path` take turns on (use it as a context manager).

    The lock file lives in the system temp folder, named by `path`'s absolute form, so output folders
    hold only outputs and read-only or network folders still work.
    """
    from filelock import FileLock

    key = hashlib.sha1(str(Path(path).resolve()).encode(), usedforsecurity=False).hexdigest()
    folder = Path(tempfile.gettempdir()) / LOCK_DIR
    folder.mkdir(exist_ok=True)
    return FileLock(folder / f"{key}.lock")
