"""A report's results as a Markdown document and as a fixed-width table for the terminal."""

from __future__ import annotations

GIGA = 1e9
#: (column title, function of a result row -> cell text).
COLUMNS = (
    ("model", lambda r: r["model"]),
    ("mode", lambda r: r["mode"]),
    ("backend", lambda r: r["backend"]),
    ("precision", lambda r: r["precision"]),
    ("batch", lambda r: str(r["batch"])),
    ("p50 ms", lambda r: f"{r['latency_ms']['p50']:.2f}"),
    ("p90 ms", lambda r: f"{r['latency_ms']['p90']:.2f}"),
    ("p99 ms", lambda r: f"{r['latency_ms']['p99']:.2f}"),
    ("throughput", lambda r: f"{r['throughput']:.1f} {r['throughput_unit']}"),
    ("GFLOP/s", lambda r: f"{r['achieved_flops_per_s'] / GIGA:.1f}"),
    ("% roofline", lambda r: "-" if r["roofline_percent"] is None else f"{r['roofline_percent']:.1f}"),
    ("peak RSS MiB", lambda r: "-" if r["host_peak_rss_mib"] is None else f"{r['host_peak_rss_mib']:.0f}"),
    ("device MiB", lambda r: "-" if r["device_memory_mib"] is None else f"{r['device_memory_mib']:.0f}"),
)


def result_rows(results: list[dict]) -> list[list[str]]:
    """One list of cell strings per result, in `COLUMNS` order."""
    return [[cell(r) for _, cell in COLUMNS] for r in results]


def text_table(results: list[dict]) -> str:
    """Results as a fixed-width, left-aligned text table (header, rule, one line per result)."""
    header = [title for title, _ in COLUMNS]
    rows = result_rows(results)
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _markdown_table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header), *("| " + " | ".join(r) + " |" for r in rows)]


def _stage_lines(results: list[dict]) -> list[str]:
    pipeline = [r for r in results if r["mode"] == "pipeline"]
    if not pipeline:
        return []
    stages = list(dict.fromkeys(s for r in pipeline for s in r["stages_ms"]))
    rows = [[r["model"], r["backend"], r["precision"], str(r["batch"]),
             *(f"{r['stages_ms'][s]['p50']:.2f}" if s in r["stages_ms"] else "-" for s in stages)] for r in pipeline]
    header = ["model", "backend", "precision", "persons", *(f"{s} p50 ms" for s in stages)]
    return ["", "## Pipeline stages", "", *_markdown_table(header, rows)]


def markdown_report(report: dict) -> str:
    """The whole report as Markdown: environment, measured peaks, results, pipeline stages, skipped cases."""
    env = report["environment"]
    gpus = ", ".join(g.get("name", "?") for g in env.get("gpus", [])) or "none visible"
    libs = ", ".join(f"{k} {v}" for k, v in env.get("libraries", {}).items() if v)
    lines = [
        "# vitpose-bench report", "",
        f"- When (UTC): {env.get('timestamp_utc')}",
        f"- CPU: {env.get('cpu')} ({env.get('cpu_affinity') or env.get('cpu_count')} usable cores), "
        f"threads: {env.get('threads') or 'library default'}",
        f"- CPU low-precision instructions: {_cpu_flags_text(env)}",
        f"- GPU: {gpus}",
        f"- Libraries: {libs}",
    ]
    for peak in report["peaks"]:
        lines.append(f"- Measured matmul peak ({peak['device']}, {peak['precision']}, n={peak['matrix_size']}, "
                     f"{peak['library']}): {peak['flops_per_s'] / GIGA:.1f} GFLOP/s")
    if report.get("stopped"):
        lines.append(f"- **Incomplete**: {report['stopped']}; only the finished cases are reported")
    lines += ["", "## Results", "", *_markdown_table([t for t, _ in COLUMNS], result_rows(report["results"]))]
    lines += _stage_lines(report["results"])
    if report["skipped"]:
        lines += ["", "## Skipped", ""]
        lines += [f"- {s['model']} / {s['backend']} / {s['precision']}: {s['reason']}" for s in report["skipped"]]
    return "\n".join(lines) + "\n"


def _cpu_flags_text(env: dict) -> str:
    """The CPU's low-precision flags that are present, and OpenVINO's view of the CPU when recorded."""
    flags = [flag for flag, present in (env.get("cpu_flags") or {}).items() if present]
    text = ", ".join(flags) or "none recorded"
    capabilities = env.get("openvino_cpu_capabilities")
    return text + (f"; OpenVINO CPU capabilities: {', '.join(capabilities)}" if capabilities else "")
