"""geometry: box validation, official centre/scale, UDP and classic warps, heatmap -> image mapping.

Oracles: Hugging Face transformers' VitPose image processor functions (the official ViTPose `_box2cs`,
`get_warp_matrix`, UDP `transform_preds`), and the defining properties of each warp.
"""

from __future__ import annotations

import numpy as np
import pytest

from vitpose_trt import geometry as g
from vitpose_trt.errors import ConfigError, InputError
from vitpose_trt.specs import HEATMAP_HEIGHT, HEATMAP_WIDTH, INPUT_HEIGHT, INPUT_WIDTH

#: xywh boxes: tall, wide, exactly 3:4, tiny, partly outside a 512x512 image, fractional.
BOXES_XYWH = np.array(
    [
        [130.0, 20.0, 220.0, 480.0],
        [10.0, 300.0, 400.0, 90.0],
        [50.0, 60.0, 150.0, 200.0],
        [5.0, 7.0, 3.0, 2.0],
        [-40.0, 400.0, 200.0, 300.0],
        [100.25, 33.5, 77.75, 120.125],
    ]
)


@pytest.fixture(scope="module")
def hf():
    pytest.importorskip("scipy")
    from transformers.models.vitpose import image_processing_pil_vitpose as hf_module

    return hf_module


def test_boxes_xyxy_formats_and_lists():
    xyxy = g.boxes_xyxy(BOXES_XYWH.tolist(), box_format="xywh")
    assert xyxy.dtype == np.float64 and xyxy.shape == (len(BOXES_XYWH), 4)
    np.testing.assert_array_equal(xyxy[:, :2], BOXES_XYWH[:, :2])
    np.testing.assert_array_equal(xyxy[:, 2:], BOXES_XYWH[:, :2] + BOXES_XYWH[:, 2:])
    np.testing.assert_array_equal(g.boxes_xyxy(xyxy), xyxy)
    assert g.boxes_xyxy(xyxy) is not xyxy  # never aliases the caller's array


@pytest.mark.parametrize("empty", [[], np.zeros((0, 4)), np.zeros((0,))])
def test_boxes_xyxy_accepts_no_boxes(empty):
    assert g.boxes_xyxy(empty).shape == (0, 4)
    assert g.warps_from_boxes(empty).shape == (0, 2, 3)
    centers, scales = g.centers_scales_from_boxes(empty)
    assert centers.shape == scales.shape == (0, 2)


@pytest.mark.parametrize(
    "boxes, match",
    [
        ([1.0, 2.0, 3.0, 4.0], "shape"),
        ([[1.0, 2.0, 3.0]], "shape"),
        ([[1.0, 2.0, 3.0, 4.0, 0.9]], "shape"),
        ([[1.0, 2.0], [3.0, 4.0, 5.0, 6.0]], "numeric"),
        ([["a", "b", "c", "d"]], "numeric"),
        ([[0.0, 0.0, np.nan, 4.0]], "NaN"),
        ([[0.0, 0.0, np.inf, 4.0]], "NaN"),
        ([[10.0, 0.0, 5.0, 4.0]], "negative"),
        ([[0.0, 10.0, 5.0, 4.0]], "negative"),
        ([[3.0, 4.0, 3.0, 4.0]], "zero width and zero height"),
        ([[-1e308, 0.0, 1e308, 4.0]], "too large"),
    ],
)
def test_boxes_xyxy_rejects_bad_boxes(boxes, match):
    with pytest.raises(InputError, match=match):
        g.boxes_xyxy(boxes)


def test_negative_xywh_sizes_are_rejected():
    with pytest.raises(InputError, match="negative"):
        g.boxes_xyxy([[10.0, 10.0, -5.0, 20.0]], box_format="xywh")


def test_degenerate_boxes_are_rejected_by_every_entry_point():
    point = [[3.0, 4.0, 3.0, 4.0]]
    for fn in (g.centers_scales_from_boxes, g.warps_from_boxes):
        with pytest.raises(InputError):
            fn(point)
    with pytest.raises(InputError):
        g.image_points_from_heatmap(np.zeros((1, 17, 2)), point)


def test_line_boxes_get_the_other_side_by_aspect_ratio():
    centers, scales = g.centers_scales_from_boxes([[10.0, 20.0, 10.0, 100.0], [10.0, 20.0, 90.0, 20.0]])
    np.testing.assert_allclose(centers, [[10.0, 60.0], [50.0, 20.0]])
    np.testing.assert_allclose(scales * g.PIXEL_STD / g.BOX_PADDING, [[60.0, 80.0], [80.0, 80.0 / 0.75]])
    assert np.isfinite(g.warps_from_boxes([[10.0, 20.0, 10.0, 100.0]])).all()


def test_unknown_names_are_config_errors():
    with pytest.raises(ConfigError, match="box_format"):
        g.boxes_xyxy([[0, 0, 1, 1]], box_format="cxcywh")
    with pytest.raises(ConfigError, match="warp"):
        g.warps_from_boxes([[0, 0, 1, 1]], warp="bilinear")
    with pytest.raises(ConfigError, match="warp"):
        g.image_points_from_heatmap(np.zeros((1, 1, 2)), [[0, 0, 1, 1]], warp="affine")


def test_centers_scales_match_official_box2cs(hf):
    centers, scales = g.centers_scales_from_boxes(g.boxes_xyxy(BOXES_XYWH, "xywh"))
    for box, center, scale in zip(BOXES_XYWH, centers, scales):
        ref_center, ref_scale = hf.box_to_center_and_scale(box, image_width=INPUT_WIDTH, image_height=INPUT_HEIGHT)
        np.testing.assert_allclose(center, ref_center, rtol=1e-6)
        np.testing.assert_allclose(scale, ref_scale, rtol=1e-6)
    np.testing.assert_allclose(scales[:, 0] / scales[:, 1], INPUT_WIDTH / INPUT_HEIGHT)


def test_udp_warps_match_official_get_warp_matrix(hf):
    boxes = g.boxes_xyxy(BOXES_XYWH, "xywh")
    centers, scales = g.centers_scales_from_boxes(boxes)
    warps = g.warps_from_boxes(boxes, "udp")
    size = np.array([INPUT_WIDTH, INPUT_HEIGHT], dtype=np.float64)
    for warp, center, scale in zip(warps, centers, scales):
        ref = hf.get_warp_matrix(0, center * 2.0, size - 1.0, scale * 200.0)
        np.testing.assert_allclose(warp, ref, rtol=1e-5, atol=1e-4)


def _apply(warps, points):
    """(N, 2, 3) affine matrices applied to (N, P, 2) points."""
    return points @ np.transpose(warps[:, :, :2], (0, 2, 1)) + warps[:, None, :, 2]


def _padded_box_corners(boxes):
    """(N, 2, 2) [[left, top], [right, bottom]] of the aspect-corrected, padded boxes in image px."""
    centers, scales = g.centers_scales_from_boxes(boxes)
    half = scales * g.PIXEL_STD / 2
    return np.stack([centers - half, centers + half], axis=1)


@pytest.mark.parametrize(
    "warp, far_corner",
    [("udp", (INPUT_WIDTH - 1, INPUT_HEIGHT - 1)), ("classic", (INPUT_WIDTH, INPUT_HEIGHT))],
)
def test_warps_map_padded_box_onto_the_crop(warp, far_corner):
    """UDP: padded box edges -> 0 and size - 1; classic: -> 0 and size (centre -> size / 2)."""
    boxes = g.boxes_xyxy(BOXES_XYWH, "xywh")
    corners = _apply(g.warps_from_boxes(boxes, warp), _padded_box_corners(boxes))
    np.testing.assert_allclose(corners[:, 0], 0.0, atol=1e-9)
    np.testing.assert_allclose(corners[:, 1], np.broadcast_to(far_corner, (len(boxes), 2)), atol=1e-9)
    centers, _ = g.centers_scales_from_boxes(boxes)
    crop_centers = _apply(g.warps_from_boxes(boxes, warp), centers[:, None])[:, 0]
    np.testing.assert_allclose(crop_centers, np.broadcast_to(np.array(far_corner) / 2, crop_centers.shape), atol=1e-9)


def test_classic_warps_match_three_point_construction():
    """The official classic warp is defined by three point pairs: the centre, the point half a box width
    above it, and a third point at a right angle; OpenCV solves for the matrix."""
    cv2 = pytest.importorskip("cv2")
    boxes = g.boxes_xyxy(BOXES_XYWH, "xywh")
    centers, scales = g.centers_scales_from_boxes(boxes)
    out_center = np.array([INPUT_WIDTH / 2, INPUT_HEIGHT / 2])
    for warp, center, scale in zip(g.warps_from_boxes(boxes, "classic"), centers, scales):
        up_src, up_dst = np.array([0.0, -scale[0] * g.PIXEL_STD / 2]), np.array([0.0, -INPUT_WIDTH / 2])
        right_src, right_dst = np.array([-up_src[1], up_src[0]]), np.array([-up_dst[1], up_dst[0]])
        src = np.array([center, center + up_src, center + up_src + right_src], dtype=np.float32)
        dst = np.array([out_center, out_center + up_dst, out_center + up_dst + right_dst], dtype=np.float32)
        np.testing.assert_allclose(warp, cv2.getAffineTransform(src, dst), rtol=1e-4, atol=2e-3)


def test_udp_transform_preds_matches_official(hf):
    boxes = g.boxes_xyxy(BOXES_XYWH, "xywh")
    rng = np.random.default_rng(1)
    points = rng.uniform(-2, [HEATMAP_WIDTH + 1, HEATMAP_HEIGHT + 1], size=(len(boxes), 17, 2))
    ours = g.image_points_from_heatmap(points, boxes, "udp")
    for i, box in enumerate(BOXES_XYWH):
        center, scale = hf.box_to_center_and_scale(box, image_width=INPUT_WIDTH, image_height=INPUT_HEIGHT)
        ref = hf.transform_preds(points[i], center, scale, output_size=[HEATMAP_HEIGHT, HEATMAP_WIDTH])
        np.testing.assert_allclose(ours[i], ref, rtol=1e-5, atol=2e-3)


@pytest.mark.parametrize("warp", ["udp", "classic"])
def test_heatmap_to_image_inverts_the_heatmap_warp(warp):
    boxes = g.boxes_xyxy(BOXES_XYWH, "xywh")
    rng = np.random.default_rng(2)
    image_points = rng.uniform(-50, 550, size=(len(boxes), 33, 2))
    to_heatmap = g.warps_from_boxes(boxes, warp, size=(HEATMAP_WIDTH, HEATMAP_HEIGHT))
    back = g.image_points_from_heatmap(_apply(to_heatmap, image_points), boxes, warp)
    np.testing.assert_allclose(back, image_points, rtol=0, atol=1e-9)


#: How crop px become heatmap px in each convention (UDP: size-minus-one grids; classic: the stride).
CROP_TO_HEATMAP = {
    "udp": np.array([(HEATMAP_WIDTH - 1) / (INPUT_WIDTH - 1), (HEATMAP_HEIGHT - 1) / (INPUT_HEIGHT - 1)]),
    "classic": np.array([HEATMAP_WIDTH / INPUT_WIDTH, HEATMAP_HEIGHT / INPUT_HEIGHT]),
}


@pytest.mark.parametrize("warp", ["udp", "classic"])
def test_round_trip_image_crop_heatmap_image_is_exact(warp):
    boxes = g.boxes_xyxy(BOXES_XYWH, "xywh")
    rng = np.random.default_rng(3)
    image_points = rng.uniform(-100, 600, size=(len(boxes), 17, 2))
    crop_points = _apply(g.warps_from_boxes(boxes, warp), image_points)
    heatmap_points = crop_points * CROP_TO_HEATMAP[warp]
    back = g.image_points_from_heatmap(heatmap_points, boxes, warp)
    np.testing.assert_allclose(back, image_points, rtol=0, atol=1e-9)


def test_inverted_warps_compose_to_identity():
    warps = g.warps_from_boxes(g.boxes_xyxy(BOXES_XYWH, "xywh"), "classic")
    inverse = g.inverted_warps(warps)
    points = np.random.default_rng(4).uniform(0, 256, size=(len(warps), 9, 2))
    np.testing.assert_allclose(_apply(warps, _apply(inverse, points)), points, atol=1e-9)


def test_points_shape_must_match_boxes():
    with pytest.raises(InputError, match="points"):
        g.image_points_from_heatmap(np.zeros((2, 17, 2)), [[0.0, 0.0, 10.0, 10.0]])
    with pytest.raises(InputError, match="points"):
        g.image_points_from_heatmap(np.zeros((1, 17, 3)), [[0.0, 0.0, 10.0, 10.0]])
