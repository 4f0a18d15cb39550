#!/usr/bin/env bash
# The GPU check in one command (issue 13). On a machine with an NVIDIA GPU it runs, each step under a
# timeout within a total time budget:
#   1. import vitpose_trt (this tree; `pip install --no-deps --no-build-isolation -e .` only if that fails)
#   2. pytest -m gpu (collection errors do not stop it; JUnit XML says what could not run and why)
#   3. kernel_timings.py: CUDA crop kernel and CuPy decode vs cv2 / numpy, and their parity checks
#   4. vitpose-bench --pipeline on torch-cuda fp16 (vitpose-b, vitpose-s; 1, 8, 32 persons)
#   5. the same on tensorrt fp16, if `import tensorrt` works (else: "tensorrt: not installed")
# and writes benchmarks/gpu/results-<card>.json and .md (summarise.py), logs in benchmarks/gpu/logs/.
# Without a GPU it prints one line and exits 2. It installs nothing else.
#
# Usage: bash benchmarks/gpu/run.sh        (from any folder)
# Environment: PYTHON (default python), GPU_CHECK_OUT_DIR (default benchmarks/gpu),
#   GPU_CHECK_MODELS (default vitpose-b,vitpose-s), GPU_CHECK_PERSONS (default 1,8,32).
# Exit status: 0 everything ran or could not run for a stated reason, 1 something failed, 2 no GPU.
set -euo pipefail

gpu_list=$(nvidia-smi -L 2>/dev/null) || gpu_list=""
if [[ "$gpu_list" != *"GPU "* ]]; then
  echo "gpu check: no NVIDIA GPU visible (nvidia-smi -L lists none); nothing was run" >&2
  exit 2
fi

# Time budget (seconds). The steps together get at most TOTAL_BUDGET_S; each gets its own budget or what
# is left. Worst case: 400 + 5 steps x KILL_GRACE_S + SUMMARY_S = 445 s, under the 8 minutes promised.
TOTAL_BUDGET_S=400
IMPORT_S=20
INSTALL_S=60
PYTEST_S=120
KERNELS_S=60
KERNELS_TIMING_S=40   # kernel_timings.py starts no timing case after this (its checks run first)
BENCH_TORCH_S=100
BENCH_TENSORRT_S=100
SUMMARY_S=20
KILL_GRACE_S=5        # after the timeout's signal, SIGKILL this much later
MIN_STEP_S=10         # a step with less time than this left is skipped
BENCH_ITERS=30
BENCH_WARMUP=10
FALLBACK_IMAGE_SIZE=512  # the synthetic frame when scikit-image's 512x512 astronaut is missing

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PYTHON=${PYTHON:-python}
OUT_DIR=${GPU_CHECK_OUT_DIR:-$HERE}
MODELS=${GPU_CHECK_MODELS:-vitpose-b,vitpose-s}
PERSONS=${GPU_CHECK_PERSONS:-1,8,32}
LOGS="$OUT_DIR/logs"
STEPS_TSV="$LOGS/steps.tsv"
if ! command -v "$PYTHON" >/dev/null 2>&1; then
  echo "gpu check: no Python interpreter '$PYTHON' (set PYTHON=/path/to/python)" >&2
  exit 1
fi
cd "$ROOT"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"  # this tree's vitpose_trt, whatever else is installed
mkdir -p "$LOGS"
rm -f "$LOGS"/*.log "$LOGS"/*.json "$LOGS"/*.xml "$LOGS"/*.tsv "$LOGS"/*.csv "$LOGS"/*.png
START=$SECONDS
LAST_STATUS=""
NOTES=()
SUMMARY_ARGS=()

say() { echo "gpu check: $*" >&2; }

last_line() {  # the last non-empty line of file $1 (after its last carriage return), at most 300 characters
  local line
  line=$(grep -v '^[[:space:]]*$' "$1" 2>/dev/null | tail -n 1) || true
  line=${line%$'\r'}
  line=${line##*$'\r'}
  echo "${line:0:300}"
}

record() {  # record NAME STATUS RC SECONDS BUDGET DETAIL: one row of the step table
  local detail=${6//$'\t'/ }
  detail=${detail//$'\n'/ }
  LAST_STATUS=$2
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "$detail" >>"$STEPS_TSV"
  say "$1: $2${4:+ in $4 s}${detail:+ - $detail}"
}

# run_step NAME BUDGET SIGNAL COMMAND...: COMMAND under `timeout` (SIGNAL first, SIGKILL KILL_GRACE_S
# later), output in $LOGS/NAME.log. Status: passed, failed, timeout, or refused when REFUSED_IF is set,
# the exit status is 2 and the log contains REFUSED_IF; skipped when the total budget is spent.
run_step() {
  local name=$1 budget=$2 signal=$3 left rc=0 t0 status detail=""
  shift 3
  left=$((TOTAL_BUDGET_S - (SECONDS - START)))
  if ((budget > left)); then budget=$left; fi
  if ((budget < MIN_STEP_S)); then
    record "$name" skipped "" "" "$budget" "the check's ${TOTAL_BUDGET_S} s time budget is spent"
    return 0
  fi
  say "$name: running (budget $budget s)"
  t0=$SECONDS
  timeout --signal="$signal" --kill-after="$KILL_GRACE_S" "$budget" "$@" >"$LOGS/$name.log" 2>&1 || rc=$?
  case $rc in
    0) status=passed ;;
    124 | 137) status=timeout; detail=$(last_line "$LOGS/$name.log") ;;
    *) status=failed; detail=$(last_line "$LOGS/$name.log") ;;
  esac
  if [[ $rc == 2 && -n "${REFUSED_IF:-}" ]] && grep -qF -- "$REFUSED_IF" "$LOGS/$name.log"; then status=refused; fi
  record "$name" "$status" "$rc" "$((SECONDS - t0))" "$budget" "$detail"
}

python_ok() { "$PYTHON" -c "$1" >/dev/null 2>&1; }

skip_steps() {  # skip_steps REASON NAME...: record every NAME as skipped for REASON
  local reason=$1 name
  shift
  for name in "$@"; do record "$name" skipped "" "" "" "$reason"; done
}

import_package() {  # step 1; returns 1 when vitpose_trt does not import
  local probe="import vitpose_trt; print('vitpose_trt from', vitpose_trt.__path__[0])" step=import
  run_step "$step" "$IMPORT_S" TERM "$PYTHON" -c "$probe"
  if [[ $LAST_STATUS != passed ]]; then
    run_step pip-install-editable "$INSTALL_S" TERM "$PYTHON" -m pip install --no-deps --no-build-isolation -e "$ROOT"
    step=import-after-install
    run_step "$step" "$IMPORT_S" TERM "$PYTHON" -c "$probe"
    [[ $LAST_STATUS == passed ]] || return 1
    NOTES+=("vitpose_trt did not import at first, so run.sh ran pip install --no-deps --no-build-isolation -e .")
  fi
  NOTES+=("$(last_line "$LOGS/$step.log"), interpreter $PYTHON")
}

run_pytest() {  # step 2; SIGINT lets pytest write its summary and JUnit XML when the budget runs out
  run_step pytest "$PYTEST_S" INT "$PYTHON" -m pytest -m gpu --continue-on-collection-errors -p no:cacheprovider \
    --junitxml="$LOGS/pytest.xml" "$ROOT/tests"
  SUMMARY_ARGS+=(--pytest-junit "$LOGS/pytest.xml" --pytest-log "$LOGS/pytest.log")
}

run_kernel_timings() {  # step 3
  run_step kernels "$KERNELS_S" TERM "$PYTHON" "$HERE/kernel_timings.py" --json "$LOGS/kernels.json" \
    --budget-s "$KERNELS_TIMING_S"
  if [[ -f "$LOGS/kernels.json" ]]; then SUMMARY_ARGS+=(--kernels "$LOGS/kernels.json"); fi
}

# The pipeline benchmark's command prefix in BENCH (array), or the reason it cannot run in BENCH_BLOCKED.
prepare_bench() {
  local bench_path="$PYTHONPATH" image_args=()
  BENCH_BLOCKED=""
  if ! python_ok "import tqdm"; then
    bench_path="$HERE/stand_ins:$bench_path"
    NOTES+=("tqdm is not installed: vitpose-bench ran with benchmarks/gpu/stand_ins/tqdm.py, a progress bar that draws nothing (timings unaffected)")
  fi
  if ! python_ok "import skimage.data"; then
    if "$PYTHON" -c "import sys, cv2, numpy as np; n = int(sys.argv[2]); \
cv2.imwrite(sys.argv[1], np.random.default_rng(0).integers(0, 256, (n, n, 3), dtype=np.uint8))" \
      "$LOGS/frame.png" "$FALLBACK_IMAGE_SIZE" >/dev/null 2>&1; then
      image_args=(--image "$LOGS/frame.png")
      NOTES+=("scikit-image is not installed: the pipeline benchmark ran on a seeded random ${FALLBACK_IMAGE_SIZE}x${FALLBACK_IMAGE_SIZE} frame instead of its 512x512 astronaut photo")
    else
      BENCH_BLOCKED="the pipeline benchmark needs scikit-image (its default photo) or opencv (to read --image); neither imports"
    fi
  fi
  BENCH=(env PYTHONPATH="$bench_path" "$PYTHON" -m vitpose_trt.cli.bench --pipeline --model "$MODELS"
    --persons "$PERSONS" --iters "$BENCH_ITERS" --warmup "$BENCH_WARMUP" "${image_args[@]}")
}

# Why the torch-cuda benchmark cannot run here (empty when it can): PyTorch missing or without CUDA.
TORCH_CUDA_PROBE='
try:
    import torch
except ImportError as exc:
    print(f"torch-cuda: PyTorch does not import ({exc})")
else:
    if not torch.cuda.is_available():
        print(f"torch-cuda: PyTorch {torch.__version__} cannot use the GPU (CUDA build: {torch.version.cuda})")'

bench_torch() {  # step 4: torch-cuda fp16 (vitpose-bench's torch backend runs torch-cuda on a CUDA machine)
  local reason
  reason=$("$PYTHON" -c "$TORCH_CUDA_PROBE" 2>&1) || reason="torch-cuda: probing PyTorch failed: ${reason##*$'\n'}"
  if [[ -n $reason ]]; then
    record bench-torch skipped "" "" "" "$reason"
    return 0
  fi
  run_step bench-torch "$BENCH_TORCH_S" TERM "${BENCH[@]}" --backend torch --precision fp16 \
    --json "$LOGS/bench-torch.json" --markdown "$LOGS/bench-torch.md"
}

bench_tensorrt() {  # step 5
  if ! "$PYTHON" -c "import tensorrt" >"$LOGS/tensorrt-import.log" 2>&1; then
    record bench-tensorrt skipped "" "" "" "tensorrt: not installed (import tensorrt: $(last_line "$LOGS/tensorrt-import.log"))"
    return 0
  fi
  run_step bench-tensorrt "$BENCH_TENSORRT_S" TERM "${BENCH[@]}" --backend tensorrt --precision fp16 \
    --json "$LOGS/bench-tensorrt.json" --markdown "$LOGS/bench-tensorrt.md"
}

summarise() {
  local bench rc=0
  for bench in "$LOGS/bench-torch.json" "$LOGS/bench-tensorrt.json"; do
    if [[ -f $bench ]]; then SUMMARY_ARGS+=(--bench "$bench"); fi
  done
  NOTES+=("run.sh: $((SECONDS - START)) s of steps (total budget ${TOTAL_BUDGET_S} s); bench --iters ${BENCH_ITERS} --warmup ${BENCH_WARMUP}; logs in ${LOGS#"$ROOT"/}/ (not committed)")
  for note in "${NOTES[@]}"; do SUMMARY_ARGS+=(--note "$note"); done
  timeout --kill-after="$KILL_GRACE_S" "$SUMMARY_S" "$PYTHON" "$HERE/summarise.py" --out-dir "$OUT_DIR" \
    --steps "$STEPS_TSV" --gpus "$LOGS/gpus.csv" "${SUMMARY_ARGS[@]}" || rc=$?
  if ((rc > 1)); then say "summarise.py failed (exit $rc); the step table is $STEPS_TSV"; fi
  say "logs: $LOGS"
  return "$rc"
}

say "${gpu_list%%$'\n'*}; budget ${TOTAL_BUDGET_S} s of steps"
nvidia-smi --query-gpu=name,memory.total,driver_version,compute_cap --format=csv,noheader >"$LOGS/gpus.csv" 2>/dev/null ||
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader >"$LOGS/gpus.csv" 2>/dev/null || true
if import_package; then
  run_pytest
  run_kernel_timings
  prepare_bench
  if [[ -n $BENCH_BLOCKED ]]; then
    skip_steps "$BENCH_BLOCKED" bench-torch bench-tensorrt
  else
    bench_torch
    bench_tensorrt
  fi
else
  skip_steps "vitpose_trt does not import with $PYTHON (see logs/import.log)" pytest kernels bench-torch bench-tensorrt
fi
summarise
