#!/usr/bin/env bash
# fuzz.sh — builds the libFuzzer targets (tests/fuzz/fuzz_*.c) and runs each one.
#
# Usage: scripts/fuzz.sh [SECONDS]   (default 60: time given to EACH target)
#
# Each target fuzz_NAME starts from the seeds in tests/fuzz/corpus/NAME/, copied into a
# temporary folder so that the committed seeds never change. Inputs that crash, leak or
# hang are saved under build-fuzz/artifacts/NAME/; reproduce one with
#   build-fuzz/fuzz_NAME build-fuzz/artifacts/NAME/crash-...
# Exits non-zero if any target found a problem (or the build failed).
#
# Needs clang with libFuzzer (Debian: clang and libclang-rt-dev of the same version).
# Environment: CC (default clang), BUILD_DIR (default build-fuzz), JOBS (default 2).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BUDGET_S="${1:-60}"
CC="${CC:-clang}"
BUILD_DIR="${BUILD_DIR:-build-fuzz}"
JOBS="${JOBS:-2}"

if ! [[ "$BUDGET_S" =~ ^[0-9]+$ ]] || [ "$BUDGET_S" -lt 1 ]; then
    echo "fuzz.sh: budget must be a whole number of seconds >= 1, got '$BUDGET_S'" >&2
    exit 2
fi
if ! command -v "$CC" >/dev/null 2>&1; then
    echo "fuzz.sh: $CC not found; install clang (and libclang-rt-dev for libFuzzer)" >&2
    exit 2
fi

shopt -s nullglob
TARGETS=()
for src in tests/fuzz/fuzz_*.c; do
    TARGETS+=("$(basename "$src" .c)")
done
if [ ${#TARGETS[@]} -eq 0 ]; then
    echo "fuzz.sh: no fuzz targets in tests/fuzz/" >&2
    exit 2
fi

echo "[fuzz] building ${TARGETS[*]} with $CC in $BUILD_DIR"
cmake -S . -B "$BUILD_DIR" -DCMAKE_C_COMPILER="$CC" -DSEALM_FUZZ=ON -DSEALM_E2E=OFF \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD_DIR" -j"$JOBS" --target "${TARGETS[@]}"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/sealm-fuzz.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

FAILED=()
for target in "${TARGETS[@]}"; do
    name="${target#fuzz_}"
    bin="$BUILD_DIR/$target"
    if [ ! -x "$bin" ]; then
        echo "fuzz.sh: $bin was not built" >&2
        FAILED+=("$target (not built)")
        continue
    fi
    corpus="$WORK/corpus-$name"
    mkdir -p "$corpus"
    if [ -d "tests/fuzz/corpus/$name" ]; then
        cp -R "tests/fuzz/corpus/$name/." "$corpus/"
    else
        echo "[fuzz] note: no seeds in tests/fuzz/corpus/$name/; starting from an empty corpus"
    fi
    artifacts="$BUILD_DIR/artifacts/$name"
    mkdir -p "$artifacts"
    echo "[fuzz] $target: ${BUDGET_S}s from $(ls "$corpus" | wc -l) seeds"
    # -timeout: one input taking over 10 s counts as a hang; -rss_limit_mb bounds memory.
    if "$bin" "$corpus" -max_total_time="$BUDGET_S" -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$artifacts/" -print_final_stats=1 >"$WORK/$target.log" 2>&1; then
        grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::new_units_added)' "$WORK/$target.log" || true
        echo "[fuzz] $target: ok"
    else
        tail -n 60 "$WORK/$target.log"
        echo "[fuzz] $target: FAILED; inputs saved in $artifacts/" >&2
        FAILED+=("$target")
    fi
done

if [ ${#FAILED[@]} -gt 0 ]; then
    echo "[fuzz] failures: ${FAILED[*]}" >&2
    exit 1
fi
echo "[fuzz] all ${#TARGETS[@]} target(s) ran ${BUDGET_S}s each without a crash"
