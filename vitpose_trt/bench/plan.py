"""From what the user asked to the list of cases to run and the cases skipped, with reasons.

Rules (documented in benchmarks/README.md):
- A backend or precision the user names must be able to run: an unavailable backend (tensorrt without
  a GPU) or a name/precision with no runnable case at all is a `ConfigError` (CLI exit 2).
- Crossing lists can produce combinations that make no sense (torch x int8): those are skipped and
  listed in the report with their reason, as long as every named item still runs somewhere.
- Defaults: the best backend available here, its default precision; the other backends that cannot
  run here are listed as skipped with the reason, so a report says what it did not measure.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import ConfigError
from .availability import (
    BACKENDS,
    PRECISIONS,
    backend_unavailable_reason,
    best_backend,
    combination_unsupported_reason,
)
from .model_only import Case
from .sources import ModelSource, precision_of_file

#: Precision benchmarked when none is named: what each backend is deployed in.
DEFAULT_PRECISION = {"tensorrt": "fp16", "onnxruntime": "fp32", "torch": "fp32", "openvino": "fp32"}
#: Precisions a backend computes an fp32 file in at run time (OpenVINO's bf16 hint).
RUN_TIME_PRECISIONS = {"openvino": ("bf16",)}


@dataclass
class Plan:
    cases: list[Case] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)


def _checked_names(names: list[str] | None, valid: tuple[str, ...], what: str) -> list[str] | None:
    if names is None:
        return None
    unknown = [n for n in names if n not in valid]
    if unknown:
        raise ConfigError(f"unknown {what} {', '.join(map(repr, unknown))}; choose from {', '.join(valid)}")
    return list(dict.fromkeys(names))


def _backends_for(source: ModelSource, asked: list[str] | None, plan: Plan) -> list[str]:
    allowed = source.file_backends
    if allowed and asked is not None and not set(asked) <= set(allowed):
        raise ConfigError(f"{source.label} runs on {' or '.join(allowed)} only, but --backend is {','.join(asked)}")
    if allowed:
        chosen = asked if asked is not None else [allowed[0]]
        for backend in chosen:
            reason = backend_unavailable_reason(backend)
            if reason:
                which = "which" if len(allowed) == 1 else backend
                raise ConfigError(f"{source.label} runs on {' or '.join(allowed)} only, {which} cannot run here: "
                                  f"{reason}")
        return chosen
    if asked is not None:
        return asked
    best = best_backend()
    if best is None:
        raise ConfigError("no backend can run here: install onnxruntime or torch")
    for other in BACKENDS:
        reason = backend_unavailable_reason(other)
        if other != best and reason:
            plan.skipped.append({"model": source.label, "backend": other, "precision": "any", "reason": reason})
    return [best]


def _precisions_for(source: ModelSource, backend: str, asked: list[str] | None) -> list[str]:
    in_file = precision_of_file(source)
    if in_file is None:
        return asked if asked is not None else [DEFAULT_PRECISION[backend]]
    runs_in = (in_file, *RUN_TIME_PRECISIONS.get(backend, ())) if in_file == "fp32" else (in_file,)
    if asked is not None and not set(asked) & set(runs_in):
        raise ConfigError(f"{source.label} is a {in_file} model, but --precision is {','.join(asked)}")
    return [p for p in asked if p in runs_in] if asked is not None else [in_file]


def benchmark_plan(sources: list[ModelSource], backends: list[str] | None, precisions: list[str] | None,
                   batches: list[int]) -> Plan:
    """Cases for every source x backend x precision x batch that can run; raise `ConfigError` per the rules."""
    backends = _checked_names(backends, BACKENDS, "backend")
    precisions = _checked_names(precisions, PRECISIONS, "precision")
    for backend in backends or ():
        reason = backend_unavailable_reason(backend)
        if reason:
            raise ConfigError(f"backend {backend} cannot run here: {reason}")
    plan = Plan()
    for source in sources:
        for backend in _backends_for(source, backends, plan):
            for precision in _precisions_for(source, backend, precisions):
                reason = combination_unsupported_reason(backend, precision)
                if reason:
                    plan.skipped.append({"model": source.label, "backend": backend, "precision": precision,
                                         "reason": reason})
                    continue
                plan.cases += [Case(source, backend, precision, batch) for batch in batches]
    _check_every_named_item_runs(plan, backends, precisions)
    return plan


def _check_every_named_item_runs(plan: Plan, backends: list[str] | None, precisions: list[str] | None) -> None:
    for kind, names in (("backend", backends), ("precision", precisions)):
        for name in names or ():
            if not any(getattr(case, kind) == name for case in plan.cases):
                reasons = {s["reason"] for s in plan.skipped if s[kind] == name}
                detail = "; ".join(sorted(reasons)) or "no model runs on it"
                raise ConfigError(f"--{kind} {name}: nothing to run ({detail})")
