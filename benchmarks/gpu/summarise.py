"""Write the GPU check's results: `results-<card>.json` and `.md` from what `run.sh`'s steps left behind.

Inputs (all files; any may be missing, which the results then say): the step table run.sh wrote (TSV:
name, status, rc, seconds, budget_s, detail; status passed | failed | timeout | skipped | refused), the
nvidia-smi CSV (name, memory.total, driver_version[, compute_cap]), pytest's JUnit XML and log, the
vitpose-bench JSON reports, and kernel_timings.py's JSON. Standard library and this
checkout's `vitpose_trt.bench.environment` (numpy only); library versions come from installed package metadata.

Results JSON (`SCHEMA`): {"schema", "verdict" (passed | failed), "card", "gpus", "date_utc", "host",
"python", "command", "total_seconds", "libraries", "missing_modules", "steps", "pytest", "bench",
"bench_skipped", "kernels", "checks", "could_not_run", "failed", "notes"}. `could_not_run` lists what was
not measured or tested here and why (a missing library, no time left); `failed` lists what ran and failed
(including a step stopped by its timeout). Exit status 0 when `failed` is empty, else 1.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import os
import platform
import re
import sys
from datetime import datetime, timezone
from pathlib import Path

from pytest_outcomes import has_real_failures, missing_module, pytest_outcomes
from results_markdown import results_markdown

# The project's own (standard-library-only) environment module, from this checkout, whether or not it is
# installed: numpy is all `import vitpose_trt` needs.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from vitpose_trt.bench.environment import LIBRARIES as BENCH_LIBRARIES  # noqa: E402
from vitpose_trt.bench.environment import library_versions  # noqa: E402

SCHEMA = "vitpose-trt/gpu-check/1"
STEP_FIELDS = ("name", "status", "rc", "seconds", "budget_s", "detail")
GPU_FIELDS = ("name", "memory_total", "driver_version", "compute_cap")
PYTEST_STEP = "pytest"
#: Distributions whose versions the results record: vitpose-bench's, plus what the GPU tests use.
LIBRARIES = {**BENCH_LIBRARIES, "scikit-image": ("scikit-image",), "pytest": ("pytest",)}
#: Import names the project's GPU tests and benchmarks may need; the results list those not installed.
MODULES = ("torch", "cupy", "onnx", "onnxruntime", "tensorrt", "tensorrt_rtx", "modelopt", "cv2", "skimage",
           "tqdm", "filelock", "hypothesis", "pycocotools", "transformers", "matplotlib", "safetensors")
UNKNOWN_CARD = "unknown-gpu"


def card_slug(name: str) -> str:
    """"NVIDIA H100 80GB HBM3" -> "nvidia-h100-80gb-hbm3" (lower case, runs of other characters -> '-')."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or UNKNOWN_CARD


def read_steps(path: Path) -> list[dict]:
    """run.sh's step table as dicts (rc int or None, seconds and budget_s floats or None)."""
    if not path.is_file():
        return []
    steps = []
    for line in path.read_text(encoding="utf-8").splitlines():
        fields = (line.split("\t") + [""] * len(STEP_FIELDS))[: len(STEP_FIELDS)]
        step = dict(zip(STEP_FIELDS, fields))
        for key, kind in (("rc", int), ("seconds", float), ("budget_s", float)):
            step[key] = kind(step[key]) if step[key] else None
        steps.append(step)
    return steps


def read_gpus(path: Path | None) -> list[dict]:
    """nvidia-smi's `--query-gpu=name,memory.total,driver_version[,compute_cap] --format=csv,noheader` rows."""
    if path is None or not path.is_file():
        return []
    rows = csv.reader(path.read_text(encoding="utf-8").splitlines(), skipinitialspace=True)
    return [dict(zip(GPU_FIELDS, (v.strip() for v in row))) for row in rows if row]


def read_json(path: Path | None) -> tuple[dict | None, str | None]:
    """(document, None), or (None, why it could not be read)."""
    if path is None:
        return None, None
    try:
        return json.loads(path.read_text(encoding="utf-8")), None
    except (OSError, ValueError) as exc:
        return None, f"{path.name}: not readable JSON ({exc})"


def missing_modules() -> list[str]:
    """The `MODULES` that are not installed for this interpreter (found without importing them)."""
    return [m for m in MODULES if importlib.util.find_spec(m) is None]


def bench_rows(report: dict, source: str) -> list[dict]:
    """A vitpose-bench report's result rows, flattened: p50 latency, throughput, per-stage p50 ms."""
    rows = []
    for r in report.get("results", []):
        rows.append({
            "source": source, "mode": r["mode"], "model": r["model"], "backend": r["backend"],
            "precision": r["precision"],
            "persons": r["batch"], "frame_p50_ms": r["latency_ms"]["p50"], "frame_p90_ms": r["latency_ms"]["p90"],
            "throughput": r["throughput"], "throughput_unit": r["throughput_unit"],
            "stages_p50_ms": {s: v["p50"] for s, v in r.get("stages_ms", {}).items()},
            "roofline_percent": r.get("roofline_percent"), "peak_precision": r.get("peak_precision"),
            "device_memory_mib": r.get("device_memory_mib"), "iters": r.get("iters"), "warmup": r.get("warmup"),
        })
    return rows


def step_problems(steps: list[dict], pytest: dict) -> tuple[list[str], list[str]]:
    """(could not run, failed) lines from the step table; pytest's own failures are judged from its tests."""
    could_not, failed = [], []
    for s in steps:
        detail = s["detail"] or "no detail"
        if s["status"] in ("skipped", "refused"):
            could_not.append(f"{s['name']}: {detail}")
        elif s["status"] == "timeout":
            failed.append(f"{s['name']}: stopped by its {s['budget_s']:g} s time budget ({detail})")
        elif s["status"] == "failed" and s["name"] == PYTEST_STEP:
            if has_real_failures(pytest):
                failed.append(f"{s['name']}: exit {s['rc']} ({pytest['summary'] or detail})")
        elif s["status"] == "failed":
            module = missing_module(detail)
            (could_not if module else failed).append(f"{s['name']}: exit {s['rc']}: {detail}")
    return could_not, failed


def pytest_problems(pytest: dict) -> tuple[list[str], list[str]]:
    """(could not run, failed) lines for tests: grouped by missing module, and each real failure."""
    by_module: dict[str, list[str]] = {}
    for case in pytest["missing_dependency"]:
        by_module.setdefault(case["missing_module"], []).append(case["test"].split("::")[-1])
    could_not = [f"pytest: {len(tests)} gpu test(s) need {module}, which is not installed: {', '.join(tests)}"
                 for module, tests in sorted(by_module.items())]
    skipped: dict[str, int] = {}
    for case in pytest["skipped"]:
        skipped[case["message"]] = skipped.get(case["message"], 0) + 1
    could_not += [f"pytest: {n} gpu test(s) skipped: {reason}" for reason, n in skipped.items()]
    failed = [f"pytest: {c['test']}: {c['message']}" for c in pytest["failed"]]
    for case in pytest["collection_errors"]:
        line = f"pytest: {case['test']} could not be collected ({case['message']}); any gpu tests in it did not run"
        (could_not if case["missing_module"] else failed).append(line)
    return could_not, failed


def kernel_problems(kernels: dict | None) -> tuple[list[str], list[str]]:
    """(could not run, failed) lines from the kernel timings: skipped parts (counted) and parity checks."""
    if kernels is None:
        return [], []
    reasons: dict[str, int] = {}
    for s in kernels.get("skipped", []):
        what = " ".join(str(s[k]) for k in ("stage", "device") if k in s)
        key = f"kernel timings: {what}: {s['reason']}"
        reasons[key] = reasons.get(key, 0) + 1
    could_not = [key if n == 1 else f"{key} ({n} cases)" for key, n in reasons.items()]
    could_not += [f"check not run: {c['name']}: {c['detail']}" for c in kernels.get("checks", []) if c["passed"] is None]
    failed = [f"check failed: {c['name']}: {c['detail']}" for c in kernels.get("checks", []) if c["passed"] is False]
    return could_not, failed


def bench_inputs(paths: list[Path]) -> tuple[list[dict], list[dict], list[str]]:
    """(rows, vitpose-bench's own skipped cases, unreadable-report lines) of every bench report given."""
    rows, skipped, unreadable = [], [], []
    for path in paths:
        report, error = read_json(path)
        if error:
            unreadable.append(f"benchmark report {error}")
            continue
        rows += bench_rows(report, path.name)
        skipped += report.get("skipped", [])
    return rows, skipped, unreadable


def results(args: argparse.Namespace) -> dict:
    """The results document (module docstring) from the files named in `args`."""
    steps, gpus = read_steps(args.steps), read_gpus(args.gpus)
    pytest = pytest_outcomes(args.pytest_junit, args.pytest_log)
    kernels, kernels_error = read_json(args.kernels)
    rows, bench_skipped, unreadable = bench_inputs(args.bench)
    could_not, failed = [], []
    for part in (step_problems(steps, pytest), pytest_problems(pytest), kernel_problems(kernels)):
        could_not += part[0]
        failed += part[1]
    could_not += [f"vitpose-bench skipped {s['model']} / {s['backend']} / {s['precision']}: {s['reason']}"
                  for s in bench_skipped]
    failed += unreadable + ([f"kernel timings {kernels_error}"] if kernels_error else [])
    return {
        "schema": SCHEMA, "verdict": "failed" if failed else "passed",
        "card": gpus[0] if gpus else {"name": UNKNOWN_CARD}, "gpus": gpus,
        "date_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"), "host": platform.node(),
        "python": sys.version.split()[0], "command": args.command,
        "total_seconds": sum(s["seconds"] or 0.0 for s in steps), "libraries": library_versions(LIBRARIES),
        "missing_modules": missing_modules(), "steps": steps, "pytest": pytest, "bench": rows,
        "bench_skipped": bench_skipped, "kernels": kernels, "checks": (kernels or {}).get("checks", []),
        "could_not_run": could_not, "failed": failed, "notes": list(args.note),
    }


def write_atomically(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file in the same folder and a rename."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out-dir", type=Path, required=True, help="results-<card>.json/.md are written here")
    p.add_argument("--steps", type=Path, required=True, help="run.sh's step table (TSV)")
    p.add_argument("--gpus", type=Path, help="nvidia-smi --query-gpu CSV")
    p.add_argument("--pytest-junit", type=Path, help="pytest's --junitxml file")
    p.add_argument("--pytest-log", type=Path, help="pytest's output")
    p.add_argument("--bench", type=Path, action="append", default=[], help="a vitpose-bench --json report")
    p.add_argument("--kernels", type=Path, help="kernel_timings.py's JSON")
    p.add_argument("--note", action="append", default=[], help="a line for the results' notes")
    p.add_argument("--command", default="benchmarks/gpu/run.sh", help="the command that produced the inputs")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    document = results(args)
    stem = args.out_dir / f"results-{card_slug(document['card']['name'])}"
    args.out_dir.mkdir(parents=True, exist_ok=True)
    write_atomically(stem.with_suffix(".json"), json.dumps(document, indent=1) + "\n")
    write_atomically(stem.with_suffix(".md"), results_markdown(document))
    print(f"{document['verdict']}: {stem}.md ({len(document['failed'])} failed, "
          f"{len(document['could_not_run'])} could not run)")
    return 1 if document["failed"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
