#!/usr/bin/env bash
# Runs the PII evaluation (bench/guard_eval.c) on ../shared/datasets and writes the
# generated reports bench/results/guard_eval.md and bench/results/guard_eval.json.
#   bench/guard_eval.sh [BUILD_DIR]   (default: build; the binary is BUILD_DIR/guard_eval)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
build="${1:-$root/build}"
shared="${SEALM_SHARED_DIR:-$root/../shared}"
cmake --build "$build" --target guard_eval -j2 >/dev/null
mkdir -p "$here/results"
"$build/guard_eval" "$shared" "$here/results"
cat "$here/results/guard_eval.md"
