"""Merge per-round vitpose-bench reports into PREFIX.json/.md/.png and print the median-round summary.

usage: python summarise.py PREFIX ROUND.json [ROUND.json ...]
Each result row gets a note naming its source file; the summary table gives, per backend and batch,
the median over rounds of p50 latency, throughput and % of roofline (and the best round's throughput).
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

from vitpose_trt.bench.plot import write_throughput_plot
from vitpose_trt.atomic_files import write_text_atomically
from vitpose_trt.bench.report import merged_report, write_json
from vitpose_trt.bench.tables import markdown_report


def summary_lines(results: list[dict]) -> list[str]:
    cells: dict[tuple, list[dict]] = {}
    for r in results:
        cells.setdefault((r["model"], r["backend"], r["precision"], r["batch"]), []).append(r)
    lines = ["| model | backend | precision | batch | rounds | median p50 ms | median crops/s | best crops/s "
             "| median % roofline |", "|---|---|---|---|---|---|---|---|---|"]
    for (model, backend, precision, batch), rows in sorted(cells.items(), key=lambda kv: (kv[0][3], kv[0][1])):
        p50 = statistics.median(r["latency_ms"]["p50"] for r in rows)
        rate = statistics.median(r["throughput"] for r in rows)
        best = max(r["throughput"] for r in rows)
        roof = statistics.median(r["roofline_percent"] for r in rows)
        lines.append(f"| {model} | {backend} | {precision} | {batch} | {len(rows)} | {p50:.1f} | {rate:.2f} "
                     f"| {best:.2f} | {roof:.1f} |")
    return lines


def main(prefix: str, parts: list[str]) -> None:
    reports = []
    for part in parts:
        report = json.loads(Path(part).read_text())
        for row in report["results"]:
            row["notes"].append(f"round file {Path(part).name}")
        reports.append(report)
    merged = merged_report(reports)
    lines = summary_lines(merged["results"])
    write_json(merged, f"{prefix}.json")
    text = markdown_report(merged) + "\n## Median over rounds\n\n" + "\n".join(lines) + "\n"
    write_text_atomically(Path(f"{prefix}.md"), text)
    write_throughput_plot(merged["results"], f"{prefix}.png")
    print("\n".join(lines))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
