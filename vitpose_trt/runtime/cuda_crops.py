"""The GPU crop stage: one CUDA kernel writes all N normalised crops (and mirrored copies) into one batch.

Same interface and pixels as `cpu_crops.CpuCrops` (see `devices.py`): the kernel (kernels/crops.cu,
math in kernels/crop_math.cuh) reproduces cv2.warpAffine's float bilinear sampling and the float32
normalisation of the CPU path, so both agree to within one intensity level (bit-equal where the
8-bit levels agree).

The kernel comes from `crops-<digest>.fatbin` next to the sources when CMake built one for exactly
these sources (`VITPOSE_FATBIN_INTO_PACKAGE=ON`), else NVRTC compiles `crops.cu` at first use
(CuPy caches the result on disk). CuPy loads lazily: importing this module needs only numpy.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..preprocess import BORDER_VALUE, checked_color
from ..specs import INPUT_HEIGHT, INPUT_WIDTH, PIXEL_MEAN_RGB, PIXEL_STD_RGB
from .cuda_device import cuda_device, cuda_errors, execution_stream
from .cuda_staging import DeviceImages, PinnedUpload

log = logging.getLogger(__name__)

KERNEL_DIR = Path(__file__).with_name("kernels")
KERNEL_SOURCE = "crops.cu"
KERNEL_SUFFIXES = (".cu", ".cuh")
#: Hex digits of the source digest in the fatbin's file name (fatbin_install.cmake uses the same).
DIGEST_LENGTH = 16
#: NVRTC options; CMakeLists.txt passes nvcc the same language options for the fatbin.
NVRTC_OPTIONS = ("--std=c++17",)
ENTRY_POINTS = {np.dtype(np.float32): "vitpose_crops_f32", np.dtype(np.float16): "vitpose_crops_f16"}
#: Threads per block (x along crop columns, y along rows); a warp covers 32 adjacent pixels of one row.
BLOCK = (32, 8, 1)
#: CUDA's limit on gridDim.z, which counts boxes: the most crops one call can make.
MAX_BOXES_PER_CALL = 65535
_CHANNELS = 3
_WARP_SHAPE = (2, 3)
_INCLUDE = '#include "crop_math.cuh"'


def kernel_source_digest(kernel_dir: Path = KERNEL_DIR) -> str:
    """First DIGEST_LENGTH hex digits of SHA-256 over "<name>:<sha256 of file>\\n" per .cu/.cuh file, by name."""
    files = sorted(p for p in Path(kernel_dir).iterdir() if p.suffix in KERNEL_SUFFIXES)
    lines = "".join(f"{p.name}:{hashlib.sha256(p.read_bytes()).hexdigest()}\n" for p in files)
    return hashlib.sha256(lines.encode()).hexdigest()[:DIGEST_LENGTH]


def fatbin_path(search_dir: Path = KERNEL_DIR, kernel_dir: Path = KERNEL_DIR) -> Path | None:
    """`search_dir/crops-<digest>.fatbin` built from the current sources in `kernel_dir`, or None."""
    path = Path(search_dir) / f"crops-{kernel_source_digest(kernel_dir)}.fatbin"
    return path if path.is_file() else None


def kernel_source(kernel_dir: Path = KERNEL_DIR) -> str:
    """crops.cu with crop_math.cuh inlined: one self-contained NVRTC translation unit."""
    source = (Path(kernel_dir) / KERNEL_SOURCE).read_text(encoding="utf-8")
    header = (Path(kernel_dir) / "crop_math.cuh").read_text(encoding="utf-8")
    return source.replace(_INCLUDE, header, 1)


def inverse_warps(warps) -> np.ndarray:
    """(N, 6) float32 crop px -> image px matrices for (N, 2, 3) image px -> crop px `warps`.

    cv2.warpAffine's own steps: invert in float64 with the operations of `cv2.invertAffineTransform`,
    then round to float32 (its sampling runs in float32), so the kernel samples the CPU path's points.
    """
    m = np.asarray(warps, dtype=np.float64)
    if m.ndim != 3 or m.shape[1:] != _WARP_SHAPE:
        raise InputError(f"warps must have shape (N, 2, 3), got {m.shape}")
    det = m[:, 0, 0] * m[:, 1, 1] - m[:, 0, 1] * m[:, 1, 0]
    with np.errstate(divide="ignore"):
        d = np.where(det != 0, 1.0 / np.where(det != 0, det, 1.0), 0.0)
    a11, a12, a21, a22 = m[:, 1, 1] * d, m[:, 0, 1] * -d, m[:, 1, 0] * -d, m[:, 0, 0] * d
    b1 = -a11 * m[:, 0, 2] - a12 * m[:, 1, 2]
    b2 = -a21 * m[:, 0, 2] - a22 * m[:, 1, 2]
    return np.stack([a11, a12, b1, a21, a22, b2], axis=1).astype(np.float32)


def mean_scale(mean=PIXEL_MEAN_RGB, std=PIXEL_STD_RGB) -> np.ndarray:
    """(6,) float32: mean R, G, B then 1 / std R, G, B, rounded as `preprocess.normalisation_table` does."""
    mean32 = np.asarray(mean, dtype=np.float32)
    scale32 = 1.0 / np.asarray(std, dtype=np.float32)
    return np.concatenate([mean32, scale32]).astype(np.float32)


def launch_grid(count: int, height: int = INPUT_HEIGHT, width: int = INPUT_WIDTH) -> tuple[int, int, int]:
    """CUDA grid covering `count` crops of (height, width) pixels with BLOCK-sized blocks."""
    return (-(-width // BLOCK[0]), -(-height // BLOCK[1]), count)


def crops_module(cp):
    """The loaded kernel module: the matching fatbin when there is one, else NVRTC-compiled source."""
    path = fatbin_path()
    if path is not None:
        module = cp.RawModule(path=str(path))
        try:
            for name in ENTRY_POINTS.values():
                module.get_function(name)
            return module
        except cuda_errors(cp) as exc:  # e.g. no SASS/PTX in it for this GPU or driver
            log.info("crop kernels: %s does not load here (%s); compiling with NVRTC", path.name, exc)
    return cp.RawModule(code=kernel_source(), options=NVRTC_OPTIONS)


class CudaCrops:
    """Crop stage for CUDA backends, on the GPU; the interface of `cpu_crops.CpuCrops`.

    `stage(image, warps, flip=False, out=None) -> crops`: image (H, W, 3) uint8 in `color` order: numpy
    (uploaded once per call through pinned memory), CuPy, or any `__cuda_array_interface__` / DLPack GPU
    array (used in place, any strides). warps: (N, 2, 3) image px -> crop px (`geometry.warps_from_boxes`).
    flip: also write the crops mirrored (crop x -> w - 1 - x) as rows N..2N-1. out: optional C-contiguous
    CuPy float32 or float16 (M >= copies * N, 3, h, w) buffer (e.g. an engine's input buffer), else a reused
    float32 one. Returns (copies * N, 3, h, w) on the current CuPy stream; valid until the next call.
    `stage.write(...)` fills rows of a batch the caller holds. size: the crops' (h, w) (default 256 x 192).
    border: the 8-bit value of pixels outside the image, before normalisation (0, as cv2.warpAffine's; a
    detector's letterbox uses its padding grey).
    Raises MissingDependencyError without CuPy, DeviceError without a usable GPU.
    """

    device = "cuda"

    def __init__(self, color: str = "bgr", mean=PIXEL_MEAN_RGB, std=PIXEL_STD_RGB, device: int | None = None,
                 size: tuple[int, int] = (INPUT_HEIGHT, INPUT_WIDTH), border: float = BORDER_VALUE):
        self.color = checked_color(color)
        self.size = tuple(size)
        self.border = float(border)
        self.cuda = cuda_device(device, "GPU preprocessing (crop kernel)")
        import cupy as cp  # cuda_device() has imported it

        self._cp = cp
        module = crops_module(cp)
        self._kernels = {dtype: module.get_function(name) for dtype, name in ENTRY_POINTS.items()}
        self._mean_scale = cp.asarray(mean_scale(mean, std))
        self._images = DeviceImages(cp)
        self._warps = PinnedUpload(cp)
        self._batch = cp.empty((0, _CHANNELS, *self.size), cp.float32)

    def __call__(self, image, warps, flip: bool = False, out=None):
        count = len(warps)
        batch = self.batch((2 if flip else 1) * count, out)
        self.write(image, warps, batch, 0, count if flip else None)
        return batch

    def write(self, image, warps, batch, row: int, mirror_row: int | None = None) -> None:
        """Write the N crops of `image` into `batch[row:row + N]` (CuPy, C-contiguous), and their mirrored
        copies into `batch[mirror_row:mirror_row + N]` unless `mirror_row` is None; one kernel launch."""
        inverse = inverse_warps(warps)
        count = len(inverse)
        if count > MAX_BOXES_PER_CALL:
            raise InputError(f"{count} boxes in one call; the crop kernel takes at most {MAX_BOXES_PER_CALL}")
        if count == 0:
            return
        stream = execution_stream(self._cp)
        pixels = self._images.on_device(image, stream)
        inverse_gpu = self._warps.to_device(inverse, stream)
        row_stride, col_stride, channel_stride = pixels.strides
        height, width = self.size
        args = (
            pixels, np.int32(pixels.shape[0]), np.int32(pixels.shape[1]), np.int64(row_stride),
            np.int64(col_stride), np.int64(channel_stride), np.int32(self.color == "bgr"), inverse_gpu,
            np.int32(count), batch[row:], np.int32(height), np.int32(width), self._mean_scale,
            np.float32(self.border), np.int32(-1 if mirror_row is None else mirror_row - row),
        )
        with stream:  # RawKernel launches on the current stream
            self._kernels[batch.dtype](launch_grid(count, height, width), BLOCK, args)

    def batch(self, rows: int, out=None):
        """`rows` rows to write crops into: the first rows of `out` (checked), else of the stage's own buffer."""
        cp = self._cp
        if out is not None:
            expected = (_CHANNELS, *self.size)
            if not isinstance(out, cp.ndarray) or out.dtype not in ENTRY_POINTS or out.shape[1:] != expected:
                raise InputError(f"out must be a CuPy float32/float16 (M, {_CHANNELS}, {self.size[0]}, {self.size[1]}) "
                                 f"array, got {type(out).__name__}")
            if len(out) < rows or not out.flags.c_contiguous:
                raise InputError(f"out must be C-contiguous with at least {rows} rows, got shape {out.shape}")
            return out[:rows]
        if len(self._batch) < rows:
            self._batch = cp.empty((rows, _CHANNELS, *self.size), cp.float32)
        return self._batch[:rows]
