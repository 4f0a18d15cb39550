"""Analytic MAC counts against the official ViTPose figures and PyTorch's own FLOP counter."""

from __future__ import annotations

import pytest

from vitpose_trt.bench.flops import macs_of_spec
from vitpose_trt.specs import MODELS

#: Backbone GMACs at 256x192 from the official ViTPose repository (FIELD.md).
OFFICIAL_BACKBONE_GMACS = {"vitpose-s": 4.5, "vitpose-b": 17.1, "vitpose-l": 59.9, "vitpose-h": 124.0}
COCO_KEYPOINTS = 17


@pytest.mark.parametrize("name,gmacs", OFFICIAL_BACKBONE_GMACS.items())
def test_backbone_macs_match_the_official_figures(name, gmacs):
    macs = macs_of_spec(MODELS[name], COCO_KEYPOINTS)
    # The official table rounds to 0.1 GMACs.
    assert macs.backbone / 1e9 == pytest.approx(gmacs, abs=0.05)
    assert macs.flops == 2 * macs.total == 2 * (macs.backbone + macs.head)


@pytest.mark.parametrize("name", ["vitpose-tiny", "vitpose-tiny-simple"])
def test_counts_equal_torch_flop_counter(name):
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    import vitpose_trt as vt

    model = vt.load_model(name=name)
    batch = 2
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        model(torch.zeros(batch, 3, 256, 192))
    # torch counts conv, conv-transpose, linear and matmul FLOPs (2 per MAC), exactly the ops we count.
    assert counter.get_total_flops() == batch * macs_of_spec(model.spec, model.keypoints.num_keypoints).flops


def test_simple_head_is_cheaper_than_classic():
    classic = macs_of_spec(MODELS["vitpose-b"], COCO_KEYPOINTS)
    simple = macs_of_spec(MODELS["vitpose-b-simple"], COCO_KEYPOINTS)
    assert simple.backbone == classic.backbone and simple.head < classic.head
