"""Long runs lose nothing (issue 17), through the real command-line tools in subprocesses and real signals:
unreadable files among good ones are skipped and listed (exit 3), --strict stops at the first, Ctrl-C /
SIGTERM mid-run keep the results so far (valid COCO files, a playable rendered video), and --resume
processes only the rest and ends with the results of an uninterrupted run.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from apps_data import PHOTOS, coco_file_name

#: Enough small inputs that a run lasts a few seconds on the tiny model (the signal lands mid-run).
MANY_IMAGES = 200
#: Images of the evaluation run (the first of the many photos): fewer, as it runs twice in full.
EVAL_IMAGES = 100
LONG_VIDEO_FRAMES = 150
SMALL_SIZE = (48, 64)  # width, height
#: Stream lines to wait for before sending the signal.
LINES_BEFORE_SIGNAL = 5
TIMEOUT_S = 180
POLL_S = 0.02
EXIT_SKIPPED, EXIT_USER_ERROR, EXIT_INTERRUPTED = 3, 2, 130


def _command(tool: str, *arguments) -> list[str]:
    return [sys.executable, "-m", f"vitpose_trt.cli.{tool}", *map(str, arguments)]


def _run(command: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S)


def _lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def _signalled(command: list[str], stream: Path, signum: int, logs: Path) -> subprocess.CompletedProcess:
    """Run `command`, send `signum` once `stream` has LINES_BEFORE_SIGNAL lines, wait for it to end.
    Output goes to files (a progress bar filling an unread pipe would stall the child)."""
    with open(logs / "out.txt", "w") as out, open(logs / "err.txt", "w") as err:
        process = subprocess.Popen(command, stdout=out, stderr=err, text=True)
        deadline = time.monotonic() + TIMEOUT_S
        while _lines(stream) < LINES_BEFORE_SIGNAL:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"no {LINES_BEFORE_SIGNAL} lines in {stream} while running: rc {process.wait()}\n"
                            f"{(logs / 'err.txt').read_text()}")
            time.sleep(POLL_S)
        process.send_signal(signum)
        process.wait(timeout=TIMEOUT_S)
    return subprocess.CompletedProcess(command, process.returncode, (logs / "out.txt").read_text(),
                                       (logs / "err.txt").read_text())


def _stream(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _loaded_with_pycocotools(results_file: Path, image_ids) -> dict:
    """The results file loaded by pycocotools against a ground truth of `image_ids`: {image id: results}."""
    from pycocotools.coco import COCO

    ground_truth = COCO()
    ground_truth.dataset = {"images": [{"id": i} for i in image_ids], "annotations": [],
                            "categories": [{"id": 1, "name": "person"}]}
    ground_truth.createIndex()
    loaded = ground_truth.loadRes(str(results_file))
    return {i: loaded.imgToAnns[i] for i in loaded.getImgIds() if loaded.imgToAnns[i]}


@pytest.fixture(scope="module")
def many_photos(tmp_path_factory):
    """MANY_IMAGES small crops of the astronaut photo, each a little further along (different poses)."""
    import cv2
    from skimage import data

    photo = np.ascontiguousarray(data.astronaut()[:, :, ::-1])
    folder = tmp_path_factory.mktemp("many")
    width, height = SMALL_SIZE
    for index in range(MANY_IMAGES):
        cv2.imwrite(str(folder / f"crop_{index:03d}.png"), photo[index : index + height, 2 * index : 2 * index + width])
    return folder


@pytest.fixture(scope="module")
def long_video(tmp_path_factory):
    import cv2
    from skimage import data

    photo = np.ascontiguousarray(data.astronaut()[:, :, ::-1])
    path = tmp_path_factory.mktemp("long-video") / "walk.mp4"
    width, height = SMALL_SIZE
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, (width, height))
    for index in range(LONG_VIDEO_FRAMES):
        writer.write(np.ascontiguousarray(photo[100 : 100 + height, 100 + 2 * index : 100 + 2 * index + width]))
    writer.release()
    return path


def _mixed_folder(photo_folder: Path, folder: Path) -> tuple[dict[str, str], Path]:
    """Copy the good photos into `folder` and add unreadable files under COCO-style names; return
    ({bad name: expected reason}, the chmod-000 copy of a good photo)."""
    shutil.copytree(photo_folder, folder)
    good_jpeg = (folder / coco_file_name(1, ".jpg")).read_bytes()
    good_png = (folder / coco_file_name(2, ".png")).read_bytes()
    bad = {coco_file_name(4, ".jpg"): "truncated JPEG", coco_file_name(5, ".png"): "truncated PNG",
           coco_file_name(6, ".jpg"): "empty file (0 bytes)", coco_file_name(7, ".jpg"): "not a readable image",
           coco_file_name(8, ".jpg"): "a folder, not an image file", coco_file_name(9, ".png"): "not a regular file"}
    (folder / coco_file_name(4, ".jpg")).write_bytes(good_jpeg[: len(good_jpeg) // 2])
    (folder / coco_file_name(5, ".png")).write_bytes(good_png[: len(good_png) // 2])
    (folder / coco_file_name(6, ".jpg")).write_bytes(b"")
    (folder / coco_file_name(7, ".jpg")).write_text("a text file named like a photo\n")
    (folder / coco_file_name(8, ".jpg")).mkdir()
    os.mkfifo(folder / coco_file_name(9, ".png"))
    locked = folder / coco_file_name(10, ".jpg")
    locked.write_bytes(good_jpeg)
    locked.chmod(0)
    return bad, locked


def test_bad_files_among_good_ones_are_skipped_listed_and_exit_3(tiny_onnx, photo_folder, tmp_path):
    """Every good image gets the results a clean folder gives; each bad file one warning line and a place
    in the closing list. The chmod-000 file is unreadable for normal users; root reads it anyway
    (`os.access` tells which), so then it is a good image: the folder and the fifo named like images are
    the unreadable entries that hold as root too."""
    folder = tmp_path / "mixed"
    bad, locked = _mixed_folder(photo_folder, folder)
    if not os.access(locked, os.R_OK):
        bad[locked.name] = "cannot read it (Permission denied)"
    commands = [_command("infer", tiny_onnx, folder, "--output", tmp_path / "out"),
                _command("infer", tiny_onnx, photo_folder, "--output", tmp_path / "clean"),
                _command("infer", tiny_onnx, folder, "--output", tmp_path / "strict", "--strict")]
    with ThreadPoolExecutor(len(commands)) as pool:
        mixed, clean, strict = pool.map(_run, commands)
    assert mixed.returncode == EXIT_SKIPPED, mixed.stderr
    assert clean.returncode == 0, clean.stderr
    warnings = [line for line in mixed.stderr.splitlines() if "warning: skipped" in line]
    assert len(warnings) == len(bad)
    for name, reason in bad.items():
        assert any(f"warning: skipped {name}: {reason}" in line for line in warnings), (name, warnings)
    summary = mixed.stdout.splitlines()[-2]
    assert summary.startswith(f"{10 - len(bad)} of 10 images done, {len(bad)} skipped: ")
    assert all(name in summary for name in bad)
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    expected = json.loads((tmp_path / "clean" / "results.json").read_text())
    assert [r for r in results if r["file_name"] != locked.name] == expected
    assert any(r["file_name"] == locked.name for r in results) == (locked.name not in bad)
    # --strict: the first bad file (in name order) ends the run with exit 2; the images before it are kept.
    assert strict.returncode == EXIT_USER_ERROR
    assert strict.stderr.splitlines()[-1].startswith(f"vitpose-infer: error: {coco_file_name(4, '.jpg')}: truncated")
    assert json.loads((tmp_path / "strict" / "results.json").read_text()) == expected


def test_sigint_keeps_the_results_so_far_and_resume_finishes_like_an_uninterrupted_run(tiny_onnx, many_photos,
                                                                                      tmp_path):
    out, reference = tmp_path / "out", tmp_path / "reference"
    command = _command("infer", tiny_onnx, many_photos, "--output", out)
    with ThreadPoolExecutor(1) as pool:
        uninterrupted = pool.submit(_run, _command("infer", tiny_onnx, many_photos, "--output", reference))
        stopped = _signalled(command, out / "results.jsonl", signal.SIGINT, tmp_path)
        assert uninterrupted.result().returncode == 0
    assert stopped.returncode == EXIT_INTERRUPTED, stopped.stderr
    done = _stream(out / "results.jsonl")
    assert LINES_BEFORE_SIGNAL <= len(done) < MANY_IMAGES
    assert f"interrupted (SIGINT) after {len(done)} of {MANY_IMAGES} images" in stopped.stderr
    assert f"to continue: vitpose-infer {tiny_onnx} {many_photos} --output {out} --resume" in stopped.stderr
    by_image = _loaded_with_pycocotools(out / "results.json", range(MANY_IMAGES))
    assert sorted(by_image) == sorted(r["image_id"] for r in done)
    # A crash in the middle of a write leaves half a line: --resume must cut it off, not choke on it.
    with open(out / "results.jsonl", "a") as stream:
        stream.write('{"frame": 199, "time": null, "image_id": 199, "file_na')
    resumed = _run([*command, "--resume"])
    assert resumed.returncode == 0, resumed.stderr
    assert f"--resume: {len(done)} of {MANY_IMAGES} images already done" in resumed.stdout
    assert f"{MANY_IMAGES - len(done)} frames," in resumed.stdout  # only the rest was estimated
    names = [r["file_name"] for r in _stream(out / "results.jsonl")]
    assert len(names) == len(set(names)) == MANY_IMAGES
    final = json.loads((out / "results.json").read_text())
    assert final == json.loads((reference / "results.json").read_text())


def test_sigterm_finalises_the_rendered_video_and_resume_completes_it(tiny_onnx, long_video, tmp_path):
    import cv2

    out = tmp_path / "out"
    command = _command("infer", tiny_onnx, long_video, "--render", "--score-threshold", "0", "--output", out)
    stopped = _signalled(command, out / "results.jsonl", signal.SIGTERM, tmp_path)
    assert stopped.returncode == EXIT_INTERRUPTED, stopped.stderr
    done = _stream(out / "results.jsonl")
    assert f"interrupted (SIGTERM) after {len(done)} of {LONG_VIDEO_FRAMES} frames" in stopped.stderr
    assert [r["frame"] for r in done] == list(range(len(done)))
    assert done[1]["time"] == pytest.approx(1 / 25.0)

    def frame_count(path: Path) -> int:
        capture, count = cv2.VideoCapture(str(path)), 0
        while capture.read()[0]:
            count += 1
        return count

    assert frame_count(out / "walk.mp4") == len(done)  # closed properly: it plays, every processed frame in it
    _loaded_with_pycocotools(out / "results.json", range(LONG_VIDEO_FRAMES))
    resumed = _run([*command, "--resume"])
    assert resumed.returncode == 0, resumed.stderr
    assert [r["frame"] for r in _stream(out / "results.jsonl")] == list(range(LONG_VIDEO_FRAMES))
    assert frame_count(out / "walk.mp4") == LONG_VIDEO_FRAMES  # the first part drawn again from the stream
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []


def test_a_truncated_video_ends_the_run_with_its_frames_so_far(tiny_onnx, tmp_path):
    """An AVI cut in half still opens (its header reports every frame) but stops decoding midway."""
    import cv2
    from skimage import data

    photo = np.ascontiguousarray(data.astronaut()[:, :, ::-1])
    whole = tmp_path / "whole.avi"
    writer = cv2.VideoWriter(str(whole), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, SMALL_SIZE)
    for index in range(20):
        writer.write(np.ascontiguousarray(photo[index : index + SMALL_SIZE[1], : SMALL_SIZE[0]]))
    writer.release()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    run = _run(_command("infer", tiny_onnx, cut, "--output", tmp_path / "out"))
    assert run.returncode == EXIT_SKIPPED, run.stderr
    frames = len(_stream(tmp_path / "out" / "results.jsonl"))
    assert 0 < frames < 20
    assert f"warning: skipped cut.avi: no frame decodes from frame {frames} on (the file reports 20 frames)" in run.stderr
    assert len(json.loads((tmp_path / "out" / "results.json").read_text())) == frames


def _annotations_for(folder: Path, path: Path) -> None:
    """A COCO keypoint file for the first EVAL_IMAGES crops in `folder`: one person box per image,
    keypoints at its centre."""
    width, height = SMALL_SIZE
    names = sorted(p.name for p in folder.iterdir())[:EVAL_IMAGES]
    box = [4.0, 4.0, width - 8.0, height - 8.0]
    centre = [box[0] + box[2] / 2, box[1] + box[3] / 2, 2] * 17
    images = [{"id": i + 1, "file_name": name, "width": width, "height": height} for i, name in enumerate(names)]
    annotations = [{"id": i + 1, "image_id": i + 1, "category_id": 1, "bbox": box, "area": box[2] * box[3],
                    "iscrowd": 0, "keypoints": centre, "num_keypoints": 17} for i in range(len(names))]
    categories = [{"id": 1, "name": "person", "keypoints": [f"k{i}" for i in range(17)], "skeleton": []}]
    path.write_text(json.dumps({"images": images, "annotations": annotations, "categories": categories}))


def test_eval_interrupted_keeps_its_predictions_and_resume_gives_the_same_metrics(tiny_onnx, many_photos, tmp_path):
    gt = tmp_path / "gt.json"
    _annotations_for(many_photos, gt)

    def command(out: Path) -> list[str]:
        return _command("eval", tiny_onnx, "--annotations", gt, "--images", many_photos, "--output", out,
                        "--json", out / "metrics.json")

    out = tmp_path / "out"
    with ThreadPoolExecutor(1) as pool:
        uninterrupted = pool.submit(_run, command(tmp_path / "reference"))
        stopped = _signalled(command(out), out / "predictions.jsonl", signal.SIGINT, tmp_path)
        assert uninterrupted.result().returncode == 0
    assert stopped.returncode == EXIT_INTERRUPTED, stopped.stderr
    done = _stream(out / "predictions.jsonl")
    assert LINES_BEFORE_SIGNAL <= len(done) < EVAL_IMAGES
    assert f"after {len(done)} of {EVAL_IMAGES} images of {tiny_onnx}" in stopped.stderr
    assert "AP needs every image" in stopped.stderr and "Average Precision" not in stopped.stdout
    assert not (out / "metrics.json").exists()
    assert len(_loaded_with_pycocotools(out / "predictions.json", range(1, EVAL_IMAGES + 1))) == len(done)
    resumed = _run([*command(out), "--resume"])
    assert resumed.returncode == 0, resumed.stderr
    assert f"{EVAL_IMAGES - len(done)} frames," in resumed.stdout
    metrics = json.loads((out / "metrics.json").read_text())
    expected = json.loads((tmp_path / "reference" / "metrics.json").read_text())
    metrics.pop("frames_per_second"), expected.pop("frames_per_second")
    assert metrics == expected and metrics["images"] == EVAL_IMAGES
    assert (out / "predictions.json").read_text() == (tmp_path / "reference" / "predictions.json").read_text()


def test_eval_skips_an_unreadable_image_and_scores_the_rest(tiny_onnx, photo_folder, tmp_path, capsys, monkeypatch):
    from apps_data import annotation_file, box_centre_keypoints

    from vitpose_trt.cli.eval import main

    monkeypatch.chdir(tmp_path)
    images = tmp_path / "images"
    shutil.copytree(photo_folder, images)
    broken = images / coco_file_name(PHOTOS[1][0], PHOTOS[1][2])
    broken.write_bytes(broken.read_bytes()[:100])
    annotation_file(tmp_path / "gt.json", box_centre_keypoints())
    argv = [str(tiny_onnx), "--annotations", str(tmp_path / "gt.json"), "--images", str(images)]
    assert main([*argv, "--json", "m.json"]) == EXIT_SKIPPED
    captured = capsys.readouterr()
    assert f"warning: skipped {broken.name}: truncated PNG" in captured.err
    assert f"AP over the 2 of 3 images evaluated; 1 skipped: {broken.name}" in captured.out
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert metrics["images"] == 2 and metrics["skipped"] == [{"file_name": broken.name,
                                                              "reason": "truncated PNG (no IEND chunk)"}]
    assert main([*argv, "--strict"]) == EXIT_USER_ERROR
    assert capsys.readouterr().err.strip().endswith(f"{broken.name}: truncated PNG (no IEND chunk)")


def test_resume_refuses_the_stream_of_another_run_and_without_it_starts_over(tiny_onnx, photo_folder, tmp_path,
                                                                               capsys):
    from vitpose_trt.cli.infer import main

    out = tmp_path / "out"
    assert main([str(tiny_onnx), str(photo_folder), "--output", str(out)]) == 0
    one_photo = photo_folder / coco_file_name(*PHOTOS[0][::2])
    capsys.readouterr()
    assert main([str(tiny_onnx), str(one_photo), "--output", str(out), "--resume"]) == EXIT_USER_ERROR
    error = capsys.readouterr().err.strip()
    assert "--resume: " in error and "belongs to another run (input " in error and "drop --resume" in error
    assert len(_stream(out / "results.jsonl")) == len(PHOTOS)  # refused: left as it was
    assert main([str(tiny_onnx), str(one_photo), "--output", str(out)]) == 0
    assert [r["file_name"] for r in _stream(out / "results.jsonl")] == [one_photo.name]  # replaced, not appended


def test_resume_refuses_when_the_model_file_was_rebuilt_in_place(tiny_onnx, photo_folder, tmp_path, capsys):
    """Same path, other weights: the stopped run's results came from another model, so it is not continued."""
    import onnx
    from onnx import numpy_helper

    from vitpose_trt.cli.infer import main

    model, out = tmp_path / "pose.onnx", tmp_path / "out"
    shutil.copyfile(tiny_onnx, model)
    one_photo = photo_folder / coco_file_name(*PHOTOS[0][::2])
    assert main([str(model), str(one_photo), "--output", str(out)]) == 0
    assert main([str(model), str(one_photo), "--output", str(out), "--resume"]) == 0  # unchanged: resumes
    graph = onnx.load(str(model))
    weight = max(graph.graph.initializer, key=lambda t: int(np.prod(t.dims)))
    weight.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(weight) * 2, weight.name))
    onnx.save(graph, str(model))
    capsys.readouterr()
    assert main([str(model), str(one_photo), "--output", str(out), "--resume"]) == EXIT_USER_ERROR
    error = capsys.readouterr().err.strip()
    assert "belongs to another run (model_fingerprint '" in error and "drop --resume" in error
