"""The benchmark report: one JSON document, its schema check, and atomic writes of every output file.

Schema (version `REPORT_SCHEMA`):
```
{"schema": 1, "command": [...argv...], "environment": {...environment.environment()...},
 "peaks": [{"device", "precision", "flops_per_s", "matrix_size", "library", "threads"}],
 "results": [{"mode": "model-only" | "pipeline", "model", "backend", "precision", "batch",
              "latency_ms": {"p50", "p90", "p99", "mean", "std", "min", "max", "count"},
              "throughput", "throughput_unit", "warmup", "iters", "clock", "threads",
              "flops_per_item", "achieved_flops_per_s", "roofline_percent", "peak_precision",
              "host_peak_rss_mib", "host_rss_scope", "device_memory_mib", "artifact",
              "stages_ms": {stage: {"p50", ...}}  (pipeline only), "notes": [...]}],
 "skipped": [{"model", "backend", "precision", "reason"}],
 "stopped": "interrupted after 2 of 6 cases"}   (only when Ctrl-C / SIGTERM ended the run early)
```
Latencies are per call (one batch in model-only mode, one frame of `batch` persons in pipeline mode);
throughput is crops/s (model-only) or persons/s (pipeline).
"""

from __future__ import annotations

import json
from pathlib import Path

from ..atomic_files import write_text_atomically
from ..errors import ConfigError

REPORT_SCHEMA = 1
MODES = ("model-only", "pipeline")
LATENCY_KEYS = ("p50", "p90", "p99", "mean", "std", "min", "max", "count")
#: Result keys every row must carry, with the JSON types allowed for each.
RESULT_KEYS: dict[str, tuple[type, ...]] = {
    "mode": (str,), "model": (str,), "backend": (str,), "precision": (str,), "batch": (int,),
    "latency_ms": (dict,), "throughput": (float, int), "throughput_unit": (str,), "warmup": (int,),
    "iters": (int,), "clock": (str,), "threads": (int, type(None)), "flops_per_item": (int,),
    "achieved_flops_per_s": (float, int), "roofline_percent": (float, int, type(None)),
    "peak_precision": (str, type(None)), "host_peak_rss_mib": (float, int, type(None)),
    "host_rss_scope": (str,), "device_memory_mib": (float, int, type(None)), "artifact": (str, type(None)),
    "notes": (list,),
}
SKIPPED_KEYS = ("model", "backend", "precision", "reason")


def report_schema_errors(report: dict) -> list[str]:
    """Every way `report` departs from the schema above, as readable strings ([] when it conforms)."""
    if not isinstance(report, dict):
        return ["report is not a JSON object"]
    errors = []
    if report.get("schema") != REPORT_SCHEMA:
        errors.append(f"schema is {report.get('schema')!r}, expected {REPORT_SCHEMA}")
    for key, kind in (("environment", dict), ("peaks", list), ("results", list), ("skipped", list)):
        if not isinstance(report.get(key), kind):
            errors.append(f"{key!r} missing or not a {kind.__name__}")
    if "stopped" in report and not isinstance(report["stopped"], str):
        errors.append("'stopped' is not a string")
    for i, row in enumerate(report.get("results") or []):
        errors += [f"results[{i}]: {e}" for e in _result_errors(row)]
    for i, row in enumerate(report.get("skipped") or []):
        missing = [k for k in SKIPPED_KEYS if not isinstance(row, dict) or not isinstance(row.get(k), str)]
        errors += [f"skipped[{i}]: {k!r} missing or not a string" for k in missing]
    return errors


def _result_errors(row) -> list[str]:
    if not isinstance(row, dict):
        return ["not an object"]
    errors = [f"{k!r} missing or not {'/'.join(t.__name__ for t in types)}"
              for k, types in RESULT_KEYS.items()
              if k not in row or isinstance(row[k], bool) or not isinstance(row[k], types)]
    if row.get("mode") not in MODES:
        errors.append(f"mode {row.get('mode')!r} not one of {MODES}")
    latency = row.get("latency_ms")
    if isinstance(latency, dict):
        errors += [f"latency_ms.{k} missing or not a number" for k in LATENCY_KEYS
                   if not isinstance(latency.get(k), (int, float)) or isinstance(latency.get(k), bool)]
        if not errors and not latency["min"] <= latency["p50"] <= latency["p90"] <= latency["p99"] <= latency["max"]:
            errors.append("latency_ms percentiles are not ordered min <= p50 <= p90 <= p99 <= max")
    if isinstance(row.get("batch"), int) and row["batch"] < 1:
        errors.append("batch < 1")
    if row.get("mode") == "pipeline" and not isinstance(row.get("stages_ms"), dict):
        errors.append("pipeline row without a 'stages_ms' object")
    return errors


def checked_report(report: dict) -> dict:
    """Return `report` unchanged, or raise `ConfigError` listing its schema errors."""
    errors = report_schema_errors(report)
    if errors:
        raise ConfigError("benchmark report does not fit its schema: " + "; ".join(errors))
    return report


def write_json(report: dict, path: str | Path) -> Path:
    """Check `report` against the schema and write it as indented JSON to `path`, atomically."""
    text = json.dumps(checked_report(report), indent=2, sort_keys=False) + "\n"
    return write_text_atomically(path, text)


def merged_report(reports: list[dict]) -> dict:
    """One report from several runs on the same machine (e.g. one process per backend).

    The environment is the first run's; "command" becomes the list of every run's command; peaks,
    results and skipped cases are concatenated in order. Every input must fit the schema.
    """
    if not reports:
        raise ConfigError("nothing to merge: no reports given")
    for report in reports:
        checked_report(report)
    merged = {**reports[0], "command": [r["command"] for r in reports]}
    for key in ("peaks", "results", "skipped"):
        merged[key] = [item for r in reports for item in r[key]]
    return checked_report(merged)
