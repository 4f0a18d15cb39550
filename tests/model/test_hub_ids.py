"""Hugging Face Hub ids wherever a checkpoint is accepted (issue 18), on a cache huggingface_hub wrote itself.

`LocalHub` serves transformers `save_pretrained` folders at HF_ENDPOINT. vitpose-trt's resolver downloads
them online in a subprocess (huggingface_hub reads HF_ENDPOINT and HF_HUB_CACHE from the environment when
imported, as it does for users), which fills a real cache: models--org--name/{refs,snapshots,blobs}.
Everything after that runs with HF_HUB_OFFLINE=1 on that cache: the library in this process (with
huggingface_hub's constants set as the environment would have set them), each CLI in a subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch
from local_hub import LocalHub
from test_hf_parity import hf_config, perturbed
from transformers import VitPoseForPoseEstimation

import vitpose_trt as vt
from vitpose_trt.model.hub import HubId, cache_folder, hub_id_from_text
from vitpose_trt.runtime.backends import backend_name_for

TINY = "test-org/vitpose-tiny-simple"
#: config.json + pytorch_model.bin only.
PICKLE_ONLY = "test-org/vitpose-pickle-only"
#: safetensors plus a pytorch_model.bin that is not even a valid pickle: reading it would fail loudly.
WITH_PICKLE = "test-org/vitpose-with-pickle"
TYPO = "test-org/vitpose-tiny-simpel"
NOT_CACHED = "usyd-community/vitpose-base-simple"
#: Run online against LocalHub by vitpose-trt's resolver, in this order (the second TINY is a cache hit).
ONLINE_IDS = (TINY, f"{TINY}@main", PICKLE_ONLY, TYPO, f"{TINY}@v9")
MAX_RELATIVE_ERROR = 1e-5
TIMEOUT_S = 240

_ONLINE_SCRIPT = """
import json, sys
import huggingface_hub
from vitpose_trt.errors import CheckpointError
from vitpose_trt.model.hub import checkpoint_location
results = {}
for text in sys.argv[2:]:
    try:
        results[text] = str(checkpoint_location(text))
    except CheckpointError as exc:
        results[text] = f"CheckpointError: {exc}"
# Another tool (`hf download`, transformers) fetching the whole repository, pickle included.
huggingface_hub.snapshot_download(sys.argv[1])
print(json.dumps(results))
"""


def _environment(cache: Path, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_", "TRANSFORMERS_"))}
    env.update(HF_HUB_CACHE=str(cache), HF_HOME=str(cache.parent / "hf-home"), HF_HUB_DISABLE_TELEMETRY="1", **extra)
    return env


def _repositories(folder: Path) -> tuple[dict[str, Path], VitPoseForPoseEstimation]:
    """The served repositories' folders, and the HF model of TINY / WITH_PICKLE."""
    hf_model = perturbed(VitPoseForPoseEstimation(hf_config("tiny", "simple")), seed=5)
    hf_model.save_pretrained(folder / "tiny")
    (folder / "pickle").mkdir()
    (folder / "pickle" / "config.json").write_bytes((folder / "tiny" / "config.json").read_bytes())
    torch.save(hf_model.state_dict(), folder / "pickle" / "pytorch_model.bin")
    hf_model.save_pretrained(folder / "both")
    (folder / "both" / "pytorch_model.bin").write_bytes(b"not a pickle: vitpose-trt must never read this file")
    return {TINY: folder / "tiny", PICKLE_ONLY: folder / "pickle", WITH_PICKLE: folder / "both"}, hf_model


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    """The cache, what the online resolver answered per id, the files LocalHub sent, commits and the HF model."""
    folder = tmp_path_factory.mktemp("hub")
    repos, hf_model = _repositories(folder)
    cache = folder / "cache"
    with LocalHub(repos) as local:
        run = subprocess.run([sys.executable, "-c", _ONLINE_SCRIPT, WITH_PICKLE, *ONLINE_IDS],
                             env=_environment(cache, HF_ENDPOINT=local.endpoint),
                             capture_output=True, text=True, timeout=TIMEOUT_S)
        assert run.returncode == 0, run.stderr
        commits = {repo: local.commit(repo) for repo in repos}
    return {"cache": cache, "online": json.loads(run.stdout.splitlines()[-1]), "served": local.served,
            "commits": commits, "hf_model": hf_model, "folders": repos}


@pytest.fixture
def offline(hub, monkeypatch):
    """HF_HUB_OFFLINE=1 on the module's cache, for this process and the subprocesses it starts."""
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(hub["cache"]))
    # huggingface_hub read the environment when this process first imported it; set what it would have read.
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(hub["cache"]))
    return hub


def _relative_error(model, hf_model) -> float:
    crops = torch.randn(2, 3, 256, 192, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        ours, reference = model(crops), hf_model(crops).heatmaps
    return float((ours - reference).norm() / reference.norm())


@pytest.mark.parametrize(("text", "expected"), [
    ("usyd-community/vitpose-base-simple", HubId("usyd-community/vitpose-base-simple")),
    ("org/name@v1.0", HubId("org/name", "v1.0")),
    ("org/name@refs/pr/3", HubId("org/name", "refs/pr/3")),
    ("vitpose-b", None),  # a model name
    ("a/b/c", None),  # a path
    ("out/vitpose-b.onnx", None),  # a missing file, not a repository "vitpose-b.onnx"
    ("weights/model.pth", None),
    ("org/name@", None),
    ("org /name", None),
])
def test_which_strings_are_hub_ids(text, expected):
    assert hub_id_from_text(text) == expected
    assert hub_id_from_text(Path("org/name")) is None  # a Path is always a path


def test_the_cache_is_the_one_huggingface_hub_writes_and_reads(hub):
    from huggingface_hub import scan_cache_dir

    repos = {repo.repo_id: repo for repo in scan_cache_dir(hub["cache"]).repos}
    assert set(repos) == {TINY, PICKLE_ONLY, WITH_PICKLE}
    tiny = repos[TINY]
    assert tiny.repo_type == "model" and tiny.repo_path.name == "models--test-org--vitpose-tiny-simple"
    (revision,) = tiny.revisions
    assert revision.commit_hash == hub["commits"][TINY] and revision.refs == frozenset({"main"})
    assert {f.file_name for f in revision.files} == {"config.json", "model.safetensors"}
    assert all(f.file_path.is_symlink() and f.blob_path.parent.name == "blobs" for f in revision.files)
    assert (tiny.repo_path / "refs" / "main").read_text() == hub["commits"][TINY]
    assert hub["online"][TINY] == str(tiny.repo_path / "snapshots" / hub["commits"][TINY])


def test_online_the_id_is_downloaded_once_and_only_config_and_safetensors(hub):
    assert hub["online"][f"{TINY}@main"] == hub["online"][TINY]
    tiny_files = sorted(f for f in hub["served"] if f.startswith(f"{TINY}/"))
    assert tiny_files == [f"{TINY}/config.json", f"{TINY}/model.safetensors"]  # once, the second id was cached
    assert f"{PICKLE_ONLY}/pytorch_model.bin" not in hub["served"]  # never fetched, so never unpickled


def test_online_errors_name_the_problem(hub):
    assert "no such model repository on the Hugging Face Hub" in hub["online"][TYPO]
    assert hub["online"][TYPO].startswith(f"CheckpointError: {TYPO}:")
    assert "has no revision 'v9'" in hub["online"][f"{TINY}@v9"]
    assert "no safetensors weights" in hub["online"][PICKLE_ONLY]


def test_load_model_by_id_offline_matches_transformers(offline):
    model = vt.load_model(TINY)
    assert (model.spec.name, model.keypoints.name) == ("vitpose-tiny-simple", "coco")
    assert _relative_error(model, offline["hf_model"]) < MAX_RELATIVE_ERROR
    for revision in ("main", offline["commits"][TINY]):
        assert _relative_error(vt.load_model(f"{TINY}@{revision}"), offline["hf_model"]) < MAX_RELATIVE_ERROR


def test_name_and_dataset_apply_to_ids_as_to_folders(offline):
    assert vt.load_model(TINY, name="vitpose-tiny-simple", dataset="coco").keypoints.name == "coco"
    with pytest.raises(vt.CheckpointError, match="does not fit vitpose-b"):
        vt.load_model(TINY, name="vitpose-b")
    with pytest.raises(vt.CheckpointError, match="14"):
        vt.load_model(TINY, dataset="aic")
    with pytest.raises(vt.ConfigError, match="unknown model"):
        vt.load_model(NOT_CACHED, name="vitpose-zz")  # checked before any look-up


def test_pose_estimator_takes_an_id(offline):
    assert backend_name_for(TINY) == "torch"
    estimator = vt.PoseEstimator(TINY)
    poses = estimator(np.full((96, 64, 3), 128, np.uint8), np.array([[0, 0, 64, 96]], np.float32))
    assert poses.keypoints.shape == (1, 17, 2) and estimator.keypoints.name == "coco"


def test_an_existing_path_wins_over_an_id(offline, tmp_path, monkeypatch):
    local = perturbed(VitPoseForPoseEstimation(hf_config("tiny", "simple")), seed=6)
    local.save_pretrained(tmp_path / TINY)
    monkeypatch.chdir(tmp_path)
    assert hub_id_from_text(TINY) is None
    assert _relative_error(vt.load_model(TINY), local) < MAX_RELATIVE_ERROR


def test_a_typo_offline_says_which_id_which_cache_folder_and_how_to_download(offline):
    with pytest.raises(vt.CheckpointError) as caught:
        vt.load_model(TYPO)
    message = str(caught.value)
    folder = offline["cache"] / "models--test-org--vitpose-tiny-simpel"
    assert message.startswith(f"{TYPO}: not in the Hugging Face cache ({folder})")
    assert "HF_HUB_OFFLINE=1" in message and f"`hf download {TYPO} config.json model.safetensors`" in message
    assert f"; cached models with a similar id: {TINY}" in message  # the closest first


def test_a_missing_cache_entry_or_revision_gives_the_same_clear_error(offline):
    with pytest.raises(vt.CheckpointError) as caught:
        vt.load_model(NOT_CACHED)
    message = str(caught.value)
    assert str(offline["cache"] / "models--usyd-community--vitpose-base-simple") in message
    assert f"`hf download {NOT_CACHED} config.json model.safetensors`" in message and "similar" not in message
    with pytest.raises(vt.CheckpointError, match=f"`hf download {TINY} config.json model.safetensors --revision v2`"):
        vt.load_model(f"{TINY}@v2")
    # The repository is cached, the revision is not: said so, and the id itself is no "similar id".
    with pytest.raises(vt.CheckpointError) as caught:
        vt.load_model(f"{TINY}@v2")
    message = str(caught.value)
    assert message.startswith(f"{TINY}@v2: this revision (or some of its files) is not in the Hugging Face cache, "
                              f"though {TINY} is (")
    assert TINY not in message.partition("similar id")[2]


def test_an_unreachable_hub_without_the_model_cached_says_so(hub, monkeypatch):
    import socket

    from huggingface_hub import constants

    with socket.socket() as probe:  # a port nothing listens on once the probe is closed
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{closed_port}")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(hub["cache"]))
    with pytest.raises(vt.CheckpointError, match=f"{NOT_CACHED}: not in the Hugging Face cache .* and the Hub could "
                                                 "not be reached \\(ConnectError\\); download it once"):
        vt.load_model(NOT_CACHED)
    assert _relative_error(vt.load_model(TINY), hub["hf_model"]) < MAX_RELATIVE_ERROR  # the cache still serves


def test_without_huggingface_hub_an_id_asks_for_the_hub_extra():
    code = (
        "import importlib.abc, sys\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'huggingface_hub': raise ImportError(name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import vitpose_trt as vt\n"
        "assert vt.PoseEstimator is not None and vt.load_model is not None\n"
        f"try:\n    vt.load_model({NOT_CACHED!r})\n"
        "except vt.MissingDependencyError as exc:\n    print(exc)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=TIMEOUT_S)
    assert run.returncode == 0, run.stderr
    assert "huggingface_hub is needed" in run.stdout and "vitpose-trt[hub]" in run.stdout


def test_a_pickle_only_repository_is_refused(offline):
    snapshot = cache_folder(HubId(PICKLE_ONLY)) / "snapshots" / offline["commits"][PICKLE_ONLY]
    assert sorted(p.name for p in snapshot.iterdir()) == ["config.json"]
    with pytest.raises(vt.CheckpointError, match="no safetensors weights .* never pickled weights such as "
                                                 "pytorch_model.bin"):
        vt.load_model(PICKLE_ONLY)


def test_a_pickle_beside_the_safetensors_in_the_cache_is_never_read(offline):
    snapshot = cache_folder(HubId(WITH_PICKLE)) / "snapshots" / offline["commits"][WITH_PICKLE]
    assert (snapshot / "pytorch_model.bin").is_file()  # fetched by the plain snapshot_download
    assert _relative_error(vt.load_model(WITH_PICKLE), offline["hf_model"]) < MAX_RELATIVE_ERROR


def _cli(tool: str, *arguments: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", f"vitpose_trt.cli.{tool}", *arguments], cwd=cwd, env=dict(os.environ),
                          capture_output=True, text=True, timeout=TIMEOUT_S)


def _eval_inputs(folder: Path) -> None:
    """One grey 64x96 image and a COCO keypoint file with one person covering it."""
    import cv2

    (folder / "images").mkdir()
    cv2.imwrite(str(folder / "images" / "000000000001.jpg"), np.full((96, 64, 3), 128, np.uint8))
    person = {"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 64, 96], "area": 6144, "iscrowd": 0,
              "keypoints": [32, 48, 2] * 17, "num_keypoints": 17}
    coco = {"images": [{"id": 1, "file_name": "000000000001.jpg", "width": 64, "height": 96}],
            "annotations": [person], "categories": [{"id": 1, "name": "person", "keypoints": [], "skeleton": []}]}
    (folder / "coco.json").write_text(json.dumps(coco))


#: Per CLI: its arguments (run in tmp_path, beside _eval_inputs) and the file that shows it worked.
CLI_RUNS = {
    "export": (("--weights", TINY, "--precision", "fp32", "--builder", "none", "--output", "out"),
               "out/vitpose-tiny-simple.onnx"),
    "infer": ((TINY, "images", "--render", "--output", "out"), "out/000000000001.jpg"),
    "eval": ((TINY, "--annotations", "coco.json", "--images", "images", "--json", "out/metrics.json"),
             "out/metrics.json"),
    "bench": (("--model", TINY, "--backend", "torch", "--batch", "1", "--iters", "1", "--warmup", "0",
               "--cache-dir", "cache", "--json", "out/bench.json"), "out/bench.json"),
}


@pytest.mark.parametrize("tool", list(CLI_RUNS))
def test_each_cli_takes_an_id_offline(offline, tmp_path, monkeypatch, capsys, tool):
    import importlib

    from vitpose_trt.apps.render import DEFAULT_SCORE_THRESHOLD

    _eval_inputs(tmp_path)
    monkeypatch.chdir(tmp_path)
    arguments, written = CLI_RUNS[tool]
    assert importlib.import_module(f"vitpose_trt.cli.{tool}").main(list(arguments)) == 0
    assert (tmp_path / written).is_file()
    if tool == "bench":  # the report labels the model by its id
        assert json.loads((tmp_path / written).read_text())["results"][0]["model"] == TINY
    if tool == "infer":  # a note says so when the drawing can show boxes only
        (result,) = json.loads((tmp_path / "out" / "results.json").read_text())
        confident = any(score > DEFAULT_SCORE_THRESHOLD for score in result["keypoints"][2::3])
        assert ("only the boxes are drawn" in capsys.readouterr().out) == (not confident)


def test_a_cli_process_reads_hf_hub_offline_from_its_environment(offline, tmp_path):
    _eval_inputs(tmp_path)
    with ThreadPoolExecutor(2) as pool:
        good, typo = pool.map(lambda model: _cli("infer", model, "images", cwd=tmp_path), (TINY, TYPO))
    assert good.returncode == 0, good.stderr[-3000:]
    assert len(json.loads((tmp_path / "out" / "results.json").read_text())) == 1
    assert typo.returncode == 2 and len(typo.stderr.splitlines()) == 1, typo.stderr
    assert typo.stderr.startswith(f"vitpose-infer: error: {TYPO}: not in the Hugging Face cache")
