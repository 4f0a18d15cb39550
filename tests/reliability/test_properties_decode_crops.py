"""More property tests (hypothesis), complementing test_properties_geometry_decode.py: decode is robust on
any finite heatmap and equivariant to shifting and mirroring a peak; the runtime's CPU crop stage equals
the reference preprocessing for random images, boxes and colour orders. Bounded example counts."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from vitpose_trt import decode as d
from vitpose_trt import geometry as g
from vitpose_trt.preprocess import crops_from_boxes
from vitpose_trt.runtime.cpu_crops import CpuCrops
from vitpose_trt.specs import HEATMAP_HEIGHT, HEATMAP_WIDTH

pytest.importorskip("cv2")
FAST = settings(max_examples=30, deadline=None)
METHODS = st.sampled_from(["argmax", "quarter-offset", "dark", "dark-udp"])
SHAPE = (2, 3, HEATMAP_HEIGHT, HEATMAP_WIDTH)


@st.composite
def heatmaps(draw):
    """Finite float32 maps of every kind a model can emit: noise at any scale, flat, negative, sparse spikes."""
    kind = draw(st.sampled_from(["noise", "flat", "negative", "spikes", "tiny"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    scale = draw(st.floats(1e-6, 1e4))
    if kind == "noise":
        maps = rng.standard_normal(SHAPE) * scale
    elif kind == "flat":
        maps = np.full(SHAPE, draw(st.floats(-10, 10)))
    elif kind == "negative":
        maps = -np.abs(rng.standard_normal(SHAPE)) * scale
    elif kind == "spikes":
        maps = np.where(rng.random(SHAPE) < 0.01, scale, 0.0)
    else:
        maps = rng.uniform(0, 1e-6, SHAPE)
    return maps.astype(np.float32)


@FAST
@given(maps=heatmaps(), method=METHODS)
def test_any_finite_heatmap_decodes_to_a_point_near_its_argmax(maps, method):
    coords, scores = d.keypoints_from_heatmaps(maps, method)
    argmax, _ = d.keypoints_from_heatmaps(maps, "argmax")
    np.testing.assert_array_equal(scores, maps.max(axis=(2, 3)))
    assert np.isfinite(coords).all()
    # Refinements stay within the blur radius (5 px) of the argmax pixel: never off into the distance.
    assert np.abs(coords - argmax).max() <= 5.0 + 1e-4


def _peak(cx: float, cy: float, sigma: float = 2.0) -> np.ndarray:
    rows, cols = np.mgrid[0:HEATMAP_HEIGHT, 0:HEATMAP_WIDTH]
    return np.exp(-((cols - cx) ** 2 + (rows - cy) ** 2) / (2 * sigma**2))[None, None].astype(np.float32)


@FAST
@given(
    cx=st.floats(8, HEATMAP_WIDTH - 20), cy=st.floats(8, HEATMAP_HEIGHT - 20),
    dx=st.integers(0, 10), dy=st.integers(0, 10), method=METHODS,
)
def test_shifting_a_peak_by_whole_pixels_shifts_its_keypoint(cx, cy, dx, dy, method):
    base, _ = d.keypoints_from_heatmaps(_peak(cx, cy), method)
    moved, _ = d.keypoints_from_heatmaps(_peak(cx + dx, cy + dy), method)
    np.testing.assert_allclose(moved[0, 0] - base[0, 0], [dx, dy], atol=2e-3)


@FAST
@given(cx=st.floats(6, HEATMAP_WIDTH - 7), cy=st.floats(6, HEATMAP_HEIGHT - 7),
       method=st.sampled_from(["argmax", "dark", "dark-udp"]))
def test_mirroring_a_heatmap_mirrors_its_keypoint(cx, cy, method):
    """x -> W - 1 - x: the flip test's premise (quarter-offset's ties are broken one way, so it is left out)."""
    peak = _peak(cx, cy)
    coords, _ = d.keypoints_from_heatmaps(peak, method)
    mirrored, _ = d.keypoints_from_heatmaps(np.ascontiguousarray(peak[..., ::-1]), method)
    assert mirrored[0, 0, 1] == pytest.approx(coords[0, 0, 1], abs=2e-3)
    assert mirrored[0, 0, 0] == pytest.approx(HEATMAP_WIDTH - 1 - coords[0, 0, 0], abs=2e-3 if method != "argmax" else 0)


@settings(max_examples=20, deadline=None)
@given(
    height=st.integers(1, 64), width=st.integers(1, 64), seed=st.integers(0, 2**32 - 1),
    boxes=arrays(np.float64, (3, 4), elements=st.floats(-40, 100, allow_nan=False)),
    color=st.sampled_from(["bgr", "rgb"]), warp=st.sampled_from(["udp", "classic"]), flip=st.booleans(),
)
def test_runtime_crop_stage_equals_reference_for_random_images_and_boxes(height, width, seed, boxes, color, warp,
                                                                          flip):
    boxes = np.concatenate([np.minimum(boxes[:, :2], boxes[:, 2:]), np.maximum(boxes[:, :2], boxes[:, 2:]) + 0.5],
                           axis=1)
    image = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    stage = CpuCrops(color=color)
    crops = stage(image, g.warps_from_boxes(boxes, warp), flip=flip)
    reference = crops_from_boxes(image, boxes, warp, color)
    np.testing.assert_array_equal(crops[:3], reference)
    if flip:
        np.testing.assert_array_equal(crops[3:], reference[..., ::-1])
    # The stage reuses its buffers: a second, smaller call must not see the first call's rows.
    again = stage(image, g.warps_from_boxes(boxes[:1], warp), flip=False)
    np.testing.assert_array_equal(again, reference[:1])
