"""vitpose-infer on videos with --track (issue 15), through the real command in subprocesses: a generated
video of moving figures with --detector --track --render gives stable ids (scored against the painted truth)
and a playable mp4; Ctrl-C mid-run keeps a playable video and says at which frame it stopped; --resume goes
on with new ids; a truncated file ends the run with its frames so far; option errors."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from apps_data import WALKING_FRAMES

from vitpose_trt.apps.tracking_metrics import tracking_scores
from vitpose_trt.cli.infer import main

TIMEOUT_S = 180
EXIT_SKIPPED, EXIT_INTERRUPTED = 3, 130
#: Frames of the video a signal interrupts: enough that the run is still going when the signal lands.
LONG_FRAMES = 80
LINES_BEFORE_SIGNAL = 5


def _infer(*arguments) -> list[str]:
    return [sys.executable, "-m", "vitpose_trt.cli.infer", *map(str, arguments)]


def _stream(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "results.jsonl").read_text().splitlines()]


def _decoded_with_pyav(path: Path) -> tuple[str, int]:
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return stream.codec_context.name, sum(1 for _ in container.decode(stream))


def test_tracked_render_of_a_multi_person_video_has_stable_ids_and_plays(tiny_onnx, grid_detector_onnx,
                                                                         walking_video, tmp_path):
    video, truth = walking_video
    out = tmp_path / "out"
    done = subprocess.run(_infer(tiny_onnx, video, "--detector", grid_detector_onnx, "--track", "--render",
                                 "--output", out), capture_output=True, text=True, timeout=TIMEOUT_S)
    assert done.returncode == 0, done.stderr
    assert f"{WALKING_FRAMES} frames" in done.stdout and "frames/s" in done.stdout
    records = _stream(out)
    assert [r["frame"] for r in records] == list(range(WALKING_FRAMES))
    hypotheses = [(np.array([p["track_id"] for p in r["persons"]]),
                   np.array([p["bbox"] for p in r["persons"]]).reshape(-1, 4) @ np.array(
                       [[1, 0, 1, 0], [0, 1, 0, 1], [0, 0, 1, 0], [0, 0, 0, 1]], float)) for r in records]
    scores = tracking_scores(truth, hypotheses)
    assert scores.id_switches == 0 and scores.idf1 > 0.95, scores.describe()
    assert {p["track_id"] for r in records for p in r["persons"]} == {1, 2, 3}
    coco = json.loads((out / "results.json").read_text())
    assert len(coco) == sum(len(r["persons"]) for r in records) and "track_id" not in coco[0]
    codec, frames = _decoded_with_pyav(out / "walking.mp4")
    assert codec == "h264" and frames == WALKING_FRAMES
    import cv2

    rendered, original = cv2.VideoCapture(str(out / "walking.mp4")), cv2.VideoCapture(str(video))
    differs = []
    for _ in range(WALKING_FRAMES):
        (ok, drawn), (_, source) = rendered.read(), original.read()
        assert ok
        differs.append(np.abs(drawn.astype(int) - source.astype(int)).max() > 100)  # ids, trails, boxes drawn
    assert all(differs)


@pytest.fixture(scope="module")
def long_walk(tmp_path_factory):
    from video_scenes import scene_frames, write_video

    return write_video(tmp_path_factory.mktemp("long-walk") / "long.mp4", scene_frames(LONG_FRAMES)[0])


def test_ctrl_c_keeps_a_playable_video_says_where_it_stopped_and_resume_goes_on(tiny_onnx, grid_detector_onnx,
                                                                                 long_walk, tmp_path):
    out = tmp_path / "out"
    command = _infer(tiny_onnx, long_walk, "--detector", grid_detector_onnx, "--detector-threads", "1", "--track",
                     "--detect-every", "2", "--render", "--output", out)
    with open(tmp_path / "err.txt", "w") as err:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err)
        deadline = time.monotonic() + TIMEOUT_S
        stream = out / "results.jsonl"
        while not stream.exists() or stream.read_bytes().count(b"\n") < LINES_BEFORE_SIGNAL:
            assert process.poll() is None and time.monotonic() < deadline, (tmp_path / "err.txt").read_text()
            time.sleep(0.02)
        process.send_signal(signal.SIGINT)
        assert process.wait(TIMEOUT_S) == EXIT_INTERRUPTED
    message = (tmp_path / "err.txt").read_text()
    written = len(_stream(out))
    assert 0 < written < LONG_FRAMES, message
    assert f"interrupted (SIGINT) after {written} of {LONG_FRAMES} frames (the last: frame {written - 1})" in message
    assert "the rendered video is closed and plays" in message and "--resume" in message
    assert _decoded_with_pyav(out / "long.mp4")[1] == written
    first_ids = {p["track_id"] for r in _stream(out) for p in r["persons"]}
    resumed = subprocess.run([*command, "--resume"], capture_output=True, text=True, timeout=TIMEOUT_S)
    assert resumed.returncode == 0, resumed.stderr
    records = _stream(out)
    assert [r["frame"] for r in records] == list(range(LONG_FRAMES))
    later_ids = {p["track_id"] for r in records[written:] for p in r["persons"]}
    assert min(later_ids) > max(first_ids)  # tracking starts again: new ids, never reused
    assert _decoded_with_pyav(out / "long.mp4")[1] == LONG_FRAMES


def test_a_truncated_video_ends_the_tracked_run_with_its_frames_so_far(tiny_onnx, grid_detector_onnx, tmp_path):
    from video_scenes import scene_frames, write_video

    whole = write_video(tmp_path / "whole.avi", scene_frames(20)[0], fourcc="MJPG")
    cut = tmp_path / "cut.avi"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    run = subprocess.run(_infer(tiny_onnx, cut, "--detector", grid_detector_onnx, "--track", "--output",
                                tmp_path / "out"), capture_output=True, text=True, timeout=TIMEOUT_S)
    assert run.returncode == EXIT_SKIPPED, run.stderr
    frames = len(_stream(tmp_path / "out"))
    assert 0 < frames < 20 and f"skipped cut.avi: no frame decodes from frame {frames} on" in run.stderr


def test_tracking_option_errors_exit_2(tiny_onnx, grid_detector_onnx, walking_video, tmp_path, capsys):
    video, _ = walking_video
    cases = {
        "--track needs --detector": ["--track"],
        "--detect-every and --smooth/--no-smooth need --track": ["--detector", grid_detector_onnx, "--no-smooth"],
        "--detect-every 0 must be at least 1": ["--detector", grid_detector_onnx, "--track", "--detect-every", "0"],
        "--detector-threads needs --detector": ["--detector-threads", "1"],
    }
    for expected, extra in cases.items():
        assert main([str(tiny_onnx), str(video), *map(str, extra), "--output", str(tmp_path)]) == 2, expected
        assert expected in capsys.readouterr().err
    assert main([str(tiny_onnx), "7", "--output", str(tmp_path)]) == 2  # no camera 7 here
    assert "camera 7: OpenCV cannot open it" in capsys.readouterr().err
