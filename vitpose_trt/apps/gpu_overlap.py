"""The GPU stages of `VideoPoses`: upload and detection on one CUDA stream, poses on another, across frames.

The detection thread copies each frame into a pinned host buffer and from there to the device (an
asynchronous copy on the detection stream) and runs the detector on the device image; only the detected
boxes come back to the host (the tracker needs them). The caller's thread makes the pose stream wait for
that frame's upload (an event, no host wait) and runs the estimator on the same device image. So the upload
and detection of frame i+1 overlap the pose of frame i on the GPU, and neither thread waits for the other's
stream. Device images live in a ring of `slot_count(queue_depth)` slots; a slot is refilled only after the
pose stream has finished with the frame it held (the upload waits on the pose stream's event, on the GPU).

Both models must be on the same CUDA device; each backend gives every stream its own execution context and
buffers (`runtime/backends/tensorrt.py`), so the two streams never share a buffer.
"""

from __future__ import annotations

import numpy as np

from ..runtime.cuda_device import cuda_device, cupy_module
from ..runtime.cuda_staging import PinnedUpload, gpu_array_as_cupy
from ..runtime.poses import Poses
from ..validation import is_gpu_array
from .media import Frame

#: Frames in flight besides those queued: one in the detection thread, one in the pose stage.
FRAMES_IN_STAGES = 2


def slot_count(queue_depth: int) -> int:
    """Device image slots needed so that no slot is refilled while a frame it holds may still be in use: the
    frames in the queue between the stages plus one in each stage."""
    return queue_depth + FRAMES_IN_STAGES


class _Slot:
    """One device image: its pinned upload buffers, and the event after which the pose stream is done with it."""

    def __init__(self, cp):
        self.upload = PinnedUpload(cp)
        self.released = None


class GpuStages:
    """`HostStages`' interface on two CUDA streams (see the module docstring). detector / estimator: a
    `PersonDetector` and a `PoseEstimator` on CUDA backends; queue_depth: the `VideoPoses` queue depth."""

    def __init__(self, detector, estimator, queue_depth: int):
        cuda_device(feature="GPU video pipelining")  # DeviceError here, not a CUDA error later, without a GPU
        cp = self._cp = cupy_module("GPU video pipelining")
        self._device = cp.cuda.Device()  # the caller's current device; the detection thread makes it its own
        self.detector, self.estimator = detector, estimator
        self.detect_stream = cp.cuda.Stream(non_blocking=True)
        self.pose_stream = cp.cuda.Stream(non_blocking=True)
        self._slots = [_Slot(cp) for _ in range(slot_count(queue_depth))]
        self._next = 0

    def prepared(self, frame: Frame, detect: bool):
        """(device image, `Detections` or None, (upload event, slot)); runs in the detection thread."""
        slot = self._slots[self._next]
        self._next = (self._next + 1) % len(self._slots)
        stream = self.detect_stream
        with self._device, stream:
            if slot.released is not None:
                stream.wait_event(slot.released)  # the pose stream is done with the frame this slot held
            image = self._on_device(frame.image_in(self.estimator.color), slot, stream)
            found = self.detector(image) if detect else None
            uploaded = stream.record()
        return image, found, (uploaded, slot)

    def _on_device(self, image, slot: _Slot, stream):
        if is_gpu_array(image):  # contiguous for the kernels (a no-op unless reversed to RGB), on this stream
            return self._cp.ascontiguousarray(gpu_array_as_cupy(self._cp, image))
        return slot.upload.to_device(np.ascontiguousarray(image), stream)

    def poses(self, image, token, boxes: np.ndarray) -> Poses:
        """The estimator's poses of `boxes` on the uploaded frame, on the pose stream; runs in the caller's thread."""
        uploaded, slot = token
        stream = self.pose_stream
        with stream:
            stream.wait_event(uploaded)
            poses = self.estimator(image, boxes)  # its keypoints come back to the host: the stream is synced
            slot.released = stream.record()
        return poses
