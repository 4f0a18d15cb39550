"""Small detectors whose outputs are known functions of the image, in each accepted layout, for the tests.

The input is cut into CELL x CELL cells; each cell is one anchor (YOLO), row (end-to-end) or query (DETR)
whose box is centred on the cell. What a cell detects is painted into the image (`paint_person`):
- channel 0, left half of the cell: the person score (value / 255); right half: the "car" (class 2) score;
- channel 1: the box width, channel 2: the box height (value / 255 * MAX_SIDE px).
So a test knows exactly which boxes, scores and classes the model reports for the image it painted.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from vitpose_trt.detect.coco_classes import COCO_CLASSES as COCO_NAMES

CELL = 32
#: Input side of the small RT-DETR the tests build (conftest.py's rtdetr_onnx).
RTDETR_SIZE = 320
NUM_CLASSES = 80
CAR = 2
#: Box sides are painted as value / 255 of this many input px.
MAX_SIDE = 255.0
#: DETR logits are the log-odds of the scores, clamped away from 0 and 1.
EPS = 1e-4


def _cell_features(images: torch.Tensor):
    """(N, cells, 4): person score, car score, width px, height px per cell, cells in row-major order."""
    half = torch.nn.functional.avg_pool2d(images[:, :1], (CELL, CELL // 2))  # (N, 1, rows, 2 * cols)
    means = torch.nn.functional.avg_pool2d(images, CELL)  # (N, 3, rows, cols)
    person, car = half[:, 0, :, 0::2], half[:, 0, :, 1::2]
    sides = means[:, 1:] * MAX_SIDE
    features = torch.stack([person, car, sides[:, 0], sides[:, 1]], dim=-1)  # (N, rows, cols, 4)
    return features.flatten(1, 2)


def _centres(height: int, width: int, device=None) -> torch.Tensor:
    """(cells, 2) cell centres (x, y) in input px, row-major, made on `device` (so a CUDA graph can capture
    them: a CPU tensor copied to the GPU cannot be)."""
    ys, xs = torch.meshgrid(torch.arange(height // CELL, device=device), torch.arange(width // CELL, device=device),
                            indexing="ij")
    return torch.stack([xs.flatten(), ys.flatten()], dim=1).float() * CELL + CELL / 2


class GridYolo(torch.nn.Module):
    """YOLO raw: (N, 3, H, W) in [0, 1] -> (N, 4 + 80, cells): cx, cy, w, h, then class scores."""

    def forward(self, images):
        f = _cell_features(images)
        centres = _centres(images.shape[2], images.shape[3], images.device).to(images)
        scores = torch.zeros(f.shape[0], f.shape[1], NUM_CLASSES, dtype=images.dtype, device=images.device)
        scores[..., 0], scores[..., CAR] = f[..., 0], f[..., 1]
        boxes = torch.cat([centres.expand(f.shape[0], -1, -1), f[..., 2:]], dim=-1)
        return torch.cat([boxes, scores], dim=-1).transpose(1, 2)


class GridEnd2End(torch.nn.Module):
    """YOLO end-to-end: -> (N, cells, 6): x1, y1, x2, y2, score, class (person or car, the higher)."""

    def forward(self, images):
        f = _cell_features(images)
        centres = _centres(images.shape[2], images.shape[3], images.device).to(images).expand(f.shape[0], -1, -1)
        half = f[..., 2:] / 2
        score, is_car = torch.max(f[..., :2], dim=-1)
        label = is_car.to(images.dtype) * CAR
        return torch.cat([centres - half, centres + half, score[..., None], label[..., None]], dim=-1)


class GridDetr(torch.nn.Module):
    """DETR: -> logits (N, cells, 80) (log-odds of the scores), boxes (N, cells, 4) normalised cx, cy, w, h."""

    def forward(self, images):
        f = _cell_features(images)
        height, width = images.shape[2], images.shape[3]
        probability = torch.full((f.shape[0], f.shape[1], NUM_CLASSES), EPS, dtype=images.dtype, device=images.device)
        probability[..., 0], probability[..., CAR] = f[..., 0], f[..., 1]
        probability = probability.clamp(EPS, 1 - EPS)
        logits = torch.log(probability / (1 - probability))
        centres = _centres(height, width, images.device).to(images).expand(f.shape[0], -1, -1)
        scale = torch.tensor([width, height, width, height], dtype=images.dtype, device=images.device)
        return logits, torch.cat([centres, f[..., 2:]], dim=-1) / scale


MODELS = {"yolo": (GridYolo, ["output0"]), "yolo-end2end": (GridEnd2End, ["output0"]),
          "detr": (GridDetr, ["logits", "pred_boxes"])}


def export_detector(layout: str, path, input_size=(256, 320), names: dict | None = None, dynamic: bool = True):
    """Export the grid detector of `layout` to ONNX at `path` (opset 17, dynamic batch); `names` adds
    Ultralytics-style "names" and "imgsz" metadata. Returns `path`."""
    import onnx

    module, outputs = MODELS[layout]
    axes = {name: {0: "batch"} for name in ["images", *outputs]} if dynamic else None
    with torch.no_grad():
        torch.onnx.export(module().eval(), (torch.zeros(2, 3, *input_size),), str(path), dynamo=False,
                          opset_version=17, input_names=["images"], output_names=outputs, dynamic_axes=axes)
    if names is not None:
        model = onnx.load(str(path))
        for key, value in (("names", repr(names)), ("imgsz", repr(list(input_size))), ("author", "Ultralytics")):
            entry = model.metadata_props.add()
            entry.key, entry.value = key, value
        onnx.save(model, str(path))
    return path


def paint_person(image: np.ndarray, cell: tuple[int, int], score: float, size: tuple[float, float],
                 car_score: float = 0.0) -> tuple[float, float, float, float]:
    """Paint cell (row, col) of an RGB input-sized image so the models see a box of `size` (w, h) px centred
    on it with `score` (person) and `car_score`; return that box xyxy in input px."""
    row, col = cell
    y0, x0 = row * CELL, col * CELL
    block = image[y0 : y0 + CELL, x0 : x0 + CELL]
    block[:, : CELL // 2, 0] = round(score * 255)
    block[:, CELL // 2 :, 0] = round(car_score * 255)
    block[..., 1], block[..., 2] = round(size[0] / MAX_SIDE * 255), round(size[1] / MAX_SIDE * 255)
    cx, cy = x0 + CELL / 2, y0 + CELL / 2
    w, h = block[0, 0, 1] / 255 * MAX_SIDE, block[0, 0, 2] / 255 * MAX_SIDE
    return cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2


class YoloShaped(torch.nn.Module):
    """A random-weight YOLO-shaped detector: conv stages down to strides 8, 16, 32, one 1x1 head per stride,
    decoded in the graph like Ultralytics' exports: (N, 3, 640, 640) -> (N, 4 + 80, 8400) of cx, cy, w, h in
    input px and sigmoid class scores. `width` sets the channels: 19 is about YOLO11n's compute at 640 (6.3
    GFLOPs; YOLO11n: 6.5)."""

    STRIDES = (8, 16, 32)

    def __init__(self, width: int = 19):
        super().__init__()
        conv = lambda c_in, c_out, stride: torch.nn.Sequential(  # noqa: E731
            torch.nn.Conv2d(c_in, c_out, 3, stride, 1), torch.nn.BatchNorm2d(c_out), torch.nn.SiLU())
        channels = [width, 2 * width, 4 * width, 8 * width, 16 * width]
        self.stem = torch.nn.Sequential(conv(3, channels[0], 2), conv(channels[0], channels[1], 2),
                                        conv(channels[1], channels[1], 1))
        self.stages = torch.nn.ModuleList(
            torch.nn.Sequential(conv(channels[i], channels[i + 1], 2), conv(channels[i + 1], channels[i + 1], 1),
                                conv(channels[i + 1], channels[i + 1], 1)) for i in range(1, 4))
        self.heads = torch.nn.ModuleList(torch.nn.Conv2d(c, 4 + NUM_CLASSES, 1) for c in channels[2:])
        for head in self.heads:  # untrained BatchNorm flattens the features: spread the scores out
            torch.nn.init.normal_(head.weight, std=2.0)

    def forward(self, images):
        x, outputs = self.stem(images), []
        for stage, head, stride in zip(self.stages, self.heads, self.STRIDES):
            x = stage(x)
            raw = head(x)
            rows, cols = raw.shape[2], raw.shape[3]
            ys, xs = torch.meshgrid(torch.arange(rows, device=raw.device), torch.arange(cols, device=raw.device),
                                    indexing="ij")
            grid = torch.stack([xs, ys]).to(raw).reshape(1, 2, -1)
            flat = raw.flatten(2)
            centres = (grid + torch.sigmoid(flat[:, :2])) * stride
            sizes = torch.exp(flat[:, 2:4].clamp(max=4)) * stride
            outputs.append(torch.cat([centres, sizes, torch.sigmoid(flat[:, 4:])], dim=1))
        return torch.cat(outputs, dim=2)


def export_yolo_shaped(path, width: int = 19, seed: int = 0, size: int = 640):
    """`YoloShaped(width)` with seeded weights, exported like an Ultralytics dynamic-batch ONNX (opset 17,
    onnxslim, "names"/"imgsz" metadata). Returns `path`."""
    import onnx
    import onnxslim

    torch.manual_seed(seed)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(YoloShaped(width).eval(), (torch.zeros(2, 3, size, size),), str(path), dynamo=False,
                          opset_version=17, input_names=["images"], output_names=["output0"],
                          dynamic_axes={"images": {0: "batch"}, "output0": {0: "batch"}})
    model = onnxslim.slim(onnx.load(str(path)))
    for key, value in (("names", repr(dict(enumerate(COCO_NAMES)))), ("imgsz", repr([size, size])),
                       ("author", "Ultralytics-shaped test model")):
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(path))
    return path
