"""The JSON schema, Markdown and PNG of a real vitpose-tiny report."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from vitpose_trt.bench.plot import throughput_series, write_throughput_plot
from vitpose_trt.bench.report import checked_report, report_schema_errors, write_json
from vitpose_trt.bench.tables import markdown_report, text_table
from vitpose_trt.errors import ConfigError
from vitpose_trt.specs import MODELS


def test_tiny_report_fits_the_schema(tiny_report):
    assert report_schema_errors(tiny_report) == []
    rows = tiny_report["results"]
    cells = [("onnxruntime", p) for p in ("fp16", "fp32", "int8")] + [("torch", "fp32")]
    assert sorted((r["backend"], r["precision"], r["batch"]) for r in rows) == sorted((*c, n) for c in cells for n in (1, 2))
    for r in rows:
        assert r["latency_ms"]["count"] == 3 and r["warmup"] == 1
        assert r["throughput"] == pytest.approx(r["batch"] * 1000.0 / r["latency_ms"]["mean"])
        assert r["achieved_flops_per_s"] == pytest.approx(r["throughput"] * r["flops_per_item"])
        assert 0 < r["roofline_percent"] and r["peak_precision"] == "fp32"
        assert r["host_peak_rss_mib"] > 0 and r["clock"] == "perf_counter" and r["threads"] == 1
    artifacts = {(r["backend"], r["precision"]): r["artifact"] for r in rows}
    assert artifacts[("onnxruntime", "fp32")].endswith("vitpose-tiny.onnx")
    # ONNX Runtime's int8 is the export library's CPU recipe (vitpose-export --target onnxruntime-cpu).
    assert artifacts[("onnxruntime", "int8")].endswith("vitpose-tiny-int8-cpu.onnx")
    assert artifacts[("torch", "fp32")] is None
    assert artifacts[("onnxruntime", "fp16")].endswith("vitpose-tiny-fp16.onnx")
    # torch x int8 and torch x fp16 came from crossing the lists: skipped with a reason, not dropped.
    assert {(s["backend"], s["precision"]) for s in tiny_report["skipped"]} == {("torch", "int8"), ("torch", "fp16")}


def test_schema_errors_name_what_is_wrong(tiny_report):
    broken = copy.deepcopy(tiny_report)
    del broken["results"][0]["throughput"]
    broken["results"][1]["latency_ms"]["p99"] = -1.0
    broken["results"][2]["batch"] = True
    broken["skipped"].append({"model": "x"})
    last_skipped = len(broken["skipped"]) - 1
    errors = report_schema_errors(broken)
    assert any("results[0]" in e and "throughput" in e for e in errors)
    assert any("results[1]" in e and "ordered" in e for e in errors)
    assert any("results[2]" in e and "batch" in e for e in errors)
    assert any(f"skipped[{last_skipped}]" in e and "reason" in e for e in errors)
    with pytest.raises(ConfigError, match="schema"):
        checked_report(broken)
    assert report_schema_errors([]) == ["report is not a JSON object"]


def test_json_is_written_atomically_and_reads_back(tiny_report, tmp_path):
    path = write_json(tiny_report, tmp_path / "out" / "report.json")
    assert json.loads(path.read_text()) == json.loads(json.dumps(tiny_report))
    assert [p.name for p in path.parent.iterdir()] == ["report.json"]
    broken = {**tiny_report, "results": "nope"}
    with pytest.raises(ConfigError):
        write_json(broken, tmp_path / "bad.json")
    assert not list(tmp_path.glob("*bad*"))


def test_markdown_and_text_tables_have_one_row_per_result(tiny_report):
    md = markdown_report(tiny_report)
    table_rows = [line for line in md.splitlines() if line.startswith("| vitpose-tiny")]
    assert len(table_rows) == len(tiny_report["results"])
    assert "## Skipped" in md and "PyTorch eager has no int8" in md
    assert "GFLOP/s" in md and tiny_report["environment"]["cpu"] in md
    text = text_table(tiny_report["results"]).splitlines()
    assert len(text) == 2 + len(tiny_report["results"]) and text[0].startswith("model")


def test_plot_is_a_png_with_one_line_per_series(tiny_report, tmp_path):
    series = throughput_series(tiny_report["results"])
    assert {"vitpose-tiny onnxruntime fp16", "vitpose-tiny onnxruntime int8", "vitpose-tiny torch fp32"} <= set(series)
    assert all(batches == [1, 2] for batches, _ in series.values())
    path = write_throughput_plot(tiny_report["results"], tmp_path / "plot.png")
    import matplotlib.image

    image = matplotlib.image.imread(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert image.ndim == 3 and image.shape[0] > 100 and np.ptp(image) > 0


def test_flops_per_item_comes_from_the_loaded_model(tiny_report):
    from vitpose_trt.bench.flops import macs_of_spec

    expected = macs_of_spec(MODELS["vitpose-tiny"], 17).flops
    assert {r["flops_per_item"] for r in tiny_report["results"]} == {expected}


def test_merged_report_concatenates_runs(tiny_report):
    from vitpose_trt.bench.report import merged_report

    merged = merged_report([tiny_report, tiny_report])
    assert report_schema_errors(merged) == []
    assert len(merged["results"]) == 2 * len(tiny_report["results"])
    assert merged["command"] == [tiny_report["command"]] * 2
    with pytest.raises(ConfigError):
        merged_report([])


def test_repeated_points_are_plotted_at_their_median(tiny_report):
    row = next(r for r in tiny_report["results"] if r["backend"] == "torch" and r["batch"] == 1)
    rounds = [{**row, "throughput": t} for t in (1.0, 5.0, 2.0)]
    assert throughput_series(rounds) == {"vitpose-tiny torch fp32": ([1], [2.0])}
