"""vitpose-export --triton-repo: a model repository for a standalone Triton server.

Every config.pbtxt parses with Triton's own ModelConfig schema (tritonclient's model_config_pb2, unknown
fields rejected). The ONNX repository (onnxruntime_onnx) and the tensorrt_plan repository from an engine
built here with TensorRT-RTX (which Triton's TensorRT backend cannot load: schema only) are checked as
files; the repository with the network as a Python-backend model runs on PyTriton's bundled tritonserver
(it has only the Python backend): BLS, batching on both models, poses equal to the in-process estimator.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from google.protobuf import text_format
from servers import reference_poses, stats_after
from tritonclient.grpc import model_config_pb2

from vitpose_trt.artifacts import BuildOptions
from vitpose_trt.cli.export import main as export_main
from vitpose_trt.errors import ConfigError, InputError
from vitpose_trt.serve import PoseClient
from vitpose_trt.serve.model_repository import RepositoryOptions, model_repository_from

STANDALONE_TRITON = Path(__file__).with_name("standalone_triton.py")
BOXES = np.array([[140, 20, 360, 500], [60, 100, 240, 480]], np.float32)
CLIENTS = 6


def parsed_config(model_dir: Path) -> model_config_pb2.ModelConfig:
    """The model's config.pbtxt parsed with Triton's schema (raises on any unknown or mistyped field)."""
    return text_format.Parse((model_dir / "config.pbtxt").read_text(), model_config_pb2.ModelConfig())


def _check_pose_model(config: model_config_pb2.ModelConfig) -> None:
    assert config.backend == "python" and config.max_batch_size == 8
    inputs = {i.name: i for i in config.input}
    assert inputs["image"].data_type == model_config_pb2.TYPE_STRING and inputs["image"].optional
    assert list(inputs["image_raw"].dims) == [-1, -1, 3] and list(inputs["boxes"].dims) == [-1, 4]
    assert [o.name for o in config.output] == ["count", "keypoints", "scores", "boxes", "box_scores", "error"]
    assert config.HasField("dynamic_batching")


def test_onnx_repository_from_the_export_cli(tmp_path, capsys):
    repo = tmp_path / "repo"
    code = export_main(["--model", "vitpose-tiny", "--precision", "fp32", "--builder", "none", "--output",
                        str(tmp_path / "out"), "--triton-repo", str(repo), "--triton-instances", "2"])
    assert code == 0, capsys.readouterr().err
    net = parsed_config(repo / "vitpose_net")
    assert net.platform == "onnxruntime_onnx" and net.max_batch_size == 16
    assert [(i.name, list(i.dims)) for i in net.input] == [("input", [3, 256, 192])]
    assert [(o.name, list(o.dims)) for o in net.output] == [("heatmaps", [17, 64, 48])]
    assert net.instance_group[0].kind == model_config_pb2.ModelInstanceGroup.KIND_CPU
    assert net.instance_group[0].count == 2
    assert (repo / "vitpose_net" / "1" / "model.onnx").stat().st_size > 0
    _check_pose_model(parsed_config(repo / "vitpose"))
    assert "TritonPythonModel" in (repo / "vitpose" / "1" / "model.py").read_text()


def test_tensorrt_plan_repository_from_an_rtx_engine(served_onnx, tmp_path):
    from vitpose_trt.engine.build import engine_from_onnx

    built = engine_from_onnx(served_onnx, BuildOptions(builder="tensorrt-rtx", batch=(1, 4, 8)), tmp_path)
    with pytest.warns(UserWarning, match="loads only TensorRT engines"):
        repo = model_repository_from(built.engine_path, tmp_path / "repo")
    net = parsed_config(repo / "vitpose_net")
    assert net.platform == "tensorrt_plan" and net.max_batch_size == 8  # the profile's MAX
    assert net.instance_group[0].kind == model_config_pb2.ModelInstanceGroup.KIND_GPU
    assert (repo / "vitpose_net" / "1" / "model.plan").read_bytes() == Path(built.engine_path).read_bytes()
    _check_pose_model(parsed_config(repo / "vitpose"))
    late = engine_from_onnx(served_onnx, BuildOptions(builder="tensorrt-rtx", batch=(2, 4, 8)), tmp_path / "min2")
    with pytest.raises(ConfigError, match="starts at 2"):
        model_repository_from(late.engine_path, tmp_path / "repo2")


def test_bad_repository_options(served_onnx, tmp_path):
    with pytest.raises(ConfigError, match="needs an engine"):
        model_repository_from(served_onnx, tmp_path, RepositoryOptions(net_backend="tensorrt"))
    with pytest.raises(ConfigError, match="unknown Triton net backend"):
        RepositoryOptions(net_backend="tensorflow")
    for field, value, message in (("net_instances", 0, "net_instances must be a positive integer, got 0"),
                                  ("max_batch", True, "max_batch must be a positive integer"),
                                  ("queue_delay_us", -1, "queue_delay_us must be a non-negative integer")):
        with pytest.raises(ConfigError, match=message):
            RepositoryOptions(**{field: value})


@pytest.fixture(scope="module")
def repository_server(server_pool, served_onnx, tmp_path_factory):
    repo = model_repository_from(served_onnx, tmp_path_factory.mktemp("repo") / "repo",
                                 RepositoryOptions(net_backend="python", queue_delay_us=20000))
    for model in ("vitpose", "vitpose_net"):
        parsed_config(repo / model)
    server = server_pool.start_script([str(STANDALONE_TRITON), str(repo)], ("vitpose", "vitpose_net"))
    yield server
    server_pool.stop_current()


def test_repository_serves_the_same_poses_on_tritonserver(repository_server, served_onnx, astronaut_rgb, tmp_path):
    (reference,) = reference_poses(served_onnx, [(astronaut_rgb, BOXES)], tmp_path)
    with PoseClient(repository_server.grpc_url) as client:
        served = client.poses(astronaut_rgb, BOXES)
        with pytest.raises(InputError, match="neither JPEG nor PNG"):
            client.poses(b"not an image", BOXES)
    np.testing.assert_allclose(served.keypoints, reference["keypoints"], atol=1e-3)
    np.testing.assert_allclose(served.scores, reference["scores"], atol=1e-5)


def test_repository_batches_requests_and_crops(repository_server, astronaut_rgb):
    """Concurrent requests: the `vitpose` model runs them in batches, and its BLS calls hand `vitpose_net`
    all their crops at once (inference count = crops, executions fewer)."""
    results, barrier = [None] * CLIENTS, threading.Barrier(CLIENTS)
    with PoseClient(repository_server.grpc_url) as client:
        before = client.batch_stats("vitpose").requests

    def send(index):
        with PoseClient(repository_server.grpc_url) as client:
            barrier.wait()
            results[index] = client.poses(astronaut_rgb, BOXES + index)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with PoseClient(repository_server.grpc_url) as client:
        pose_stats = stats_after(client, before + CLIENTS, "vitpose")
        net_stats = client.batch_stats("vitpose_net")
    assert all(len(poses) == len(BOXES) for poses in results)
    assert pose_stats.largest > 1, pose_stats
    assert net_stats.largest >= 2 * len(BOXES), net_stats  # crops of several requests in one network call
