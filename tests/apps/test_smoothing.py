"""Keypoint smoothing (issue 15): the One-Euro filter measured on a noisy synthetic walking figure (jitter
reduced by a stated factor at a stated lag), per-track filters reset when a track is lost, and how carried
boxes follow the poses."""

from __future__ import annotations

import numpy as np
import pytest

from vitpose_trt.apps.one_euro import OneEuroFilter, PoseSmoother
from vitpose_trt.apps.pose_motion import boxes_moved_by_poses
from vitpose_trt.errors import ConfigError, InputError

FPS, FRAMES, HEIGHT, KEYPOINTS = 30.0, 300, 200.0, 17
#: Keypoint noise: 1 % of the person's height (2 px here), about ViTPose's frame-to-frame jitter.
NOISE = 0.01 * HEIGHT


def _figure(walk: float, swing: float, seed: int = 0):
    """(times (T,), truth (T, K, 2), noisy (T, K, 2)): keypoints of a figure walking `walk` heights/s with
    arms swinging `swing` heights at 1 Hz, plus Gaussian noise."""
    times = np.arange(FRAMES) / FPS
    x = 100 + walk * HEIGHT * times + swing * HEIGHT * np.sin(2 * np.pi * times)
    y = 300 + 0.05 * HEIGHT * np.sin(np.pi * times)
    truth = np.repeat(np.stack([x, y], axis=1)[:, None, :], KEYPOINTS, axis=1)
    noisy = truth + np.random.default_rng(seed).normal(0.0, NOISE, truth.shape)
    return times, truth, noisy


def _jitter(track: np.ndarray) -> float:
    """RMS of the second difference (px / frame^2) after the first second: what shows as shaking."""
    return float(np.sqrt(np.mean(np.diff(track[int(FPS):], 2, axis=0) ** 2)))


def _lag_frames(track: np.ndarray, truth: np.ndarray) -> float:
    """The delay (frames, in quarter frames) that best aligns `track` with `truth`."""
    frames = np.arange(len(truth))
    errors = {}
    for lag in np.arange(0.0, 10.01, 0.25):
        shifted = np.stack([np.interp(frames - lag, frames, truth[:, 0, d]) for d in range(2)], axis=1)
        errors[lag] = np.sqrt(np.mean((track[int(FPS):, 0] - shifted[int(FPS):]) ** 2))
    return min(errors, key=errors.get)


def _filtered(noisy: np.ndarray, times: np.ndarray, **settings) -> np.ndarray:
    one_euro = OneEuroFilter(**settings)
    return np.stack([one_euro(noisy[i], times[i], scale=HEIGHT) for i in range(len(times))])


def test_defaults_cut_walking_jitter_2_5_times_at_a_lag_of_one_frame():
    times, truth, noisy = _figure(walk=0.5, swing=0.1)
    smoothed = _filtered(noisy, times)
    assert _jitter(noisy) / _jitter(smoothed) > 2.5
    assert _lag_frames(smoothed, truth) <= 1.0  # 33 ms at 30 frames/s


def test_a_still_figure_is_smoothed_hard_and_beta_trades_jitter_for_lag():
    times, truth, noisy = _figure(walk=0.0, swing=0.0)
    assert _jitter(noisy) / _jitter(_filtered(noisy, times)) > 4.0
    times, truth, noisy = _figure(walk=0.5, swing=0.1)
    slow = _filtered(noisy, times, beta=0.0)  # a fixed 1 Hz low-pass: smooth but late
    fast = _filtered(noisy, times, beta=3.0)
    assert _jitter(slow) < _jitter(fast)
    assert _lag_frames(slow, truth) > 3 * _lag_frames(fast, truth)


def test_pose_smoother_keeps_one_filter_per_track_and_resets_lost_ones():
    smoother = PoseSmoother()
    box = np.array([[0.0, 0.0, 50.0, 200.0], [300.0, 0.0, 350.0, 200.0]])
    first = np.zeros((2, KEYPOINTS, 2), np.float32)
    second = first + np.array([10.0, 0.0], np.float32)
    np.testing.assert_array_equal(smoother(first, box, np.array([1, 2]), 0.0), first)
    out = smoother(second, box, np.array([1, 2]), 1 / FPS)
    assert 0 < out[0, 0, 0] < 10 and out.dtype == np.float32 and len(smoother) == 2
    smoother(second[:1], box[:1], np.array([1]), 2 / FPS)  # track 2 lost in this frame
    assert len(smoother) == 1
    back = smoother(second[1:] + 100, box[1:], np.array([2]), 3 / FPS)
    np.testing.assert_array_equal(back, second[1:] + 100)  # starts afresh: no pull towards the old place


def test_one_euro_settings_and_smoother_inputs_are_checked():
    for settings in ({"min_cutoff": 0.0}, {"beta": -1.0}, {"d_cutoff": float("nan")}, {"beta": "3"}):
        with pytest.raises(ConfigError):
            OneEuroFilter(**settings)
    keypoints = np.zeros((2, KEYPOINTS, 2), np.float32)
    box = np.array([[0.0, 0.0, 50.0, 200.0]])
    with pytest.raises(InputError, match=r"track_ids \(N,\) expected, got shapes \(2, 17, 2\), \(1, 4\)"):
        PoseSmoother()(keypoints, box, np.array([1, 2]), 0.0)
    assert PoseSmoother()(keypoints[:0], box[:0], np.zeros(0, np.int64), 0.0).shape == (0, KEYPOINTS, 2)


def test_boxes_move_with_the_keypoints_found_in_both_frames():
    boxes = np.array([[0.0, 0.0, 10.0, 20.0], [100.0, 0.0, 110.0, 20.0]])
    before = np.random.default_rng(0).uniform(0, 100, (2, KEYPOINTS, 2))
    now = before + np.array([3.0, -2.0])
    scores = np.full((2, KEYPOINTS), 0.9)
    scores[1, 3:] = 0.1  # the second person: only 3 keypoints found, too few to measure
    moved, measured = boxes_moved_by_poses(boxes, before, scores, now, scores)
    assert measured.tolist() == [True, False]
    np.testing.assert_allclose(moved[0], boxes[0] + [3.0, -2.0, 3.0, -2.0])
    np.testing.assert_array_equal(moved[1], boxes[1])
