#!/usr/bin/env bash
# Runs the SLM verifier evaluation (bench/pii_slm_eval.c): person and address precision,
# recall and F1 with the rules alone and with the verifier in confirm / find mode, and the
# verifier's cost per request and per question. Writes the generated reports
# bench/results/pii_slm_eval.md and bench/results/pii_slm_eval.json.
#   bench/pii_slm_eval.sh [BUILD_DIR [MODEL.gguf [options...]]]
#   (defaults: build, models/SmolLM2-135M-Instruct.Q4_1.gguf; options as pii_slm_eval's, e.g.
#    --presidio 200 --wnut 200 --dev 100 --threads 1)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
build="${1:-$root/build}"
model="${2:-$root/models/SmolLM2-135M-Instruct.Q4_1.gguf}"
shift $(( $# < 2 ? $# : 2 ))
shared="${SEALM_SHARED_DIR:-$root/../shared}"
cmake --build "$build" --target pii_slm_eval -j2 >/dev/null
mkdir -p "$here/results"
"$build/pii_slm_eval" "$shared" "$model" "$here/results" "$@"
cat "$here/results/pii_slm_eval.md"
