"""preprocess.crops_from_boxes on the real astronaut image, against an independent bilinear sampler and HF."""

from __future__ import annotations

import numpy as np
import pytest

from vitpose_trt import geometry as g
from vitpose_trt.errors import ConfigError, InputError
from vitpose_trt.preprocess import crops_from_boxes
from vitpose_trt.specs import INPUT_HEIGHT, INPUT_WIDTH, PIXEL_MEAN_RGB, PIXEL_STD_RGB

#: xyxy boxes on the 512x512 astronaut: the person, the face, one larger than the image, a fractional one,
#: one hanging off the bottom-right corner.
BOXES = np.array(
    [
        [130.0, 20.0, 350.0, 500.0],
        [150.0, 30.0, 310.0, 230.0],
        [-50.0, -40.0, 600.0, 560.0],
        [300.3, 250.7, 450.1, 450.9],
        [400.0, 400.0, 700.0, 520.0],
    ]
)
_MEAN = np.array(PIXEL_MEAN_RGB)[:, None, None]
_STD = np.array(PIXEL_STD_RGB)[:, None, None]


@pytest.fixture(scope="module")
def astronaut_rgb(astronaut_bgr):
    return np.ascontiguousarray(astronaut_bgr[:, :, ::-1])


def _pixels(crops):
    """Undo the normalisation: (N, 3, H, W) RGB values on the 0-255 scale."""
    return crops.astype(np.float64) * _STD + _MEAN


def _bilinear_reference(image, warp):
    """(3, 256, 192) float64 RGB crop: exact bilinear sampling, zero outside the image."""
    inverse = g.inverted_warps(warp[None])[0]
    rows, cols = np.mgrid[0:INPUT_HEIGHT, 0:INPUT_WIDTH].astype(np.float64)
    src_x = inverse[0, 0] * cols + inverse[0, 1] * rows + inverse[0, 2]
    src_y = inverse[1, 0] * cols + inverse[1, 1] * rows + inverse[1, 2]
    x0, y0 = np.floor(src_x).astype(int), np.floor(src_y).astype(int)
    fx, fy = (src_x - x0)[..., None], (src_y - y0)[..., None]
    height, width = image.shape[:2]

    def pixel(y, x):
        inside = (y >= 0) & (y < height) & (x >= 0) & (x < width)
        values = np.zeros(y.shape + (3,))
        values[inside] = image[y[inside], x[inside]]
        return values

    top = (1 - fx) * pixel(y0, x0) + fx * pixel(y0, x0 + 1)
    bottom = (1 - fx) * pixel(y0 + 1, x0) + fx * pixel(y0 + 1, x0 + 1)
    return ((1 - fy) * top + fy * bottom).transpose(2, 0, 1)


@pytest.mark.parametrize("warp", ["udp", "classic"])
def test_crops_match_an_independent_bilinear_sampler(astronaut_bgr, astronaut_rgb, warp):
    crops = crops_from_boxes(astronaut_bgr, BOXES, warp=warp)
    assert crops.shape == (len(BOXES), 3, INPUT_HEIGHT, INPUT_WIDTH) and crops.dtype == np.float32
    warps = g.warps_from_boxes(BOXES, warp)
    for crop, matrix in zip(_pixels(crops), warps):
        error = np.abs(crop - _bilinear_reference(astronaut_rgb, matrix))
        # uint8 rounding of the warped image (as the official pipeline) is the only difference.
        assert error.max() < 1.0 and error.mean() < 0.3


def test_border_is_black_before_normalisation(astronaut_bgr):
    crops = _pixels(crops_from_boxes(astronaut_bgr, [[-600.0, -600.0, -400.0, -300.0]]))
    np.testing.assert_allclose(crops, 0.0, atol=1e-4)


def test_color_orders_agree_and_channel_zero_is_red(astronaut_bgr, astronaut_rgb):
    from_bgr = crops_from_boxes(astronaut_bgr, BOXES)
    np.testing.assert_array_equal(from_bgr, crops_from_boxes(astronaut_rgb, BOXES, color="rgb"))
    red = np.zeros((40, 40, 3), dtype=np.uint8)
    red[..., 2] = 255  # BGR
    center = _pixels(crops_from_boxes(red, [[5.0, 5.0, 35.0, 35.0]]))[0, :, 128, 96]
    np.testing.assert_allclose(center, [255.0, 0.0, 0.0], atol=1e-3)


def test_flip_returns_mirrored_crops(astronaut_bgr):
    crops = crops_from_boxes(astronaut_bgr, BOXES, warp="classic")
    flipped = crops_from_boxes(astronaut_bgr, BOXES, warp="classic", flip=True)
    np.testing.assert_array_equal(flipped, crops[..., ::-1])


def test_out_buffer_is_filled_in_place(astronaut_bgr):
    buffer = np.full((8, 3, INPUT_HEIGHT, INPUT_WIDTH), np.nan, dtype=np.float32)
    result = crops_from_boxes(astronaut_bgr, BOXES[:3], out=buffer)
    assert result.shape[0] == 3 and np.shares_memory(result, buffer)
    np.testing.assert_array_equal(buffer[:3], crops_from_boxes(astronaut_bgr, BOXES[:3]))
    assert np.isnan(buffer[3:]).all()


@pytest.mark.parametrize(
    "out",
    [
        np.zeros((2, 3, INPUT_HEIGHT, INPUT_WIDTH), dtype=np.float32),
        np.zeros((8, 3, INPUT_HEIGHT, INPUT_WIDTH), dtype=np.float64),
        np.zeros((8, 3, INPUT_WIDTH, INPUT_HEIGHT), dtype=np.float32),
        np.zeros((8, 3, INPUT_HEIGHT, 2 * INPUT_WIDTH), dtype=np.float32)[..., ::2],
    ],
)
def test_unusable_out_buffers_are_rejected(astronaut_bgr, out):
    with pytest.raises(InputError, match="out"):
        crops_from_boxes(astronaut_bgr, BOXES[:3], out=out)


def test_no_boxes_give_an_empty_batch(astronaut_bgr):
    assert crops_from_boxes(astronaut_bgr, np.zeros((0, 4))).shape == (0, 3, INPUT_HEIGHT, INPUT_WIDTH)


@pytest.mark.parametrize(
    "image",
    [
        np.zeros((64, 64, 3), dtype=np.float32),
        np.zeros((64, 64), dtype=np.uint8),
        np.zeros((64, 64, 4), dtype=np.uint8),
        np.zeros((0, 64, 3), dtype=np.uint8),
        [[[0, 0, 0]]],
    ],
)
def test_bad_images_are_input_errors(image):
    with pytest.raises(InputError, match="image"):
        crops_from_boxes(image, [[0.0, 0.0, 10.0, 10.0]])


def test_bad_options_are_config_errors(astronaut_bgr):
    with pytest.raises(ConfigError, match="color"):
        crops_from_boxes(astronaut_bgr, BOXES, color="hsv")
    with pytest.raises(ConfigError, match="warp"):
        crops_from_boxes(astronaut_bgr, BOXES, warp="nearest")


def test_non_contiguous_images_are_accepted(astronaut_bgr, astronaut_rgb):
    view = astronaut_rgb[:, :, ::-1]  # a BGR view with negative strides
    np.testing.assert_array_equal(crops_from_boxes(view, BOXES), crops_from_boxes(astronaut_bgr, BOXES))


def test_crops_match_hugging_face_image_processor(astronaut_rgb):
    """HF's VitPoseImageProcessor (scipy warp, same UDP geometry) on the same xywh boxes.

    Deliberate difference: HF's scipy `affine_transform(mode="constant")` returns 0 for sample points less
    than one pixel outside the image, where OpenCV (the official pipeline) still blends the edge pixel; the
    comparison leaves out crop pixels that sample within one pixel of the image edge.
    """
    pytest.importorskip("scipy")
    from transformers import VitPoseImageProcessorPil

    boxes_xywh = np.concatenate([BOXES[:, :2], BOXES[:, 2:] - BOXES[:, :2]], axis=1)
    processor = VitPoseImageProcessorPil()
    reference = processor.preprocess(astronaut_rgb, boxes=[boxes_xywh.tolist()], return_tensors="np")["pixel_values"]
    ours = crops_from_boxes(astronaut_rgb, g.boxes_xyxy(boxes_xywh, "xywh"), color="rgb")
    height, width = astronaut_rgb.shape[:2]
    for i, warp in enumerate(g.warps_from_boxes(g.boxes_xyxy(boxes_xywh, "xywh"), "udp")):
        inverse = g.inverted_warps(warp[None])[0]
        rows, cols = np.mgrid[0:INPUT_HEIGHT, 0:INPUT_WIDTH]
        src_x = inverse[0, 0] * cols + inverse[0, 2]
        src_y = inverse[1, 1] * rows + inverse[1, 2]
        interior = (src_x >= 0) & (src_x <= width - 1) & (src_y >= 0) & (src_y <= height - 1)
        exterior = (src_x <= -1) | (src_x >= width) | (src_y <= -1) | (src_y >= height)
        compared = interior | exterior
        error = np.abs(_pixels(ours[i : i + 1])[0] - _pixels(reference[i : i + 1])[0])[:, compared]
        assert compared.mean() > 0.95
        # Both round the warped image to uint8; rare one-level rounding ties differ.
        assert error.max() <= 1.001 and error.mean() < 0.01, (i, error.max(), error.mean())
