"""The results stream (writer, reader, COCO conversion, resume identity), the stop-request signal handling,
and the reasons given for image files that cannot be read."""

from __future__ import annotations

import json
import os
import re
import signal
import threading

import numpy as np
import pytest

from vitpose_trt.apps.image_files import UnreadableImage, image_from_file
from vitpose_trt.apps.interruption import StopRequest, interrupt_on_sigterm
from vitpose_trt.apps.media import Frame
from vitpose_trt.apps.results_stream import (
    ResultsStream,
    coco_results,
    frame_record,
    frames_from_stream,
    poses_from_record,
    resumable_file_names,
    run_file,
)
from vitpose_trt.errors import ConfigError, InputError
from vitpose_trt.runtime.poses import Poses, float32_values

K = 17
IDENTITY = {"command": "test", "model": "/models/a.onnx", "input": "/data"}


def _poses(n: int, seed: int, box_scores: bool = False) -> Poses:
    rng = np.random.default_rng(seed)
    corners = rng.uniform(0, 100, (n, 2)).astype(np.float32)
    return Poses(keypoints=rng.uniform(0, 200, (n, K, 2)).astype(np.float32),
                 scores=rng.uniform(0, 1, (n, K)).astype(np.float32),
                 boxes=np.concatenate([corners, corners + 50], axis=1),
                 box_scores=rng.uniform(0, 1, n).astype(np.float32) if box_scores else None)


def _record(index: int, persons: int = 1, box_scores: bool = False) -> dict:
    frame = Frame(np.zeros((4, 4, 3), np.uint8), 100 + index, f"{index:03d}.jpg", index)
    return frame_record(frame, _poses(persons, index, box_scores), [1] * persons)


def test_frame_record_has_the_shared_format_and_gives_back_its_poses():
    poses = _poses(2, 0, box_scores=True)
    record = frame_record(Frame(np.zeros((4, 4, 3), np.uint8), 7, "clip/3", 3, 0.12), poses, np.array([1, 1]))
    assert json.loads(json.dumps(record)) == record
    assert {k: record[k] for k in ("frame", "time", "image_id", "file_name")} == \
        {"frame": 3, "time": 0.12, "image_id": 7, "file_name": "clip/3"}
    person = record["persons"][0]
    assert set(person) == {"track_id", "bbox", "score", "box_score", "category_id", "keypoints"}
    assert person["track_id"] is None and person["category_id"] == 1 and len(person["keypoints"]) == 3 * K
    coco = poses.to_coco(7)[0]
    assert person["keypoints"] == coco["keypoints"] and person["bbox"] == coco["bbox"]
    assert person["score"] == coco["score"] and person["box_score"] == pytest.approx(float(poses.box_scores[0]))
    back = poses_from_record(record, K)
    for name in ("keypoints", "scores", "boxes", "box_scores"):
        np.testing.assert_allclose(getattr(back, name), getattr(poses, name), atol=1e-4)
    for name in ("keypoints", "scores", "box_scores"):  # float32 values come back exactly
        np.testing.assert_array_equal(getattr(back, name), getattr(poses, name))


def test_float32_values_are_written_as_their_shortest_decimals():
    values = np.array([0.9, 123.456, 1e-8, 3.0, 0.1 * 3], np.float32)
    assert float32_values(values) == [0.9, 123.456, 1e-8, 3.0, 0.3]
    assert json.dumps(float32_values(values[None])) == "[[0.9, 123.456, 1e-08, 3.0, 0.3]]"
    np.testing.assert_array_equal(np.array(float32_values(values), np.float32), values)
    poses = Poses(keypoints=values[None, :2, None].repeat(2, 2), scores=np.full((1, 2), 0.9, np.float32),
                  boxes=np.array([[0, 0, 10, 10]], np.float32), box_scores=np.array([0.9], np.float32))
    assert poses.to_coco(1)[0]["keypoints"] == [0.9, 0.9, 0.9, 123.456, 123.456, 0.9]


def test_lines_are_readable_while_the_stream_is_open_and_coco_results_follow_frame_order(tmp_path):
    path = tmp_path / "results.jsonl"
    with ResultsStream(path, IDENTITY) as stream:
        assert not path.exists()  # nothing touched before the first frame
        for index in (0, 2, 1):
            stream.write(_record(index, persons=index))  # frame 0 has no person
            assert [r["frame"] for r in frames_from_stream(path)][-1] == index  # flushed line by line
    assert json.loads(run_file(path).read_text())["identity"] == IDENTITY
    results = coco_results(frames_from_stream(path))
    assert [r["file_name"] for r in results] == ["001.jpg", "002.jpg", "002.jpg"]
    assert set(results[0]) == {"image_id", "category_id", "keypoints", "score", "bbox", "file_name"}


def test_a_line_cut_by_a_crash_is_ignored_then_cut_off_by_a_resumed_writer(tmp_path):
    path = tmp_path / "results.jsonl"
    with ResultsStream(path, IDENTITY) as stream:
        stream.write(_record(0))
        stream.write(_record(1))
    whole = path.read_bytes()
    path.write_bytes(whole + json.dumps(_record(2)).encode()[:40])  # the crash: half a line, no newline
    assert [r["frame"] for r in frames_from_stream(path)] == [0, 1]
    assert resumable_file_names(path, IDENTITY) == ["000.jpg", "001.jpg"]
    with ResultsStream(path, IDENTITY, resume=True) as stream:
        stream.write(_record(2))
    assert [r["frame"] for r in frames_from_stream(path)] == [0, 1, 2]
    assert path.read_bytes().startswith(whole) and path.read_bytes().count(b"\n") == 3


def test_a_new_run_replaces_the_stream_and_a_damaged_line_is_an_error(tmp_path):
    path = tmp_path / "results.jsonl"
    with ResultsStream(path, IDENTITY) as stream:
        stream.write(_record(0))
    with ResultsStream(path, {**IDENTITY, "model": "/models/b.onnx"}) as stream:
        stream.write(_record(5))
    assert [r["frame"] for r in frames_from_stream(path)] == [5]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    path.write_text('{"frame": 0, "persons": []}\nnot json\n{"frame": 2, "persons": []}\n')
    with pytest.raises(InputError, match="results.jsonl:2: not a results line"):
        list(frames_from_stream(path))


def test_resume_refuses_a_stream_of_another_run(tmp_path):
    path = tmp_path / "results.jsonl"
    assert resumable_file_names(path, IDENTITY) == []  # nothing to resume: start from the beginning
    with ResultsStream(path, IDENTITY) as stream:
        stream.write(_record(0))
    with pytest.raises(ConfigError, match="belongs to another run \\(model '/models/a.onnx' there, 'other' now\\)"):
        resumable_file_names(path, {**IDENTITY, "model": "other"})
    for damaged in ('{"identity": "x"}', '{"identity": [1]}', "[]", '{"other": {}}', "{cut"):
        run_file(path).write_text(damaged)
        with pytest.raises(ConfigError, match="unknown which run wrote"):
            resumable_file_names(path, IDENTITY)
    run_file(path).unlink()
    with pytest.raises(ConfigError, match="unknown which run wrote"):
        resumable_file_names(path, IDENTITY)


def test_fingerprints_are_compared_when_the_stopped_run_recorded_them(tmp_path):
    path = tmp_path / "results.jsonl"
    with ResultsStream(path, IDENTITY) as stream:  # written before fingerprints were recorded
        stream.write(_record(0))
    assert resumable_file_names(path, {**IDENTITY, "model_fingerprint": "b"}) == ["000.jpg"]
    with ResultsStream(path, {**IDENTITY, "model_fingerprint": "a"}) as stream:
        stream.write(_record(0))
    assert resumable_file_names(path, {**IDENTITY, "model_fingerprint": "a"}) == ["000.jpg"]
    with pytest.raises(ConfigError, match="belongs to another run \\(model_fingerprint 'a' there, 'b' now\\)"):
        resumable_file_names(path, {**IDENTITY, "model_fingerprint": "b"})
    with pytest.raises(ConfigError, match="model_fingerprint 'a' there, None now"):
        resumable_file_names(path, IDENTITY)


def test_first_signal_asks_to_stop_second_interrupts_and_handlers_come_back():
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    with StopRequest() as stop:
        assert not stop()
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop() and stop.signal_name == "SIGTERM"
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
    assert {s: signal.getsignal(s) for s in before} == before
    with pytest.raises(KeyboardInterrupt), interrupt_on_sigterm():
        os.kill(os.getpid(), signal.SIGTERM)
    assert signal.getsignal(signal.SIGTERM) == before[signal.SIGTERM]


def test_stop_request_outside_the_main_thread_changes_nothing():
    seen = []

    def body():
        with StopRequest() as stop:
            seen.append((stop(), signal.getsignal(signal.SIGINT)))

    thread = threading.Thread(target=body)
    thread.start()
    thread.join()
    assert seen == [(False, signal.getsignal(signal.SIGINT))]


def test_unreadable_image_files_say_why(tmp_path, astronaut_bgr):
    import cv2

    jpeg = cv2.imencode(".jpg", astronaut_bgr)[1].tobytes()
    png = cv2.imencode(".png", astronaut_bgr)[1].tobytes()
    (tmp_path / "cut.jpg").write_bytes(jpeg[: len(jpeg) * 2 // 3])
    (tmp_path / "cut.png").write_bytes(png[: len(png) // 2])
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "text.jpg").write_text("not an image")
    (tmp_path / "folder.jpg").mkdir()
    os.mkfifo(tmp_path / "pipe.png")  # reading it would block: it must be refused without opening it
    (tmp_path / "dangling.jpg").symlink_to(tmp_path / "nowhere.jpg")
    expected = {"cut.jpg": "truncated JPEG", "cut.png": "truncated PNG", "empty.jpg": "empty file (0 bytes)",
                "text.jpg": "not a readable image", "folder.jpg": "a folder", "pipe.png": "not a regular file",
                "dangling.jpg": "no such file"}
    for name, reason in expected.items():
        with pytest.raises(UnreadableImage, match=re.escape(reason)) as caught:
            image_from_file(tmp_path / name)
        assert isinstance(caught.value, InputError) and str(caught.value).startswith(str(tmp_path / name))
    (tmp_path / "whole.jpg").write_bytes(jpeg)
    assert image_from_file(tmp_path / "whole.jpg").shape == astronaut_bgr.shape


def test_a_streamed_run_keeps_its_results_file_in_step_with_its_stream(tmp_path):
    """A fresh stream removes the results file of the stream it replaces at its first line (a run killed
    from then on leaves no stale results beside it); an error still writes the results so far."""
    from vitpose_trt.apps.streamed_runs import StreamedRun

    stream, results = tmp_path / "results.jsonl", tmp_path / "results.json"
    results.write_text('[{"from": "an older run"}]')
    run = StreamedRun(stream, IDENTITY)

    def first(stop):
        run.write(_record(0))
        assert not results.exists()

    run.execute(first, results)
    assert [r["file_name"] for r in json.loads(results.read_text())] == ["000.jpg"] and run.stopped_by is None
    resumed = StreamedRun(stream, IDENTITY, resume=True)

    def crashing(stop):
        resumed.write(_record(1))
        assert results.exists()  # resuming: the results file still matches the stream's first part
        raise RuntimeError("crash")

    with pytest.raises(RuntimeError, match="crash"):
        resumed.execute(crashing, results)
    assert [r["file_name"] for r in json.loads(results.read_text())] == ["000.jpg", "001.jpg"]
