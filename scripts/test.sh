#!/usr/bin/env bash
# test.sh — the one test command for sealm (CI runs it through .ci/run).
#
# Steps, in order:
#   deps     scripts/setup.sh --deps-only: apt and pip packages, the verified default model
#   release  Release build in build/, then every CTest test (unit + end-to-end pytest)
#   asan     ASan+UBSan build in build-asan/, then the unit tests under the sanitizers
#   fuzz     scripts/fuzz.sh 60, when that script exists
#
# A failing step does not stop the later ones (except deps, which everything needs);
# the script ends with a summary and exits non-zero if any step failed.
#
# Environment:
#   PYTHON                interpreter for pytest (default: python3 on PATH)
#   CTEST_PARALLEL_LEVEL  tests CTest runs at once (CTest reads it itself; default 1)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
JOBS="$(nproc 2>/dev/null || echo 2)"
export ROOT PYTHON JOBS

STEP_NAMES=()
STEP_RESULTS=()
FAILED=0
START_ALL=$SECONDS

banner() { printf '\n========== [test] %s ==========\n' "$*"; }

# run_step NAME FUNCTION: run one step and record ok/FAILED and its time. The step runs
# in a fresh bash with errexit: bash ignores `set -e` inside anything called from an
# `if` or `||`, so a subshell here would keep going after a failed command.
run_step() {
    local name="$1" fn="$2" t0=$SECONDS rc=0
    banner "$name"
    bash -euo pipefail -c "$fn" || rc=$?
    local dt=$((SECONDS - t0)) result
    if [ "$rc" -eq 0 ]; then result="ok"; else result="FAILED (exit $rc)"; FAILED=1; fi
    printf '[test] step %s: %s in %ds\n' "$name" "$result" "$dt"
    STEP_NAMES+=("$name")
    STEP_RESULTS+=("$result (${dt}s)")
}

step_deps() {
    bash "$ROOT/scripts/setup.sh" --deps-only
}

python_path() { "$PYTHON" -c 'import sys; print(sys.executable)'; }

step_release() {
    cmake -S "$ROOT" -B "$ROOT/build" -DCMAKE_BUILD_TYPE=Release -DSEALM_E2E=ON \
          -DSEALM_SANITIZE=OFF -DPython3_EXECUTABLE="$(python_path)"
    cmake --build "$ROOT/build" -j "$JOBS"
    ctest --test-dir "$ROOT/build" --output-on-failure --no-tests=error
}

step_asan() {
    cmake -S "$ROOT" -B "$ROOT/build-asan" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
          -DSEALM_SANITIZE=ON -DSEALM_E2E=OFF
    cmake --build "$ROOT/build-asan" -j "$JOBS"
    ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        ctest --test-dir "$ROOT/build-asan" --output-on-failure --no-tests=error -L unit
}

step_fuzz() {
    bash "$ROOT/scripts/fuzz.sh" 60
}

summary() {
    local i failed=0
    banner "summary"
    for i in "${!STEP_NAMES[@]}"; do
        printf '  %-8s %s\n' "${STEP_NAMES[$i]}" "${STEP_RESULTS[$i]}"
        case "${STEP_RESULTS[$i]}" in ok*) ;; *) failed=$((failed + 1)) ;; esac
    done
    local total=${#STEP_NAMES[@]} elapsed=$((SECONDS - START_ALL))
    if [ "$failed" -eq 0 ]; then
        printf '[test] ALL %d STEPS PASSED in %ds\n' "$total" "$elapsed"
        return 0
    fi
    printf '[test] %d OF %d STEPS FAILED in %ds\n' "$failed" "$total" "$elapsed"
    return 1
}

export -f python_path step_deps step_release step_asan step_fuzz

run_step deps step_deps
if [ "$FAILED" -ne 0 ]; then
    summary || true
    exit 1
fi
run_step release step_release
run_step asan step_asan
if [ -f "$ROOT/scripts/fuzz.sh" ]; then
    run_step fuzz step_fuzz
else
    printf '\n[test] scripts/fuzz.sh not present: no fuzzing step\n'
fi
summary
