"""What a run's files are, for `--resume`: resolved paths, and fingerprints of the files that change results.

A stopped run may only be continued with the same model: a model file rebuilt in place (another precision,
new weights) keeps its path, so the identity also holds a fingerprint of its content. The fingerprint is
the size plus a SHA-256 of three 1 MiB samples (start, middle, end): fast on multi-GB files, and any
re-export changes them (weights and metadata are spread through a model file). A folder (a Hugging Face
checkpoint) is fingerprinted file by file. Standard library only.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from .results_stream import FINGERPRINT_SUFFIX

#: Bytes hashed at each of a file's start, middle and end.
SAMPLE_BYTES = 1 << 20
#: Hex digits of the digest kept (64 bits: enough to tell two versions of a file apart).
DIGEST_HEX = 16


def resolved_path(path: str | Path | None) -> str | None:
    """The absolute path of an existing file or folder; anything else (a model name, a Hub id, None) as is."""
    if path is None:
        return None
    return str(Path(path).resolve()) if Path(path).exists() else str(path)


def content_fingerprint(path: str | Path | None) -> str | None:
    """"<size> bytes, sha256 <16 hex>" of a file, or of a folder's files (names, sizes and samples, sorted by
    name); None for what is not a file or folder (a model name, a Hub id, None)."""
    if path is None or not Path(path).exists():
        return None
    path = Path(path)
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    digest, size = hashlib.sha256(), 0
    for file in files:
        if path.is_dir():
            digest.update(str(file.relative_to(path)).encode() + b"\0")
        size += _sampled_into(digest, file)
    return f"{size} bytes, sha256 {digest.hexdigest()[:DIGEST_HEX]}"


def check_resumable_model(model: str) -> None:
    """`ConfigError` for a model name without a file of that name: its random weights are drawn anew on every
    run, so a resumed stream would hold the poses of two different models."""
    from ..errors import ConfigError
    from ..specs import MODELS

    if str(model) in MODELS and not Path(model).exists():
        raise ConfigError(f"--resume: {model} is a model name with random weights, new on every run, so the "
                          "continued results would come from another model; start over without --resume")


def identified_paths(**paths: str | Path | None) -> dict:
    """{name: resolved path, name + FINGERPRINT_SUFFIX: its content fingerprint} for each keyword."""
    identity = {}
    for name, path in paths.items():
        identity[name] = resolved_path(path)
        identity[name + FINGERPRINT_SUFFIX] = content_fingerprint(path)
    return identity


def _sampled_into(digest, file: Path) -> int:
    """Feed `file`'s size and its start, middle and end samples into `digest`; return its size."""
    size = file.stat().st_size
    digest.update(size.to_bytes(8, "little"))
    with open(file, "rb") as f:
        for offset in sorted({0, max(0, size // 2 - SAMPLE_BYTES // 2), max(0, size - SAMPLE_BYTES)}):
            f.seek(offset)
            digest.update(f.read(SAMPLE_BYTES))
    return size
