"""Every command-line tool answers a user error with exit code 2 and one line on stderr, never a traceback.

Each row of the table is a real invocation (`python -m vitpose_trt.cli.<tool> ...` in a subprocess, run a
few at a time); `--verbose` adds the traceback.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

#: (tool, arguments, a fragment of the expected error line). Paths refer to the `workspace` fixture.
BAD_INVOCATIONS = [
    ("export", "--precision fp64", "unknown precision"),
    ("export", "--model nope", "unknown model"),
    ("export", "--dataset nope", "unknown keypoint set"),
    ("export", "--weights missing.pth", "weights not found"),
    ("export", "--weights notes.json --precision fp32 --builder none", "not a PyTorch checkpoint"),
    ("export", "--opset 99", "unsupported opset"),
    ("export", "--opset abc", "invalid int value"),
    ("export", "--batch 8:4:2", "MIN <= OPT <= MAX"),
    ("export", "--batch a:b:c", "must be integers"),
    ("export", "--calib-count 0", "--calib-count"),
    ("export", "--calib-images missing", "calibration folder"),
    ("export", "--builder nope", "unknown builder"),
    ("export", "--output a-file", "cannot create output folder"),
    ("export", "--compute-capability 9.9 --builder tensorrt-rtx", "cannot target compute capability"),
    ("export", "--unknown-flag", "unrecognized arguments"),
    ("export", "--builder none --workspace 512", "--workspace only applies to engine builds"),
    ("export", "--triton-net python", "--triton-net needs --triton-repo"),
    ("export", "--triton-repo repo --triton-net tensorrt --builder none", "needs an engine"),
    ("export", "--triton-repo repo --triton-net cuda", "unknown Triton net backend"),
    ("bench", "--server 127.0.0.1:1 --backend onnxruntime", "not for --server"),
    ("bench", "--clients 3", "only for --server"),
    ("serve", "", "required: MODEL"),
    ("serve", "tiny.onnx --http-port 0", "1..65535"),
    ("serve", "tiny.onnx --max-boxes 0", "max_boxes must be a positive integer"),
    ("serve", "tiny.onnx --instances abc", "invalid int value"),
    ("serve", "tiny.onnx --color yuv", "invalid choice"),
    ("serve", "tiny.onnx", "vitpose-trt[cpu,serve]"),
    ("bench", "--batch 0", "out of range"),
    ("bench", "--iters x", "not an integer"),
    ("bench", "--backend nope", "unknown backend"),
    ("bench", "--model nope", "--model 'nope'"),
    ("bench", "--json empty-folder", "is a folder"),
    ("bench", "--pipeline --batch 2", "--persons"),
    ("infer", "", "required: MODEL, INPUT"),
    ("infer", "tiny.onnx missing.jpg", "no such file"),
    ("infer", "tiny.onnx photos --detections notes.json", "cannot read detections"),
    ("infer", "tiny.onnx photos --output a-file", "not a folder"),
    ("infer", "tiny.onnx photos --output a-file/sub", "cannot create this folder"),
    ("infer", "truncated.onnx photos", "re-export it with vitpose-export"),
    ("infer", "missing.onnx photos", "missing.onnx: no such model file"),
    ("infer", "vitpose-zzz photos", "not a model name"),
    ("infer", "tiny.onnx photos --backend nope", "unknown backend"),
    ("infer", "tiny.onnx photos --score-threshold 2", "--score-threshold"),
    ("infer", "tiny.onnx photos --min-box-score abc", "invalid float value"),
    ("infer", "tiny.onnx empty-folder", "no images"),
    ("infer", "tiny.onnx photos --backend tensorrt", "sidecar"),
    # OpenCV's and FFmpeg's own log lines (a cut file, no camera) stay out of the one line (shown with -v).
    ("infer", "tiny.onnx cut.mp4", "cut.mp4: OpenCV cannot open this video"),
    ("infer", "tiny.onnx 9", "camera 9: OpenCV cannot open it"),
    ("eval", "tiny.onnx", "required: --annotations, --images"),
    ("eval", "tiny.onnx --annotations missing.json --images photos", "cannot read annotations"),
    ("eval", "tiny.onnx --annotations notes.json --images photos", "cannot read annotations"),
    ("eval", "tiny.onnx --annotations empty.json --images photos", "not a COCO annotation file"),
    ("eval", "tiny.onnx --annotations empty.json --images missing", "no such folder"),
    ("eval", "tiny.onnx --annotations empty.json --images photos --oks-nms 2", "--oks-nms"),
    ("eval", "tiny.onnx --annotations empty.json --images photos --json a-file/out.json", "cannot create its folder"),
]
#: Subprocesses run at once (each spends most of its time importing).
PARALLEL = 4
TIMEOUT_S = 120


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, tiny_onnx_path):
    import cv2

    folder = tmp_path_factory.mktemp("cli-errors")
    shutil.copyfile(tiny_onnx_path, folder / "tiny.onnx")
    (folder / "truncated.onnx").write_bytes(tiny_onnx_path.read_bytes()[:2000])
    (folder / "notes.json").write_text("not json at all\n")
    (folder / "empty.json").write_text('{"images": []}\n')
    (folder / "a-file").write_text("a file, not a folder\n")
    (folder / "empty-folder").mkdir()
    (folder / "photos").mkdir()
    writer = cv2.VideoWriter(str(folder / "whole.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 10, (64, 48))
    for level in range(10):
        writer.write(np.full((48, 64, 3), 20 * level, np.uint8))
    writer.release()
    (folder / "cut.mp4").write_bytes((folder / "whole.mp4").read_bytes()[:300])  # no moov atom: FFmpeg logs
    cv2.imwrite(str(folder / "photos" / "000000000001.jpg"), np.full((96, 64, 3), 128, np.uint8))
    return folder


def _run(tool: str, arguments: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", f"vitpose_trt.cli.{tool}", *arguments.split()], cwd=cwd,
                          capture_output=True, text=True, timeout=TIMEOUT_S)


def test_every_bad_invocation_exits_2_with_one_line(workspace):
    with ThreadPoolExecutor(PARALLEL) as pool:
        runs = list(pool.map(lambda row: _run(row[0], row[1], workspace), BAD_INVOCATIONS))
    problems = []
    for (tool, arguments, fragment), run in zip(BAD_INVOCATIONS, runs):
        lines = run.stderr.splitlines()
        ok = (run.returncode == 2 and len(lines) == 1 and "Traceback" not in run.stderr
              and lines[0].startswith(f"vitpose-{tool}: error: ") and fragment in lines[0])
        if not ok:
            problems.append(f"vitpose-{tool} {arguments}: rc {run.returncode}, stderr:\n{run.stderr}")
    assert not problems, "\n\n".join(problems)
    # Nothing was written by a refused run.
    assert sorted(p.name for p in (workspace / "photos").iterdir()) == ["000000000001.jpg"]


def test_verbose_adds_the_traceback(workspace):
    run = _run("infer", "truncated.onnx photos --verbose", workspace)
    assert run.returncode == 2 and "Traceback" in run.stderr
    assert run.stderr.splitlines()[-1].startswith("vitpose-infer: error: ")


@pytest.mark.parametrize(("tool", "codes"), [("export", ["0", "1", "2", "130"]), ("bench", ["0", "1", "2", "130"]),
                                             ("serve", ["0", "1", "2"]), ("infer", ["0", "1", "2", "3", "130"]),
                                             ("eval", ["0", "1", "2", "3", "130"])])
def test_help_lists_the_exit_codes_each_tool_ends_with(tool, codes, capsys):
    """Only infer and eval skip unreadable inputs (3) and take --strict / --resume; serve is never interrupted."""
    import importlib

    with pytest.raises(SystemExit) as stopped:
        importlib.import_module(f"vitpose_trt.cli.{tool}").main(["--help"])
    assert stopped.value.code == 0
    table = capsys.readouterr().out.split("exit codes:\n")[1]
    assert [line.split()[0] for line in table.splitlines() if line[:3].strip().isdigit()] == codes
    assert ("--resume" in table) == (tool in ("infer", "eval"))
