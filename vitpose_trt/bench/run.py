"""Run a benchmark plan: measure the device peaks once, time every case under a progress bar, build the report."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..dependencies import import_optional
from ..errors import ConfigError, MissingDependencyError
from .environment import environment
from .model_only import Case, run_case
from .plan import Plan
from .report import REPORT_SCHEMA, checked_report
from .roofline import MatmulPeak, cpu_matmul_peak, gpu_matmul_peak


class Peaks:
    """Matmul peaks measured on first need, once per (device, precision); the CPU peak is fp32 only.

    A peak that cannot be measured here (say, int8 on a GPU without torch) leaves the results' roofline
    empty with the reason in their notes instead of stopping the benchmark.
    """

    def __init__(self, threads: int | None):
        self.threads = threads
        self.measured: dict[tuple[str, str], MatmulPeak] = {}
        self.missing: dict[tuple[str, str], str] = {}

    def for_case(self, device: str, precision: str) -> tuple[MatmulPeak | None, str | None]:
        """(peak, None), or (None, why there is none)."""
        key = ("cpu", "fp32") if device == "cpu" else ("cuda", precision)
        if key not in self.measured and key not in self.missing:
            try:
                self.measured[key] = cpu_matmul_peak(self.threads) if device == "cpu" else gpu_matmul_peak(precision)
            except (ConfigError, MissingDependencyError) as exc:
                self.missing[key] = f"no roofline: {exc}"
        return self.measured.get(key), self.missing.get(key)


def _device_of(case: Case) -> str:
    if case.backend == "tensorrt":
        return "cuda"
    if case.backend == "torch":
        torch = import_optional("torch", "the torch backend")
        return "cuda" if torch.cuda.is_available() else "cpu"
    return "cpu"


def benchmark_report(plan: Plan, *, warmup: int, iters: int, threads: int | None, cache: Path,
                     command: list[str], run_one: Callable[..., dict] = run_case) -> dict:
    """Run every case of `plan` (`warmup` + `iters` calls each) and return the schema-checked report.

    `run_one` is `model_only.run_case` or the pipeline runner (same keyword signature). Ctrl-C
    (`KeyboardInterrupt`) drops the case at hand and ends the run: the report then holds the cases
    finished so far and says so in "stopped".
    """
    tqdm = import_optional("tqdm", "progress bars").tqdm
    peaks = Peaks(threads)
    results, stopped = [], None
    with tqdm(total=len(plan.cases) * (warmup + iters), unit="call", desc="vitpose-bench") as bar:
        try:
            for case in plan.cases:
                bar.set_postfix_str(f"{case.source.label} {case.backend} {case.precision} b{case.batch}")
                peak, missing = peaks.for_case(_device_of(case), case.precision)
                row = run_one(case, warmup=warmup, iters=iters, threads=threads, cache=cache, peak=peak,
                              on_step=lambda: bar.update(1))
                row["notes"] += [missing] if missing else []
                results.append(row)
        except KeyboardInterrupt:
            stopped = f"interrupted after {len(results)} of {len(plan.cases)} cases"
    report = {
        "schema": REPORT_SCHEMA, "command": command, "environment": environment(threads),
        "peaks": [p.to_dict() for p in peaks.measured.values()], "results": results, "skipped": plan.skipped,
    }
    if stopped is not None:
        report["stopped"] = stopped
    return checked_report(report)
