"""Host -> GPU transfers of the GPU runtime: images and small parameter arrays, through reused pinned memory.

One upload per frame (the image, skipped when it already lives on the GPU) plus the N warp matrices.
Host copies go through page-locked buffers so `cudaMemcpyAsync` is truly asynchronous; a buffer is
refilled only after the stream has consumed its previous contents (an event per buffer).
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..validation import check_image_layout, is_gpu_array


def gpu_array_as_cupy(cp, array):
    """`array` as a CuPy array sharing its memory: CuPy as is, `__cuda_array_interface__`, else DLPack."""
    if isinstance(array, cp.ndarray):
        return array
    if hasattr(array, "__cuda_array_interface__"):
        return cp.asarray(array)
    return cp.from_dlpack(array)


class PinnedUpload:
    """A reused pinned host buffer and device buffer for one kind of array (grown when too small)."""

    def __init__(self, cp):
        self._cp = cp
        self._host = np.empty(0, np.uint8)
        self._device = cp.empty(0, cp.uint8)
        self._consumed = None  # event recorded after the last copy out of self._host

    def to_device(self, array: np.ndarray, stream):
        """A device copy of numpy `array` (same shape and dtype), enqueued on `stream`; valid until the next call."""
        cp = self._cp
        array = np.ascontiguousarray(array)
        if self._consumed is not None:
            self._consumed.synchronize()
        if self._host.nbytes < array.nbytes:
            memory = cp.cuda.alloc_pinned_memory(array.nbytes)
            self._host = np.frombuffer(memory, np.uint8, array.nbytes)
            self._device = cp.empty(array.nbytes, cp.uint8)
        host = self._host[: array.nbytes].view(array.dtype).reshape(array.shape)
        np.copyto(host, array)
        device = self._device[: array.nbytes].view(array.dtype).reshape(array.shape)
        device.set(host, stream=stream)
        self._consumed = stream.record()
        return device


class DeviceImages:
    """Images on the GPU for the crop kernel: GPU arrays pass through, numpy arrays upload via pinned memory."""

    def __init__(self, cp):
        self._cp = cp
        self._upload = PinnedUpload(cp)

    def on_device(self, image, stream):
        """(H, W, 3) uint8 CuPy array (any strides) holding `image`; numpy images are copied on `stream`."""
        if is_gpu_array(image):
            pixels = gpu_array_as_cupy(self._cp, image)
            check_image_layout(pixels.shape, pixels.dtype)
            return pixels
        if not isinstance(image, np.ndarray):
            raise InputError(f"image must be a numpy or GPU (CuPy/DLPack) array, got {type(image).__name__}")
        check_image_layout(image.shape, image.dtype)
        return self._upload.to_device(image, stream)
