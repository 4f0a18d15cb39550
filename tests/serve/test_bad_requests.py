"""Bad requests get an answer that says what is wrong, and the server keeps serving.

Triton itself refuses wrong names, dtypes and shapes (an error status); the content of a well-formed
request (empty or undecodable bytes, huge images, NaN or negative boxes, too many boxes) is refused in the
`error` output, request by request, so the good requests batched with a bad one still get their poses.
A client that disconnects mid-request does not hurt the server. After every bad request, a valid one
succeeds.
"""

from __future__ import annotations

import re
import socket
import struct
import threading
import zlib

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from servers import LOOPBACK
from tritonclient.utils import InferenceServerException

from vitpose_trt.errors import InputError
from vitpose_trt.serve import PoseClient, ServerError
from vitpose_trt.serve.protocol import MAX_BOXES

BOX = np.array([[140, 20, 360, 500]], np.float32)


def _valid_request_succeeds(server, image) -> None:
    with PoseClient(server.grpc_url) as client:
        assert len(client.poses(image, BOX)) == 1


def _png_header(width: int, height: int) -> bytes:
    """A PNG signature and IHDR chunk claiming width x height (no pixel data follows)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + \
        struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))


def _raw_infer(server, tensors: dict[str, np.ndarray]):
    """Send `tensors` as they are with tritonclient (no PoseClient checks); returns the result."""
    client = grpcclient.InferenceServerClient(server.grpc_url)
    inputs = []
    for name, array in tensors.items():
        datatype = "BYTES" if array.dtype == np.object_ else {"float32": "FP32", "uint8": "UINT8", "int32": "INT32",
                                                                 "float64": "FP64"}[array.dtype.name]
        tensor = grpcclient.InferInput(name, list(array.shape), datatype)
        tensor.set_data_from_numpy(array)
        inputs.append(tensor)
    try:
        return client.infer("vitpose", inputs)
    finally:
        client.close()


CONTENT_ERRORS = {
    "empty image bytes": (b"", "empty (0 bytes)"),
    "not an image": (b"GIF89a not supported", "neither JPEG nor PNG"),
    "truncated png": (_png_header(64, 64), "could not be decoded"),
    "huge png": (_png_header(100_000, 100_000), "over this server's limit"),
    "truncated jpeg": (b"\xff\xd8\xff\xe0\x00\x10JFIF", "truncated JPEG"),
}


@pytest.mark.parametrize("case", list(CONTENT_ERRORS))
def test_bad_image_bytes_are_refused_with_the_reason(server, astronaut_rgb, case):
    data, reason = CONTENT_ERRORS[case]
    with PoseClient(server.grpc_url) as client, pytest.raises(InputError, match=re.escape(reason)):
        client.poses(data, BOX)
    _valid_request_succeeds(server, astronaut_rgb)


@pytest.mark.parametrize(("boxes", "reason"), [
    (np.array([[10, 10, np.nan, 50]], np.float32), "NaN or infinite"),
    (np.array([[100, 100, 50, 150]], np.float32), "negative width or height"),
    (np.array([[1e30, 0, 2e30, 10]], np.float32), "too large"),
])
def test_bad_boxes_are_refused_with_the_reason(server, astronaut_rgb, boxes, reason):
    padded = np.zeros((1, 8, 4), np.float32)
    padded[0, : len(boxes)] = boxes
    result = _raw_infer(server, {"image_raw": astronaut_rgb[None], "boxes": padded,
                                 "box_count": np.array([[len(boxes)]], np.int32)})
    assert reason in result.as_numpy("error")[0, 0].decode()
    assert result.as_numpy("count")[0, 0] == 0
    _valid_request_succeeds(server, astronaut_rgb)


def test_too_many_boxes_and_bad_box_count(server, astronaut_rgb):
    boxes = np.tile(BOX, (MAX_BOXES + 1, 1))[None]
    result = _raw_infer(server, {"image_raw": astronaut_rgb[None], "boxes": boxes})
    assert f"over this server's limit of {MAX_BOXES}" in result.as_numpy("error")[0, 0].decode()
    result = _raw_infer(server, {"image_raw": astronaut_rgb[None], "boxes": BOX[None],
                                 "box_count": np.array([[5]], np.int32)})
    assert "box_count must be one integer in 0..1" in result.as_numpy("error")[0, 0].decode()
    _valid_request_succeeds(server, astronaut_rgb)


def test_image_inputs_must_be_exactly_one(server, astronaut_rgb):
    both = _raw_infer(server, {"image": np.array([[b"x"]], np.object_), "image_raw": astronaut_rgb[None],
                               "boxes": BOX[None]})
    assert "exactly one of image" in both.as_numpy("error")[0, 0].decode()
    neither = _raw_infer(server, {"boxes": BOX[None]})
    assert "has neither" in neither.as_numpy("error")[0, 0].decode()
    two_images = _raw_infer(server, {"image_raw": np.stack([astronaut_rgb] * 2), "boxes": np.stack([BOX] * 2)})
    assert "send one image per request" in two_images.as_numpy("error")[0, 0].decode()
    _valid_request_succeeds(server, astronaut_rgb)


@pytest.mark.parametrize(("tensors", "reason"), [
    ({"image_raw": np.zeros((1, 8, 8, 3), np.float32), "boxes": BOX[None]}, "data-type"),
    ({"image_raw": np.zeros((1, 8, 8, 4), np.uint8), "boxes": BOX[None]}, "shape"),
    ({"image_raw": np.zeros((1, 8, 8, 3), np.uint8), "boxes": np.zeros((1, 1, 5), np.float32)}, "shape"),
    ({"image_raw": np.zeros((1, 8, 8, 3), np.uint8), "boxes": BOX[None].astype(np.float64)}, "data-type"),
    ({"pixels": np.zeros((1, 8, 8, 3), np.uint8), "boxes": BOX[None]}, "pixels"),
])
def test_wrong_dtype_shape_or_name_is_refused_by_triton(server, astronaut_rgb, tensors, reason):
    with pytest.raises(InferenceServerException, match=reason):
        _raw_infer(server, tensors)
    _valid_request_succeeds(server, astronaut_rgb)


def test_a_bad_request_does_not_fail_the_requests_batched_with_it(server, astronaut_rgb):
    """Four clients at once, one with a NaN box (same tensor shapes, so Triton may batch them together)."""
    boxes = [BOX, BOX + 5, np.array([[np.nan, 0, 10, 10]], np.float32), BOX + 10]
    outcomes, barrier = [None] * len(boxes), threading.Barrier(len(boxes))

    def send(index):
        padded = np.zeros((1, 8, 4), np.float32)
        padded[0, :1] = boxes[index]
        barrier.wait()
        result = _raw_infer(server, {"image_raw": astronaut_rgb[None], "boxes": padded,
                                     "box_count": np.array([[1]], np.int32)})
        outcomes[index] = (result.as_numpy("count")[0, 0], result.as_numpy("error")[0, 0].decode())

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(boxes))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [count for count, _ in outcomes] == [1, 1, 0, 1]
    assert "NaN" in outcomes[2][1] and not any(error for i, (_, error) in enumerate(outcomes) if i != 2)


def test_clients_that_disconnect_mid_request_do_not_hurt_the_server(server, astronaut_rgb):
    # An HTTP request whose body never arrives in full, then the connection drops.
    with socket.create_connection((LOOPBACK, server.ports["http"]), timeout=5) as s:
        s.sendall(b"POST /v2/models/vitpose/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 1000000\r\n\r\n{\"inputs\": [")
    # A gRPC client that gives up long before its (slow, 200-box) request is answered.
    many = np.tile(BOX, (200, 1))
    with PoseClient(server.grpc_url, timeout_s=0.001) as client, pytest.raises(ServerError, match="Deadline"):
        client.poses(astronaut_rgb, many)
    # A connection opened and closed without a word.
    socket.create_connection((LOOPBACK, server.ports["grpc"]), timeout=5).close()
    _valid_request_succeeds(server, astronaut_rgb)
    with PoseClient(server.http_url, protocol="http") as client:
        assert len(client.poses(astronaut_rgb, many)) == len(many)


@pytest.mark.parametrize("tensors", [
    {"image_raw": np.zeros((1, 0, 0, 3), np.uint8), "boxes": BOX[None]},
    {"image_raw": np.zeros((1, 64, 64, 3), np.uint8), "boxes": np.zeros((1, 0, 4), np.float32)},
])
def test_empty_tensors_are_refused(server, astronaut_rgb, tensors):
    """PyTriton 0.7 cannot carry a tensor with 0 elements to the handler: Triton answers with an error status
    (its message is PyTriton's traceback; clients send at least one box row: PoseClient pads, with
    box_count). Triton batches only equal shapes, so no valid request shares that batch."""
    with pytest.raises(InferenceServerException, match="Failed to process the request"):
        _raw_infer(server, tensors)
    _valid_request_succeeds(server, astronaut_rgb)
