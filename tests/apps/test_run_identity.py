"""Run identities for --resume: resolved paths and content fingerprints that tell a rebuilt model file apart."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

from vitpose_trt.apps.run_identity import SAMPLE_BYTES, content_fingerprint, identified_paths, resolved_path

#: Larger than the three samples together, so that bytes between them exist (and are not hashed).
SIZE = 5 * SAMPLE_BYTES


@pytest.fixture
def model_file(tmp_path):
    path = tmp_path / "model.onnx"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, SIZE, dtype=np.uint8).tobytes())
    return path


def _rewritten(path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("offset", [0, SIZE // 2, SIZE - 1])
def test_a_change_in_a_sampled_block_changes_the_fingerprint(model_file, offset):
    before = content_fingerprint(model_file)
    _rewritten(model_file, offset)
    assert content_fingerprint(model_file) != before


def test_the_fingerprint_is_of_content_not_path_or_time(model_file, tmp_path):
    before = content_fingerprint(model_file)
    assert before == f"{SIZE} bytes, sha256 {before.split()[-1]}" and len(before.split()[-1]) == 16
    copy = tmp_path / "elsewhere.onnx"
    shutil.copyfile(model_file, copy)
    os.utime(copy, (0, 0))
    assert content_fingerprint(copy) == before
    with open(model_file, "ab") as f:
        f.write(b"\0")
    assert content_fingerprint(model_file) != before  # size and end sample


def test_a_folder_is_fingerprinted_file_by_file(tmp_path):
    folder = tmp_path / "hf"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"weights")
    before = content_fingerprint(folder)
    assert before.startswith("9 bytes, ")
    (folder / "model.safetensors").rename(folder / "other.safetensors")
    assert content_fingerprint(folder) != before


def test_names_and_hub_ids_have_no_fingerprint(model_file):
    assert content_fingerprint("vitpose-b") is None and content_fingerprint("org/name@main") is None
    assert content_fingerprint(None) is None and resolved_path(None) is None
    assert resolved_path("vitpose-b") == "vitpose-b"
    identity = identified_paths(model=model_file, detector=None)
    assert identity == {"model": str(model_file.resolve()), "model_fingerprint": content_fingerprint(model_file),
                        "detector": None, "detector_fingerprint": None}
