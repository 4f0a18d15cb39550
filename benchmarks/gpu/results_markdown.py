"""The GPU check's results document (see summarise.py) as Markdown. Standard library only."""

from __future__ import annotations

STAGES = ("crop", "infer", "flip_merge", "decode_download", "validate_map")
#: Crop-kernel table: (column title, device, output dtype, where the image lives).
CROP_COLUMNS = (
    ("CUDA fp32, image on host", "cuda", "float32", "host"),
    ("CUDA fp32, image on GPU", "cuda", "float32", "device"),
    ("CUDA fp16, image on host", "cuda", "float16", "host"),
    ("CUDA fp16, image on GPU", "cuda", "float16", "device"),
    ("cv2 (CPU), fp32", "cpu", "float32", "host"),
)
CHECK_MARKS = {True: "passed", False: "**FAILED**", None: "not run"}


def ms(value: float | None) -> str:
    """Milliseconds with precision that suits their size; '-' for None."""
    if value is None:
        return "-"
    return f"{value:.3f}" if value < 1 else f"{value:.2f}" if value < 100 else f"{value:.0f}"


def ratio(slow: float | None, fast: float | None) -> str:
    return "-" if slow is None or not fast else f"{slow / fast:.1f}x"


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header), *("| " + " | ".join(r) + " |" for r in rows)]


def bullets(items: list[str], empty: str) -> list[str]:
    return [f"- {item}" for item in items] if items else [empty]


def _median(timings: list[dict], **match) -> float | None:
    found = [t["median_ms"] for t in timings if all(t.get(k) == v for k, v in match.items())]
    return found[0] if found else None


def header_lines(doc: dict) -> list[str]:
    card = doc["card"]
    libraries = ", ".join(f"{k} {v}" for k, v in doc["libraries"].items() if v)
    cuda = (doc.get("kernels") or {}).get("cuda") or {}
    lines = [f"# GPU check: {card['name']}", "",
             f"**Verdict: {doc['verdict']}** ({len(doc['failed'])} failed, {len(doc['could_not_run'])} could not "
             f"run). {doc['date_utc']} UTC on `{doc['host']}`, {doc['total_seconds']:.0f} s of steps, `{doc['command']}`.",
             "",
             f"- Card: {card['name']}, {card.get('memory_total', '?')}, driver {card.get('driver_version', '?')}, "
             f"compute capability {card.get('compute_cap', '?')}; {len(doc['gpus'])} GPU(s) visible, the check uses GPU 0",
             f"- CUDA runtime (CuPy): {cuda.get('cuda_runtime', '?')}, driver API {cuda.get('cuda_driver', '?')}",
             f"- Python {doc['python']}; {libraries}",
             f"- Not installed: {', '.join(doc['missing_modules']) or 'nothing the GPU check looks for'}"]
    return lines


def steps_lines(doc: dict) -> list[str]:
    rows = [[s["name"], s["status"], "-" if s["seconds"] is None else f"{s['seconds']:.0f}",
             "-" if s["budget_s"] is None else f"{s['budget_s']:g}", s["detail"] or ""] for s in doc["steps"]]
    return ["", "## Steps", "", *table(["step", "status", "seconds", "budget s", "detail"], rows)]


def pytest_lines(doc: dict) -> list[str]:
    pytest = doc["pytest"]
    lines = ["", "## Tests: `pytest -m gpu`", "", f"pytest: `{pytest['summary'] or 'no summary line'}`"]
    if pytest["junit_error"]:
        lines.append(f"({pytest['junit_error']})")
    reasons: dict[str, int] = {}
    for case in pytest["skipped"]:
        reasons[case["message"]] = reasons.get(case["message"], 0) + 1
    if reasons:
        lines += ["", "Skipped:", *(f"- {n} x {reason}" for reason, n in reasons.items())]
    return lines


def bench_lines(doc: dict) -> list[str]:
    if not doc["bench"]:
        return ["", "## Pipeline benchmark", "", "No results (see could not run / failed above)."]
    rows = [[r["model"], r["backend"], r["precision"], str(r["persons"]), ms(r["frame_p50_ms"]),
             f"{r['throughput']:.0f}", *(ms(r["stages_p50_ms"].get(s)) for s in STAGES)] for r in doc["bench"]]
    header = ["model", "backend", "precision", "persons", "frame p50 ms", "persons/s", *(f"{s} ms" for s in STAGES)]
    return ["", "## Pipeline benchmark (`vitpose-bench --pipeline`, flip test on: 2 crops per person)", "",
            *table(header, rows), "", "Stage columns are p50 ms of the synchronised stage loop."]


def crop_lines(timings: list[dict]) -> list[str]:
    crops = [t for t in timings if t["stage"] == "crops"]
    if not crops:
        return []
    cases = list(dict.fromkeys((t["frame"], t["persons"]) for t in crops))
    rows = []
    for frame, persons in cases:
        cells = [_median(crops, frame=frame, persons=persons, device=d, out_dtype=dt, image_on=on)
                 for _, d, dt, on in CROP_COLUMNS]
        rows.append([frame, str(persons), *map(ms, cells), ratio(cells[4], cells[0])])
    header = ["frame", "persons", *(title for title, *_ in CROP_COLUMNS), "cv2 / CUDA fp32 host"]
    return ["", "## Crop kernel: `CudaCrops` vs cv2 `CpuCrops`, flip on (2N crops), median ms", "", *table(header, rows)]


def decode_lines(timings: list[dict]) -> list[str]:
    decode = [t for t in timings if t["stage"] == "decode"]
    if not decode:
        return []
    cases = list(dict.fromkeys((t["method"], t["persons"]) for t in decode))
    rows = []
    for method, n in cases:
        gpu = _median(decode, method=method, persons=n, device="cuda")
        cpu = _median(decode, method=method, persons=n, device="cpu")
        rows.append([method, str(n), ms(gpu), ms(cpu), ratio(cpu, gpu)])
    return ["", "## Decode: `keypoints_from_heatmaps` on (N, 17, 64, 48), CuPy vs numpy, median ms", "",
            *table(["method", "N", "CuPy", "numpy", "numpy / CuPy"], rows)]


def results_markdown(doc: dict) -> str:
    """The whole results document as Markdown."""
    timings = (doc.get("kernels") or {}).get("timings", [])
    lines = header_lines(doc)
    lines += ["", "## Could not run", "", *bullets(doc["could_not_run"], "Everything ran.")]
    lines += ["", "## Failed", "", *bullets(doc["failed"], "Nothing failed.")]
    lines += steps_lines(doc) + pytest_lines(doc) + bench_lines(doc) + crop_lines(timings) + decode_lines(timings)
    checks = [f"{CHECK_MARKS[c['passed']]}: {c['name']}: {c['detail']}" for c in doc["checks"]]
    lines += ["", "## GPU parity checks", "", *bullets(checks, "None recorded.")]
    lines += ["", "## Notes", "", *bullets(doc["notes"], "None.")]
    return "\n".join(lines) + "\n"
