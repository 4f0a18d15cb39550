"""Tracking (issue 15): the ByteTrack-style `PersonTracker` on synthetic scenes with crossing, hidden and
reappearing persons, scored with CLEAR MOT / IDF1 computed here (`tracking_metrics`); the metrics themselves on
hand-made cases; the Kalman motion model; box matching."""

from __future__ import annotations

import numpy as np
import pytest
from tracking_scenes import crossing, crowd, occluded

from vitpose_trt.apps.box_matching import iou_matrix, matched_pairs
from vitpose_trt.apps.box_motion import BoxMotion
from vitpose_trt.apps.person_tracking import PersonTracker
from vitpose_trt.apps.tracking_metrics import tracking_scores
from vitpose_trt.errors import ConfigError, InputError


def _tracked(detections, tracker: PersonTracker | None = None):
    tracker = tracker or PersonTracker()
    hypotheses = []
    for boxes, scores in detections:
        persons = tracker.update(boxes, scores)
        hypotheses.append((persons.track_ids, persons.boxes))
    return hypotheses


def _ids_of(truth, hypotheses, person: int) -> list[int]:
    """The track id reported on ground-truth person `person` in each frame it is reported (IoU >= 0.5)."""
    ids = []
    for (gt_ids, gt_boxes), (hyp_ids, hyp_boxes) in zip(truth, hypotheses):
        rows = np.flatnonzero(gt_ids == person)
        if len(rows) and len(hyp_ids):
            overlap = iou_matrix(gt_boxes[rows], hyp_boxes)[0]
            if overlap.max() >= 0.5:
                ids.append(int(hyp_ids[overlap.argmax()]))
    return ids


@pytest.mark.parametrize("seed", range(3))
def test_two_persons_crossing_keep_their_ids(seed):
    truth, detections = crossing(seed=seed)
    hypotheses = _tracked(detections)
    scores = tracking_scores(truth, hypotheses)
    assert scores.id_switches == 0 and scores.false_positives == 0, scores.describe()
    assert scores.idf1 > 0.95 and scores.mota > 0.9, scores.describe()
    assert {int(i) for ids, _ in hypotheses for i in ids} == {1, 2}  # no third id, ever


def test_low_scores_of_a_partly_hidden_person_keep_the_track_alive():
    """The second (weak detection) association is what reports the person behind while partly hidden."""
    truth, detections = crossing()
    with_tiers = tracking_scores(truth, _tracked(detections))
    confident_only = tracking_scores(truth, _tracked(detections, PersonTracker(low_score=0.5)))
    assert with_tiers.misses < confident_only.misses, (with_tiers.describe(), confident_only.describe())


def test_a_person_hidden_for_twelve_frames_comes_back_with_the_same_id():
    truth, detections = occluded(hidden=(20, 32))
    hypotheses = _tracked(detections)
    assert set(_ids_of(truth, hypotheses, 1)) == {1}
    scores = tracking_scores(truth, hypotheses)
    assert scores.id_switches == 0 and scores.misses == 12, scores.describe()  # only the hidden frames
    # A lost-track buffer shorter than the gap forgets the person: a new id, counted as a switch.
    short = tracking_scores(truth, _tracked(detections, PersonTracker(max_lost_frames=5)))
    assert short.id_switches == 1, short.describe()


@pytest.mark.parametrize("seed", range(3))
def test_six_persons_with_misses_and_false_positives(seed):
    truth, detections = crowd(seed=seed)
    scores = tracking_scores(truth, _tracked(detections))
    assert scores.id_switches <= 3 and scores.false_positives <= 2, scores.describe()
    assert scores.mota > 0.8 and scores.idf1 > 0.85, scores.describe()


def test_a_one_frame_false_positive_is_never_reported_and_new_tracks_need_a_second_detection():
    tracker = PersonTracker()
    person = np.array([[100.0, 100.0, 200.0, 400.0]])
    assert tracker.update(person, [0.9]).track_ids.tolist() == [1]  # the first frame confirms at once
    ghost = np.array([[600.0, 100.0, 700.0, 400.0]])
    assert tracker.update(np.concatenate([person, ghost]), [0.9, 0.9]).track_ids.tolist() == [1]
    assert tracker.update(person, [0.9]).track_ids.tolist() == [1]  # the ghost's track is dropped
    newcomer = np.array([[900.0, 100.0, 1000.0, 400.0]])
    both = np.concatenate([person, newcomer])
    assert tracker.update(both, [0.9, 0.9]).track_ids.tolist() == [1]
    reported = tracker.update(both, [0.9, 0.9])
    assert reported.track_ids.tolist() == [1, 3] and reported.detection.tolist() == [0, 1]


def test_carried_frames_follow_a_walking_person_between_detections():
    tracker = PersonTracker()
    step = np.array([9.0, 2.0, 9.0, 2.0])
    start = np.array([100.0, 100.0, 220.0, 400.0])
    for frame in range(30):
        box = start + frame * step
        if frame % 3 == 0:
            persons = tracker.update(box[None], [0.9])
            assert persons.detection.tolist() == [0]
        else:
            persons = tracker.carry()
            assert persons.detection.tolist() == [-1] and persons.scores.tolist() == [pytest.approx(0.9)]
        assert persons.track_ids.tolist() == [1]
        if frame >= 6:  # once the velocity is known
            assert iou_matrix(persons.boxes, box[None])[0, 0] > 0.9, frame


def test_correct_moves_a_carried_track():
    tracker = PersonTracker()
    box = np.array([[100.0, 100.0, 200.0, 400.0]])
    tracker.update(box, [0.9])
    carried = tracker.carry().boxes
    tracker.correct(np.array([1, 99]), np.array([box[0] + 40, box[0]]))  # id 99 does not exist: ignored
    assert tracker.carry().boxes[0, 0] > carried[0, 0] + 10


def test_kalman_motion_predicts_constant_velocity():
    motion = BoxMotion.start(np.array([[0.0, 0.0, 50.0, 100.0]]))
    for frame in range(1, 20):
        motion.predict()
        motion.update(np.array([0]), np.array([[5.0 * frame, 0.0, 50.0 + 5.0 * frame, 100.0]]))
    motion.predict()
    np.testing.assert_allclose(motion.boxes()[0], [100.0, 0.0, 150.0, 100.0], atol=0.5)


def test_matching_never_breaks_a_strong_pair_to_make_two_weak_ones():
    similarity = np.array([[0.9, 0.25], [0.25, 0.0]])
    pairs, rows, cols = matched_pairs(similarity, 0.2)
    assert pairs.tolist() == [[0, 0]] and rows.tolist() == [1] and cols.tolist() == [1]
    pairs, _, _ = matched_pairs(np.array([[0.3, 0.6], [0.7, 0.1]]), 0.2)
    assert pairs.tolist() == [[0, 1], [1, 0]]
    empty = matched_pairs(np.zeros((0, 3)), 0.2)
    assert empty[0].shape == (0, 2) and empty[2].tolist() == [0, 1, 2]


def test_metrics_of_perfect_swapped_and_empty_hypotheses():
    box_a, box_b = [0.0, 0.0, 10.0, 10.0], [50.0, 0.0, 60.0, 10.0]
    truth = [(np.array([1, 2]), np.array([box_a, box_b]))] * 4
    perfect = tracking_scores(truth, truth)
    assert (perfect.mota, perfect.idf1, perfect.id_switches) == (1.0, 1.0, 0)
    swapped = truth[:2] + [(np.array([2, 1]), np.array([box_a, box_b]))] * 2  # ids exchanged halfway
    scores = tracking_scores(truth, swapped)
    assert scores.id_switches == 2 and scores.mota == pytest.approx(0.75) and scores.idf1 == pytest.approx(0.5)
    nothing = tracking_scores(truth, [(np.zeros(0), np.zeros((0, 4)))] * 4)
    assert nothing.misses == 8 and nothing.mota == 0.0 and nothing.idf1 == 0.0


def test_tracker_options_and_detections_are_checked():
    for options, message in (({"high_score": 1.5}, "high_score must be a number in 0..1"),
                             ({"low_score": 0.6, "high_score": 0.5}, "must not exceed"),
                             ({"max_lost_frames": -1}, "non-negative integer"),
                             ({"high_score": "0.5"}, "high_score must be a number in 0..1, got '0.5'"),
                             ({"match_iou": True}, "match_iou must be a number"), ({"first_id": 0}, "first_id")):
        with pytest.raises(ConfigError, match=message):
            PersonTracker(**options)
    assert PersonTracker(max_lost_frames=np.int64(3)).max_lost_frames == 3
    tracker = PersonTracker()
    for boxes, scores, message in ((np.zeros((2, 4)), [0.5], "2 boxes but scores of shape"),
                                   ([[0, 0, 10, float("nan")]], [0.9], "finite"),
                                   (np.zeros((2, 5)), [0.5, 0.5], "with their scores apart"),
                                   ([["a", 0, 1, 1]], [0.9], "numeric")):
        with pytest.raises(InputError, match=message):
            tracker.update(boxes, scores)
    assert tracker.frame == 0  # nothing was advanced by the refused calls
    assert len(tracker.update([], []).track_ids) == 0
