"""Parity with Hugging Face transformers' VitPoseForPoseEstimation (random init from a config, no download).

The oracle is transformers' own forward. Every parameter and BatchNorm buffer of the HF model is
perturbed first, so a swapped name (norm1/norm2, q/k/v order, BN 1/2) or a missed pos_embed fold shows.
The official-layout .pth is written by this test with its own spelled-out name table (independent of
the package's converters), with the 193-slot position table, a cls_token and the `state_dict`/`meta` wrapper.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from transformers import VitPoseBackboneConfig, VitPoseConfig, VitPoseForPoseEstimation
from transformers.models.vitpose.modeling_vitpose import VitPoseClassicDecoder

import vitpose_trt as vt
from vitpose_trt.specs import (
    INPUT_HEIGHT,
    INPUT_WIDTH,
    MOE_DATASET_INDEX,
    PIXEL_MEAN_RGB,
    PIXEL_STD_RGB,
)

#: ||ours - hf|| / ||hf|| must stay below this (issue 2).
MAX_RELATIVE_ERROR = 1e-5
#: (hidden size, depth, attention heads) of the HF configs per size.
SIZES = {"tiny": (192, 2, 3), "s": (384, 12, 12), "b": (768, 12, 12)}
#: ViTPose++-S part features (specs.MODELS["vitpose-plus-s"]).
PLUS_S_PARTS = 96
NUM_EXPERTS = 6


def hf_config(size: str, head: str, num_keypoints: int = 17, experts: int = 1, parts: int = 0) -> VitPoseConfig:
    dim, depth, heads = SIZES[size]
    backbone = VitPoseBackboneConfig(
        hidden_size=dim, num_hidden_layers=depth, num_attention_heads=heads, layer_norm_eps=1e-6,
        out_indices=[depth], num_experts=experts, part_features=parts,
    )  # fmt: skip
    return VitPoseConfig(backbone_config=backbone, use_simple_decoder=head == "simple", num_labels=num_keypoints)


@torch.no_grad()
def perturbed(module: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Every float tensor of `module` moved off its init value (running_var kept positive)."""
    generator = torch.Generator().manual_seed(seed)
    for name, tensor in module.state_dict().items():
        if not tensor.is_floating_point():
            continue
        noise = torch.randn(tensor.shape, generator=generator)
        if name.endswith("running_var"):
            tensor.copy_(0.5 + noise.abs())
        elif tensor.ndim == 1:
            tensor.add_(0.2 * noise)
        else:
            tensor.add_(0.02 * noise)
    return module.eval()


def official_from_hf(hf: dict, depth: int, head: str, seed: int = 0) -> dict:
    """HF VitPose tensors under the official ViTPose names, as the original mmpose checkpoints store them."""
    layer = "backbone.encoder.layer.{}."
    official = {
        "backbone.cls_token": torch.randn(1, 1, hf["backbone.layernorm.weight"].shape[0], generator=torch.Generator().manual_seed(seed)),
        "backbone.pos_embed": hf["backbone.embeddings.position_embeddings"],
        "backbone.patch_embed.proj.weight": hf["backbone.embeddings.patch_embeddings.projection.weight"],
        "backbone.patch_embed.proj.bias": hf["backbone.embeddings.patch_embeddings.projection.bias"],
        "backbone.last_norm.weight": hf["backbone.layernorm.weight"],
        "backbone.last_norm.bias": hf["backbone.layernorm.bias"],
    }  # fmt: skip
    for i in range(depth):
        src, dst = layer.format(i), f"backbone.blocks.{i}."
        for kind in ("weight", "bias"):
            qkv = [hf[f"{src}attention.attention.{part}.{kind}"] for part in ("query", "key", "value")]
            official[f"{dst}attn.qkv.{kind}"] = torch.cat(qkv, dim=0)
            official[f"{dst}attn.proj.{kind}"] = hf[f"{src}attention.output.dense.{kind}"]
            official[f"{dst}norm1.{kind}"] = hf[f"{src}layernorm_before.{kind}"]
            official[f"{dst}norm2.{kind}"] = hf[f"{src}layernorm_after.{kind}"]
            official[f"{dst}mlp.fc1.{kind}"] = hf[f"{src}mlp.fc1.{kind}"]
            official[f"{dst}mlp.fc2.{kind}"] = hf[f"{src}mlp.fc2.{kind}"]
            for j in range(NUM_EXPERTS):
                if f"{src}mlp.experts.{j}.{kind}" in hf:
                    official[f"{dst}mlp.experts.{j}.{kind}"] = hf[f"{src}mlp.experts.{j}.{kind}"]
    official.update(official_head(hf, "head.", "keypoint_head.", head))
    return official


def official_head(hf: dict, src: str, dst: str, head: str) -> dict:
    """One HF decoder's tensors (prefix `src`) under official head names (prefix `dst`)."""
    out = {f"{dst}final_layer.{kind}": hf[f"{src}conv.{kind}"] for kind in ("weight", "bias")}
    if head == "classic":
        out[f"{dst}deconv_layers.0.weight"] = hf[f"{src}deconv1.weight"]
        out[f"{dst}deconv_layers.3.weight"] = hf[f"{src}deconv2.weight"]
        for bn, index in (("batchnorm1", 1), ("batchnorm2", 4)):
            for kind in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"):
                out[f"{dst}deconv_layers.{index}.{kind}"] = hf[f"{src}{bn}.{kind}"]
    return out


def relative_error(ours: torch.Tensor, reference: torch.Tensor) -> float:
    return float((ours - reference).norm() / reference.norm())


@pytest.fixture(scope="module")
def crops(astronaut_bgr) -> torch.Tensor:
    """(2, 3, 256, 192) normalised float32 crops of the astronaut image: the whole image and her face."""
    images = [astronaut_bgr, astronaut_bgr[20:220, 140:290]]
    batch = []
    for image in images:
        rgb = cv2.resize(image, (INPUT_WIDTH, INPUT_HEIGHT), interpolation=cv2.INTER_LINEAR)[:, :, ::-1]
        batch.append(((rgb - np.float32(PIXEL_MEAN_RGB)) / np.float32(PIXEL_STD_RGB)).astype(np.float32))
    return torch.from_numpy(np.stack(batch).transpose(0, 3, 1, 2).copy())


def assert_parity(model, hf_model, crops, **hf_kwargs):
    with torch.no_grad():
        ours = model(crops)
        reference = hf_model(crops, **hf_kwargs).heatmaps
    assert ours.shape == reference.shape
    error = relative_error(ours, reference)
    assert error < MAX_RELATIVE_ERROR, error
    # The comparison is not vacuous: the heatmaps vary across pixels and between the two crops.
    assert float(reference.std()) > 0 and relative_error(ours[:1], reference[1:]) > 1e-2


def test_tiny_simple_hf_folder_and_single_safetensors(tmp_path, crops):
    hf_model = perturbed(VitPoseForPoseEstimation(hf_config("tiny", "simple")), seed=1)
    hf_model.save_pretrained(tmp_path / "hf")
    model = vt.load_model(tmp_path / "hf")
    assert (model.spec.name, model.keypoints.name) == ("vitpose-tiny-simple", "coco")
    assert_parity(model, hf_model, crops)

    # The same file alone: sizes and head inferred from the tensor shapes.
    alone = tmp_path / "alone" / "weights.safetensors"
    alone.parent.mkdir()
    alone.write_bytes((tmp_path / "hf" / "model.safetensors").read_bytes())
    assert_parity(vt.load_model(alone), hf_model, crops)


def test_attention_heads_from_config_json_must_fit(tmp_path):
    config = hf_config("tiny", "simple")
    config.backbone_config.num_attention_heads = 6
    VitPoseForPoseEstimation(config).save_pretrained(tmp_path / "hf")
    with pytest.raises(vt.CheckpointError, match="no known ViTPose variant fits .*6 attention heads"):
        vt.load_model(tmp_path / "hf")
    with pytest.raises(vt.CheckpointError, match="does not fit vitpose-tiny-simple.*config.json says 6"):
        vt.load_model(tmp_path / "hf", name="vitpose-tiny-simple")


@pytest.mark.slow
@pytest.mark.parametrize("size", ["s", "b"])
@pytest.mark.parametrize("head", ["classic", "simple"])
def test_official_pth_and_hf_folder_match_transformers(tmp_path, crops, size, head):
    hf_model = perturbed(VitPoseForPoseEstimation(hf_config(size, head)), seed=2)
    hf_model.save_pretrained(tmp_path / "hf")
    official = official_from_hf(hf_model.state_dict(), SIZES[size][1], head)
    torch.save({"meta": {"epoch": 210}, "state_dict": official}, tmp_path / "official.pth")
    name = f"vitpose-{size}" + ("-simple" if head == "simple" else "")

    for weights in (tmp_path / "official.pth", tmp_path / "hf"):
        model = vt.load_model(weights)
        assert (model.spec.name, model.keypoints.name) == (name, "coco")
        assert not model.training
        assert_parity(model, hf_model, crops)


@pytest.fixture(scope="module")
def plus_s(tmp_path_factory):
    """A ViTPose++-S: HF models per dataset sharing one MoE backbone, and the official 6-head .pth of them all."""
    folder = tmp_path_factory.mktemp("plus_s")
    coco = perturbed(VitPoseForPoseEstimation(hf_config("s", "classic", 17, NUM_EXPERTS, PLUS_S_PARTS)), seed=3)
    official = official_from_hf(coco.state_dict(), SIZES["s"][1], "classic")
    hf_models = {"coco": coco}
    for dataset, index in MOE_DATASET_INDEX.items():
        if index == 0:
            continue
        k = vt.KEYPOINT_SETS[dataset].num_keypoints
        config = hf_config("s", "classic", k, NUM_EXPERTS, PLUS_S_PARTS)
        head = perturbed(VitPoseClassicDecoder(config), seed=10 + index)
        official.update(official_head(head.state_dict(), "", f"associate_keypoint_heads.{index - 1}.", "classic"))
        model = VitPoseForPoseEstimation(config).eval()
        model.backbone.load_state_dict(coco.backbone.state_dict())
        model.head.load_state_dict(head.state_dict())
        hf_models[dataset] = model
    torch.save({"state_dict": official}, folder / "vitpose_plus_s.pth")
    coco.save_pretrained(folder / "hf")
    return folder, hf_models


@pytest.mark.slow
@pytest.mark.parametrize("dataset", list(MOE_DATASET_INDEX))
def test_vitpose_plus_folded_expert_matches_transformers_moe(plus_s, crops, dataset):
    folder, hf_models = plus_s
    model = vt.load_model(folder / "vitpose_plus_s.pth", dataset=dataset)
    assert (model.spec.name, model.keypoints.name) == ("vitpose-plus-s", dataset)
    # The folded model is a plain ViTPose: full-width fc2, no experts left.
    assert model.backbone.blocks[0].mlp.fc2.out_features == SIZES["s"][0]
    assert not any("expert" in key for key in model.state_dict())
    index = torch.full((crops.shape[0],), MOE_DATASET_INDEX[dataset])
    assert_parity(model, hf_models[dataset], crops, dataset_index=index)


@pytest.mark.slow
def test_vitpose_plus_hf_folder_gives_coco_and_refuses_other_datasets(plus_s, crops):
    folder, hf_models = plus_s
    model = vt.load_model(folder / "hf")
    assert (model.spec.name, model.keypoints.name) == ("vitpose-plus-s", "coco")
    assert_parity(model, hf_models["coco"], crops, dataset_index=torch.zeros(crops.shape[0], dtype=torch.long))
    # HF ViTPose++ checkpoints carry only the COCO head: an AIC expert under the COCO head would be wrong.
    with pytest.raises(vt.CheckpointError, match="only the COCO head"):
        vt.load_model(folder / "hf", dataset="aic")
