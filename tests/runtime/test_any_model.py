"""The backends run any model, not only ViTPose: a small two-headed network with outputs of other shapes goes
through every CPU backend (ONNX on onnxruntime, the nn.Module on torch) and builds with TensorRT-RTX."""

from __future__ import annotations

import numpy as np
import pytest

from vitpose_trt.artifacts import DYNAMIC, ModelIO, TensorSpec
from vitpose_trt.errors import ConfigError, InputError
from vitpose_trt.runtime.backends import open_backend

#: One (N, 3, 32, 48) image in; (N, 6, 4) boxes and (N, 6) scores out: nothing like a pose model's tensors.
TWO_HEADS_IO = ModelIO(
    (TensorSpec("images", "float32", (DYNAMIC, 3, 32, 48)),),
    (TensorSpec("boxes", "float32", (DYNAMIC, 6, 4)), TensorSpec("scores", "float32", (DYNAMIC, 6))),
)


def _two_heads():
    import torch

    class TwoHeads(torch.nn.Module):
        """Boxes and scores that are known functions of the image: means of 6 vertical strips per channel."""

        def forward(self, images):
            strips = images.reshape(images.shape[0], 3, 32, 6, 8).mean(dim=(2, 4))  # (N, 3, 6)
            boxes = torch.stack([strips[:, 0], strips[:, 1], strips[:, 2], strips.sum(dim=1)], dim=2)
            return boxes, torch.sigmoid(strips[:, 0] - strips[:, 2])

    return TwoHeads().eval()


def _expected(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    strips = images.reshape(len(images), 3, 32, 6, 8).mean(axis=(2, 4))
    boxes = np.stack([strips[:, 0], strips[:, 1], strips[:, 2], strips.sum(axis=1)], axis=2)
    return boxes, 1.0 / (1.0 + np.exp(strips[:, 2] - strips[:, 0]))


@pytest.fixture(scope="module")
def two_heads_onnx(tmp_path_factory):
    import torch

    path = tmp_path_factory.mktemp("two-heads") / "two-heads.onnx"
    with torch.no_grad():
        torch.onnx.export(_two_heads(), (torch.zeros(2, 3, 32, 48),), str(path), dynamo=False, opset_version=17,
                          input_names=["images"], output_names=["boxes", "scores"],
                          dynamic_axes={"images": {0: "n"}, "boxes": {0: "n"}, "scores": {0: "n"}})
    return path


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("backend", ["onnxruntime", "torch"])
def test_a_two_headed_model_runs_on_every_cpu_backend(backend, two_heads_onnx):
    source = two_heads_onnx if backend == "onnxruntime" else _two_heads()
    io = None if backend == "onnxruntime" else TWO_HEADS_IO
    model = open_backend(source, backend, max_batch=4, io=io)
    assert model.metadata is None and model.io == TWO_HEADS_IO  # read from the graph, or as declared
    images = np.random.default_rng(0).standard_normal((3, 3, 32, 48), dtype=np.float32)
    outputs = model.run({"images": images})
    boxes, scores = _expected(images)
    assert set(outputs) == {"boxes", "scores"}
    np.testing.assert_allclose(outputs["boxes"], boxes, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(outputs["scores"], scores, rtol=1e-5, atol=1e-6)
    assert outputs["boxes"].shape == (3, 6, 4) and outputs["scores"].dtype == np.float32


@pytest.mark.parametrize("backend", ["onnxruntime", "torch"])
def test_inputs_are_checked_against_the_io_description(backend, two_heads_onnx):
    source = two_heads_onnx if backend == "onnxruntime" else _two_heads()
    model = open_backend(source, backend, max_batch=2, io=None if backend == "onnxruntime" else TWO_HEADS_IO)
    good = np.zeros((1, 3, 32, 48), np.float32)
    with pytest.raises(InputError, match="shape .*takes images float32 \\(N, 3, 32, 48\\)"):
        model.run({"images": np.zeros((1, 3, 48, 32), np.float32)})
    with pytest.raises(InputError, match="float64; the model takes float32"):
        model.run({"images": good.astype(np.float64)})
    with pytest.raises(InputError, match="do not match the model's \\['images'\\]"):
        model.run({"pixels": good})
    with pytest.raises(InputError, match="batch of 3: this model runs 1..2"):
        model.run({"images": np.zeros((3, 3, 32, 48), np.float32)})


def test_a_module_that_is_not_vitpose_needs_its_io_declared():
    with pytest.raises(ConfigError, match="declare its inputs and outputs with io="):
        open_backend(_two_heads(), "torch")


def test_a_file_describes_its_own_io(two_heads_onnx):
    with pytest.raises(ConfigError, match="describes its own inputs and outputs"):
        open_backend(two_heads_onnx, "onnxruntime", io=TWO_HEADS_IO)


def test_the_two_headed_onnx_builds_with_tensorrt_rtx(two_heads_onnx):
    from vitpose_trt.engine import BuildOptions, plan_from_onnx

    built = plan_from_onnx(two_heads_onnx, BuildOptions(builder="tensorrt-rtx", batch=(1, 2, 4)), progress=False)
    assert built.library == "tensorrt_rtx" and built.plan.nbytes > 0
    assert built.io == TWO_HEADS_IO  # the engine's own I/O: names, dtypes and shapes with a dynamic batch
