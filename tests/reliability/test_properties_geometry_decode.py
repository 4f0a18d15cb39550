"""Property tests (hypothesis) of geometry, preprocess and decode: invariances and round trips that must hold
for any box, image or sub-pixel centre, with bounded example counts so the file runs in seconds."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from vitpose_trt import KEYPOINT_SETS
from vitpose_trt import decode as d
from vitpose_trt import geometry as g
from vitpose_trt.errors import InputError
from vitpose_trt.preprocess import crops_from_boxes
from vitpose_trt.specs import (
    HEATMAP_HEIGHT,
    HEATMAP_WIDTH,
    INPUT_HEIGHT,
    INPUT_WIDTH,
    PIXEL_MEAN_RGB,
    PIXEL_STD_RGB,
)

pytest.importorskip("cv2")
FAST = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
WARPS = st.sampled_from(["udp", "classic"])
coordinate = st.floats(-2000.0, 2000.0, allow_nan=False, width=64)
extent = st.floats(0.5, 1500.0, allow_nan=False, width=64)


@st.composite
def xyxy_boxes(draw, max_boxes=6):
    n = draw(st.integers(1, max_boxes))
    x, y = draw(arrays(np.float64, n, elements=coordinate)), draw(arrays(np.float64, n, elements=coordinate))
    w, h = draw(arrays(np.float64, n, elements=extent)), draw(arrays(np.float64, n, elements=extent))
    return np.stack([x, y, x + w, y + h], axis=1)


def _apply(warps, points):
    return points @ np.transpose(warps[:, :, :2], (0, 2, 1)) + warps[:, None, :, 2]


@FAST
@given(boxes=xyxy_boxes())
def test_xywh_and_xyxy_describe_the_same_boxes(boxes):
    xywh = np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], axis=1)
    np.testing.assert_allclose(g.boxes_xyxy(xywh, "xywh"), boxes, rtol=1e-12, atol=1e-9)


@FAST
@given(boxes=xyxy_boxes())
def test_scales_have_network_aspect_and_cover_the_padded_box(boxes):
    centers, scales = g.centers_scales_from_boxes(boxes)
    size = scales * g.PIXEL_STD
    np.testing.assert_allclose(size[:, 0] / size[:, 1], INPUT_WIDTH / INPUT_HEIGHT, rtol=1e-12)
    padded = (boxes[:, 2:] - boxes[:, :2]) * g.BOX_PADDING
    assert (size >= padded * (1 - 1e-12)).all()
    assert np.isclose(size, padded, rtol=1e-12).any(axis=1).all()  # tight on one side
    np.testing.assert_allclose(centers, (boxes[:, :2] + boxes[:, 2:]) / 2, rtol=1e-12, atol=1e-9)


@FAST
@given(
    boxes=xyxy_boxes(),
    shift=st.tuples(st.floats(-500, 500, allow_nan=False), st.floats(-500, 500, allow_nan=False)),
    warp=WARPS,
)
def test_mapping_back_is_invariant_to_box_translation(boxes, shift, warp):
    points = np.random.default_rng(0).uniform(-1, [HEATMAP_WIDTH, HEATMAP_HEIGHT], size=(len(boxes), 5, 2))
    moved = boxes + np.array(shift * 2)
    base = g.image_points_from_heatmap(points, boxes, warp)
    np.testing.assert_allclose(g.image_points_from_heatmap(points, moved, warp), base + shift, atol=1e-6)
    warps, moved_warps = g.warps_from_boxes(boxes, warp), g.warps_from_boxes(moved, warp)
    np.testing.assert_allclose(moved_warps[:, :, :2], warps[:, :, :2], rtol=1e-9)
    image_points = np.random.default_rng(1).uniform(-100, 100, size=(len(boxes), 4, 2))
    np.testing.assert_allclose(
        _apply(moved_warps, image_points + shift), _apply(warps, image_points), atol=1e-6 * (1 + np.abs(shift).max())
    )


@FAST
@given(boxes=xyxy_boxes(), warp=WARPS)
def test_image_heatmap_image_round_trip(boxes, warp):
    image_points = np.random.default_rng(2).uniform(-3000, 3000, size=(len(boxes), 7, 2))
    to_heatmap = g.warps_from_boxes(boxes, warp, size=(HEATMAP_WIDTH, HEATMAP_HEIGHT))
    back = g.image_points_from_heatmap(_apply(to_heatmap, image_points), boxes, warp)
    np.testing.assert_allclose(back, image_points, rtol=1e-9, atol=1e-7)


@FAST
@given(
    x=st.floats(-100, 100),
    y=st.floats(-100, 100),
    w=st.floats(-50, 50),
    h=st.floats(-50, 50),
)
@example(x=0.0, y=0.0, w=0.0, h=2.225073858507e-311)  # a subnormal side: its magnification overflowed
@example(x=0.0, y=0.0, w=0.0, h=2.0**-20)  # the smallest box accepted
def test_box_validation_is_all_or_nothing(x, y, w, h):
    """Negative sizes and points raise InputError; everything else yields finite warps."""
    box = [[x, y, x + w, y + h]]
    width, height = box[0][2] - x, box[0][3] - y
    if width < 0 or height < 0 or max(width, height) < g.MIN_BOX_EXTENT:
        with pytest.raises(InputError):
            g.warps_from_boxes(box)
    else:
        assert np.isfinite(g.warps_from_boxes(box)).all()


@st.composite
def images_and_boxes(draw):
    height, width = draw(st.integers(1, 48)), draw(st.integers(1, 48))
    seed = draw(st.integers(0, 2**32 - 1))
    image = np.random.default_rng(seed).integers(0, 256, size=(height, width, 3), dtype=np.uint8)
    n = draw(st.integers(0, 3))
    corner = arrays(np.float64, (n, 2), elements=st.floats(-20, 60, allow_nan=False))
    size = arrays(np.float64, (n, 2), elements=st.floats(0.25, 80, allow_nan=False))
    top_left = draw(corner)
    return image, np.concatenate([top_left, top_left + draw(size)], axis=1)


_MEAN = np.array(PIXEL_MEAN_RGB)[:, None, None]
_STD = np.array(PIXEL_STD_RGB)[:, None, None]


@settings(max_examples=25, deadline=None)
@given(data=images_and_boxes(), warp=WARPS)
def test_crops_of_random_images_and_boxes(data, warp):
    image, boxes = data
    crops = crops_from_boxes(image, boxes, warp=warp)
    assert crops.shape == (len(boxes), 3, INPUT_HEIGHT, INPUT_WIDTH) and crops.dtype == np.float32
    pixels = crops.astype(np.float64) * _STD + _MEAN
    assert np.isfinite(crops).all()
    # Bilinear blends of the image and the black border stay inside [0, the image's channel maximum].
    channel_max = image[:, :, ::-1].reshape(-1, 3).max(axis=0)[:, None, None]
    assert (pixels > -1e-3).all() and (pixels <= channel_max + 1e-3).all()
    np.testing.assert_array_equal(crops_from_boxes(image, boxes, warp=warp, flip=True), crops[..., ::-1])


@settings(max_examples=15, deadline=None)
@given(shift=st.tuples(st.integers(0, 40), st.integers(0, 40)), warp=WARPS)
def test_crops_are_invariant_to_moving_image_and_box_together(astronaut_bgr, shift, warp):
    dx, dy = shift
    canvas = np.zeros((512 + 40, 512 + 40, 3), dtype=np.uint8)
    canvas[dy : dy + 512, dx : dx + 512] = astronaut_bgr
    boxes = np.array([[130.0, 20.0, 350.0, 500.0], [150.5, 30.25, 310.0, 230.0]])
    moved = crops_from_boxes(canvas, boxes + [dx, dy, dx, dy], warp=warp)
    base = crops_from_boxes(canvas[dy : dy + 512, dx : dx + 512].copy(), boxes, warp=warp)
    levels = np.abs(moved - base) * _STD.astype(np.float32)
    # OpenCV's 1/32-pixel fixed-point coordinates may round a translated sample differently.
    assert levels.max() <= 1.01 and levels.mean() < 0.05


@FAST
@given(
    cx=st.floats(5, HEATMAP_WIDTH - 6),
    cy=st.floats(5, HEATMAP_HEIGHT - 6),
    amplitude=st.floats(0.1, 1.0),
    method=st.sampled_from(["dark", "dark-udp"]),
)
def test_dark_recovers_any_subpixel_centre(cx, cy, amplitude, method):
    rows, cols = np.mgrid[0:HEATMAP_HEIGHT, 0:HEATMAP_WIDTH]
    heatmap = amplitude * np.exp(-((cols - cx) ** 2 + (rows - cy) ** 2) / (2 * 2.0**2))
    coords, scores = d.keypoints_from_heatmaps(heatmap[None, None].astype(np.float32), method)
    assert np.abs(coords[0, 0] - [cx, cy]).max() < 0.05
    assert scores[0, 0] <= amplitude + 1e-6


@FAST
@given(name=st.sampled_from(sorted(KEYPOINT_SETS)), seed=st.integers(0, 2**32 - 1), shift=st.booleans())
def test_flip_back_twice_is_identity_and_keeps_values(name, seed, shift):
    kset = KEYPOINT_SETS[name]
    maps = np.random.default_rng(seed).standard_normal((2, kset.num_keypoints, 6, 5)).astype(np.float32)
    once = d.flip_back(maps, kset.flip_index, shift=False)
    np.testing.assert_array_equal(d.flip_back(once, kset.flip_index, shift=False), maps)
    np.testing.assert_array_equal(np.sort(once, axis=None), np.sort(maps, axis=None))
    if shift:
        shifted = d.flip_back(maps, kset.flip_index, shift=True)
        np.testing.assert_array_equal(shifted[..., 1:], once[..., :-1])
