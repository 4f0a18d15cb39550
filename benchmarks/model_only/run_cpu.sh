#!/usr/bin/env bash
# Reproduce benchmarks/model_only/cpu-vitpose-s.* : ViTPose-S model-only on the CPU, ONNX Runtime vs
# PyTorch eager, fp32, batch 1 and 8, all usable cores. Run from the repository root in the venv.
#
# Each backend runs in its own process (neither inherits the other's thread pools). On a shared machine
# the load changes from minute to minute, so the two backends alternate over ROUNDS rounds (the order
# flips every round) and the merged report keeps every round; summarise.py reports the median round.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=benchmarks/model_only
rounds=${ROUNDS:-3}
iters=${ITERS:-20}
warmup=${WARMUP:-5}
parts=()
for round in $(seq 1 "$rounds"); do
  order="onnxruntime torch"
  if (( round % 2 == 0 )); then order="torch onnxruntime"; fi
  for backend in $order; do
    part="$out/.round$round-$backend.json"
    echo "round $round/$rounds: $backend (load average: $(cut -d' ' -f1-3 /proc/loadavg))" >&2
    vitpose-bench --model vitpose-s --backend "$backend" --precision fp32 --batch 1,8 \
      --iters "$iters" --warmup "$warmup" --json "$part" > /dev/null
    parts+=("$part")
  done
done
python "$out/summarise.py" "$out/cpu-vitpose-s" "${parts[@]}"
rm -f "${parts[@]}"
