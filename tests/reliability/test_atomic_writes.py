"""Files appear whole or not at all, and two `vitpose-export` runs into one folder take turns.

The writers (`atomic_files`, used by export, engine, media and the CLIs) are interrupted mid-write to
show that the old file survives and no temp file is left; the export lock is shown to be honoured by a
real `vitpose-export` process, and two concurrent exports of vitpose-tiny into one folder both succeed
with an ONNX file that is exactly one of the two runs' models.
"""

from __future__ import annotations

import json
import os
import queue
import stat
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from vitpose_trt.atomic_files import (
    TEMP_PREFIX,
    path_lock,
    staged_folder,
    staged_path,
    write_bytes_atomically,
    write_text_atomically,
)

EXPORT = [sys.executable, "-m", "vitpose_trt.cli.export", "--model", "vitpose-tiny", "--precision", "fp32",
          "--builder", "none"]
#: Seconds a lock-waiting export is given to (wrongly) write anything.
HOLD_SECONDS = 2.0
PROCESS_TIMEOUT = 120


class _Interrupted(Exception):
    pass


def test_interrupted_writes_keep_the_old_file_and_leave_no_temp(tmp_path):
    target = tmp_path / "model.onnx"
    target.write_bytes(b"old contents")
    with pytest.raises(_Interrupted), staged_path(target) as temp:
        temp.write_bytes(b"half of the new")
        raise _Interrupted
    with pytest.raises(KeyboardInterrupt), staged_path(target) as temp:
        temp.write_bytes(b"half of the new")
        raise KeyboardInterrupt
    assert target.read_bytes() == b"old contents"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]


def test_finished_writes_replace_the_file_with_the_usual_mode(tmp_path):
    target = tmp_path / "sub" / "report.json"
    write_text_atomically(target, '{"a": 1}\n')
    assert json.loads(target.read_text()) == {"a": 1}
    write_bytes_atomically(target, memoryview(b"[2]"))
    assert target.read_bytes() == b"[2]"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask  # not mkstemp's 0600
    assert not [p for p in target.parent.iterdir() if p.name.startswith(TEMP_PREFIX)]


def test_temp_names_keep_the_suffix_and_never_collide(tmp_path):
    target = tmp_path / "frame.png"
    with staged_path(target) as first, staged_path(target) as second:
        assert first.suffix == second.suffix == ".png" and first != second
        assert first.parent == tmp_path and first.name.startswith(TEMP_PREFIX)
        first.write_bytes(b"1")
        second.write_bytes(b"2")
    assert target.read_bytes() == b"1"  # the outer block finished last


def test_staged_folder_is_removed_with_its_leftovers(tmp_path):
    with pytest.raises(_Interrupted), staged_folder(tmp_path, "model.onnx") as folder:
        (folder / "model.onnx.data").write_bytes(b"x")
        raise _Interrupted
    assert list(tmp_path.iterdir()) == []


def test_onnx_save_failure_leaves_nothing_behind(tmp_path, tiny_onnx_path):
    """export's ONNX writer: a failed move raises ExportError and leaves the folder as it was."""
    import onnx

    from vitpose_trt.errors import ExportError
    from vitpose_trt.export.files import external_data_path, save_onnx_atomic

    target = tmp_path / "model.onnx"
    target.write_bytes(tiny_onnx_path.read_bytes())
    external_data_path(target).mkdir()  # the external data file cannot be moved over a folder
    with pytest.raises(ExportError, match="could not write"):
        save_onnx_atomic(onnx.load(str(tiny_onnx_path)), target, external_data_threshold=0)
    assert target.read_bytes() == tiny_onnx_path.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx", "model.onnx.data"]
    assert not list(external_data_path(target).iterdir())


def _export(output, *extra) -> subprocess.Popen:
    return subprocess.Popen([*EXPORT, "--output", str(output), *extra], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _lines_until(process: subprocess.Popen, text: str, timeout: float) -> list[str]:
    """stdout lines of `process` up to the first containing `text` (all of them if it ends or times out)."""
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
    seen, deadline = [], time.monotonic() + timeout
    while not seen or text not in seen[-1]:
        try:
            seen.append(lines.get(timeout=max(0.0, deadline - time.monotonic())))
        except queue.Empty:
            break
    return seen


def test_an_export_waits_while_another_holds_the_folder_lock(tmp_path):
    onnx_path = tmp_path / "vitpose-tiny.onnx"
    process = None
    try:
        with path_lock(onnx_path):
            process = _export(tmp_path)
            seen = _lines_until(process, "waiting for another export of vitpose-tiny.onnx", PROCESS_TIMEOUT)
            assert seen and "waiting for another export" in seen[-1], seen
            time.sleep(HOLD_SECONDS)
            assert process.poll() is None and not list(tmp_path.iterdir())
        assert process.wait(timeout=PROCESS_TIMEOUT) == 0, process.stderr.read()
    finally:
        if process is not None and process.poll() is None:
            process.kill()
    assert onnx_path.is_file() and (tmp_path / "vitpose-tiny.report.json").is_file()


def _checkpoint(tmp_path, seed: int):
    import torch

    import vitpose_trt as vt

    torch.manual_seed(seed)
    model = vt.load_model(name="vitpose-tiny")
    path = tmp_path / f"tiny-{seed}.pth"
    torch.save(model.state_dict(), path)
    return model, path


def test_two_concurrent_exports_into_one_folder_do_not_mix(tmp_path):
    import onnxruntime as ort
    import torch

    out = tmp_path / "out"
    runs = [_checkpoint(tmp_path, seed) for seed in (1, 2)]
    processes = [_export(out, "--weights", str(path)) for _, path in runs]
    outputs = [p.communicate(timeout=PROCESS_TIMEOUT) for p in processes]
    for process, (stdout, stderr) in zip(processes, outputs):
        assert process.returncode == 0, stderr
        assert "Traceback" not in stderr
    assert sum("waiting for another export" in stdout for stdout, _ in outputs) <= 1
    assert sorted(p.name for p in out.iterdir()) == ["vitpose-tiny.onnx", "vitpose-tiny.report.json"]
    # The ONNX left in the folder is one run's model, whole: it reproduces exactly one checkpoint.
    crops = np.random.default_rng(0).standard_normal((2, 3, 256, 192)).astype(np.float32)
    session = ort.InferenceSession(str(out / "vitpose-tiny.onnx"), providers=["CPUExecutionProvider"])
    heatmaps = session.run(None, {session.get_inputs()[0].name: crops})[0]
    matches = []
    for model, _ in runs:
        with torch.inference_mode():
            reference = model(torch.from_numpy(crops)).numpy()
        matches.append(np.linalg.norm(heatmaps - reference) / np.linalg.norm(reference) < 1e-4)
    assert sum(matches) == 1
    report = json.loads((out / "vitpose-tiny.report.json").read_text())
    assert report["within_tolerance"] and report["onnx"] == str(out / "vitpose-tiny.onnx")
