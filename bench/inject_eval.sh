#!/usr/bin/env bash
# Runs the injection evaluation (bench/inject_eval.c) on ../shared/datasets and writes
# bench/results/inject_eval.{md,json} (rule stage, deployed screen, throughput),
# bench/results/inject_cv.{md,json} (held-out figures, bench/inject_train.py) and, when the SmolLM2 model is present,
# bench/results/inject_eval_slm.{md,json} (rule stage + SLM second stage on the first
# SLM_LIMIT items of each set; one prefill per item, so this part takes minutes).
#   bench/inject_eval.sh [BUILD_DIR]   (default: build)   env: SLM_LIMIT (default 40), SEALM_MODELS_DIR
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
build="${1:-$root/build}"
shared="${SEALM_SHARED_DIR:-$root/../shared}"
models="${SEALM_MODELS_DIR:-$root/models}"
cmake --build "$build" --target inject_eval -j2 >/dev/null
mkdir -p "$here/results"
"$build/inject_eval" "$shared" --json "$here/results/inject_eval.json" --md "$here/results/inject_eval.md"
cat "$here/results/inject_eval.md"
# held-out figures of the statistical stage (5-fold CV and leave-one-dataset-out), without
# touching the generated weights: bench/results/inject_cv.{md,json}
SEALM_SHARED_DIR="$shared" python3 "$here/inject_train.py" --build "$build" --no-write
model="$models/SmolLM2-135M-Instruct.Q4_1.gguf"
if [ -f "$model" ]; then
    "$build/inject_eval" "$shared" --model "$model" --slm-limit "${SLM_LIMIT:-40}" \
        --json "$here/results/inject_eval_slm.json" --md "$here/results/inject_eval_slm.md"
    cat "$here/results/inject_eval_slm.md"
else
    echo "inject_eval.sh: $model not found: SLM stage not measured (run scripts/setup first)" >&2
    exit 1
fi
