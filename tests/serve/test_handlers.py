"""The served models' logic without a server: requests -> checks -> one batched inference -> answers."""

from __future__ import annotations

import numpy as np
import pytest
from stand_in_pipeline import BrightRegionPipeline, bright_region_boxes, people_image

from vitpose_trt.errors import ConfigError, InputError
from vitpose_trt.runtime import PoseEstimator
from vitpose_trt.serve.handlers import EndToEndRequestHandler, PoseRequestHandler
from vitpose_trt.serve.image_bytes import decoded_image, encoded_image_size
from vitpose_trt.serve.instances import handlers_per_instance
from vitpose_trt.serve.models import instance_builder, served_models
from vitpose_trt.serve.protocol import (
    E2E_MODEL,
    POSE_MODEL,
    RequestLimits,
    model_inputs,
    padded_box_rows,
)
from vitpose_trt.serve.request_inputs import image_from_request

BOXES = np.array([[140, 20, 360, 500], [60, 100, 240, 480]], np.float32)


@pytest.fixture(scope="module")
def counted_estimator(served_onnx):
    """A real estimator that counts its inferences (the "infer" stage)."""
    calls = []
    estimator = PoseEstimator(served_onnx, color="rgb", threads=1, on_stage=lambda stage, _: calls.append(stage))
    return estimator, calls


def _encoded(image_rgb, suffix: str, *flags) -> bytes:
    import cv2

    ok, data = cv2.imencode(suffix, np.ascontiguousarray(image_rgb[:, :, ::-1]), list(flags))
    assert ok
    return data.tobytes()


def _request(image=None, boxes=None, encoded=None, box_count=None) -> dict:
    request = {}
    if image is not None:
        request["image_raw"] = image[None]
    if encoded is not None:
        request["image"] = np.array([[encoded]], np.object_)
    if boxes is not None:
        request["boxes"] = np.asarray(boxes, np.float32)[None]
    if box_count is not None:
        request["box_count"] = np.array([[box_count]], np.int32)
    return request


def test_header_sizes_of_png_and_jpeg(astronaut_rgb):
    import cv2

    small = astronaut_rgb[:100, :300]
    assert encoded_image_size(_encoded(small, ".png")) == ("png", 300, 100)
    assert encoded_image_size(_encoded(small, ".jpg")) == ("jpeg", 300, 100)
    assert encoded_image_size(_encoded(small, ".jpg", cv2.IMWRITE_JPEG_PROGRESSIVE, 1)) == ("jpeg", 300, 100)
    np.testing.assert_array_equal(decoded_image(_encoded(small, ".png"), 10**6, "rgb"), small)


def test_images_over_the_limit_are_refused_before_decoding(astronaut_rgb):
    limits = RequestLimits(max_image_pixels=100 * 100)
    with pytest.raises(InputError, match="512x512 = 262144 pixels, over this server's limit of 10000"):
        image_from_request(_request(encoded=_encoded(astronaut_rgb, ".png")), "rgb", limits)
    with pytest.raises(InputError, match="image_raw is 512x512"):
        image_from_request(_request(image=astronaut_rgb), "rgb", limits)


def test_a_valid_png_wider_than_the_decoder_takes_is_refused_saying_so():
    """libpng refuses sides over a million pixels: the error says that, not "corrupt or truncated"."""
    import struct
    import zlib

    import cv2

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    width = 1_000_001  # OpenCV cannot write it either: the file is put together here
    wide = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(bytes(1 + 3 * width))) + chunk(b"IEND", b""))
    assert cv2.imdecode(np.frombuffer(wide, np.uint8), cv2.IMREAD_COLOR) is None  # what the decoder does
    with pytest.raises(InputError, match=r"png image of 1000001x1: a side over the 1000000 px the decoder takes"):
        decoded_image(wide, 10**7, "rgb")


def test_one_inference_for_the_crops_of_several_requests(counted_estimator, astronaut_rgb):
    """Three requests, one bad: the two good ones share one inference, the bad one gets its reason."""
    estimator, calls = counted_estimator
    handler = PoseRequestHandler(estimator)
    requests = [_request(astronaut_rgb, BOXES), _request(astronaut_rgb, [[0, 0, -5, 10]]),
                _request(astronaut_rgb[:, ::-1].copy(), np.pad(BOXES[:1], ((0, 7), (0, 0))), box_count=1)]
    calls.clear()
    answers = handler(requests)
    assert calls.count("infer") == 1
    assert [int(a["count"][0, 0]) for a in answers] == [2, 0, 1]
    assert "negative width or height" in answers[1]["error"][0, 0].decode()
    assert answers[0]["error"][0, 0] == b"" and np.isnan(answers[0]["box_scores"]).all()
    expected = estimator(astronaut_rgb, BOXES)
    np.testing.assert_array_equal(answers[0]["keypoints"][0], expected.keypoints)
    np.testing.assert_array_equal(answers[0]["scores"][0], expected.scores)
    assert answers[1]["keypoints"].shape == (1, 1, 17, 2) and np.isnan(answers[1]["keypoints"]).all()


def test_all_bad_requests_run_no_inference(counted_estimator, astronaut_rgb):
    estimator, calls = counted_estimator
    calls.clear()
    answers = PoseRequestHandler(estimator)([_request(boxes=BOXES), _request(astronaut_rgb, np.ones((1, 3)))])
    assert calls.count("infer") == 0
    assert "has neither" in answers[0]["error"][0, 0].decode()
    assert "shape (N, 4)" in answers[1]["error"][0, 0].decode()


def test_end_to_end_handler_with_a_real_stand_in_pipeline(counted_estimator):
    """`vitpose_e2e`'s handler on a detector + pose pipeline: the detector's boxes and scores come back."""
    estimator, _ = counted_estimator
    image = people_image()
    handler = EndToEndRequestHandler(BrightRegionPipeline("rule", estimator), 17, "rgb")
    answers = handler([_request(image), _request(encoded=_encoded(image, ".png")), _request(encoded=b"\x00")])
    detections = bright_region_boxes(image)
    assert len(detections) == 2
    for answer in answers[:2]:
        assert answer["count"][0, 0] == 2
        np.testing.assert_allclose(answer["boxes"][0], detections[:, :4])
        np.testing.assert_allclose(answer["box_scores"][0], detections[:, 4], rtol=1e-6)
    np.testing.assert_array_equal(answers[0]["keypoints"], answers[1]["keypoints"])  # PNG is lossless
    assert "neither JPEG nor PNG" in answers[2]["error"][0, 0].decode()


def test_instances_and_served_models(counted_estimator):
    estimator, _ = counted_estimator
    build = instance_builder(lambda: estimator, "rule", RequestLimits(), make_pipeline=BrightRegionPipeline)
    first = build()
    handlers = handlers_per_instance(build, first, "cpu", 3)
    assert set(handlers) == {POSE_MODEL, E2E_MODEL} and len(handlers[POSE_MODEL]) == 3
    models = served_models(handlers, 17)
    assert [m.name for m in models] == [POSE_MODEL, E2E_MODEL]
    assert models[1].inputs == model_inputs(E2E_MODEL)
    with pytest.raises(ConfigError, match="instances must be a positive integer"):
        handlers_per_instance(build, first, "cpu", 0)


def test_padded_box_rows():
    assert [padded_box_rows(n) for n in (0, 1, 8, 9, 100)] == [8, 8, 8, 16, 128]
