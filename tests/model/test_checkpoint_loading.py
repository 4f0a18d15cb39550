"""load_model on checkpoint files: layouts, wrappers, inference of variant/head/keypoints, and bad input.

All on the tiny variants (192-dim, 2 blocks) so they run in seconds; the transformers parity for real
sizes is in test_hf_parity.py.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

import vitpose_trt as vt
from vitpose_trt.model.architecture import ViTPose

GRID_TOKENS = 192


def official_layout(model: torch.nn.Module, seed: int = 0) -> dict:
    """`model`'s weights as an official checkpoint stores them: 193-slot pos_embed and a cls_token."""
    state = dict(model.state_dict())
    folded = state["backbone.pos_embed"]
    cls_slot = torch.randn(1, 1, folded.shape[-1], generator=torch.Generator().manual_seed(seed))
    state["backbone.pos_embed"] = torch.cat([cls_slot, folded - cls_slot], dim=1)
    state["backbone.cls_token"] = torch.zeros(1, 1, folded.shape[-1])
    return state


def random_model(name: str, keypoints: str = "coco", seed: int = 0) -> ViTPose:
    torch.manual_seed(seed)
    model = ViTPose(vt.MODELS[name], vt.KEYPOINT_SETS[keypoints]).eval()
    with torch.no_grad():
        model.backbone.pos_embed.normal_(0, 0.5)
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.normal_(0, 0.1)
                module.running_var.uniform_(0.5, 1.5)
    return model


def same_outputs(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    x = torch.randn(2, 3, 256, 192, generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        return torch.allclose(a(x), b(x), rtol=1e-5, atol=1e-6)


@pytest.fixture(scope="module")
def tiny():
    return random_model("vitpose-tiny")


@pytest.mark.parametrize("wrapper", ["bare", "state_dict+meta", "ddp"])
def test_official_pth_with_or_without_wrapper(tmp_path, tiny, wrapper):
    state = official_layout(tiny)
    if wrapper == "state_dict+meta":
        obj = {"meta": {"epoch": 210, "config": "ViTPose_tiny.py"}, "state_dict": state}
    elif wrapper == "ddp":
        obj = {f"module.{k}": v for k, v in state.items()}
    else:
        obj = state
    torch.save(obj, tmp_path / "ckpt.pth")
    model = vt.load_model(tmp_path / "ckpt.pth")
    assert (model.spec.name, model.keypoints.name) == ("vitpose-tiny", "coco")
    assert model.backbone.pos_embed.shape == (1, GRID_TOKENS, 192)
    assert not model.training and same_outputs(model, tiny)


def _with_numpy_1_names(path):
    """The checkpoint at `path` as numpy 1.x writes it (numpy.core.multiarray, not numpy._core)."""
    import zipfile

    old = path.with_name(f"{path.stem}-numpy1.pth")
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(old, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename.endswith("data.pkl"):
                data = data.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
            target.writestr(item, data)
    return old


def test_numpy_numbers_in_the_training_metadata_load_and_numpy_arrays_do_not(tmp_path, tiny):
    """mmcv keeps numpy numbers in a checkpoint's meta (hook_msgs.best_score, ...): harmless, so loaded, under
    numpy 1 and 2 names. A numpy array needs numpy's array reconstructor: refused, naming it."""
    meta = {"epoch": 210, "hook_msgs": {"best_score": np.float64(0.758), "best_epoch": np.int64(200)},
            "flags": [np.bool_(True), np.float32(0.5), np.complex64(1j)]}
    torch.save({"meta": meta, "state_dict": official_layout(tiny)}, tmp_path / "mmcv.pth")
    numpy_1 = _with_numpy_1_names(tmp_path / "mmcv.pth")
    assert b"numpy.core.multiarray\nscalar" in numpy_1.read_bytes()
    for path in (tmp_path / "mmcv.pth", numpy_1):
        assert same_outputs(vt.load_model(path), tiny)
    torch.save({"meta": {"losses": np.zeros(3)}, "state_dict": official_layout(tiny)}, tmp_path / "array.pth")
    with pytest.raises(vt.CheckpointError, match=r"array\.pth: .* it needs numpy\.(_core|core)\.multiarray\."
                                                 r"_reconstruct"):
        vt.load_model(tmp_path / "array.pth")


def test_own_state_dict_and_fp16_weights_load(tmp_path, tiny):
    torch.save(tiny.state_dict(), tmp_path / "own.pth")
    assert same_outputs(vt.load_model(tmp_path / "own.pth", name="vitpose-tiny"), tiny)
    torch.save({k: v.half() if v.is_floating_point() else v for k, v in official_layout(tiny).items()}, tmp_path / "h.pth")
    model = vt.load_model(tmp_path / "h.pth")
    assert all(p.dtype == torch.float32 for p in model.parameters())


@pytest.mark.parametrize(
    ("model_name", "keypoints", "dataset"),
    [
        ("vitpose-tiny", "aic", None),
        ("vitpose-tiny", "mpii", None),
        ("vitpose-tiny", "wholebody", None),
        ("vitpose-tiny", "ap10k", "ap10k"),
        ("vitpose-tiny-simple", "coco", None),
    ],
)
def test_variant_head_and_keypoints_inferred(tmp_path, model_name, keypoints, dataset):
    source = random_model(model_name, keypoints, seed=3)
    torch.save({"state_dict": official_layout(source)}, tmp_path / "ckpt.pth")
    model = vt.load_model(tmp_path / "ckpt.pth", dataset=dataset)
    assert (model.spec.name, model.keypoints.name) == (model_name, keypoints)
    assert same_outputs(model, source)


def test_dataset_that_does_not_fit_the_head(tmp_path, tiny):
    torch.save(official_layout(tiny), tmp_path / "ckpt.pth")
    with pytest.raises(vt.CheckpointError, match=r"17 keypoints but dataset 'aic' has 14"):
        vt.load_model(tmp_path / "ckpt.pth", dataset="aic")


def test_name_that_does_not_fit_names_the_one_that_would(tmp_path, tiny):
    torch.save(official_layout(tiny), tmp_path / "ckpt.pth")
    with pytest.raises(vt.CheckpointError) as info:
        vt.load_model(tmp_path / "ckpt.pth", name="vitpose-s")
    message = str(info.value)
    assert "ckpt.pth" in message and "does not fit vitpose-s" in message
    assert "backbone.patch_embed.proj.weight checkpoint (192, 3, 16, 16) vs model (384, 3, 16, 16)" in message
    assert "the weights fit vitpose-tiny" in message
    with pytest.raises(vt.CheckpointError, match="the weights fit vitpose-tiny$"):
        vt.load_model(tmp_path / "ckpt.pth", name="vitpose-tiny-simple")


def test_shapes_that_do_not_fit_list_missing_unexpected_and_mismatched(tmp_path, tiny):
    state = official_layout(tiny)
    del state["backbone.blocks.1.norm2.bias"]
    state["backbone.blocks.1.extra.weight"] = torch.zeros(3, 4)
    state["backbone.blocks.0.mlp.fc1.weight"] = torch.zeros(700, 192)
    torch.save({"state_dict": state}, tmp_path / "broken.pth")
    with pytest.raises(vt.CheckpointError) as info:
        vt.load_model(tmp_path / "broken.pth")
    message = str(info.value)
    assert "broken.pth does not fit vitpose-tiny" in message
    assert "1 missing: backbone.blocks.1.norm2.bias (192,)" in message
    assert "1 unexpected: backbone.blocks.1.extra.weight (3, 4)" in message
    assert "1 mismatched: backbone.blocks.0.mlp.fc1.weight checkpoint (700, 192) vs model (768, 192)" in message
    assert "the weights fit vitpose-tiny" in message


def test_unknown_sizes_list_the_known_variants(tmp_path):
    state = official_layout(random_model("vitpose-tiny"))
    state = {k: v for k, v in state.items() if not k.startswith("backbone.blocks.1.")}
    torch.save(state, tmp_path / "depth1.pth")
    with pytest.raises(vt.CheckpointError, match=r"no known ViTPose variant fits .*depth 1.*known variants: vitpose-s"):
        vt.load_model(tmp_path / "depth1.pth")


class _WritesMarker:
    """Unpickling this object would create a file: the stand-in for code a malicious checkpoint runs."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("writer", ["torch.save", "pickle.dump"])
def test_pickle_that_would_run_code_is_refused_and_does_not_run(tmp_path, tiny, writer):
    marker = tmp_path / "pwned"
    payload = {"state_dict": dict(tiny.state_dict()), "meta": _WritesMarker(marker)}
    path = tmp_path / "evil.pth"
    if writer == "torch.save":
        torch.save(payload, path)
    else:
        with open(path, "wb") as f:
            pickle.dump(payload, f)
    if writer == "pickle.dump":  # the payload is live: a plain unpickler runs it
        with open(path, "rb") as f:
            pickle.load(f)["meta"].close()
        assert marker.exists()
        marker.unlink()
    with pytest.raises(vt.CheckpointError, match=r"refusing to load .*evil\.pth"):
        vt.load_model(path)
    assert not marker.exists()


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_truncated_file_is_named(tmp_path, tiny, suffix):
    from safetensors.torch import save_file

    path = tmp_path / f"cut{suffix}"
    if suffix == ".pth":
        torch.save(official_layout(tiny), path)
    else:
        save_file({k: v.contiguous() for k, v in tiny.state_dict().items()}, str(path))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(vt.CheckpointError, match=rf"cannot read .*cut\{suffix}"):
        vt.load_model(path)


def test_missing_and_foreign_checkpoints(tmp_path):
    with pytest.raises(vt.CheckpointError, match="nope.pth does not exist"):
        vt.load_model(tmp_path / "nope.pth")
    (tmp_path / "empty").mkdir()
    with pytest.raises(vt.CheckpointError, match="holds no weights: expected one of model.safetensors"):
        vt.load_model(tmp_path / "empty")
    torch.save({"fc.weight": torch.zeros(2, 2)}, tmp_path / "other.pth")
    with pytest.raises(vt.CheckpointError, match="neither an official ViTPose nor a Hugging Face"):
        vt.load_model(tmp_path / "other.pth")
    torch.save([1, 2, 3], tmp_path / "list.pth")
    with pytest.raises(vt.CheckpointError, match="holds a list"):
        vt.load_model(tmp_path / "list.pth")


def test_a_file_that_is_no_checkpoint_is_not_called_a_security_risk(tmp_path, tiny):
    from vitpose_trt.export import export_onnx

    noise = tmp_path / "noise.pth"
    noise.write_bytes(np.random.default_rng(0).integers(1, 128, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(vt.CheckpointError, match=r"cannot read .*noise\.pth: not a PyTorch checkpoint \(neither"):
        vt.load_model(noise)
    onnx_file = export_onnx(tiny, tmp_path / "tiny.onnx")
    with pytest.raises(vt.CheckpointError, match=r"not a PyTorch checkpoint .*\.onnx files run on the onnxruntime "
                                                 r"backend \(backend='auto' picks it\)"):
        vt.PoseEstimator(onnx_file, backend="torch")


def test_unknown_model_or_dataset_lists_valid_ones(tmp_path, tiny):
    torch.save(official_layout(tiny), tmp_path / "ckpt.pth")
    with pytest.raises(vt.ConfigError, match="unknown model 'vitpose-xl'; valid models: vitpose-s"):
        vt.load_model(tmp_path / "ckpt.pth", name="vitpose-xl")
    with pytest.raises(vt.ConfigError, match="unknown keypoint set / dataset 'crowdpose'; valid: coco, aic"):
        vt.load_model(tmp_path / "ckpt.pth", dataset="crowdpose")


def _head_tensors(model: ViTPose, prefix: str) -> dict:
    return {prefix + k: v for k, v in model.keypoint_head.state_dict().items()}


def test_multi_head_checkpoint_picks_the_dataset_head(tmp_path, tiny):
    """coco+aic+mpii-style checkpoints: keypoint_head is COCO, associate_keypoint_heads.{i} dataset i + 1."""
    aic, mpii = random_model("vitpose-tiny", "aic", seed=4), random_model("vitpose-tiny", "mpii", seed=5)
    aic.backbone.load_state_dict(tiny.backbone.state_dict())
    mpii.backbone.load_state_dict(tiny.backbone.state_dict())
    state = official_layout(tiny)
    state.update(_head_tensors(aic, "associate_keypoint_heads.0."))
    # A head stored with more output channels than its dataset has keypoints: the official
    # tools/model_split.py keeps the first K.
    wide = random_model("vitpose-tiny", "wholebody", seed=6)
    wide_head = _head_tensors(wide, "associate_keypoint_heads.1.")
    wide_head["associate_keypoint_heads.1.final_layer.weight"][:16] = mpii.keypoint_head.final_layer.weight
    wide_head["associate_keypoint_heads.1.final_layer.bias"][:16] = mpii.keypoint_head.final_layer.bias
    with torch.no_grad():
        mpii.keypoint_head.deconv_layers.load_state_dict(wide.keypoint_head.deconv_layers.state_dict())
    state.update(wide_head)
    torch.save({"state_dict": state}, tmp_path / "multi.pth")

    with pytest.warns(UserWarning, match="heads for coco, aic, mpii: the coco one runs"):
        assert same_outputs(vt.load_model(tmp_path / "multi.pth"), tiny)
    assert same_outputs(vt.load_model(tmp_path / "multi.pth", dataset="aic"), aic)
    assert same_outputs(vt.load_model(tmp_path / "multi.pth", dataset="mpii"), mpii)
    with pytest.raises(vt.CheckpointError, match=r"no head for dataset 'ap10k' \(associate_keypoint_heads.2\)"):
        vt.load_model(tmp_path / "multi.pth", dataset="ap10k")


def test_split_vitpose_plus_leftovers_are_ignored_for_coco_only(tmp_path, tiny):
    """tools/model_split.py's coco.pth: fc2 already holds expert 0, the experts and other heads are left in."""
    state = official_layout(tiny)
    hidden = tiny.backbone.blocks[0].mlp.fc1.out_features
    for block in range(tiny.spec.depth):
        for j in range(6):
            state[f"backbone.blocks.{block}.mlp.experts.{j}.weight"] = torch.randn(48, hidden)
            state[f"backbone.blocks.{block}.mlp.experts.{j}.bias"] = torch.randn(48)
    state.update(_head_tensors(random_model("vitpose-tiny", "aic"), "associate_keypoint_heads.0."))
    torch.save({"state_dict": state}, tmp_path / "coco.pth")
    model = vt.load_model(tmp_path / "coco.pth")
    assert model.spec.name == "vitpose-tiny" and same_outputs(model, tiny)
    with pytest.raises(vt.CheckpointError, match="already include the COCO expert"):
        vt.load_model(tmp_path / "coco.pth", dataset="aic")


def test_head_with_an_unknown_keypoint_count(tmp_path, tiny):
    state = official_layout(tiny)
    state["keypoint_head.final_layer.weight"] = state["keypoint_head.final_layer.weight"][:1].repeat(21, 1, 1, 1)
    state["keypoint_head.final_layer.bias"] = state["keypoint_head.final_layer.bias"][:1].repeat(21)
    torch.save(state, tmp_path / "k21.pth")
    with pytest.raises(vt.CheckpointError, match=r"k21.pth: the head predicts 21 keypoints .*known: coco 17, aic 14"):
        vt.load_model(tmp_path / "k21.pth")
