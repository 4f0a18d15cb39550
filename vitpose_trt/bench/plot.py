"""Throughput versus batch size, one line per (model, mode, backend, precision), as a PNG (matplotlib)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..atomic_files import staged_path
from ..dependencies import import_optional

FIGURE_SIZE_IN = (7.0, 4.5)
DPI = 120


def throughput_series(results: list[dict]) -> dict[str, tuple[list[int], list[float]]]:
    """Label -> (batches ascending, throughputs) for every (model, mode, backend, precision) in `results`.

    Repeated runs of one point (a merged multi-round report) are drawn at their median throughput.
    """
    series: dict[str, dict[int, list[float]]] = {}
    for r in results:
        label = f"{r['model']} {r['backend']} {r['precision']}" + (" pipeline" if r["mode"] == "pipeline" else "")
        series.setdefault(label, {}).setdefault(r["batch"], []).append(r["throughput"])
    return {label: (sorted(points), [float(np.median(points[b])) for b in sorted(points)])
            for label, points in series.items()}


def write_throughput_plot(results: list[dict], path: str | Path) -> Path:
    """Draw throughput (items/s) against batch size for `results` and save a PNG at `path`, atomically."""
    import_optional("matplotlib", "the throughput plot")
    from matplotlib.figure import Figure
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    fig = Figure(figsize=FIGURE_SIZE_IN, dpi=DPI)
    ax = fig.add_subplot()
    units = sorted({r["throughput_unit"] for r in results})
    for label, (batches, values) in throughput_series(results).items():
        ax.plot(batches, values, marker="o", label=label)
    ax.set_xscale("log", base=2)
    ax.set_xticks(sorted({r["batch"] for r in results}))
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("batch (crops per call; persons per frame in pipeline mode)")
    ax.set_ylabel(" / ".join(units) or "items/s")
    ax.set_title("vitpose-bench: throughput vs batch")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")
    with staged_path(path) as temp:
        fig.savefig(temp, format="png")
    return Path(path)
