#!/usr/bin/env bash
# Reproduce benchmarks/model_only/cpu-vitpose-s.* : ViTPose-S model-only on the CPU, ONNX Runtime vs
# PyTorch eager, fp32, batch 1 and 8, all usable cores. Run from the repository root in the venv.
# Each backend runs in its own process so neither inherits the other's thread pools; the two JSON
# reports are then merged into one (same environment block, both results lists, both peaks).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=benchmarks/model_only
iters=${ITERS:-30}
warmup=${WARMUP:-5}
for backend in onnxruntime torch; do
  vitpose-bench --model vitpose-s --backend "$backend" --precision fp32 --batch 1,8 \
    --iters "$iters" --warmup "$warmup" --json "$out/.cpu-vitpose-s-$backend.json"
done
python - "$out" <<'PY'
import json, sys
from pathlib import Path
from vitpose_trt.bench.plot import write_throughput_plot
from vitpose_trt.bench.report import merged_report, write_atomically, write_json
from vitpose_trt.bench.tables import markdown_report

out = Path(sys.argv[1])
parts = [out / f".cpu-vitpose-s-{b}.json" for b in ("onnxruntime", "torch")]
report = merged_report([json.loads(p.read_text()) for p in parts])
write_json(report, out / "cpu-vitpose-s.json")
text = markdown_report(report)
write_atomically(out / "cpu-vitpose-s.md", lambda tmp: tmp.write_text(text))
write_throughput_plot(report["results"], out / "cpu-vitpose-s.png")
for p in parts:
    p.unlink()
PY
