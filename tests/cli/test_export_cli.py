"""vitpose-export end to end (tiny model every run, ViTPose-S once) and its bad-input contract (exit 2, one line)."""

from __future__ import annotations

import json

import cv2
import pytest
from skimage import data

from vitpose_trt.cli.export import main


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture()
def calib_folder(tmp_path):
    folder = tmp_path / "calib"
    folder.mkdir()
    for name in ("rocket", "coffee"):
        cv2.imwrite(str(folder / f"{name}.png"), getattr(data, name)()[:, :, ::-1])
    return folder


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--precision", "int4"], "unknown precision 'int4'"),
        (["--model", "vitpose-xl"], "unknown model 'vitpose-xl'"),
        (["--dataset", "cats"], "unknown keypoint set / dataset 'cats'"),
        (["--batch", "8:4:32"], "MIN <= OPT <= MAX"),
        (["--batch", "1:8:4", "--builder", "none"], "--batch only applies to engine builds"),
        (["--batch", "1:x:4"], "must be integers"),
        (["--weights", "/no/such/vitpose.pth"], "weights not found"),
        (["--precision", "int8", "--calib-images", "/no/such/folder"], "does not exist"),
        (["--builder", "tensorrt-llm"], "unknown builder"),
        (["--opset", "23"], "unsupported opset 23"),
        (["--target", "onnxruntime-cpu"], "target onnxruntime-cpu has no fp16 recipe"),
        (["--target", "cuda", "--precision", "int8"], "unknown target 'cuda'"),
        (["--calib-count", "0", "--precision", "int8"], "at least 1"),
        (["--calib-annotations", "x.json", "--precision", "int8"], "needs --calib-images"),
        (["--precision", "int8", "--target", "onnxruntime-cpu", "--builder", "tensorrt-rtx"],
         "--target onnxruntime-cpu writes files for onnxruntime-cpu, which TensorRT cannot build"),
        (["--precision", "int8", "--target", "openvino", "--builder", "tensorrt"],
         "--target openvino writes files for openvino, which TensorRT cannot build"),
        (["--target", "openvino"], "target openvino has no fp16 recipe"),
        (["--precision", "bf16"], "target tensorrt has no bf16 recipe"),
        (["--precision", "int8", "--target", "openvino", "--triton-repo", "repo"],
         "--triton-repo serves an engine or an ONNX file"),
        (["--precision", "int8", "--target", "onnxruntime-cpu", "--calib-count", "8"],
         "--calib-count: int8 for --target onnxruntime-cpu uses no calibration"),
        (["--precision", "fp32", "--builder", "none", "--calib-images", "x", "--calib-count", "2"],
         "--calib-images, --calib-count: fp32 uses no calibration"),
        (["--opt-level", "9"], "optimization level"),
        (["--compute-capability", "banana", "--builder", "tensorrt-rtx"], "bad compute capability"),
    ],
)
def test_bad_input_exits_2_with_one_line(capsys, tmp_path, args, message):
    code, out, err = _run(capsys, "--model", "vitpose-tiny", "--output", str(tmp_path / "out"), *args)
    assert code == 2
    assert err.count("\n") == 1 and message in err and err.startswith("vitpose-export: error:")
    assert "Traceback" not in err + out
    assert not (tmp_path / "out").exists(), "bad input must fail before anything is written"


#: A value for each option of the refusal tests; an option of these families missing here fails the coverage check.
SAMPLE_VALUES = {"--triton-repo": "repo", "--triton-net": "python", "--triton-instances": "2", "--opset": "19",
                 "--detector-size": "640,640", "--detector-layout": "detr", "--detector-classes": "0,2"}


def _flags_starting(prefix: str) -> list[str]:
    from vitpose_trt.cli.export import parser

    flags = [flag for action in parser()._actions for flag in action.option_strings if flag.startswith(prefix)]
    assert set(flags) <= set(SAMPLE_VALUES), "give the new option a sample value"
    return flags


@pytest.mark.parametrize(
    ("args", "message"),
    [
        # Options that would have no effect in the combination: refused, saying why, before any work.
        (["--detector", "det.onnx", "--precision", "fp32", "--builder", "none", "--triton-repo", "repo",
          "--triton-net", "python", "--opset", "19"],
         "--opset, --triton-repo, --triton-net: pose-model options, not for --detector"),
        (["--detector-size", "640,640"], "--detector-size needs --detector"),
        (["--detector-classes", "0,2", "--detector-layout", "detr"],
         "--detector-layout, --detector-classes need --detector"),
        (["--triton-instances", "4"], "--triton-instances needs --triton-repo"),
        (["--triton-net", "python", "--triton-instances", "4"], "--triton-net, --triton-instances need --triton-repo"),
        (["--triton-repo", "repo", "--builder", "none", "--triton-instances", "0"],
         "--triton-instances must be a positive integer, got 0"),
        (["--batch", "1:2:4", "--builder", "none"], "--batch only applies to engine builds; --builder none builds"),
        (["--batch", "1:2:4", "--builder", "none", "--triton-repo", "repo"], "--batch only applies to engine builds"),
        (["--batch", "1:2:4", "--precision", "int8", "--target", "onnxruntime-cpu"],
         "--batch only applies to engine builds; --target onnxruntime-cpu builds no engine"),
        *[([flag, SAMPLE_VALUES[flag]], f"{flag} needs --triton-repo")
          for flag in _flags_starting("--triton-") if flag != "--triton-repo"],
        *[([flag, SAMPLE_VALUES[flag]], f"{flag} needs --detector") for flag in _flags_starting("--detector-")],
        *[(["--detector", "det.onnx", flag, SAMPLE_VALUES[flag]], f"{flag}: pose-model options, not for --detector")
          for flag in [*_flags_starting("--triton-"), "--opset"]],
    ],
)
def test_options_without_effect_are_refused(capsys, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    code, out, err = _run(capsys, "--output", "out", *args)
    assert code == 2 and err.startswith("vitpose-export: error: ") and err.count("\n") == 1 and message in err
    assert "Traceback" not in err + out
    assert list(tmp_path.iterdir()) == [], "refused before anything is written"


@pytest.mark.parametrize(("args", "profile"), [([], (1, 8, 32)), (["--batch", "1:2:4"], (1, 2, 4))])
def test_engine_builds_get_the_batch_profile_asked_for_or_the_default(args, profile):
    """--batch is None until the engine stage: the default profile applies to engine builds only."""
    from vitpose_trt.cli.export import _build_options, parser

    options = _build_options(parser().parse_args(["--model", "vitpose-tiny", "--builder", "tensorrt-rtx", *args]))
    assert options.batch == profile
    assert _build_options(parser().parse_args(["--model", "vitpose-tiny", "--builder", "none"])) is None


def test_unwritable_output_exits_2(capsys, tmp_path):
    (tmp_path / "file").write_text("a file, not a folder")
    code, _, err = _run(capsys, "--model", "vitpose-tiny", "--builder", "none",
                        "--output", str(tmp_path / "file" / "out"))
    assert code == 2 and "cannot create output folder" in err and err.count("\n") == 1


def test_empty_calibration_folder_exits_2(capsys, tmp_path):
    (tmp_path / "empty").mkdir()
    code, _, err = _run(capsys, "--model", "vitpose-tiny", "--precision", "int8", "--builder", "none",
                        "--calib-images", str(tmp_path / "empty"), "--output", str(tmp_path / "out"))
    assert code == 2 and "has no images" in err and err.count("\n") == 1


def test_unreadable_calibration_images_exit_2(capsys, tmp_path):
    folder = tmp_path / "corrupt"
    folder.mkdir()
    (folder / "x.jpg").write_bytes(b"not an image")
    code, _, err = _run(capsys, "--model", "vitpose-tiny", "--precision", "int8", "--builder", "none",
                        "--calib-images", str(folder), "--output", str(tmp_path / "out"))
    # The calibration progress bar may precede the error; the error itself is one line, no traceback.
    last = err.strip().splitlines()[-1].split("\r")[-1]
    assert code == 2 and last.startswith("vitpose-export: error: no readable images") and "Traceback" not in err


def test_int8_onnx_stage_with_calibration_folder(capsys, tmp_path, calib_folder):
    out_dir = tmp_path / "out"
    code, out, err = _run(capsys, "--model", "vitpose-tiny", "--precision", "int8", "--builder", "none",
                          "--calib-images", str(calib_folder), "--calib-count", "2", "--output", str(out_dir))
    assert code == 0, err
    assert sorted(p.name for p in out_dir.iterdir()) == [
        "vitpose-tiny-int8.onnx", "vitpose-tiny-int8.report.json", "vitpose-tiny.onnx", "vitpose-tiny.report.json"]
    assert "fp32 check:" in out and "int8 report:" in out and "rel-L2" in out
    report = json.loads((out_dir / "vitpose-tiny-int8.report.json").read_text())
    assert report["relative_l2"] < 0.1
    metadata = json.loads(_metadata_json(out_dir / "vitpose-tiny-int8.onnx"))
    assert metadata["provenance"]["calibration_crops"] == 2 and metadata["precision"] == "int8"


def test_cpu_int8_target_writes_its_own_file_and_no_engine_by_default(capsys, tmp_path):
    out_dir = tmp_path / "out"
    code, out, err = _run(capsys, "--model", "vitpose-tiny", "--precision", "int8", "--target", "onnxruntime-cpu",
                          "--output", str(out_dir))
    assert code == 0, err
    assert sorted(p.name for p in out_dir.iterdir()) == [
        "vitpose-tiny-int8-cpu.onnx", "vitpose-tiny-int8-cpu.report.json", "vitpose-tiny.onnx",
        "vitpose-tiny.report.json"]
    assert "int8 report:" in out and "engine" not in out
    assert json.loads((out_dir / "vitpose-tiny-int8-cpu.report.json").read_text())["relative_l2"] < 0.1
    metadata = json.loads(_metadata_json(out_dir / "vitpose-tiny-int8-cpu.onnx"))
    assert metadata["target"] == "onnxruntime-cpu" and metadata["provenance"]["calibration_crops"] == 0
    assert metadata["provenance"]["quantizer"] == "onnxruntime.quantization.quantize_dynamic"


def test_openvino_int8_target_writes_an_ir_and_bf16_needs_a_bf16_cpu(capsys, tmp_path):
    from vitpose_trt.artifacts import metadata_from_openvino
    from vitpose_trt.cpu_features import bf16_unavailable_reason

    out_dir = tmp_path / "out"
    code, out, err = _run(capsys, "--model", "vitpose-tiny", "--precision", "int8", "--target", "openvino",
                          "--calib-count", "8", "--output", str(out_dir))
    assert code == 0, err
    assert sorted(p.name for p in out_dir.iterdir()) == [
        "vitpose-tiny-int8-openvino.bin", "vitpose-tiny-int8-openvino.report.json", "vitpose-tiny-int8-openvino.xml",
        "vitpose-tiny.onnx", "vitpose-tiny.report.json"]
    assert "int8 report:" in out and "engine" not in out
    assert metadata_from_openvino(out_dir / "vitpose-tiny-int8-openvino.xml").provenance.calibration_crops == 8
    reason = bf16_unavailable_reason()
    code, out, err = _run(capsys, "--model", "vitpose-tiny", "--precision", "bf16", "--target", "openvino",
                          "--output", str(out_dir))
    if reason is not None:  # refused before anything is exported
        assert code == 2 and err == f"vitpose-export: error: --precision bf16 --target openvino: {reason}\n"
    else:
        assert code == 0 and (out_dir / "vitpose-tiny-bf16-openvino.report.json").is_file(), err


def test_non_default_keypoint_set_gets_its_own_files(capsys, tmp_path):
    code, out, err = _run(capsys, "--model", "vitpose-tiny", "--dataset", "aic", "--precision", "fp32",
                          "--builder", "none", "--output", str(tmp_path))
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vitpose-tiny-aic.onnx", "vitpose-tiny-aic.report.json"]
    metadata = json.loads(_metadata_json(tmp_path / "vitpose-tiny-aic.onnx"))
    pose = metadata["pose"]
    assert (metadata["model"], pose["keypoint_set"], pose["num_keypoints"]) == ("vitpose-tiny", "aic", 14)
    assert pose["warp"] == "classic" and metadata["task"] == "pose" and metadata["schema"] == 2


def test_official_checkpoint_is_what_gets_exported(capsys, tmp_path):
    import numpy as np
    import torch

    import vitpose_trt as vt
    from vitpose_trt.export.accuracy import heatmaps_from_onnx, heatmaps_from_torch
    from vitpose_trt.export.calibration import held_out_crops

    torch.manual_seed(3)
    model = vt.load_model(name="vitpose-tiny")
    torch.save({"state_dict": model.state_dict(), "meta": {}}, tmp_path / "tiny.pth")
    code, out, err = _run(capsys, "--weights", str(tmp_path / "tiny.pth"), "--precision", "fp32",
                          "--builder", "none", "--output", str(tmp_path / "out"))
    assert code == 0, err
    assert "random weights" not in out
    crops = held_out_crops("udp")
    exported = heatmaps_from_onnx(tmp_path / "out" / "vitpose-tiny.onnx", crops)
    reference = heatmaps_from_torch(model, crops)
    assert np.linalg.norm(exported - reference) / np.linalg.norm(reference) < 1e-5
    assert json.loads((tmp_path / "out" / "vitpose-tiny.report.json").read_text())["notes"] == []


def test_corrupt_checkpoint_exits_2(capsys, tmp_path):
    (tmp_path / "bad.pth").write_bytes(b"this is not a checkpoint")
    code, _, err = _run(capsys, "--weights", str(tmp_path / "bad.pth"), "--builder", "none",
                        "--output", str(tmp_path / "out"))
    assert code == 2 and err.startswith("vitpose-export: error:") and err.count("\n") == 1


def _metadata_json(path) -> str:
    import onnx

    from vitpose_trt.artifacts import ONNX_METADATA_KEY

    props = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
    return props[ONNX_METADATA_KEY]


def test_fp16_to_tensorrt_rtx_engine_with_sidecar(capsys, tmp_path):
    out_dir = tmp_path / "out"
    argv = ["--model", "vitpose-tiny", "--precision", "fp16", "--builder", "tensorrt-rtx", "--batch", "1:2:4",
            "--calib-count", "8", "--output", str(out_dir)]
    code, out, err = _run(capsys, *argv)
    assert code == 0, err
    assert (out_dir / "vitpose-tiny-fp16.engine").stat().st_size > 0
    sidecar = json.loads((out_dir / "vitpose-tiny-fp16.json").read_text())
    assert "built in" in out and sidecar["precision"] == "fp16"
    assert json.loads((out_dir / "vitpose-tiny-fp16.report.json").read_text())["relative_l2"] < 1e-2


@pytest.mark.slow
def test_vitpose_s_end_to_end_with_tensorrt_rtx(capsys, tmp_path):
    """Issue 4's CI run, both precisions through the CLI: name -> ONNX -> TensorRT-RTX engine + sidecar.

    Both runs use the same seeded random weights, so they write the same fp32 file; its report and an
    independent PyTorch forward of those weights check it, each converted file has its report checked.
    """
    import numpy as np
    import torch

    import vitpose_trt as vt
    from vitpose_trt.export.accuracy import heatmaps_from_onnx, heatmaps_from_torch
    from vitpose_trt.export.calibration import held_out_crops

    out_dir = tmp_path / "out"
    tolerance = {"fp16": 1e-2, "int8": 0.1}
    for precision in ("fp16", "int8"):
        torch.manual_seed(1234)  # the CLI's random init draws from the global generator first
        code, out, err = _run(capsys, "--model", "vitpose-s", "--precision", precision, "--builder", "tensorrt-rtx",
                              "--batch", "1:8:32", "--output", str(out_dir))
        assert code == 0, err
        assert json.loads((out_dir / "vitpose-s.report.json").read_text())["relative_l2"] < 1e-5
        report = json.loads((out_dir / f"vitpose-s-{precision}.report.json").read_text())
        assert report["relative_l2"] < tolerance[precision] and report["num_crops"] == 15
        assert (out_dir / f"vitpose-s-{precision}.engine").stat().st_size > 0
        sidecar = json.loads((out_dir / f"vitpose-s-{precision}.json").read_text())
        assert sidecar["engine"]["batch"] == [1, 8, 32] and sidecar["precision"] == precision
        assert "built in" in out

    torch.manual_seed(1234)
    model = vt.load_model(name="vitpose-s")
    crops = held_out_crops(model.keypoints.warp)
    reference = heatmaps_from_torch(model, crops)
    # Same weights as the CLI's model: the fp32 file reproduces them (this also re-checks the fp32 export).
    fp32_heatmaps = heatmaps_from_onnx(out_dir / "vitpose-s.onnx", crops)
    assert np.linalg.norm(fp32_heatmaps - reference) / np.linalg.norm(reference) < 1e-5


@pytest.mark.slow
def test_vitpose_s_cpu_int8_is_accurate(capsys, tmp_path):
    """The CPU int8 recipe at full size: ViTPose-S with its 48 weight MatMuls in dynamic int8 (measured
    rel-L2 ~0.012; full-range weights would saturate ONNX Runtime's kernels on AVX2 CPUs without VNNI)."""
    code, out, err = _run(capsys, "--model", "vitpose-s", "--precision", "int8", "--target", "onnxruntime-cpu",
                          "--output", str(tmp_path))
    assert code == 0, err
    report = json.loads((tmp_path / "vitpose-s-int8-cpu.report.json").read_text())
    assert report["relative_l2"] < 0.03 and report["cosine"] > 0.999
    metadata = json.loads(_metadata_json(tmp_path / "vitpose-s-int8-cpu.onnx"))
    assert len(metadata["provenance"]["unquantized_nodes"]) == 24  # QK^T and attention@V of 12 blocks


@pytest.mark.slow
def test_vitpose_s_openvino_int8_is_accurate(capsys, tmp_path):
    """NNCF's int8 at full size, judged in OpenVINO by the int8 bound of every int8 report (32 calibration
    crops instead of the default 64 keep the test short)."""
    from vitpose_trt.artifacts import metadata_from_openvino
    from vitpose_trt.export.accuracy import REPORT_TOLERANCE

    code, out, err = _run(capsys, "--model", "vitpose-s", "--precision", "int8", "--target", "openvino",
                          "--calib-count", "32", "--output", str(tmp_path))
    assert code == 0, err
    report = json.loads((tmp_path / "vitpose-s-int8-openvino.report.json").read_text())
    assert report["relative_l2"] < REPORT_TOLERANCE["int8"] and report["cosine"] > 0.99
    metadata = metadata_from_openvino(tmp_path / "vitpose-s-int8-openvino.xml")
    assert metadata.provenance.calibration_crops == 32 and metadata.target == "openvino"
