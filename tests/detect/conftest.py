"""Detector fixtures: grid detectors of each layout (detector_models.py), a YOLO-shaped graph at 640 and a small
transformers RT-DETR, exported to ONNX once per session."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from detector_models import MODELS, RTDETR_SIZE, export_detector, export_yolo_shaped


@pytest.fixture(scope="session")
def grid_onnx(tmp_path_factory):
    """`grid_onnx(layout)` -> path of that layout's grid detector ONNX (256 x 320 input, dynamic batch)."""
    folder = tmp_path_factory.mktemp("grid-detectors")
    made = {}

    def get(layout: str):
        if layout not in made:
            made[layout] = export_detector(layout, folder / f"grid-{layout}.onnx")
        return made[layout]

    return get


@pytest.fixture(params=list(MODELS))
def layout(request) -> str:
    return request.param


@pytest.fixture(scope="session")
def yolo_shaped_onnx(tmp_path_factory):
    return export_yolo_shaped(tmp_path_factory.mktemp("yolo-shaped") / "yolo-shaped.onnx", width=8)


@pytest.fixture(scope="session")
def astronaut_rgb():
    from skimage import data

    return np.ascontiguousarray(data.astronaut())


def _rtdetr():
    import torch
    from transformers import RTDetrConfig, RTDetrForObjectDetection, RTDetrResNetConfig

    backbone = RTDetrResNetConfig(embedding_size=16, hidden_sizes=[32, 64, 128, 256], depths=[1, 1, 1, 1],
                                  out_features=["stage2", "stage3", "stage4"], downsample_in_first_stage=False)
    config = RTDetrConfig(backbone_config=backbone, num_labels=80, d_model=64, encoder_hidden_dim=64,
                          encoder_in_channels=[64, 128, 256], encoder_ffn_dim=128, decoder_ffn_dim=128,
                          decoder_layers=1, encoder_layers=1, num_queries=50, decoder_attention_heads=4,
                          encoder_attention_heads=4, decoder_in_channels=[64, 64, 64], anchor_image_size=None)
    torch.manual_seed(0)
    model = RTDetrForObjectDetection(config).eval()
    for name, module in model.named_modules():  # untrained scores sit at the 1% prior: favour persons instead
        if isinstance(module, torch.nn.Linear) and ("class_embed" in name or "score_head" in name):
            torch.nn.init.normal_(module.bias, std=1.0)
            module.bias.data[0] += 3.0
    return model


@pytest.fixture(scope="session")
def rtdetr_onnx(tmp_path_factory):
    import torch

    class Outputs(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, pixel_values):
            out = self.model(pixel_values=pixel_values)
            return out.logits, out.pred_boxes

    path = tmp_path_factory.mktemp("rtdetr") / "rtdetr.onnx"
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(Outputs(_rtdetr()), (torch.rand(2, 3, RTDETR_SIZE, RTDETR_SIZE),), str(path), dynamo=False,
                          opset_version=17, input_names=["pixel_values"], output_names=["logits", "pred_boxes"],
                          dynamic_axes={"pixel_values": {0: "b"}, "logits": {0: "b"}, "pred_boxes": {0: "b"}})
    return path
