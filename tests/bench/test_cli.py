"""vitpose-bench end to end: refusals in one line with exit 2, and a small real run through the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from vitpose_trt.bench.report import report_schema_errors
from vitpose_trt.cli.bench import main

#: Seconds vitpose-bench gets to give up on a server that refuses connections (it takes a few to start).
UNREACHABLE_TIMEOUT_S = 60


@pytest.mark.parametrize("argv", [
    ["--batch", "0"],
    ["--batch", "1,x"],
    ["--batch", "1,,2"],
    ["--iters", "0"],
    ["--warmup", "-1"],
    ["--threads", "zero"],
    ["--backend", "tensorflow"],
    ["--precision", "fp64"],
    ["--model", "no-such-model"],
    ["--plot", "out.jpg"],
    ["--json", "out.txt"],
    ["--persons", "4"],
    ["--pipeline", "--batch", "4"],
    ["--model", "vitpose-tiny", "--backend", "torch", "--precision", "int8"],
])
def test_nonsense_arguments_exit_2_with_one_line(argv, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("vitpose-bench: error: "), err
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("flag, value", [
    ("--model", "vitpose-s"), ("--backend", "torch"), ("--precision", "fp16"), ("--batch", "2"), ("--iters", "3"),
    ("--threads", "1"), ("--pipeline", None), ("--detector", "det.onnx"), ("--markdown", "r.md"),
    ("--plot", "r.png"), ("--cache-dir", "cache"),
])
def test_options_the_load_test_does_not_use_are_refused(flag, value, refused_url, capsys, tmp_path, monkeypatch):
    """Refused before any server is contacted (the URL refuses connections: a contact would say so)."""
    monkeypatch.chdir(tmp_path)
    assert main(["--server", refused_url, flag, *([value] if value else [])]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"vitpose-bench: error: {flag}: not for --server "), err
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("argv", [["--clients", "4"], ["--requests", "64"], ["--protocol", "grpc"],
                                  ["--encode", ".jpg"]])
def test_load_test_options_without_server_are_refused(argv, capsys):
    """Even at their default values: given, they were meant for a load test."""
    assert main(["--model", "vitpose-tiny", *argv]) == 2
    err = capsys.readouterr().err
    assert err == f"vitpose-bench: error: {argv[0]}: only for --server (the load test of a running server)\n"


@pytest.mark.parametrize("flag, path", [("--json", "afile/r.json"), ("--markdown", "afile/sub/r.md"),
                                        ("--plot", "afile/r.png"), ("--cache-dir", "afile"),
                                        ("--cache-dir", "afile/cache")])
def test_paths_under_a_file_are_refused_before_the_run(flag, path, bench_cache, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("afile").write_text("")
    cache = [] if flag == "--cache-dir" else ["--cache-dir", str(bench_cache)]
    argv = ["--model", "vitpose-tiny", "--backend", "onnxruntime", "--batch", "1", "--iters", "1", "--warmup", "0"]
    assert main([*argv, *cache, flag, path]) == 2
    out, err = capsys.readouterr()
    assert err == f"vitpose-bench: error: {flag} {path}: afile is a file, not a folder\n"
    assert out == "" and os.listdir() == ["afile"]  # no table: nothing ran


def test_load_test_json_under_a_file_is_refused_before_the_server_is_contacted(refused_url, capsys, tmp_path):
    (tmp_path / "afile").write_text("")
    assert main(["--server", refused_url, "--json", str(tmp_path / "afile" / "r.json")]) == 2
    assert capsys.readouterr().err == f"vitpose-bench: error: --json {tmp_path}/afile/r.json: {tmp_path}/afile is a " \
                                      "file, not a folder\n"


@pytest.mark.parametrize("extra", [[], ["--warmup", "0"], ["--protocol", "http"]])
def test_an_unreachable_server_ends_promptly_in_one_line(refused_url, extra):
    """Nothing listens at the URL: exit 2 and one line naming it, no thread traceback, no hang."""
    cmd = [sys.executable, "-m", "vitpose_trt.cli.bench", "--server", refused_url, "--requests", "2", "--clients", "2",
           *extra]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=UNREACHABLE_TIMEOUT_S)
    assert done.returncode == 2, done.stderr
    err = done.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"vitpose-bench: error: --server {refused_url}: "), err
    assert done.stdout == ""


def test_tensorrt_without_a_gpu_is_refused_in_one_line(capsys):
    from vitpose_trt.bench.availability import backend_unavailable_reason

    reason = backend_unavailable_reason("tensorrt")
    if reason is None:
        return  # this machine can run TensorRT; the GPU tests cover it
    assert main(["--model", "vitpose-tiny", "--backend", "tensorrt"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"vitpose-bench: error: backend tensorrt cannot run here: {reason}"]


def test_small_bench_run_through_the_cli(tmp_path, bench_cache):
    out = tmp_path / "results"
    cmd = [sys.executable, "-m", "vitpose_trt.cli.bench", "--model", "vitpose-tiny", "--backend", "onnxruntime,torch",
           "--batch", "1,2", "--iters", "3", "--warmup", "1", "--threads", "1", "--cache-dir", str(bench_cache),
           "--json", str(out / "r.json"), "--markdown", str(out / "r.md"), "--plot", str(out / "r.png")]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    report = json.loads((out / "r.json").read_text())
    assert report_schema_errors(report) == []
    assert len(report["results"]) == 4 and report["command"][0] == "vitpose-bench"
    # The stdout table and the Markdown table list the same four results.
    table = [line for line in done.stdout.splitlines() if line.startswith("vitpose-tiny")]
    md = [line for line in (out / "r.md").read_text().splitlines() if line.startswith("| vitpose-tiny")]
    assert len(table) == len(md) == 4
    assert (out / "r.png").read_bytes()[:4] == b"\x89PNG"
    assert "vitpose-bench" in done.stderr  # the progress bar


def test_openvino_fp32_and_int8_through_the_cli(tmp_path, bench_cache):
    """The int8 case runs NNCF's IR (exported into the cache); the report names the CPU's instructions."""
    out = tmp_path / "results"
    argv = ["--model", "vitpose-tiny", "--backend", "openvino", "--precision", "fp32,int8", "--batch", "2",
            "--iters", "2", "--warmup", "1", "--threads", "1", "--cache-dir", str(bench_cache),
            "--json", str(out / "r.json"), "--markdown", str(out / "r.md")]
    assert main(argv) == 0
    report = json.loads((out / "r.json").read_text())
    assert report_schema_errors(report) == []
    rows = {row["precision"]: row for row in report["results"]}
    assert set(rows) == {"fp32", "int8"} and {row["backend"] for row in rows.values()} == {"openvino"}
    assert rows["int8"]["artifact"].endswith("vitpose-tiny-int8-openvino.xml")
    assert rows["fp32"]["artifact"].endswith("vitpose-tiny.onnx")
    assert all("OpenVINO computes unquantized ops in fp32" in row["notes"] for row in rows.values())
    assert "CPU low-precision instructions: " in (out / "r.md").read_text()


def test_ctrl_c_mid_case_writes_the_report_of_the_finished_cases(tmp_path, bench_cache, monkeypatch, capsys):
    """Ctrl-C during the second case (raised from inside its timing loop, as the signal would): that case
    is dropped, the first case's result is reported in every file asked for, and the exit code is 130."""
    import vitpose_trt.cli.bench as cli

    real_runner = cli._pipeline_runner

    def runner_interrupted_in_the_second_case(args):
        run_one, started = real_runner(args), []

        def run(case, *, on_step, **options):
            started.append(case)

            def step():
                if len(started) == 2:
                    raise KeyboardInterrupt
                on_step()

            return run_one(case, on_step=step, **options)

        return run

    monkeypatch.setattr(cli, "_pipeline_runner", runner_interrupted_in_the_second_case)
    out = tmp_path / "results"
    code = cli.main(["--pipeline", "--model", "vitpose-tiny", "--backend", "onnxruntime", "--persons", "1,2,3",
                     "--iters", "2", "--warmup", "1", "--threads", "1", "--cache-dir", str(bench_cache),
                     "--json", str(out / "r.json"), "--markdown", str(out / "r.md")])
    assert code == 130
    report = json.loads((out / "r.json").read_text())
    assert report_schema_errors(report) == [] and report["stopped"] == "interrupted after 1 of 3 cases"
    assert [r["batch"] for r in report["results"]] == [1]
    assert "**Incomplete**: interrupted after 1 of 3 cases" in (out / "r.md").read_text()
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("vitpose-bench: interrupted after 1 of 3 cases; the report of the finished cases is in ")
