"""`VideoPoses` (issue 15), the whole loop on a generated video: a real grid detector finds the moving figures,
the tracker follows them, the tiny pose model runs on the tracked boxes; pipelined (threads) and serial runs
give the same results; detection every N frames; a truncated file; stopping early ends the threads."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from apps_data import WALKING_FRAMES
from video_scenes import FPS

import vitpose_trt as vt
from vitpose_trt.apps.media import MediaSource
from vitpose_trt.apps.tracking_metrics import tracking_scores
from vitpose_trt.apps.video_poses import STAGES, FramePoses, VideoPoses
from vitpose_trt.errors import ConfigError


@pytest.fixture(scope="module")
def top_down(tiny_onnx, grid_detector_onnx):
    return vt.TopDown(vt.PersonDetector(grid_detector_onnx, threads=1), vt.PoseEstimator(tiny_onnx, threads=1))


def _hypotheses(results: list[FramePoses]):
    return [(r.track_ids, r.poses.boxes) for r in results]


def _our_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("vitpose-")]


def test_ids_follow_the_figures_and_threads_change_nothing(top_down, walking_video):
    path, truth = walking_video
    stages = []
    pipelined = list(VideoPoses(top_down, path, on_stage=lambda name, s: stages.append(name)))
    serial = list(VideoPoses(top_down, str(path), pipelined=False))
    assert len(pipelined) == len(serial) == WALKING_FRAMES
    scores = tracking_scores(truth, _hypotheses(pipelined))
    assert scores.id_switches == 0 and scores.false_positives == 0 and scores.idf1 > 0.95, scores.describe()
    assert {int(i) for r in pipelined for i in r.track_ids} == {1, 2, 3}  # figure 3 keeps its id after hiding
    for a, b in zip(pipelined, serial):
        assert a.index == b.index and a.time == pytest.approx(b.time) and a.detected and b.detected
        np.testing.assert_array_equal(a.track_ids, b.track_ids)
        np.testing.assert_array_equal(a.poses.keypoints, b.poses.keypoints)
        assert a.poses.box_scores is not None and a.poses.keypoints.dtype == np.float32
    assert set(stages) == set(STAGES) and stages.count("pose") == WALKING_FRAMES
    assert _our_threads() == []
    record = pipelined[5].record()
    assert record["frame"] == 5 and record["time"] == pytest.approx(0.5, abs=1 / FPS)
    assert sorted(p["track_id"] for p in record["persons"]) == [1, 2, 3]
    assert len(record["persons"][0]["keypoints"]) == 17 * 3


def test_smoothing_is_on_when_tracking_and_changes_only_later_frames(top_down, walking_video):
    path, _ = walking_video
    smoothed = list(VideoPoses(top_down, path, pipelined=False))
    raw = list(VideoPoses(top_down, path, smooth=False, pipelined=False))
    np.testing.assert_array_equal(smoothed[0].poses.keypoints, raw[0].poses.keypoints)  # a filter starts at its input
    assert any(not np.array_equal(s.poses.keypoints, r.poses.keypoints) for s, r in zip(smoothed, raw))
    np.testing.assert_array_equal(smoothed[3].poses.scores, raw[3].poses.scores)


def test_detecting_every_third_frame_carries_the_boxes_in_between(top_down, walking_video):
    path, truth = walking_video
    results = list(VideoPoses(top_down, path, detect_every=3))
    assert [r.detected for r in results] == [i % 3 == 0 for i in range(WALKING_FRAMES)]
    scores = tracking_scores(truth, _hypotheses(results), min_iou=0.3)
    assert scores.id_switches == 0 and scores.mota > 0.75, scores.describe()
    carried = [r for r in results if not r.detected and len(r.track_ids)]
    assert carried and all(r.poses.box_scores is not None for r in carried)


def test_leaving_the_loop_early_stops_the_background_threads(top_down, walking_video):
    path, _ = walking_video
    video = VideoPoses(top_down, path, queue_depth=1)
    for result in video:
        if result.index == 2:
            break
    assert video.frames == 2  # the third was handed out, then the loop stopped
    with pytest.raises(ConfigError, match="runs once"):
        next(iter(video))
    iterator = iter(VideoPoses(top_down, path))
    next(iterator)
    iterator.close()
    assert _our_threads() == []


def test_a_truncated_video_ends_with_its_frames_so_far(top_down, tmp_path):
    from video_scenes import scene_frames, write_video

    images, _ = scene_frames(20)
    whole = write_video(tmp_path / "whole.avi", images, fourcc="MJPG")
    cut = tmp_path / "cut.avi"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    told = []
    results = list(VideoPoses(top_down, MediaSource(cut), on_unreadable=lambda name, why: told.append((name, why))))
    assert 0 < len(results) < 20 and [r.index for r in results] == list(range(len(results)))
    assert told and told[0][0] == "cut.avi" and f"from frame {len(results)} on" in told[0][1]
    assert _our_threads() == []


def test_a_folder_of_frames_gets_times_from_the_frame_rate(top_down, tmp_path):
    import cv2
    from video_scenes import scene_frames

    for index, image in enumerate(scene_frames(4)[0]):
        cv2.imwrite(str(tmp_path / f"frame{index:03d}.png"), image)
    results = list(VideoPoses(top_down, tmp_path, fps=20.0))
    assert [r.index for r in results] == [0, 1, 2, 3] and results[0].time is None
    assert [len(r.track_ids) for r in results] == [3, 3, 3, 3]


def test_untracked_runs_and_options(top_down, walking_video):
    path, truth = walking_video
    plain = list(VideoPoses(top_down, path, track=False))
    assert plain[0].track_ids is None and len(plain[0].poses) == len(truth[0][0])
    assert all(p["track_id"] is None for p in plain[0].record()["persons"])
    for options, message in (({"track": False, "detect_every": 2}, "needs track=True"),
                             ({"track": False, "smooth": True}, "needs track=True"),
                             ({"detect_every": 0}, "positive integer"), ({"queue_depth": 0}, "positive integer"),
                             ({"queue_depth": "2"}, "queue_depth must be a positive integer"),
                             ({"fps": -5}, "fps must be a positive number of frames/s"), ({"fps": "x"}, "fps must"),
                             ({"on_stage": 5}, "on_stage must be a callable"),
                             ({"on_unreadable": "skip"}, "on_unreadable must be a callable"),
                             ({"tracker": "x"}, "tracker must be a vt.PersonTracker"),
                             ({"smoother": 5}, "smoother must be a vt.PoseSmoother")):
        with pytest.raises(ConfigError, match=message):
            VideoPoses(top_down, path, **options)
    with pytest.raises(ConfigError, match="pipeline must be a vt.TopDown"):
        VideoPoses(top_down.estimator, path)


def test_an_rgb_pipeline_gets_the_frames_in_rgb(tiny_onnx, grid_detector_onnx, top_down, walking_video):
    """Sources decode BGR; a pipeline built with color="rgb" must see the same pixels, in its order."""
    path, _ = walking_video
    rgb = vt.TopDown(vt.PersonDetector(grid_detector_onnx, threads=1, color="rgb"),
                     vt.PoseEstimator(tiny_onnx, threads=1, color="rgb"))
    frames = 4
    as_rgb = [r for r, _ in zip(VideoPoses(rgb, path), range(frames))]
    as_bgr = [r for r, _ in zip(VideoPoses(top_down, path), range(frames))]
    for a, b in zip(as_rgb, as_bgr):
        assert len(a.track_ids) == 3
        np.testing.assert_array_equal(a.track_ids, b.track_ids)
        np.testing.assert_allclose(a.poses.keypoints, b.poses.keypoints, atol=1e-3)
    assert _our_threads() == []


def test_serial_runs_report_no_waiting(top_down, walking_video):
    """Run serially, the caller's thread decodes and detects itself: that time is "decode" and "detect" only."""
    path, _ = walking_video
    video = VideoPoses(top_down, path, pipelined=False)
    for _ in zip(video, range(3)):
        pass
    seconds = video.stage_seconds
    assert seconds["wait"] == 0.0 and seconds["decode"] > 0 and seconds["detect"] > 0
