"""How much the GPU's detector input (one warp of the frame by the crop kernel, run here on the host) differs
from the CPU's, which is the exporter's own resize (Ultralytics' letterbox; PIL's bilinear for DETR).

Measured on real photos. Letterbox: within one 8-bit level inside the image, equal in the padding; only the
image's 1-2 px border ring differs more (the warp blends it with the grey, cv2.resize repeats edge pixels).
Stretch (DETR): PIL's bilinear filter widens when it shrinks (antialiasing), the warp samples 2 x 2 pixels:
about 1.6 levels on average on a 600 x 400 photo shrunk to 320 x 320.
"""

from __future__ import annotations

import numpy as np
import pytest
from host_kernel import host_crops
from skimage import data

from vitpose_trt.artifacts import DetectorSettings
from vitpose_trt.detect.fitting import fit_for
from vitpose_trt.detect.inputs import CpuDetectorInputs

#: The image's border ring where the two resamplings treat the edge differently, in input px.
EDGE_RING_PX = 2
CASES = {
    "shrink 512x512 -> 384x640": (data.astronaut, (384, 640)),
    "enlarge 300x451 -> 640x640": (data.chelsea, (640, 640)),
    "gray 512x512 -> 480x640": (lambda: np.repeat(data.camera()[:, :, None], 3, axis=2), (480, 640)),
}


def _inputs(kernel_build, tmp_path, image, size, resize):
    settings = DetectorSettings(layout="yolo", input_name="images", output_names=("output0",), input_size=size,
                                num_classes=80, classes=(0,), resize=resize, score_threshold=0.25,
                                iou_threshold=0.7, max_detections=300)
    fit = fit_for(image.shape[:2], size, resize)
    cpu = np.empty((1, 3, *size), np.float32)
    CpuDetectorInputs("rgb", settings).write(image, fit, cpu, 0)
    gpu = host_crops(kernel_build, tmp_path, image, fit.warp[None], "rgb", False, "f32", size=size,
                     mean=(0.0,) * 3, std=(settings.divisor,) * 3, border=settings.pad_value)
    return fit, (np.abs(gpu - cpu) * settings.divisor)[0]


@pytest.mark.parametrize("case", list(CASES))
def test_gpu_letterbox_differs_by_resampling_only(kernel_build, tmp_path, case):
    make, size = CASES[case]
    fit, levels = _inputs(kernel_build, tmp_path, np.ascontiguousarray(make()), size, "letterbox")
    (left, top), (width, height) = fit.pad, fit.resized
    ring = EDGE_RING_PX
    interior = levels[:, top + ring : top + height - ring, left + ring : left + width - ring]
    assert interior.max() <= 1.0 + 1e-3 and interior.mean() < 0.2
    padding = np.ones(levels.shape[1:], bool)
    padding[max(top - ring, 0) : top + height + ring, max(left - ring, 0) : left + width + ring] = False
    assert levels[:, padding].max() < 1e-3  # the grey is the grey


def test_gpu_stretch_differs_from_pils_antialiased_resize(kernel_build, tmp_path):
    _, levels = _inputs(kernel_build, tmp_path, np.ascontiguousarray(data.coffee()), (320, 320), "stretch")
    assert levels.mean() < 2.0
