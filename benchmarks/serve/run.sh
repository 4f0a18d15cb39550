#!/usr/bin/env bash
# Serving load test (see bench_serve.py): export the models with the test environment (torch), then run the
# benchmark in the serving environment (numpy 1.x, PyTriton). Writes results.json / results.md here.
#   PYTHON=.venv/bin/python SERVE_PYTHON=.venv-serve/bin/python benchmarks/serve/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON=${PYTHON:-.venv/bin/python}
SERVE_PYTHON=${SERVE_PYTHON:-.venv-serve/bin/python}
WORK=${WORK:-$(mktemp -d)}
for model in vitpose-tiny vitpose-s; do
  "$PYTHON" -m vitpose_trt.cli.export --model "$model" --precision fp32 --builder none --output "$WORK" >/dev/null
done
"$SERVE_PYTHON" benchmarks/serve/bench_serve.py "$WORK/vitpose-s.onnx" "$WORK/vitpose-tiny.onnx" \
  --out benchmarks/serve "$@"
